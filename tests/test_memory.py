"""The memory estimate, the budget and the plan, with the tiny random VGG-19 (nothing is run)."""

from __future__ import annotations

import pytest
import torch

from nst import memory
from nst.config import TransferConfig
from nst.features import CONTENT_LAYERS, STYLE_LAYERS
from nst.memory import LevelPlan, estimate, format_bytes, parse_bytes, plan
from nst.tiled import Tiling

LAYERS = dict(content_layers=CONTENT_LAYERS, style_layers=STYLE_LAYERS)


def test_activation_elements_follow_vgg19():
    widths = {name: 64 for name in memory.LAYER_NAMES}
    # relu1_1 alone: conv1_1 and relu1_1, 64 channels at full size.
    assert memory.activation_elements(widths, (8, 8), ["relu1_1"]) == 2 * 64 * 64
    # through pool1: four full-size maps and one at a quarter.
    assert memory.activation_elements(widths, (8, 8), ["pool1"]) == 4 * 64 * 64 + 64 * 16


def test_the_estimate_grows_linearly_with_the_pixels(tiny_model):
    peaks = [estimate(tiny_model, (s, s), **LAYERS) for s in (128, 256, 512)]
    first, second = peaks[1] - peaks[0], peaks[2] - peaks[1]
    assert second / first == pytest.approx(4.0, rel=0.02)  # 4x the pixels added, 4x the bytes added
    assert peaks[0] > memory.RUNTIME["cpu"]


def test_the_estimate_counts_dtype_optimiser_history_and_tiles(tiny_model):
    shape = (512, 512)
    fp32 = estimate(tiny_model, shape, **LAYERS)
    assert estimate(tiny_model, shape, **LAYERS, dtype=torch.bfloat16) < fp32
    image = 3 * 512 * 512 * 4
    slack = memory.HISTORY_SLACK["cpu"]
    assert fp32 - estimate(tiny_model, shape, **LAYERS, history=20) == pytest.approx(slack * 2 * 30 * image, abs=2)
    assert estimate(tiny_model, shape, **LAYERS, optimizer="adam") < estimate(tiny_model, shape, **LAYERS, history=10)
    tiled = estimate(tiny_model, shape, **LAYERS, tiling=Tiling(tile=128, halo=80, stride=16))
    assert tiled < fp32
    # On CUDA the runtime and the activations have their own factors, and the history no slack.
    elements = memory.activation_elements(memory.layer_widths(tiny_model), shape, CONTENT_LAYERS + STYLE_LAYERS)
    factor, runtime = memory.ACTIVATION_FACTOR, memory.RUNTIME
    history = (memory.HISTORY_SLACK["cpu"] - memory.HISTORY_SLACK["cuda"]) * (2 * 50 + 4) * image
    assert estimate(tiny_model, shape, **LAYERS, device="cuda") == pytest.approx(
        fp32 - runtime["cpu"] + runtime["cuda"] - (factor["cpu"] - factor["cuda"]) * 4 * elements - history, abs=2)
    # bfloat16 autocast: each activation takes AUTOCAST_FACTOR times 2 bytes.
    assert fp32 - estimate(tiny_model, shape, **LAYERS, dtype=torch.bfloat16) == pytest.approx(
        factor["cpu"] * (4 - 2 * memory.AUTOCAST_FACTOR) * elements, abs=2)


def test_the_plan_runs_whole_when_it_fits_and_tiles_the_scales_that_do_not(tiny_model):
    shapes = [(96, 128), (192, 256), (384, 512)]
    config = TransferConfig(size=512, optimizer="adam")
    roomy = plan(tiny_model, shapes, config, available=2**40)
    assert [level.tiled for level in roomy.levels] == [False, False, False]
    # Room for the top scale in 256 px tiles, not whole.
    tiles = Tiling.for_layers(CONTENT_LAYERS + STYLE_LAYERS, 256)
    room = estimate(tiny_model, shapes[-1], **LAYERS, optimizer="adam", tiling=tiles)
    assert room < estimate(tiny_model, shapes[-1], **LAYERS, optimizer="adam")
    tight = plan(tiny_model, shapes, config, available=room)
    assert [level.tiled for level in tight.levels] == [False, False, True]
    top = tight.levels[-1]
    assert isinstance(top, LevelPlan) and top.tiling == tiles and top.peak == room and tight.peak == room
    assert "tiled at 512 px (256 px tiles)" in tight.describe()
    # Less room: smaller tiles.
    assert plan(tiny_model, shapes, config, available=room - 1).levels[-1].tiling.tile < 256


def test_the_plan_shortens_the_lbfgs_history_before_cutting_smaller_tiles(tiny_model):
    shape = (384, 512)
    whole_50 = estimate(tiny_model, shape, **LAYERS, history=50)
    whole_20 = estimate(tiny_model, shape, **LAYERS, history=20)
    chosen = plan(tiny_model, [shape], TransferConfig(size=512), available=(whole_50 + whole_20) // 2).levels[0]
    assert not chosen.tiled and chosen.history == 20
    adam = plan(tiny_model, [shape], TransferConfig(size=512, optimizer="adam"), available=whole_20).levels[0]
    assert not adam.tiled and adam.history == 0


def test_a_set_tile_size_tiles_only_larger_scales(tiny_model):
    config = TransferConfig(size=512, tile_size=200)
    levels = plan(tiny_model, [(96, 128), (384, 512)], config, available=2**40).levels
    assert [level.tiled for level in levels] == [False, True]
    assert levels[1].tiling == Tiling(tile=192, halo=80, stride=16)


def test_a_budget_too_small_for_any_tile_is_a_clear_error(tiny_model):
    with pytest.raises(ValueError, match=r"needs about .* in 128 px tiles.*allow more memory"):
        plan(tiny_model, [(3000, 4000)], TransferConfig(size=4000), available=2**20)


def test_the_budget_is_capped_by_the_limit():
    free = memory.budget("cpu")
    assert free > 0
    assert memory.budget("cpu", 300 * 2**20) == min(free, 300 * 2**20)


def test_a_run_is_planned_before_it_starts(tiny_model, assets):
    from nst.image import load_image, resize_longest
    from nst.optimize import StyleTransfer

    content = resize_longest(load_image(assets / "tubingen.jpg"), 64)
    config = TransferConfig(size=128, scales=2, steps=2, max_memory=2 * 2**30)
    run = StyleTransfer(tiny_model, content, [content], config, device="cpu")
    assert [level.shape for level in run.plan.levels] == [(48, 64), (96, 128)]
    assert run.plan.budget <= 2 * 2**30 and not any(level.tiled for level in run.plan.levels)


@pytest.mark.parametrize("text, value", [("6GB", 6 * 2**30), ("6 GiB", 6 * 2**30), ("512M", 512 * 2**20),
                                         ("1.5g", int(1.5 * 2**30)), ("1000", 1000), (2048, 2048)])
def test_parse_bytes(text, value):
    assert parse_bytes(text) == value


def test_parse_bytes_refuses_nonsense_and_sizes_print_readably():
    with pytest.raises(ValueError, match="such as 6GB"):
        parse_bytes("six gigs")
    assert format_bytes(6 * 2**30) == "6.0 GB" and format_bytes(300 * 2**20) == "300 MB"


@pytest.mark.parametrize("field, value, message", [("max_memory", 1000, "at least 256 MB"),
                                                   ("max_memory", -1, "between"),
                                                   ("tile_size", 8, "at least 32 px")])
def test_config_checks_memory_settings(field, value, message):
    with pytest.raises(ValueError, match=message):
        TransferConfig(**{field: value})
