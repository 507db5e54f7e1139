"""The real page in headless Chromium (Playwright), served by ``python app.py`` on tiny random weights.

A visitor's path through the Single style tab: the page loads and says which weights it uses, a
photo and a painting are uploaded, Run is pressed, a live preview appears while the result is still
empty, then the result appears with a "Done" status; a screenshot of the page is saved. And a first
visitor's path: a click on an example fills the inputs and runs them once, even when Run is pressed
right after (the example's run and Run are one event, which the page does not start twice).
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from playwright.sync_api import expect, sync_playwright

import nst
from app_server import running_app

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
STEPS = 150  # long enough (seconds, on tiny weights) for the preview to show before the result


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """The server's URL and its output folder."""
    folder = tmp_path_factory.mktemp("browser-server")
    with running_app(folder) as url:
        yield url, folder / "outputs"


@pytest.fixture
def server(served):
    return served[0]


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


def test_upload_run_preview_then_result(server, page, assets, tmp_path):
    page.goto(server)
    expect(page.locator("#runtime")).to_contain_text("tiny random", timeout=60_000)
    page.locator("#single-content input[type=file]").set_input_files(str(assets / "tubingen.jpg"))
    page.locator("#single-style input[type=file]").set_input_files(str(assets / "starry_night.jpg"))
    expect(page.locator("#single-content img")).to_be_visible()
    expect(page.locator("#single-style img")).to_be_visible()
    set_number(page, "single-size", 64)
    set_number(page, "single-steps", STEPS)

    page.locator("#single-run").click()
    page.locator("#single-preview img").wait_for(timeout=60_000)
    assert page.locator("#single-result img").count() == 0, "the result came before any preview"
    page.locator("#single-result img").wait_for(timeout=120_000)
    expect(page.locator("#single-status")).to_contain_text(f"Done: {STEPS} steps")

    shot = tmp_path / "page.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000


def test_an_example_runs_once_even_when_run_is_pressed_after_it(served, page):
    url, outputs = served
    page.goto(url)
    expect(page.locator("#runtime")).to_contain_text("tiny random", timeout=60_000)
    set_number(page, "single-size", 64)
    set_number(page, "single-steps", 40)
    before = set(outputs.glob("*.png"))

    page.locator("#single-examples .gallery-item, #single-examples tbody tr").first.click()  # tubingen, starry night
    page.locator("#single-run").click()  # as a visitor who does not know the example already runs
    page.locator("#single-result img").wait_for(timeout=120_000)
    expect(page.locator("#single-status")).to_contain_text("Done: 40 steps")
    time.sleep(5)  # a second run, queued behind the first, would have started and ended by now

    made = set(outputs.glob("*.png")) - before
    assert len(made) == 1, f"{len(made)} runs for one example"
    settings = nst.read_settings(made.pop())
    assert settings["content"] == "tubingen.jpg" and settings["styles"] == ["starry_night.jpg"]
    assert settings["config"]["steps"] == 40, "the example ran with the settings on the page"
    expect(page.locator("#single-status")).to_contain_text("Done: 40 steps")

    first = set(outputs.glob("*.png"))
    page.locator("#single-continue").click()  # goes through Run too: a new run from the result
    deadline = time.monotonic() + 120
    while not set(outputs.glob("*.png")) - first and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(3)
    made = set(outputs.glob("*.png")) - first
    assert len(made) == 1, f"{len(made)} runs for one press of Continue"
    assert nst.read_settings(made.pop())["config"]["init"] == "image"
