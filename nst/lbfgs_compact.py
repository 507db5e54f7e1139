"""The L-BFGS direction from the compact representation: a few large matrix products per step.

Byrd, Nocedal & Schnabel (1994), "Representations of quasi-Newton matrices and their use in limited
memory methods", Theorem 2.2: with the stored pairs as the columns of ``S = [s_1 ... s_m]`` and
``Y = [y_1 ... y_m]`` (oldest first) and ``H_0 = gamma I``,

    H = gamma I + [S  gamma Y] [[R^-T (D + gamma Y^T Y) R^-1, -R^-T], [-R^-1, 0]] [S^T ; gamma Y^T]

where ``R`` is the upper triangle of ``S^T Y`` (``R_ij = s_i . y_j`` for ``i <= j``) and
``D = diag(s_i . y_i)``. It is the matrix the two-loop recursion of ``nst.lbfgs`` applies. With
``a = S^T g`` and ``b = Y^T g``:

    u = R^-1 a,    p = R^-T ((D + gamma Y^T Y) u - gamma b)
    d = -H g = -gamma g - S p + gamma Y u = -gamma g + [S  Y] c,    c = [-p ; gamma u]

The pairs are the rows of one ``2m x n`` matrix ``W`` (``s_i`` then ``y_i`` for each pair: ``W`` is
``[S^T ; Y^T]`` with its rows interleaved), allocated with the first pair, so a step is one product
``W g`` (the ``2m`` numbers ``a``, ``b``), two triangular solves of size ``m``, and one product
``W^T c``, where the two-loop recursion takes ``4 m`` dot products and vector updates (on a GPU each
of those is a kernel launch of its own). ``S^T Y`` and ``Y^T Y`` are ``m x m`` matrices that gain a
row and a column when a pair is added, from the one product ``W [s_new  y_new]``; they are never
recomputed.

**Order.** ``W`` is a ring buffer: pair ``k`` (counted from 0) takes rows ``2 (k mod m)`` and
``2 (k mod m) + 1``, over the oldest pair once the buffer is full, so its rows are not in time order.
The small state (``S^T Y``, ``Y^T Y``, which pairs count) is kept oldest first and shifted by one when
the oldest pair leaves; the vectors ``W g`` and ``c`` cross between the two orders with ``torch.roll``
by the oldest pair's place in the ring (the count of pairs added, mod ``m``: the host counts it, no
value is read back). Until the buffer is
full only its filled rows take part (so it is allocated without zeroing, and its pages are touched as
it fills); from then on every shape is the same at each step.

**Pairs that count for nothing.** A pair without positive curvature (``s . y`` not above the floor),
or the uphill pair of a step taken back, is stored in the two-loop recursion with ``rho = 0``, where
it adds nothing. Here its row and column of ``R`` and ``Y^T Y`` and its entries of ``a``, ``b`` and
``D`` are masked to zero, and its diagonal entry of ``R`` set to 1: its equations decouple into
``u_i = 0``, ``p_i = 0``, and those of the other pairs are exactly the ones of the kept pairs alone
(with ``torch.where``: no branch on a value). ``gamma = (s . y) / (y . y)`` of the newest kept pair,
as in the two-loop recursion.

The ``m x m`` work is done in float64 (in the image's dtype on a device without float64): a few
thousand numbers, so the solves add no rounding of note to that of the products with ``W``.
"""

from __future__ import annotations

import torch


