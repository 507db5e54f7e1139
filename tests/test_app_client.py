"""The app as a server: ``python app.py`` in a subprocess on 127.0.0.1, driven with ``gradio_client``.

The server runs on tiny random weights (``NST_WEIGHTS``) so a step takes milliseconds. Checked: a
run streams previews before its final image, and the public ``/stop`` endpoint, called from the same
client session, ends a long run early and the run still hands back an image.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from gradio_client import Client, handle_file
from PIL import Image

import nst
from app_server import running_app

PREVIEW, PLOT, STATUS, RESULT, DOWNLOAD = range(5)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """The URL of ``python app.py`` on tiny weights, for the module's tests."""
    with running_app(tmp_path_factory.mktemp("server")) as url:
        yield url


@pytest.fixture
def client(server, tmp_path):
    return Client(server, verbose=False, analytics_enabled=False, download_files=str(tmp_path))


@pytest.fixture
def inputs(assets):
    return dict(content=handle_file(str(assets / "tubingen.jpg")),
                style=handle_file(str(assets / "starry_night.jpg")))


def is_image_file(value) -> bool:
    if not value or not isinstance(value, str) or not Path(value).is_file():
        return False
    with Image.open(value) as image:
        return image.size[0] > 0


def test_previews_stream_before_the_final_image(client, inputs):
    job = client.submit(**inputs, size=64, steps=12, api_name="/stylize")
    outputs = list(job)
    assert outputs, "the run sent nothing"
    first_result = next(i for i, o in enumerate(outputs) if is_image_file(o[RESULT]))
    assert any(is_image_file(o[PREVIEW]) for o in outputs[:first_result]), "no preview before the result"
    final = outputs[-1]
    assert final[STATUS].startswith("Done: 12 steps")
    settings = nst.read_settings(final[RESULT])
    assert settings["config"]["steps"] == 12 and settings["stop_reason"] == "finished"
    assert Path(final[DOWNLOAD]).suffix == ".png"


def test_stop_ends_a_run_early_with_an_image(client, inputs):
    job = client.submit(**inputs, size=256, steps=1000, api_name="/stylize")
    deadline = time.monotonic() + 60
    while not job.outputs() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert job.outputs(), "the run sent no progress within a minute"
    assert client.predict(api_name="/stop").startswith("Stopping")
    final = job.result(timeout=60)
    assert final[STATUS].startswith("Stopped at step")
    settings = nst.read_settings(final[RESULT])
    assert settings["stop_reason"] == "cancelled" and settings["steps_done"] < 1000
    assert client.predict(api_name="/stop") == "Nothing is running."


def test_a_bad_upload_is_a_clear_error_and_the_server_keeps_serving(client, inputs, tmp_path):
    from gradio_client.exceptions import AppError

    notes = tmp_path / "notes.png"
    notes.write_text("not a picture")
    with pytest.raises(AppError, match="notes.png is not an image this app can read"):
        client.predict(content=handle_file(str(notes)), style=inputs["style"], size=64, steps=2, api_name="/stylize")
    final = client.predict(**inputs, size=64, steps=2, api_name="/stylize")
    assert final[STATUS].startswith("Done: 2 steps") and is_image_file(final[RESULT])
