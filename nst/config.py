"""Settings of one style-transfer run, as a frozen dataclass with each setting described once.

Every field is declared with ``setting(...)`` (``nst.settings``): its default, a one-sentence help,
the app's label, the command-line flag, its kind, inclusive bounds, choices, the app's slider and its
role (look, budget or machine). ``SPEC`` maps each field name, in field order, to that ``Setting``;
the command line and the app build their options and controls from it, and the check of a single
value (kind, bounds, choices) is derived from it. Rules between fields are written out in ``_check``.

The processed sizes are capped too: ``size`` is the output's longest side, and style ``i`` is processed
at ``round(size * style_scale * style_scales[i])`` px (``style_sides``); a config whose style would be
processed over ``MAX_SIZE`` is refused. ``largest_side`` is the largest side any image of a run is
processed at, the one number a host compares with its own cap.

``TransferConfig.from_dict`` is the one way settings come in from outside (a preset, PNG metadata, a
web form): it rejects unknown keys and values out of range with a message that says what is allowed.
One rule for presets everywhere: a preset's settings are the base, what the user sets overrides them.

Names follow Gatys, Ecker & Bethge (2016): the total loss is
``alpha * L_content + beta * L_style + gamma * L_tv``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Mapping

from .features import CONTENT_LAYERS, STYLE_LAYERS
from .settings import Setting, setting, shown

OPTIMIZERS = ("lbfgs", "adam")
POOLINGS = ("max", "avg")
INITS = ("content", "style", "noise", "image")
TV_KINDS = ("isotropic", "squared")
PRECISIONS = ("auto", "fp32", "bf16")
PRESERVE_COLORS = ("off", "luminance", "yuv", "ycrcb", "lab", "luv", "histogram")
MAX_SIZE = 8192
MAX_STEPS = 100_000
MIN_MEMORY = 256 * 2**20   # max_memory below this cannot hold the network and the runtime
MIN_TILE = 32              # tile_size: at least two strides of relu5_1


@dataclass(frozen=True)
class TransferConfig:
    """Everything that decides the result of one run (the images aside)."""

    size: int = setting(
        512, help="Longest side of the output, in pixels.", label="Size (px)", flag="--size",
        kind="int", low=16, high=MAX_SIZE, ui=(64, 2048, 16), role="budget")
    steps: int = setting(
        200, help="Optimiser steps in all, shared out over the scales.", label="Steps", flag="--steps",
        kind="int", low=0, high=MAX_STEPS, ui=(1, 1000, 1), role="budget")
    content_weight: float = setting(
        1.0, help="alpha: weight of the content loss.", label="Content weight α", flag="--content-weight",
        kind="float", low=0.0, ui=(0.0, 10.0, 0.1), role="look")
    style_weight: float = setting(
        5.0, help="beta: weight of the style loss.", label="Style weight β", flag="--style-weight",
        kind="float", low=0.0, ui=(0.0, 100.0, 0.5), role="look")
    tv_weight: float = setting(
        1.0, help="gamma: weight of the total-variation loss, which smooths the result.",
        label="Smoothness (TV) weight γ", flag="--tv-weight", kind="float", low=0.0, ui=(0.0, 10.0, 0.1),
        role="look")
    tv_kind: str = setting(
        "isotropic", help="Total variation as isotropic, sum sqrt(dx^2 + dy^2), or squared, sum dx^2 + dy^2.",
        label="Total variation", flag="--tv-kind", kind="choice", choices=TV_KINDS, role="look")
    content_layers: tuple[str, ...] = setting(
        CONTENT_LAYERS, help="VGG-19 layers where the content is matched.", label="Content layers",
        flag="--content-layers", kind="layers", role="look")
    style_layers: tuple[str, ...] = setting(
        STYLE_LAYERS, help="VGG-19 layers whose Gram matrices are matched to the style's.", label="Style layers",
        flag="--style-layers", kind="layers", role="look")
    content_layer_weights: tuple[float, ...] | None = setting(
        None, help="One weight per content layer (none given: equal).", label="Content layer weights",
        flag="--content-layer-weights", kind="numbers", low=0.0, role="look")
    style_layer_weights: tuple[float, ...] | None = setting(
        None, help="One weight per style layer (none given: equal).", label="Style layer weights",
        flag="--style-layer-weights", kind="numbers", low=0.0, role="look")
    min_gram_positions: float = setting(
        1.0, help="A style layer is matched at a scale only where its Gram matrix averages over at least this "
                  "many positions per channel (H*W >= this * C); fewer pin the painting's layout, so its objects "
                  "get copied (0: every style layer at every scale, as texture synthesis always does).",
        label="Gram positions per channel", flag="--min-gram-positions", kind="float", low=0.0, high=64.0,
        role="look")
    style_blend_weights: tuple[float, ...] | None = setting(
        None, help="One weight per style image, how much of each style (none given: equal).",
        label="Style blend weights", flag="--style-blend-weights", kind="numbers", low=0.0, role="look")
    style_scale: float = setting(
        1.0, help="The style image's longest side relative to the content's.", label="Style scale",
        flag="--style-scale", kind="float", low=0.05, high=8.0, ui=(0.25, 4.0, 0.05), role="look")
    style_scales: tuple[float, ...] | None = setting(
        None, help="One per style image, multiplying the style scale (none given: all 1).", label="Style scales",
        flag="--style-scales", kind="numbers", low=0.05, high=8.0, role="look")
    optimizer: str = setting(
        "lbfgs", help="The optimiser: L-BFGS (Gatys et al.) or Adam.", label="Optimiser", flag="--optimizer",
        kind="choice", choices=OPTIMIZERS, role="look")
    lr: float | None = setting(
        None, help="Step size, pixels being in [0, 1] (none given: 1 for L-BFGS, 0.02 for Adam).",
        label="Learning rate", flag="--lr", kind="optional_float", low=1e-8, high=1e3, role="look")
    init: str = setting(
        "content", help="Where the optimisation starts: the content, the style, seeded noise, or an init image.",
        label="Start from", flag="--init", kind="choice", choices=INITS, role="look")
    pooling: str = setting(
        "max", help="VGG-19's pooling: max, or avg (the paper's choice for synthesis).", label="Pooling",
        flag="--pooling", kind="choice", choices=POOLINGS, role="look")
    scales: int = setting(
        3, help="Coarse-to-fine levels, each twice the size of the one before (1: off).", label="Scales",
        flag="--scales", kind="int", low=1, high=8, ui=(1, 4, 1), role="budget")
    min_scale_size: int = setting(
        64, help="The coarsest level's longest side is at least this, in pixels.", label="Smallest scale (px)",
        flag="--min-scale-size", kind="int", low=16, high=MAX_SIZE, role="budget")
    early_stop_tol: float = setting(
        0.0, help="Stop a scale when the loss improved by less than this fraction over the early-stop patience "
                  "(0: never stop early).",
        label="Early-stop tolerance", flag="--early-stop", kind="float", low=0.0, high=1.0, role="budget")
    early_stop_patience: int = setting(
        20, help="Steps over which early stopping measures the loss's improvement.", label="Early-stop patience",
        flag="--early-stop-patience", kind="int", low=1, high=MAX_STEPS, role="budget")
    seed: int = setting(
        0, help="Seeds the noise start, so runs repeat exactly.", label="Seed", flag="--seed",
        kind="int", low=0, high=2**63 - 1, ui=(0, 9999, 1), role="look")
    precision: str = setting(
        "auto", help="fp32; bf16: convolutions in bfloat16, Grams and losses in float32; auto: bf16 where the "
                     "device runs it natively.",
        label="Precision", flag="--precision", kind="choice", choices=PRECISIONS, role="machine")
    preview_every: int = setting(
        10, help="A preview image every this many steps (0: only the last).", label="Preview every (steps)",
        flag=None, kind="int", low=0, high=MAX_STEPS, role="machine")
    preserve_color: str = setting(
        "off", help="Keep the content's colours: luminance (optimise luminance only), yuv, ycrcb, lab or luv "
                    "(a colour swap after optimising), histogram (style colours matched to the content's first).",
        label="Keep the photo's colours", flag="--preserve-color", kind="choice", choices=PRESERVE_COLORS,
        role="look")
    color_amount: float = setting(
        1.0, help="How much of the content's colour to keep: 1 the content's, 0 the stylised ones.",
        label="Colour amount", flag="--color-amount", kind="float", low=0.0, high=1.0, ui=(0.0, 1.0, 0.05),
        role="look")
    photo_smoothing: int = setting(
        0, help="Photorealistic mode: radius in pixels, at the output size, of the smoothing that puts the "
                "photo's edges back (Li et al. 2018; 0: off).",
        label="Photo smoothing (px)", flag="--photo-smoothing", kind="int", low=0, high=1024, ui=(0, 16, 1),
        role="look")
    max_memory: int = setting(
        0, help="Bytes the run may use at its peak, 1 GB = 2^30 (0: the device's free memory); scales that "
                "would not fit whole are optimised in tiles.",
        label="Memory limit (bytes)", flag="--max-memory", kind="int", low=0, high=2**62, role="machine")
    tile_size: int = setting(
        0, help="Tile side in pixels for scales larger than it (0: tiles only where memory needs them).",
        label="Tile size (px)", flag="--tile", kind="int", low=0, high=MAX_SIZE, role="machine")

    def __post_init__(self) -> None:
        _check(self)

    @property
    def learning_rate(self) -> float:
        """The step size actually used."""
        if self.lr is not None:
            return self.lr
        return 1.0 if self.optimizer == "lbfgs" else 0.02

    def style_sides(self, n_styles: int | None = None) -> tuple[int, ...]:
        """The longest side of each style image as processed at the finest scale:
        ``round(size * style_scale * style_scales[i])`` for ``n_styles`` styles (default: one per
        ``style_scales`` value, else one). ``StyleTransfer`` may take a style larger still when its short
        side would otherwise fall under the network's smallest (that depends on the image's shape)."""
        count = len(self.style_scales) if self.style_scales is not None else (1 if n_styles is None else n_styles)
        scales = self.style_scales if self.style_scales is not None else (1.0,) * count
        return tuple(round(self.size * self.style_scale * scale) for scale in scales)

    def largest_side(self, n_styles: int | None = None) -> int:
        """The largest side, in pixels, any image of a run with ``n_styles`` style images is processed at:
        the output's (``size``; a texture of ``WIDTHxHEIGHT`` has ``size = max(WIDTH, HEIGHT)``) or a
        style's (``style_sides``). A host compares it with its own cap."""
        return max((self.size, *self.style_sides(n_styles)))

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready values (tuples become lists)."""
        out = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            out[f.name] = list(value) if isinstance(value, tuple) else value
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "TransferConfig":
        """Build from outside data; unknown keys and bad values raise ``ValueError``."""
        if not isinstance(data, Mapping):
            raise ValueError(f"settings must be a mapping of names to values, not {type(data).__name__}")
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(key if isinstance(key, str) and key.isidentifier() and len(key) <= 60 else shown(key)
                         for key in set(data) - names)
        if unknown:
            raise ValueError(f"unknown setting(s) {', '.join(unknown)}; known settings: {', '.join(sorted(names))}")
        values = {}
        for key, value in data.items():
            if isinstance(value, list):
                value = tuple(value)
            values[key] = value
        return cls(**values)

    def replace(self, **changes: Any) -> "TransferConfig":
        """A copy with some fields changed (checked like any other)."""
        return dataclasses.replace(self, **changes)


SPEC: dict[str, Setting] = {
    f.name: dataclasses.replace(f.metadata["setting"], name=f.name) for f in dataclasses.fields(TransferConfig)
}


def _check(c: TransferConfig) -> None:
    """Each field on its own (``SPEC``), then the rules between fields."""
    for name, described in SPEC.items():
        described.validate(getattr(c, name))
    if c.content_weight == 0 and c.style_weight == 0:
        raise ValueError("content_weight and style_weight are both zero: nothing to optimise; raise one of them")
    if not c.content_layers and c.content_weight > 0:
        raise ValueError("content_layers is empty: give at least one layer, or set content_weight to 0")
    if not c.style_layers and c.style_weight > 0:
        raise ValueError("style_layers is empty: give at least one layer, or set style_weight to 0")
    _weights("content_layer_weights", c.content_layer_weights, len(c.content_layers))
    _weights("style_layer_weights", c.style_layer_weights, len(c.style_layers))
    _weights("style_blend_weights", c.style_blend_weights, None)
    if c.style_scales == ():
        raise ValueError("style_scales must be a list of numbers, one per style image, got ()")
    style = max(c.style_sides(), default=0)
    if style > MAX_SIZE:
        factor = f"style_scale {c.style_scale:g}" + (f" times style_scales up to {max(c.style_scales):g}"
                                                     if c.style_scales else "")
        raise ValueError(f"{factor} at size {c.size} would process a style image at {style} px, over the limit "
                         f"of {MAX_SIZE} px: lower style_scale{', style_scales' if c.style_scales else ''} or size")
    if 0 < c.max_memory < MIN_MEMORY:
        raise ValueError(f"max_memory must be 0 (the device's free memory) or at least {MIN_MEMORY // 2**20} MB, "
                         f"got {c.max_memory} bytes")
    if 0 < c.tile_size < MIN_TILE:
        raise ValueError(f"tile_size must be 0 (tiles only where needed) or at least {MIN_TILE} px, got {c.tile_size}")


def _weights(name: str, value: tuple[float, ...] | None, count: int | None) -> None:
    """Weights (each already a number >= 0): ``count`` of them where given, and not all zero."""
    if value is None:
        return
    if count is not None and len(value) != count:
        raise ValueError(f"{name} needs {count} value(s), one per layer, got {len(value)}")
    if sum(value) <= 0:
        raise ValueError(f"{name} must not be all zero")


__all__ = ["INITS", "MAX_SIZE", "MAX_STEPS", "MIN_MEMORY", "MIN_TILE", "OPTIMIZERS", "POOLINGS", "PRECISIONS",
           "PRESERVE_COLORS", "SPEC", "TV_KINDS", "Setting", "TransferConfig", "setting"]
