"""The layer explorer: what each VGG-19 layer keeps of an image (Gatys, Ecker & Bethge 2016, Fig. 1),
and how the content/style balance plays out.

* Content reconstructions: from noise, match the content at a single layer ``l`` only,
  ``L(x) = alpha ||F_l(x) - P_l||^2 / ||P_l||^2`` (plus TV), for ``l`` = relu1_2 … relu5_2 (the
  paper's conv1_2 … conv5_2; see ``nst.features`` on the names). Low layers give the photo back
  nearly exactly; high ones keep the arrangement of objects but not the exact pixels.
* Style reconstructions: from noise, match the style's Gram matrices on growing sets of layers,
  relu1_1; relu1_1 + relu2_1; … up to relu5_1. More layers capture the style at larger scales.
* Trade-off: full transfers with one style weight ``beta`` each (content weight ``alpha`` fixed);
  the larger ``beta / alpha``, the more style and the less content.

Each study is a ``nst.sweep.Sweep`` (iterate for progress, ``results()``, ``grid()`` for a labelled
sheet).
"""

from __future__ import annotations

from typing import Sequence

import torch
from PIL import Image

from .config import TransferConfig
from .features import STYLE_LAYERS, VGG19Features, check_layer_names
from .sweep import Job, Sweep

CONTENT_STUDY_LAYERS: tuple[str, ...] = ("relu1_2", "relu2_2", "relu3_2", "relu4_2", "relu5_2")
STYLE_STUDY_LAYERS: tuple[str, ...] = STYLE_LAYERS


def content_reconstructions(model: VGG19Features, content: Image.Image, config: TransferConfig = TransferConfig(),
                            layers: Sequence[str] = CONTENT_STUDY_LAYERS,
                            device: str | torch.device = "auto") -> Sweep:
    """One reconstruction of ``content`` from noise per layer in ``layers``, content loss only."""
    layers = _layers(layers, "content layers")
    base = config.replace(content_weight=config.content_weight or 1.0, style_weight=0.0, init="noise",
                          content_layer_weights=None, style_blend_weights=None, style_scales=None,
                          preserve_color="off")
    jobs = [Job(layer, content, (), base.replace(content_layers=(layer,))) for layer in layers]
    return Sweep(model, jobs, device=device)


def style_reconstructions(model: VGG19Features, style: Image.Image, config: TransferConfig = TransferConfig(),
                          layers: Sequence[str] = STYLE_STUDY_LAYERS, shape: tuple[int, int] | None = None,
                          device: str | torch.device = "auto") -> Sweep:
    """Textures of ``style`` from noise matching the Gram matrices of ``layers[:1]``, ``layers[:2]``, …

    ``shape = (h, w)`` sets the output's aspect ratio (e.g. the content's), else the style's.
    """
    layers = _layers(layers, "style layers")
    base = config.replace(content_weight=0.0, style_weight=config.style_weight or TransferConfig().style_weight,
                          init="noise", style_layer_weights=None, style_blend_weights=None, style_scales=None,
                          preserve_color="off")
    jobs = []
    for k in range(1, len(layers) + 1):
        subset = layers[:k]
        label = subset[0] if k == 1 else f"{subset[0]} … {subset[-1]}"
        jobs.append(Job(label, None, (style,), base.replace(style_layers=subset), content_size=shape, value=k))
    return Sweep(model, jobs, device=device)


def tradeoff(model: VGG19Features, content: Image.Image, style: Image.Image, style_weights: Sequence[float],
             config: TransferConfig = TransferConfig(), device: str | torch.device = "auto") -> Sweep:
    """One transfer per style weight ``beta`` in ``style_weights`` (everything else from ``config``)."""
    if not style_weights:
        raise ValueError("give at least one style weight")
    base = config.replace(style_blend_weights=None, style_scales=None)
    jobs = [Job(f"beta = {beta:g}", content, (style,), base.replace(style_weight=float(beta)), value=float(beta))
            for beta in style_weights]
    return Sweep(model, jobs, device=device)


def _layers(layers: Sequence[str], what: str) -> tuple[str, ...]:
    layers = tuple(layers)
    if not layers:
        raise ValueError(f"give at least one of the {what}")
    check_layer_names(layers, what=what)
    return layers
