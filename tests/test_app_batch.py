"""Visitors' runs optimised together (``studio.batcher``), through the Single style tab's handler itself.

Two visitors (two browser sessions) start runs at the same time with ``NST_BATCH_SIZE=2``: their runs go
through one ``nst.batch.BatchedTransfer`` (passes of two images), each stream gets its own events and
its own result, and one visitor's Stop ends only their run.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from PIL import Image

import nst
from memory_limited import MemoryLimited
from studio import batcher, limits, runtime
from studio.app import build_demo
from studio.env import HostSettingError
from studio.stream import stop
from studio.tabs.single import stylize

STATUS, RESULT = 2, 3
RUN = dict(size=64, steps=8, style_weight=20.0)  # a strong style, so that the two paintings part the results

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(autouse=True)
def tiny_app(tiny_app_folder, monkeypatch):
    """The app on tiny weights in float32, results in a temporary folder, two runs per batch."""
    monkeypatch.setenv("NST_PRECISION", "fp32")
    monkeypatch.setenv("NST_BATCH_SIZE", "2")
    monkeypatch.setenv("NST_BATCH_WINDOW_MS", "20000")  # both runs join; two waiting close the window at once
    monkeypatch.setattr(batcher, "_shared", {})  # a batcher of this test's own
    return tiny_app_folder


class Visitor:
    """A browser session of its own (Stop reaches only its runs)."""

    def __init__(self, name: str) -> None:
        self.session_hash = name


def result_of(outputs: list[tuple]) -> tuple[np.ndarray, dict]:
    with Image.open(outputs[-1][RESULT]) as image:
        return np.asarray(image.convert("RGB"), dtype=np.int16), nst.read_settings(image)


def together(*calls):
    """Run the handler calls in threads at once; each one's outputs."""
    with ThreadPoolExecutor(len(calls)) as pool:
        return [f.result(timeout=120) for f in [pool.submit(call) for call in calls]]


def test_two_visitors_runs_are_optimised_together_each_with_its_own_result(photo, painting, assets, monkeypatch):
    scream = str(assets / "the_scream.jpg")
    shared = batcher.shared()
    outputs = together(lambda: list(stylize(photo, painting, request=Visitor("a"), **RUN)),
                       lambda: list(stylize(photo, scream, request=Visitor("b"), **RUN)))
    assert shared.sizes == [2] * RUN["steps"]  # every step, one pass over both visitors' images
    (starry, starry_settings), (screamed, scream_settings) = map(result_of, outputs)
    assert starry_settings["styles"] == ["starry_night.jpg"] and scream_settings["styles"] == ["the_scream.jpg"]
    assert all(s["stop_reason"] == "finished" and s["steps_done"] == RUN["steps"]
               for s in (starry_settings, scream_settings))
    assert np.abs(starry - screamed).mean() > 3  # each got its own painting's result
    monkeypatch.setenv("NST_BATCH_SIZE", "1")  # each alone, as without batching
    for image, style in ((starry, painting), (screamed, scream)):
        alone, _ = result_of(list(stylize(photo, style, **RUN)))
        assert np.abs(image - alone).max() <= 2  # the batched pass's rounding, carried by L-BFGS (nst.batch)
    assert batcher.shared().sizes == []


def test_one_visitors_stop_ends_only_their_run(photo, painting, assets):
    scream = str(assets / "the_scream.jpg")
    started = threading.Barrier(2)

    def stopping():
        run = stylize(photo, painting, request=Visitor("stops"), size=64, steps=300)
        first = next(run)
        started.wait(timeout=60)
        assert "Step" in first[STATUS]
        assert stop(Visitor("stops")).startswith("Stopping after this step")
        return [first, *run]

    def staying():
        run = stylize(photo, scream, request=Visitor("stays"), size=64, steps=40)
        first = next(run)
        started.wait(timeout=60)
        return [first, *run]

    stopped, finished = together(stopping, staying)
    _, settings = result_of(stopped)
    assert settings["stop_reason"] == "cancelled" and settings["steps_done"] < 40
    assert stopped[-1][STATUS].startswith(f"Stopped at step {settings['steps_done']}/300")
    _, settings = result_of(finished)
    assert settings["stop_reason"] == "finished" and settings["steps_done"] == 40
    assert 2 in batcher.shared().sizes and batcher.shared().sizes[-1] == 1  # together, then the one left alone


def test_out_of_memory_in_the_batch_retries_smaller_as_alone(photo, painting, tiny_weights, monkeypatch):
    monkeypatch.setenv("NST_BATCH_WINDOW_MS", "0")
    monkeypatch.setattr(runtime, "get_model", lambda: MemoryLimited(tiny_weights, most=48))
    monkeypatch.setattr("nst.recovery.DEFAULT_FLOOR", 16)
    with pytest.warns(UserWarning, match="Out of memory at 64 px; retrying at 48 px"):  # gr.Warning, outside a page
        outputs = list(stylize(photo, painting, size=64, steps=4))
    assert outputs[-1][STATUS].startswith("Done: 4 steps")
    _, settings = result_of(outputs)
    assert settings["config"]["size"] == 48 and settings["stop_reason"] == "finished"
    assert batcher.shared().sizes == [1] * 4  # the retry went through the batcher too


def test_runs_that_cannot_be_batched_go_their_own_way(photo, painting):
    outputs = list(stylize(photo, painting, optimizer="adam", **RUN))
    assert result_of(outputs)[1]["stop_reason"] == "finished"
    assert batcher.shared().sizes == []


def test_batch_settings_are_read_from_the_environment(monkeypatch):
    assert (batcher.batch_size(), batcher.window()) == (2, 20.0)
    monkeypatch.delenv("NST_BATCH_SIZE")
    monkeypatch.delenv("NST_BATCH_WINDOW_MS")
    assert (batcher.batch_size(), batcher.window()) == (1, batcher.WINDOW_MS / 1000)  # the CPU: off
    monkeypatch.setenv("NST_BATCH_SIZE", "two")
    with pytest.raises(HostSettingError, match=r"^NST_BATCH_SIZE must be a whole number of runs .*'two'"):
        limits.check_environment()
    monkeypatch.setenv("NST_BATCH_SIZE", "4")
    monkeypatch.setenv("NST_BATCH_WINDOW_MS", "-1")
    with pytest.raises(HostSettingError, match="^NST_BATCH_WINDOW_MS must be a whole number of milliseconds"):
        limits.check_environment()


def test_the_device_takes_as_many_runs_at_once_as_a_batch(monkeypatch):
    def device_limits() -> set:
        demo = build_demo()
        return {fn.concurrency_limit for fn in demo.fns.values() if fn.concurrency_id == "device"}

    assert device_limits() == {2}
    monkeypatch.setenv("NST_BATCH_SIZE", "1")
    assert device_limits() == {1}
