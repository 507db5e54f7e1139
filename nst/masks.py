"""Spatial control of style (Gatys, Ecker, Bethge, Hertzmann & Shechtman 2017, "Controlling perceptual
factors in neural style transfer"): masks say where each style goes.

A mask is a soft map ``m`` in [0, 1]: over the output image it marks the region a style paints
("style mask"); over a style image it marks the part of the painting whose texture is used ("style
image mask"). Masks arrive as images of any size and mode: the alpha channel when the image has
transparency, otherwise its grey levels (white = 1, black = 0).

A mask follows the network down: each time VGG-19 pools (2x2, stride 2), the mask is average-pooled
the same way, so at layer ``l`` the mask ``m_l`` has exactly the feature map's ``H x W`` and a soft
edge blends like the receptive fields do. With ``F_l`` the ``[N, M]`` feature map, the guided Gram
matrix of the masked region is

    G_l[m] = (F_l * m_l)(F_l * m_l)^T / sum(m_l)

(``*`` broadcast over channels); with ``m = 1`` everywhere it is the plain ``G = F F^T / M``.
"""

from __future__ import annotations

import os
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from .features import LAYER_INDEX, LAYER_NAMES
from .image import ImageError, open_image, to_rgb

_EPS = 1e-8


def mask_to_tensor(source, name: str = "mask") -> torch.Tensor:
    """A mask (a PIL image, a path or an ``HxW[xC]`` array) as a float ``[1, 1, H, W]`` tensor in [0, 1].

    The alpha channel is used when the image has any transparency, else the grey levels. A mask that
    is zero everywhere raises ``ValueError``: it would give its style nowhere to go.
    """
    image = open_mask(source, name)
    if "A" in image.getbands() or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA") if image.mode == "P" else image
        alpha = rgba.getchannel("A")
        if alpha.getextrema()[0] < 255:
            return _check_not_empty(_grey_to_tensor(alpha), name)
    return _check_not_empty(_grey_to_tensor(to_rgb(image).convert("L")), name)


def open_mask(source, name: str = "mask") -> Image.Image:
    """A mask given as a PIL image, a path, bytes or an array, as a PIL image; ``ValueError`` (an ``ImageError``
    for a file) naming ``name`` if unusable."""
    if isinstance(source, Image.Image):
        return source
    if isinstance(source, np.ndarray):
        array = source
        if array.dtype != np.uint8:
            array = np.clip(array.astype(np.float64) * (255.0 if array.max() <= 1 else 1.0), 0, 255).astype(np.uint8)
        if array.ndim == 3 and array.shape[2] == 1:
            array = array[..., 0]
        if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (3, 4)):
            raise ValueError(f"{name}: a mask array must be HxW, HxWx3 or HxWx4, got shape {source.shape}")
        return Image.fromarray(array)
    if isinstance(source, (str, os.PathLike, bytes, bytearray)):
        try:  # checked like any image: size before decoding, first frame, EXIF orientation
            return open_image(source)
        except ImageError as exc:
            raise ImageError(f"{name} {exc}") from None
    raise ValueError(f"{name} must be an image, got {type(source).__name__}")


def _grey_to_tensor(grey: Image.Image) -> torch.Tensor:
    array = np.asarray(grey, dtype=np.float32) / 255.0
    return torch.from_numpy(array.copy()).view(1, 1, *array.shape)


def _check_not_empty(mask: torch.Tensor, name: str) -> torch.Tensor:
    if float(mask.max()) <= 0:
        raise ValueError(f"{name} is black everywhere: paint white where its style should go")
    return mask


def resize_mask(mask: torch.Tensor, shape: tuple[int, int]) -> torch.Tensor:
    """A ``[1, 1, H, W]`` mask resized to ``shape = (H', W')``: area-averaged when shrinking, bilinear when growing."""
    if tuple(mask.shape[-2:]) == tuple(shape):
        return mask
    shrinking = shape[0] * shape[1] < mask.shape[-2] * mask.shape[-1]
    mode = "area" if shrinking else "bilinear"
    options = {} if shrinking else {"align_corners": False}
    return F.interpolate(mask, size=tuple(shape), mode=mode, **options).clamp(0, 1)


def pools_before(layer: str) -> int:
    """How many pooling layers VGG-19 applies before (and including) ``layer``."""
    return sum(name.startswith("pool") for name in LAYER_NAMES[: LAYER_INDEX[layer] + 1])


def layer_masks(mask: torch.Tensor, layers: Sequence[str]) -> dict[str, torch.Tensor]:
    """The mask at each layer's resolution: average-pooled 2x2 (stride 2) wherever VGG-19 pools."""
    out = {}
    pooled, done = mask, 0
    for layer in sorted(layers, key=LAYER_INDEX.__getitem__):
        for _ in range(pools_before(layer) - done):
            pooled = F.avg_pool2d(pooled, kernel_size=2, stride=2)
        done = pools_before(layer)
        out[layer] = pooled
    return out


def guided_gram(features: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``G[m] = (F * m)(F * m)^T / sum(m)`` for features ``[B, N, H, W]`` and a mask ``[1, 1, H, W]``."""
    b, n, h, w = features.shape
    f = (features.float() * mask).reshape(b, n, h * w)
    return torch.bmm(f, f.transpose(1, 2)) / mask.sum().clamp_min(_EPS)


def cover_rest(masks: Sequence[torch.Tensor | None], default: int) -> list[torch.Tensor | None]:
    """Give the area no mask covers to style ``default``: ``m_d' = min(1, m_d + max(0, 1 - sum_i m_i))``.

    All masks share one shape; ``None`` (a style everywhere) leaves nothing uncovered.
    """
    if any(m is None for m in masks):
        return list(masks)
    uncovered = (1 - torch.stack(list(masks)).sum(dim=0)).clamp_min(0)
    out = list(masks)
    out[default] = (out[default] + uncovered).clamp(0, 1)
    return out
