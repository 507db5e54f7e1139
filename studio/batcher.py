"""Several visitors on one GPU: their runs of the same size optimised together, by one worker thread.

A 512 px L-BFGS step uses a fraction of a large GPU, so visitors' runs that can share a batch
(``nst.batch.batch_key``: L-BFGS, every level whole) are handed to one worker thread that steps them
together with ``nst.batch.BatchedTransfer``: per step, one pass of VGG-19 over the images of all the
runs at the same size. Each visitor's stream keeps its own run (``StyleTransfer``) and gets that run's
events through its own queue; the worker never waits on a visitor.

Grouping: the first run to arrive opens a window of ``NST_BATCH_WINDOW_MS`` milliseconds; the runs
that arrive within it join the batch together (so they start in lock step), at most
``NST_BATCH_SIZE`` runs in all; the window closes early once that many wait. A run that arrives while
others are being optimised joins them the same way, in the next wave (it then shares their passes
while it is at the same size, else it gets passes of its own, in turn with theirs).

Stopping: a visitor's Stop (or the time limit) closes their stream's iterator, which cancels their run
in the batch and waits until the worker has let go of it (the end of the current step), so the best
image the visitor then gets is final; the other runs go on. A run that fails (out of memory even on its
own, say) ends with its error raised in its visitor's stream, as if it had run alone; ``SingleJob``'s
lighter retry (``nst.recovery``) then runs as usual.

The environment (read when used; a bad value is a one-line ``env.HostSettingError``):

* ``NST_BATCH_SIZE`` - most runs optimised together (default ``BATCH_SIZES``: 8 on a GPU, 1 on the CPU,
  where a step already uses every core, and 1 on ZeroGPU hardware, whose GPU is attached only inside a
  request's handler); 1 turns batching off. The device's concurrency limit (``studio.wiring``) is set
  to it, so that many visitors' runs are in flight together;
* ``NST_BATCH_WINDOW_MS`` - how long the first run of a wave waits for others (default ``WINDOW_MS``).
"""

from __future__ import annotations

import importlib.util
import queue
import threading
import time
from typing import Iterable, Iterator

from nst.batch import BatchedTransfer, batch_key
from nst.optimize import StepEvent, StyleTransfer

from . import env, runtime

BATCH_SIZES = {"cuda": 8, "cpu": 1}  # runs optimised together on each kind of device (NST_BATCH_SIZE overrides)
WINDOW_MS = 300                      # a wave's window (NST_BATCH_WINDOW_MS overrides)
IDLE_EXIT_S = 30.0                   # the worker thread ends after this long with nothing to do
_END = object()                      # a run's last item in its queue


def batch_size() -> int:
    """Most runs optimised together (``NST_BATCH_SIZE``; default per device, 1 on ZeroGPU); 1: off."""
    zero_gpu = importlib.util.find_spec("spaces") is not None
    default = 1 if zero_gpu else BATCH_SIZES.get(runtime.device().type, 1)
    return env.whole("NST_BATCH_SIZE", default, 1, "runs (optimised together on the device; 1: one at a time)", 8)


def window() -> float:
    """Seconds the first run of a wave waits for others to join it (``NST_BATCH_WINDOW_MS``)."""
    return env.whole("NST_BATCH_WINDOW_MS", WINDOW_MS, 0, "milliseconds (a batch's wait for more runs)",
                     WINDOW_MS) / 1000


class Ticket:
    """One visitor's run in the batcher: the queue of its events, and whether the worker let go of it."""

    def __init__(self, run: StyleTransfer) -> None:
        self.run = run
        self.events: queue.SimpleQueue = queue.SimpleQueue()
        self.left = threading.Event()   # set once the worker has let go of the run
        self.cancelled = False
        self.error: BaseException | None = None
        self.arrived = time.monotonic()
        self.index: int | None = None   # in the worker's BatchedTransfer, once admitted


