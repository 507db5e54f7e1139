"""The ``preserve_color`` setting of a run: what each mode does to the inputs before optimisation and
to the image after it (Gatys, Bethge, Hertzmann & Shechtman 2016, "Preserving color in neural
artistic style transfer"). The colour mathematics lives in ``nst.color``; this module only applies it.

With ``a = color_amount`` (0: the stylised colours, 1: the content's):

* ``"luminance"`` - luminance-only transfer. The content and the styles become their luminance
  ``Y = 0.299 R + 0.587 G + 0.114 B`` (replicated to three channels for VGG), each style's luminance
  matched to the content's, ``Y_s' = sigma_c / sigma_s (Y_s - mu_s) + mu_c``; the optimised (grey)
  image's luminance is then recombined with the content's chroma in YUV (YIQ's sibling):
  ``out = YUV^-1(Y_x, (1 - a) UV_x + a UV_c)``.
* ``"yuv"``, ``"ycrcb"``, ``"lab"``, ``"luv"`` - colour swap after optimisation in that space:
  ``out = space^-1(L_x, (1 - a) chroma_x + a chroma_c)``.
* ``"histogram"`` - colour histogram matching before optimisation: every style pixel becomes
  ``x' = A (x - mu_s) + mu_c`` with ``A Sigma_s A^T = Sigma_c`` (RGB mean and covariance), then
  ``style = (1 - a) style + a style'``; the output is left as optimised.
* ``"off"`` - nothing.
"""

from __future__ import annotations

from typing import Sequence

import torch
from PIL import Image

from .color import luminance, match_color_histogram, match_luminance, preserve_color
from .image import to_pil, to_tensor

SWAP_SPACES = ("yuv", "ycrcb", "lab", "luv")


def prepare_inputs(content: Image.Image | None, styles: Sequence[Image.Image], mode: str,
                   amount: float) -> tuple[Image.Image | None, list[Image.Image]]:
    """The content and style images the losses should see under ``mode``."""
    styles = list(styles)
    if mode == "luminance":
        content_y = luminance(to_tensor(content))
        styles = [_grey(match_luminance(luminance(to_tensor(s)), content_y)) for s in styles]
        return _grey(content_y), styles
    if mode == "histogram" and amount > 0:
        c = to_tensor(content)
        matched = []
        for style in styles:
            s = to_tensor(style)
            matched.append(to_pil((1 - amount) * s + amount * match_color_histogram(s, c)))
        return content, matched
    return content, styles


def finish(image: torch.Tensor, content: torch.Tensor | None, mode: str, amount: float) -> torch.Tensor:
    """The optimised ``[1, 3, H, W]`` image with the content's colours put back as ``mode`` says.

    ``content`` is the original (colour) content at the image's size.
    """
    if mode == "luminance":
        return preserve_color(image, content, "yuv", amount)
    if mode in SWAP_SPACES:
        return preserve_color(image, content, mode, amount)
    return image


def _grey(y: torch.Tensor) -> Image.Image:
    """A ``[1, 1, H, W]`` luminance as a grey RGB image (clipped to [0, 1])."""
    return to_pil(y.clamp(0, 1).expand(-1, 3, -1, -1))
