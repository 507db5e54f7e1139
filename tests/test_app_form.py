"""The app's settings form (``studio.form``): controls built from ``nst.config.SPEC``, handed over by name.

Checked: each control takes its label, help, range and default from SPEC, with the app's caps on top
(the Size slider ends at this machine's limit); a look setting that may be larger than a slider shows
(a weight, the seed) is a number box, so a preset's value comes through unchanged; a handler gets the
form's values by name, fills in what a direct call leaves out and refuses a name it does not have;
a preset's settings are the base that the form and the tab override; and on the page every run
endpoint receives each setting from the control of that name (its ``elem_id`` is ``tab-name``).
"""

from __future__ import annotations

import dataclasses

import gradio as gr
import pytest

import nst.presets
from nst import TransferConfig
from nst.config import SPEC
from studio import budget, form
from studio.app import build_demo
from studio.form import EXPLORE, TEXTURE, TRANSFER, VIDEO
from studio.tabs.single import stylize

RUNS = {"stylize": "single", "stylize_multi": "multi", "interpolate": "multi", "stylize_masked": "masked",
        "stylize_color": "color", "texture": "texture", "explore": "explore", "stylize_video": "video",
        "save_preset": "single", "push_preset": "single"}


@pytest.fixture(autouse=True)
def cpu_page(monkeypatch, tmp_path):
    monkeypatch.delenv("NST_MAX_SIZE", raising=False)
    monkeypatch.setenv("NST_WEIGHTS", str(tmp_path / "never-loaded.safetensors"))


def built(which: form.Form, tab: str = "t") -> dict[str, gr.Component]:
    with gr.Blocks():
        return which.build(tab)


def test_the_controls_come_from_the_spec_with_the_apps_caps(monkeypatch):
    controls = built(TRANSFER)
    assert list(controls) == [*TRANSFER.names, "init_image"]
    for name in TRANSFER.names:
        assert (controls[name].label, controls[name].info) == (SPEC[name].label, SPEC[name].help), name
        assert controls[name].elem_id == f"t-{name}"
    size, steps, scales = controls["size"], controls["steps"], controls["scales"]
    assert isinstance(size, gr.Slider) and (size.minimum, size.maximum, size.step) == (64, 512, 16)  # CPU: 512 px
    # Not measured (no weights here): the CPU's unmeasured defaults, see test_app_budget for the measured ones
    assert size.value == budget.FLOOR_SIZE and steps.value == SPEC["steps"].default
    assert (steps.minimum, steps.maximum) == SPEC["steps"].ui[:2] and scales.maximum == SPEC["scales"].ui[1]
    for name in ("content_weight", "style_weight", "tv_weight", "seed"):
        assert isinstance(controls[name], gr.Number) and controls[name].value == SPEC[name].default, name
        assert controls[name].minimum == 0 and controls[name].maximum == SPEC[name].high, name
    assert list(controls["optimizer"].choices) == [(c, c) for c in SPEC["optimizer"].choices]
    assert controls["style_layers"].multiselect and controls["style_layers"].value == list(SPEC["style_layers"].default)
    monkeypatch.setenv("NST_MAX_SIZE", "300")
    assert built(TRANSFER)["size"].maximum == 300


