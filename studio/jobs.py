"""The kinds of run a button starts, each as a ``Job`` that ``studio.stream.stream`` drives.

A job gives ``Tick``s (one per optimiser step, one per finished part), says what its steps cost
(``work``: the ``Plan`` of its levels), and at the end saves what it has (``finish``):

* ``SingleJob`` - one ``StyleTransfer`` that starts again lighter when out of memory
  (``nst.recovery``), optimised together with other visitors' runs when batching is on
  (``studio.batcher``); its result is a PNG carrying its settings and its preset;
* ``SweepJob`` - a ``nst.sweep.Sweep`` (an interpolation, a study); each finished run shows in the
  preview and the grid so far as the result; at the end the grid's PNG and, if asked, a GIF;
* ``ClipJob`` - a ``nst.video.VideoTransfer``; each finished frame shows in the preview; at the end
  the frames so far as a GIF (the result) and an MP4 (the download and the player), with the
  flicker measure in the status line.

What a job saves goes through ``studio.storage.keep``: a result the output folder refuses is kept in a
temporary folder, or handed back as the image itself, and the status line says so.
"""

from __future__ import annotations

from typing import Any, Iterator

import gradio as gr
from PIL import Image

import nst
from nst.config import TransferConfig
from nst.montage import save_gif
from nst.presets import Preset
from nst.recovery import RetryingTransfer
from nst.sequence import SequenceEvent
from nst.sweep import Sweep
from nst.video import VideoTransfer
from nst.video_io import write_clip

from . import batcher, runtime
from .outputs import OUTPUTS, panel_columns, result_record, save_result
from .storage import keep
from .stream import Ending, Plan, Tick, describe, row, sentences

GIF_FRAME_MS = 300  # an interpolation's GIF: milliseconds per frame


def make(constructor, *args, **kwargs):
    """Call an engine constructor; its ``ValueError`` (inputs that do not fit together) becomes a ``gr.Error``."""
    try:
        return constructor(*args, **kwargs)
    except ValueError as exc:
        raise gr.Error(str(exc)) from None


def _download(result: str | Image.Image) -> str | None:
    """What the Download button offers for ``result``: its file, or nothing when no folder took it."""
    return result if isinstance(result, str) else None


class Job:
    """What the stream drives; see the module notes. ``outputs``: the handler's outputs, in order."""

    outputs: tuple[str, ...] = OUTPUTS

    @property
    def notices(self) -> list[str]:
        """One line per lighter restart after running out of memory."""
        return []

    @property
    def total(self) -> int:
        raise NotImplementedError

    @property
    def size(self) -> int:
        """The longest side being made (for an out-of-memory message)."""
        raise NotImplementedError

    @property
    def history(self) -> list[dict[str, float]]:
        """The weighted losses of every step so far (the loss plot)."""
        raise NotImplementedError

    @property
    def stop_reason(self) -> str | None:
        raise NotImplementedError

    def ticks(self) -> Iterator[Tick]:
        raise NotImplementedError

    def work(self, step: int) -> tuple[float, float]:
        """The cost done and still to do after ``step`` steps (``Plan.split``)."""
        raise NotImplementedError

    def close(self) -> None:
        """Stop after the current step, keeping what was done."""
        raise NotImplementedError

    def part(self, image: Image.Image) -> dict[str, Any]:
        """The outputs to show when a part of the job finished with ``image``."""
        return {"preview": image}

    def finish(self, ending: Ending) -> tuple[dict[str, Any], str]:
        """Save what the job has; its final outputs by name and the note ending the status line.
        ``gr.Error`` when it has nothing to hand back."""
        raise NotImplementedError

    def row(self, values: dict[str, Any]) -> tuple:
        return row(self.outputs, values)


class SingleJob(Job):
    """One run of ``content`` after ``styles`` that, out of memory, starts again smaller, saying so.

    ``settings`` are the file names (and what else the tab records); ``preset`` the tab's preset as the
    run uses it (``studio.presets.as_used``), recorded with the result.
    """

    def __init__(self, content: Image.Image | None, styles: list[Image.Image], config: TransferConfig, *,
                 mode: str, settings: dict[str, Any], preset: Preset | None = None, **options) -> None:
        model = runtime.get_model()
        self.run = make(RetryingTransfer,
                        lambda c: nst.StyleTransfer(model, content, styles, c, device=runtime.device(), **options),
                        config, drive=batcher.drive)
        self.mode, self.settings, self.preset = mode, settings, preset
        self._plan: tuple[object, Plan] | None = None

    total = property(lambda self: self.run.total)
    size = property(lambda self: self.run.config.size)
    history = property(lambda self: self.run.history)
    stop_reason = property(lambda self: self.run.stop_reason)
    notices = property(lambda self: self.run.notices)

    def ticks(self) -> Iterator[Tick]:
        for event in self.run:
            yield Tick(event.step, event.total, event, describe(event))

    def work(self, step: int) -> tuple[float, float]:
        attempt = self.run.attempt  # a retry has levels of its own
        if self._plan is None or self._plan[0] is not attempt:
            self._plan = attempt, Plan(list(zip(attempt.steps_per_scale, attempt.sizes)))
        return self._plan[1].split(step)

    def close(self) -> None:
        self.run.close()

    def finish(self, ending: Ending) -> tuple[dict[str, Any], str]:
        if not self.run.has_image:
            raise gr.Error(ending.failure or "The run ended before its first step: raise the number of steps")
        record = result_record(self.mode, self.settings, self.run.config, self.run.model.source,
                               stop_reason=ending.recorded_reason, steps_done=ending.step, preset=self.preset,
                               with_preset=True)
        result, kept = save_result(self.run.result(), self.mode, record)
        note = f"{sentences(self.run.notices)} The PNG carries its settings. {kept}".strip()
        return {"result": result, "download": _download(result)}, note


