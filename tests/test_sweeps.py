"""Sequences of runs: interpolation between two styles, the layer explorer, grids and GIFs."""

from __future__ import annotations

import pytest
from PIL import Image

from nst import StyleTransfer, TransferConfig, load_image
from nst.explore import CONTENT_STUDY_LAYERS, content_reconstructions, style_reconstructions, tradeoff
from nst.interpolate import blend_values, grid, interpolate, save_gif
from nst.metrics import content_distance, style_distance

FAST = TransferConfig(size=64, steps=12, preview_every=0)


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def images(assets):
    return {name: load_image(assets / path) for name, path in (
        ("face", "face.jpg"), ("starry", "starry_night.jpg"), ("scream", "the_scream.jpg"),
    )}


# -- interpolation ---------------------------------------------------------------------------------------


def test_blend_values_run_from_a_to_b():
    assert blend_values(5) == [0.0, 0.25, 0.5, 0.75, 1.0]
    for n in (1, 65):
        with pytest.raises(ValueError, match="from 2 to 64 outputs"):
            blend_values(n)


def test_interpolation_moves_from_style_a_to_style_b(tiny_model, images):
    a, b = images["starry"], images["scream"]
    sweep = interpolate(tiny_model, images["face"], a, b, 3, FAST, device="cpu")
    events = list(sweep)
    outputs = sweep.results()
    assert len(outputs) == 3 and sweep.stop_reason == "finished"
    assert [e.result is not None for e in events].count(True) == 3
    assert [job.config.style_blend_weights for job in sweep.jobs] == [(1.0, 0.0), (0.5, 0.5), (0.0, 1.0)]
    assert style_distance(tiny_model, outputs[0], a) < style_distance(tiny_model, outputs[-1], a)
    assert style_distance(tiny_model, outputs[-1], b) < style_distance(tiny_model, outputs[0], b)


def test_a_sweeps_plan_lists_every_level_of_every_run(tiny_model, images):
    config = TransferConfig(size=64, steps=12, scales=2, min_scale_size=32, preview_every=0)
    sweep = interpolate(tiny_model, images["face"], images["starry"], images["scream"], 3, config, device="cpu")
    assert sweep.plan() == [(6, 32), (6, 64), (4, 64), (4, 64)]  # the others: a third of the steps, one scale
    assert sum(steps for steps, _ in sweep.plan()) == sweep.total
    labels = {(event.index, event.label) for event in sweep}
    assert labels == {(0, "t = 0.00"), (1, "t = 0.50"), (2, "t = 1.00")}


def test_following_outputs_start_from_their_neighbour_and_cost_a_third(tiny_model, images):
    sweep = interpolate(tiny_model, images["face"], images["starry"], images["scream"], 4, FAST, device="cpu")
    assert [job.config.steps for job in sweep.jobs] == [12, 4, 4, 4]
    assert sweep.total == 24 < 4 * FAST.steps
    first_loss = {}
    for event in sweep:
        if event.event is not None and event.event.step == 1:
            first_loss[event.index] = event.event.losses["total"]
    assert all(job.warm_start for job in sweep.jobs[1:])
    # Starting from the neighbour's result, a following output begins closer to its optimum than a
    # fresh run with the same blend would begin from the content photo.
    for k, job in enumerate(sweep.jobs[1:], start=1):
        cold = StyleTransfer(tiny_model, images["face"], [images["starry"], images["scream"]],
                             job.config.replace(init="content", steps=1), device="cpu")
        cold.run()
        assert first_loss[k] < 0.5 * cold.history[0]["total"]


def test_cancelled_sweep_keeps_what_it_has(tiny_model, images):
    sweep = interpolate(tiny_model, images["face"], images["starry"], images["scream"], 3, FAST, device="cpu")
    for event in sweep:
        if event.index == 1 and event.step > 13:
            break
    sweep.close()
    assert sweep.stop_reason == "cancelled"
    results = sweep.results()
    assert len(results) == 2 and all(im.size == (48, 64) for im in results)  # the first, and the second's best so far


