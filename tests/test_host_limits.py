"""A public host's limits, with the app's handlers and modules called directly (tiny random VGG-19 weights).

Checked, each by its outcome: the environment variables (a bad one stops ``python app.py`` with one line
naming it); who may push (``NST_ALLOW_PUSH``); the caps on what a preset or restored image brings (steps,
style scale, texture sides, machine settings); the pixel and aspect budgets of images, masks, painted
layers and clips; number controls refusing NaN and text; the output folder bounded by count and bytes
(preset folders too) with pruning that survives files vanishing under it and parallel runs; a run whose
output folder is full still hands back its image; and the page cleans Gradio's cache and caps uploads.
"""

from __future__ import annotations

import errno
import os
import re
import subprocess
import sys
import threading
from pathlib import Path

import gradio as gr
import pytest
from gradio.data_classes import FileData
from PIL import Image, PngImagePlugin

import nst
import nst.presets
from nst.weights import save_features
from studio import form, hub, inputs, limits, runtime, storage
from studio.env import HostSettingError
from studio.form import TRANSFER
from studio.presets import FILL_OUTPUTS, push_preset, restore_settings
from studio.tabs.single import stylize
from studio.tabs.texture import texture
from studio.tabs.video import stylize_video

from fake_hub_server import FakeHubServer

ROOT = Path(__file__).resolve().parents[1]
FAST = dict(size=64, steps=2, scales=1)
STATUS, RESULT, DOWNLOAD = 2, 3, 4
VARIABLES = ("NST_MAX_SIZE", "NST_QUEUE_SIZE", "NST_TIME_LIMIT", "NST_MAX_PIXELS", "NST_MAX_CLIP_PIXELS",
             "NST_MAX_UPLOAD_MB", "NST_MAX_OUTPUTS", "NST_MAX_OUTPUT_MB", "NST_CACHE_TTL", "NST_ALLOW_PUSH")

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(autouse=True)
def host(tmp_path, tiny_weights, monkeypatch):
    """The app on tiny weights, results in a temporary folder, the variables unset but the size cap (512 px, the
    CPU's, on any machine), the fallback folder its own."""
    for name in (*VARIABLES, "HF_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NST_MAX_SIZE", "512")
    monkeypatch.setenv("NST_WEIGHTS", str(save_features(tiny_weights, tmp_path / "tiny.safetensors")))
    monkeypatch.setenv("NST_OUTPUT_DIR", str(tmp_path / "outputs"))
    monkeypatch.setattr(storage, "fallback_dir", lambda: tmp_path / "unsaved")
    return tmp_path


def last(run) -> tuple:
    *_, final = run
    return final


# --------------------------------------------------------------------------------------------------
# The environment


def test_a_bad_variable_stops_the_app_at_start_with_one_line_naming_it(tmp_path):
    env = {**os.environ, "NST_MAX_SIZE": "abc", "NST_OUTPUT_DIR": str(tmp_path / "out")}
    done = subprocess.run([sys.executable, str(ROOT / "app.py")], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300)
    default = runtime.SIZE_LIMITS[runtime.device().type]
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "app.py: NST_MAX_SIZE must be a whole number of pixels (the longest side a run may make), at least 16; "
        f"got 'abc': set it to a number like {default} (or unset it for the default, {default})"]


@pytest.mark.parametrize("name, value", [(n, v) for n in VARIABLES for v in ("abc", "-3", "1.5")
                                          if not (n == "NST_TIME_LIMIT" and v == "1.5")])
def test_every_variable_is_checked_and_named(monkeypatch, name, value):
    monkeypatch.setenv(name, value)
    with pytest.raises(HostSettingError, match=f"^{name} must be"):
        limits.check_environment()


def test_the_budgets_follow_their_variables(monkeypatch):
    assert (limits.max_pixels(), limits.max_upload_bytes(), limits.delete_cache()) == (25_000_000, 50 * 10**6,
                                                                                       (1800, 4 * 3600))
    assert limits.max_clip_pixels() == runtime.video_frames()[1] * 512**2 and limits.push_policy() == "token"
    monkeypatch.setenv("NST_CACHE_TTL", "60")
    monkeypatch.setenv("NST_MAX_OUTPUT_MB", "3")
    monkeypatch.setenv("NST_ALLOW_PUSH", " OFF ")
    assert (limits.delete_cache(), limits.max_output_bytes(), limits.push_policy()) == ((60, 60), 3 * 2**20, "off")


