"""The app hosted in public, tried as a hostile visitor would: ``python app.py`` driven with ``gradio_client``.

The server runs with the host's ``HF_TOKEN`` set, its Hub pointed at a local stand-in that records the
``Authorization`` header of every request (``fake_hub_server``), one run allowed to wait
(``NST_QUEUE_SIZE=1``), a pixel budget of 1,000,000, uploads of at most 1 MB and sizes of at most 512 px. Checked, each by
its outcome:

* the host's token reaches the Hub for no visitor: loading and restoring send none, and a push
  needs the visitor's own token (and goes with it alone);
* a dropped PNG cannot make the server read one of its folders, nor tell whether one exists; deeply
  nested JSON is a one-line message; its settings are capped like the form's (a style scale of 8
  does not reach the next run);
* a tiny GIF claiming a huge screen, or a PNG header claiming a huge image, is refused before it is
  decoded, and the server's peak memory stays under ``PEAK_MEMORY``; a file over the upload cap is
  refused by the server itself;
* Stop gets through a full queue with the call the README shows;
* ``seed=NaN``, a string size and a repo id the Hub rejects are one-line messages;
* a second server, whose output folder cannot be written, still hands back each result (and says
  where it is), and empties Gradio's cache of old files (``NST_CACHE_TTL``).
"""

from __future__ import annotations

import io
import json
import struct
import time
import zlib
from pathlib import Path

import httpx
import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError
from gradio_client.utils import QueueError
from PIL import Image, PngImagePlugin

import nst
import nst.presets
from studio.presets import FILL_OUTPUTS

from app_server import serving_app
from fake_hub_server import FakeHubServer

HOST_TOKEN = "hf_host_secret_token"
VISITOR_TOKEN = "hf_visitor_write_token"
PEAK_MEMORY = 1.5 * 2**30
PREVIEW, PLOT, STATUS, RESULT, DOWNLOAD = range(5)
SENT = [name for name in FILL_OUTPUTS if name not in ("single_preset", "multi_preset")]  # what restore returns
README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    """The Hub stand-in, holding the preset as ``alice/look`` and ``carol/look`` (each loaded by one test only,
    so neither is in the server's Hub cache before); writes need ``VISITOR_TOKEN``."""
    folder = tmp_path_factory.mktemp("look")
    look = nst.presets.create(folder / "look", "look", nst.TransferConfig(size=96, steps=4),
                              [Image.new("RGB", (40, 30), (200, 40, 40))], credits=["A. Painter, Red (1901)"])
    with FakeHubServer(token=VISITOR_TOKEN) as server:
        files = {name: (look.folder / name).read_bytes() for name in ("preset.json", "style.jpg")}
        server.add_commit("alice/look", files)
        server.commit_id = server.add_commit("carol/look", files)
        yield server


@pytest.fixture(scope="module")
def served(tmp_path_factory, hub):
    folder = tmp_path_factory.mktemp("public")
    with serving_app(folder, HF_TOKEN=HOST_TOKEN, HF_ENDPOINT=hub.endpoint, HF_HUB_OFFLINE="0",
                     HF_HUB_CACHE=str(folder / "hub-cache"), NST_QUEUE_SIZE="1", NST_MAX_PIXELS="1000000",
                     NST_MAX_UPLOAD_MB="1", NST_MAX_SIZE="512") as (url, process):
        yield url, process


@pytest.fixture
def client(served, tmp_path):
    return Client(served[0], verbose=False, analytics_enabled=False, download_files=str(tmp_path))


@pytest.fixture
def inputs(assets):
    return dict(content=handle_file(str(assets / "tubingen.jpg")), style=handle_file(str(assets / "starry_night.jpg")))


UNCHANGED = {"__type__": "update"}   # gr.skip() as the client sees it: the component is left as it is


def restored(values) -> dict:
    return dict(zip(SENT, values))


def png_with(path: Path, text: str) -> str:
    """A small PNG whose ``nst`` text chunk holds ``text`` (what ``nst.read_settings`` reads)."""
    info = PngImagePlugin.PngInfo()
    info.add_itxt(nst.image.METADATA_KEY, text)
    Image.new("RGB", (32, 24), (90, 120, 200)).save(path, pnginfo=info)
    return str(path)


