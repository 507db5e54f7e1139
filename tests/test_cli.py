"""The command line, in-process through ``nst.cli.main`` and once as ``python -m nst``, with tiny weights."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from nst.cli import main
from nst.image import load_image, read_settings, resize_longest
from nst.weights import save_features

pytestmark = pytest.mark.usefixtures("one_thread")

REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def weights_file(tmp_path, tiny_weights) -> Path:
    return save_features(tiny_weights, tmp_path / "tiny.safetensors")


@pytest.fixture
def images(tmp_path, assets) -> tuple[Path, Path]:
    """Small copies of a photo and a painting (the command line reads files)."""
    content = tmp_path / "photo.png"
    style = tmp_path / "painting.png"
    resize_longest(load_image(assets / "tubingen.jpg"), 64).save(content)
    resize_longest(load_image(assets / "starry_night.jpg"), 64).save(style)
    return content, style


def args_for(images, weights_file, output, *extra, quiet: bool = True) -> list[str]:
    content, style = images
    return [str(content), str(style), "-o", str(output), "--size", "32", "--steps", "3",
            "--weights", str(weights_file), "--device", "cpu", *(["--quiet"] if quiet else []), *extra]


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("nst: error: "), err
    assert "Traceback" not in err
    return lines[0]


def test_writes_the_png_with_its_settings(tmp_path, images, weights_file, capsys):
    output = tmp_path / "out" / "result.png"
    assert main(args_for(images, weights_file, output, "--tv-weight", "0.5")) == 0
    with Image.open(output) as result:
        assert result.format == "PNG" and result.size == (32, 24)
    settings = read_settings(output)
    assert settings["config"]["steps"] == 3 and settings["config"]["size"] == 32
    assert settings["config"]["tv_weight"] == 0.5
    assert settings["content"] == "photo.png" and settings["styles"] == ["painting.png"]
    assert settings["stop_reason"] == "finished"
    assert capsys.readouterr().err == ""  # --quiet: no progress bar


def test_save_every_writes_intermediate_images(tmp_path, images, weights_file):
    output = tmp_path / "result.png"
    assert main(args_for(images, weights_file, output, "--steps", "5", "--save-every", "2")) == 0
    assert sorted(p.name for p in tmp_path.glob("result*.png")) == ["result.png", "result_step2.png", "result_step4.png"]
    assert Image.open(tmp_path / "result_step2.png").size == (32, 24)
    assert read_settings(tmp_path / "result_step4.png")["config"]["steps"] == 5


def test_missing_input_file(tmp_path, images, weights_file, capsys):
    content, style = images
    code = main(args_for((tmp_path / "nowhere.jpg", style), weights_file, tmp_path / "out.png"))
    assert code == 2
    assert "nowhere.jpg" in one_error_line(capsys)
    assert not (tmp_path / "out.png").exists()


def test_bad_layer_name(tmp_path, images, weights_file, capsys):
    code = main(args_for(images, weights_file, tmp_path / "out.png", "--style-layers", "relu1_1,relu9_9"))
    assert code == 2
    assert "relu9_9" in one_error_line(capsys)


def test_bad_output_extension(tmp_path, images, weights_file, capsys):
    code = main(args_for(images, weights_file, tmp_path / "out.gif"))
    assert code == 2
    assert ".png or .jpg" in one_error_line(capsys)
    assert not (tmp_path / "out.gif").exists()


@pytest.mark.parametrize("extra", [["--steps", "many"], ["--optimizer", "sgd"], ["--content-weight", "-1"]])
def test_bad_option_values(tmp_path, images, weights_file, capsys, extra):
    assert main(args_for(images, weights_file, tmp_path / "out.png", *extra)) == 2
    one_error_line(capsys)


def test_missing_output_option(images, capsys):
    assert main([str(images[0]), str(images[1])]) == 2
    assert "-o/--output" in one_error_line(capsys)


def test_python_dash_m_nst(tmp_path, images, weights_file):
    output = tmp_path / "cli.jpg"
    path = os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "PYTHONPATH": path, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "nst", *args_for(images, weights_file, output, "--steps", "2", quiet=False)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr
    with Image.open(output) as result:
        assert result.format == "JPEG" and result.size == (32, 24)
    assert read_settings(output)["config"]["steps"] == 2
    assert "2/2" in done.stderr  # the progress bar (not --quiet) reached the end