class _SequenceJob(Job):
    """What ``SweepJob`` and ``ClipJob`` share: ``nst.sequence``'s events, history and plan."""

    def __init__(self, sequence: Sweep | VideoTransfer, config: TransferConfig) -> None:
        self.sequence, self.config = sequence, config
        self.plan = Plan(sequence.plan())
        self._history: list[dict[str, float]] = []

    total = property(lambda self: self.sequence.total)
    size = property(lambda self: self.config.size)
    history = property(lambda self: self._history)
    stop_reason = property(lambda self: self.sequence.stop_reason)

    def detail(self, event: SequenceEvent) -> str:
        raise NotImplementedError

    def ticks(self) -> Iterator[Tick]:
        for event in self.sequence:
            if event.result is not None:
                yield Tick(event.step, event.total, event.event, event.label, event.result)
                continue
            self._history.append(event.event.losses)
            yield Tick(event.step, event.total, event.event, self.detail(event))

    def work(self, step: int) -> tuple[float, float]:
        return self.plan.split(step)

    def close(self) -> None:
        self.sequence.close()


class SweepJob(_SequenceJob):
    """A sweep whose result is the labelled grid of its runs' images (updated as each finishes); the
    download is the GIF of them (``gif``) or the grid's PNG."""

    def __init__(self, sweep: Sweep, config: TransferConfig, *, mode: str, settings: dict[str, Any],
                 gif: bool = False) -> None:
        super().__init__(sweep, config)
        self.mode, self.settings, self.gif = mode, settings, gif

    def detail(self, event: SequenceEvent) -> str:
        return f"{event.label}: run {event.index + 1}/{event.count}, {describe(event.event)}"

    def grid(self) -> Image.Image:
        """The images made so far, captioned, in the columns that show each largest in the panel."""
        images = self.sequence.results()
        return self.sequence.grid(panel_columns(len(images), images[0].width / images[0].height))

    def part(self, image: Image.Image) -> dict[str, Any]:
        return {"preview": image, "result": self.grid()}

    def finish(self, ending: Ending) -> tuple[dict[str, Any], str]:
        images = self.sequence.results()
        if not images:
            raise gr.Error(ending.failure or "The sweep ended before its first image: raise the number of steps")
        record = result_record(self.mode, self.settings, self.config, self.sequence.model.source,
                               stop_reason=ending.recorded_reason, steps_done=ending.step,
                               labels=self.sequence.labels[: len(images)])
        grid, kept = save_result(self.grid(), self.mode, record)
        last = _download(grid)
        if self.gif and len(images) > 1 and last is not None:
            gif = keep(lambda path: save_gif(images, path, duration_ms=GIF_FRAME_MS, bounce=True), self.mode, ".gif")
            last = gif.path or last
        return {"result": grid, "download": last}, f"The PNG carries its settings. {kept}".strip()


class ClipJob(_SequenceJob):
    """A clip played at ``fps`` frames a second (its source's rate ``source_fps``, when slower than that):
    see the module notes. Its outputs add the MP4 player."""

    outputs = (*OUTPUTS, "player")

    def __init__(self, video: VideoTransfer, fps: float, source_fps: float | None = None) -> None:
        super().__init__(video, video.config)
        self.fps, self.source_fps = fps, source_fps

    def detail(self, event: SequenceEvent) -> str:
        return f"{event.label}, step {event.event.step}/{event.event.total}, {describe(event.event)}"

    def finish(self, ending: Ending) -> tuple[dict[str, Any], str]:
        frames = self.sequence.results()
        if not frames:
            raise gr.Error(ending.failure or "The clip ended before its first frame had an image: raise the number "
                           "of steps")
        gif = keep(lambda path: write_clip(frames, path, self.fps), "video", ".gif")
        mp4 = keep(lambda path: write_clip(frames, path, self.fps), "video", ".mp4") if gif.path else gif
        flicker, floor = self.sequence.flicker(), self.sequence.input_flicker()
        measure = "" if flicker is None else (f"Flicker (mean warping error between consecutive frames): "
                                              f"{flicker:.3g}; the input clip's own: {floor:.3g}.")
        slowed = (f" (the clip's {self.source_fps:g} fps, slowed so that it lasts longer)"
                  if self.source_fps and self.fps < self.source_fps else "")
        note = f"{len(frames)} frame(s) at {self.fps:g} fps{slowed}. {measure} {gif.note or mp4.note}".strip()
        return {"result": gif.path or frames[-1], "download": mp4.path, "player": mp4.path}, note
