"""Several style-transfer runs optimised together: one pass of VGG-19 per step over all their images.

A step of one 512 px run leaves most of a large GPU idle. ``BatchedTransfer`` takes several
``StyleTransfer`` runs (each with its own content, styles and settings) and steps them in lock step:
per step, the images of the runs at the same size, ``x_1 ... x_N`` (each a leaf ``[1, 3, H, W]``), go
through the network as one batch ``[N, 3, H, W] = cat(x_1, ..., x_N)``; run ``i``'s objective
(``nst.objective``) is computed from its slice of the features, ``L_i(x_i)``; one backward pass of

    L = sum_i L_i(x_i)

gives each run its own gradient, ``dL/dx_i = dL_i/dx_i``, since ``L_j`` does not depend on ``x_i`` for
``j != i`` (VGG-19 has no batch normalisation: each image's features depend on that image alone). Then
each run's own L-BFGS takes its step (its closure hands back the loss already computed, the gradient
already in its leaf). Everything else is the run's own, exactly as when it runs alone
(``nst.run_state.RunState``): its optimiser state, best image, loss history, previews, early stopping
and stop reason, and its events, which are handed out tagged with the run's index.

Which runs share a pass: those that can be batched (``batch_key``: L-BFGS, every level of the plan
whole, not tiled) and are, this step, at the same level shape with the same network, device,
precision and pooling; runs given with the same ``batch_key`` (same level shapes and steps) stay in
lock step, unless one of them stops early. A run that cannot be batched (tiled, Adam) is stepped on
its own, one step per round. A run that is cancelled (``cancel(i)``, or the run's own ``close()``),
converges, finishes, or whose loss is not finite (stop reason "nan") leaves; the others go on.

Memory: VGG-19's activations grow with the batch. A pass takes at most as many images as the runs'
memory plans (``nst.memory``) say fit together, ``F + sum_i (P_i - F) <= B`` with ``P_i`` each run's
estimated peak at its level, ``F`` what every run's estimate counts once (the process and the
network's weights) and ``B`` the smallest of their budgets, and at most ``limit``. Should a batched
pass still run out of memory, or fail otherwise, nothing has moved yet (only the clamped images and
their gradients are touched before the optimisers' steps), so the pass is done again in two halves,
and the limit halved for the passes after it; a run that fails on its own leaves with the error in
``errors``, its best image kept.

Measured on the CPU (tiny random VGG-19, float32): the batched features are those of each image alone
bit for bit; the batched backward pass sums the convolutions' input gradients in another order, so a
gradient differs by about 1e-7 relative. L-BFGS carries that rounding along: a batched run's losses
stayed within 1e-5 (relative) of the run alone over its first 14 steps, and drifted to 1.5e-3 by step
20 on one run, its image within one grey level (the kind of difference two machines make). A batch of
one is the run alone exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Iterator, Sequence

import torch

from .features import deepest
from .memory import RUNTIME, model_bytes
from .optimize import StyleTransfer
from .recovery import free_memory, is_out_of_memory
from .run_state import RunState, StepEvent


def batch_key(run: StyleTransfer) -> tuple | None:
    """What runs must share to be optimised in lock step: the network, device, precision, pooling and
    deepest layer, and every level's shape and steps. None for a run that cannot join a batch (Adam, or a
    level of its plan in tiles)."""
    c = run.config
    if c.optimizer != "lbfgs" or any(level.tiled for level in run.plan.levels):
        return None
    layers = (*c.content_layers, *c.style_layers)
    return (id(run.model), str(run.device), run.dtype, c.pooling, deepest(layers) if layers else None,
            tuple((level.shape, steps) for level, steps in zip(run.plan.levels, run.steps_per_scale)))


@dataclass(eq=False)
class Member:
    """One run in a ``BatchedTransfer``: batched (``state``) or stepped on its own (``alone``)."""

    index: int
    run: StyleTransfer
    state: RunState | None = None            # batched: its progress, driven by the batch
    alone: Iterator[StepEvent] | None = None  # not batchable: the run's own loop
    cancelled: bool = False
    left: bool = False

    def stack_key(self) -> tuple:
        """What the runs of one pass share now: network, device, precision, pooling and the level's shape."""
        run = self.run
        return id(run.model), str(run.device), run.dtype, run.config.pooling, self.state.shape


