"""The app's run stream: the cost plan of a run's steps and the time left it gives.

A coarse-to-fine run spends most of its time at its last scale: a step at a scale whose longest side
is ``s`` costs about ``s^2``. Checked: ``Plan`` counts the cost of the steps done and left over every
scale; the ``Clock`` estimates the time left from that cost (not from the current scale's rate, which
said "about 15 s left" at 13 s of a 75 s run); a run's plan follows its retry at a smaller size.
"""

from __future__ import annotations

import pytest

from nst import TransferConfig
from studio import runtime
from studio.jobs import SingleJob
from studio.stream import Clock, Plan

SCALES = [(33, 64), (33, 128), (34, 256)]  # (steps, longest side): 100 steps over three scales
SECONDS = 75.0                             # what the whole run takes


def test_a_plan_counts_the_cost_of_the_steps_at_every_scale():
    plan = Plan([(2, 10), (3, 20)])
    assert plan.total == 2 * 100 + 3 * 400
    assert plan.split(0) == (0, 1400)
    assert plan.split(2) == (200, 1200)
    assert plan.split(4) == (1000, 400)
    assert plan.split(5) == (1400, 0)
    assert plan.split(7) == (1400, 0), "a step past the plan costs nothing more"


def simulated_run(warm_up: float = 0.5) -> tuple[list[float], list[float], list[float]]:
    """A fake clock through a run whose step at side ``s`` takes ``k s^2`` seconds (``SECONDS`` in all) after
    ``warm_up``: the elapsed time, the estimated and the true time left after each step."""
    now = [0.0]
    clock, plan = Clock(None, now=lambda: now[0]), Plan(SCALES)
    k = SECONDS / plan.total
    durations = [k * side ** 2 for steps, side in SCALES for _ in range(steps)]
    now[0] = warm_up
    elapsed, estimated, true = [], [], []
    for step in range(1, len(durations) + 1):
        now[0] += durations[step - 1]
        elapsed.append(clock.elapsed)
        estimated.append(clock.left(*plan.split(step)))
        true.append(sum(durations[step:]))
    return elapsed, estimated, true


def test_the_time_left_counts_every_remaining_scale():
    elapsed, estimated, true = simulated_run()
    at_13_s = next(i for i, t in enumerate(elapsed) if t >= 13)
    assert true[at_13_s] > 55 and estimated[at_13_s] == pytest.approx(true[at_13_s], rel=0.02)
    assert all(e == pytest.approx(t, rel=0.02, abs=0.05) for e, t in zip(estimated[1:], true[1:]))
    assert estimated[0] > true[0], "after one step, its warm-up counts too: an estimate on the safe side"


def test_the_time_left_is_measured_again_after_a_restart():
    now = [0.0]
    clock, plan = Clock(None, now=lambda: now[0]), Plan([(10, 100)])
    for step in (1, 2, 3):
        now[0] += 1.0
        clock.left(*plan.split(step))
    clock.restart()  # a lighter attempt counts its steps from 1 again, each four times as fast
    for step in (1, 2, 3):
        now[0] += 0.25
        left = clock.left(*plan.split(step))
    assert left == pytest.approx(7 * 0.25)


def test_the_clock_keeps_the_time_limit():
    now = [0.0]
    clock = Clock(10.0, now=lambda: now[0])
    assert not clock.out_of_time()
    now[0] = 10.5
    assert clock.out_of_time() and clock.timed_out
    assert not Clock(None, now=lambda: 1e9).out_of_time()


def test_a_single_runs_plan_is_its_scales_and_follows_a_retry(content, style, tiny_model, monkeypatch):
    monkeypatch.setattr(runtime, "get_model", lambda: tiny_model)
    config = TransferConfig(size=64, steps=10, scales=2, min_scale_size=32)
    job = SingleJob(content, [style], config, mode="single", settings={})
    assert job.work(0) == (0, 5 * 32 ** 2 + 5 * 64 ** 2)
    assert job.work(5) == (5 * 32 ** 2, 5 * 64 ** 2)
    retry = SingleJob(content, [style], config.replace(size=48, scales=1), mode="single", settings={}).run.attempt
    job.run.attempt = retry  # what RetryingTransfer does after running out of memory
    assert job.work(4) == (4 * 48 ** 2, 6 * 48 ** 2)
