"""Where a run computes, decided in exactly one place.

``resolve_device("auto")`` is CUDA when a GPU is present, else the CPU. ``resolve_precision("auto")``
is bfloat16 autocast for the convolutions where the hardware does bfloat16 natively (CUDA cards
with bf16 support, CPUs with AVX-512 BF16 or AMX), float32 elsewhere: emulated bfloat16 is slower
than float32. Gram matrices and losses always stay float32.

The environment variable ``NST_PRECISION`` (``fp32`` | ``bf16`` | ``auto``) decides what ``"auto"``
means on this host, for the engine, the command line and the app alike: ``fp32`` keeps a host with
native bfloat16 on float32, ``bf16`` runs bfloat16 autocast even where it is emulated (slower, the same
numerics). A precision asked for by name (``"fp32"`` or ``"bf16"``) is never overridden.
"""

from __future__ import annotations

import os

import torch

from .config import PRECISIONS

DEVICES = ("auto", "cpu", "cuda")
PRECISION_ENV = "NST_PRECISION"


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
    """Whether ``device`` runs bfloat16 convolutions faster than float32."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    if device.type == "cpu":
        try:
            return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
        except (AttributeError, RuntimeError):
            return False
    return False


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
