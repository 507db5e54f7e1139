"""One run stream for the page: whatever a button started (a run, a sweep, a clip), shown as it goes.

``stream(job)`` iterates a ``Job`` (``studio.jobs``: one adapter per kind of run, all giving
``Tick``s) and yields the tab's outputs by name: a progress bar with the step count and the time
left, a preview every few steps, the loss plot (refreshed at most every ``PLOT_INTERVAL_S``), and
at the end the job's results and the status line. **Stop** ends the run after the current step
and keeps the best image so far: it sets this browser session's stop flag, which the stream checks
each step (a queue cancellation would end the run before it could hand its image back). The run
also stops that way once it has taken ``runtime.time_limit()`` seconds. A run that fails still
hands back its best image, with the failure in the status line.

The time left counts every remaining scale: a step optimising ``P`` pixels costs about ``c P`` seconds,
so with ``W_done`` and ``W_left`` the pixel-steps done and still planned (``Plan``) and ``t`` the time
since the first step ended, ``c = t / (W_done - W_first)`` and the time left is ``c W_left``.
"""

from __future__ import annotations

import contextlib
import logging
import math
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterator, Sequence

import gradio as gr
import pandas as pd
from PIL import Image

import nst
from nst.recovery import is_out_of_memory

from . import runtime

if TYPE_CHECKING:
    from .jobs import Job

PLOT_INTERVAL_S = 0.5   # the loss plot is refreshed at most this often between previews
PLOT_DECADES = 4        # the loss plot shows this many powers of ten below its top

logger = logging.getLogger("nst.app")


# --------------------------------------------------------------------------------------------------
# Stopping: one flag per browser session (or gradio_client connection)

_stop_flags: dict[str, threading.Event] = {}
_stop_lock = threading.Lock()


def _session(request: gr.Request | None) -> str:
    return getattr(request, "session_hash", None) or "local"


@contextlib.contextmanager
def stoppable(request: gr.Request | None) -> Iterator[threading.Event]:
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
# What a job reports, and what it costs


@dataclass(frozen=True)
class Tick:
    """One thing a job reports: an optimiser step (``event``), or a finished part of it (``part``)."""

    step: int                       # steps done over the whole job
    total: int                      # steps planned over the whole job
    event: nst.StepEvent | None     # the latest optimiser step (its preview, losses, scale)
    detail: str                     # what is running, for the progress line
    part: Image.Image | None = None  # a finished part (a sweep's run, a clip's frame)


class Plan:
    """The cost of a job's planned steps: a step at a level whose longest side is ``s`` costs ``s^2``
    (the pixels it optimises, up to the aspect ratio, which one job keeps)."""

    def __init__(self, levels: Sequence[tuple[int, int]]) -> None:
        self.levels = [(steps, float(side) ** 2) for steps, side in levels]  # (steps, cost of one)
        self.total = sum(steps * cost for steps, cost in self.levels)

    def done(self, step: int) -> float:
        """The cost of the first ``step`` steps."""
        cost, left = 0.0, step
        for steps, unit in self.levels:
            taken = min(steps, left)
            cost, left = cost + taken * unit, left - taken
            if left <= 0:
                break
        return cost

    def split(self, step: int) -> tuple[float, float]:
        """The cost done and still to do after ``step`` steps."""
        done = self.done(step)
        return done, max(0.0, self.total - done)


class Clock:
    """Elapsed time, time left (see the module notes) and the run's time limit (``out_of_time()``)."""

    def __init__(self, limit: float | None, now=time.monotonic) -> None:
        self.limit = limit
        self.now = now
        self.start = now()
        self.timed_out = False
        self._first: tuple[float, float] | None = None  # (time, cost done) when the first step was reported

    def restart(self) -> None:
        """The job started over (a lighter retry): measure the rate again."""
        self._first = None

    @property
    def elapsed(self) -> float:
        return self.now() - self.start

    def left(self, done: float, left: float) -> float:
        """Seconds still to go, from the cost ``done`` so far and the cost ``left``."""
        now = self.elapsed
        if self._first is None:
            self._first = (now, done)
        first_time, first_done = self._first
        if done > first_done:
            rate = (now - first_time) / (done - first_done)
        else:  # only the first step so far: its time (warm-up included) is all there is to go on
            rate = now / done if done > 0 else 0.0
        return rate * left

    def text(self, step: int, total: int, detail: str, done: float, left: float) -> str:
        seconds = self.left(done, left)
        return f"Step {step}/{total} ({detail}) · {self.elapsed:.0f} s so far, about {seconds:.0f} s left"

    def out_of_time(self) -> bool:
        """Whether the run has used up its time limit (and so should stop as Stop stops it)."""
        self.timed_out = self.timed_out or (self.limit is not None and self.elapsed > self.limit)
        return self.timed_out


# --------------------------------------------------------------------------------------------------
# The status line


def describe(event: nst.StepEvent) -> str:
    """A step in words: its scale (when there are several), the size and the loss."""
    h, w = event.size
    scale = f"scale {event.scale + 1}/{event.scales}, " if event.scales > 1 else ""
    return f"{scale}{w}x{h} px, loss {event.losses['total']:.4g}"


