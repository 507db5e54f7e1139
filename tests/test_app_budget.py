"""The CPU defaults chosen by measurement (``studio.budget``) and what the page says a run costs.

Checked with a faked measurement: a fast host gets the engine's default size (512 px), a slow one less
(and a very slow one fewer steps), each default run within the target time; the cost model is the
time-left ``Plan`` of the stream, over the levels a run and a clip really have; the machine is measured
once, never while the page is built, and not on a GPU; the first preview comes within its time; the
page's first visit gives every measured control its value and every tab's estimate line its text.
"""

from __future__ import annotations

import math

import gradio as gr
import pytest
import torch

import nst
from nst.config import SPEC, TransferConfig
from nst.sequence import level_plan
from nst.video import VideoTransfer
from nst.weights import save_features
from studio import budget, estimate, runtime
from studio.app import build_demo
from studio.jobs import SingleJob
from studio.stream import Plan

FAST, SLOW, SLOWER, CRAWL = 0.05, 0.4, 0.6, 5.0   # seconds of one pass at 256 px


@pytest.fixture
def weights(tmp_path, tiny_weights, monkeypatch):
    monkeypatch.setenv("NST_WEIGHTS", str(save_features(tiny_weights, tmp_path / "tiny.safetensors")))
    monkeypatch.setenv("NST_OUTPUT_DIR", str(tmp_path / "outputs"))
    monkeypatch.delenv("NST_MAX_SIZE", raising=False)
    monkeypatch.setattr(budget, "_measured", {})


@pytest.fixture
def measured(weights, monkeypatch):
    """A faked measurement: set ``measured.seconds``; ``measured.calls`` counts the measurements."""
    class Fake:
        def __init__(self) -> None:
            self.seconds, self.calls = FAST, 0

        def __call__(self, model, device, *args, **kwargs):
            self.calls += 1
            return self.seconds

    fake = Fake()
    monkeypatch.setattr(budget, "measure", fake)
    return fake


def test_a_fast_host_gets_the_engines_default_size_and_a_slow_one_less():
    base = TransferConfig()
    fast = budget.choose(FAST, 512)
    assert (fast.size, fast.steps) == (min(base.size, 512), base.steps)
    assert fast.seconds == pytest.approx(budget.run_seconds(base.replace(size=fast.size), FAST))
    # Slower: steps give way first, to keep the size at which every style layer is matched.
    full = budget.full_style_size()
    slow = budget.choose(SLOW, 512)
    assert slow.size == full < fast.size
    assert math.ceil(base.steps * budget.FULL_STYLE_STEP_SHARE) <= slow.steps < base.steps
    assert slow.seconds <= budget.TARGET_S < budget.run_seconds(base.replace(size=full, steps=slow.steps + 1), SLOW)
    # Slower still: below that size, at the default steps.
    slower = budget.choose(SLOWER, 512)
    assert budget.FLOOR_SIZE <= slower.size < full and slower.steps == base.steps
    assert slower.seconds <= budget.TARGET_S < budget.run_seconds(base.replace(size=slower.size + budget.SIZE_STEP),
                                                                  SLOWER)
    crawl = budget.choose(CRAWL, 512)
    assert crawl.size == budget.FLOOR_SIZE and math.ceil(base.steps * budget.MIN_STEP_SHARE) <= crawl.steps < base.steps
    assert budget.choose(FAST, 200).size == 200, "never over the host's cap"


def test_the_full_style_size_is_where_the_deepest_style_layer_joins():
    # relu5_1 (512 channels, 4 poolings) needs 512 positions: 21 x 28 at 448 px, 19 x 26 at 416 px.
    assert budget.full_style_size() == 448
    config = TransferConfig()
    def channels(layer):
        return budget.VGG19_WIDTHS[int(layer[4]) - 1]

    assert "relu5_1" in nst.objective.style_layers_at(config.style_layers, (336, 448), channels, 1.0)
    assert "relu5_1" not in nst.objective.style_layers_at(config.style_layers, (312, 416), channels, 1.0)
    shallow = config.replace(style_layers=("relu1_1", "relu2_1", "relu3_1"))
    assert budget.full_style_size(shallow) < 448


