"""Instant examples: every tab's examples have a result made ahead and shipped, shown on a click.

Checked: each example row of each tab has its result in ``docs/examples/results/`` (small: a JPEG of at
most 384 px at quality 85, a grid at most 768 px, a clip a GIF), made by the tab's own handler (its
record names the tab's mode and the row's files); a click on an example fills the inputs and shows that
result with a status line that says it was made ahead, and starts no run (Run does: see
tests/test_browser.py); without the file the click just says to press Run.
"""

from __future__ import annotations

import gradio as gr
import pytest
from PIL import Image

import nst
from studio import wiring
from studio.app import build_demo
from studio.examples import GRID_SIDE, SIDE, _tabs, shrink

MODES = {"single": "single", "multi": "multi", "masked": "masked", "color": "color", "texture": "texture",
         "explore": "explore"}


@pytest.fixture(scope="module")
def demo():
    return build_demo()


def _examples(demo: gr.Blocks) -> dict[str, gr.Dataset]:
    return {b.elem_id.removesuffix("-examples"): b for b in demo.blocks.values()
            if isinstance(b, gr.Dataset) and (b.elem_id or "").endswith("-examples")}


def test_every_tab_has_examples_and_the_script_makes_them_all(demo):
    assert set(_examples(demo)) == set(_tabs()) == {"single", "multi", "masked", "color", "texture", "explore", "video"}


@pytest.mark.parametrize("tab", list(_tabs()))
def test_every_example_has_a_small_result_made_ahead_by_its_tab(tab):
    rows, _ = _tabs()[tab]
    for row in rows:
        path = wiring.RESULTS / wiring.result_name(tab, row)
        assert path.is_file(), f"{path.name} is missing: run python -m studio.examples"
        assert path.stat().st_size < 400_000, f"{path.name} is too large to ship"
        with Image.open(path) as image:
            if tab == "video":
                assert image.format == "GIF" and image.n_frames > 1 and max(image.size) <= SIDE
                continue
            assert image.format == "JPEG" and max(image.size) <= (GRID_SIDE if tab == "explore" else SIDE)
            assert max(image.size) >= 128, "large enough to show what the studio does"
            record = nst.read_settings(image)
        assert record["mode"] == MODES[tab] and record["shipped"]["quality"] == 85
        if tab not in ("texture",):
            assert record["content"] == row[0]
        assert record["styles"][0] in row


def _show(demo: gr.Blocks, tab: str):
    """The event a click on ``tab``'s examples runs after filling the inputs, and what it updates."""
    dataset = _examples(demo)[tab]
    chained = [fn for fn in demo.fns.values() if fn.inputs == [dataset] and fn.fn is not None
               and getattr(fn.fn, "__self__", None) is not None]
    assert len(chained) == 1, tab
    return chained[0]


@pytest.mark.parametrize("tab", list(_tabs()))
def test_a_click_on_an_example_shows_its_result_and_runs_nothing(demo, tab):
    show = _show(demo, tab)
    panel = {c.elem_id for c in show.outputs}
    assert panel == {f"{tab}-result", f"{tab}-status"}, "it fills the output panel, nothing runs"
    assert show.js is None and show.concurrency_id != "device"
    result, status = show.fn((0, ["whatever the dataset holds"]))
    assert result == str(wiring.RESULTS / wiring.result_name(tab, _tabs()[tab][0][0]))
    assert "made ahead of time" in status and "Press **Run** to make a new one" in status
    assert not any(fn.js and "-run" in fn.js for fn in demo.fns.values() if fn.trigger_after is not None
                   and demo.fns[fn.trigger_after].inputs == show.inputs), "a click no longer presses Run"


def test_without_its_result_an_example_just_says_to_press_run(demo, tmp_path, monkeypatch):
    monkeypatch.setattr(wiring, "RESULTS", tmp_path)
    result, status = _show(demo, "single").fn((1, []))
    assert result == gr.skip() and status == wiring.NOT_MADE
    assert _show(demo, "single").fn((99, []))[1] == wiring.NOT_MADE


def test_results_are_shrunk_to_the_shipped_size():
    big = Image.new("RGB", (1000, 500), "red")
    assert shrink(big, SIDE).size == (384, 192) and shrink(Image.new("RGB", (200, 100)), SIDE).size == (200, 100)
