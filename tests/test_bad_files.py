"""A corpus of awkward and broken image files, written by the tests themselves, tried through every door.

The corpus (``CORPUS``): truncated JPEG and PNG, random bytes named .jpg / .png, a PNG or JPEG
signature followed by garbage, a PNG with a broken checksum, an empty file, PNG headers claiming
100000x100000 and 9000x9000 pixels with no data, a real decompression bomb (10000x7000 zeros in 68 kB),
a 1x1 image, animated GIF and WebP, a CMYK JPEG, a 16-bit PNG (I;16), a palette image with a
transparent colour, LA and RGBA with transparency, and an EXIF-rotated JPEG; then masks of the wrong
aspect ratio, with a transparent background, 16 bits deep, and black everywhere.

Each file goes through ``nst.load_image`` (a clear ``ImageError`` naming the file, or the right pixels),
the masks' reader, the command line (``nst.cli.main``: exit status 2 and one line ``nst: error: ...`` for
a bad file, a result for a good one, a note for an animation) and the app (its upload component and
handlers raise ``gr.Error`` with a one-line message, which Gradio shows while the server goes on serving,
or run; an animation gives a warning that its first frame is used).
"""

from __future__ import annotations

import io
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import gradio as gr
import numpy as np
import pytest
import torch
from gradio.components.image import ImageData
from PIL import Image

import nst
from nst.cli import main
from nst.image import ImageError, load_image
from nst.masks import mask_to_tensor, open_mask
from nst.weights import save_features
from studio import limits
from studio.inputs import image_input
from studio.tabs.masked import stylize_masked
from studio.tabs.single import stylize

pytestmark = pytest.mark.usefixtures("one_thread")

RED, GREEN, BLUE, WHITE, BLACK, CYAN = (255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 255), (0, 0, 0), (0, 255, 255)
W, H = 40, 30  # the size of the corpus's good images


# -- Making the files ----------------------------------------------------------------------------------------


def encoded(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def noise(width: int = W, height: int = H, seed: int = 0) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8), "RGB")


