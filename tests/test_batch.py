"""Runs optimised together (``nst.batch``): each gets what it gets alone, and leaves without upsetting the rest.

In float32 the batched pass gives each image's features bit for bit, but the backward pass over a
batch sums the convolutions' input gradients in another order (about 1e-7 relative); L-BFGS carries
that rounding along, so a batched run's losses follow its run alone to ``REL`` (measured: under 1e-5
over the first 14 steps of these runs, 1.5e-3 by step 20 of one of them), and its image to a grey level.
A batch of one, and a run stepped on its own in a batch, repeat the plain run exactly.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from nst.batch import BatchedTransfer, batch_key
from nst.config import TransferConfig
from nst.memory import RUNTIME, model_bytes
from nst.optimize import StyleTransfer

from .conftest import asset_at

pytestmark = pytest.mark.usefixtures("one_thread")

STEPS = 10
REL = 1e-4
BASE = dict(size=48, steps=STEPS, scales=1, precision="fp32", preview_every=0)


@pytest.fixture(scope="module")
def images(assets):
    at = lambda name: asset_at(assets, name, 64)  # noqa: E731
    return {name: at(f"{name}.jpg") for name in ("tubingen", "golden_gate", "starry_night", "the_scream", "kandinsky")}


def specs(images) -> list[tuple]:
    """Three runs of the same shape (64x48 photos) with their own photos, paintings and weights."""
    return [
        (images["tubingen"], [images["starry_night"]], {}),
        (images["golden_gate"], [images["the_scream"]], dict(style_weight=300.0, tv_weight=1.0)),
        (images["tubingen"], [images["kandinsky"], images["the_scream"]], dict(init="noise", content_weight=2.0)),
    ]


def make(model, spec, **settings) -> StyleTransfer:
    content, styles, own = spec
    return StyleTransfer(model, content, styles, TransferConfig(**{**BASE, **own, **settings}), device="cpu")


def alone(model, spec, **settings) -> StyleTransfer:
    run = make(model, spec, **settings)
    run.run()
    return run


def totals(run: StyleTransfer) -> np.ndarray:
    return np.array([losses["total"] for losses in run.history])


def pixels(run: StyleTransfer) -> np.ndarray:
    return np.asarray(run.result(), dtype=np.int16)


def assert_follows(batched: StyleTransfer, single: StyleTransfer, steps: int | None = None) -> None:
    """``batched`` took the steps ``single`` took (the first ``steps``), with its losses to ``REL``."""
    ours, theirs = totals(batched), totals(single)
    if steps is not None:
        theirs = theirs[:steps]
    assert len(ours) == len(theirs)
    np.testing.assert_allclose(ours, theirs, rtol=REL)


def by_run(events) -> dict[int, list]:
    out: dict[int, list] = {}
    for index, event in events:
        out.setdefault(index, []).append(event)
    return out


# -- the same results as alone ---------------------------------------------------------------------------------


def test_each_run_of_a_batch_gets_what_it_gets_alone(tiny_model, images):
    runs = [make(tiny_model, spec) for spec in specs(images)]
    assert len({batch_key(run) for run in runs}) == 1
    batch = BatchedTransfer(runs)
    events = by_run(batch)
    assert batch.sizes == [3] * STEPS  # one pass of the network per step, over all three images
    for index, (run, spec) in enumerate(zip(runs, specs(images))):
        single = alone(tiny_model, spec)
        assert run.stop_reason == "finished"
        assert [e.step for e in events[index]] == list(range(1, STEPS + 1))
        assert [e.losses["total"] for e in events[index]] == list(totals(run))
        assert events[index][-1].image is not None  # the last step has its preview, as alone
        assert_follows(run, single)
        assert np.abs(pixels(run) - pixels(single)).max() <= 2
    assert not batch.errors and not batch.active


def test_a_batch_of_one_is_the_plain_run_exactly(tiny_model, images):
    spec = specs(images)[1]
    run = make(tiny_model, spec)
    assert [event.losses for _, event in BatchedTransfer([run])] == alone(tiny_model, spec).history
    assert np.array_equal(pixels(run), pixels(alone(tiny_model, spec)))


def test_levels_and_early_stopping_are_each_runs_own(tiny_model, images):
    """Two scales; one run converges early at the coarse one and goes on to the fine one while the other is
    still at the coarse one: each pass then holds the runs at one size."""
    settings = [dict(scales=2, size=64, min_scale_size=32, steps=16),
                dict(scales=2, size=64, min_scale_size=32, steps=16, early_stop_tol=0.5, early_stop_patience=1)]
    spec = specs(images)[0]
    runs = [make(tiny_model, spec, **s) for s in settings]
    batch = BatchedTransfer(runs)
    events = by_run(batch)
    assert 1 in batch.sizes and 2 in batch.sizes
    assert {e.size for e in events[1]} == {(24, 32), (48, 64)}
    for run, s in zip(runs, settings):
        single = alone(tiny_model, spec, **s)
        assert run.stop_reason == single.stop_reason
        assert_follows(run, single)
    assert len(runs[1].history) < len(runs[0].history) == 16


# -- leaving ----------------------------------------------------------------------------------------------------


def test_stopping_one_run_keeps_the_others_going_and_hands_it_its_best_image(tiny_model, images):
    runs = [make(tiny_model, spec) for spec in specs(images)]
    batch = BatchedTransfer(runs)
    for index, event in batch:
        if index == 1 and event.step == 3:
            runs[1].close()  # as its consumer would, after its third step
    assert runs[1].stop_reason == "cancelled" and len(runs[1].history) == 3
    assert runs[1].result().size == (48, 36)
    best = min(range(3), key=lambda k: runs[1].history[k]["total"])
    assert runs[1]._best.loss == runs[1].history[best]["total"]
    assert batch.sizes == [3] * 3 + [2] * (STEPS - 3)
    for index in (0, 2):
        assert runs[index].stop_reason == "finished"
        assert_follows(runs[index], alone(tiny_model, specs(images)[index]))


def test_cancel_by_index_and_closing_the_batch(tiny_model, images):
    runs = [make(tiny_model, spec) for spec in specs(images)[:2]]
    batch = BatchedTransfer(runs)
    stream = iter(batch)
    for index, event in stream:
        if event.step == 2:
            batch.cancel(0)
        if index == 1 and event.step == 4:
            break
    stream.close()  # the consumer of the whole batch is gone: every run still in stops
    assert [run.stop_reason for run in runs] == ["cancelled", "cancelled"]
    assert [len(run.history) for run in runs] == [2, 4]
    assert all(run.has_image for run in runs)


class NanAfter:
    """An extra loss term that is zero for ``steps`` evaluations, then NaN."""

    def __init__(self, steps: int) -> None:
        self.steps, self.calls = steps, 0

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        return x.sum() * (float("nan") if self.calls > self.steps else 0.0)


class FailsAfter(NanAfter):
    """An extra loss term that is zero for ``steps`` evaluations, then raises."""

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if self.calls >= self.steps:
            raise RuntimeError("this term broke")
        return super().__call__(x)


def with_term(model, spec, term) -> StyleTransfer:
    content, styles, own = spec
    return StyleTransfer(model, content, styles, TransferConfig(**{**BASE, **own}), device="cpu",
                         extra_terms={"extra": term})


def test_a_run_whose_loss_turns_nan_leaves_and_the_others_finish(tiny_model, images):
    runs = [make(tiny_model, spec) for spec in specs(images)]
    runs[0] = with_term(tiny_model, specs(images)[0], NanAfter(4))
    batch = BatchedTransfer(runs)
    list(batch)
    assert runs[0].stop_reason == "nan" and len(runs[0].history) == 5
    assert runs[0].has_image and runs[0].result().size == (48, 36)
    assert batch.sizes == [3] * 5 + [2] * (STEPS - 5)
    for index in (1, 2):
        assert runs[index].stop_reason == "finished"
        assert_follows(runs[index], alone(tiny_model, specs(images)[index]))


def test_a_run_that_fails_leaves_with_its_error_and_the_others_finish(tiny_model, images):
    runs = [make(tiny_model, spec) for spec in specs(images)]
    runs[1] = with_term(tiny_model, specs(images)[1], FailsAfter(3))
    batch = BatchedTransfer(runs)
    list(batch)
    assert list(batch.errors) == [1] and "this term broke" in str(batch.errors[1])
    assert len(runs[1].history) == 3 and runs[1].has_image
    for index in (0, 2):
        assert runs[index].stop_reason == "finished"
        assert_follows(runs[index], alone(tiny_model, specs(images)[index]))


def test_out_of_memory_in_a_batched_pass_goes_on_in_smaller_passes(tiny_model, images):
    forward = tiny_model.forward

    def no_room_for_two(image, *args, **kwargs):
        if image.shape[0] > 1:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return forward(image, *args, **kwargs)

    runs = [make(tiny_model, spec) for spec in specs(images)]
    tiny_model.forward = no_room_for_two
    try:
        batch = BatchedTransfer(runs)
        list(batch)
    finally:
        del tiny_model.forward
    assert batch.limit == 1 and set(batch.sizes) == {1} and not batch.errors
    for run, spec in zip(runs, specs(images)):  # one image per pass: the plain runs exactly
        assert run.history == alone(tiny_model, spec).history


def test_a_pass_holds_what_fits_in_memory_and_the_limit(tiny_model, images):
    runs = [make(tiny_model, spec, steps=2) for spec in specs(images)]
    batch = BatchedTransfer(runs, limit=2)
    list(batch)
    assert batch.sizes == [2, 1, 2, 1]
    runs = [make(tiny_model, spec, steps=2) for spec in specs(images)]
    fixed = RUNTIME["cpu"] + model_bytes(tiny_model)
    extra = runs[0].plan.levels[0].peak - fixed
    for run in runs:  # room for two runs' images, not three
        run.plan = dataclasses.replace(run.plan, budget=fixed + 2 * extra + extra // 2)
    batch = BatchedTransfer(runs)
    list(batch)
    assert batch.sizes == [2, 1, 2, 1]


# -- what is not batched ---------------------------------------------------------------------------------------


def test_runs_that_cannot_be_batched_run_alone_in_the_batch(tiny_model, images):
    spec = specs(images)[0]
    special = [dict(optimizer="adam"), dict(tile_size=32)]
    runs = [make(tiny_model, spec, **s) for s in special] + [make(tiny_model, spec)]
    assert [batch_key(run) is None for run in runs] == [True, True, False]
    assert runs[1].plan.levels[0].tiled
    batch = BatchedTransfer(runs)
    events = by_run(batch)
    assert batch.sizes == [1] * STEPS  # only the batchable run went through the batched pass
    for run, s in zip(runs[:2], special):
        assert run.history == alone(tiny_model, spec, **s).history  # stepped by its own loop
        assert len(events[runs.index(run)]) == STEPS
    assert runs[2].history == alone(tiny_model, spec).history


def test_different_plans_are_not_stacked_together(tiny_model, images):
    spec = specs(images)[0]
    runs = [make(tiny_model, spec), make(tiny_model, spec, size=40)]
    assert batch_key(runs[0]) != batch_key(runs[1])
    batch = BatchedTransfer(runs)
    list(batch)
    assert batch.sizes == [1] * (2 * STEPS)
    for run, s in zip(runs, ({}, dict(size=40))):
        assert run.history == alone(tiny_model, spec, **s).history


def test_a_run_is_driven_once(tiny_model, images):
    spec = specs(images)[0]
    for settings in ({}, dict(optimizer="adam")):  # batched, or stepped on its own in the batch
        started = make(tiny_model, spec, **settings)
        iter(started)
        with pytest.raises(RuntimeError, match="already being driven"):
            BatchedTransfer([started])
    batched = make(tiny_model, spec)
    BatchedTransfer([batched])
    with pytest.raises(RuntimeError, match="already being driven"):
        iter(batched)
    with pytest.raises(ValueError, match="limit"):
        BatchedTransfer([], limit=0)
