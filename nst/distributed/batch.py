"""A batch of images styled on a Ray cluster: one task per image, each result handed back once.

    cluster = connect("auto")
    batch = ClusterBatch(cluster, model, styles, config, photos)
    for done in batch:                 # BatchResult, in the order images finish
        save(done.path, done.outcome)  # the driver writes
    batch.retried                      # tasks submitted again after their worker was lost

The model, paintings and settings go to the object store once (``nst.distributed.worker.Shared``)
and every worker keeps them after its first task. Each image's file is read by the driver as its
task is submitted and travels as bytes, so the workers need not see the driver's disk; at most
``2 x slots + 2`` images are in flight (``slots``: the tasks the cluster runs at once, one per GPU
or per ``cpus`` cores, see ``nst.distributed.cluster``). A worker lost mid-image costs that image's
task, which is submitted again (``nst.distributed.pool``); an image that fails in its own right
(not an image, NaN, out of memory at the lightest settings) comes back as an ``Outcome`` with an
error, as it does on one machine. ``stop()`` hands back the images already finished and cancels
the rest.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

from PIL import Image

from ..config import TransferConfig
from . import worker
from .cluster import Cluster
from .pool import DEFAULT_RETRIES, Completion, TaskPool, error_text, lost_worker_errors
from .worker import Outcome, Shared


@dataclass(frozen=True)
class BatchResult:
    """Image ``index`` of the batch (its file ``path``) finished with ``outcome`` after ``attempts``."""

    index: int
    path: Path
    outcome: Outcome
    attempts: int = 1


class ClusterBatch:
    """Styles the image files ``paths`` on ``cluster``; iterate it for a ``BatchResult`` per image.

    ``model``, ``styles``, ``config``, ``init_image`` and ``device`` are those of a run on one
    machine; ``cpus`` the CPU cores per task where the cluster has no GPUs; ``retries`` how often
    an image whose worker was lost is submitted again.
    """

    def __init__(self, cluster: Cluster, model, styles: Sequence[Image.Image], config: TransferConfig,
                 paths: Sequence[Path], *, init_image: Image.Image | None = None, device: str = "auto",
                 cpus: int = 1, retries: int = DEFAULT_RETRIES) -> None:
        self.cluster, self.paths = cluster, list(paths)
        ray = cluster.ray
        options = cluster.task_options(cpus, device)
        self.slots = cluster.slots(cpus, device)
        threads = int(options["num_cpus"]) if not options["num_gpus"] else 1
        shared = Shared(model, list(styles), config, init_image, device, threads)
        self._box = [ray.put(shared)]
        self._remote = cluster.remote(worker.style_job, cpus, device)
        self._pool = TaskPool(ray, self._submit, range(len(self.paths)), window=2 * self.slots + 2,
                              retries=retries)
        self._lost = lost_worker_errors(ray)

    @property
    def retried(self) -> int:
        """Tasks submitted again because their worker was lost."""
        return self._pool.retried

    @property
    def cancelled(self) -> int:
        """Images given up by ``stop()``."""
        return self._pool.cancelled

    @property
    def left(self) -> int:
        """Images not finished yet."""
        return self._pool.left

    def __iter__(self) -> Iterator[BatchResult]:
        for completion in self._pool:
            yield self._result(completion)

    def stop(self) -> list[BatchResult]:
        """Cancel the batch: the images already finished (to be written), the others cancelled."""
        return [self._result(c) for c in self._pool.stop()]

    # -- internals -----------------------------------------------------------------------------------

    def _submit(self, index: int):
        path = self.paths[index]
        return self._remote.remote(self._box, path.name, path.read_bytes())

    def _result(self, completion: Completion) -> BatchResult:
        index = int(completion.key)
        outcome = completion.value
        if completion.error is not None:
            error = completion.error
            if isinstance(error, self._lost):
                message = f"its worker was lost {completion.attempts} time(s) ({type(error).__name__}); giving up"
            elif isinstance(error, OSError):
                message = f"could not be read ({error_text(error)})"
            else:
                message = error_text(error)
            outcome = Outcome(None, None, None, error=message)
        return BatchResult(index, self.paths[index], outcome, completion.attempts)
