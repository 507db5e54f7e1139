"""Settings of one style-transfer run, as a frozen dataclass with its defaults written once.

Every field has a comment saying what it means; the command line, the app and presets read their
defaults from here. ``TransferConfig.from_dict`` is the one way settings come in from outside (a
preset, PNG metadata, a web form): it rejects unknown keys and values out of range with a message
that says what is allowed.

Names follow Gatys, Ecker & Bethge (2016): the total loss is
``alpha * L_content + beta * L_style + gamma * L_tv``.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, Mapping

from .features import CONTENT_LAYERS, STYLE_LAYERS, check_layer_names

OPTIMIZERS = ("lbfgs", "adam")
POOLINGS = ("max", "avg")
INITS = ("content", "style", "noise", "image")
TV_KINDS = ("isotropic", "squared")
PRECISIONS = ("auto", "fp32", "bf16")
PRESERVE_COLORS = ("off", "luminance", "yuv", "ycrcb", "lab", "luv", "histogram")
MAX_SIZE = 8192
MIN_MEMORY = 256 * 2**20   # max_memory below this cannot hold the network and the runtime
MIN_TILE = 32              # tile_size: at least two strides of relu5_1


@dataclass(frozen=True)
class TransferConfig:
    """Everything that decides the result of one run (the images aside)."""

    size: int = 512                       # longest side of the output, in pixels
    steps: int = 200                      # optimiser steps in all, shared out over the scales
    content_weight: float = 1.0           # alpha: weight of the content loss
    style_weight: float = 20.0            # beta: weight of the style loss
    tv_weight: float = 1.0                # gamma: weight of the total-variation loss
    tv_kind: str = "isotropic"            # "isotropic": sum sqrt(dx^2+dy^2); "squared": sum dx^2+dy^2
    content_layers: tuple[str, ...] = CONTENT_LAYERS   # where content is matched
    style_layers: tuple[str, ...] = STYLE_LAYERS       # where Gram matrices are matched
    content_layer_weights: tuple[float, ...] | None = None  # one per content layer; None: equal
    style_layer_weights: tuple[float, ...] | None = None    # one per style layer; None: equal
    style_blend_weights: tuple[float, ...] | None = None    # one per style image; None: equal
    style_scale: float = 1.0              # style image's longest side relative to the content's
    style_scales: tuple[float, ...] | None = None  # one per style image, multiplying style_scale; None: all 1
    optimizer: str = "lbfgs"              # "lbfgs" (Gatys et al.) or "adam"
    lr: float | None = None               # step size; None: 1.0 for L-BFGS, 0.02 for Adam (pixels in [0,1])
    init: str = "content"                 # "content", "style", "noise", or "image" (an init image is given)
    pooling: str = "max"                  # "max", or "avg" (the paper's choice for synthesis)
    scales: int = 3                       # coarse-to-fine levels, each twice the size of the one before (1: off)
    min_scale_size: int = 64              # the coarsest level's longest side is at least this
    early_stop_tol: float = 0.0           # stop a scale when the loss improved by less than this fraction ...
    early_stop_patience: int = 20         # ... over this many steps (tol 0 turns early stopping off)
    seed: int = 0                         # seeds noise init, so CPU runs repeat exactly
    precision: str = "auto"               # "fp32"; "bf16": convolutions in bfloat16 autocast (Grams, losses
                                          # float32); "auto": bf16 where the device runs it natively (nst.device)
    preview_every: int = 10               # a preview image every this many steps (0: none but the last)
    preserve_color: str = "off"           # keep the content's colours: "off", "luminance" (optimise luminance
                                          # only), "yuv"/"ycrcb"/"lab"/"luv" (colour swap after optimising),
                                          # "histogram" (style colours matched to the content's beforehand)
    color_amount: float = 1.0             # how much of the content's colour to keep: 0 stylised, 1 content
    photo_smoothing: int = 0              # photorealistic mode: radius in pixels (at the output size) of the
                                          # smoothing that puts the photo's edges back (Li et al. 2018); 0: off
    max_memory: int = 0                   # bytes the run may use at its peak (1 GB = 2^30); 0: the device's free
                                          # memory. Scales that would not fit whole are optimised in tiles
    tile_size: int = 0                    # tile side in pixels for scales larger than it; 0: only where needed

    def __post_init__(self) -> None:
        _check(self)

    @property
    def learning_rate(self) -> float:
        """The step size actually used."""
        if self.lr is not None:
            return self.lr
        return 1.0 if self.optimizer == "lbfgs" else 0.02

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
        unknown = sorted(key if isinstance(key, str) and key.isidentifier() and len(key) <= 60 else _shown(key)
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


def _shown(value: Any, limit: int = 60) -> str:
    """``repr(value)`` cut to ``limit`` characters for a message (an integer too long to print is described)."""
    if isinstance(value, int) and value.bit_length() > 200:
        return f"an integer of about {int(value.bit_length() * math.log10(2)) + 1} digits"
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _number(name: str, value: Any, low: float, high: float = math.inf, *, integer: bool = False) -> None:
    kind = int if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kind):
        raise ValueError(f"{name} must be {'an integer' if integer else 'a number'}, got {_shown(value)}")
    if (isinstance(value, float) and not math.isfinite(value)) or not (low <= value <= high):  # ints of any size
        raise ValueError(f"{name} must be between {low} and {high}, got {_shown(value)}")


def _choice(name: str, value: Any, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(choices)}, got {_shown(value)}")


def _weights(name: str, value: Any, count: int | None) -> None:
    if value is None:
        return
    if not isinstance(value, tuple):
        raise ValueError(f"{name} must be a list of numbers, got {_shown(value)}")
    if count is not None and len(value) != count:
        raise ValueError(f"{name} needs {count} value(s), one per layer, got {len(value)}")
    for w in value:
        _number(name, w, 0.0)
    if sum(value) <= 0:
        raise ValueError(f"{name} must not be all zero")


def _check(c: TransferConfig) -> None:
    _number("size", c.size, 16, MAX_SIZE, integer=True)
    _number("steps", c.steps, 0, 100_000, integer=True)
    _number("content_weight", c.content_weight, 0.0)
    _number("style_weight", c.style_weight, 0.0)
    _number("tv_weight", c.tv_weight, 0.0)
    if c.content_weight == 0 and c.style_weight == 0:
        raise ValueError("content_weight and style_weight are both zero: nothing to optimise; raise one of them")
    _choice("tv_kind", c.tv_kind, TV_KINDS)
    for name in ("content_layers", "style_layers"):
        layers = getattr(c, name)
        if not isinstance(layers, tuple) or not all(isinstance(x, str) for x in layers):
            raise ValueError(f"{name} must be a list of layer names, got {_shown(layers)}")
        check_layer_names(layers, what=name)
    if not c.content_layers and c.content_weight > 0:
        raise ValueError("content_layers is empty: give at least one layer, or set content_weight to 0")
    if not c.style_layers and c.style_weight > 0:
        raise ValueError("style_layers is empty: give at least one layer, or set style_weight to 0")
    _weights("content_layer_weights", c.content_layer_weights, len(c.content_layers))
    _weights("style_layer_weights", c.style_layer_weights, len(c.style_layers))
    _weights("style_blend_weights", c.style_blend_weights, None)
    _number("style_scale", c.style_scale, 0.05, 8.0)
    if c.style_scales is not None:
        if not isinstance(c.style_scales, tuple) or not c.style_scales:
            raise ValueError(
                f"style_scales must be a list of numbers, one per style image, got {_shown(c.style_scales)}"
            )
        for scale in c.style_scales:
            _number("style_scales", scale, 0.05, 8.0)
    _choice("optimizer", c.optimizer, OPTIMIZERS)
    if c.lr is not None:
        _number("lr", c.lr, 1e-8, 1e3)
    _choice("init", c.init, INITS)
    _choice("pooling", c.pooling, POOLINGS)
    _number("scales", c.scales, 1, 8, integer=True)
    _number("min_scale_size", c.min_scale_size, 16, MAX_SIZE, integer=True)
    _number("early_stop_tol", c.early_stop_tol, 0.0, 1.0)
    _number("early_stop_patience", c.early_stop_patience, 1, 100_000, integer=True)
    _number("seed", c.seed, 0, 2**63 - 1, integer=True)
    _choice("precision", c.precision, PRECISIONS)
    _number("preview_every", c.preview_every, 0, 100_000, integer=True)
    _choice("preserve_color", c.preserve_color, PRESERVE_COLORS)
    _number("color_amount", c.color_amount, 0.0, 1.0)
    _number("photo_smoothing", c.photo_smoothing, 0, 1024, integer=True)
    _number("max_memory", c.max_memory, 0, 2**62, integer=True)
    if 0 < c.max_memory < MIN_MEMORY:
        raise ValueError(f"max_memory must be 0 (the device's free memory) or at least {MIN_MEMORY // 2**20} MB, "
                         f"got {c.max_memory} bytes")
    _number("tile_size", c.tile_size, 0, MAX_SIZE, integer=True)
    if 0 < c.tile_size < MIN_TILE:
        raise ValueError(f"tile_size must be 0 (tiles only where needed) or at least {MIN_TILE} px, got {c.tile_size}")
