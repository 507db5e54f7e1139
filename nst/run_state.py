"""One run's way through its levels and steps: the bookkeeping a ``StyleTransfer`` does around each step.

A ``RunState`` holds what a run has while it optimises: the level (scale) it is at, the image ``x``
(a leaf tensor ``[1, 3, H, W]``), that level's objective and optimiser, the best image so far, the
loss history and the early-stopping window. It does not drive the run: a driver calls

    while state.begin_level():               # False once every level is done
        while not state.level_over:
            ...                              # evaluate L(x), put dL/dx in x.grad, step the optimiser
            event = state.after_step()       # None: the loss was not finite (stop_reason "nan")
        state.end_level()
    state.finish()

``StyleTransfer`` drives one run this way (its ``closure`` is ``prepare`` then ``evaluate``), and
``nst.batch`` drives several in lock step: it calls ``prepare`` on each, evaluates them in one pass of
the network, hands each its loss with ``record``, and steps each run's own optimiser with ``move``.

Per step, ``after_step`` reads the losses back (once), keeps the image the step evaluated if its loss
is the lowest at this level, appends the losses to the history, makes a preview every
``preview_every`` steps (and at the last step), and checks early stopping: the level ends when the
loss improved by less than ``early_stop_tol`` (relative) over ``early_stop_patience`` steps,
``L_{k-p} - L_k < tol |L_{k-p}|``. At a level's end ``end_level`` evaluates the final image once more
(the loss recorded at a step is that of the image before it).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
from PIL import Image

from .image import resize_tensor, to_pil

if TYPE_CHECKING:
    from .optimize import StyleTransfer


@dataclass(frozen=True)
class StepEvent:
    """What happened at one optimiser step."""

    step: int                    # 1 .. total, over all scales
    total: int                   # steps planned in all (a run may end earlier)
    scale: int                   # 0-based index of the pyramid level
    scales: int                  # number of levels
    size: tuple[int, int]        # (height, width) being optimised now
    losses: dict[str, float]     # weighted terms "content", "style", "tv" and their sum "total"
    elapsed: float               # seconds since the run started
    image: Image.Image | None = None  # a preview of the current image, every preview_every steps


@dataclass
class Best:
    """The lowest loss seen at the current level, and the image that had it."""

    loss: float = float("inf")
    image: torch.Tensor | None = None


def finite(value: float) -> bool:
    """Neither NaN nor infinite."""
    return value == value and abs(value) != float("inf")


class RunState:
    """The progress of ``run`` (a ``StyleTransfer``) through its levels and steps; see the module notes.

    The run's own ``history``, ``stop_reason``, best image and current image are kept on the run, so
    ``result()`` and ``has_image`` work however the run is driven.
    """

    def __init__(self, run: StyleTransfer) -> None:
        self.run = run
        self.start: float | None = None  # when the first level began
        self.step = 0                    # steps done over all levels
        self.level = -1                  # the level now optimised (-1: none yet)
        self.shape: tuple[int, int] | None = None
        self.x: torch.Tensor | None = None
        self.objective = None            # the level's Objective (or TiledObjective)
        self.optimizer = None
        self.converged = False           # the level now (or last) optimised ended early
        self.steps_left = 0
        self._recent: list[float] = []
        self._record: dict[str, torch.Tensor] = {}
        self._evaluated: torch.Tensor | None = None  # the image the recorded losses are of
        self._loss: torch.Tensor | None = None

    # -- levels --------------------------------------------------------------------------------------

    def begin_level(self) -> bool:
        """Set up the next level: its targets and objective, the image (the init, or the best image of the
        level before upsampled) and a fresh optimiser. False when every level is done."""
        run = self.run
        if self.level + 1 >= len(run.sizes):
            return False
        if self.start is None:
            self.start = time.perf_counter()
        self.level += 1
        self.shape = shape = run._level_shape(run.sizes[self.level])
        self.objective, content = run.level_objective(self.level, shape)
        x = run._initial(shape, content) if self.level == 0 else resize_tensor(run._best_so_far(), shape)
        del content
        self.x = x.detach().clone().requires_grad_(True)
        run._current = self.x
        run._best = Best(image=self.x.detach().clone())
        self.optimizer = run._optimizer(self.x, run.plan.levels[self.level].history)
        self.steps_left = run.steps_per_scale[self.level]
        self._recent = []
        self.converged = False
        return True

    @property
    def level_over(self) -> bool:
        """Whether this level has had its steps, or stopped early."""
        return self.converged or self.steps_left <= 0

    def end_level(self) -> None:
        """One last look at the level's final image, then let go of its optimiser and objective (the next
        level's targets are computed without them)."""
        with torch.no_grad():
            self.x.clamp_(0, 1)
            final, _ = self.objective.value(self.x)
            if float(final) < self.run._best.loss:
                self.run._best = Best(float(final), self.x.detach().clone())
        self.release()

    def release(self) -> None:
        """Let go of the level's optimiser (L-BFGS's history) and objective (its targets): at a level's end,
        and when the run ends early (cancelled, NaN, failed), whatever holds on to the run after."""
        self.optimizer = self.objective = None
        self._record, self._evaluated, self._loss = {}, None, None

    def finish(self) -> None:
        """The run went through every level: "converged" if its last level stopped early, else "finished"."""
        if self.run.stop_reason is None:
            self.run.stop_reason = "converged" if self.converged else "finished"

    # -- one step ------------------------------------------------------------------------------------

    def prepare(self) -> None:
        """Before an evaluation: ``x`` clamped to [0, 1], its gradient cleared."""
        with torch.no_grad():
            self.x.clamp_(0, 1)
        self.optimizer.zero_grad(set_to_none=True)

    def record(self, loss: torch.Tensor, terms: dict[str, torch.Tensor]) -> None:
        """Keep this step's loss (the first evaluation's terms, and the image they are of)."""
        if not self._record:
            self._record.update({k: v.detach() for k, v in terms.items()}, total=loss.detach())
            self._evaluated = self.x.detach().clone()
        self._loss = loss

    def evaluate(self) -> torch.Tensor:
        """``L(x)``, with ``dL/dx`` put in ``x.grad``, recorded."""
        loss, terms = self.objective.evaluate(self.x)
        self.record(loss, terms)
        return loss

    def closure(self) -> torch.Tensor:
        """The optimiser's closure for a run evaluated on its own."""
        self.prepare()
        return self.evaluate()

    def move(self) -> None:
        """Step the optimiser with the loss already recorded and its gradient already in ``x.grad``."""
        self.optimizer.step(lambda: self._loss)

    def after_step(self) -> StepEvent | None:
        """The bookkeeping after the optimiser's step (see the module notes); the step's event, or None when
        its loss was not finite (the run then has ``stop_reason`` "nan" and keeps its last good image)."""
        run, c = self.run, self.run.config
        self.step += 1
        self.steps_left -= 1
        record, self._record, self._loss = self._record, {}, None
        # One read-back per step: the device runs ahead until here.
        losses = dict(zip(record, torch.stack(list(record.values())).tolist()))
        if losses["total"] < run._best.loss:
            run._best = Best(losses["total"], self._evaluated)
        self._evaluated = None
        run.history.append(losses)
        if not all(map(finite, losses.values())):
            run.stop_reason = "nan"
            return None
        preview = None
        if self.step == run.total or (c.preview_every and self.step % c.preview_every == 0):
            preview = to_pil(run._finish(self.x.detach().clamp(0, 1)))
        event = StepEvent(self.step, run.total, self.level, len(run.sizes), self.shape, losses,
                          time.perf_counter() - self.start, preview)
        self._recent.append(losses["total"])
        if c.early_stop_tol > 0 and len(self._recent) > c.early_stop_patience:
            before = self._recent[-1 - c.early_stop_patience]
            self.converged = before - losses["total"] < c.early_stop_tol * abs(before)
        return event
