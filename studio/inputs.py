"""Reading what a visitor sends: images, masks (uploaded or painted), numbers and number lists.

Everything a visitor sends is untrusted data. An image is held to the host's budget before it is
decoded (``limits.max_pixels()``, from its header) and to an aspect ratio the engine can process
within the size cap (a painting's short side is kept at 16 to 32 px, so a long thin one would be
processed far beyond the cap): ``w / h <= max(MIN_ASPECT_LIMIT, size_limit / 32)``. A number control
refuses what is not a finite number within its bounds (``checked_number``), before Gradio's own
conversion could fail with no message. Every check ends in a one-line ``gr.Error`` that says what to
do, naming the uploaded file but never the server's temporary folder it sits in.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import gradio as gr
from PIL import Image, ImageChops

import nst
from nst.image import open_image
from nst.masks import open_mask
from nst.settings import shown

from . import limits, runtime

MASK_ASPECT_TOLERANCE = 0.02  # a mask's aspect ratio may differ from the content's by this fraction
MIN_ASPECT_LIMIT = 4          # images up to 4:1 are taken whatever the size cap
WIDEST_PROCESSED_SIDE = 32    # px: the short side the engine may keep a painting at (pool5's 2^5)


def image_input(label: str, **options) -> gr.Image:
    """A ``gr.Image`` that gives handlers the uploaded file's path; an unreadable upload is a one-line error.

    A plain ``gr.Image`` fails on a non-image inside Gradio, before the handler runs, with no message
    for the user; here its ``preprocess`` turns that into a ``gr.Error``. (The method is wrapped on the
    instance: a subclass of a Gradio component would make Gradio write a ``.pyi`` file beside this one.)
    """
    component = gr.Image(label=label, type="filepath", image_mode=None, sources=["upload", "clipboard"],
                         **options)
    read = component.preprocess

    def preprocess(payload):
        try:
            return read(payload)
        except Image.DecompressionBombError:  # Pillow's cap on the size a header claims
            name = getattr(payload, "orig_name", None) or "The uploaded file"
            raise gr.Error(f"{name} is far too large: upload an image under {limits.max_pixels():,} pixels") from None
        except Exception:  # whatever PIL fails with on a file that is not an image
            name = getattr(payload, "orig_name", None) or "The uploaded file"
            raise gr.Error(f"{name} is not an image this app can read: upload a PNG, JPEG, WebP, GIF, BMP "
                           "or TIFF") from None

    component.preprocess = preprocess
    return component


def _without_folder(message: str, source) -> str:
    """``message`` naming the file ``source`` (when it is a path) rather than where the server keeps it."""
    if isinstance(source, (str, os.PathLike)):
        return message.replace(str(source), Path(source).name)
    return message


def read_image(source, what: str, hint: str) -> Image.Image:
    """``source`` (a path, PIL image or array) as RGB, or ``gr.Error`` saying what to do."""
    if source is None or (isinstance(source, str) and not source.strip()):
        raise gr.Error(f"No {what}: {hint}")
    try:
        image = nst.load_image(source, max_pixels=limits.max_pixels())
    except nst.ImageError as exc:
        raise gr.Error(f"The {what} could not be used: {_without_folder(str(exc), source)}") from None
    check_aspect(image, what)
    if image.info.get("frames", 1) > 1:
        gr.Warning(f"The {what} is an animation of {image.info['frames']} frames: its first frame is used")
    return image


def aspect_limit() -> float:
    """The longest side over the shortest that an image may have here (see the module notes)."""
    return max(MIN_ASPECT_LIMIT, runtime.size_limit() / WIDEST_PROCESSED_SIDE)


def check_aspect(image: Image.Image, what: str) -> None:
    """``gr.Error`` when ``image`` is too long and thin to be processed within the size cap."""
    w, h = image.size
    if max(w, h) > aspect_limit() * min(w, h):
        raise gr.Error(f"The {what} is {w}x{h}, too long and thin for this machine (at most {aspect_limit():g}:1 "
                       "here): crop it")


def content_image(source) -> Image.Image:
    """The content photo, or ``gr.Error``."""
    return read_image(source, "content image", "upload a photo, or click an example below")


def style_image(source, what: str = "style image") -> Image.Image:
    """A painting, or ``gr.Error`` naming it as ``what``."""
    return read_image(source, what, "upload a painting, or click an example below")


def start_image(init: str, source) -> Image.Image | None:
    """The image a run starts from when ``init`` is "image"; None otherwise."""
    if init != "image":
        return None
    return read_image(source, "init image", "'Start from' is image, so upload an image to start from "
                      "(or press 'Continue from this' under a result)")


def file_name(source) -> str | None:
    """The uploaded file's name (what a result records), None for anything but a path."""
    return Path(source).name if isinstance(source, (str, os.PathLike)) else None


