"""The app's handlers called directly, with tiny random VGG-19 weights (``NST_WEIGHTS`` points at them).

Each handler is a generator yielding ``(preview, loss plot, status, result, download)``: previews come
while the run goes, the result (a PNG path with the settings embedded) at the end. Bad input raises
``gr.Error`` with a message that says what to do.
"""

from __future__ import annotations

from pathlib import Path

import gradio as gr
import pandas as pd
import pytest
import torch
from PIL import Image, ImageDraw, ImageSequence

import nst
from nst.config import SPEC
from memory_limited import MemoryLimited
from nst.features import VGG19Features
from studio import runtime
from studio.app import build_demo
from studio.inputs import image_input, painted_mask
from studio.outputs import continue_from, panel_columns
from studio.stream import failure, stop
from studio.tabs.colour import stylize_color
from studio.tabs.explore import explore
from studio.tabs.masked import stylize_masked
from studio.tabs.multi import interpolate, stylize_multi
from studio.tabs.single import stylize
from studio.tabs.texture import texture
from studio.tabs.video import playback_fps, stylize_video

SKIP = gr.skip()
PREVIEW, PLOT, STATUS, RESULT, DOWNLOAD = range(5)
FAST = dict(size=64, steps=6)


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(autouse=True)
def tiny_app(tiny_app_folder, monkeypatch):
    """The app on tiny weights, writing results to a temporary folder, at its own size cap."""
    monkeypatch.delenv("NST_MAX_SIZE", raising=False)
    return tiny_app_folder


def final_settings(outputs: list[tuple]) -> dict:
    """The settings embedded in the PNG of the last output, after checking it is a real result."""
    last = outputs[-1]
    assert last[RESULT] is not SKIP and last[RESULT] == last[DOWNLOAD]
    with Image.open(last[RESULT]) as image:
        assert image.format == "PNG"
        return nst.read_settings(image)


def final_settings_of_grid(outputs: list[tuple]) -> dict:
    """The settings embedded in a sweep's grid PNG (its result)."""
    with Image.open(outputs[-1][RESULT]) as image:
        assert image.format == "PNG"
        return nst.read_settings(image)


def test_a_run_shows_previews_and_losses_before_the_result(photo, painting):
    outputs = list(stylize(photo, painting, **FAST))
    previews = [o for o in outputs if isinstance(o[PREVIEW], Image.Image)]
    assert previews, "no preview image came before the end"
    assert all(o[RESULT] == SKIP for o in outputs[:-1]), "the result must come last"
    assert outputs.index(previews[0]) < len(outputs) - 1
    plot = outputs[-1][PLOT]
    assert isinstance(plot, pd.DataFrame) and set(plot["term"]) == {"content", "style", "TV"}
    assert len(plot) == 3 * FAST["steps"], "every term at every step, so the plot's legend has them all"
    assert plot[plot["term"] == "style"]["log10 loss"].notna().all()
    settings = final_settings(outputs)
    assert settings["mode"] == "single" and settings["stop_reason"] == "finished"
    assert settings["config"]["steps"] == FAST["steps"] and settings["content"] == "tubingen.jpg"
    assert settings["style_strength"] == 50 and settings["config"]["style_weight"] == SPEC["style_weight"].default
    assert "Done: 6 steps" in outputs[-1][STATUS]


def test_stop_ends_the_run_and_keeps_the_best_image(photo, painting):
    run = stylize(photo, painting, size=64, steps=400)
    first = next(run)
    assert "Step" in first[STATUS]
    assert stop() == "Stopping after this step; the best image so far will be kept."
    rest = list(run)
    settings = final_settings(rest)
    assert settings["stop_reason"] == "cancelled"
    assert settings["steps_done"] < 400
    assert rest[-1][STATUS].startswith(f"Stopped at step {settings['steps_done']}/400")
    assert stop() == "Nothing is running."


