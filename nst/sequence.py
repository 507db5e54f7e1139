"""What every sequence of style-transfer runs shares: iterate, cancel, and keep what was done.

A sweep (``nst.sweep``) and a video (``nst.video``) each run one ``StyleTransfer`` after another
and stream their progress as one iterator. Closing that iterator cancels the run in progress;
``results()`` then holds the finished images followed by the cancelled run's best image so far.
Subclasses implement ``_events()`` (the generator, which appends each finished image to
``self._done`` and keeps the run going in ``self._run``) and ``_planned()`` (outputs in all).
"""

from __future__ import annotations

from typing import Iterator

from PIL import Image

from .optimize import StyleTransfer


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
