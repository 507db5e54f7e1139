"""L-BFGS with one function evaluation per step and no host synchronisation.

Gatys et al. optimise the image with L-BFGS (Nocedal 1980; Liu & Nocedal 1989). A step here is what
``torch.optim.LBFGS(max_iter=1, line_search_fn=None)`` does, computed with tensor operations only, so
a step on a GPU queues its work without waiting for the device (PyTorch's version reads several
numbers back to the host per step, one per stored pair in each loop below), and constructing it does
not import PyTorch's compiler stack as ``torch.optim`` optimisers do (seconds at a program's start).

With the gradient ``g_k`` at ``x_k`` and the stored pairs ``s_i = x_{i+1} - x_i`` (the steps taken),
``y_i = g_{i+1} - g_i``, ``rho_i = 1 / (y_i . s_i)``, the direction ``d_k = -H_k g_k`` comes from the
two-loop recursion over the last ``m`` pairs:

    q = -g_k
    for i = k-1 ... k-m:  a_i = rho_i s_i . q;   q = q - a_i y_i
    r = gamma_k q,  gamma_k = (s_{k-1} . y_{k-1}) / (y_{k-1} . y_{k-1})
    for i = k-m ... k-1:  b_i = rho_i y_i . r;   r = r + (a_i - b_i) s_i
    d_k = r

and the step is ``x_{k+1} = x_k + t d_k`` with ``t = lr`` (on the first step ``t = lr min(1, 1/|g_0|_1)``,
since ``d_0 = -g_0`` has no curvature information yet). A pair whose curvature ``y . s`` is not
positive (more than 1e-10) would make ``H`` indefinite; PyTorch drops it, here it is kept with
``rho = 0``, which makes it add nothing to either loop, and ``gamma`` keeps its last value. No step
is taken (``t = 0``) when the gradient is zero to within ``tolerance_grad`` or ``d`` is not a descent
direction (``g . d >= -tolerance_change``).

The recursion is ``4 m`` dot products and vector updates, each a kernel of its own on a GPU (some 400
launches per step at ``m = 50``, costing more than the network's pass there). ``method="compact"``
(the default) applies the same ``H_k`` from the compact representation of Byrd, Nocedal & Schnabel
(1994) instead: two matrix-vector products with the stored pairs and ``m x m`` work
(``nst.lbfgs_compact``, formulas there); the iterates are the same to rounding. ``method="two_loop"``
keeps the recursion (``TwoLoopHistory``). On the CPU the compact form is no slower: it moves some
``6 m`` image-sized vectors through memory per step (three products over the ``2 m`` stored vectors)
where the recursion moves ``10 m`` in ``4 m`` short loops. Measured on one core of a 2-core CPU, a
step over a 3 x 384 x 512 image (a 512 px level) with 50 pairs stored and a cheap objective took
91-96 ms compact against 88-137 ms with the recursion (the machine was busy: the spread is noise).

One departure from PyTorch's (``backtrack=True``, the default): without a line search, a step can land
far uphill (on the stiff losses of shallow VGG layers at a coarse scale the loss can jump tenfold). When
the loss at ``x_{k+1}`` exceeds the loss at ``x_k`` by more than ``BACKTRACK_RISE``, the next step goes
back halfway instead, to ``x_k + s_k / 2``, and the uphill point leaves no curvature pair (its pair is
stored with ``rho = 0``); halving repeats while the loss keeps rising. The step length then remembers
it, as a factor ``f`` of ``lr`` that each uphill point halves and each other point doubles (up to 1)
after its step has used it: after a full step and ``j`` halvings the next step is ``t = lr 2^-j``, and the
steps after it ``lr 2^-(j-1)``, ... back to ``lr``. Without that memory the next full step can overshoot
just as far, and a level can spend all its steps in that cycle: a 448 px lion + the_scream level jumped
from a loss of 2.3 to 200-900 every four steps and ended with the image it had found after its first step
there. All this is chosen with tensor operations too (``torch.where``), so it adds no host
synchronisation. ``s_k`` is the step as taken: ``x_{k+1}`` as the closure found it (the engine clamps
the image to [0, 1] there) minus ``x_k``, the point kept as the reference. Halving the step as asked
for instead would, after a clamp, not lead back to ``x_k``: a 448 px run was seen to converge that way
to a point with a hundred times the loss.
"""

from __future__ import annotations

from typing import Callable

import torch

from .lbfgs_compact import CompactHistory

BACKTRACK_RISE = 0.5   # relative rise of the loss (a real jump, not L-BFGS's usual wobble) that sends the next step back halfway
CURVATURE_FLOOR = 1e-10  # a pair counts only if its curvature y . s is above this
METHODS = ("two_loop", "compact")
DEFAULT_METHOD = "compact"  # on CUDA and, measured, on the CPU too (see above)