def test_grid_lays_images_out_in_rows_with_captions():
    images = [Image.new("RGB", (30, 20), (255, 0, 0)), Image.new("RGB", (20, 30), (0, 0, 255)),
              Image.new("RGB", (30, 30), (0, 255, 0))]
    plain = grid(images, columns=2, gap=4)
    assert plain.size == (2 * 30 + 3 * 4, 2 * 30 + 3 * 4)
    assert plain.getpixel((4 + 15, 4 + 15)) == (255, 0, 0)        # first cell, centred
    assert plain.getpixel((4 + 15, 4 + 30 + 4 + 15)) == (0, 255, 0)  # second row
    labelled = grid(images, columns=3, labels=["a", "b", "c"], gap=4)
    assert labelled.width == 3 * 30 + 4 * 4 and labelled.height > 30 + 2 * 4
    with pytest.raises(ValueError, match="2 label\\(s\\) for 3 image\\(s\\)"):
        grid(images, labels=["a", "b"])
    with pytest.raises(ValueError, match="columns must be a whole number"):
        grid(images, columns=0)


def test_save_gif_writes_every_frame(tmp_path):
    frames = [Image.new("RGB", (16, 12), (40 * k, 0, 0)) for k in range(4)]
    path = save_gif(frames, tmp_path / "sweep.gif", duration_ms=120)
    with Image.open(path) as gif:
        assert gif.n_frames == 4 and gif.info["duration"] == 120 and gif.size == (16, 12)
    with Image.open(save_gif(frames, tmp_path / "bounce.gif", bounce=True)) as gif:
        assert gif.n_frames == 6
    with pytest.raises(ValueError, match="saved as .gif"):
        save_gif(frames, tmp_path / "sweep.png")


# -- the layer explorer ------------------------------------------------------------------------------------


def test_content_reconstructions_match_one_layer_each(tiny_model, images):
    content = images["face"]
    sweep = content_reconstructions(tiny_model, content, FAST.replace(size=48, steps=25, tv_weight=0.0),
                                    layers=("relu1_2", "relu5_2"), device="cpu")
    assert sweep.labels == ["relu1_2", "relu5_2"]
    assert [job.config.content_layers for job in sweep.jobs] == [("relu1_2",), ("relu5_2",)]
    assert all(job.config.style_weight == 0 and job.config.init == "noise" for job in sweep.jobs)
    history = {}
    for event in sweep:
        if event.event is not None:
            history.setdefault(event.index, []).append(event.event.losses["content"])
    shallow, deep = sweep.results()
    for losses in history.values():
        assert losses[-1] < 0.5 * losses[0]  # each matches its own layer
    # A low layer gives the photo back more faithfully than a high one (measured at relu4_2).
    assert content_distance(tiny_model, shallow, content) < content_distance(tiny_model, deep, content)
    assert sweep.grid().size[0] > 2 * shallow.size[0]


def test_style_reconstructions_use_growing_sets_of_layers(tiny_model, images):
    sweep = style_reconstructions(tiny_model, images["starry"], FAST.replace(size=48, steps=15), device="cpu",
                                  layers=("relu1_1", "relu2_1", "relu3_1"), shape=(40, 40))
    assert [job.config.style_layers for job in sweep.jobs] == [
        ("relu1_1",), ("relu1_1", "relu2_1"), ("relu1_1", "relu2_1", "relu3_1")]
    assert sweep.labels == ["relu1_1", "relu1_1 … relu2_1", "relu1_1 … relu3_1"]
    textures = sweep.run()
    assert [t.size for t in textures] == [(48, 48)] * 3
    # More layers: the texture matches the style's statistics on more layers.
    deep = ("relu3_1",)
    assert style_distance(tiny_model, textures[2], images["starry"], deep) < \
        style_distance(tiny_model, textures[0], images["starry"], deep)


def test_tradeoff_more_style_weight_more_style_less_content(tiny_model, images):
    content, style = images["face"], images["starry"]
    sweep = tradeoff(tiny_model, content, style, [0.1, 1000.0], FAST, device="cpu")
    assert sweep.labels == ["beta = 0.1", "beta = 1000"] and sweep.values == [0.1, 1000.0]
    little, much = sweep.run()
    assert style_distance(tiny_model, much, style) < style_distance(tiny_model, little, style)
    assert content_distance(tiny_model, much, content) > content_distance(tiny_model, little, content)


def test_explorer_checks_its_layers(tiny_model, images):
    with pytest.raises(ValueError, match="unknown content layers 'conv9_9'"):
        content_reconstructions(tiny_model, images["face"], layers=("conv9_9",))
    with pytest.raises(ValueError, match="give at least one"):
        style_reconstructions(tiny_model, images["starry"], layers=())
    assert CONTENT_STUDY_LAYERS == ("relu1_2", "relu2_2", "relu3_2", "relu4_2", "relu5_2")
