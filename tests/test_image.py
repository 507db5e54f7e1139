"""Loading images of every kind, refusing bad ones, and saving results with their settings."""

from __future__ import annotations

import io
import os
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageFile

from nst.image import ImageError, load_image, read_settings, resize_longest, save_image, to_pil, to_tensor

RED, GREEN, BLUE, WHITE = (255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 255)


def png_claiming(width: int, height: int) -> bytes:
    """A PNG whose header claims ``width x height`` RGB pixels but that holds no pixel data at all."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IEND", b"")


def pixel(image: Image.Image, xy=(0, 0)) -> tuple[int, int, int]:
    return image.getpixel(xy)


# -- Orientation, modes, frames ------------------------------------------------------------------------------


def test_exif_orientation_is_applied(tmp_path):
    # Stored 40 wide x 20 high, left half red, right half blue; Orientation 6 = "rotate 90 degrees clockwise
    # to display", which brings the left half to the top.
    stored = Image.new("RGB", (40, 20), BLUE)
    stored.paste(RED, (0, 0, 20, 20))
    exif = Image.Exif()
    exif[0x0112] = 6
    path = tmp_path / "rotated.jpg"
    stored.save(path, quality=95, exif=exif)
    image = load_image(path)
    assert image.size == (20, 40)
    assert np.allclose(pixel(image, (10, 5)), RED, atol=12)
    assert np.allclose(pixel(image, (10, 34)), BLUE, atol=12)


def test_grayscale_becomes_rgb():
    image = load_image(Image.new("L", (4, 3), 77))
    assert image.mode == "RGB" and image.size == (4, 3)
    assert pixel(image) == (77, 77, 77)


def test_one_bit_becomes_black_and_white(tmp_path):
    bitmap = Image.new("1", (4, 2), 0)
    bitmap.putpixel((1, 0), 1)
    bitmap.save(tmp_path / "bits.png")
    image = load_image(tmp_path / "bits.png")
    assert image.mode == "RGB"
    assert pixel(image, (0, 0)) == (0, 0, 0) and pixel(image, (1, 0)) == WHITE


def test_palette_image_keeps_its_colours():
    image = Image.new("P", (3, 1))
    image.putpalette([*RED, *GREEN, *BLUE] + [0] * (253 * 3))
    image.putdata([0, 1, 2])
    loaded = load_image(image)
    assert [pixel(loaded, (x, 0)) for x in range(3)] == [RED, GREEN, BLUE]


def test_palette_transparency_is_composited_on_white(tmp_path):
    image = Image.new("P", (2, 1))
    image.putpalette([*RED, *GREEN] + [0] * (254 * 3))
    image.putdata([0, 1])
    image.save(tmp_path / "clear.gif", transparency=1)
    loaded = load_image(tmp_path / "clear.gif")
    assert pixel(loaded, (0, 0)) == RED and pixel(loaded, (1, 0)) == WHITE


def test_rgba_is_composited_on_white():
    image = Image.new("RGBA", (3, 1))
    image.putdata([(0, 0, 255, 255), (0, 0, 255, 0), (0, 0, 255, 128)])
    loaded = load_image(image)
    assert pixel(loaded, (0, 0)) == BLUE
    assert pixel(loaded, (1, 0)) == WHITE
    half = pixel(loaded, (2, 0))  # 128/255 blue over white
    assert half[2] == 255 and abs(half[0] - 127) <= 1 and half[0] == half[1]


def test_la_is_composited_on_white():
    image = Image.new("LA", (2, 1))
    image.putdata([(0, 255), (0, 0)])
    loaded = load_image(image)
    assert pixel(loaded, (0, 0)) == (0, 0, 0) and pixel(loaded, (1, 0)) == WHITE


def test_cmyk_is_converted(tmp_path):
    Image.new("CMYK", (2, 2), (255, 0, 0, 0)).save(tmp_path / "cyan.tif")  # pure cyan ink
    loaded = load_image(tmp_path / "cyan.tif")
    assert loaded.mode == "RGB"
    assert pixel(loaded) == (0, 255, 255)


def test_sixteen_bit_is_rescaled_from_its_range(tmp_path):
    values = np.array([[1000, 3000], [5000, 5000]], dtype=np.uint16)  # 16-bit, far above 255
    Image.fromarray(values).save(tmp_path / "deep.png")
    assert Image.open(tmp_path / "deep.png").mode.startswith("I")
    loaded = load_image(tmp_path / "deep.png")
    assert loaded.mode == "RGB"
    assert pixel(loaded, (0, 0)) == (0, 0, 0)            # the minimum
    assert pixel(loaded, (1, 1)) == WHITE                # the maximum
    assert pixel(loaded, (1, 0)) == (128, 128, 128)      # halfway: round(0.5 * 255)


def test_animated_gif_gives_its_first_frame(tmp_path):
    frames = [Image.new("RGB", (8, 6), colour) for colour in (RED, GREEN, BLUE)]
    frames[0].save(tmp_path / "anim.gif", save_all=True, append_images=frames[1:], duration=50)
    opened = Image.open(tmp_path / "anim.gif")
    assert opened.n_frames == 3
    opened.seek(2)  # even if the caller left it on another frame
    image = load_image(opened)
    assert image.size == (8, 6) and pixel(image) == RED
    assert pixel(load_image(tmp_path / "anim.gif")) == RED


def test_real_animation_from_the_assets(assets):
    path = assets / "sintel_8f.gif"
    first = Image.open(path).convert("RGB")
    image = load_image(path)
    assert image.size == first.size
    assert np.array_equal(np.asarray(image), np.asarray(first))


def test_arrays_and_bytes_are_accepted(tmp_path):
    array = np.zeros((3, 5, 3), dtype=np.uint8)
    array[..., 1] = 200
    assert pixel(load_image(array)) == (0, 200, 0)
    assert pixel(load_image(np.full((2, 2), 1.0))) == WHITE  # floats in [0, 1]
    buffer = io.BytesIO()
    Image.new("RGB", (3, 2), RED).save(buffer, format="PNG")
    assert pixel(load_image(buffer.getvalue())) == RED
    with pytest.raises(ImageError, match="HxW"):
        load_image(np.zeros((2, 2, 2), dtype=np.uint8))


# -- Refusals ------------------------------------------------------------------------------------------------


def test_truncated_files_are_refused(tmp_path, assets):
    data = (assets / "tubingen.jpg").read_bytes()
    (tmp_path / "cut.jpg").write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageError, match="damaged or truncated"):
        load_image(tmp_path / "cut.jpg")
    buffer = io.BytesIO()
    Image.effect_noise((64, 64), 50).save(buffer, format="PNG")
    (tmp_path / "cut.png").write_bytes(buffer.getvalue()[:-200])
    with pytest.raises(ImageError, match="cut.png"):
        load_image(tmp_path / "cut.png")


def test_a_file_that_is_not_an_image(tmp_path):
    (tmp_path / "notes.png").write_text("these are not pixels")
    with pytest.raises(ImageError, match="not an image file"):
        load_image(tmp_path / "notes.png")
    with pytest.raises(ImageError, match="no such file"):
        load_image(tmp_path / "missing.png")


def test_pixel_cap_is_checked_before_decoding(monkeypatch):
    decoded = []
    original = ImageFile.ImageFile.load
    monkeypatch.setattr(ImageFile.ImageFile, "load", lambda self: decoded.append(self) or original(self))
    buffer = io.BytesIO()
    Image.new("RGB", (20, 20), RED).save(buffer, format="PNG")
    with pytest.raises(ImageError, match="20x20 is over the limit of 100 pixels"):
        load_image(buffer.getvalue(), max_pixels=100)
    assert decoded == []
    assert pixel(load_image(buffer.getvalue(), max_pixels=400)) == RED and decoded  # at the cap is fine


def test_huge_claimed_sizes_are_refused_without_reading_pixels():
    # These files hold no pixel data: decoding would fail as "damaged"; the size check must come first.
    with pytest.raises(ImageError, match="9000x9000 is over the limit"):
        load_image(png_claiming(9000, 9000))
    # Far beyond Pillow's own decompression-bomb limit, which fires while opening.
    with pytest.raises(ImageError, match="over the limit"):
        load_image(png_claiming(40000, 40000))


# -- Saving --------------------------------------------------------------------------------------------------


SETTINGS = {"config": {"size": 64, "style_layers": ["relu1_1", "relu2_1"]}, "content": "tübingen.jpg", "steps": 3}


def test_png_round_trip_with_settings(tmp_path):
    image = Image.effect_noise((16, 12), 60).convert("RGB")
    path = save_image(image, tmp_path / "out.png", SETTINGS)
    assert read_settings(path) == SETTINGS
    with Image.open(path) as reopened:
        assert reopened.format == "PNG"
        assert np.array_equal(np.asarray(reopened.convert("RGB")), np.asarray(image))  # lossless


def test_jpeg_round_trip_with_settings(tmp_path):
    path = save_image(Image.new("RGB", (16, 12), GREEN), tmp_path / "out.jpg", SETTINGS)
    assert read_settings(path) == SETTINGS
    with Image.open(path) as reopened:
        assert reopened.format == "JPEG"
        assert np.allclose(reopened.getpixel((8, 6)), GREEN, atol=3)


def test_files_without_settings(tmp_path):
    save_image(Image.new("RGB", (4, 4)), tmp_path / "plain.png")
    Image.new("RGB", (4, 4)).save(tmp_path / "other.jpg")
    assert read_settings(tmp_path / "plain.png") is None
    assert read_settings(tmp_path / "other.jpg") is None


def test_save_creates_folders_and_refuses_other_formats(tmp_path):
    path = save_image(Image.new("RGB", (4, 4)), tmp_path / "a" / "b" / "out.png")
    assert path.is_file()
    with pytest.raises(ImageError, match=r"\.png or \.jpg"):
        save_image(Image.new("RGB", (4, 4)), tmp_path / "out.gif")
    assert not (tmp_path / "out.gif").exists()


def test_save_is_atomic(tmp_path, monkeypatch):
    target = tmp_path / "out.png"
    save_image(Image.new("RGB", (4, 4), RED), target, {"run": 1})
    assert sorted(os.listdir(tmp_path)) == ["out.png"]  # no temporary file left behind
    before = target.read_bytes()

    def fail_halfway(self, fp, *args, **kwargs):
        Path(fp).write_bytes(b"\x89PNG half a file")
        raise OSError("disk full")

    monkeypatch.setattr(Image.Image, "save", fail_halfway)
    with pytest.raises(OSError, match="disk full"):
        save_image(Image.new("RGB", (4, 4), BLUE), target, {"run": 2})
    assert sorted(os.listdir(tmp_path)) == ["out.png"]
    assert target.read_bytes() == before  # the old result is untouched


# -- Tensors ------------------------------------------------------------------------------------------------


def test_tensor_round_trip_and_resize():
    image = Image.effect_noise((10, 6), 80).convert("RGB")
    tensor = to_tensor(image)
    assert tensor.shape == (1, 3, 6, 10) and tensor.dtype == torch.float32
    assert 0.0 <= tensor.min() and tensor.max() <= 1.0
    assert np.array_equal(np.asarray(to_pil(tensor)), np.asarray(image))
    assert pixel(to_pil(torch.full((3, 2, 2), 2.0))) == WHITE  # clipped
    assert resize_longest(Image.new("RGB", (300, 200)), 60).size == (60, 40)
    assert resize_longest(Image.new("RGB", (20, 50)), 100).size == (40, 100)