def png_header(width: int, height: int) -> bytes:
    """A PNG file that claims ``width`` x ``height`` pixels and holds almost nothing."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b"")


def gif_with_screen(width: int, height: int, frames: int) -> bytes:
    """A GIF of ``frames`` 1x1 frames whose logical screen claims ``width`` x ``height``."""
    buffer = io.BytesIO()
    first, *rest = [Image.new("L", (1, 1), 8 * i) for i in range(frames)]
    first.save(buffer, format="GIF", save_all=True, append_images=rest, duration=100)
    data = bytearray(buffer.getvalue())
    data[6:10] = struct.pack("<HH", width, height)
    return bytes(data)


def peak_memory(process) -> int:
    """The server's peak resident memory in bytes (``VmHWM``)."""
    for line in Path(f"/proc/{process.pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM line")


def call_raw(url: str, endpoint: str, body: str) -> str:
    """``endpoint`` called with a JSON ``body`` as written (gradio_client cannot send NaN); the event's text."""
    answer = httpx.post(f"{url}gradio_api/call/v2/{endpoint}", content=body,
                        headers={"Content-Type": "application/json"}, timeout=30)
    answer.raise_for_status()
    event = answer.json()["event_id"]
    with httpx.stream("GET", f"{url}gradio_api/call/{endpoint}/{event}", timeout=60) as stream:
        return stream.read().decode()


# --------------------------------------------------------------------------------------------------
# The host's credentials


def test_loading_a_hub_preset_sends_no_token(client, hub):
    before = len(hub.requests)
    values = restored(client.predict("alice/look", "", api_name="/load_preset"))
    assert "Preset look" in values["preset_status"] and "A. Painter, Red (1901)" in values["preset_status"]
    assert values["single_size"] != 96, "a preset's size gives way to this machine's (studio.budget)"
    sent = hub.requests[before:]
    assert sent, "the preset did not come from the Hub stand-in"
    assert {auth for _, _, auth in sent} == {None}


def test_a_push_needs_the_visitors_own_token_and_goes_with_it_alone(client, hub, painting):
    before = len(hub.requests)
    with pytest.raises(AppError, match="Give your own Hub token with write access"):
        client.predict("mallory/grab", "", "grab", "", "", "", handle_file(painting), None, api_name="/push_preset")
    assert hub.requests[before:] == [], "a push without a token reached the Hub"
    archive, status = client.predict("bob/mine", VISITOR_TOKEN, "mine", "", "", "", handle_file(painting), None,
                                     steps=3, api_name="/push_preset")
    assert "Pushed preset **mine** to bob/mine" in status and "preset.json" in hub.files("bob/mine")
    assert {auth for _, _, auth in hub.requests[before:]} <= {f"Bearer {VISITOR_TOKEN}", None}
    assert f"Bearer {HOST_TOKEN}" not in hub.authorizations()


def test_a_repo_id_the_hub_rejects_is_a_one_line_message(client):
    with pytest.raises(AppError, match=r"No preset 'alice/bad--name': give a built-in one .* or a Hub repo as user/name"):
        client.predict("alice/bad--name", "", api_name="/load_preset")
    with pytest.raises(AppError, match=r"Hub repo 'bob/mine.git': write it user/name"):
        client.predict("bob/mine.git", VISITOR_TOKEN, "mine", "", "", "", None, None, api_name="/push_preset")


# --------------------------------------------------------------------------------------------------
# A dropped PNG is untrusted data


def test_a_png_naming_a_server_folder_neither_reads_it_nor_says_whether_it_exists(client, tmp_path):
    secret = nst.presets.create(tmp_path / "secret", "secret", nst.TransferConfig(),
                                [Image.new("RGB", (40, 30), (10, 200, 10))])
    record = {"preset": secret.to_dict()}
    statuses = []
    for origin in (str(secret.folder), str(tmp_path / "no-such-folder"), str(tmp_path)):
        values = restored(client.predict(handle_file(png_with(tmp_path / "made.png", json.dumps(
            {**record, "preset_origin": origin}))), api_name="/restore_settings"))
        assert values["single_style"] == UNCHANGED, "a painting was read from the server"
        assert str(tmp_path) not in values["preset_status"]
        statuses.append(values["preset_status"])
    assert statuses[0] == statuses[1] == statuses[2]
    assert "does not hold them, so the style image(s) on the page are kept" in statuses[0]