def test_the_page_cleans_gradios_cache_and_caps_uploads(monkeypatch):
    import studio.app

    monkeypatch.setenv("NST_CACHE_TTL", "120")
    monkeypatch.setenv("NST_MAX_UPLOAD_MB", "7")
    launched = {}
    monkeypatch.setattr(gr.Blocks, "launch", lambda demo, **options: launched.update(options, demo=demo))
    studio.app.main()
    assert launched["demo"].delete_cache == (120, 120) and launched["max_file_size"] == 7 * 10**6


# --------------------------------------------------------------------------------------------------
# The Hub: who may push


def test_push_needs_the_visitors_token_unless_the_host_says_otherwise(monkeypatch, painting):
    with FakeHubServer(token="hf_host") as server:
        monkeypatch.setenv("HF_ENDPOINT", server.endpoint)
        monkeypatch.setenv("HF_TOKEN", "hf_host")
        with pytest.raises(gr.Error, match="Give your own Hub token with write access"):
            push_preset("alice/look", "", "look", style=painting, **FAST)
        monkeypatch.setenv("NST_ALLOW_PUSH", "off")
        with pytest.raises(gr.Error, match="Pushing to the Hub is turned off on this server"):
            push_preset("alice/look", "hf_host", "look", style=painting, **FAST)
        assert server.requests == []
        monkeypatch.setenv("NST_ALLOW_PUSH", "host")  # an app its host alone reaches: the host's login
        _, status = push_preset("alice/look", "", "look", style=painting, **FAST)
        assert "Pushed preset **look** to alice/look" in status
        assert "Bearer hf_host" in server.authorizations()
    assert hub.token_hint() == "empty: this server's HF_TOKEN or login"


def test_an_origin_is_looked_up_only_as_a_builtin_or_a_hub_commit(tmp_path):
    own = nst.presets.create(tmp_path / "own", "own", nst.TransferConfig(), [Image.new("RGB", (8, 8))])
    assert hub.origin_here("starry-night").folder == nst.presets.BUILTIN_DIR / "starry-night"
    for origin in (str(own.folder), str(own.folder / "preset.json"), "../presets/starry-night", "alice/look",
                   "bad--repo/x@main", "alice/look@../../etc"):
        assert hub.origin_here(origin) is None, origin


def test_restoring_a_builtins_result_brings_its_painting_back_and_a_folder_is_never_read(tmp_path):
    builtin = nst.presets.read(nst.presets.BUILTIN_DIR / "starry-night")
    image = Image.new("RGB", (16, 12))
    for origin, painting in (("starry-night", True), (str(builtin.folder), False)):
        path = nst.save_image(image, tmp_path / "made.png", {"preset": builtin.to_dict(), "preset_origin": origin})
        values = dict(zip(FILL_OUTPUTS, restore_settings(str(path))))
        assert isinstance(values["single_style"], Image.Image) is painting, origin
        assert str(builtin.folder) not in values["preset_status"]


# --------------------------------------------------------------------------------------------------
# What a preset or a restored image brings is capped like the form


def test_a_presets_style_scale_is_lowered_to_keep_the_painting_within_the_size_cap():
    wide = nst.presets.Preset(name="wide", styles=(nst.presets.StyleImage(file="a.jpg"),),
                              config=nst.TransferConfig(style_scale=8.0, max_memory=2**40, tile_size=64))
    with pytest.warns(UserWarning, match="Style scale 8 would process the painting at 2048 px, over this "
                                         "machine's limit of 512 px; using 2"):
        config = TRANSFER.config(TRANSFER.values({"size": 256}), wide)
    assert config.style_scale == 2.0
    with pytest.warns(UserWarning, match="Style scale 1 would process the painting at 1536 px"):
        blend = TRANSFER.config(TRANSFER.values({"size": 512}), None, style_scales=(1.0, 3.0),
                                style_blend_weights=(1, 1))
    assert blend.style_scale == 0.33
    assert (form.for_this_host(wide.config).max_memory, form.for_this_host(wide.config).tile_size) == (0, 0)


