"""How stylised and how faithful an output is: the distances reported by the benchmark and tests.

Both are relative errors on VGG-19 features (post-ReLU), computed the same way for every output,
whichever program made it:

* style distance  ``d_s(x, s) = mean_l ||G_l(x) - G_l(s)||_F / ||G_l(s)||_F`` over relu1_1 … relu5_1
  (the paper's conv1_1 … conv5_1), with Gram matrices ``G = F F^T / M``;
* content distance ``d_c(x, c) = ||F(x) - F(c)||_F / ||F(c)||_F`` at relu4_2 (the paper's conv4_2).

The content image is resized to the output's size; the style image to the output's longest side.
A photo's own style distance ``d_s(c, s)`` is the yardstick for "strongly stylised".

``Distances`` gives both for many images against one content and one style image (the snapshots of
a run), computing the targets once per image size and each image's features in one pass.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from PIL import Image

from .features import CONTENT_LAYERS, STYLE_LAYERS, VGG19Features
from .image import resize_longest, to_tensor
from .losses import gram_matrix


def _relative(x: torch.Tensor, target: torch.Tensor) -> float:
    return float(torch.linalg.norm((x - target).flatten()) / torch.linalg.norm(target.flatten()).clamp_min(1e-12))


@torch.no_grad()
def style_distance(model: VGG19Features, image: Image.Image, style: Image.Image,
                   layers: tuple[str, ...] = STYLE_LAYERS) -> float:
    """Mean relative Gram error of ``image`` against ``style`` over ``layers``."""
    device = next(model.parameters()).device
    x = model(to_tensor(image, device), layers)
    s = model(to_tensor(resize_longest(style, max(image.size)), device), layers)
    return sum(_relative(gram_matrix(x[l]), gram_matrix(s[l])) for l in layers) / len(layers)


@torch.no_grad()
def content_distance(model: VGG19Features, image: Image.Image, content: Image.Image,
                     layers: tuple[str, ...] = CONTENT_LAYERS) -> float:
    """Mean relative feature error of ``image`` against ``content`` (resized to it) over ``layers``."""
    device = next(model.parameters()).device
    x = model(to_tensor(image, device), layers)
    c = model(to_tensor(content.resize(image.size, Image.LANCZOS), device), layers)
    return sum(_relative(x[l], c[l]) for l in layers) / len(layers)


class Scores(NamedTuple):
    """Both distances of one image."""

    style: float
    content: float


class Distances:
    """``style_distance`` and ``content_distance`` of many images against one ``content`` and ``style``.

    The targets (Gram matrices of the style image, features of the content image) are computed once
    per image size and kept; each image then costs one forward pass through the deepest layer.
    Calling it gives the same numbers as the two functions.
    """

    def __init__(self, model: VGG19Features, content: Image.Image, style: Image.Image,
                 style_layers: tuple[str, ...] = STYLE_LAYERS, content_layers: tuple[str, ...] = CONTENT_LAYERS) -> None:
        self.model = model
        self.content = content
        self.style = style
        self.style_layers = style_layers
        self.content_layers = content_layers
        self._targets: dict[tuple[int, int], tuple[dict, dict]] = {}

    @torch.no_grad()
    def _targets_for(self, size: tuple[int, int]) -> tuple[dict, dict]:
        if size not in self._targets:
            device = next(self.model.parameters()).device
            s = self.model(to_tensor(resize_longest(self.style, max(size)), device), self.style_layers)
            c = self.model(to_tensor(self.content.resize(size, Image.LANCZOS), device), self.content_layers)
            self._targets[size] = ({l: gram_matrix(s[l]) for l in self.style_layers}, c)
        return self._targets[size]

    @torch.no_grad()
    def __call__(self, image: Image.Image) -> Scores:
        grams, content = self._targets_for(image.size)
        device = next(self.model.parameters()).device
        x = self.model(to_tensor(image, device), list(dict.fromkeys(self.style_layers + self.content_layers)))
        style = sum(_relative(gram_matrix(x[l]), grams[l]) for l in self.style_layers) / len(self.style_layers)
        kept = sum(_relative(x[l], content[l]) for l in self.content_layers) / len(self.content_layers)
        return Scores(style, kept)
