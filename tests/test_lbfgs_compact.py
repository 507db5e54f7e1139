"""The compact representation of L-BFGS (``nst.lbfgs_compact``) takes the two-loop recursion's steps:
exactly in float64, through a ring buffer that wraps, with pairs that count for nothing mixed in; to
within a small tolerance on a float32 style-transfer level; without reading a value back."""

from __future__ import annotations

import pytest
import torch

from nst import StyleTransfer, TransferConfig
from nst.lbfgs import CURVATURE_FLOOR, LBFGS, TwoLoopHistory
from nst.lbfgs_compact import CompactHistory

from test_lbfgs import quadratic, rosenbrock, trajectory

pytestmark = pytest.mark.usefixtures("one_thread")


class Shadowed:
    """The two-loop history driving a run, a compact one fed the same pairs; records how far apart
    their directions are, and how many pairs were left out as uphill and for negative curvature."""

    def __init__(self, x: torch.Tensor, size: int) -> None:
        self.two_loop = TwoLoopHistory(x, size, CURVATURE_FLOOR)
        self.compact = CompactHistory(x, size, CURVATURE_FLOOR)
        self.errors: list[float] = []
        self.uphill = self.not_curved = 0

    def add(self, s, g, previous_gradient, keep) -> None:
        self.two_loop.add(s, g, previous_gradient, keep)
        self.compact.add(s, g, previous_gradient, keep)
        assert torch.equal(self.two_loop.curved(), self.compact.curved())
        assert torch.allclose(self.compact.gamma.to(g.dtype), self.two_loop.gamma, rtol=1e-12)
        self.uphill += not keep
        self.not_curved += bool(keep) and float(s.dot(g - previous_gradient)) < 0

    def direction(self, g: torch.Tensor) -> torch.Tensor:
        ours = self.compact.direction(g)
        theirs = self.two_loop.direction(g.clone())
        self.errors.append(float((ours - theirs).norm() / theirs.norm()))
        return theirs


def shadowed_run(f, history: int, steps: int, lr: float) -> Shadowed:
    shadows = []

    def make(x: torch.Tensor) -> LBFGS:
        optimizer = LBFGS(x, lr=lr, history_size=history, method="two_loop")
        optimizer.history = Shadowed(x, history)
        shadows.append(optimizer.history)
        return optimizer

    trajectory(make, f, torch.linspace(-1.2, 1.0, 20, dtype=torch.float64), steps)
    return shadows[0]


@pytest.mark.parametrize("backtrack", [False, True])
@pytest.mark.parametrize("problem, steps", [("quadratic", 130), ("rosenbrock", 40)])
@pytest.mark.parametrize("history", [3, 50])
def test_same_iterates_as_the_two_loop(problem, steps, history, backtrack):
    """The quadratic's 130 steps wrap even the 50-pair buffer twice. (Rosenbrock without a line search
    amplifies rounding: past some 55 steps PyTorch's and the two-loop's iterates part too.)"""
    f = quadratic()[0] if problem == "quadratic" else rosenbrock
    start = torch.linspace(-1.2, 1.0, 20, dtype=torch.float64)
    make = lambda method: lambda x: LBFGS(x, lr=0.5, history_size=history, backtrack=backtrack, method=method)  # noqa: E731
    compact, two_loop = trajectory(make("compact"), f, start, steps), trajectory(make("two_loop"), f, start, steps)
    for step, (a, b) in enumerate(zip(compact, two_loop)):
        assert torch.allclose(a, b, rtol=1e-9, atol=1e-9), f"step {step}: {(a - b).abs().max()}"


@pytest.mark.parametrize("history", [3, 50])
def test_same_directions_through_a_long_run_with_uphill_steps(history):
    """200 steps of Rosenbrock with steps four times too long (the 50-pair buffer wraps four times), the
    two-loop recursion driving: the compact directions from the same pairs agree to rounding all along."""
    shadow = shadowed_run(rosenbrock, history, 200, lr=4.0)
    assert shadow.uphill >= 10, shadow.uphill
    assert max(shadow.errors) < 1e-9


