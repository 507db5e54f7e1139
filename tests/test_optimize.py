"""The optimisation loop with the tiny random VGG-19: losses, events, previews, cancelling, scales, seeds."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from nst.config import TransferConfig
from nst.optimize import StepEvent, StyleTransfer

pytestmark = pytest.mark.usefixtures("one_thread")

SMALL = dict(size=32, steps=6, preview_every=0)


def transfer(model, content, styles, **settings) -> StyleTransfer:
    return StyleTransfer(model, content, styles, TransferConfig(**{**SMALL, **settings}), device="cpu")


def run_all(run: StyleTransfer) -> list[StepEvent]:
    return list(run)


def as_array(image: Image.Image) -> np.ndarray:
    return np.asarray(image, dtype=np.int16)


# -- The loss goes down ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("optimizer, steps", [("lbfgs", 12), ("adam", 25)])
def test_loss_decreases(tiny_model, content, style, optimizer, steps):
    run = transfer(tiny_model, content, [style], optimizer=optimizer, steps=steps, init="noise")
    totals = [e.losses["total"] for e in run_all(run)]
    assert run.stop_reason == "finished"
    assert totals[-1] < 0.5 * totals[0], totals
    assert min(totals[steps // 2:]) < min(totals[: steps // 2])


def test_loss_terms_add_up_and_content_init_starts_at_zero_content_loss(tiny_model, content, style):
    events = run_all(transfer(tiny_model, content, [style], steps=3, tv_weight=0.5))
    first = events[0].losses
    assert set(first) == {"content", "style", "tv", "total"}
    assert first["content"] == pytest.approx(0.0, abs=1e-6)  # the image starts as the content
    assert first["style"] > 0 and first["tv"] > 0
    for event in events:
        terms = event.losses
        assert terms["total"] == pytest.approx(terms["content"] + terms["style"] + terms["tv"], rel=1e-5)


# -- Seeds ------------------------------------------------------------------------------------------------------


def test_same_seed_repeats_exactly_and_other_seeds_differ(tiny_model, content, style):
    def noise_run(seed):
        run = transfer(tiny_model, content, [style], init="noise", seed=seed, steps=4)
        losses = [e.losses for e in run_all(run)]
        return losses, as_array(run.result())

    losses_a, image_a = noise_run(7)
    losses_b, image_b = noise_run(7)
    losses_c, image_c = noise_run(8)
    assert losses_a == losses_b
    assert np.array_equal(image_a, image_b)
    assert losses_a != losses_c
    assert np.abs(image_a - image_c).mean() > 5


# -- Events and previews ------------------------------------------------------------------------------------


def test_events_count_and_number_the_steps(tiny_model, content, style):
    run = transfer(tiny_model, content, [style], steps=5)
    events = run_all(run)
    assert [e.step for e in events] == [1, 2, 3, 4, 5]
    assert all(e.total == 5 == run.total for e in events)
    assert all((e.scale, e.scales) == (0, 1) for e in events)
    assert all(e.size == (24, 32) for e in events)  # (height, width) of the 64x48 content at size 32
    elapsed = [e.elapsed for e in events]
    assert elapsed == sorted(elapsed) and elapsed[0] >= 0
    assert len(run.history) == 5 and run.history[-1] == events[-1].losses


def test_previews_at_every_nth_step_and_the_last(tiny_model, content, style):
    events = run_all(transfer(tiny_model, content, [style], steps=10, preview_every=3))
    with_images = [e.step for e in events if e.image is not None]
    assert with_images == [3, 6, 9, 10]
    assert all(e.image.size == (32, 24) and e.image.mode == "RGB" for e in events if e.image is not None)


def test_no_previews_but_the_last_when_turned_off(tiny_model, content, style):
    events = run_all(transfer(tiny_model, content, [style], steps=4, preview_every=0))
    assert [e.step for e in events if e.image is not None] == [4]


# -- Cancelling -------------------------------------------------------------------------------------------------


def test_closing_the_iterator_cancels_and_keeps_the_best_image(tiny_model, content, style):
    run = transfer(tiny_model, content, [style], steps=50)
    iterator = iter(run)
    seen = [next(iterator) for _ in range(3)]
    iterator.close()
    assert run.stop_reason == "cancelled"
    assert [e.step for e in seen] == [1, 2, 3]
    assert len(run.history) == 3
    result = run.result()
    assert result.size == (32, 24) and result.mode == "RGB"
    assert list(iterator) == []  # nothing more comes


def test_breaking_out_and_calling_close(tiny_model, content, style):
    run = transfer(tiny_model, content, [style], steps=50)
    for event in run:
        if event.step == 2:
            break
    run.close()
    assert run.stop_reason == "cancelled"
    assert run.result().size == (32, 24)


def test_result_before_the_run_starts_is_an_error(tiny_model, content, style):
    with pytest.raises(RuntimeError, match="iterate it first"):
        transfer(tiny_model, content, [style]).result()


# -- Scales and early stopping --------------------------------------------------------------------------------


def test_two_scales_go_from_small_to_large(tiny_model, content, style):
    run = transfer(tiny_model, content, [style], size=64, scales=2, min_scale_size=32, steps=6)
    events = run_all(run)
    assert [e.scale for e in events] == [0, 0, 0, 1, 1, 1]
    assert all(e.scales == 2 for e in events)
    assert [e.size for e in events] == [(24, 32)] * 3 + [(48, 64)] * 3
    assert [e.step for e in events] == [1, 2, 3, 4, 5, 6]
    assert run.result().size == (64, 48)


def test_early_stopping_ends_before_the_planned_steps(tiny_model, content, style):
    tol, patience = 0.1, 3
    run = transfer(tiny_model, content, [style], steps=60, early_stop_tol=tol, early_stop_patience=patience)
    totals = [e.losses["total"] for e in run_all(run)]
    assert run.stop_reason == "converged"
    assert patience < len(totals) < 60
    # It stopped at the first step whose loss improved by less than tol over the last `patience` steps.
    improved = [totals[i - patience] - totals[i] >= tol * totals[i - patience] for i in range(patience, len(totals))]
    assert improved[-1] is False and all(improved[:-1])
    assert run.result().size == (32, 24)


# -- Several styles ------------------------------------------------------------------------------------------


def test_blend_weights_one_and_zero_equal_the_single_style(tiny_model, content, style, other_style):
    single = transfer(tiny_model, content, [style], steps=4)
    blended = transfer(tiny_model, content, [style, other_style], steps=4, style_blend_weights=(1.0, 0.0))
    assert [e.losses for e in run_all(single)] == [e.losses for e in run_all(blended)]
    assert np.array_equal(as_array(single.result()), as_array(blended.result()))


def test_blending_two_styles_differs_from_either(tiny_model, content, style, other_style):
    both = transfer(tiny_model, content, [style, other_style], steps=2)
    first = transfer(tiny_model, content, [style], steps=2)
    assert run_all(both)[0].losses["style"] != run_all(first)[0].losses["style"]


def test_blend_weight_count_must_match_the_styles(tiny_model, content, style):
    with pytest.raises(ValueError, match="one per style"):
        transfer(tiny_model, content, [style], style_blend_weights=(1.0, 1.0))


# -- Settings that are refused ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "settings, message",
    [
        ({"style_layers": ("relu1_1", "relu9_9")}, "relu9_9"),
        ({"content_layers": ("conv4_2x",)}, "conv4_2x"),
        ({"content_weight": -1.0}, "content_weight"),
        ({"style_weight": -0.5}, "style_weight"),
        ({"tv_weight": float("nan")}, "tv_weight"),
        ({"style_weight": float("inf")}, "style_weight"),
        ({"lr": float("nan")}, "lr"),
        ({"style_layer_weights": (1.0, -1.0, 1.0, 1.0, 1.0)}, "style_layer_weights"),
        ({"style_layer_weights": (1.0, 1.0)}, "style_layer_weights"),
        ({"content_weight": 0.0, "style_weight": 0.0}, "both zero"),
        ({"optimizer": "sgd"}, "optimizer"),
        ({"size": 4}, "size"),
    ],
)
def test_invalid_settings_raise_value_error(settings, message):
    with pytest.raises(ValueError, match=message):
        TransferConfig(**settings)


def test_from_dict_rejects_unknown_keys_and_round_trips():
    config = TransferConfig(size=48, style_layers=("relu1_1", "relu3_1"), style_blend_weights=(2.0, 1.0))
    assert TransferConfig.from_dict(config.to_dict()) == config
    with pytest.raises(ValueError, match="unknown setting"):
        TransferConfig.from_dict({"sise": 48})


def test_image_init_needs_an_image(tiny_model, content, style):
    with pytest.raises(ValueError, match="init image"):
        transfer(tiny_model, content, [style], init="image")
    start = Image.new("RGB", (10, 10), (200, 30, 30))
    run = StyleTransfer(tiny_model, content, [style], TransferConfig(**{**SMALL, "init": "image", "steps": 1}),
                        init_image=start, device="cpu")
    run_all(run)
    assert run.result().size == (32, 24)


def test_an_image_too_thin_for_the_size_is_refused_and_thin_coarse_levels_are_left_out(tiny_model, style):
    with pytest.raises(ValueError, match="short side must be at least 16 px"):
        StyleTransfer(tiny_model, Image.new("RGB", (1000, 10)), [style], TransferConfig(size=16), device="cpu")
    run = StyleTransfer(tiny_model, Image.new("RGB", (400, 20)), [style],
                        TransferConfig(size=400, steps=4, scales=3, min_scale_size=16), device="cpu")
    assert run.sizes == [400]  # 200 px wide would be 10 px tall: too thin for VGG's pooling
    assert run.steps_per_scale == [4]


def test_a_wide_painting_at_a_coarse_scale_keeps_a_short_side_vgg_can_pool(tiny_model, content):
    wide = Image.new("RGB", (640, 100), (200, 120, 40))
    run = StyleTransfer(tiny_model, content, [wide], TransferConfig(size=48, steps=2, scales=2, min_scale_size=16),
                        device="cpu")
    events = list(run)
    assert len(events) == 2 and run.stop_reason == "finished"


# -- Precision -------------------------------------------------------------------------------------------------


def test_bf16_autocast_keeps_grams_and_losses_in_float32_and_tracks_the_float32_run(tiny_model, content, style):
    fp32 = transfer(tiny_model, content, [style], precision="fp32", steps=4)
    bf16 = transfer(tiny_model, content, [style], precision="bf16", steps=4)
    assert bf16.dtype == torch.bfloat16
    features = bf16._features(torch.rand(1, 3, 32, 24), ["relu1_1", "relu3_1"])
    assert all(f.dtype == torch.float32 for f in features.values())
    a, b = run_all(fp32)[0].losses, run_all(bf16)[0].losses
    assert all(np.isfinite(list(b.values())))
    assert b["style"] == pytest.approx(a["style"], rel=0.15)  # bfloat16 keeps 2-3 significant digits
    assert bf16.result().size == fp32.result().size


def test_auto_precision_is_float32_where_bfloat16_is_not_native(tiny_model, content, style, monkeypatch):
    import nst.device

    monkeypatch.delenv(nst.device.PRECISION_ENV, raising=False)
    monkeypatch.setattr(nst.device, "bf16_is_native", lambda device: False)
    assert transfer(tiny_model, content, [style]).dtype == torch.float32
    monkeypatch.setattr(nst.device, "bf16_is_native", lambda device: True)
    assert transfer(tiny_model, content, [style]).dtype == torch.bfloat16