def test_stop_only_reaches_its_own_session(photo, painting):
    class Request:
        session_hash = "someone else"

    run = stylize(photo, painting, size=64, steps=30)
    next(run)
    assert stop(Request()) == "Nothing is running."
    assert final_settings(list(run))["stop_reason"] == "finished"


TIME_LIMIT_SAYS = "Stopped at the time limit of 0.001 s, at step 1/"
HOW_TO_GET_FURTHER = "use fewer steps or a smaller size (or raise NST_TIME_LIMIT"


def test_the_time_limit_stops_a_run_and_keeps_its_best_image(photo, painting, monkeypatch):
    monkeypatch.setenv("NST_TIME_LIMIT", "0.001")  # over after the first step
    outputs = list(stylize(photo, painting, size=64, steps=400))
    settings = final_settings(outputs)
    assert settings["stop_reason"] == "time limit" and settings["steps_done"] == 1
    assert outputs[-1][STATUS].startswith(TIME_LIMIT_SAYS + "400; this is the best image so far")
    assert HOW_TO_GET_FURTHER in outputs[-1][STATUS]
    assert max(Image.open(outputs[-1][RESULT]).size) == 64


def test_the_time_limit_stops_sweeps_and_clips_too(photo, painting, monkeypatch):
    monkeypatch.setenv("NST_TIME_LIMIT", "0.001")
    outputs = list(explore(photo, painting, "trade-off", "1, 10, 100", size=32, steps=300))
    settings = final_settings_of_grid(outputs)
    assert settings["stop_reason"] == "time limit" and settings["labels"] == ["beta = 1"]
    assert outputs[-1][STATUS].startswith(TIME_LIMIT_SAYS + "900")
    clip, style = str(runtime.EXAMPLES / "sintel_8f.gif"), str(runtime.EXAMPLES / "starry_night.jpg")
    *_, status, gif, mp4, player = list(stylize_video(clip, style, max_frames=3, size=48, steps=50, scales=1))[-1]
    assert status.startswith(TIME_LIMIT_SAYS) and HOW_TO_GET_FURTHER in status
    assert Path(gif).is_file() and Path(mp4).is_file()


@pytest.mark.parametrize("frames, fps, played", [(8, 25, 4), (3, 25, 1.5), (48, 24, 24), (90, 30, 30)])
def test_a_clip_plays_for_at_least_two_seconds(frames, fps, played):
    assert playback_fps(frames, fps) == played and frames / played >= 2


def test_a_short_clip_is_played_slower_and_says_so():
    clip, style = str(runtime.EXAMPLES / "sintel_8f.gif"), str(runtime.EXAMPLES / "starry_night.jpg")
    *_, status, gif, mp4, player = list(stylize_video(clip, style, max_frames=3, size=48, steps=2, scales=1))[-1]
    assert "3 frame(s) at 1.5 fps (the clip's 25 fps, slowed so that it lasts longer)" in status
    with Image.open(gif) as made:
        durations = [frame.info["duration"] for frame in ImageSequence.Iterator(made)]
    assert len(durations) == 3 and sum(durations) >= 2000


def test_time_limit_defaults_per_device_and_0_turns_it_off(monkeypatch):
    assert runtime.time_limit() == runtime.TIME_LIMITS["cpu"] == 900
    monkeypatch.setenv("NST_TIME_LIMIT", "0")
    assert runtime.time_limit() is None
    monkeypatch.setenv("NST_TIME_LIMIT", "2.5")
    assert runtime.time_limit() == 2.5
    for bad in ("ten minutes", "-1", "inf"):
        monkeypatch.setenv("NST_TIME_LIMIT", bad)
        with pytest.raises(gr.Error, match="NST_TIME_LIMIT must be a number of seconds"):
            runtime.time_limit()