def test_a_512_px_run_on_a_native_bfloat16_cpu_takes_about_a_minute():
    # The CLI's default run took 59 s on a 2-core CPU with native bfloat16: a pass at 256 px of about 0.165 s.
    assert budget.choose(0.165, 512).size == 512
    assert budget.run_seconds(TransferConfig(size=512), 0.165) == pytest.approx(59, abs=2)


def test_the_cost_model_is_the_streams_plan_over_the_levels_a_run_really_has(tiny_model, content, style):
    config = TransferConfig(size=256, steps=50, scales=3, preview_every=0)
    run = nst.StyleTransfer(tiny_model, content, [style], config)
    levels = list(zip(run.steps_per_scale, run.sizes))
    assert levels == level_plan(config)
    assert budget.run_seconds(config, 0.2) == pytest.approx(0.2 * Plan(levels).total / budget.REFERENCE_SIDE**2)
    # a step at a level of side s costs (s / S0)^2 of the measured pass
    assert budget.seconds([(1, 512)], 0.2) == pytest.approx(0.2 * 4) and budget.seconds([(10, 128)], 0.2) == \
        pytest.approx(0.2 * 10 / 4)
    clip = VideoTransfer(tiny_model, [content] * 4, [style], config, device="cpu")
    assert budget.clip_levels(config, 4) == clip.plan()


def test_the_time_left_and_the_estimate_agree(photo, painting, weights):
    config = TransferConfig(size=128, steps=30, scales=2)
    job = SingleJob(nst.load_image(photo), [nst.load_image(painting)], config, mode="single", settings={})
    done, left = job.work(0)
    assert done == 0 and budget.seconds(level_plan(config), 0.3) == pytest.approx(0.3 * left / 256**2)


def test_the_machine_is_measured_once_on_first_use_and_never_while_the_page_is_built(measured):
    with budget.deferred():
        assert budget.pass_seconds() is None and budget.default_size() == budget.FLOOR_SIZE
        build_demo()
    assert measured.calls == 0, "building the page measures nothing"
    assert budget.pass_seconds(measure_now=False) is None
    assert budget.default_size() == 512 and budget.default_steps() == SPEC["steps"].default
    assert budget.pass_seconds() == FAST and measured.calls == 1, "measured once, then kept"


def test_a_known_speed_can_be_assumed_instead_of_measured(measured):
    budget.assume(0.165)  # what python -m studio.examples --pass-seconds 0.165 does
    assert budget.default_size() == 512 and measured.calls == 0
    for bad in (0, -1.0, float("nan"), "fast"):
        with pytest.raises(ValueError, match="positive number of seconds"):
            budget.assume(bad)


def test_a_slow_host_gets_smaller_defaults(measured):
    measured.seconds = SLOW
    chosen = budget.defaults()
    assert budget.FLOOR_SIZE <= chosen.size < 512 and chosen.seconds <= budget.TARGET_S


def test_a_gpu_keeps_its_defaults_and_is_not_measured(measured, monkeypatch):
    monkeypatch.setattr(runtime, "device", lambda: torch.device("cuda"))
    assert (budget.default_size(), budget.default_steps()) == budget.GPU_DEFAULTS
    assert budget.pass_seconds() is None and measured.calls == 0


def test_without_weights_the_defaults_stay_unmeasured(tmp_path, monkeypatch):
    monkeypatch.setenv("NST_WEIGHTS", str(tmp_path / "missing.safetensors"))
    assert budget.pass_seconds() is None
    assert budget.defaults() == budget.Budget(budget.FLOOR_SIZE, SPEC["steps"].default)


def test_a_real_measurement_is_one_pass(tiny_model):
    seconds = budget.measure(tiny_model, torch.device("cpu"), side=64)
    assert 0 < seconds < 5


def test_the_first_preview_comes_within_ten_seconds():
    config = TransferConfig(size=512, steps=200, preview_every=10)
    assert budget.preview_every(config, FAST) == 10, "a fast host keeps the cadence"
    slow = budget.preview_every(config, 30.0)  # 30 s a pass at 256 px: the coarsest level's step takes 7.5 s
    assert slow == 1
    shortened = budget.preview_every(config, 8.0)  # 2 s a step at 128 px
    assert shortened == 5 and budget.first_preview_seconds(config.replace(preview_every=shortened), 8.0) <= 10
    assert budget.preview_every(config, None) == 10 and budget.preview_every(config.replace(preview_every=0), 2.0) == 0