class Batcher:
    """Runs optimised together by one worker thread (see the module notes): at most ``size`` at once,
    each wave gathered over ``window`` seconds. ``sizes`` lists the images of every batched pass so far."""

    def __init__(self, size: int, window: float) -> None:
        self.size, self.window = size, window
        self.sizes: list[int] = []
        self._cond = threading.Condition()
        self._pending: list[Ticket] = []
        self._thread: threading.Thread | None = None

    def drive(self, run: StyleTransfer) -> Iterable[StepEvent]:
        """``run``'s events: through the batch when batching is on and the run can be batched, else its own."""
        if self.size > 1 and batch_key(run) is not None:
            return self.events(run)
        return iter(run)

    def events(self, run: StyleTransfer) -> Iterator[StepEvent]:
        """Optimise ``run`` with the others and yield its events; its error, if it failed, is raised at the
        end. Closing the iterator cancels the run and returns once the worker has let go of it."""
        ticket = self._submit(run)
        try:
            while (item := ticket.events.get()) is not _END:
                yield item
        finally:
            if not ticket.left.is_set():
                with self._cond:
                    ticket.cancelled = True
                    self._cond.notify_all()
                while not ticket.left.wait(1.0) and self._working():
                    pass
        if ticket.error is not None:
            raise ticket.error

    # -- the worker ----------------------------------------------------------------------------------

    def _working(self) -> bool:
        with self._cond:
            return self._thread is not None and self._thread.is_alive()

    def _submit(self, run: StyleTransfer) -> Ticket:
        ticket = Ticket(run)
        with self._cond:
            self._pending.append(ticket)
            if self._thread is None:
                self._thread = threading.Thread(target=self._work, name="nst-batcher", daemon=True)
                self._thread.start()
            self._cond.notify_all()
        return ticket

    @staticmethod
    def _end(ticket: Ticket, error: BaseException | None = None) -> None:
        ticket.error = error
        ticket.left.set()
        ticket.events.put(_END)

    def _wave(self, running: int) -> list[Ticket] | None:
        """The runs to take in now (up to ``size - running``), once their window is over; [] while runs are
        being optimised and none is due; None when the worker has been idle ``IDLE_EXIT_S`` (it then ends)."""
        with self._cond:
            while True:
                for ticket in [t for t in self._pending if t.cancelled]:  # stopped before it began
                    self._pending.remove(ticket)
                    self._end(ticket)
                room = self.size - running
                if self._pending and room > 0:
                    now, due = time.monotonic(), self._pending[0].arrived + self.window
                    if now >= due or len(self._pending) >= room:
                        wave, self._pending[:room] = self._pending[:room], []
                        return wave
                    if running:
                        return []
                    self._cond.wait(due - now)
                    continue
                if running:
                    return []
                if not self._cond.wait(IDLE_EXIT_S) and not self._pending:
                    self._thread = None  # a later run starts a new worker
                    return None

    def _work(self) -> None:
        batch, admitted = BatchedTransfer(), {}
        try:
            while (wave := self._wave(len(admitted))) is not None:
                for ticket in wave:
                    try:
                        ticket.index = batch.add(ticket.run)
                    except Exception as exc:  # the run cannot be driven (already started)
                        self._end(ticket, exc)
                        continue
                    admitted[ticket.index] = ticket
                if not admitted:
                    batch = BatchedTransfer()  # a fresh batch (and memory limit) for the next wave
                    continue
                for ticket in admitted.values():
                    if ticket.cancelled:
                        batch.cancel(ticket.index)
                passes = batch.passes
                events = batch.round()
                self.sizes.extend(batch.sizes[passes:])
                for index, event in events:
                    if event is not None:
                        admitted[index].events.put(event)
                    else:
                        self._end(admitted.pop(index), batch.errors.get(index))
        except BaseException as exc:  # a fault of the worker itself: every run it holds ends with it
            with self._cond:
                self._thread = None
                for ticket in [*admitted.values(), *self._pending]:
                    self._end(ticket, exc)
                self._pending.clear()
            raise


_shared: dict[tuple[int, float], Batcher] = {}
_shared_lock = threading.Lock()


def shared() -> Batcher:
    """The process's batcher for the settings now in the environment (made on first use)."""
    key = batch_size(), window()
    with _shared_lock:
        if key not in _shared:
            _shared[key] = Batcher(*key)
        return _shared[key]


def drive(run: StyleTransfer) -> Iterable[StepEvent]:
    """``run``'s events through the shared batcher (``Batcher.drive``)."""
    return shared().drive(run)
