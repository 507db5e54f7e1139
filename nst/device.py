"""Where a run computes, decided in exactly one place.

``resolve_device("auto")`` is CUDA when a GPU is present, else the CPU. ``resolve_precision("auto")``
is bfloat16 autocast for the convolutions where bfloat16 is faster than float32, float32 elsewhere.
Gram matrices and losses always stay float32. On CUDA that is every card with bf16 support. On a CPU,
oneDNN's report of native bfloat16 (AVX-512 BF16 or AMX) is necessary but not enough: some CPUs that
report it run a VGG-19 pass slower in bfloat16 (a virtualised Intel Xeon with AVX-512 BF16 and no AMX:
0.52 s against 0.32 s at 256 px). So where oneDNN reports it, the two are timed once per process on a
VGG-19's first two blocks (``cpu_bf16_speedup``: a 96 px image, forward and backward to the input,
the best of ``SPEEDUP_REPEATS``; a few tenths of a second), and bfloat16 is taken when it is at least
``BF16_MIN_SPEEDUP`` times as fast.

The environment variable ``NST_PRECISION`` (``fp32`` | ``bf16`` | ``auto``) decides what ``"auto"``
means on this host, for the engine, the command line and the app alike: ``fp32`` keeps a host with
native bfloat16 on float32, ``bf16`` runs bfloat16 autocast even where it is emulated (slower, the same
numerics). A precision asked for by name (``"fp32"`` or ``"bf16"``) is never overridden.
"""

from __future__ import annotations

import functools
import os
import time

import torch

from .config import PRECISIONS

DEVICES = ("auto", "cpu", "cuda")
PRECISION_ENV = "NST_PRECISION"
BF16_MIN_SPEEDUP = 1.1   # bfloat16 must be this much faster than float32 to be chosen on a CPU
SPEEDUP_REPEATS = 3      # timed passes per precision, after one warm-up; the fastest counts


def resolve_device(spec: str | torch.device = "auto") -> torch.device:
    """``"auto"`` -> ``cuda`` if available else ``cpu``; ``"cuda"`` without a GPU is an error."""
    if isinstance(spec, torch.device):
        return spec
    if spec == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if spec.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError("device 'cuda' was asked for but no CUDA GPU is available; use --device cpu or auto")
    try:
        return torch.device(spec)
    except RuntimeError:
        raise ValueError(f"unknown device {spec!r}; use one of {', '.join(DEVICES)}") from None


def bf16_is_native(device: torch.device) -> bool:
    """Whether ``device`` runs bfloat16 convolutions natively and, on a CPU, measurably faster than float32."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    if device.type == "cpu":
        try:
            reported = bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
        except (AttributeError, RuntimeError):
            return False
        return reported and cpu_bf16_speedup() >= BF16_MIN_SPEEDUP
    return False


def _vgg_blocks_seconds(dtype: torch.dtype, side: int = 96, repeats: int = SPEEDUP_REPEATS) -> float:
    """Seconds of the fastest of ``repeats`` passes, forward and backward to the input as a step makes
    them, of VGG-19's first two blocks (conv1_1 ... relu2_2, random fixed weights) over a
    ``side`` x ``side`` image on the CPU, the convolutions in ``dtype`` (after a warm-up)."""
    generator = torch.Generator().manual_seed(0)
    widths = [(3, 64), (64, 64), (64, 128), (128, 128)]
    weights = [torch.randn(out, into, 3, 3, generator=generator) * (2 / (9 * into)) ** 0.5 for into, out in widths]
    image = torch.rand(1, 3, side, side, generator=generator)
    best = float("inf")
    for attempt in range(repeats + 1):
        start = time.perf_counter()
        x = image.clone().requires_grad_(True)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=dtype == torch.bfloat16):
            y = x
            for i, weight in enumerate(weights):
                y = torch.relu(torch.nn.functional.conv2d(y, weight, padding=1))
                if i == 1:
                    y = torch.nn.functional.max_pool2d(y, 2)
        y.float().square().mean().backward()
        if attempt:
            best = min(best, time.perf_counter() - start)
    return best


@functools.cache
def cpu_bf16_speedup() -> float:
    """How many times faster a VGG-19-like convolution runs in bfloat16 than in float32 on this CPU
    (``t_fp32 / t_bf16``), measured once per process."""
    with torch.enable_grad():
        return _vgg_blocks_seconds(torch.float32) / _vgg_blocks_seconds(torch.bfloat16)


def auto_precision() -> str:
    """What ``"auto"`` stands for here: ``NST_PRECISION`` when it is set, else ``"auto"`` (the hardware decides)."""
    value = os.environ.get(PRECISION_ENV, "").strip().lower()
    if value in ("", "auto"):
        return "auto"
    if value not in PRECISIONS:
        raise ValueError(f"{PRECISION_ENV} must be auto, fp32 or bf16, got {value!r}; unset it or pick one of those")
    return value


def resolve_precision(spec: str, device: torch.device) -> torch.dtype:
    """``"fp32"`` / ``"bf16"`` / ``"auto"`` -> the dtype the convolutions run in (``"auto"`` honours
    ``NST_PRECISION``, then the hardware)."""
    if spec == "auto":
        spec = auto_precision()
    if spec == "fp32":
        return torch.float32
    if spec == "bf16":
        return torch.bfloat16
    if spec == "auto":
        return torch.bfloat16 if bf16_is_native(device) else torch.float32
    raise ValueError(f"precision must be auto, fp32 or bf16, got {spec!r}")