def halves(mode: str, left, right, size=(W, H)) -> Image.Image:
    """An image whose left half is ``left`` and right half ``right``."""
    image = Image.new(mode, size, left)
    image.paste(right, (size[0] // 2, 0, size[0], size[1]))
    return image


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_claiming(width: int, height: int) -> bytes:
    """A PNG header claiming ``width x height`` RGB pixels, with no pixel data."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header) + png_chunk(b"IEND", b"")


def png_bomb(width: int, height: int) -> bytes:
    """A valid greyscale PNG of zeros: ``width x height`` bytes of pixels compressed about 1000:1."""
    compressor = zlib.compressobj(9)
    row = b"\x00" * (width + 1)  # filter byte + pixels
    data = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header) + png_chunk(b"IDAT", data) + png_chunk(b"IEND", b"")


def broken_checksum() -> bytes:
    data = bytearray(encoded(noise(16, 16), "PNG"))
    data[data.index(b"IDAT") + 10] ^= 0xFF  # a flipped byte inside the pixel data
    return bytes(data)


def animation(fmt: str, **options) -> bytes:
    frames = [Image.new("RGB", (W, H), colour) for colour in (RED, GREEN, BLUE)]
    return encoded(frames[0], fmt, save_all=True, append_images=frames[1:], duration=50, **options)


def exif_rotated() -> bytes:
    # Stored 40 wide x 30 high, left half red; Orientation 6 ("turn 90 degrees clockwise to display")
    # brings the left half to the top.
    exif = Image.Exif()
    exif[0x0112] = 6
    return encoded(halves("RGB", RED, BLUE), "JPEG", quality=95, exif=exif)


def palette_with_transparency() -> bytes:
    image = halves("P", 0, 1)
    image.putpalette([*RED, *GREEN] + [0] * (254 * 3))
    return encoded(image, "PNG", transparency=1)


@dataclass(frozen=True)
class Case:
    """One file of the corpus and what reading it must give."""

    make: Callable[[], bytes]
    error: str | None = None                        # what the ImageError says, for a file that is refused
    size: tuple[int, int] | None = None             # (width, height) it loads as, for a file that is read
    pixels: tuple[tuple[tuple[int, int], tuple[int, int, int]], ...] = ()  # ((x, y), RGB) it must have
    frames: int = 1                                 # an animation's frame count (its first frame is used)

    @property
    def bad(self) -> bool:
        return self.error is not None


CORPUS = {
    "truncated.jpg": Case(lambda: encoded(noise(), "JPEG")[:700], error="damaged or truncated"),
    "truncated.png": Case(lambda: encoded(noise(), "PNG")[:-300], error="damaged or truncated"),
    "random.jpg": Case(lambda: np.random.default_rng(1).bytes(2000), error="not an image file"),
    "random.png": Case(lambda: np.random.default_rng(2).bytes(2000), error="not an image file"),
    "png_signature_then_garbage.png": Case(lambda: b"\x89PNG\r\n\x1a\n" + np.random.default_rng(3).bytes(500),
                                           error="not an image file"),
    "jpeg_signature_then_garbage.jpg": Case(lambda: b"\xff\xd8\xff\xe0" + np.random.default_rng(4).bytes(500),
                                            error="could not be read"),
    "broken_checksum.png": Case(broken_checksum, error="damaged or truncated"),
    "empty.png": Case(lambda: b"", error="the file is empty"),
    "claims_100000x100000.png": Case(lambda: png_claiming(100_000, 100_000), error="over the limit of 64,000,000"),
    "claims_9000x9000.png": Case(lambda: png_claiming(9000, 9000), error="9000x9000 is over the limit of 64,000,000"),
    "bomb_10000x7000.png": Case(lambda: png_bomb(10_000, 7000), error="10000x7000 is over the limit of 64,000,000"),
    "one_pixel.png": Case(lambda: encoded(Image.new("RGB", (1, 1), RED), "PNG"), size=(1, 1), pixels=(((0, 0), RED),)),
    "animated.gif": Case(lambda: animation("GIF"), size=(W, H), pixels=(((0, 0), RED),), frames=3),
    "animated.webp": Case(lambda: animation("WEBP", lossless=True), size=(W, H), pixels=(((0, 0), RED),), frames=3),
    "cmyk.jpg": Case(lambda: encoded(Image.new("CMYK", (W, H), (255, 0, 0, 0)), "JPEG", quality=95),
                     size=(W, H), pixels=(((5, 5), CYAN),)),
    "sixteen_bit.png": Case(lambda: encoded(Image.fromarray(np.tile(np.linspace(1000, 60000, W), (H, 1))
                                                            .astype(np.uint16)), "PNG"),
                            size=(W, H), pixels=(((0, 0), BLACK), ((W - 1, 0), WHITE))),  # rescaled from its range
    "palette_transparent.png": Case(palette_with_transparency, size=(W, H),
                                    pixels=(((0, 0), RED), ((W - 1, 0), WHITE))),
    "la.png": Case(lambda: encoded(halves("LA", (0, 255), (0, 0)), "PNG"), size=(W, H),
                   pixels=(((0, 0), BLACK), ((W - 1, 0), WHITE))),
    "rgba.png": Case(lambda: encoded(halves("RGBA", (*BLUE, 255), (*BLUE, 0)), "PNG"), size=(W, H),
                     pixels=(((0, 0), BLUE), ((W - 1, 0), WHITE))),
    "exif_rotated.jpg": Case(exif_rotated, size=(H, W), pixels=(((15, 5), RED), ((15, 34), BLUE))),
}
BAD = sorted(name for name, case in CORPUS.items() if case.bad)
GOOD = sorted(name for name, case in CORPUS.items() if not case.bad)

# Masks over the corpus's 40x30 photo, besides the corpus itself (every file of which is tried as a mask too).
MASKS = {
    "mask_wrong_aspect.png": lambda: encoded(Image.new("L", (40, 10), 255), "PNG"),
    "mask_transparent_background.png": lambda: encoded(halves("RGBA", (255, 255, 255, 255), (255, 255, 255, 0)), "PNG"),
    "mask_sixteen_bit.png": lambda: encoded(Image.fromarray(np.where(np.arange(W) < W // 2, 65535, 0)
                                                            .astype(np.uint16)[None].repeat(H, 0)), "PNG"),
    "mask_black.png": lambda: encoded(Image.new("L", (W, H), 0), "PNG"),
}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    """The folder the corpus is written to, with a good photo and painting beside it."""
    folder = tmp_path_factory.mktemp("corpus")
    for name, case in CORPUS.items():
        (folder / name).write_bytes(case.make())
    for name, make in MASKS.items():
        (folder / name).write_bytes(make())
    noise(W, H, seed=10).save(folder / "photo.png")
    noise(48, 36, seed=11).save(folder / "painting.png")
    return folder


@pytest.fixture(scope="module")
def weights(tmp_path_factory) -> Path:
    from conftest import make_tiny_convs

    from nst.weights import TORCHVISION, VGGWeights

    return save_features(VGGWeights(make_tiny_convs(), TORCHVISION, "tiny random"),
                         tmp_path_factory.mktemp("weights") / "tiny.safetensors")


def check_pixels(image: Image.Image, case: Case) -> None:
    assert image.mode == "RGB" and image.size == case.size
    for xy, colour in case.pixels:
        assert np.allclose(image.getpixel(xy), colour, atol=12), (xy, image.getpixel(xy), colour)


def test_the_corpus_is_what_it_says(corpus):
    assert Image.open(corpus / "animated.webp").n_frames == 3 and Image.open(corpus / "animated.gif").n_frames == 3
    assert Image.open(corpus / "cmyk.jpg").mode == "CMYK" and Image.open(corpus / "sixteen_bit.png").mode == "I;16"
    assert Image.open(corpus / "la.png").mode == "LA" and Image.open(corpus / "palette_transparent.png").mode == "P"
    assert struct.unpack(">II", (corpus / "claims_100000x100000.png").read_bytes()[16:24]) == (100_000, 100_000)
    with Image.open(corpus / "bomb_10000x7000.png") as bomb:
        assert bomb.size == (10_000, 7000) and (corpus / "bomb_10000x7000.png").stat().st_size < 100_000
    assert (corpus / "empty.png").stat().st_size == 0


# -- nst.load_image and the masks' reader ---------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_load_image(corpus, name):
    case, path = CORPUS[name], corpus / name
    if case.bad:
        with pytest.raises(ImageError, match=case.error) as error:
            load_image(path)
        message = str(error.value)
        assert message.startswith(f"{path}: ") and "\n" not in message
    else:
        image = load_image(path)
        check_pixels(image, case)
        assert image.info.get("frames", 1) == case.frames
        assert load_image(path.read_bytes()).size == case.size  # the same from bytes


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_masks_read_the_same_files(corpus, name):
    case, path = CORPUS[name], corpus / name
    if case.bad:
        with pytest.raises(ImageError, match=case.error) as error:
            mask_to_tensor(path, "style mask 1")
        assert str(error.value).startswith(f"style mask 1 {path}: ")
    else:
        mask = mask_to_tensor(path)
        w, h = case.size
        assert mask.shape == (1, 1, h, w) and 0 <= float(mask.min()) and float(mask.max()) <= 1


def test_masks_keep_their_alpha_depth_and_orientation(corpus):
    transparent = mask_to_tensor(corpus / "mask_transparent_background.png")[0, 0]
    assert torch.all(transparent[:, : W // 2] == 1) and torch.all(transparent[:, W // 2:] == 0)
    deep = mask_to_tensor(corpus / "mask_sixteen_bit.png")[0, 0]
    assert torch.all(deep[:, : W // 2] == 1) and torch.all(deep[:, W // 2:] == 0)
    rotated = open_mask(corpus / "exif_rotated.jpg")
    assert rotated.size == (H, W)  # turned as its EXIF orientation says, like the photo it goes with
    with pytest.raises(ValueError, match="black everywhere"):
        mask_to_tensor(corpus / "mask_black.png")


# -- The command line ------------------------------------------------------------------------------------------


def cli(corpus: Path, weights: Path, content: str, style: str, *extra: str) -> list[str]:
    return [str(corpus / content), str(corpus / style), "-o", str(corpus / "out" / "result.png"), "--size", "32",
            "--steps", "1", "--scales", "1", "--weights", str(weights), "--device", "cpu", "--quiet", *extra]


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("nst: error: ") and "Traceback" not in err, err
    return lines[0]


@pytest.mark.parametrize("role", ["content", "style", "mask"])
@pytest.mark.parametrize("name", BAD)
def test_the_command_line_refuses_a_bad_file_in_one_line(corpus, weights, capsys, name, role):
    args = {"content": cli(corpus, weights, name, "painting.png"),
            "style": cli(corpus, weights, "photo.png", name),
            "mask": cli(corpus, weights, "photo.png", "painting.png", "--mask", str(corpus / name))}[role]
    assert main(args) == 2
    line = one_error_line(capsys)
    assert str(corpus / name) in line and CORPUS[name].error in line
    assert not (corpus / "out" / "result.png").exists()


@pytest.mark.parametrize("role", ["content", "style"])
@pytest.mark.parametrize("name", GOOD)
def test_the_command_line_uses_a_good_file(corpus, weights, capsys, name, role):
    output = corpus / "out" / f"{role}-{name}.png"
    args = cli(corpus, weights, name, "painting.png") if role == "content" else cli(corpus, weights, "photo.png", name)
    args[args.index("-o") + 1] = str(output)
    assert main(args) == 0, capsys.readouterr().err
    err = capsys.readouterr().err
    if CORPUS[name].frames > 1:
        assert err.strip() == f"nst: {corpus / name} is an animation of 3 frames; using its first"
    else:
        assert err == ""
    w, h = CORPUS[name].size if role == "content" else (W, H)
    with Image.open(output) as result:
        assert max(result.size) == 32 and abs(result.size[0] / result.size[1] - w / h) < 0.1


def test_the_command_line_checks_a_masks_shape_and_reads_its_alpha(corpus, weights, capsys):
    assert main(cli(corpus, weights, "photo.png", "painting.png", "--mask", str(corpus / "mask_wrong_aspect.png"))) == 2
    assert "--mask 1 is 40x10 but the CONTENT is 40x30: a mask needs the aspect ratio" in one_error_line(capsys)
    assert main(cli(corpus, weights, "photo.png", "painting.png", "--style-mask",
                    str(corpus / "mask_wrong_aspect.png"))) == 2
    assert "--style-mask 1 is 40x10 but its STYLE is 48x36" in one_error_line(capsys)
    assert main(cli(corpus, weights, "photo.png", "painting.png", "--mask", str(corpus / "mask_black.png"))) == 2
    assert "style mask 1 is black everywhere" in one_error_line(capsys)
    for mask in ("mask_transparent_background.png", "mask_sixteen_bit.png", "rgba.png", "la.png"):
        assert main(cli(corpus, weights, "photo.png", "painting.png", "--mask", str(corpus / mask))) == 0, mask


# -- The app ---------------------------------------------------------------------------------------------------

FAST = dict(size=32, steps=1, scales=1)
RESULT = 3


@pytest.fixture
def tiny_app(weights, tmp_path, monkeypatch):
    """The app on tiny weights, writing results to a temporary folder."""
    monkeypatch.setenv("NST_WEIGHTS", str(weights))
    monkeypatch.setenv("NST_OUTPUT_DIR", str(tmp_path / "outputs"))
    monkeypatch.delenv("NST_MAX_SIZE", raising=False)


def app_error(name: str) -> str:
    """What the app says of the corpus file ``name``: the engine's words, with the app's own pixel budget."""
    return CORPUS[name].error.replace(f"{nst.image.MAX_PIXELS:,}", f"{limits.max_pixels():,}")


def one_line_app_error(error: pytest.ExceptionInfo, path: Path) -> str:
    """The ``gr.Error``'s message, after checking it is one line naming the file but not the folder it is in."""
    assert type(error.value) is gr.Error  # what Gradio shows as a message while it goes on serving
    message = error.value.message
    assert "\n" not in message and "Traceback" not in message
    assert path.name in message and str(path.parent) not in message
    return message


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_the_upload_component_passes_files_on_or_says_what_is_wrong(corpus, name):
    component = image_input("Content")
    path = corpus / name
    try:
        value = component.preprocess(ImageData(path=str(path), orig_name=name))
    except gr.Error as exc:  # Gradio opens the file first: only what Pillow cannot even open stops here
        assert CORPUS[name].bad
        assert "\n" not in exc.message and exc.message.startswith(name)
        assert ("far too large" if "100000" in name else "not an image this app can read") in exc.message
    else:
        assert value == str(path)  # the handler reads it (and refuses it, if bad: see below)


@pytest.mark.usefixtures("tiny_app")
@pytest.mark.parametrize("role", ["content", "style"])
@pytest.mark.parametrize("name", BAD)
def test_the_app_refuses_a_bad_file_with_a_message(corpus, name, role):
    path = corpus / name
    content, style = (path, corpus / "painting.png") if role == "content" else (corpus / "photo.png", path)
    with pytest.raises(gr.Error) as error:
        next(stylize(str(content), str(style), **FAST))
    message = one_line_app_error(error, path)
    assert message.startswith(f"The {role} image could not be used: {name}: ") and app_error(name) in message


@pytest.mark.usefixtures("tiny_app")
@pytest.mark.parametrize("name", BAD)
def test_the_app_refuses_a_bad_mask_with_a_message(corpus, name):
    path = corpus / name
    with pytest.raises(gr.Error) as error:
        next(stylize_masked(str(corpus / "photo.png"), str(corpus / "painting.png"), str(path), **FAST))
    message = one_line_app_error(error, path)
    assert message.startswith(f"Mask 1 {name}: ") and app_error(name) in message


@pytest.mark.usefixtures("tiny_app")
@pytest.mark.parametrize("role", ["content", "style"])
@pytest.mark.parametrize("name", GOOD)
def test_the_app_uses_a_good_file(corpus, name, role, recwarn):
    path = corpus / name
    content, style = (path, corpus / "painting.png") if role == "content" else (corpus / "photo.png", path)
    outputs = list(stylize(str(content), str(style), **FAST))
    with Image.open(outputs[-1][RESULT]) as result:
        assert max(result.size) == 32
    notes = [str(w.message) for w in recwarn if "first frame" in str(w.message)]
    if CORPUS[name].frames > 1:
        assert notes == [f"The {role} image is an animation of 3 frames: its first frame is used"]
    else:
        assert notes == []


@pytest.mark.usefixtures("tiny_app")
def test_the_app_reads_a_masks_alpha_and_checks_its_shape(corpus, monkeypatch):
    seen = []

    class Recording(nst.StyleTransfer):
        def __init__(self, *args, style_masks=None, **kwargs):
            seen.append(style_masks)
            super().__init__(*args, style_masks=style_masks, **kwargs)

    monkeypatch.setattr(nst, "StyleTransfer", Recording)
    photo, painting = str(corpus / "photo.png"), str(corpus / "painting.png")
    list(stylize_masked(photo, painting, str(corpus / "mask_transparent_background.png"), **FAST))
    region = mask_to_tensor(seen[-1][0])[0, 0]  # what the run got: the alpha, not the colours over white
    assert torch.all(region[:, : W // 2] == 1) and torch.all(region[:, W // 2:] == 0)
    with pytest.raises(gr.Error) as error:
        next(stylize_masked(photo, painting, str(corpus / "mask_wrong_aspect.png"), **FAST))
    assert type(error.value) is gr.Error
    assert error.value.message.startswith("Mask 1 is 40x10 but the content image is 40x30")
    with pytest.raises(gr.Error, match="black everywhere"):
        next(stylize_masked(photo, painting, str(corpus / "mask_black.png"), **FAST))
