"""The app's preset handlers called directly, with tiny random VGG-19 weights (``NST_WEIGHTS``).

Checked: the gallery lists the built-ins; loading one fills the Single style tab (one painting) or the
Multiple styles tab (a blend), and a Hub preset loads through a local stand-in for the Hub, with bad
names, missing repos and an unreachable Hub as one-line ``gr.Error``s; a run from a preset applies its
settings that have no control and carries the preset in its PNG, and restoring that PNG brings the
painting and settings back; a result made with other paintings, or by the command line, restores its
settings and keeps the paintings on the page; Save as preset gives a .zip of a preset folder, and Push
to Hub uploads it and shows the commit.

The handlers return their outputs in ``FILL_OUTPUTS`` order; ``gr.skip()`` leaves a component as it is.
"""

from __future__ import annotations

import dataclasses
import json
import os
import socket
import zipfile
from pathlib import Path

import gradio as gr
import pytest
from PIL import Image, ImageChops

import nst
import nst.presets
from nst.cli import main as cli_main
from nst.weights import save_features
from studio import budget
from studio.app import build_demo
from studio.form import TRANSFER
from studio.presets import FILL_OUTPUTS, NO_PRESET, choose_preset, forget_preset, load_preset, preset_gallery, push_preset, restore_settings, save_preset
from studio.tabs.multi import stylize_multi
from studio.tabs.single import stylize

from fake_hub_server import FakeHubServer

SKIP = gr.skip()
RESULT = 3
FAST = dict(size=64, steps=3, scales=1)

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(autouse=True)
def tiny_app(tmp_path, tiny_weights, monkeypatch):
    """The app on tiny weights, writing results to a temporary folder, with a Hub cache of its own."""
    import huggingface_hub.constants

    monkeypatch.setenv("NST_WEIGHTS", str(save_features(tiny_weights, tmp_path / "tiny.safetensors")))
    monkeypatch.setenv("NST_OUTPUT_DIR", str(tmp_path / "outputs"))
    monkeypatch.delenv("NST_MAX_SIZE", raising=False)
    monkeypatch.delenv("HF_ENDPOINT", raising=False)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub-cache"))
    return tmp_path


def builtin(name: str) -> nst.presets.Preset:
    return nst.presets.read(nst.presets.BUILTIN_DIR / name)


def page(values: tuple) -> dict:
    """A fill handler's outputs by name."""
    assert len(values) == len(FILL_OUTPUTS)
    return dict(zip(FILL_OUTPUTS, values))


def same_pixels(a: Image.Image, b: Image.Image) -> bool:
    return a.size == b.size and ImageChops.difference(a.convert("RGB"), b.convert("RGB")).getbbox() is None


def as_on_the_page(image: Image.Image, path: Path) -> str:
    """The file a handler gets back for an image the page shows (its style inputs hold PNG)."""
    image.save(path, format="PNG")
    return str(path)


def untouched(values: dict, prefix: str) -> bool:
    return all(values[name] == SKIP for name in FILL_OUTPUTS if name.startswith(prefix))


# --------------------------------------------------------------------------------------------------
# Loading


def test_the_gallery_shows_every_builtin_with_its_name_and_description():
    items = preset_gallery()
    names = nst.presets.builtin_names()
    assert [caption.split(":")[0] for _, caption in items] == names and len(names) >= 7
    starry = builtin("starry-night")
    picture, caption = items[names.index("starry-night")]
    assert Path(picture) == starry.thumbnail and caption == f"starry-night: {starry.description}"


def on_this_device(preset: nst.presets.Preset) -> nst.presets.Preset:
    """``preset`` as the page loads it: its look, this device's budget."""
    return dataclasses.replace(preset, config=budget.for_this_device(preset.config))


def test_a_one_painting_preset_fills_the_single_style_tab():
    preset = builtin("starry-night-colour")
    values = page(load_preset("starry-night-colour"))
    assert same_pixels(values["single_style"], preset.style_images()[0])
    for name in TRANSFER.names:
        expected = getattr(on_this_device(preset).config, name)
        assert values[f"single_{name}"] == (list(expected) if isinstance(expected, tuple) else expected), name
    assert values["single_style_weight"] == 30.0
    assert values["single_preset"] == on_this_device(preset)
    assert values["single_preset"].origin == "starry-night-colour"
    assert untouched(values, "multi_")
    assert (values["preset_name"], values["preset_credit"]) == ("starry-night-colour", preset.styles[0].credit)
    assert "`preserve_color = luminance`" in values["preset_status"]  # a setting with no control, said aloud
    assert "Single style" in values["preset_status"]