def test_steps_and_texture_sides_are_capped(painting):
    with pytest.warns(UserWarning, match="Steps 5000 steps is over this machine's limit; using 1000 steps"):
        assert TRANSFER.config(TRANSFER.values({"size": 64, "steps": 5000})).steps == 1000
    with pytest.warns(UserWarning, match="Width 5000 px is over this machine's limit; using 512 px"):
        final = last(texture(painting, 5000, 16, steps=1))
    with Image.open(final[RESULT]) as made:
        assert made.size == (512, 16)


# --------------------------------------------------------------------------------------------------
# Images, masks, clips and numbers


def test_images_and_masks_are_held_to_the_pixel_budget_before_decoding(monkeypatch, tmp_path):
    monkeypatch.setenv("NST_MAX_PIXELS", "10000")
    Image.new("RGB", (120, 100)).save(tmp_path / "big.png")
    with pytest.raises(gr.Error, match=r"The style image could not be used: big.png: 120x100 is over the limit of "
                                       r"10,000 pixels"):
        inputs.style_image(str(tmp_path / "big.png"))
    with pytest.raises(gr.Error, match=r"Mask 1 big.png: 120x100 is over the limit of 10,000 pixels"):
        inputs.read_mask(str(tmp_path / "big.png"), "Mask 1")
    editor = inputs.guard_pixels(gr.ImageEditor(type="pil"))
    with pytest.raises(gr.Error, match="The painted image is over the limit of 10,000 pixels"):
        editor.preprocess(type("Payload", (), {"background": FileData(path=str(tmp_path / "big.png")),
                                               "composite": None, "layers": []})())


def test_a_long_thin_painting_is_refused(tmp_path):
    Image.new("RGB", (2000, 20)).save(tmp_path / "strip.png")
    with pytest.raises(gr.Error, match=r"The style image is 2000x20, too long and thin for this machine \(at most 16:1"):
        inputs.style_image(str(tmp_path / "strip.png"))
    Image.new("RGB", (160, 20)).save(tmp_path / "panorama.png")
    assert inputs.style_image(str(tmp_path / "panorama.png")).size == (160, 20)


def test_a_clip_is_read_with_the_hosts_budgets(monkeypatch, assets, tmp_path):
    painting = str(tmp_path / "small.png")
    Image.new("RGB", (64, 40), (200, 120, 20)).save(painting)
    monkeypatch.setenv("NST_MAX_CLIP_PIXELS", "20000")  # the example's frames at 128 px: 128x54 each
    with pytest.raises(gr.Error, match=r"over the limit of 20,000 pixels in all"):
        next(stylize_video(str(assets / "sintel_8f.gif"), painting, max_frames=8, steps=1))
    monkeypatch.delenv("NST_MAX_CLIP_PIXELS")
    monkeypatch.setenv("NST_MAX_PIXELS", "20000")  # a frame of 256x109 is over it before it is decoded
    with pytest.raises(gr.Error, match=r"frames of 256x109 are over the limit of 20,000 pixels"):
        next(stylize_video(str(assets / "sintel_8f.gif"), painting, max_frames=2, steps=1))


@pytest.mark.parametrize("payload, message", [
    (float("nan"), "Seed must be a number, got nan"), ("12", "Seed must be a number, got '12'"),
    (True, "Seed must be a number, got True"), (-1, "Seed must be at least 0 here, got -1"),
    (2.0**64, "Seed must be at most 9,223,372,036,854,775,807 here, got 18,446,744,073,709,551,616"),
    (float("inf"), "Seed must be a number, got inf")])
def test_a_number_control_refuses_what_is_not_a_number_in_range(payload, message):
    with gr.Blocks():
        seed = TRANSFER.build("t")["seed"]
    with pytest.raises(gr.Error, match=re.escape(message)):
        seed.preprocess(payload)
    assert seed.preprocess(7.0) == 7


# --------------------------------------------------------------------------------------------------
# The output folder


def fill(folder: Path, count: int, size: int = 10) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    made = []
    for i in range(count):
        path = folder / f"single-{i:03d}.png"
        path.write_bytes(b"x" * size)
        os.utime(path, (1000 + i, 1000 + i))
        made.append(path)
    return made