def test_each_tab_shows_its_own_settings_and_defaults():
    assert set(TRANSFER.names) - set(TEXTURE.names) == {"size", "content_weight", "init", "content_layers"}
    assert (TEXTURE.default("pooling"), TEXTURE.default("tv_weight")) == ("avg", 0.0)
    assert (EXPLORE.default("size"), EXPLORE.default("steps")) == (128, SPEC["steps"].default // 2)
    assert VIDEO.default("size") == 128 and "scales" in VIDEO.names and "init" not in VIDEO.names
    assert TEXTURE.keys == TEXTURE.names and TRANSFER.keys[-1] == "init_image"


def test_a_handler_takes_the_settings_by_name_and_refuses_others():
    values = TRANSFER.values({"size": 64, "init_image": None}, "stylize")
    assert list(values) == list(TRANSFER.keys)
    assert values["size"] == 64 and values["steps"] == SPEC["steps"].default and values["style_weight"] == SPEC["style_weight"].default
    with pytest.raises(TypeError, match="stylize\\(\\) got an unexpected keyword argument 'stize'"):
        next(stylize(None, None, stize=64))
    with pytest.raises(TypeError, match="'size'"):
        TEXTURE.values({"size": 64}, "texture")  # the texture's size is its width and height


def test_a_presets_settings_are_the_base_the_form_and_the_tab_override():
    builtin = nst.presets.read(nst.presets.BUILTIN_DIR / "starry-night")
    preset = dataclasses.replace(builtin, config=TransferConfig(style_weight=300.0, tv_kind="squared", seed=12345,
                                                                style_blend_weights=(2.0,)))
    values = TRANSFER.values({"size": 64, "steps": 40}, "stylize")
    config = TRANSFER.config(values, preset, color_amount=0.5)
    assert config.tv_kind == "squared", "a preset's setting without a control applies"
    assert config.style_weight == SPEC["style_weight"].default and config.seed == 0, "the controls override it"
    assert config.style_blend_weights is None and config.color_amount == 0.5
    assert (config.size, config.steps, config.preview_every) == (64, 40, 2)
    assert TRANSFER.extras(preset)["tv_kind"] == "squared" and "style_weight" not in TRANSFER.extras(preset)
    with pytest.warns(UserWarning, match="Size 900 px is over this machine's limit; using 512 px"):
        assert TRANSFER.config({**values, "size": 900}).size == 512
    with pytest.raises(gr.Error, match="Check the settings: steps must be"):
        TRANSFER.config({**values, "steps": -3})


def test_showing_a_preset_fits_the_sliders_but_keeps_its_look():
    config = TransferConfig(size=2000, steps=40, style_weight=1e4, seed=12345, scales=6)
    with pytest.warns(UserWarning) as caught:
        shown = TRANSFER.show(config)
    assert [str(w.message) for w in caught] == [
        "The preset's size in px (2000) is outside what this page allows (64 to 512); using 512",
        "The preset's number of scales (6) is outside what this page allows (1 to 4); using 4"]
    assert (shown["size"], shown["steps"], shown["scales"]) == (512, 40, 4)
    assert (shown["style_weight"], shown["seed"]) == (1e4, 12345)
    assert shown["content_layers"] == list(config.content_layers)


def test_every_run_endpoint_gets_each_setting_from_its_control():
    demo = build_demo()
    wired = {fn.api_name: fn for fn in demo.fns.values() if fn.api_name in RUNS}
    assert set(wired) == set(RUNS)
    for api_name, fn in wired.items():
        names = fn.input_keyword_names
        named = fn.inputs[len(fn.inputs) - len(names):]
        settings = [n for n in names if n != "preset"]
        assert settings and all(c.elem_id == f"{RUNS[api_name]}-{n}" for n, c in zip(names, named) if n != "preset")
        expected = {"texture": TEXTURE, "explore": EXPLORE, "stylize_video": VIDEO}.get(api_name, TRANSFER)
        if api_name in ("save_preset", "push_preset"):
            expected = expected.without(init_image=False)
        assert settings == list(expected.keys), api_name
        assert ("preset" in names) == (api_name in ("stylize", "stylize_multi", "save_preset", "push_preset"))


def _block(demo: gr.Blocks, elem_id: str) -> gr.components.Component:
    return next(b for b in demo.blocks.values() if getattr(b, "elem_id", None) == elem_id)


def _inside(block, label: str) -> bool:
    """Whether ``block`` sits in an accordion labelled ``label``."""
    parent = block.parent
    while parent is not None:
        if isinstance(parent, gr.Accordion) and parent.label == label:
            return True
        parent = parent.parent
    return False


def test_every_tab_with_a_style_weight_has_the_strength_slider_and_keeps_alpha_beta_under_advanced():
    demo = build_demo()
    tabs = sorted({tab for tab in RUNS.values()})
    for tab in tabs:
        knob = _block(demo, f"{tab}-style_strength")
        assert isinstance(knob, gr.Slider) and (knob.minimum, knob.maximum) == (0, 100), tab
        assert knob.value == 50 and _inside(knob, "Settings") and not _inside(knob, "Advanced"), tab
        assert _inside(_block(demo, f"{tab}-style_weight"), "Advanced"), tab
        if tab != "texture":  # a texture has no content weight
            assert _inside(_block(demo, f"{tab}-content_weight"), "Advanced"), tab
        assert not _inside(_block(demo, f"{tab}-steps"), "Advanced"), tab


def test_the_slider_sets_beta_and_beta_moves_the_slider_without_a_loop():
    demo = build_demo()
    knob, beta = _block(demo, "single-style_strength"), _block(demo, "single-style_weight")
    wired = {(event, *(c.elem_id for c in fn.inputs), "->", *(c.elem_id for c in fn.outputs)): fn
             for fn in demo.fns.values() for block_id, event in fn.targets if block_id in (knob._id, beta._id)}
    by_slider = wired[("input", knob.elem_id, "->", beta.elem_id)]
    by_beta = wired[("change", beta.elem_id, "->", knob.elem_id)]
    assert len(wired) == 2, "only a visitor's move of the slider sets beta, so setting the slider stops there"
    assert by_slider.api_visibility == by_beta.api_visibility == "private"
    default = SPEC["style_weight"].default
    assert by_slider.fn(75) == pytest.approx(10 * default) and by_slider.fn(50) == default
    assert by_beta.fn(default / 10) == 25 and by_beta.fn(default) == 50
    assert by_beta.fn(None) == 50 and by_beta.fn(default * 1e9) == 100  # typing, or beyond the knob's end
    assert by_slider.fn(by_beta.fn(by_slider.fn(33))) == by_slider.fn(33), "one round trip changes nothing"
    assert isinstance(by_slider.fn(float("nan")), type(gr.skip()))