def test_a_failing_run_still_hands_back_its_best_image(photo, painting, tiny_weights, monkeypatch):
    class Failing(VGG19Features):
        calls = 0

        def forward(self, *args, **kwargs):
            Failing.calls += 1
            if Failing.calls > 8:  # after the targets and a few steps
                raise RuntimeError("device lost")
            return super().forward(*args, **kwargs)

    monkeypatch.setattr(runtime, "get_model", lambda: Failing(tiny_weights))
    with pytest.warns(UserWarning, match="RuntimeError: device lost"):  # gr.Warning, outside a page
        outputs = list(stylize(photo, painting, size=64, steps=20))
    settings = final_settings(outputs)
    assert settings["stop_reason"] == "failed" and 0 < settings["steps_done"] < 20
    assert "RuntimeError: device lost" in outputs[-1][STATUS] and "best image so far is kept" in outputs[-1][STATUS]


def test_out_of_memory_retries_smaller_and_says_so(photo, painting, tiny_weights, monkeypatch):
    monkeypatch.setattr(runtime, "get_model", lambda: MemoryLimited(tiny_weights, most=48))
    monkeypatch.setattr("nst.recovery.DEFAULT_FLOOR", 16)
    with pytest.warns(UserWarning, match="Out of memory at 64 px; retrying at 48 px"):  # gr.Warning, outside a page
        outputs = list(stylize(photo, painting, size=64, steps=4))
    assert all(o[STATUS].startswith("Out of memory at 64 px; retrying at 48 px. Step") for o in outputs[:-1])
    assert outputs[-1][STATUS].startswith("Done: 4 steps")
    assert "Out of memory at 64 px; retrying at 48 px. The PNG carries its settings." in outputs[-1][STATUS]
    settings = final_settings(outputs)
    assert settings["config"]["size"] == 48 and settings["stop_reason"] == "finished"
    assert max(Image.open(outputs[-1][RESULT]).size) == 48


def test_multiple_styles_skip_empty_slots(photo, painting, assets):
    scream = str(assets / "the_scream.jpg")
    beta = 10 * SPEC["style_weight"].default  # what the Style strength slider sets at 75 %
    outputs = list(stylize_multi(photo, painting, 0.25, None, 1.0, scream, 0.75, None, 0.0, **FAST, style_weight=beta))
    settings = final_settings(outputs)
    assert settings["styles"] == ["starry_night.jpg", "the_scream.jpg"]
    assert settings["config"]["style_weight"] == beta and settings["style_strength"] == 75, "the PNG records both"
    assert settings["config"]["style_blend_weights"] == [0.25, 0.75]


def test_masked_transfer_takes_uploaded_and_painted_masks(assets):
    face = str(assets / "face.jpg")
    mask = str(assets / "face_mask.png")
    scream = str(assets / "the_scream.jpg")
    starry = str(assets / "starry_night.jpg")
    layer = Image.new("RGBA", Image.open(face).size, (0, 0, 0, 0))
    ImageDraw.Draw(layer).rectangle((0, 0, 100, 200), fill=(255, 45, 85, 255))
    paint = {"background": None, "layers": [layer], "composite": None}
    outputs = list(stylize_masked(face, starry, mask, None, scream, None, paint, "style 1", **FAST))
    settings = final_settings(outputs)
    assert settings["mode"] == "masked" and settings["rest"] == "style 1"
    assert Image.open(outputs[-1][RESULT]).size == (48, 64)


def test_painted_mask_is_the_painted_area():
    layer = Image.new("RGBA", (40, 30), (0, 0, 0, 0))
    assert painted_mask({"background": None, "layers": [layer], "composite": None}) is None
    ImageDraw.Draw(layer).rectangle((10, 5, 19, 14), fill=(255, 0, 0, 255))
    mask = painted_mask({"background": None, "layers": [layer], "composite": None})
    assert mask.size == (40, 30) and mask.getbbox() == (10, 5, 20, 15)
    assert painted_mask(None) is None


