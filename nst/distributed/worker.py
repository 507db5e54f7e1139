"""What runs on a Ray worker: one image of a batch; the first frame and the chunks of a clip.

What every task of a run shares (the VGG-19 model with its weights, the style images, the settings:
a ``Shared``) is put in Ray's object store once by the driver and reaches the tasks as a reference
in a list, a ``box``, which Ray passes on as it is instead of fetching it for every task. A worker
fetches it on its first task of the run and keeps it (``shared_for``), so the weights are loaded
once per worker process, whatever the number of images, and they come from the driver: a node
needs neither the Hub nor the driver's files. (A new run's ``Shared`` replaces the one kept.)

``style_image`` is one image as ``nst batch`` does it on one machine: decoded from the file's
bytes, styled by a ``nst.recovery.RetryingTransfer`` (out of memory, it starts again lighter and
records a notice), and handed back as an ``Outcome``: the image and the settings it was made with,
or what went wrong (with the best image so far when even the lightest retry ran out of memory).
The driver writes the file, so results are written once, atomically, where the driver is.

``style_first_frame`` and ``style_chunk`` are a clip's parts (see ``nst.distributed.video``).
"""

from __future__ import annotations

import dataclasses
import os
import socket
import time
from dataclasses import dataclass, field
from typing import Any, Sequence

import torch
from PIL import Image

from ..config import TransferConfig
from ..image import ImageError, load_image
from ..optimize import StyleTransfer
from ..recovery import RetryingTransfer, free_memory, is_out_of_memory
from ..video import VideoTransfer

_KEPT: dict[str, Any] = {}   # this worker process's Shared, by its object's id: one at a time


@dataclass(frozen=True)
class Shared:
    """What every task of a run shares: the model, the style images, the settings and where to run."""

    model: Any                                  # a VGG19Features
    styles: Sequence[Image.Image]
    config: TransferConfig
    init_image: Image.Image | None = None
    device: str = "auto"
    threads: int = 1                            # torch threads per task: the CPU cores it was given
    video: dict[str, Any] = field(default_factory=dict)  # a clip's VideoTransfer options


@dataclass(frozen=True)
class Outcome:
    """One image's result: ``image`` and the ``config`` it was made with, or ``error`` (one line; with
    an image when out of memory at the lightest settings); ``notices`` (lighter retries); ``loaded``
    whether this task fetched the shared model (the first on its worker); ``worker`` "host:pid"."""

    image: Image.Image | None
    config: TransferConfig | None
    stop_reason: str | None
    notices: tuple[str, ...] = ()
    error: str | None = None
    seconds: float = 0.0
    loaded: bool = False
    worker: str = ""


@dataclass(frozen=True)
class ChunkOutcome:
    """A clip chunk's frames (``images``, the lead-in included) and how it ended."""

    images: list[Image.Image]
    stop_reason: str | None
    loaded: bool = False
    worker: str = ""


def worker_name() -> str:
    """``"host:pid"`` of this process."""
    return f"{socket.gethostname()}:{os.getpid()}"


def shared_for(box: list) -> tuple[Shared, bool]:
    """The ``Shared`` that ``box[0]`` refers to, fetched on this worker's first task of the run and kept;
    and whether this call fetched it."""
    ref = box[0]
    key = ref.hex()
    if key in _KEPT:
        return _KEPT[key], False
    import ray

    _KEPT.clear()
    free_memory()
    _KEPT[key] = ray.get(ref)
    return _KEPT[key], True


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def style_image(model, styles: Sequence[Image.Image], config: TransferConfig, data: bytes, name: str, *,
                init_image: Image.Image | None = None, device: str = "auto") -> Outcome:
    """Style the image file ``name`` (its bytes ``data``) as ``nst batch`` does (see the module notes)."""
    started = time.perf_counter()
    run = None
    try:
        try:
            content = load_image(data)
        except ImageError as exc:  # said of "image": say which file
            raise ImageError(str(exc).replace("image:", f"{name}:", 1)) from None
        run = RetryingTransfer(lambda c: StyleTransfer(model, content, styles, c, init_image=init_image,
                                                       device=device), config)
        for _ in run:
            pass
        if run.stop_reason == "nan":
            raise RuntimeError("the loss became NaN; try a lower --lr or --style-weight")
        return Outcome(run.result(), run.config, run.stop_reason, tuple(run.notices),
                       seconds=time.perf_counter() - started, worker=worker_name())
    except (ValueError, RuntimeError, OSError, MemoryError) as exc:  # ImageError, PresetError: ValueErrors
        message = _first_line(exc)
        notices = tuple(run.notices) if run is not None else ()
        if run is not None and is_out_of_memory(exc) and run.has_image:
            message = f"out of memory at the lightest settings tried; saved the best image so far ({message})"
            return Outcome(run.result(), run.config, "out of memory", notices, message,
                           time.perf_counter() - started, worker=worker_name())
        return Outcome(None, None, None, notices, message, time.perf_counter() - started, worker=worker_name())


def style_job(box: list, name: str, data: bytes) -> Outcome:
    """The Ray task of one image of a batch: ``style_image`` with the run's shared model and settings."""
    shared, loaded = shared_for(box)
    torch.set_num_threads(shared.threads)
    outcome = style_image(shared.model, shared.styles, shared.config, data, name, init_image=shared.init_image,
                          device=shared.device)
    return dataclasses.replace(outcome, loaded=loaded)


def style_first_frame(box: list, frame: Image.Image) -> Image.Image:
    """The Ray task of a clip's first frame: a whole run (``config.steps`` over its scales), as the
    first frame of ``nst.video.VideoTransfer``; every chunk starts from it."""
    shared, _ = shared_for(box)
    torch.set_num_threads(shared.threads)
    video = VideoTransfer(shared.model, [frame], shared.styles, shared.config, init_image=shared.init_image,
                          device=shared.device, **shared.video)
    images = video.run()
    if video.stop_reason == "nan":
        raise RuntimeError("the loss became NaN on the first frame; try a lower --lr or --style-weight")
    return images[0]


def style_chunk(box: list, frames: Sequence[Image.Image], start: Image.Image | None) -> ChunkOutcome:
    """The Ray task of a clip chunk: ``frames`` in order with temporal consistency, the first starting
    from ``start`` (the clip's styled first frame carried along the flow to it) for the follow-up steps;
    with ``start`` None, the first is a whole run of its own (independent frames, or a clip in one chunk)."""
    shared, loaded = shared_for(box)
    torch.set_num_threads(shared.threads)
    options = dict(shared.video)
    config, init_image = shared.config, shared.init_image
    if start is not None and not options.get("independent"):
        follow = options.get("follow_steps")
        follow = max(1, config.steps // 2) if follow is None else follow
        config, init_image = config.replace(init="image", steps=max(1, follow), scales=1), start
        options["follow_steps"] = follow
    video = VideoTransfer(shared.model, list(frames), shared.styles, config, init_image=init_image,
                          device=shared.device, **options)
    images = video.run()
    return ChunkOutcome(images, video.stop_reason, loaded, worker_name())