def test_clicking_a_blend_in_the_gallery_fills_the_multiple_styles_tab():
    names = nst.presets.builtin_names()
    click = gr.SelectData(None, {"index": names.index("starry-scream"), "value": None, "selected": True})
    values = page(choose_preset(click))
    preset = builtin("starry-scream")
    paintings = preset.style_images()
    assert same_pixels(values["multi_style_1"], paintings[0]) and same_pixels(values["multi_style_2"], paintings[1])
    assert [values[f"multi_weight_{i}"] for i in (1, 2, 3, 4)] == [0.6, 0.4, 0.0, 0.0]
    assert values["multi_style_3"] is None and values["multi_style_4"] is None
    assert values["multi_style_weight"] == preset.config.style_weight and values["multi_preset"] == on_this_device(preset)
    assert untouched(values, "single_") and values["preset_name"] == SKIP
    assert "Multiple styles" in values["preset_status"]


def test_bad_preset_names_are_one_line_errors():
    with pytest.raises(gr.Error, match="No preset: click one in the gallery"):
        load_preset("  ")
    with pytest.raises(gr.Error, match="No preset '../etc': give a built-in one .*starry-night.* or a Hub repo"):
        load_preset("../etc")
    with pytest.raises(gr.Error, match="a revision applies to Hub presets only"):
        load_preset("starry-night", "v2")


def test_a_hub_preset_loads_through_the_hub_api(tmp_path, monkeypatch):
    look = nst.presets.create(tmp_path / "look", "look", nst.TransferConfig(size=96, steps=40, tv_weight=0.5,
                                                                             tv_kind="squared"),
                              [Image.new("RGB", (40, 30), (200, 40, 40))], credits=["A. Painter, Red (1901)"],
                              description="Red.")
    files = {name: (look.folder / name).read_bytes() for name in ("preset.json", "style.jpg")}
    bad = {**look.to_dict(), "settings": {**look.config.to_dict(), "steps": -1}}
    with FakeHubServer() as hub:
        commit = hub.add_commit("alice/look", files)
        hub.add_commit("mallory/bad", {"preset.json": json.dumps(bad).encode(), "style.jpg": files["style.jpg"]})
        monkeypatch.setenv("HF_ENDPOINT", hub.endpoint)
        values = page(load_preset(" alice/look ", ""))
        assert values["single_preset"].origin == f"alice/look@{commit}"
        assert values["single_tv_weight"] == 0.5, "the preset's look"
        assert (values["single_size"], values["single_steps"]) == (budget.default_size(), budget.default_steps()), \
            "this device's budget, not the preset's 96 px and 40 steps"
        assert "`tv_kind = squared`" in values["preset_status"] and "A. Painter, Red (1901)" in values["preset_status"]
        assert same_pixels(values["single_style"], look.style_images()[0])
        with pytest.raises(gr.Error, match="the Hub has no repo alice/none"):
            load_preset("alice/none")
        with pytest.raises(gr.Error, match="alice/look has no revision 'v2'"):
            load_preset("alice/look", "v2")
        with pytest.raises(gr.Error, match="settings: steps must be between 0 and 100000, got -1"):
            load_preset("mallory/bad")


def test_an_unreachable_hub_is_a_one_line_error(monkeypatch):
    with socket.socket() as probe:  # a port nothing listens on once the probe is closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{port}")
    with pytest.raises(gr.Error, match="not in the local Hub cache, and the Hub is offline or unreachable"):
        load_preset("bob/look")


@pytest.mark.parametrize("name", ["the-scream", "starry-scream"])
def test_a_preset_is_a_look_that_runs_at_this_devices_size_and_steps(name, photo, tmp_path, monkeypatch):
    monkeypatch.setattr(budget, "defaults", lambda measure_now=True: budget.Budget(64, 4))  # a slow CPU's, say
    preset = builtin(name)
    values = page(load_preset(name))
    tab = "single" if len(preset.styles) == 1 else "multi"
    form = {key: values[f"{tab}_{key}"] for key in TRANSFER.names}
    assert (form["size"], form["steps"]) == (64, 4) and form["scales"] == nst.TransferConfig().scales
    assert form["style_weight"] == preset.config.style_weight and form["pooling"] == preset.config.pooling
    active = values[f"{tab}_preset"].config  # the settings without a control: the device's budget too
    assert (active.min_scale_size, active.early_stop_tol) == (nst.TransferConfig().min_scale_size,
                                                              nst.TransferConfig().early_stop_tol)
    paintings = [as_on_the_page(image, tmp_path / f"style{i}.png") for i, image in enumerate(preset.style_images())]
    if tab == "single":
        outputs = list(stylize(photo, paintings[0], preset=values["single_preset"], **form))
    else:
        outputs = list(stylize_multi(photo, paintings[0], values["multi_weight_1"], paintings[1],
                                     values["multi_weight_2"], preset=values["multi_preset"], **form))
    config = nst.read_settings(outputs[-1][RESULT])["config"]
    assert (config["size"], config["steps"]) == (64, 4), "it ran at the device's size and steps"
    assert config["style_weight"] == preset.config.style_weight, "with the preset's look"