@pytest.mark.parametrize("method", ["luminance", "lab", "histogram"])
def test_colour_preserving_methods(photo, painting, method):
    outputs = list(stylize_color(photo, painting, method, 0.5, **FAST))
    config = final_settings(outputs)["config"]
    assert config["preserve_color"] == method and config["color_amount"] == 0.5


def test_texture_has_the_asked_shape(painting):
    outputs = list(texture(painting, width=96, height=48, steps=4))
    settings = final_settings(outputs)
    assert settings["content"] is None and settings["config"]["content_weight"] == 0
    assert settings["config"]["init"] == "noise"
    assert Image.open(outputs[-1][RESULT]).size == (96, 48)


def test_interpolation_gives_a_grid_and_a_gif(photo, painting, assets):
    scream = str(assets / "the_scream.jpg")
    outputs = list(interpolate(photo, painting, scream, frames=3, size=48, steps=3))
    finished_frames = [o for o in outputs[:-1] if isinstance(o[RESULT], Image.Image)]
    assert len(finished_frames) == 3, "the grid is shown again as each frame finishes"
    settings = final_settings_of_grid(outputs)
    assert settings["labels"] == ["t = 0.00", "t = 0.50", "t = 1.00"]
    with Image.open(outputs[-1][DOWNLOAD]) as gif:  # (Pillow merges frames that came out identical)
        assert gif.format == "GIF" and gif.size == finished_frames[0][PREVIEW].size


@pytest.mark.parametrize("study, labels", [("content layers", 5), ("style layers", 5), ("trade-off", 2)])
def test_explore_studies_give_labelled_grids(photo, painting, study, labels):
    outputs = list(explore(photo, painting, study, "1, 100", size=32, steps=2))
    settings = final_settings_of_grid(outputs)
    assert settings["study"] == study and len(settings["labels"]) == labels
    assert outputs[-1][DOWNLOAD] == outputs[-1][RESULT]


def test_a_sweeps_grid_is_laid_out_for_the_result_panel(photo, painting):
    outputs = list(explore(photo, painting, "content layers", "1", size=32, steps=2))  # five 32 x 24 images
    with Image.open(outputs[-1][RESULT]) as grid:
        assert grid.height > grid.width, "five 4:3 images in two columns and three rows, not a strip"
    assert [panel_columns(n, 4 / 3) for n in (1, 2, 3, 5, 8)] == [1, 1, 2, 2, 2]
    assert [panel_columns(n, 3 / 4) for n in (1, 2, 5, 9)] == [1, 2, 3, 3]
    assert panel_columns(5, 4 / 3, panel_aspect=8.0) == 5  # a wide panel takes them in one row
    with pytest.raises(ValueError):
        panel_columns(0, 1.0)


def test_stop_ends_a_sweep_and_keeps_what_is_done(photo, painting):
    sweep = explore(photo, painting, "trade-off", "1, 10, 100, 1000", size=32, steps=300)
    next(sweep)
    stop()
    settings = final_settings_of_grid(list(sweep))
    assert settings["stop_reason"] == "cancelled" and len(settings["labels"]) < 4


def test_continue_from_a_result_starts_there(photo, painting):
    first = list(stylize(photo, painting, **FAST))[-1][RESULT]
    init_image, init = continue_from(first)
    assert (init_image, init) == (first, "image")
    settings = final_settings(list(stylize(photo, painting, **FAST, init=init, init_image=init_image)))
    assert settings["config"]["init"] == "image"
    with pytest.raises(gr.Error, match="No result yet"):
        continue_from(None)


def test_size_is_capped_on_this_machine(photo, painting, monkeypatch):
    monkeypatch.setenv("NST_MAX_SIZE", "48")
    with pytest.warns(UserWarning, match="over this machine's limit; using 48 px"):
        outputs = list(stylize(photo, painting, size=96, steps=2))
    assert max(Image.open(outputs[-1][RESULT]).size) == 48


def test_runtime_line_names_device_and_weights():
    line = runtime.describe_runtime()
    assert "CPU" in line and "tiny random" in line


