"""A long clip styled on a Ray cluster: overlapping chunks in parallel, joined without flickering seams.

On one machine (``nst.video.VideoTransfer``) frame ``i`` starts from frame ``i - 1``'s output and is
held to it, so a clip is one chain. ``ChunkedVideo`` cuts the chain (``nst.distributed.chunks``):

1. The first frame is styled by a whole run (``config.steps`` over its scales), as on one machine.
2. Every chunk, in parallel, styles its frames as ``VideoTransfer`` does, except that its first
   frame (``c_k - L``, ``L`` frames before the frames it owns) starts from that styled first frame
   and takes the follow-up steps. Each chunk so starts from the look the first frame settled on,
   rather than in a minimum of its own, and its ``L`` lead-in frames let its chain settle onto its
   own content before the frames it owns.
3. ``join_chunks`` cross-fades each lead-in with the earlier chunk's frames over the overlap.

With ``independent=True`` (the flicker baseline) the chunks are just frames in parallel: no first
frame, no overlap. With one chunk it is the run of one machine. The steps per frame are those of
one machine, plus the first frame's whole run and ``L`` lead-in frames per seam.

    video = ChunkedVideo(cluster, model, clip.frames, [style], config, chunks=4, overlap=2)
    for event in video: ...           # ChunkEvents: frames done, a chunk at a time
    video.results(); video.flicker(); video.seam_flicker()

``close()`` (Ctrl-C) cancels what is running; ``results()`` then holds the frames of the chunks
finished in a row from the start.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Sequence

from PIL import Image

from ..config import TransferConfig
from ..optimize import StyleTransfer
from ..temporal import flicker, pair_errors
from ..video import DEFAULT_TEMPORAL_WEIGHT, VideoTransfer
from . import worker
from .chunks import carry_along, flows_to_first, join_chunks, plan_chunks, seam_flicker, seam_pairs
from .cluster import Cluster
from .pool import DEFAULT_RETRIES, TaskPool, error_text
from .worker import Shared

DEFAULT_OVERLAP = 3     # lead-in frames per chunk, cross-faded with the chunk before


@dataclass(frozen=True)
class ChunkEvent:
    """Progress: ``done`` of ``total`` frames styled; ``label`` says what just finished."""

    done: int
    total: int
    label: str


class ChunkFailed(RuntimeError):
    """A chunk (or the first frame) failed, or its worker was lost too often; the message says which."""


class ChunkedVideo:
    """Styles ``frames`` after ``styles`` on ``cluster`` in ``chunks`` chunks (default: one per task the
    cluster runs at once) overlapping by ``overlap`` frames; iterate it, then call ``results()``.

    The video options are ``VideoTransfer``'s; ``cpus`` the CPU cores per task where the cluster has
    no GPUs; ``retries`` how often a task whose worker was lost is submitted again.
    """

    def __init__(self, cluster: Cluster, model, frames: Sequence[Image.Image], styles: Sequence[Image.Image],
                 config: TransferConfig = TransferConfig(), *, chunks: int | None = None,
                 overlap: int = DEFAULT_OVERLAP, frame_init: str = "flow",
                 temporal_weight: float = DEFAULT_TEMPORAL_WEIGHT, long_term: Sequence[int] | None = None,
                 follow_steps: int | None = None, independent: bool = False, flow_method: str = "dis",
                 init_image: Image.Image | None = None, device: str = "auto", cpus: int = 1,
                 retries: int = DEFAULT_RETRIES) -> None:
        options = dict(frame_init=frame_init, temporal_weight=temporal_weight, long_term=long_term,
                       follow_steps=follow_steps, independent=independent, flow_method=flow_method)
        check = VideoTransfer(model, frames, styles, config, init_image=init_image, device=device, **options)
        # Settings that cannot work (a size too small for the frames ...) fail here, not on the cluster.
        StyleTransfer(model, check.frames[0], styles, config, init_image=init_image, device="cpu")
        self.cluster, self.frames, self.independent, self.retries = cluster, check.frames, independent, retries
        self.flow_method = flow_method
        self.cpus, self.device = cpus, device
        task = cluster.task_options(cpus, device)
        threads = int(task["num_cpus"]) if not task["num_gpus"] else 1
        self.shared = Shared(model, list(styles), config, init_image, device, threads, options)
        self.plan = plan_chunks(len(self.frames), chunks or cluster.slots(cpus, device), 0 if independent else overlap)
        self.total = len(self.frames)
        self.stop_reason: str | None = None       # "finished", "cancelled", "failed" or "nan"
        self.retried = 0                          # tasks submitted again after their worker was lost
        self._outputs: list[list[Image.Image] | None] = [None] * len(self.plan)
        self._pool: TaskPool | None = None
        self._errors: list[float] | None = None

    def __iter__(self) -> Iterator[ChunkEvent]:
        ray = self.cluster.ray
        box = [ray.put(self.shared)]
        starts: dict[int, Image.Image | None] = {chunk.start: None for chunk in self.plan}
        if not self.independent and len(self.plan) > 1:
            first = self.cluster.remote(worker.style_first_frame, self.cpus, self.device)
            pool = self._pool_of([0], lambda _: first.remote(box, self.frames[0])).start()
            # While the cluster styles the first frame, the driver estimates the flow the starts follow.
            flows = flows_to_first(self.frames, list(starts), self.flow_method)
            for done in self._run(pool, lambda _: "the first frame"):
                starts = carry_along(done.value, flows)
            yield ChunkEvent(0, self.total, "first frame")
        remote = self.cluster.remote(worker.style_chunk, self.cpus, self.device)

        def submit(k: int):
            chunk = self.plan[k]
            return remote.remote(box, [self.frames[t] for t in chunk.frames], starts[chunk.start])

        done_frames = 0
        for done in self._run(self._pool_of(range(len(self.plan)), submit), lambda k: f"chunk {k + 1}"):
            chunk, outcome = self.plan[int(done.key)], done.value
            self._outputs[chunk.index] = outcome.images
            if outcome.stop_reason == "nan":
                self.stop_reason = "nan"
            done_frames += chunk.stop - chunk.own
            yield ChunkEvent(done_frames, self.total, f"chunk {chunk.index + 1}/{len(self.plan)} "
                                                      f"(frames {chunk.own + 1}-{chunk.stop})")
        self.stop_reason = self.stop_reason or "finished"

    def close(self) -> None:
        """Cancel the chunks still running; the finished ones are kept."""
        if self._pool is not None:
            for done in self._pool.stop():
                if done.error is None and hasattr(done.value, "images"):
                    self._outputs[int(done.key)] = done.value.images
        self.stop_reason = self.stop_reason or "cancelled"

    def run(self) -> list[Image.Image]:
        """Run to the end and return every frame."""
        for _ in self:
            pass
        return self.results()

    def results(self) -> list[Image.Image]:
        """The joined frames of the chunks finished in a row from the first (all of them, when done)."""
        finished = 0
        while finished < len(self.plan) and self._outputs[finished] is not None:
            finished += 1
        return join_chunks(self.plan[:finished], self._outputs[:finished]) if finished else []

    def pair_errors(self) -> list[float]:
        """The warping error of each consecutive pair of ``results()`` (see ``nst.distributed.chunks``)."""
        images = self.results()
        if self._errors is None or len(self._errors) != max(0, len(images) - 1):
            self._errors = pair_errors(images, self.frames[: len(images)], self.flow_method) if images else []
        return self._errors

    def flicker(self) -> float | None:
        """The mean warping error between consecutive frames (``nst.temporal.flicker``); None under two."""
        errors = self.pair_errors()
        return sum(errors) / len(errors) if errors else None

    def seam_flicker(self) -> tuple[float | None, float | None]:
        """The mean warping error of the frame pairs across the seams, and of the other pairs."""
        return seam_flicker(self.pair_errors(), seam_pairs(self.plan))

    def input_flicker(self) -> float | None:
        """The same measure for the input frames themselves: the floor set by flow errors and lighting."""
        return flicker(self.frames, self.frames, self.flow_method) if len(self.frames) > 1 else None

    # -- internals -----------------------------------------------------------------------------------

    def _pool_of(self, keys, submit) -> TaskPool:
        self._pool = TaskPool(self.cluster.ray, submit, keys, window=len(self.plan), retries=self.retries)
        return self._pool

    def _run(self, pool: TaskPool, what) -> Iterator:
        """The completions of ``pool``; on a failure, the rest cancelled and ``ChunkFailed`` naming ``what(key)``."""
        try:
            for done in pool:
                if done.error is not None:
                    self.close()
                    self.stop_reason = "failed"
                    raise ChunkFailed(f"{what(done.key)} failed: {error_text(done.error)}")
                yield done
        finally:
            self.retried += pool.retried
