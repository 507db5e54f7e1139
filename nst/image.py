"""Images in and out: the only code that converts between PIL images, files and tensors.

* Loading applies the EXIF orientation, refuses images over a pixel budget *before* decoding them
  (decompression bombs), takes the first frame of an animation (``info["frames"]`` says how many it
  had), and brings every mode to 8-bit RGB: grayscale and palette are expanded, transparency is
  composited on white, CMYK is converted and 16/32-bit images are rescaled from their actual range.
  ``open_image`` does the same checks but keeps the image's own mode (masks read their alpha channel).
* Tensors are float32 ``[1, 3, H, W]`` RGB in [0, 1].
* Saving writes PNG (or JPEG) atomically, with the settings of the run embedded as JSON text
  (the PNG text chunk ``nst``, or the JPEG comment), so ``read_settings`` can reproduce a result.
"""

from __future__ import annotations

import io
import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageOps, PngImagePlugin, UnidentifiedImageError

MAX_PIXELS = 64_000_000        # refuse larger images before decoding them
METADATA_KEY = "nst"           # PNG text chunk holding the run's settings as JSON
MAX_SETTINGS_DEPTH = 32        # lists and objects nested in the settings, at most (nst writes about 5)


class ImageError(ValueError):
    """An input that is not a usable image; the message says what to do."""




def load_image(source, *, max_pixels: int = MAX_PIXELS) -> Image.Image:
    """Open ``source`` (a path, bytes, a file object, a PIL image or an HxW[xC] uint8 array) as 8-bit RGB.

    An animation gives its first frame, and ``info["frames"]`` of the result says how many it had.
    """
    image = open_image(source, max_pixels=max_pixels)
    frames = image.info.get("frames", 1)
    image = to_rgb(image)
    if frames > 1:
        image.info["frames"] = frames
    return image


def open_image(source, *, max_pixels: int = MAX_PIXELS) -> Image.Image:
    """Like ``load_image`` but in the image's own mode (masks need their alpha channel): checked against
    ``max_pixels`` before decoding, decoded, its first frame if animated, turned as its EXIF orientation says."""
    name = "image"
    if isinstance(source, Image.Image):
        image = source
    elif isinstance(source, np.ndarray):
        image = _from_array(source)
    else:
        if isinstance(source, (str, os.PathLike)):
            name = str(source)
            if Path(source).is_dir():
                raise ImageError(f"{name}: is a folder, not an image file; give the path of an image in it "
                                 f"(PNG, JPEG, WebP, GIF, BMP or TIFF)")
            if not Path(source).is_file():
                raise ImageError(f"{name}: no such file")
            if Path(source).stat().st_size == 0:
                raise ImageError(f"{name}: the file is empty")
        elif isinstance(source, (bytes, bytearray)):
            source = io.BytesIO(source)
        try:
            image = Image.open(source)
        except UnidentifiedImageError:
            raise ImageError(f"{name}: not an image file (use PNG, JPEG, WebP, GIF, BMP or TIFF)") from None
        except Image.DecompressionBombError:  # Pillow's own cap, checked as it opens far larger images
            raise ImageError(f"{name}: the image is over the limit of {max_pixels:,} pixels; use a smaller image") from None
        except OSError as exc:
            raise ImageError(f"{name}: could not be read ({exc})") from None
    w, h = image.size
    if w * h > max_pixels:
        raise ImageError(f"{name}: {w}x{h} is over the limit of {max_pixels:,} pixels; use a smaller image")
    if w < 1 or h < 1:
        raise ImageError(f"{name}: the image is empty")
    try:
        frames = getattr(image, "n_frames", 1)
        if frames > 1:
            image.seek(0)  # an animation used as a still: its first frame
        image.load()
        image = ImageOps.exif_transpose(image)  # a copy: the caller's image is left as it was
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageError(f"{name}: the file is damaged or truncated ({exc})") from None
    if frames > 1:
        image.info["frames"] = frames
    return image


def _from_array(array: np.ndarray) -> Image.Image:
    if array.ndim == 2 or (array.ndim == 3 and array.shape[2] in (1, 3, 4)):
        if array.dtype != np.uint8:
            array = np.clip(array.astype(np.float64), 0, 255 if array.max() > 1 else 1)
            array = (array * (255 if array.max() <= 1 else 1)).round().astype(np.uint8)
        return Image.fromarray(array.squeeze(2) if array.ndim == 3 and array.shape[2] == 1 else array)
    raise ImageError(f"an image array must be HxW, HxWx3 or HxWx4, got shape {array.shape}")