class LBFGS:
    """Minimises a function of the tensor ``x`` (a leaf that requires grad), one evaluation per step."""

    def __init__(self, x: torch.Tensor, lr: float = 1.0, history_size: int = 50,
                 tolerance_grad: float = 1e-7, tolerance_change: float = 1e-9, backtrack: bool = True,
                 method: str | None = None) -> None:
        if history_size < 1:
            raise ValueError(f"history_size must be at least 1, got {history_size}")
        self.x = x
        self.lr = lr
        self.history_size = history_size
        self.tolerance_grad = tolerance_grad
        self.tolerance_change = tolerance_change
        self.method = DEFAULT_METHOD if method is None else method
        if self.method not in METHODS:
            raise ValueError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
        kind = CompactHistory if self.method == "compact" else TwoLoopHistory
        self.history = kind(x, history_size, CURVATURE_FLOOR)
        self.backtrack = backtrack
        self._previous_gradient: torch.Tensor | None = None  # g at the last point that did not go uphill
        self._reference: torch.Tensor | None = None          # that point
        self._previous_loss: torch.Tensor | None = None      # the loss there
        self._shrink: torch.Tensor | None = None             # f, the step length's factor of lr (see step)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clear ``x.grad`` before the closure computes it again."""
        if set_to_none or self.x.grad is None:
            self.x.grad = None
        else:
            self.x.grad.zero_()

    def step(self, closure: Callable[[], torch.Tensor]) -> torch.Tensor:
        """Evaluate ``closure`` (which computes the loss and ``x.grad``), then move ``x`` once; returns the loss."""
        with torch.enable_grad():
            loss = closure()
        if self.x.grad is None:
            raise RuntimeError("the closure must call backward() so that x has a gradient")
        with torch.no_grad():
            g = self.x.grad.detach().reshape(-1).clone()
            value = loss.detach().reshape(()).to(g.dtype)
            here = self.x.detach().reshape(-1)
            if self._previous_gradient is None:
                direction = -g
                t = self.lr * torch.clamp(1.0 / g.abs().sum(), max=1.0)
            else:
                uphill = value > self._previous_loss + BACKTRACK_RISE * self._previous_loss.abs()
                if not self.backtrack:
                    uphill = torch.zeros_like(uphill)
                # The step as taken: x now minus the reference point (the closure may have moved x since,
                # e.g. clamped it to the image's range, so this is not always the step that was asked for).
                taken = here - self._reference
                self.history.add(taken, g, self._previous_gradient, keep=~uphill)
                direction = self.history.direction(g)
                # The factor f: halved at each uphill point; at any other, used by this step, then doubled.
                self._shrink = torch.where(uphill, 0.5 * self._shrink, self._shrink)
                t = self.lr * self._shrink
                self._shrink = torch.where(uphill, self._shrink, torch.clamp(2.0 * self._shrink, max=1.0))
            descends = (g.abs().max() > self.tolerance_grad) & (g.dot(direction) < -self.tolerance_change)
            step = direction * torch.where(descends, t, torch.zeros_like(t))
            if self._previous_gradient is not None:  # uphill: back to halfway to the reference instead
                step = torch.where(uphill, -0.5 * taken, step)
                self._reference = torch.where(uphill, self._reference, here)
                self._previous_gradient = torch.where(uphill, self._previous_gradient, g)
                self._previous_loss = torch.where(uphill, self._previous_loss, value)
            else:
                self._previous_gradient, self._reference, self._previous_loss = g, here.clone(), value
                self._shrink = torch.ones((), dtype=g.dtype, device=g.device)
            self.x.add_(step.view_as(self.x))
        return loss



class TwoLoopHistory:
    """The last ``size`` pairs as a list of ``(s_i, y_i, rho_i)``, and ``-H g`` by the two-loop recursion."""

    def __init__(self, like: torch.Tensor, size: int, curvature_floor: float) -> None:
        self.size = size
        self.floor = curvature_floor
        self.pairs: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = []  # oldest first
        self.gamma = torch.ones((), dtype=like.dtype, device=like.device)

    def __len__(self) -> int:
        return len(self.pairs)

    def curved(self) -> torch.Tensor:
        """Whether each stored pair counts (``rho > 0``), oldest first."""
        return torch.stack([rho > 0 for _, _, rho in self.pairs])

    def add(self, s: torch.Tensor, g: torch.Tensor, previous_gradient: torch.Tensor,
            keep: torch.Tensor) -> None:
        """Store the pair ``(s, y = g - previous_gradient)``. Once the history is full, the oldest pair's
        tensors take the new one, so a long run allocates no history tensors after its first ``m`` steps
        (a CPU allocator would otherwise keep the freed ones around, at up to ``m`` image-sized blocks).
        ``keep`` False (a tensor) stores it with ``rho = 0``: it then adds nothing to either loop."""
        if len(self.pairs) == self.size:
            old_s, old_y, _ = self.pairs.pop(0)
            s = old_s.copy_(s)
            y = torch.sub(g, previous_gradient, out=old_y)
        else:
            y = g - previous_gradient
        ys = y.dot(s)
        curved = (ys > self.floor) & keep
        rho = torch.where(curved, 1.0 / ys, torch.zeros_like(ys))
        self.gamma = torch.where(curved, ys / y.dot(y), self.gamma)
        self.pairs.append((s, y, rho))

    def direction(self, g: torch.Tensor) -> torch.Tensor:
        """``-H g`` by the two-loop recursion (see ``nst.lbfgs``)."""
        q = -g
        alphas = []
        for s, y, rho in reversed(self.pairs):
            a = rho * s.dot(q)
            q.addcmul_(y, a, value=-1)
            alphas.append(a)
        r = q.mul_(self.gamma)
        for (s, y, rho), a in zip(self.pairs, reversed(alphas)):
            b = rho * y.dot(r)
            r.addcmul_(s, a - b)
        return r
