"""Texture synthesis (Gatys, Ecker & Bethge 2015): an image with a style's Gram statistics and no content.

With no content image the loss is the style term alone (plus total variation),

    L(x) = beta * sum_l s_l ||G_l(x) - A_l||^2 / ||A_l||^2 + gamma * TV(x),

minimised from seeded noise, so the texture is a new sample each seed. Its look defaults to the
paper's (``TEXTURE_LOOK``): VGG-19's max pooling replaced by average pooling, which the paper found to
improve the gradient flow and give slightly cleaner results, and no TV term (gamma = 0), since the noise start leaves
no photo edges to keep clean. The output's longest side is
``config.size``; its aspect ratio is the first style's unless ``shape = (h, w)`` is given. Style
masks work here too: they lay out different textures over the canvas.
"""

from __future__ import annotations

from typing import Sequence

import torch
from PIL import Image

from .config import TransferConfig
from .features import VGG19Features
from .optimize import StyleTransfer

# Gatys, Ecker & Bethge 2015: average pooling and no total variation, where a transfer's defaults
# (max pooling, gamma = 1) are set for a photo. The CLI's --texture and the app's Texture tab start here.
TEXTURE_LOOK = {"pooling": "avg", "tv_weight": 0.0}


def texture_config(config: TransferConfig) -> TransferConfig:
    """``config`` made fit for synthesis: no content term, no colour preservation, noise rather than a content init."""
    return config.replace(
        content_weight=0.0,
        style_weight=config.style_weight or TransferConfig().style_weight,
        init="noise" if config.init == "content" else config.init,
        preserve_color="off",
    )


def synthesize(model: VGG19Features, style: Image.Image | Sequence[Image.Image],
               size: int | tuple[int, int] | None = None, config: TransferConfig | None = None,
               device: str | torch.device = "auto", **options) -> StyleTransfer:
    """A texture run after ``style`` (one image or several, blended): iterate it, or ``.run()`` it for the image.

    ``size`` is the output's longest side, or its ``(height, width)``; None keeps ``config.size``.
    ``config`` None: the defaults with ``TEXTURE_LOOK``; a config given is used as it is.
    ``options`` go to ``StyleTransfer`` (``style_masks``, ``init_image``, ...).
    """
    styles = [style] if isinstance(style, Image.Image) else list(style)
    if config is None:
        config = TransferConfig(**TEXTURE_LOOK)
    shape = None
    if isinstance(size, tuple):
        shape = size
        config = config.replace(size=max(size))
    elif size is not None:
        config = config.replace(size=size)
    return StyleTransfer(model, None, styles, texture_config(config), device=device, content_size=shape, **options)
