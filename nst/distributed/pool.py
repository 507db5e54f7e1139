"""A pool of Ray tasks that outlives lost workers: submit, collect each result once, resubmit, cancel.

Each key (an image of a batch, a chunk of a clip) is one task, made by ``submit(key)`` (which
returns its ``ObjectRef``). Iterating the pool yields a ``Completion`` per key as tasks finish, in
the order they finish. At most ``window`` tasks are in flight; the rest wait on the driver (so a
folder of ten thousand photos is not read into the object store at once).

A task whose worker is lost (killed, out of the node's memory, its node gone: Ray's
``WorkerCrashedError``, ``NodeDiedError``, ``ObjectLostError`` ...) left no result, so it is
submitted again, up to ``retries`` more times; ``retried`` counts those resubmissions. Each key's
result is taken once, from the attempt that finished, so nothing is written twice. An error raised
by the task's own code is not retried (it would fail again): it is handed back in the completion.

``stop()`` (Ctrl-C on the driver) collects the tasks that have already finished, cancels the rest
(stopping their workers) and drops the keys not yet submitted.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any, Callable, Hashable, Iterable, Iterator

DEFAULT_RETRIES = 3     # resubmissions of a task whose worker was lost
POLL_S = 0.5            # how long one wait for a finished task lasts, so Ctrl-C is seen promptly
_LOST = ("WorkerCrashedError", "NodeDiedError", "ObjectLostError", "LocalRayletDiedError", "RaySystemError",
         "OutOfMemoryError", "ActorDiedError")


@dataclass(frozen=True)
class Completion:
    """A key's task finished: its ``value``, or the ``error`` it ended with; ``attempts`` it took."""

    key: Hashable
    value: Any = None
    error: BaseException | None = None
    attempts: int = 1


def lost_worker_errors(ray) -> tuple[type[BaseException], ...]:
    """Ray's exceptions that mean a task's worker was lost, not that the task's code failed."""
    return tuple(getattr(ray.exceptions, name) for name in _LOST if hasattr(ray.exceptions, name))


def error_text(error: BaseException) -> str:
    """The first line that says what went wrong: a task's own exception rather than Ray's wrapping."""
    cause = getattr(error, "cause", None)
    if isinstance(cause, BaseException):
        error = cause
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return lines[0] if lines else type(error).__name__


class TaskPool:
    """Runs ``submit(key)`` for every key (see the module notes); iterate it for ``Completion``s."""

    def __init__(self, ray, submit: Callable[[Hashable], Any], keys: Iterable[Hashable], *, window: int,
                 retries: int = DEFAULT_RETRIES, poll: float = POLL_S) -> None:
        self._ray, self._submit, self.window, self.retries, self.poll = ray, submit, max(1, window), retries, poll
        self._backlog = deque(keys)
        self._pending: dict[Any, Hashable] = {}        # ObjectRef -> key
        self._early: list[Completion] = []            # keys whose submission itself failed
        self.attempts: dict[Hashable, int] = {}
        self.retried = 0                              # resubmissions after a lost worker
        self.cancelled = 0                            # keys given up by stop()
        self._lost = lost_worker_errors(ray)

    @property
    def left(self) -> int:
        """Keys not finished yet: running, waiting to run, or not yet submitted."""
        return len(self._pending) + len(self._backlog) + len(self._early)

    def start(self) -> "TaskPool":
        """Submit the first ``window`` tasks now (iterating does it too), so the driver can do other work."""
        self._fill()
        return self

    def __iter__(self) -> Iterator[Completion]:
        self._fill()
        while self._pending or self._early:
            while self._early:
                yield self._early.pop(0)
            if not self._pending:
                self._fill()
                continue
            ready, _ = self._ray.wait(list(self._pending), num_returns=1, timeout=self.poll)
            for ref in ready:
                done = self._collect(ref, retry=True)
                if done is not None:
                    yield done
            self._fill()

    def stop(self) -> list[Completion]:
        """Cancel: the completions of tasks already finished, then every other task cancelled."""
        finished = list(self._early)
        self._early.clear()
        if self._pending:
            ready, _ = self._ray.wait(list(self._pending), num_returns=len(self._pending), timeout=0)
            for ref in ready:
                done = self._collect(ref, retry=False)
                if done is not None:
                    finished.append(done)
        for ref in list(self._pending):
            try:
                self._ray.cancel(ref, force=True)
            except Exception:  # already finished, or its worker already gone: nothing left to stop
                pass
        self.cancelled = len(self._pending) + len(self._backlog)
        self._pending.clear()
        self._backlog.clear()
        return finished

    # -- internals -----------------------------------------------------------------------------------

    def _fill(self) -> None:
        while self._backlog and len(self._pending) < self.window:
            self._launch(self._backlog.popleft())

    def _launch(self, key: Hashable) -> None:
        self.attempts[key] = self.attempts.get(key, 0) + 1
        try:
            self._pending[self._submit(key)] = key
        except Exception as exc:  # the driver could not even hand the task out (an input it cannot read)
            self._early.append(Completion(key, error=exc, attempts=self.attempts[key]))

    def _collect(self, ref, retry: bool) -> Completion | None:
        key = self._pending.pop(ref)
        attempts = self.attempts[key]
        try:
            value = self._ray.get(ref)
        except self._lost as exc:
            if retry and attempts <= self.retries:
                self.retried += 1
                self._launch(key)
                return None
            return Completion(key, error=exc, attempts=attempts)
        except Exception as exc:  # the task's own error (RayTaskError), or a cancelled task
            return Completion(key, error=exc, attempts=attempts)
        return Completion(key, value, attempts=attempts)
