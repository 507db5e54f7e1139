"""The loss terms of Gatys, Ecker & Bethge, as pure tensor functions.

Notation: ``F`` is a layer's feature map of the image being optimised, reshaped to ``[N, M]``
(``N`` channels, ``M = H * W`` positions); ``P`` the content image's at the same layer; ``G`` and ``A``
the Gram matrices of the image and of the style.

Where this departs from the paper, and why:

* Gram matrices are divided by ``M`` (``G = F F^T / M``), so they do not grow with image size.
* Content and style errors are *relative*: the squared error divided by the target's squared norm,
  ``||F - P||^2 / ||P||^2`` and ``||G - A||^2 / ||A||^2``. The paper's ``1 / (4 N^2 M^2)`` factor keeps
  per-layer terms comparable for one network and one image size; the relative form does that for any
  image size *and* any weight source (Caffe's 0-255 inputs give features ~50x larger than
  torchvision's, which would otherwise shift the content/style balance by ~2500x). Good weights stay
  good across sizes and sources. It is the paper's loss times a constant per layer, so the optimum
  for given weights is unchanged up to that per-layer rescaling.
* Total variation is a mean over pixels rather than a sum, for the same size independence.

All losses are computed in float32 even when features come from a bfloat16 autocast region.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import torch

_EPS = 1e-8


def gram_matrix(features: torch.Tensor) -> torch.Tensor:
    """Gram matrix of a feature map ``[B, N, H, W]``: ``G = F F^T / M`` with ``M = H * W``; shape ``[B, N, N]``."""
    b, n, h, w = features.shape
    f = features.reshape(b, n, h * w).float()
    return torch.bmm(f, f.transpose(1, 2)) / (h * w)


def relative_squared_error(x: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """``||x - target||^2 / ||target||^2``, in float32, summed over everything (batch included)."""
    x = x.float()
    target = target.float()
    return (x - target).pow(2).sum() / (target.pow(2).sum() + _EPS)


def content_loss(features: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Content loss at one layer: ``L_content = ||F - P||^2 / ||P||^2`` (the paper's ``1/2 sum (F - P)^2``, relative)."""
    return relative_squared_error(features, target)


def style_loss(features: torch.Tensor, target_gram: torch.Tensor) -> torch.Tensor:
    """Style loss at one layer: ``E_l = ||G - A||^2 / ||A||^2`` with ``G = gram_matrix(features)``.

    The paper's ``E_l = 1 / (4 N^2 M^2) sum (G - A)^2``, relative to the target (see the module notes).
    """
    return relative_squared_error(gram_matrix(features), target_gram)


def total_variation(image: torch.Tensor, kind: str = "isotropic", eps: float = 1e-8) -> torch.Tensor:
    """Total variation of ``[B, C, H, W]`` images, averaged over pixels (and summed over channels).

    With forward differences ``dx = x[i, j+1] - x[i, j]`` and ``dy = x[i+1, j] - x[i, j]`` over the
    ``(H-1) x (W-1)`` pixels that have both:

    * ``"isotropic"``: ``mean sqrt(dx^2 + dy^2 + eps)`` (Rudin-Osher-Fatemi; ``eps`` keeps the gradient finite at 0);
    * ``"squared"``:   ``mean (dx^2 + dy^2)`` (Mahendran & Vedaldi's beta = 2 form, smoother, cheaper).
    """
    dx = image[..., :-1, 1:] - image[..., :-1, :-1]
    dy = image[..., 1:, :-1] - image[..., :-1, :-1]
    squared = dx.float().pow(2) + dy.float().pow(2)
    if kind == "isotropic":
        per_pixel = torch.sqrt(squared + eps)
    elif kind == "squared":
        per_pixel = squared
    else:
        raise ValueError(f"tv kind must be 'isotropic' or 'squared', got {kind!r}")
    return per_pixel.sum(dim=-3).mean()


def weighted_sum(terms: Mapping[str, torch.Tensor], weights: Sequence[float] | None, layers: Sequence[str]) -> torch.Tensor:
    """``sum_l w_l * terms[l]`` with weights normalised to sum to one (equal when ``weights`` is None)."""
    if weights is None:
        weights = [1.0] * len(layers)
    largest = max(weights, default=1.0) or 1.0
    weights = [w / largest for w in weights]  # scaled to at most 1 first: the sum of huge weights would be inf
    total = float(sum(weights))
    return sum(w / total * terms[layer] for w, layer in zip(weights, layers))
