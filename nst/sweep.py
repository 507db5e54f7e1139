"""A sequence of style-transfer runs as one job with one progress stream.

An interpolation between two styles and the layer explorer's studies are each a list of ``Job``s,
run one after the other by a ``Sweep``. Iterating a sweep yields a ``SweepEvent`` (``nst.sequence``'s
``SequenceEvent``, labelled with the job's label) per optimiser step of whichever run is going, plus
one event closing each run that carries its image. A job marked
``warm_start`` begins from the previous job's result (``init="image"``), so neighbouring outputs of
a sweep cost a fraction of a fresh run. Closing the sweep cancels the run in progress; ``results()``
then holds the finished images and the cancelled run's best image so far.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator, Sequence

import torch
from PIL import Image

from .config import TransferConfig
from .features import VGG19Features
from .image import to_pil
from .montage import grid
from .optimize import StepEvent, StyleTransfer
from .sequence import RunSequence, SequenceEvent, level_plan

SweepEvent = SequenceEvent  # the sweep's progress: ``index``/``count`` count its jobs, ``label`` is the job's


@dataclass(frozen=True)
class Job:
    """One run of a sweep."""

    label: str                                  # caption in grids, e.g. "t = 0.50" or "relu3_2"
    content: Image.Image | None
    styles: tuple[Image.Image, ...]
    config: TransferConfig
    warm_start: bool = False                    # start from the previous job's result
    content_size: tuple[int, int] | None = None  # output aspect when there is no content (textures)
    value: float | None = None                  # the swept quantity (t, a style weight, ...), for callers
    options: dict = field(default_factory=dict)  # further StyleTransfer keywords (init_image, masks, ...)


class Sweep(RunSequence):
    """Runs ``jobs`` in order on one model; iterate it for ``SweepEvent``s, then call ``results()``."""

    def __init__(self, model: VGG19Features, jobs: Sequence[Job], device: str | torch.device = "auto") -> None:
        if not jobs:
            raise ValueError("a sweep needs at least one job")
        self.model = model
        self.jobs = list(jobs)
        self.device = device
        self.total = sum(job.config.steps for job in self.jobs)
        super().__init__()
        self._raw: torch.Tensor | None = None   # the last finished run's image as optimised (for warm starts)

    @property
    def labels(self) -> list[str]:
        return [job.label for job in self.jobs]

    @property
    def values(self) -> list[float | None]:
        return [job.value for job in self.jobs]

    def _planned(self) -> int:
        return len(self.jobs)

    def plan(self) -> list[tuple[int, int]]:
        return [level for job in self.jobs for level in level_plan(job.config)]

    def grid(self, columns: int | None = None, labels: bool = True) -> Image.Image:
        """``results()`` as one image, captioned with the jobs' labels unless ``labels`` is False."""
        images = self.results()
        return grid(images, columns, self.labels[: len(images)] if labels else None)

    def _events(self) -> Iterator[SweepEvent]:
        done_steps = 0
        for index, job in enumerate(self.jobs):
            config, options = job.config, dict(job.options)
            if job.warm_start and self._raw is not None:
                config, options["init_image"] = config.replace(init="image"), to_pil(self._raw)
            run = StyleTransfer(self.model, job.content, list(job.styles), config, device=self.device,
                                content_size=job.content_size, **options)
            self._run = run
            last: StepEvent | None = None
            for event in run:
                last = event
                yield SweepEvent(index, len(self.jobs), job.label, done_steps + event.step, self.total, event)
            done_steps += config.steps
            image = run.result()
            self._done.append(image)
            self._raw = run.result_tensor()
            self._run = None
            yield SweepEvent(index, len(self.jobs), job.label, done_steps, self.total, last, image)
            if run.stop_reason == "nan":
                self.stop_reason = "nan"
                return