def test_a_png_naming_a_hub_preset_restores_it_anonymously(client, hub, tmp_path):
    data = json.loads(hub.files("carol/look")["preset.json"])
    before = len(hub.requests)
    values = restored(client.predict(handle_file(png_with(tmp_path / "made.png", json.dumps(
        {"preset": data, "preset_origin": f"carol/look@{hub.commit_id}"}))), api_name="/restore_settings"))
    assert "its painting(s) and settings" in values["preset_status"]
    with Image.open(values["single_style"]) as image:
        assert image.convert("RGB").getpixel((20, 15))[0] > 150   # the stand-in's red painting
    sent = hub.requests[before:]
    assert sent and {auth for _, _, auth in sent} == {None}


def test_deeply_nested_json_in_a_png_is_a_one_line_message(client, tmp_path):
    deep = "[" * 100_000 + "]" * 100_000
    with pytest.raises(AppError, match=r"Nothing to restore: deep.png: its nst settings are nested too deeply to read"):
        client.predict(handle_file(png_with(tmp_path / "deep.png", deep)), api_name="/restore_settings")


def test_a_restored_style_scale_is_held_to_the_size_cap_in_the_next_run(client, inputs, tmp_path):
    wide = nst.presets.create(tmp_path / "wide", "wide", nst.TransferConfig(size=256, style_scale=8.0),
                              [Image.new("RGB", (40, 30), (200, 200, 10))])
    values = restored(client.predict(handle_file(png_with(tmp_path / "wide.png", json.dumps(
        {"preset": wide.to_dict()}))), api_name="/restore_settings"))
    assert "Preset wide" in values["preset_status"]
    final = client.predict(**inputs, size=256, steps=2, api_name="/stylize")
    config = nst.read_settings(final[RESULT])["config"]
    assert config["size"] == 256 and config["style_scale"] * 256 <= 512, config["style_scale"]


# --------------------------------------------------------------------------------------------------
# Budgets, before decoding


def test_a_tiny_gif_claiming_a_huge_screen_is_refused_and_memory_stays_bounded(client, served, painting, tmp_path):
    clip = tmp_path / "tiny.gif"
    clip.write_bytes(gif_with_screen(8000, 8000, 30))
    assert clip.stat().st_size < 30_000
    with pytest.raises(AppError, match=r"tiny.gif: frames of 8000x8000 are over the limit of 1,000,000 pixels"):
        client.predict(handle_file(str(clip)), handle_file(painting), api_name="/stylize_video")
    assert peak_memory(served[1]) < PEAK_MEMORY


def test_an_image_claiming_far_more_pixels_than_the_budget_is_refused_unread(client, served, painting, tmp_path):
    huge = tmp_path / "huge.png"
    huge.write_bytes(png_header(9000, 9000))
    with pytest.raises(AppError, match=r"huge.png: 9000x9000 is over the limit of 1,000,000 pixels"):
        client.predict(handle_file(str(huge)), handle_file(painting), size=64, steps=2, api_name="/stylize")
    assert peak_memory(served[1]) < PEAK_MEMORY


def test_the_server_refuses_an_upload_over_the_cap(served):
    answer = httpx.post(f"{served[0]}gradio_api/upload", files={"files": ("big.png", b"0" * 1_500_000)}, timeout=30)
    assert answer.status_code == 413 and "1000000 bytes" in answer.text


def test_nan_and_strings_where_numbers_belong_are_one_line_messages(served, client, inputs):
    assert "Seed must be a number, got nan" in call_raw(served[0], "stylize", '{"content": null, "style": null, '
                                                                              '"seed": NaN}')
    with pytest.raises(AppError, match="Size \\(px\\) must be a number, got 'abc'"):
        client.predict(**inputs, size="abc", api_name="/stylize")