# --------------------------------------------------------------------------------------------------
# Runs carry their preset; restoring a result


def test_a_run_from_a_preset_carries_it_and_restoring_the_result_brings_it_back(photo, tmp_path):
    loaded = page(load_preset("starry-night-colour"))
    style = as_on_the_page(loaded["single_style"], tmp_path / "style.png")
    result = list(stylize(photo, style, **FAST, preset=loaded["single_preset"]))[-1][RESULT]
    settings = nst.read_settings(result)
    assert settings["config"]["preserve_color"] == "luminance"  # the preset's setting with no control
    assert settings["preset_origin"] == "starry-night-colour"
    assert settings["preset"]["settings"]["steps"] == 3 and settings["preset"]["styles"][0]["file"] == "style.jpg"

    restored = page(restore_settings(result))
    assert same_pixels(restored["single_style"], loaded["single_style"])  # the built-in's painting, found again
    assert (restored["single_size"], restored["single_steps"], restored["single_scales"]) == (64, 3, 1)
    assert restored["single_preset"].config.preserve_color == "luminance"
    assert restored["single_preset"].origin == "starry-night-colour"
    assert f"Restored from {Path(result).name}" in restored["preset_status"]


def test_a_run_with_another_painting_keeps_the_presets_settings_but_not_its_name(photo, assets):
    loaded = page(load_preset("starry-night-colour"))
    scream = str(assets / "the_scream.jpg")
    result = list(stylize(photo, scream, **FAST, preset=loaded["single_preset"]))[-1][RESULT]
    settings = nst.read_settings(result)
    assert settings["config"]["preserve_color"] == "luminance"
    assert settings["preset_origin"] is None
    assert [s["file"] for s in settings["preset"]["styles"]] == ["the_scream.jpg"]

    restored = page(restore_settings(result))
    assert restored["single_style"] == SKIP  # settings only: the painting on the page stays
    assert restored["single_preset"].folder is None and restored["single_steps"] == 3
    assert "the_scream.jpg" in restored["preset_status"] and "are kept" in restored["preset_status"]


def test_a_blend_run_carries_its_preset_and_restores_into_the_multiple_styles_tab(photo, tmp_path):
    loaded = page(load_preset("starry-scream"))
    first = as_on_the_page(loaded["multi_style_1"], tmp_path / "1.png")
    second = as_on_the_page(loaded["multi_style_2"], tmp_path / "2.png")
    run = stylize_multi(photo, first, 0.6, second, 0.4, None, 0.0, None, 0.0, **FAST, preset=loaded["multi_preset"])
    result = list(run)[-1][RESULT]
    settings = nst.read_settings(result)
    assert settings["preset_origin"] == "starry-scream"
    assert [s["weight"] for s in settings["preset"]["styles"]] == [0.6, 0.4]

    restored = page(restore_settings(result))
    assert same_pixels(restored["multi_style_2"], loaded["multi_style_2"])
    assert restored["multi_steps"] == 3 and untouched(restored, "single_")


def test_restoring_a_command_line_result_keeps_the_paintings_on_the_page(photo, painting, tmp_path):
    output = tmp_path / "from-the-cli.png"
    assert cli_main([photo, painting, "-o", str(output), "--size", "48", "--steps", "2", "--scales", "1",
                     "--style-weight", "7.5", "--tv-kind", "squared", "--seed", "4",
                     "--weights", os.environ["NST_WEIGHTS"], "--quiet"]) == 0
    with pytest.warns(UserWarning, match=r"The preset's size in px \(48\) is outside what this page allows"):
        values = page(restore_settings(str(output)))  # (gr.Warning, outside a page)
    assert (values["single_size"], values["single_steps"], values["single_style_weight"]) == (64, 2, 7.5)
    assert values["single_seed"] == 4 and values["single_style"] == SKIP
    assert values["single_preset"].config.tv_kind == "squared" and values["single_preset"].folder is None
    assert "starry_night.jpg" in values["preset_status"]