def _load_values(demo: gr.Blocks) -> dict[str, object]:
    """What the page's load event gives, by elem_id."""
    load = next(fn for fn in demo.fns.values() if any(event == "load" for _, event in fn.targets))
    return {c.elem_id: value for c, value in zip(load.outputs, load.fn())}


def test_the_first_visit_fills_in_the_measured_defaults_and_says_what_a_run_costs(measured):
    measured.seconds = SLOW
    demo = build_demo()
    sizes = {b.elem_id: b.value for b in demo.blocks.values() if (getattr(b, "elem_id", None) or "").endswith("-size")}
    assert sizes["single-size"] == budget.FLOOR_SIZE, "built unmeasured"
    values = _load_values(demo)
    chosen = budget.defaults()
    assert "tiny random" in values["runtime"]
    for tab in ("single", "multi", "masked", "color"):
        assert (values[f"{tab}-size"], values[f"{tab}-steps"]) == (chosen.size, chosen.steps), tab
        assert values[f"{tab}-estimate"] == estimate.run_line(estimate.sketch(chosen.size, chosen.steps, 3), SLOW)
        assert values[f"{tab}-estimate"].startswith(f"On this CPU a run at these settings takes "
                                                    f"{estimate.about(chosen.seconds)}"), tab
    assert values["texture-width"] == values["texture-height"] == chosen.size
    assert values["explore-steps"] == chosen.steps // 2 and "each image of the grid" in values["explore-estimate"]
    assert "first preview after about" in values["single-estimate"]
    frames = runtime.video_frames()[0]
    clip = TransferConfig(size=values["video-size"], steps=chosen.steps,
                          preview_every=budget.previews_for(chosen.steps))
    assert values["video-size"] == budget.choose_clip(SLOW, 512, frames)
    assert values["video-estimate"] == estimate.run_line(clip, SLOW, frames, "a clip of these frames at these settings")
    assert values["video-estimate"].startswith("On this CPU a clip of these frames at these settings takes about")


def test_a_clip_gets_the_largest_size_a_default_clip_affords_here(measured, monkeypatch):
    frames = runtime.video_frames()[0]
    assert budget.choose_clip(0.01, 512, frames) == budget.CLIP_SIZES[1]
    assert budget.choose_clip(CRAWL, 512, frames) == budget.CLIP_SIZES[0] and budget.choose_clip(0.01, 100, 8) == 100
    middle = budget.choose_clip(0.2, 512, frames)
    steps = budget.choose(0.2, 512).steps
    assert budget.seconds(budget.clip_levels(TransferConfig(size=middle, steps=steps), frames), 0.2) \
        <= budget.CLIP_TARGET_S
    measured.seconds = 0.01
    assert budget.clip_size() == budget.CLIP_SIZES[1]
    monkeypatch.setattr(runtime, "device", lambda: torch.device("cuda"))
    assert budget.clip_size() == budget.GPU_CLIP_SIZE >= 256, "a GPU's clips are 256 px or more"


def test_the_estimate_follows_the_settings_and_says_nothing_when_unknown(measured):
    measured.seconds = SLOW
    demo = build_demo()
    line = next(b for b in demo.blocks.values() if getattr(b, "elem_id", None) == "single-estimate")
    update = next(fn for fn in demo.fns.values() if fn.outputs == [line] and fn.api_visibility == "private")
    assert update.fn(512, 200, 3) == ""  # not measured yet: nothing to say
    budget.pass_seconds()
    assert "about 2 min" in update.fn(512, 200, 3) and update.fn(256, 200, 3) != update.fn(512, 200, 3)
    assert update.fn(None, 200, 3) == "" and update.fn(8, 200, 3) == "", "a value being typed says nothing"


def test_about_rounds_for_the_page():
    assert [estimate.about(s) for s in (0.2, 42.4, 89, 150, 600)] == \
        ["about 1 s", "about 42 s", "about 89 s", "about 2 min", "about 10 min"]
