"""The command line loses no finished work: outputs checked before a run, results kept when the disk refuses them.

Before anything runs, an output that cannot be written (a path under a file, a folder given as a
file, a folder that refuses writing) is a one-line error; a missing folder is created. When the
write fails at the end (a full disk, simulated: tests run as root, where permissions do not stop a
write), the result goes to the current directory, else the temp folder, and the command says where
and ends with status 1. The same for ``batch``, ``interpolate`` and ``video``.
"""

from __future__ import annotations

import errno
import tempfile
from pathlib import Path

import pytest
from PIL import Image

import nst.cli.outputs
import nst.cli.presets
import nst.cli.transfer
import nst.montage
from nst import presets
from nst.cli import main
from nst.config import TransferConfig
from nst.image import read_settings, save_image

pytestmark = pytest.mark.usefixtures("one_thread")


def transfer(cli_files, output, *extra) -> int:
    return main([cli_files["photo"], cli_files["painting"], "-o", str(output), "--size", "32", "--steps", "2",
                 "--weights", cli_files["weights"], "--device", "cpu", "--quiet", *extra])


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("nst: error: ") and "Traceback" not in err, err
    return lines[0]


@pytest.fixture
def no_model(monkeypatch):
    """Fail the test if a command gets as far as loading the network: its checks must come first."""
    def refuse(args):
        raise AssertionError("the model was loaded: the output was not checked before the run")

    monkeypatch.setattr(nst.cli.transfer, "open_model", refuse)
    monkeypatch.setattr(nst.cli.presets, "open_model", refuse)


def full_disk(monkeypatch, module, *, writable: Path | None = None) -> list[Path]:
    """Make ``module.save_image`` refuse every path outside ``writable`` with ENOSPC; the paths refused."""
    refused: list[Path] = []

    def save(image, path, settings=None):
        path = Path(path)
        if writable is None or writable not in path.parents:
            refused.append(path)
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return save_image(image, path, settings)

    monkeypatch.setattr(module, "save_image", save)
    return refused


# -- checked before the run ---------------------------------------------------------------------------


def test_an_output_under_a_file_is_refused_before_the_run(cli_files, tmp_path, capsys, no_model):
    (tmp_path / "file.txt").write_text("a file, not a folder")
    assert transfer(cli_files, tmp_path / "file.txt" / "out.png") == 2
    line = one_error_line(capsys)
    assert "file.txt' is a file, not a folder; give a path in a folder" in line


def test_a_folder_given_as_the_output_is_refused(cli_files, tmp_path, capsys, no_model):
    (tmp_path / "results.png").mkdir()
    assert transfer(cli_files, tmp_path / "results.png") == 2
    assert "results.png' is a folder: give a file name in it, such as" in one_error_line(capsys)


