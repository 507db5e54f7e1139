"""Hostile or mistaken input gets one clear line, never a traceback or a vague message.

Settings embedded in a PNG nested past any real use (the JSON reader's recursion limit), repo ids the
Hub refuses, a folder given as an image, and values of the wrong kind or NaN in settings from outside.
"""

from __future__ import annotations

import json

import pytest
from huggingface_hub.utils import HFValidationError, validate_repo_id
from PIL import Image, PngImagePlugin

import nst
from nst.cli import main
from nst.config import TransferConfig
from nst.hub_ids import check_repo_id, is_repo_id
from nst.image import MAX_SETTINGS_DEPTH, ImageError, load_image, read_settings
from nst.weights import save_features

BAD_REPO_IDS = ("user/a..b", "user/a--b", "user/name.", "user/-name", "user/" + "a" * 97, "user/name.git",
                "user/..bad", "a/b/c", "user/na me")
GOOD_REPO_IDS = ("user/name", "timm/vgg19.tv_in1k", "A-b_c.d/e_f-g.h", "u/" + "a" * 96, "user/name_", "u1/x.gitx")


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("nst: error: ") and "Traceback" not in err, err
    return lines[0]


def png_with_settings(path, text: str):
    info = PngImagePlugin.PngInfo()
    info.add_itxt("nst", text)
    Image.new("RGB", (8, 8)).save(path, pnginfo=info)
    return path


@pytest.fixture
def photo(tmp_path) -> str:
    path = tmp_path / "photo.png"
    Image.new("RGB", (64, 48), (120, 80, 40)).save(path)
    return str(path)


# -- settings embedded in an image ------------------------------------------------------------------


@pytest.mark.parametrize("depth, message", [(100_000, "nested too deeply to read"),
                                            (MAX_SETTINGS_DEPTH + 8, f"nested more than {MAX_SETTINGS_DEPTH} levels")])
def test_deeply_nested_settings_are_a_clear_error(tmp_path, photo, capsys, depth, message):
    png = png_with_settings(tmp_path / "nested.png", '{"preset": ' + "[" * depth + "]" * depth + "}")
    with pytest.raises(ImageError, match=message):
        read_settings(png)
    with pytest.raises(ValueError, match=message):
        nst.read_settings(str(png))
    assert main([photo, "--preset", str(png), "-o", str(tmp_path / "out.png")]) == 2
    line = one_error_line(capsys)
    assert "nested.png: its nst settings are" in line and "not settings nst wrote" in line


def test_settings_nested_as_deep_as_nst_writes_them_still_read(tmp_path):
    value = {"a": [[{"b": [1]}]]}
    assert read_settings(png_with_settings(tmp_path / "ok.png", json.dumps(value))) == value


def test_a_number_too_long_to_read_is_a_clear_error(tmp_path):
    png = png_with_settings(tmp_path / "long.png", '{"seed": ' + "9" * 5000 + "}")
    with pytest.raises(ImageError, match="its nst settings cannot be read"):
        read_settings(png)


def test_nan_and_strings_in_embedded_settings_name_the_field(tmp_path, photo, capsys):
    png = png_with_settings(tmp_path / "nan.png", '{"config": {"seed": NaN, "steps": 1}, "styles": ["a.png"]}')
    assert main([photo, "--preset", str(png), "-o", str(tmp_path / "out.png")]) == 2
    assert "seed must be an integer, got nan" in one_error_line(capsys)


@pytest.mark.parametrize("data, message", [
    ({"seed": float("nan")}, "seed must be an integer, got nan"),
    (json.loads('{"seed": NaN}'), "seed must be an integer, got nan"),
    ({"size": "512"}, "size must be an integer, got '512'"),
    ({"size": 512.0}, "size must be an integer, got 512.0"),
    ({"style_weight": "20"}, "style_weight must be a number, got '20'"),
    ({"style_scale": float("inf")}, "style_scale must be between"),
    ({"content_layers": "relu4_2"}, "content_layers must be a list of layer names"),
])
def test_from_dict_names_the_field_of_a_bad_value(data, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        TransferConfig.from_dict(data)


# -- repo ids --------------------------------------------------------------------------------------------


def test_repo_ids_accepted_here_are_accepted_by_the_hub():
    for repo_id in GOOD_REPO_IDS:
        assert is_repo_id(repo_id), repo_id
        validate_repo_id(repo_id)  # raises HFValidationError if the Hub would refuse it
    for repo_id in BAD_REPO_IDS:
        assert not is_repo_id(repo_id), repo_id
        with pytest.raises(ValueError, match="is not a Hub repo id: a repo id is written user/name"):
            check_repo_id(repo_id)
    hub_refused = [r for r in BAD_REPO_IDS if _hub_refuses(r)]
    assert len(hub_refused) >= 6  # most of them are ids the Hub itself refuses: the ones that raised before


def _hub_refuses(repo_id: str) -> bool:
    try:
        validate_repo_id(repo_id)
    except HFValidationError:
        return True
    return False


@pytest.mark.parametrize("repo_id", ["user/a..b", "user/name.", "user/" + "a" * 97])
def test_bad_repo_ids_are_one_line_errors_before_any_request(repo_id, photo, tmp_path, capsys, monkeypatch,
                                                             tiny_weights):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert main([photo, "--preset", repo_id, "-o", str(tmp_path / "out.png")]) == 2
    assert "nor a Hub repo id (one is written user/name" in one_error_line(capsys)
    assert main(["preset", "push", "starry-night", repo_id, "--token", "unused"]) == 2
    assert "is not a Hub repo id: a repo id is written user/name" in one_error_line(capsys)
    painting = tmp_path / "painting.png"
    Image.new("RGB", (64, 48), (20, 40, 200)).save(painting)
    assert main([photo, str(painting), "-o", str(tmp_path / "out.png"), "--weights", "hub", "--hub-repo",
                 repo_id]) == 2
    assert "is not a Hub repo id" in one_error_line(capsys)
    assert not (tmp_path / "out.png").exists()


# -- a folder given as an image --------------------------------------------------------------------------


def test_a_folder_given_as_an_image_is_called_a_folder(tmp_path, photo, capsys, tiny_weights):
    folder = tmp_path / "paintings"
    folder.mkdir()
    with pytest.raises(ImageError, match="paintings: is a folder, not an image file; give the path of an image"):
        load_image(folder)
    weights = save_features(tiny_weights, tmp_path / "tiny.safetensors")
    assert main([photo, str(folder), "-o", str(tmp_path / "out.png"), "--weights", str(weights)]) == 2
    line = one_error_line(capsys)
    assert "is a folder, not an image file" in line and "no such file" not in line