class BatchedTransfer:
    """Runs optimised together (see the module notes); iterate it for ``(index, StepEvent)`` pairs.

    ``runs`` (more with ``add``, between rounds) must not have started. ``limit`` caps the images in one
    pass (default: as many as fit in memory). Each round steps every run still in once; ``round()`` does
    one and returns its events, with ``(index, None)`` for a run that left in it. ``cancel(index)`` (from
    any thread) or the run's own ``close()`` ends a batched run after its current step; the run's
    ``result()`` is its best image, as when it runs alone. ``errors`` maps the index of a run that failed
    to its exception. ``passes`` counts the batched passes of the network, ``sizes`` their batch sizes.
    """

    def __init__(self, runs: Iterable[StyleTransfer] = (), *, limit: int | None = None) -> None:
        if limit is not None and limit < 1:
            raise ValueError(f"limit must be at least 1 image per pass, got {limit}")
        self.limit = limit
        self.members: list[Member] = []
        self.errors: dict[int, BaseException] = {}
        self.sizes: list[int] = []
        for run in runs:
            self.add(run)

    # -- the public surface ------------------------------------------------------------------------

    @property
    def runs(self) -> list[StyleTransfer]:
        return [m.run for m in self.members]

    @property
    def passes(self) -> int:
        return len(self.sizes)

    @property
    def active(self) -> list[int]:
        """The indices of the runs still being optimised."""
        return [m.index for m in self.members if not m.left]

    def add(self, run: StyleTransfer) -> int:
        """Take ``run`` (not started) into the batch; its index in the events."""
        member = Member(len(self.members), run)
        state = run.claim()  # RuntimeError for a run already driven
        if batch_key(run) is None:
            member.alone = run._run(state)  # the run's own loop, stepped here
        else:
            member.state = state
            run.model.to(run.device)
        self.members.append(member)
        return member.index

    def cancel(self, index: int) -> None:
        """End run ``index`` after its current step (safe from another thread); it keeps its best image."""
        self.members[index].cancelled = True

    def close(self) -> None:
        """Cancel every run still in."""
        for member in self.members:
            if not member.left:
                self._leave(member, cancel=True)

    def __iter__(self) -> Iterator[tuple[int, StepEvent]]:
        try:
            while self.active:
                for index, event in self.round():
                    if event is not None:
                        yield index, event
        except GeneratorExit:
            self.close()
            raise

    def round(self) -> list[tuple[int, StepEvent | None]]:
        """One step of every run still in; their events, and ``(index, None)`` for each run that left."""
        out: list[tuple[int, StepEvent | None]] = []
        ready: dict[tuple, list[Member]] = {}
        for member in self.members:
            if member.left:
                continue
            if member.cancelled or member.run.stop_reason is not None:
                self._leave(member, cancel=True)
            elif member.alone is not None:
                self._step_alone(member, out)
                continue
            elif self._guard(member, self._advance):
                ready.setdefault(member.stack_key(), []).append(member)
            if member.left:
                out.append((member.index, None))
        for group in ready.values():
            for chunk in self._chunks(group):
                self._step_together(chunk, out)
        return out

    # -- internals -----------------------------------------------------------------------------------

    def _leave(self, member: Member, cancel: bool = False, error: BaseException | None = None) -> None:
        member.left = True
        if error is not None:
            self.errors[member.index] = error
        if cancel and member.alone is not None:
            member.alone.close()  # its own loop records "cancelled" (if it had begun)
        if cancel and member.run.stop_reason is None:
            member.run.close()
        if member.state is not None:
            member.state.release()

    def _guard(self, member: Member, action) -> bool:
        """``action(member)``; False once the member has left (the action's error, if any, kept)."""
        try:
            action(member)
        except Exception as exc:
            self._leave(member, error=exc)
        return not member.left

    def _advance(self, member: Member) -> None:
        """Move a batched run whose level is over on to its next level, or out when it has none."""
        state = member.state
        while state.level_over:
            if state.level >= 0:
                state.end_level()
            if not state.begin_level():
                state.finish()
                self._leave(member)
                return

    def _step_alone(self, member: Member, out: list) -> None:
        try:
            event = next(member.alone)
        except StopIteration:
            self._leave(member)
            out.append((member.index, None))
        except Exception as exc:
            self._leave(member, error=exc)
            out.append((member.index, None))
        else:
            out.append((member.index, event))

    def _chunks(self, group: Sequence[Member]) -> list[list[Member]]:
        """``group`` cut into passes that fit in memory together (see the module notes) and in ``limit``."""
        chunks: list[list[Member]] = [[]]
        need = 0
        for member in group:
            run, level = member.run, member.state.level
            fixed = RUNTIME.get(run.device.type, 0) + model_bytes(run.model)
            budget = min([run.plan.budget, *(m.run.plan.budget for m in chunks[-1])])
            extra = max(0, run.plan.levels[level].peak - fixed)
            full = self.limit is not None and len(chunks[-1]) >= self.limit
            if chunks[-1] and (full or fixed + need + extra > budget):
                chunks.append([])
                need = 0
            chunks[-1].append(member)
            need += extra
        return chunks

    def _step_together(self, chunk: list[Member], out: list) -> None:
        """One step of the runs of ``chunk``: one batched pass, then each run's own optimiser step."""
        failure: BaseException | None = None
        try:
            evaluated = self._evaluate(chunk)
        except Exception as exc:
            failure = exc
        if failure is not None:
            if len(chunk) == 1:
                self._leave(chunk[0], error=failure)
                out.append((chunk[0].index, None))
                return
            if is_out_of_memory(failure):
                self.limit = max(1, len(chunk) // 2)
            failure = None  # its traceback holds the failed pass's tensors
            free_memory()
            half = len(chunk) // 2
            self._step_together(chunk[:half], out)
            self._step_together(chunk[half:], out)
            return
        # Every run's optimiser step is queued before the first read-back (in after_step), so a GPU runs
        # them back to back rather than waiting for the host between them.
        moved = []
        for member, (loss, terms) in zip(chunk, evaluated):
            try:
                member.state.record(loss, terms)
                member.state.move()
            except Exception as exc:
                self._leave(member, error=exc)
                out.append((member.index, None))
            else:
                moved.append(member)
        for member in moved:
            event = None
            try:
                event = member.state.after_step()
                if event is None:  # the loss was not finite: stop reason "nan"
                    self._leave(member)
            except Exception as exc:
                self._leave(member, error=exc)
            out.append((member.index, event))

    def _evaluate(self, chunk: list[Member]) -> list[tuple[torch.Tensor, dict[str, torch.Tensor]]]:
        """``L_i(x_i)`` and its terms for every run of ``chunk`` from one pass over ``cat(x_i)``, with
        ``d(sum_i L_i)/dx_i`` in each ``x_i.grad``."""
        states = [m.state for m in chunk]
        for state in states:
            state.prepare()
        layers = list(dict.fromkeys(l for s in states for l in s.objective.layers))
        evaluated = []
        with torch.enable_grad():
            feats = chunk[0].run._features(torch.cat([s.x for s in states]), layers)
            for i, state in enumerate(states):
                own = {l: feats[l][i:i + 1] for l in state.objective.layers}
                evaluated.append(state.objective.from_features(state.x, own))
            torch.stack([loss for loss, _ in evaluated]).sum().backward()
        self.sizes.append(len(chunk))
        return evaluated