@pytest.mark.parametrize("history", [3, 50])
def test_same_directions_with_pairs_left_out_anywhere_in_the_ring(history):
    """Pairs from a random positive definite Hessian, one in four with its curvature made negative, one
    in five flagged uphill, one in ten a zero step: 150 of them through the ring, a direction after each."""
    generator = torch.Generator().manual_seed(0)
    n = 30
    half = torch.randn(n, n, generator=generator, dtype=torch.float64)
    hessian = half @ half.T / n + 0.1 * torch.eye(n, dtype=torch.float64)
    x = torch.zeros(n, dtype=torch.float64)
    two_loop, compact = TwoLoopHistory(x, history, CURVATURE_FLOOR), CompactHistory(x, history, CURVATURE_FLOOR)
    left_out = 0
    for _ in range(150):
        draw = torch.rand(3, generator=generator)
        s = torch.randn(n, generator=generator, dtype=torch.float64) * float(draw[2] > 0.1)
        y = hessian @ s * (-1 if draw[0] < 0.25 else 1) + 0.01 * torch.randn(n, generator=generator, dtype=torch.float64)
        keep = torch.tensor(bool(draw[1] >= 0.2))
        for h in (two_loop, compact):
            h.add(s, y, torch.zeros(n, dtype=torch.float64), keep)
        assert torch.equal(two_loop.curved(), compact.curved())
        left_out += not bool(compact.curved()[-1])
        g = torch.randn(n, generator=generator, dtype=torch.float64)
        theirs, ours = two_loop.direction(g.clone()), compact.direction(g)
        assert torch.allclose(ours, theirs, rtol=1e-9, atol=1e-12 * float(theirs.norm()))
    assert 40 <= left_out <= 110 and compact.curved().any()


def test_same_iterates_with_pairs_left_out():
    """Rosenbrock with steps far too long and a 3-pair ring: some steps go uphill and are taken back,
    some pairs have negative curvature; the iterates still agree."""
    shadow = shadowed_run(rosenbrock, 3, 40, lr=2.0)
    assert shadow.uphill >= 3 and shadow.not_curved >= 1, (shadow.uphill, shadow.not_curved)
    x0 = torch.linspace(-1.2, 1.0, 20, dtype=torch.float64)
    make = lambda method: lambda x: LBFGS(x, lr=2.0, history_size=3, method=method)  # noqa: E731
    for a, b in zip(trajectory(make("compact"), rosenbrock, x0, 40), trajectory(make("two_loop"), rosenbrock, x0, 40)):
        assert torch.allclose(a, b, rtol=1e-9, atol=1e-9)


def level(model, content, style, steps: int) -> list[float]:
    """The losses of ``steps`` steps of one 64 px level in float32, with a 50-pair history."""
    config = TransferConfig(size=64, scales=1, steps=steps, preview_every=0, precision="fp32")
    return [event.losses["total"] for event in StyleTransfer(model, content, [style], config, device="cpu")]


def test_a_float32_style_transfer_level_ends_at_the_same_loss(tiny_model, content, style, monkeypatch):
    """40 steps each way: the same loss to 10% (float32 rounding alone parts the two paths by a few per cent:
    the step as taken, ``x_{k+1} - x_k``, is rounded twice, and on this clamped level the two end 6% apart)."""
    ends = {}
    for method in ("two_loop", "compact"):
        monkeypatch.setattr("nst.lbfgs.DEFAULT_METHOD", method)
        losses = level(tiny_model, content, style, 40)
        assert losses[-1] < losses[0] / 3
        ends[method] = losses[-1]
    assert ends["compact"] == pytest.approx(ends["two_loop"], rel=0.10)


