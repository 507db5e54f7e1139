"""The command line's style controls: masks, per-style scales, colour preservation, textures and the
``interpolate`` sub-command (with a tiny weights file, so every run takes a fraction of a second)."""

from __future__ import annotations

import pytest
from PIL import Image

from nst.cli import main
from nst.color import rgb_to_lab
from nst.image import read_settings, to_tensor
from nst.weights import save_features


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture
def nst(tiny_weights, tmp_path, assets, capsys):
    """``nst(*args)`` -> (exit status, stderr) of ``python -m nst`` with tiny weights at 48 px, 3 steps;
    ``@`` in an argument stands for the test images' folder."""
    weights = save_features(tiny_weights, tmp_path / "tiny.safetensors")

    def run(*args: str) -> tuple[int, str]:
        argv = [a.replace("@", f"{assets}/") for a in args]
        command, argv = (argv[:1], argv[1:]) if argv[:1] == ["interpolate"] else ([], argv)
        defaults = ["--weights", str(weights), "--size", "48", "--steps", "3", "--device", "cpu", "--quiet"]
        code = main([*command, *defaults, *argv])  # later options win, so a test can override the defaults
        return code, capsys.readouterr().err

    return run


def test_masks_one_per_style(nst, tmp_path):
    out = tmp_path / "masked.png"
    code, err = nst("@face.jpg", "@starry_night.jpg", "@the_scream.jpg", "-o", str(out),
                    "--mask", "@face_mask.png", "--mask", "@face_mask_inv.png")
    assert code == 0, err
    settings = read_settings(out)
    assert settings["masks"] == ["face_mask.png", "face_mask_inv.png"]
    assert Image.open(out).size == (36, 48)


def test_mask_none_and_default_style(nst, tmp_path):
    code, err = nst("@face.jpg", "@starry_night.jpg", "@the_scream.jpg", "-o",
                    str(tmp_path / "o.png"), "--mask", "@face_mask.png", "--mask", "none", "--default-style", "2")
    assert code == 0, err


@pytest.mark.parametrize("args, message", [
    (["--mask", "@face_mask.png"], "nst: error: 1 --mask for 2 STYLE image(s): give one per style"),
    (["--style-mask", "none"], "nst: error: 1 --style-mask for 2 STYLE image(s)"),
    (["--style-scales", "1"], "nst: error: --style-scales has 1 value(s) for 2 STYLE image(s): give one per style"),
    (["--style-blend-weights", "1,2,3"], "nst: error: --style-blend-weights has 3 value(s) for 2 STYLE image(s)"),
    (["--default-style", "1"], "nst: error: --default-style paints the area the --mask images leave free"),
    (["--mask", "none", "--mask", "@face_mask.png", "--default-style", "3"],
     "nst: error: --default-style must be between 1 and 2"),
    (["--mask", "@nowhere.png", "--mask", "none"], "nst: error: --mask "),
    (["--preserve-color", "hsv"], "nst: error: argument --preserve-color: invalid choice"),
    (["--color-amount", "2"], "nst: error: --color-amount must be between 0.0 and 1.0"),
    (["--early-stop", "2"], "nst: error: --early-stop must be between 0.0 and 1.0"),  # early_stop_tol
    (["--tile", "8"], "nst: error: --tile must be 0 (tiles only where needed) or at least 32 px"),  # tile_size
    (["--content-weight", "0", "--style-weight", "0"], "nst: error: --content-weight and --style-weight are both"),
])
def test_count_and_value_errors_are_one_line(nst, tmp_path, args, message):
    code, err = nst("@face.jpg", "@starry_night.jpg", "@the_scream.jpg",
                    "-o", str(tmp_path / "o.png"), *args)
    assert code == 2
    assert err.startswith(message) and err.count("\n") == 1, err
    assert not (tmp_path / "o.png").exists()


def test_preserve_color_keeps_the_contents_colours(nst, tmp_path, assets):
    out = tmp_path / "kept.png"
    code, err = nst("@tubingen.jpg", "@starry_night.jpg", "-o", str(out), "--preserve-color", "lab",
                    "--style-weight", "100")
    assert code == 0, err
    result = Image.open(out).convert("RGB")
    content = Image.open(assets / "tubingen.jpg").convert("RGB").resize(result.size, Image.LANCZOS)
    a, c = rgb_to_lab(to_tensor(result))[0], rgb_to_lab(to_tensor(content))[0]
    assert float((a[1:] - c[1:]).abs().mean()) < 0.5
    assert read_settings(out)["config"]["preserve_color"] == "lab"