def test_building_the_page_loads_no_weights(tiny_app, monkeypatch):
    monkeypatch.setenv("NST_WEIGHTS", str(tiny_app / "never-loaded.safetensors"))
    demo = build_demo()
    assert str(tiny_app / "never-loaded.safetensors") not in runtime._models
    names = {fn.api_name for fn in demo.fns.values() if fn.api_visibility == "public"}
    assert {"stylize", "stylize_multi", "stylize_masked", "stylize_color", "texture", "stop"} <= names


def test_missing_weights_are_a_clear_error(photo, painting, tiny_app, monkeypatch):
    monkeypatch.setenv("NST_WEIGHTS", str(tiny_app / "missing.safetensors"))
    with pytest.raises(gr.Error, match="No VGG-19 weights"):
        next(stylize(photo, painting, **FAST))


def text_file(tmp_path):
    path = tmp_path / "notes.png"
    path.write_text("not a picture")
    return str(path)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda p, s, t: stylize(None, s, **FAST), "No content image: upload a photo"),
        (lambda p, s, t: stylize(p, None, **FAST), "No style image: upload a painting"),
        (lambda p, s, t: stylize(text_file(t), s, **FAST), "notes.png: not an image file"),
        (lambda p, s, t: stylize(p, s, **FAST, content_weight=0, style_weight=0), "both zero"),
        (lambda p, s, t: stylize(p, s, **FAST, style_layers=[]), "style_layers is empty"),
        (lambda p, s, t: stylize(p, s, **FAST, init="image"), "No init image"),
        (lambda p, s, t: stylize_multi(p, s, 0.0, s, 0.0, **FAST), "All blend weights are zero"),
        (lambda p, s, t: stylize_multi(p, None, 1.0, None, 1.0, **FAST), "No style images"),
        (lambda p, s, t: stylize_masked(p, s, s, **FAST), "a mask needs the content's shape"),
        (lambda p, s, t: stylize_masked(p, None, p, **FAST), "Mask 1 has no painting"),
        (lambda p, s, t: stylize_masked(p, s, None, None, None, None, None, "style 2", **FAST),
         "there is no style 2"),
        (lambda p, s, t: stylize_color(p, s, "sepia", 1.0, **FAST), "preserve_color must be one of"),
        (lambda p, s, t: texture(s, width=8, height=64), "at least 16 px"),
        (lambda p, s, t: interpolate(p, s, None, **FAST), "No style image 2"),
        (lambda p, s, t: interpolate(p, s, s, frames=1, **FAST), "Frames must be a whole number from 2"),
        (lambda p, s, t: explore(None, s, "content layers"), "No content image"),
        (lambda p, s, t: explore(p, s, "trade-off", "1, lots"), "Style weights must be numbers"),
    ],
)
def test_bad_input_is_a_one_line_error(photo, painting, tmp_path, call, message):
    with pytest.raises(gr.Error) as error:
        next(call(photo, painting, tmp_path))
    assert message in error.value.message
    assert "\n" not in error.value.message and "Traceback" not in error.value.message


def test_an_upload_that_is_not_an_image_is_refused_by_name(tmp_path):
    from gradio.components.image import ImageData

    component = image_input("Content")
    with pytest.raises(gr.Error, match="notes.png is not an image this app can read"):
        component.preprocess(ImageData(path=text_file(tmp_path), orig_name="notes.png"))


def test_a_failure_message_says_what_to_do_when_memory_ran_out():
    for exc in (torch.OutOfMemoryError("CUDA out of memory"), MemoryError(),
                RuntimeError("DefaultCPUAllocator: not enough memory: you tried to allocate 8 GB")):
        assert failure(exc, 1024, 7).startswith("The device ran out of memory at 1024 px: lower the size")
    assert failure(RuntimeError("device lost"), 1024, 7) == "The run failed at step 7: RuntimeError: device lost"