# --------------------------------------------------------------------------------------------------
# Stop through a full queue


def stop_call(client: Client) -> httpx.Response:
    """The README's call: Stop served outside the queue, for this client's session."""
    return httpx.post(f"{client.src}gradio_api/run/stop", json={"data": [], "session_hash": client.session_hash})


def test_stop_gets_through_a_full_queue_with_the_call_the_readme_shows(served, inputs, tmp_path):
    assert 'gradio_api/run/stop", json={"data": [], "session_hash": client.session_hash}' in README
    running, waiting = (Client(served[0], verbose=False, analytics_enabled=False, download_files=str(tmp_path))
                        for _ in range(2))
    long_job = running.submit(**inputs, size=64, steps=1000, api_name="/stylize")
    deadline = time.monotonic() + 60
    while not long_job.outputs() and time.monotonic() < deadline:
        time.sleep(0.1)
    queued = waiting.submit(**inputs, size=64, steps=2, api_name="/stylize")
    while queued.status().code.name != "IN_QUEUE" and time.monotonic() < deadline:
        time.sleep(0.1)
    with pytest.raises(QueueError):  # gradio_client joins the queue even for Stop, and the queue is full
        running.predict(api_name="/stop")
    answer = stop_call(running)
    assert answer.status_code == 200 and answer.json()["data"][0].startswith("Stopping")
    final = long_job.result(timeout=60)
    assert final[STATUS].startswith("Stopped at step") and Path(final[RESULT]).is_file()
    assert queued.result(timeout=60)[STATUS].startswith("Done: 2 steps")


# --------------------------------------------------------------------------------------------------
# Disk: an output folder that refuses writes, and Gradio's cache


@pytest.fixture(scope="module")
def refusing(tmp_path_factory):
    """A server whose output folder cannot be made (it would sit under a file), with its own temporary folder
    and Gradio cache, which keeps files ``NST_CACHE_TTL`` = 6 seconds."""
    folder = tmp_path_factory.mktemp("refusing")
    (folder / "a-file").write_text("not a folder")
    for name in ("tmp", "gradio"):
        (folder / name).mkdir()
    with serving_app(folder, NST_OUTPUT_DIR=str(folder / "a-file" / "outputs"), TMPDIR=str(folder / "tmp"),
                     GRADIO_TEMP_DIR=str(folder / "gradio"), NST_CACHE_TTL="6") as (url, _):
        yield url, folder


def test_a_run_whose_output_folder_refuses_it_still_hands_back_its_image(refusing, inputs, tmp_path):
    url, folder = refusing
    client = Client(url, verbose=False, analytics_enabled=False, download_files=str(tmp_path))
    final = client.predict(**inputs, size=64, steps=2, api_name="/stylize")
    assert final[STATUS].startswith("Done: 2 steps")
    assert "could not be saved in the output folder (not a directory)" in final[STATUS]
    assert nst.read_settings(final[RESULT])["config"]["steps"] == 2
    assert list((folder / "tmp" / "nst-unsaved").glob("single-*.png")), "the result was not kept anywhere"


def test_gradios_cache_is_emptied_of_old_files(refusing, painting, tmp_path):
    url, folder = refusing
    client = Client(url, verbose=False, analytics_enabled=False, download_files=str(tmp_path))
    Image.new("RGB", (80, 60), (30, 160, 90)).save(tmp_path / "visitor-photo.png")  # not an example: not kept
    client.predict(handle_file(str(tmp_path / "visitor-photo.png")), handle_file(painting), size=64, steps=2,
                   api_name="/stylize")
    cache = folder / "gradio"
    made = {p for p in cache.rglob("*") if p.is_file() and p.name == "visitor-photo.png"}
    assert made, "the upload is not in Gradio's cache"
    deadline = time.monotonic() + 60
    while made & {p for p in made if p.exists()} and time.monotonic() < deadline:
        time.sleep(1)
    assert not any(p.exists() for p in made), "Gradio's cache kept the upload past NST_CACHE_TTL"