class AgainstFloat64:
    """A float32 compact history, and the two-loop recursion in float64 fed the same pairs."""

    def __init__(self, x: torch.Tensor, size: int) -> None:
        self.compact = CompactHistory(x, size, CURVATURE_FLOOR)
        self.exact = TwoLoopHistory(x.double(), size, CURVATURE_FLOOR)
        self.errors: list[float] = []

    def add(self, s, g, previous_gradient, keep) -> None:
        self.compact.add(s, g, previous_gradient, keep)
        self.exact.add(s.double(), g.double(), previous_gradient.double(), keep)

    def direction(self, g: torch.Tensor) -> torch.Tensor:
        ours, exact = self.compact.direction(g), self.exact.direction(g.double())
        self.errors.append(float((ours.double() - exact).norm() / exact.norm()))
        return ours


def test_float32_directions_stay_near_the_exact_ones_through_a_wrapped_buffer(tiny_model, content, style,
                                                                              monkeypatch):
    """70 steps of a float32 level (the 50-pair buffer wraps): each compact direction within 1e-5 of the
    float64 recursion's from the same pairs (measured: 3e-6 at most, the float32 recursion's 6e-7)."""
    runs = []

    def shadowed(x, **settings):
        optimizer = LBFGS(x, method="compact", **settings)
        optimizer.history = AgainstFloat64(x, settings["history_size"])
        runs.append(optimizer.history)
        return optimizer

    monkeypatch.setattr("nst.optimize.LBFGS", shadowed)
    level(tiny_model, content, style, 70)
    assert runs[0].compact.count == 69 and len(runs[0].errors) == 69
    assert max(runs[0].errors) < 1e-5


def test_no_value_is_read_back_to_the_host(monkeypatch):
    """A step queues its work without waiting on the device: no ``item``, ``bool``, ``float`` or ``tolist``."""
    f, _ = quadratic()
    x = torch.zeros(20, dtype=torch.float64, requires_grad=True)
    optimizer = LBFGS(x, history_size=4, method="compact")
    closure = lambda: optimizer.zero_grad() or f(x).backward() or f(x)  # noqa: E731
    optimizer.step(closure)

    def read_back(*args, **kwargs):
        raise AssertionError("a value was read back to the host")

    for name in ("item", "tolist", "__bool__", "__float__", "__int__", "__index__"):
        monkeypatch.setattr(torch.Tensor, name, read_back)
    for _ in range(8):  # through the wrap of the four-pair buffer
        optimizer.step(closure)
    monkeypatch.undo()
    assert len(optimizer.history) == 4 and optimizer.history.count == 8


def test_the_history_is_one_buffer_allocated_once_and_products_copy_nothing():
    """``W`` (2m rows the size of the image) is allocated with the first pair and refilled in place; what
    else the history holds is m x m; adding a pair allocates nothing the size of the image."""
    n, m = 4096, 4
    f = lambda x: ((x - 1) ** 2 * torch.linspace(1, 3, n)).sum()  # noqa: E731
    x = torch.zeros(n, requires_grad=True)
    optimizer = LBFGS(x, history_size=m, method="compact")
    closure = lambda: optimizer.zero_grad() or f(x).backward() or f(x)  # noqa: E731
    optimizer.step(closure)
    optimizer.step(closure)
    history = optimizer.history
    rows = history.rows.data_ptr()
    assert history.rows.shape == (2 * m, n) and history.rows.dtype == x.dtype
    from torch.profiler import ProfilerActivity, profile
    for _ in range(10):
        s, g, previous_gradient, keep = torch.randn(n), torch.randn(n), torch.randn(n), torch.tensor(True)
        with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as trace:
            history.add(s, g, previous_gradient, keep)
        largest = max(event.cpu_memory_usage for event in trace.events())
        assert 0 < largest < n * x.element_size(), largest  # the m x m products, nothing of the image's size
    assert history.rows.data_ptr() == rows
    small = [history.sy, history.yy, history.kept, history.gamma]
    assert sum(t.numel() for t in small) <= 2 * m * m + m + 1
