"""The real page in headless Chromium (Playwright), served by ``python app.py`` on tiny random weights.

A visitor's path through the Single style tab: the page loads and says which weights it uses, a
photo and a painting are uploaded, the Style strength slider is moved (which sets the style weight),
Run is pressed, a live preview appears while the result is still empty, then the result appears with
a "Done" status and records both the strength and the weight; a screenshot of the page is saved. And
a first visitor's path: a click on an example fills the inputs and shows its result made ahead at
once, running nothing; Run then makes exactly one run, and so does Continue. And a run refused for a
missing input: its message says what to do. And Stop in a run of fast steps: the run ends, and its own
"Stopped at step" status is the last word.
"""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import expect, sync_playwright

import nst
from app_server import CHROMIUM, CHROMIUM_ARGS, running_app
from nst.config import SPEC

STEPS = 400  # long enough (seconds, on tiny weights) for the preview to show before the result


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """The server's URL and its output folder."""
    folder = tmp_path_factory.mktemp("browser-server")
    with running_app(folder) as url:
        yield url, folder / "outputs"


@pytest.fixture
def page():
    assert CHROMIUM.is_file(), "Chromium is missing: apt-get install chromium (see .ci/run)"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser.new_page(viewport={"width": 1400, "height": 1000})
        finally:
            browser.close()


def set_number(page, elem_id: str, value: int) -> None:
    box = page.locator(f"#{elem_id} input[type=number]")
    box.fill(str(value))
    box.press("Enter")


def test_upload_run_preview_then_result(served, page, assets, tmp_path):
    server, outputs = served
    page.goto(server)
    expect(page.locator("#runtime")).to_contain_text("tiny random", timeout=60_000)
    page.locator("#single-content input[type=file]").set_input_files(str(assets / "tubingen.jpg"))
    page.locator("#single-style input[type=file]").set_input_files(str(assets / "starry_night.jpg"))
    expect(page.locator("#single-content img")).to_be_visible()
    expect(page.locator("#single-style img")).to_be_visible()
    set_number(page, "single-size", 64)
    set_number(page, "single-steps", STEPS)
    expect(page.locator("#single-estimate")).to_contain_text("a run at these settings takes about")
    set_number(page, "single-style_strength", 75)  # ten times the default style weight
    beta = 10 * SPEC["style_weight"].default
    page.locator("#single-advanced").get_by_role("button", name=re.compile("^Advanced")).first.click()
    expect(page.locator("#single-style_weight input")).to_have_value(f"{beta:g}")
    before = set(outputs.glob("*.png"))

    page.locator("#single-run").click()
    page.locator("#single-preview img").wait_for(timeout=60_000)
    assert page.locator("#single-result img").count() == 0, "the result came before any preview"
    page.locator("#single-result img").wait_for(timeout=120_000)
    expect(page.locator("#single-status")).to_contain_text(f"Done: {STEPS} steps")
    made = set(outputs.glob("*.png")) - before
    assert len(made) == 1
    settings = nst.read_settings(made.pop())
    assert settings["config"]["style_weight"] == beta and settings["style_strength"] == 75

    shot = tmp_path / "page.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000


def test_an_example_shows_its_result_at_once_and_run_makes_one(served, page):
    url, outputs = served
    page.goto(url)
    expect(page.locator("#runtime")).to_contain_text("tiny random", timeout=60_000)
    set_number(page, "single-size", 64)
    set_number(page, "single-steps", 40)
    before = set(outputs.glob("*.png"))

    page.locator("#single-examples .gallery-item, #single-examples tbody tr").first.click()  # tubingen, starry night
    expect(page.locator("#single-status")).to_contain_text("made ahead of time", timeout=30_000)
    expect(page.locator("#single-result img")).to_be_visible()
    assert "single-tubingen" in page.locator("#single-result img").get_attribute("src")
    expect(page.locator("#single-content img")).to_be_visible()  # the example's inputs are filled in
    time.sleep(3)
    assert set(outputs.glob("*.png")) == before, "a click on an example runs nothing"

    page.locator("#single-run").click()
    expect(page.locator("#single-status")).to_contain_text("Done: 40 steps", timeout=120_000)
    time.sleep(5)  # a second run, queued behind the first, would have started and ended by now
    made = set(outputs.glob("*.png")) - before
    assert len(made) == 1, f"{len(made)} runs for one press of Run"
    settings = nst.read_settings(made.pop())
    assert settings["content"] == "tubingen.jpg" and settings["styles"] == ["starry_night.jpg"]
    assert settings["config"]["steps"] == 40, "the example ran with the settings on the page"

    first = set(outputs.glob("*.png"))
    page.locator("#single-continue").click()  # goes through Run too: a new run from the result
    deadline = time.monotonic() + 120
    while not set(outputs.glob("*.png")) - first and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(3)
    made = set(outputs.glob("*.png")) - first
    assert len(made) == 1, f"{len(made)} runs for one press of Continue"
    assert nst.read_settings(made.pop())["config"]["init"] == "image"


def test_a_run_refused_for_bad_input_says_what_to_do(served, page):
    url, outputs = served
    page.goto(url)
    expect(page.locator("#runtime")).to_contain_text("tiny random", timeout=60_000)
    page.get_by_role("tab", name="Texture").click()
    page.locator("#texture-run").click()  # with no painting given
    expect(page.get_by_text("upload a painting or a texture")).to_be_visible(timeout=30_000)
    assert not list(outputs.glob("texture-*")), "a refused run wrote nothing"


def test_stop_ends_the_run_and_its_own_last_status_stays(served, page):
    url, outputs = served
    page.goto(url)
    expect(page.locator("#runtime")).to_contain_text("tiny random", timeout=60_000)
    set_number(page, "single-size", 192)  # steps of milliseconds that leave the server room to hear Stop
    set_number(page, "single-steps", 1000)
    page.locator("#single-examples .gallery-item, #single-examples tbody tr").first.click()
    expect(page.locator("#single-status")).to_contain_text("made ahead of time", timeout=30_000)
    page.locator("#single-run").click()
    page.locator("#single-preview img").wait_for(timeout=60_000)
    page.locator("#single-stop").click()
    expect(page.locator("#single-status")).to_contain_text("Stopped at step", timeout=60_000)
    page.wait_for_timeout(2000)  # nothing later over the run's last word
    expect(page.locator("#single-status")).to_contain_text("Stopped at step")
