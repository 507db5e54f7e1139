"""What every sequence of style-transfer runs shares: iterate, cancel, and keep what was done.

A sweep (``nst.sweep``) and a video (``nst.video``) each run one ``StyleTransfer`` after another
and stream their progress as one iterator. Closing that iterator cancels the run in progress;
``results()`` then holds the finished images followed by the cancelled run's best image so far.
Subclasses implement ``_events()`` (the generator, which appends each finished image to
``self._done`` and keeps the run going in ``self._run``), ``_planned()`` (outputs in all) and
``plan()`` (the steps in all, per scale: what a progress display needs to say how long is left).

Both stream one kind of event, ``SequenceEvent``: one per optimiser step of whichever run is going,
and one more closing each run with its image. ``level_plan`` is a run's share of ``plan()``: its
steps per coarse-to-fine level and each level's longest side ``s_k``; a step at level ``k`` costs
about ``s_k^2`` (the pixels it optimises, for one aspect ratio).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

from PIL import Image

from .config import TransferConfig
from .optimize import StepEvent, StyleTransfer, pyramid, split_steps


@dataclass(frozen=True)
class SequenceEvent:
    """Progress of a sequence: one per optimiser step, and one more closing each run with its image."""

    index: int                   # the run going, 0-based (a sweep's job, a clip's frame)
    count: int                   # runs in all
    label: str                   # that run's label ("t = 0.50", "relu3_2", "frame 2/8")
    step: int                    # steps done over the whole sequence
    total: int                   # steps planned over the whole sequence
    event: StepEvent | None      # the run's latest step: its own step/total, losses and preview (None only
                                 # closing a run with no steps)
    result: Image.Image | None = None  # the run's finished image, on the event closing it


def level_plan(config: TransferConfig) -> list[tuple[int, int]]:
    """``(steps, longest side)`` of each coarse-to-fine level of a run with ``config``, coarsest first, as
    ``StyleTransfer`` shares the steps out (a level too thin for the image's shape, which a run leaves
    out, is counted here: the plan is an estimate until the run is built, then ``run.sizes`` says)."""
    sizes = pyramid(config.size, config.scales, config.min_scale_size)
    return list(zip(split_steps(config.steps, len(sizes)), sizes))


class RunSequence:
    """Base of ``Sweep`` and ``VideoTransfer``: the iteration, cancellation and results protocol."""

    def __init__(self) -> None:
        self.stop_reason: str | None = None    # "finished", "cancelled" or "nan"
        self._done: list[Image.Image] = []
        self._run: StyleTransfer | None = None
        self._iterator: Iterator | None = None

    def _events(self) -> Iterator:
        raise NotImplementedError

    def _planned(self) -> int:
        raise NotImplementedError

    def plan(self) -> list[tuple[int, int]]:
        """``(steps, longest side)`` of every level of every run, in the order they run (see ``level_plan``)."""
        raise NotImplementedError

    def __iter__(self) -> Iterator:
        if self._iterator is None:
            self._iterator = self._guarded()
        return self._iterator

    def _guarded(self) -> Iterator:
        """``_events()`` with the stop reason kept: "finished" unless it ended otherwise, "cancelled" when closed."""
        try:
            yield from self._events()
            self.stop_reason = self.stop_reason or "finished"
        except GeneratorExit:
            self.stop_reason = self.stop_reason or "cancelled"
            raise

    def close(self) -> None:
        """Cancel; ``results()`` keeps what was done, the run in progress included."""
        if self._iterator is not None:
            self._iterator.close()
        if self._run is not None and self._run.stop_reason is None:
            self._run.close()
        if self.stop_reason is None:
            self.stop_reason = "cancelled"

    def run(self) -> list[Image.Image]:
        """Run to the end and return every output."""
        for _ in self:
            pass
        return self.results()

    def results(self) -> list[Image.Image]:
        """The finished outputs in order, then the best image so far of an unfinished run."""
        images = list(self._done)
        if self._run is not None and len(images) < self._planned() and self._run.has_image:
            images.append(self._run.result())
        return images