class CompactHistory:
    """The last ``size`` pairs of an L-BFGS run and ``-H g`` from them (``add``, ``direction``)."""

    def __init__(self, like: torch.Tensor, size: int, curvature_floor: float) -> None:
        self.size = size
        self.floor = curvature_floor
        self.count = 0                         # pairs added so far, counted on the host
        self.rows: torch.Tensor | None = None  # s_0, y_0, s_1, y_1, ... in ring order, allocated with the first pair
        small = like.dtype if like.device.type == "mps" else torch.float64
        self.sy = torch.zeros(size, size, dtype=small, device=like.device)  # s_i . y_j, oldest first
        self.yy = torch.zeros(size, size, dtype=small, device=like.device)  # y_i . y_j
        self.kept = torch.zeros(size, dtype=torch.bool, device=like.device)  # which pairs count
        self.gamma = torch.ones((), dtype=small, device=like.device)
        self._upper = torch.ones(size, size, dtype=torch.bool, device=like.device).triu()
        self._zero = torch.zeros((), dtype=small, device=like.device)

    def __len__(self) -> int:
        return min(self.count, self.size)

    def curved(self) -> torch.Tensor:
        """Whether each stored pair counts, oldest first."""
        return self.kept[:len(self)]

    def add(self, s: torch.Tensor, g: torch.Tensor, previous_gradient: torch.Tensor,
            keep: torch.Tensor) -> None:
        """Store ``(s, y = g - previous_gradient)`` over the oldest pair; it counts if its curvature is
        above the floor and ``keep`` (a boolean tensor) holds."""
        m = self.size
        if self.rows is None:  # rows not yet filled are never read: no need to zero them
            self.rows = torch.empty(2 * m, s.numel(), dtype=s.dtype, device=s.device)
        row, full = self.count % m, self.count >= m
        self.rows[2 * row].copy_(s)
        torch.sub(g, previous_gradient, out=self.rows[2 * row + 1])
        self.count += 1
        k = len(self)
        # W [s_new  y_new] over the stored rows; the new pair's two rows are a view (no copy).
        products = (self.rows[:2 * k] @ self.rows[2 * row:2 * row + 2].T).to(self.sy.dtype).view(k, 2, 2)
        if full:  # the oldest pair leaves: shift the small state, bring the products to time order
            products = products.roll(-(row + 1), dims=0)
            self.sy = self.sy.roll((-1, -1), dims=(0, 1))
            self.yy = self.yy.roll((-1, -1), dims=(0, 1))
            self.kept = self.kept.roll(-1)
        t = k - 1  # the new pair's place, oldest first
        self.sy[:k, t] = products[:, 0, 1]  # s_i . y_new
        self.sy[t, :k] = products[:, 1, 0]  # s_new . y_i
        self.yy[:k, t] = products[:, 1, 1]
        self.yy[t, :k] = products[:, 1, 1]
        ys, yy = products[t, 1, 0], products[t, 1, 1]
        curved = (ys > self.floor) & keep
        self.kept[t] = curved
        self.gamma = torch.where(curved, ys / yy, self.gamma)

    def direction(self, g: torch.Tensor) -> torch.Tensor:
        """``-H g`` (see the module's docstring): two products with ``W`` and ``m x m`` work."""
        k = len(self)
        shift = self.count % k  # the oldest pair's place in the ring (0 until it is full)
        kept, gamma, sy, zero = self.kept[:k], self.gamma, self.sy[:k, :k], self._zero
        both = kept[:, None] & kept[None, :]
        ab = (self.rows[:2 * k] @ g).to(sy.dtype).view(k, 2).roll(-shift, dims=0)  # rows s_i . g, y_i . g
        a = torch.where(kept, ab[:, 0], zero)[:, None]
        b = torch.where(kept, ab[:, 1], zero)[:, None]
        r = torch.where(both & self._upper[:k, :k], sy, zero) + torch.diag((~kept).to(sy.dtype))
        u = torch.linalg.solve_triangular(r, a, upper=True)
        d = torch.where(kept, sy.diagonal(), zero)[:, None]
        v = d * u + gamma * (torch.where(both, self.yy[:k, :k], zero) @ u) - gamma * b
        p = torch.linalg.solve_triangular(r.mT, v, upper=False)
        c = torch.cat([-p, gamma * u], dim=1).roll(shift, dims=0).reshape(-1).to(g.dtype)
        return torch.mv(self.rows[:2 * k].T, c).addcmul_(g, gamma.to(g.dtype), value=-1)