def test_photo_smoothing_flag(nst, tmp_path):
    out = tmp_path / "photo.png"
    code, err = nst("@golden_gate.jpg", "@kandinsky.jpg", "-o", str(out), "--photo-smoothing", "3")
    assert code == 0, err
    assert read_settings(out)["config"]["photo_smoothing"] == 3
    code, err = nst("--texture", "@kandinsky.jpg", "-o", str(out), "--photo-smoothing", "3")
    assert code == 2 and "--photo-smoothing follows a CONTENT photo's edges" in err


def test_texture_takes_only_styles(nst, tmp_path):
    out = tmp_path / "texture.png"
    code, err = nst("--texture", "@starry_night.jpg", "-o", str(out))
    assert code == 0, err
    settings = read_settings(out)
    assert settings["content"] is None and settings["styles"] == ["starry_night.jpg"]
    assert settings["config"]["content_weight"] == 0 and settings["config"]["init"] == "noise"
    assert Image.open(out).size == (48, 30)
    code, err = nst("--texture", "@starry_night.jpg", "@the_scream.jpg", "-o", str(out),
                    "--texture-size", "40x20")
    assert code == 0, err
    assert Image.open(out).size == (40, 20)


def test_texture_takes_the_papers_look_unless_typed_or_preset(nst, tmp_path):
    texture, typed, photo, preset = (tmp_path / f"{name}.png" for name in ("texture", "typed", "photo", "preset"))
    assert nst("--texture", "@starry_night.jpg", "-o", str(texture))[0] == 0
    assert nst("--texture", "@starry_night.jpg", "-o", str(typed), "--pooling", "max", "--tv-weight", "2")[0] == 0
    assert nst("@face.jpg", "@starry_night.jpg", "-o", str(photo))[0] == 0
    assert nst("--texture", "@starry_night.jpg", "-o", str(preset), "--preset", str(photo))[0] == 0
    look = lambda path: (read_settings(path)["config"]["pooling"], read_settings(path)["config"]["tv_weight"])
    assert look(texture) == ("avg", 0.0)      # Gatys 2015's texture synthesis
    assert look(typed) == ("max", 2.0)        # what the user typed wins
    assert look(photo) == ("max", 1.0)        # a transfer keeps the transfer's defaults ...
    assert look(preset) == ("max", 1.0)       # ... and a preset made from it is the base of a texture too


def test_texture_errors(nst, tmp_path):
    code, err = nst("--texture", "@starry_night.jpg", "-o", str(tmp_path / "t.png"), "--preserve-color", "lab")
    assert code == 2 and "--preserve-color takes colours from a CONTENT image" in err
    code, err = nst("@face.jpg", "@starry_night.jpg", "-o", str(tmp_path / "t.png"),
                    "--texture-size", "40x20")
    assert code == 2 and "use it with --texture" in err
    code, err = nst("@face.jpg", "-o", str(tmp_path / "t.png"))
    assert code == 2 and "give at least one STYLE image after CONTENT" in err


def test_interpolate_writes_a_grid_and_a_gif(nst, tmp_path):
    grid, gif = tmp_path / "grid.png", tmp_path / "sweep.gif"
    code, err = nst("interpolate", "@face.jpg", "@starry_night.jpg", "@the_scream.jpg",
                    "-n", "3", "-o", str(grid), "--gif", str(gif), "--no-labels", "--duration", "150",
                    "--steps", "9", "--style-weight", "1000")
    assert code == 0, err
    assert Image.open(grid).size == (3 * 36 + 4 * 4, 48 + 2 * 4)
    settings = read_settings(grid)
    assert settings["interpolation"] == [0.0, 0.5, 1.0] and settings["follow_steps"] == 3
    with Image.open(gif) as animation:
        assert animation.n_frames == 3 and animation.info["duration"] == 150


@pytest.mark.parametrize("args, message", [
    (["-n", "1"], "nst: error: -n must be from 2"),
    (["-n", "100000"], "nst: error: -n must be from 2 (the two ends of the sweep) to 64"),
    (["--gif", "x.png"], "nst: error: --gif 'x.png' must end in .gif"),
    (["--style-scales", "1,2,3"], "nst: error: --style-scales has 3 value(s) for 2 STYLE image(s)"),
])
def test_interpolate_errors(nst, tmp_path, args, message):
    code, err = nst("interpolate", "@face.jpg", "@starry_night.jpg", "@the_scream.jpg",
                    "-o", str(tmp_path / "grid.png"), *args)
    assert code == 2 and err.startswith(message) and err.count("\n") == 1, err
