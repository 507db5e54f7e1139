"""``python app.py`` in a subprocess on 127.0.0.1 with tiny random weights, for the client and browser tests.

The server is started exactly as a user would start it; only its environment is set: the weights
file (``NST_WEIGHTS``), the output folder, host and port (``GRADIO_SERVER_NAME`` / ``_PORT``), no
analytics, the Hub offline, and one CPU thread (the tiny network gains nothing from more). The load
test (``bench/load.py``, ``tests/test_load.py``) starts it this way too; ``launched_app`` starts it with
whatever weights the host resolves (``bench/screenshot.py``).
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Iterator

from nst.weights import TORCHVISION, VGGWeights, save_features

ROOT = Path(__file__).resolve().parents[1]
START_TIMEOUT_S = 180
# Debian's Chromium, headless, as the browser tests and the benches drive it through Playwright (as root).
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


class AppDidNotStart(RuntimeError):
    """The app exited or did not answer in time; the message ends with its log."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_serving(url: str, process: subprocess.Popen, log: Path, timeout: float = START_TIMEOUT_S,
                       poll: float = 0.5) -> None:
    """Return once ``url`` answers HTTP 200; ``AppDidNotStart`` (with the log's end) if the app exits first or
    does not answer within ``timeout`` seconds. ``poll``: seconds between tries."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AppDidNotStart(f"app.py exited with status {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(poll)
    raise AppDidNotStart(f"app.py did not answer within {timeout:g} s:\n{log.read_text()[-3000:]}")


def stop(process: subprocess.Popen, grace: float = 20) -> None:
    """End the app's process: SIGTERM, then SIGKILL if it has not exited within ``grace`` seconds."""
    process.terminate()
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextlib.contextmanager
def running_app(folder: Path) -> Iterator[str]:
    """Serve the app from ``folder`` (weights, outputs and log go there); yields its URL, stops it after."""
    with serving_app(folder) as (url, _):
        yield url


@contextlib.contextmanager
def serving_app(folder: Path, **environment: str) -> Iterator[tuple[str, subprocess.Popen]]:
    """Like ``running_app``, with more environment variables (``NST_QUEUE_SIZE="2"``, a weights file as
    ``NST_WEIGHTS``, ...); yields the URL and the server's process."""
    from tests.conftest import make_tiny_convs

    weights = save_features(VGGWeights(make_tiny_convs(), TORCHVISION, "tiny random"), folder / "tiny.safetensors")
    with launched_app(folder, **{"NST_WEIGHTS": str(weights), "OMP_NUM_THREADS": "1", **environment}) as served:
        yield served


@contextlib.contextmanager
def launched_app(folder: Path, **environment: str) -> Iterator[tuple[str, subprocess.Popen]]:
    """``python app.py`` on a free port of 127.0.0.1 with this process's environment and ``environment``
    over it (the Hub offline, no analytics, outputs and log in ``folder``); yields the URL and the
    server's process once it answers, and stops it after."""
    port = free_port()
    env = {
        **os.environ,
        "NST_OUTPUT_DIR": str(folder / "outputs"),
        "GRADIO_SERVER_NAME": "127.0.0.1",
        "GRADIO_SERVER_PORT": str(port),
        "GRADIO_ANALYTICS_ENABLED": "False",
        "HF_HUB_OFFLINE": "1",
        **environment,
    }
    log = folder / "server.log"
    with open(log, "w") as out:
        process = subprocess.Popen([sys.executable, str(ROOT / "app.py")], cwd=ROOT, env=env,
                                   stdout=out, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}/"
        wait_until_serving(url, process, log)
        yield url, process
    finally:
        stop(process)