def test_the_output_folder_is_bounded_by_count_and_bytes_saved_presets_included(monkeypatch, tmp_path):
    folder = tmp_path / "outputs"
    files = fill(folder, 8, size=1000)
    preset = folder / "presets" / "preset-x" / "look"
    preset.mkdir(parents=True)
    (preset / "style.jpg").write_bytes(b"y" * 5000)
    os.utime(preset.parent, (999, 999))  # the oldest entry
    (folder / ".single-new.png.123.tmp").write_bytes(b"z" * 10**6)  # being written: never counted or deleted
    monkeypatch.setenv("NST_MAX_OUTPUTS", "6")
    storage.new_output("single", ".png")
    assert not preset.parent.exists() and [p.exists() for p in files] == [False] * 3 + [True] * 5
    monkeypatch.setenv("NST_MAX_OUTPUTS", "500")
    monkeypatch.setattr(limits, "max_output_bytes", lambda: 2500)
    storage.new_output("single", ".png")
    assert [p.exists() for p in files] == [False] * 6 + [True] * 2
    assert (folder / ".single-new.png.123.tmp").exists()


def test_pruning_survives_files_vanishing_between_listing_and_deletion(monkeypatch, tmp_path):
    folder = tmp_path / "outputs"
    files = fill(folder, 5)
    listed = storage._scan

    def scan_then_lose(where):  # another run deletes each file right after this one listed it
        for item in listed(where):
            Path(item.path).unlink(missing_ok=True)
            yield item

    monkeypatch.setattr(storage, "_scan", scan_then_lose)
    monkeypatch.setenv("NST_MAX_OUTPUTS", "2")
    assert storage.new_output("single", ".png").parent == folder
    monkeypatch.setattr(storage, "_scan", listed)
    files = fill(folder, 5)
    real_delete = storage._delete
    monkeypatch.setattr(storage, "_delete", lambda entry: (entry.path.unlink(), real_delete(entry)))
    storage.new_output("single", ".png")  # each file gone before its own deletion: no error
    assert not any(p.exists() for p in files[:4])


def test_parallel_runs_on_a_full_folder_all_keep_their_results(monkeypatch, tmp_path):
    monkeypatch.setenv("NST_MAX_OUTPUTS", "5")
    image, kept, failures = Image.new("RGB", (8, 8)), [], []

    def run() -> None:
        try:
            for _ in range(15):
                kept.append(storage.keep(lambda path: nst.save_image(image, path), "single", ".png"))
        except Exception as exc:  # noqa: BLE001 - any failure is the finding
            failures.append(exc)

    threads = [threading.Thread(target=run) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == [] and len(kept) == 90 and all(k.path for k in kept)
    assert len(storage.entries(tmp_path / "outputs")) <= 5 + 6  # the budget, plus those written meanwhile


def test_a_run_on_a_full_disk_still_hands_back_its_image(monkeypatch, host, photo, painting):
    save = nst.save_image

    def full_output_folder(image, path, settings=None):
        if Path(path).parent == host / "outputs":
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return save(image, path, settings)

    monkeypatch.setattr(nst, "save_image", full_output_folder)
    final = last(stylize(photo, painting, **FAST))
    assert "could not be saved in the output folder (no space left on device)" in final[STATUS]
    assert Path(final[RESULT]).parent == host / "unsaved" and final[DOWNLOAD] == final[RESULT]
    assert nst.read_settings(final[RESULT])["config"]["steps"] == 2

    def full_everywhere(image, path, settings=None):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(nst, "save_image", full_everywhere)
    final = last(stylize(photo, painting, **FAST))
    assert isinstance(final[RESULT], Image.Image) and final[RESULT].size == (64, 48) and final[DOWNLOAD] is None
    assert final[STATUS].startswith("Done: 2 steps") and "it is not kept" in final[STATUS]
    assert str(host) not in final[STATUS]


def test_a_deeply_nested_png_and_a_bad_repo_id_are_one_line_messages(tmp_path):
    from studio.presets import load_preset

    path = tmp_path / "deep.png"
    info = PngImagePlugin.PngInfo()
    info.add_itxt(nst.image.METADATA_KEY, "[" * 50_000 + "]" * 50_000)
    Image.new("RGB", (8, 8)).save(path, pnginfo=info)
    with pytest.raises(gr.Error, match="deep.png: its nst settings are nested too deeply to read"):
        restore_settings(str(path))
    with pytest.raises(gr.Error, match=r"No preset 'a/b\.\.c': give a built-in one .* or a Hub repo as user/name"):
        load_preset("a/b..c")
