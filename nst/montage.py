"""Several results as one picture: a (labelled) grid image, or an animated GIF.

Used by the interpolation sweep and the layer explorer; both take lists of PIL images of any sizes.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

from PIL import Image, ImageDraw, ImageFont

GAP = 4                  # pixels between cells
BACKGROUND = (255, 255, 255)
LABEL_COLOR = (30, 30, 30)
MAX_DURATION_MS = 655_350  # GIF stores a frame's duration in hundredths of a second, at most 65535


def grid(images: Sequence[Image.Image], columns: int | None = None, labels: Sequence[str] | None = None,
         gap: int = GAP) -> Image.Image:
    """``images`` in rows of ``columns`` (default: all in one row), each cell the size of the largest
    image, with an optional caption under each; one RGB image."""
    if not images:
        raise ValueError("no images to put in a grid")
    if labels is not None and len(labels) != len(images):
        raise ValueError(f"{len(labels)} label(s) for {len(images)} image(s): give one per image")
    columns = len(images) if columns is None else columns
    if isinstance(columns, bool) or not isinstance(columns, int) or columns < 1:
        raise ValueError(f"columns must be a whole number of at least 1, got {columns!r}")
    columns = min(columns, len(images))
    rows = -(-len(images) // columns)
    cell_w = max(im.width for im in images)
    cell_h = max(im.height for im in images)
    font = _font(max(10, min(24, cell_w // 12)))
    caption_h = 0
    if labels is not None:
        caption_h = max(_text_size(font, text)[1] for text in labels) + 2 * gap
    sheet = Image.new("RGB", (columns * cell_w + (columns + 1) * gap, rows * (cell_h + caption_h) + (rows + 1) * gap),
                      BACKGROUND)
    draw = ImageDraw.Draw(sheet)
    for i, image in enumerate(images):
        row, col = divmod(i, columns)
        x0 = gap + col * (cell_w + gap)
        y0 = gap + row * (cell_h + caption_h + gap)
        sheet.paste(image.convert("RGB"), (x0 + (cell_w - image.width) // 2, y0 + (cell_h - image.height) // 2))
        if labels is not None:
            w, _ = _text_size(font, labels[i])
            draw.text((x0 + max(0, (cell_w - w) // 2), y0 + cell_h + gap), labels[i], fill=LABEL_COLOR, font=font)
    return sheet


def save_gif(images: Sequence[Image.Image], path: str | os.PathLike, duration_ms: int = 400,
             bounce: bool = False) -> Path:
    """An animated GIF of ``images`` (``duration_ms`` per frame, looping forever); ``bounce`` plays it
    forward then backward. Frames are brought to the first image's size."""
    path = Path(path)
    if path.suffix.lower() != ".gif":
        raise ValueError(f"{path}: an animation is saved as .gif")
    if not images:
        raise ValueError("no images to animate")
    if isinstance(duration_ms, bool) or not isinstance(duration_ms, int) or not 10 <= duration_ms <= MAX_DURATION_MS:
        raise ValueError(f"duration_ms must be a whole number of milliseconds from 10 to {MAX_DURATION_MS}, "
                         f"got {duration_ms!r}")
    size = images[0].size
    frames = [im.convert("RGB").resize(size, Image.LANCZOS) if im.size != size else im.convert("RGB") for im in images]
    if bounce and len(frames) > 2:
        frames = frames + frames[-2:0:-1]
    if path.parent != Path(""):
        path.parent.mkdir(parents=True, exist_ok=True)
    frames[0].save(path, format="GIF", save_all=True, append_images=frames[1:], duration=duration_ms, loop=0)
    return path


def _font(size: int) -> ImageFont.ImageFont:
    """DejaVu Sans where the system has it (it has Greek and the ellipsis), else Pillow's own font."""
    try:
        return ImageFont.truetype("DejaVuSans.ttf", size)
    except OSError:
        pass
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1 has one bitmap size only
        return ImageFont.load_default()


def _text_size(font, text: str) -> tuple[int, int]:
    left, top, right, bottom = font.getbbox(text)
    return right - left, bottom
