"""Running out of memory: a run retried with lighter settings instead of failing.

A run's memory grows with its output. VGG-19 keeps every layer's activations for the backward pass,
about ``H * W * sum_l C_l / 4^k_l`` numbers for the layers ``l`` (``C_l`` channels, after ``k_l``
poolings), and L-BFGS keeps 50 pairs of image-sized history tensors (``s_k = x_{k+1} - x_k`` and
``y_k = g_{k+1} - g_k``), 100 copies of the image. ``RetryingTransfer`` runs a ``StyleTransfer``
built by a factory from a ``TransferConfig``; when the run runs out of memory (``torch.OutOfMemoryError``
on a GPU; a ``MemoryError``, or the allocator's "not enough memory" ``RuntimeError``, on the CPU) it
frees what the failed attempt held and starts again with a lighter config (``lighter``):

1. the longest side times 3/4 (the memory then about 9/16 of it), again and again down to ``floor`` px;
2. at the floor, Adam instead of L-BFGS (no history).

Each retry records a notice, "out of GPU memory at 2048 px; retrying at 1536 px", in ``notices``
for the caller to show. A retry starts over with the same settings at the new size. What the failed
attempts reached is kept: ``result()`` hands back the image of the attempt that did the most steps
(the latest on a tie), and ``config`` the settings it ran with. When nothing lighter is left, the
last error is raised and ``result()`` still has the best image so far.
"""

from __future__ import annotations

import gc
from dataclasses import dataclass
from typing import Callable, Iterable, Iterator

import torch
from PIL import Image

from .config import TransferConfig
from .optimize import StepEvent, StyleTransfer

DEFAULT_FLOOR = 256     # the size is not lowered below this many pixels (nor raised to it)
SHRINK = 3 / 4          # each retry's longest side, relative to the one that failed
_CPU_MESSAGES = ("not enough memory", "can't allocate memory", "cannot allocate memory", "out of memory")


def is_out_of_memory(exc: BaseException) -> bool:
    """Whether ``exc`` says the device (GPU or CPU) had no memory left for an allocation."""
    if isinstance(exc, (torch.OutOfMemoryError, MemoryError)):
        return True
    return isinstance(exc, RuntimeError) and any(text in str(exc).lower() for text in _CPU_MESSAGES)


def lighter(config: TransferConfig, floor: int = DEFAULT_FLOOR) -> tuple[TransferConfig, str] | None:
    """The next config to try after ``config`` ran out of memory, and what changed; None when none is left.

    The size goes down by ``SHRINK`` to ``floor``; then L-BFGS gives way to Adam (at Adam's own
    default step size, as L-BFGS's would be far too large for it).
    """
    if config.size > floor:
        size = max(floor, int(config.size * SHRINK))
        return config.replace(size=size), f"at {size} px"
    if config.optimizer == "lbfgs":
        return config.replace(optimizer="adam", lr=None), "with Adam instead of L-BFGS (no step history to keep)"
    return None


def free_memory() -> None:
    """Drop unreachable tensors and hand the GPU's cached blocks back, so a retry finds the memory free."""
    gc.collect()
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        torch.cuda.empty_cache()


@dataclass(frozen=True)
class _Kept:
    """The best image of an attempt that ran out of memory."""

    image: Image.Image
    steps: int
    config: TransferConfig


class RetryingTransfer:
    """A ``StyleTransfer`` that, out of memory, starts again lighter; iterate it, then call ``result()``.

    ``make(config)`` builds one attempt (a ``StyleTransfer`` with everything but the config fixed);
    ``config`` is the first attempt's, and ``first`` that attempt if it is already built. ``floor``
    is the smallest longest side a retry goes down to (default ``DEFAULT_FLOOR``). ``drive(attempt)`` gives an
    attempt's events (default: iterating it; ``studio.batcher`` optimises it with others, and raises its
    error at the end as the iteration would). The surface is ``StyleTransfer``'s:
    ``StepEvent``s (the steps count from 1 again when a retry starts), ``close()``, ``run()``,
    ``result()``, ``has_image``, ``stop_reason``, ``history`` and ``total`` (of the attempt now
    running), plus ``notices`` (one line per retry) and ``attempt`` (the ``StyleTransfer`` now running).
    """

    def __init__(self, make: Callable[[TransferConfig], StyleTransfer], config: TransferConfig, *,
                 floor: int | None = None, first: StyleTransfer | None = None,
                 drive: Callable[[StyleTransfer], Iterable[StepEvent]] = iter) -> None:
        self._make = make
        self._drive = drive
        self.floor = DEFAULT_FLOOR if floor is None else floor
        self.attempt = first if first is not None else make(config)
        self.notices: list[str] = []
        self._kept: _Kept | None = None
        self._iterator: Iterator[StepEvent] | None = None

    # -- StyleTransfer's surface ---------------------------------------------------------------------

    def __iter__(self) -> Iterator[StepEvent]:
        if self._iterator is None:
            self._iterator = self._attempts()
        return self._iterator

    def close(self) -> None:
        """Cancel the run; ``result()`` still returns the best image so far."""
        if self._iterator is not None:
            self._iterator.close()
        self.attempt.close()

    def run(self) -> Image.Image:
        """Run to the end (retrying as needed) and return the result."""
        for _ in self:
            pass
        return self.result()

    @property
    def model(self):
        return self.attempt.model

    @property
    def total(self) -> int:
        return self.attempt.total

    @property
    def history(self) -> list[dict[str, float]]:
        return self.attempt.history

    @property
    def stop_reason(self) -> str | None:
        return self.attempt.stop_reason

    @property
    def has_image(self) -> bool:
        return self.attempt.has_image or self._kept is not None

    @property
    def config(self) -> TransferConfig:
        """The settings of the image ``result()`` hands back."""
        return self._kept.config if self._kept_wins() else self.attempt.config

    def result(self) -> Image.Image:
        """The best image so far: the running attempt's, unless a failed one got further."""
        return self._kept.image if self._kept_wins() else self.attempt.result()

    # -- internals -----------------------------------------------------------------------------------

    def _kept_wins(self) -> bool:
        return self._kept is not None and (not self.attempt.has_image or len(self.attempt.history) < self._kept.steps)

    def _attempts(self) -> Iterator[StepEvent]:
        while True:
            failed = self.attempt
            try:
                yield from self._drive(failed)
                return
            except Exception as exc:
                if not is_out_of_memory(exc):
                    raise
                retry = self._next_attempt(failed.config)
                if retry is None:
                    raise
            # Here the error and its traceback, which held the failed step's tensors, are gone.
            self._keep(failed)
            self.attempt, change = retry
            memory = "GPU memory" if failed.device.type == "cuda" else "memory"
            self.notices.append(f"out of {memory} at {failed.config.size} px; retrying {change}")
            del failed, retry
            free_memory()

    def _next_attempt(self, config: TransferConfig) -> tuple[StyleTransfer, str] | None:
        """The lightest next attempt that can be built (a size may be too small for the image's shape)."""
        while (step := lighter(config, self.floor)) is not None:
            config, change = step
            try:
                return self._make(config), change
            except ValueError:
                continue
        return None

    def _keep(self, failed: StyleTransfer) -> None:
        """Keep ``failed``'s best image, as a PIL image off the device, if it got further than the one kept."""
        free_memory()
        steps = len(failed.history)
        if not failed.has_image or (self._kept is not None and steps < self._kept.steps):
            return
        try:
            self._kept = _Kept(failed.result(), steps, failed.config)
        except Exception as exc:  # no memory left even for the image: the one kept before stays
            if not is_out_of_memory(exc):
                raise