def test_restoring_something_else_is_a_one_line_error(tmp_path):
    plain = tmp_path / "holiday.png"
    Image.new("RGB", (8, 8)).save(plain)
    with pytest.raises(gr.Error, match=r"Nothing to restore: holiday.png: carries no nst settings"):
        restore_settings(str(plain))
    notes = tmp_path / "notes.png"
    notes.write_text("not a picture")
    with pytest.raises(gr.Error, match=r"Nothing to restore: notes.png: not a readable image"):
        restore_settings(str(notes))
    with pytest.raises(gr.Error, match="No file: drop a PNG"):
        restore_settings(None)


def test_forget_drops_both_tabs_presets():
    assert forget_preset() == (None, None, NO_PRESET)


# --------------------------------------------------------------------------------------------------
# Saving and pushing


def test_save_as_preset_gives_a_zip_of_a_preset_folder(photo, painting, tmp_path):
    result = list(stylize(photo, painting, **FAST))[-1][RESULT]
    colour = builtin("starry-night-colour")
    archive, status = save_preset("my-look", "Swirls, the photo's colours.", "Vincent van Gogh, The Starry "
                                      "Night (1889)", "public domain", painting, result, **FAST, style_weight=7.5,
                                      preset=colour)
    assert Path(archive).suffix == ".zip" and "my-look" in status and "no thumbnail" not in status
    with zipfile.ZipFile(archive) as z:
        assert {"my-look/preset.json", "my-look/style.jpg", "my-look/thumbnail.jpg"} <= set(z.namelist())
        z.extractall(tmp_path / "unzipped")
    saved = nst.presets.read(tmp_path / "unzipped" / "my-look")
    assert (saved.config.size, saved.config.steps, saved.config.style_weight) == (64, 3, 7.5)
    assert saved.config.preserve_color == "luminance"  # from the active preset
    assert saved.styles[0].credit == "Vincent van Gogh, The Starry Night (1889)"
    assert saved.weights.source == "file" and saved.description == "Swirls, the photo's colours."
    assert Image.open(saved.thumbnail).size == Image.open(result).size  # the latest result, under 256 px already


def test_save_as_preset_refuses_bad_fields(painting):
    with pytest.raises(gr.Error, match="Name the preset first"):
        save_preset(" ", style=painting, **FAST)
    with pytest.raises(gr.Error, match="use only letters, digits"):
        save_preset("../escape", style=painting, **FAST)
    with pytest.raises(gr.Error, match="No style image"):
        save_preset("my-look", style=None, **FAST)
    with pytest.raises(gr.Error, match="description: is 2001 characters long"):
        save_preset("my-look", "x" * 2001, style=painting, **FAST)


def test_push_to_hub_uploads_the_preset_and_shows_the_commit(painting, monkeypatch):
    with FakeHubServer(token="hf_write") as hub:
        monkeypatch.setenv("HF_ENDPOINT", hub.endpoint)
        archive, status = push_preset("alice/my-look", "hf_write", "my-look", "Swirls.", "Van Gogh",
                                          "public domain", painting, None, **FAST)
        files = hub.files("alice/my-look")
        assert f"]({hub.endpoint}/alice/my-look/commit/" in status and "--preset alice/my-look" in status
        assert {"preset.json", "style.jpg", "README.md"} <= set(files)
        assert json.loads(files["preset.json"])["settings"]["steps"] == 3
        assert "Van Gogh | public domain" in files["README.md"].decode()
        assert Path(archive).is_file()
        with pytest.raises(gr.Error, match="refused the token"):
            push_preset("alice/my-look", "wrong", "my-look", style=painting, **FAST)
    with pytest.raises(gr.Error, match="write it user/name"):
        push_preset("not a repo", "hf_write", "my-look", style=painting, **FAST)


def test_the_page_offers_the_preset_endpoints_and_keeps_the_runs_api(tiny_app, monkeypatch):
    monkeypatch.setenv("NST_WEIGHTS", str(tiny_app / "never-loaded.safetensors"))
    endpoints = build_demo().get_api_info()["named_endpoints"]
    assert {"/load_preset", "/restore_settings", "/save_preset", "/push_preset"} <= set(endpoints)
    assert [p["parameter_name"] for p in endpoints["/load_preset"]["parameters"]] == ["spec", "revision"]
    assert "preset" not in [p["parameter_name"] for p in endpoints["/stylize"]["parameters"]]
    assert len(endpoints["/restore_settings"]["returns"]) == len(FILL_OUTPUTS) - 2  # the two states are not sent