def read_mask(source, what: str) -> Image.Image:
    """An uploaded mask in its own mode (a transparent background is read from its alpha), or ``gr.Error``."""
    try:
        if isinstance(source, (str, os.PathLike)):  # held to the upload budget before it is decoded
            try:
                return open_mask(open_image(source, max_pixels=limits.max_pixels()), what)
            except nst.ImageError as exc:
                raise ValueError(f"{what} {exc}") from None
        return open_mask(source, what)
    except ValueError as exc:
        raise gr.Error(f"{_without_folder(str(exc), source)}; upload a mask image (white where the style goes) "
                       "or paint one") from None


def painted_mask(editor_value) -> Image.Image | None:
    """The strokes painted in a ``gr.ImageEditor`` as a grey mask (white where painted); None if none."""
    if not editor_value:
        return None
    alphas = [layer.getchannel("A") for layer in editor_value.get("layers") or []
              if isinstance(layer, Image.Image) and layer.mode == "RGBA"]
    if not alphas:
        return None
    mask = alphas[0]
    for alpha in alphas[1:]:
        mask = ImageChops.lighter(mask, alpha)
    return mask if mask.getbbox() is not None else None


def check_mask_shape(mask: Image.Image, content: Image.Image, what: str) -> None:
    """A mask must have the content's aspect ratio (its size may differ: it is resized):
    ``|w_m / h_m - w_c / h_c| <= MASK_ASPECT_TOLERANCE * w_c / h_c``."""
    (mw, mh), (cw, ch) = mask.size, content.size
    if abs(mw / mh - cw / ch) > MASK_ASPECT_TOLERANCE * (cw / ch):
        raise gr.Error(f"{what} is {mw}x{mh} but the content image is {cw}x{ch}: a mask needs the content's "
                       f"shape; paint it over the photo, or upload one with the same aspect ratio")


def numbers(text: str, what: str) -> list[float]:
    """Comma- (or semicolon-) separated numbers of 0 or more, or ``gr.Error`` with an example."""
    try:
        values = [float(part) for part in str(text).replace(";", ",").split(",") if part.strip()]
    except ValueError:
        raise gr.Error(f"{what} must be numbers separated by commas, like 1, 10, 100; got {text!r}") from None
    if not values or any(not math.isfinite(v) or v < 0 for v in values):
        raise gr.Error(f"{what} must be one or more numbers of 0 or more, like 1, 10, 100; got {text!r}")
    return values


def checked_number(component: gr.Number | gr.Slider) -> gr.Number | gr.Slider:
    """``component`` refusing, with a one-line ``gr.Error`` naming its label, a value that is not a finite
    number within its bounds (a string, NaN, infinity, true/false) before Gradio converts it."""
    read, label = component.preprocess, component.label or "The number"

    def preprocess(payload):
        if payload is None:
            return read(payload)
        if isinstance(payload, bool) or not isinstance(payload, (int, float)) or not math.isfinite(payload):
            raise gr.Error(f"{label} must be a number, got {shown(payload)}")
        low, high = component.minimum, component.maximum
        if low is not None and payload < low:
            raise gr.Error(f"{label} must be at least {_number(low)} here, got {_number(payload)}")
        if high is not None and payload > high:
            raise gr.Error(f"{label} must be at most {_number(high)} here, got {_number(payload)}")
        return read(payload)

    component.preprocess = preprocess
    return component


def _number(value: float) -> str:
    """``value`` for a message: a whole number in full (with thousands separators), else as ``%g``."""
    return f"{int(value):,}" if float(value).is_integer() else f"{value:g}"


def guard_pixels(component: gr.ImageEditor) -> gr.ImageEditor:
    """``component`` refusing, before Gradio decodes them, images in its value (background, layers,
    composite) over ``limits.max_pixels()``."""
    read = component.preprocess

    def preprocess(payload):
        files = [getattr(payload, name, None) for name in ("background", "composite")]
        files += list(getattr(payload, "layers", None) or [])
        for file in files:
            path = getattr(file, "path", None)
            if path:
                try:
                    with Image.open(path) as image:
                        pixels = image.width * image.height
                except Image.DecompressionBombError:
                    pixels = math.inf
                except Exception:  # not an image: Gradio's own reading says so
                    continue
                if pixels > limits.max_pixels():
                    raise gr.Error(f"The painted image is over the limit of {limits.max_pixels():,} pixels: "
                                   "use a smaller photo")
        return read(payload)

    component.preprocess = preprocess
    return component


def whole(value):
    """Whole numbers from sliders and number boxes as ``int`` (anything else is left for the config to reject)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value