def to_rgb(image: Image.Image, background: tuple[int, int, int] = (255, 255, 255)) -> Image.Image:
    """Any PIL mode to 8-bit RGB; transparency is composited on ``background``."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        array = np.asarray(image, dtype=np.float64)
        lo, hi = float(array.min()), float(array.max())
        scale = 255.0 / (hi - lo) if hi > lo else 0.0
        image = Image.fromarray(((array - lo) * scale).round().astype(np.uint8), "L")
    if image.mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
    if image.mode in ("LA", "La", "PA"):
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "RGBa"):
        canvas = Image.new("RGB", image.size, background)
        canvas.paste(image, mask=image.getchannel("A"))
        return canvas
    if image.mode != "RGB":
        image = image.convert("RGB")  # L, 1, CMYK, YCbCr, LAB, HSV
    return image


def resize_longest(image: Image.Image, longest: int) -> Image.Image:
    """Resize so the longest side is ``longest`` pixels, keeping the aspect ratio (Lanczos when shrinking)."""
    w, h = image.size
    scale = longest / max(w, h)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    if size == image.size:
        return image
    return image.resize(size, Image.LANCZOS if scale < 1 else Image.BICUBIC)


def to_tensor(image: Image.Image, device: torch.device | str = "cpu") -> torch.Tensor:
    """8-bit RGB PIL image to a float32 ``[1, 3, H, W]`` tensor in [0, 1]."""
    array = np.asarray(to_rgb(image), dtype=np.float32) / 255.0
    return torch.from_numpy(array).permute(2, 0, 1).unsqueeze(0).contiguous().to(device)


def to_pil(tensor: torch.Tensor) -> Image.Image:
    """A ``[1, 3, H, W]`` or ``[3, H, W]`` tensor in [0, 1] (clipped) to an 8-bit RGB PIL image."""
    t = tensor.detach()
    if t.ndim == 4:
        t = t[0]
    array = t.float().clamp(0, 1).mul(255).round().byte().permute(1, 2, 0).cpu().numpy()
    return Image.fromarray(array, "RGB")


def resize_tensor(tensor: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Resize ``[B, C, H, W]`` to ``size = (H', W')`` (bicubic up, area-antialiased bilinear down)."""
    if tuple(tensor.shape[-2:]) == tuple(size):
        return tensor
    up = size[0] >= tensor.shape[-2]
    mode = "bicubic" if up else "bilinear"
    return F.interpolate(tensor, size=size, mode=mode, align_corners=False, antialias=not up)


def save_image(image: Image.Image, path: str | os.PathLike, settings: dict[str, Any] | None = None) -> Path:
    """Save as PNG (default) or JPEG by extension, atomically, with ``settings`` embedded as JSON."""
    path = Path(path)
    fmt = {".jpg": "JPEG", ".jpeg": "JPEG", ".png": "PNG", "": "PNG"}.get(path.suffix.lower())
    if fmt is None:
        raise ImageError(f"{path}: save as .png or .jpg")
    text = json.dumps(settings, sort_keys=True) if settings is not None else None
    options: dict[str, Any] = {}
    if fmt == "PNG":
        info = PngImagePlugin.PngInfo()
        if text is not None:
            info.add_itxt(METADATA_KEY, text)
        options["pnginfo"] = info
    else:
        options.update(quality=95, subsampling=0)
        if text is not None:
            options["comment"] = text.encode("utf-8")
    if path.parent != Path(""):
        path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        to_rgb(image).save(tmp, format=fmt, **options)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def read_settings(source) -> dict[str, Any] | None:
    """The settings a file written by ``save_image`` carries, or None when it has none (or not as JSON).

    Settings nested deeper than ``MAX_SETTINGS_DEPTH`` (or too deep for the JSON reader), or holding a
    number too long to read, are no settings this project wrote: ``ImageError`` says so.
    """
    name = str(source) if isinstance(source, (str, os.PathLike)) else "the image"
    if isinstance(source, Image.Image):
        text, fmt, comment = source.info.get(METADATA_KEY), source.format, source.info.get("comment")
    else:
        with Image.open(source) as image:
            text, fmt, comment = image.info.get(METADATA_KEY), image.format, image.info.get("comment")
    if text is None and fmt == "JPEG":
        text = comment.decode("utf-8", "replace") if isinstance(comment, bytes) else comment
    if not text:
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        return None
    except RecursionError:
        raise ImageError(f"{name}: its nst settings are nested too deeply to read; they are not settings nst "
                         f"wrote") from None
    except ValueError as exc:  # an integer of more digits than Python reads from text
        raise ImageError(f"{name}: its nst settings cannot be read ({_first_line(exc)}); they are not settings "
                         f"nst wrote") from None
    if _depth(value) > MAX_SETTINGS_DEPTH:
        raise ImageError(f"{name}: its nst settings are nested more than {MAX_SETTINGS_DEPTH} levels deep; they "
                         f"are not settings nst wrote")
    return value if isinstance(value, dict) else None


def _depth(value: Any) -> int:
    """How deeply lists and objects nest in a JSON value (a number or string: 0), without recursion."""
    deepest, pending = 0, [(value, 0)]
    while pending:
        item, level = pending.pop()
        if isinstance(item, (dict, list)):
            deepest = max(deepest, level + 1)
            if level + 1 > MAX_SETTINGS_DEPTH:
                break
            pending.extend((child, level + 1) for child in (item.values() if isinstance(item, dict) else item))
    return deepest


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:120] if text else type(exc).__name__