def failure(exc: BaseException, size: int, step: int) -> str:
    """What to tell the visitor about a run that raised ``exc`` at ``step`` (logged unless out of memory)."""
    if is_out_of_memory(exc):  # a GPU's OutOfMemoryError, or the CPU's MemoryError / allocator error
        return f"The device ran out of memory at {size} px: lower the size (or the number of scales) and run again"
    logger.exception("run failed")
    return f"The run failed at step {step}: {type(exc).__name__}: {exc}"


def sentences(notices: Sequence[str]) -> str:
    """Retry notices as sentences: "Out of GPU memory at 1024 px; retrying at 768 px." """
    return " ".join(f"{notice[:1].upper()}{notice[1:]}." for notice in notices)


@dataclass(frozen=True)
class Ending:
    """How a job ended: the engine's stop reason, the steps done, the time taken, a failure."""

    reason: str | None            # "finished", "converged", "cancelled", "nan" (the engine's)
    step: int
    total: int
    elapsed: float
    failure: str | None = None    # what went wrong, when the run raised
    time_limit: float | None = None  # the limit, when the run was stopped by it

    @property
    def recorded_reason(self) -> str | None:
        """What a result's PNG records as the reason its run ended."""
        return "failed" if self.failure else "time limit" if self.time_limit is not None else self.reason

    def status(self, note: str = "The PNG carries its settings.") -> str:
        """The status line after the run, ending with ``note``."""
        if self.failure:
            gr.Warning(self.failure)
            return f"{self.failure}. The best image so far is kept."
        if self.time_limit is not None:
            head = (f"Stopped at the time limit of {self.time_limit:g} s, at step {self.step}/{self.total}; this is "
                    f"the best image so far. To get further in the time, use fewer steps or a smaller size (or "
                    f"raise NST_TIME_LIMIT where the app is started; 0 is no limit).")
        elif self.reason == "nan":
            gr.Warning("The loss became NaN: lower the style weight or the learning rate. The last good image is "
                       "kept.")
            head = f"The loss became NaN at step {self.step}; this is the last good image."
        elif self.reason == "cancelled":
            head = f"Stopped at step {self.step}/{self.total}; this is the best image so far."
        elif self.reason == "converged":
            head = f"Converged after {self.step} steps."
        else:
            head = f"Done: {self.step} steps."
        return f"{head} ({self.elapsed:.0f} s on {runtime.device().type.upper()}.) {note}"


def loss_frame(history: Sequence[dict[str, float]]) -> pd.DataFrame:
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


# --------------------------------------------------------------------------------------------------
# The stream


def stream(job: Job, *, request: gr.Request | None, progress) -> Iterator[tuple]:
    """Drive ``job`` (a ``studio.jobs.Job``) and yield its outputs, in ``job.outputs`` order, as it goes.

    Each step moves the progress bar; a preview (or, between previews, the loss plot at most every
    ``PLOT_INTERVAL_S``) updates the page; a finished part shows as the job says. Stop, the time limit
    or a failure end the run, and the job then saves what it has (``job.finish``).
    """
    clock = Clock(runtime.time_limit())
    last_update, step, failed, shown = 0.0, 0, None, 0
    progress((0, job.total), desc="Starting", unit="steps")
    with stoppable(request) as stop_flag:
        try:
            for tick in job.ticks():
                step = tick.step
                if tick.part is not None:
                    yield job.row(job.part(tick.part))
                    continue
                if len(job.notices) > shown:  # out of memory: a lighter run started over
                    shown = len(job.notices)
                    clock.restart()
                    gr.Warning(sentences(job.notices[-1:]))
                text = clock.text(tick.step, tick.total, tick.detail, *job.work(tick.step))
                if job.notices:
                    text = f"{sentences(job.notices[-1:])} {text}"
                progress((tick.step, tick.total), desc=text, unit="steps")
                if stop_flag.is_set() or clock.out_of_time():
                    job.close()
                    break
                if tick.event.image is not None or time.monotonic() - last_update >= PLOT_INTERVAL_S:
                    last_update = time.monotonic()
                    preview = tick.event.image if tick.event.image is not None else gr.skip()
                    yield job.row({"preview": preview, "plot": loss_frame(job.history), "status": text})
        except Exception as exc:  # a failed run still hands back its best image
            failed = failure(exc, job.size, step)
    ending = Ending(job.stop_reason, step, job.total, clock.elapsed, failed,
                    clock.limit if clock.timed_out else None)
    results, note = job.finish(ending)
    yield job.row({**results, "plot": loss_frame(job.history), "status": ending.status(note)})


def row(outputs: Sequence[str], values: dict[str, Any]) -> tuple:
    """``values`` by output name as a tuple in ``outputs`` order; ``gr.skip()`` leaves the others be."""
    unknown = set(values) - set(outputs)
    if unknown:
        raise KeyError(f"no such output: {', '.join(sorted(unknown))}")
    return tuple(values.get(name, gr.skip()) for name in outputs)