def test_a_folder_that_refuses_writing_is_refused_before_the_run(cli_files, tmp_path, capsys, no_model, monkeypatch):
    def refuse(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(nst.cli.outputs.tempfile, "mkstemp", refuse)
    assert transfer(cli_files, tmp_path / "out.png") == 2
    line = one_error_line(capsys)
    assert "cannot write in" in line and "(Permission denied); give a path in a folder you can write to" in line


def test_a_missing_output_folder_is_created(cli_files, tmp_path):
    output = tmp_path / "new" / "deeper" / "out.png"
    assert transfer(cli_files, output) == 0
    assert Image.open(output).size == (32, 24)
    assert not list(tmp_path.glob("new/deeper/.nst-write-check-*"))  # the probe leaves nothing behind


# -- kept when the disk refuses it at the end --------------------------------------------------------


def test_a_full_disk_at_the_end_keeps_the_image_in_the_current_folder(cli_files, tmp_path, capsys, monkeypatch):
    here = tmp_path / "here"
    here.mkdir()
    monkeypatch.chdir(here)
    refused = full_disk(monkeypatch, nst.cli.transfer, writable=here)
    output = tmp_path / "full" / "out.png"
    assert transfer(cli_files, output) == 1
    captured = capsys.readouterr()
    assert refused == [output] and not output.exists()
    kept = here / "out.png"
    assert Image.open(kept).size == (32, 24) and read_settings(kept)["config"]["steps"] == 2
    assert f"could not write {output} (No space left on device); saved the image to {kept} instead" in captured.err
    assert captured.out.strip() == f"wrote {kept}"


def test_the_temp_folder_keeps_the_image_when_the_current_folder_is_full_too(cli_files, tmp_path, capsys, monkeypatch):
    here, temp = tmp_path / "here", tmp_path / "temp"
    here.mkdir()
    temp.mkdir()
    monkeypatch.chdir(here)
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    (temp / "out.png").write_bytes(b"someone else's")  # never overwritten
    refused = full_disk(monkeypatch, nst.cli.transfer, writable=temp)
    assert transfer(cli_files, tmp_path / "out.png") == 1
    assert refused == [tmp_path / "out.png", here / "out.png"]
    assert (temp / "out.png").read_bytes() == b"someone else's"
    assert Image.open(temp / "out-1.png").size == (32, 24)
    assert f"saved the image to {temp / 'out-1.png'} instead" in capsys.readouterr().err


def test_nowhere_to_write_says_so_in_one_line(cli_files, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    full_disk(monkeypatch, nst.cli.transfer)
    assert transfer(cli_files, tmp_path / "out.png") == 1
    assert "nor in the current folder" in one_error_line(capsys)


def test_an_intermediate_image_the_disk_refuses_is_a_warning_and_the_run_goes_on(cli_files, tmp_path, capsys,
                                                                                  monkeypatch):
    real = nst.cli.transfer.save_image

    def save(image, path, settings=None):
        if "_step" in Path(path).name:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(image, path, settings)

    monkeypatch.setattr(nst.cli.transfer, "save_image", save)
    output = tmp_path / "out.png"
    assert transfer(cli_files, output, "--steps", "4", "--save-every", "1") == 0
    err = capsys.readouterr().err
    assert err.count("nst: warning: could not save") == 1 and "the run goes on" in err
    assert output.is_file()


# -- batch, interpolate, video ----------------------------------------------------------------------


@pytest.fixture
def look(tmp_path) -> presets.Preset:
    painting = Image.new("RGB", (48, 40), (200, 40, 40))
    return presets.create(tmp_path / "look", "look", TransferConfig(size=32, steps=1), [painting])


@pytest.fixture
def photos(tmp_path, cli_files) -> Path:
    folder = tmp_path / "photos"
    folder.mkdir()
    Image.open(cli_files["photo"]).save(folder / "field.png")
    return folder


def test_batch_checks_its_output_folder_before_the_run(look, photos, tmp_path, capsys, no_model):
    (tmp_path / "file.txt").write_text("")
    assert main(["batch", str(photos), "--preset", str(look.folder), "-o", str(tmp_path / "file.txt" / "out")]) == 2
    assert "file.txt' is a file, not a folder" in one_error_line(capsys)


def test_batch_keeps_a_result_the_disk_refuses(look, photos, cli_files, tmp_path, capsys, monkeypatch):
    here = tmp_path / "here"
    here.mkdir()
    monkeypatch.chdir(here)
    full_disk(monkeypatch, nst.cli.presets, writable=here)
    out = tmp_path / "styled"
    status = main(["batch", str(photos), "--preset", str(look.folder), "-o", str(out), "--weights", cli_files["weights"],
                   "--quiet"])
    assert status == 1
    err = capsys.readouterr().err
    assert Image.open(here / "field.png").size == (32, 24)
    assert "0 made, 0 already done, 1 failed" in err
    assert f"field.png: could not write {out / 'field.png'}; saved to {here / 'field.png'}" in err


def interpolate_args(cli_files, output, *extra) -> list[str]:
    return ["interpolate", cli_files["photo"], cli_files["painting"], cli_files["painting"], "-n", "2", "-o", str(output),
            "--size", "32", "--steps", "1", "--weights", cli_files["weights"], "--device", "cpu", "--quiet", *extra]


@pytest.mark.parametrize("extra, message", [
    (["--duration", "99999999999999"], "--duration must be from 10 to 655350 (milliseconds per GIF frame)"),
    (["--gif", "{tmp}/file.txt/sweep.gif"], "file.txt' is a file, not a folder"),
])
def test_interpolate_checks_before_the_sweep(cli_files, tmp_path, capsys, no_model, extra, message):
    (tmp_path / "file.txt").write_text("")
    extra = [part.format(tmp=tmp_path) for part in extra]
    assert main(interpolate_args(cli_files, tmp_path / "grid.png", *extra)) == 2
    assert message in one_error_line(capsys)


def test_interpolate_keeps_its_grid_and_animation_when_the_disk_refuses_them(cli_files, tmp_path, capsys, monkeypatch):
    here = tmp_path / "here"
    here.mkdir()
    monkeypatch.chdir(here)
    full_disk(monkeypatch, nst.cli.transfer, writable=here)
    real_gif = nst.montage.save_gif

    def save_gif(images, path, duration_ms=400, bounce=False):
        if here not in Path(path).parents:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_gif(images, path, duration_ms, bounce)

    monkeypatch.setattr(nst.montage, "save_gif", save_gif)
    status = main(interpolate_args(cli_files, tmp_path / "out" / "grid.png", "--gif", str(tmp_path / "out" / "a.gif")))
    assert status == 1
    err = capsys.readouterr().err
    assert (here / "grid.png").is_file() and Image.open(here / "a.gif").n_frames == 2
    assert "saved the grid to" in err and "saved the animation to" in err


def test_video_checks_its_outputs_before_reading_the_clip(cli_files, tmp_path, capsys, assets):
    (tmp_path / "file.txt").write_text("")
    status = main(["video", str(assets / "sintel_8f.gif"), cli_files["painting"], "-o",
                   str(tmp_path / "file.txt" / "v.gif"), "--weights", cli_files["weights"]])
    assert status == 2
    assert "file.txt' is a file, not a folder" in one_error_line(capsys)
