"""``nst batch ... --ray`` and ``nst video ... --ray`` on a local Ray of two CPUs, started once for the
module (tiny weights saved as the command line reads them, tiny images, few steps): a batch over a
folder, the weights fetched once per worker, a worker killed mid-image, resuming an interrupted
batch, and a clip in chunks whose seams flicker no more than the clip styled on one machine.

Ray is optional for the package but needed here: ``pip install -r requirements-ray.txt``."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import ray
from PIL import Image

from conftest import asset_at
from nst import presets
from nst.cli import main
from nst.config import TransferConfig
from nst.distributed import worker
from nst.distributed.batch import ClusterBatch
from nst.distributed.chunks import plan_chunks, seam_flicker, seam_pairs
from nst.temporal import pair_errors
from nst.distributed.cluster import connect, worker_environment
from nst.features import VGG19Features
from nst.image import read_settings
from nst.video import VideoTransfer
from nst.video_io import read_clip
from nst.weights import save_features

pytestmark = pytest.mark.usefixtures("one_thread", "local_ray")

NAMES = ("field", "lion", "gate", "face")


@pytest.fixture(scope="module")
def local_ray():
    """A Ray of two CPUs on this machine for the whole module (the commands find it running and use it)."""
    ray.init(address="local", num_cpus=2, num_gpus=0, include_dashboard=False,
             runtime_env=worker_environment(remote=False), logging_level="ERROR")
    yield
    ray.shutdown()


@pytest.fixture
def weights_file(tmp_path, tiny_weights) -> Path:
    return save_features(tiny_weights, tmp_path / "tiny.safetensors")


@pytest.fixture
def look(tmp_path, style):
    return presets.create(tmp_path / "look", "look", TransferConfig(size=32, steps=3, scales=1), [style])


@pytest.fixture
def photos(tmp_path, assets) -> Path:
    folder = tmp_path / "photos"
    folder.mkdir()
    for name, source in zip(NAMES, ("tubingen.jpg", "lion.jpg", "golden_gate.jpg", "face.jpg")):
        asset_at(assets, source, 48).save(folder / f"{name}.png")
    return folder


def _batch(photos, look, weights_file, out, *extra) -> list[str]:
    return ["batch", str(photos), "--preset", str(look.folder), "-o", str(out), "--weights", str(weights_file),
            "--device", "cpu", "--quiet", "--ray", *extra]


def _stamps(folder: Path) -> dict[str, int]:
    return {p.name: p.stat().st_mtime_ns for p in folder.iterdir()}


def test_a_batch_on_ray_makes_what_one_machine_makes_and_resumes(photos, look, weights_file, tmp_path, capsys):
    (photos / "broken.jpg").write_bytes(b"not a jpeg at all")
    out = tmp_path / "styled"
    assert main(_batch(photos, look, weights_file, out)) == 1
    captured = capsys.readouterr()
    assert "nst: batch: 4 made, 0 already done, 1 failed, 0 retried (worker lost):" in captured.err
    assert "  broken.jpg: broken.jpg: not an image file" in captured.err
    assert sorted(p.name for p in out.iterdir()) == sorted(f"{n}.png" for n in NAMES)
    assert sorted(re.findall(r"^wrote .*/(\w+\.png)$", captured.out, flags=re.M)) == sorted(f"{n}.png" for n in NAMES)
    assert presets.load(out / "lion.png").config == look.config         # saved with the look, as on one machine
    stamps = _stamps(out)

    alone = tmp_path / "alone"                                          # the same batch on one machine
    assert main(_batch(photos, look, weights_file, alone)[:-1]) == 1
    for name in NAMES:
        ours = np.asarray(Image.open(out / f"{name}.png"), dtype=float)
        theirs = np.asarray(Image.open(alone / f"{name}.png"), dtype=float)
        assert ours.shape == theirs.shape and np.abs(ours - theirs).mean() < 1.0
        assert read_settings(out / f"{name}.png")["config"] == read_settings(alone / f"{name}.png")["config"]

    capsys.readouterr()
    assert main(_batch(photos, look, weights_file, out)) == 1           # resumed: nothing made again
    assert "0 made, 4 already done, 1 failed" in capsys.readouterr().err
    assert _stamps(out) == stamps


def test_cuda_asked_of_a_cluster_without_gpus_is_one_line(photos, look, weights_file, tmp_path, capsys):
    argv = _batch(photos, look, weights_file, tmp_path / "out")
    argv[argv.index("--device") + 1] = "cuda"
    assert main(argv) == 2
    assert capsys.readouterr().err.strip() == ("nst: error: --device cuda, but the Ray cluster has no GPUs: "
                                               "leave --device at auto")
    assert ray.is_initialized()                                         # the module's Ray is left running


def test_each_worker_fetches_the_weights_once(photos, look, tiny_weights):
    cluster = connect("auto")
    assert not cluster.owned                                            # the module's Ray, left running
    paths = sorted(photos.iterdir()) * 2
    results = list(ClusterBatch(cluster, VGG19Features(tiny_weights), look.style_images(), look.config, paths,
                                device="cpu"))
    assert sorted(r.index for r in results) == list(range(8)) and all(r.outcome.error is None for r in results)
    workers = {r.outcome.worker for r in results}
    assert 1 <= len(workers) <= 2
    assert sum(r.outcome.loaded for r in results) == len(workers)     # once per worker, not per image


def test_a_worker_killed_mid_image_is_retried_and_nothing_is_written_twice(photos, look, weights_file, tmp_path,
                                                                         monkeypatch, capsys):
    marker = tmp_path / "killed-once"

    def dies_once(box, name, data):
        """The task of one image, whose process kills itself the first time it is given field.png."""
        import os
        import signal

        from nst.distributed import worker as real

        if name == "field.png" and not os.path.exists(marker):
            open(marker, "w").close()
            os.kill(os.getpid(), signal.SIGKILL)
        return real.style_job(box, name, data)

    monkeypatch.setattr(worker, "style_job", dies_once)
    out = tmp_path / "styled"
    assert main(_batch(photos, look, weights_file, out)) == 0
    captured = capsys.readouterr()
    assert marker.exists()                                              # the worker was killed
    assert "nst: batch: 4 made, 0 already done, 0 failed, 1 retried (worker lost)" in captured.err
    written = re.findall(r"^wrote .*/(\w+\.png)$", captured.out, flags=re.M)
    assert sorted(written) == sorted(f"{n}.png" for n in NAMES)         # each once
    assert sorted(p.name for p in out.iterdir()) == sorted(f"{n}.png" for n in NAMES)  # no temporary file left
    assert Image.open(out / "field.png").size == (32, 24)


def test_an_interrupted_batch_keeps_what_was_finished_and_the_next_one_goes_on(photos, look, weights_file, tmp_path,
                                                                              monkeypatch, capsys):
    from nst.cli import cluster as cli

    class CtrlCAfterTheFirstImage(cli.Progress):
        """The progress bar, with Ctrl-C pressed once the first image is written."""

        pressed = False

        def advance(self, count=1, info=None):
            super().advance(count, info)
            if not CtrlCAfterTheFirstImage.pressed:
                CtrlCAfterTheFirstImage.pressed = True
                raise KeyboardInterrupt

    monkeypatch.setattr(cli, "Progress", CtrlCAfterTheFirstImage)
    out = tmp_path / "styled"
    slow = ("--steps", "40")
    assert main(_batch(photos, look, weights_file, out, *slow)) == 130
    err = capsys.readouterr().err
    kept = sorted(p.name for p in out.iterdir())
    made = int(re.search(r"interrupted after (\d+) new output\(s\), (\d+) cancelled", err).group(1))
    assert 1 <= made == len(kept) < len(NAMES)                          # the rest was cancelled
    assert all(read_settings(out / name)["stop_reason"] == "finished" for name in kept)
    stamps = _stamps(out)

    monkeypatch.undo()
    assert main(_batch(photos, look, weights_file, out, *slow)) == 0
    err = capsys.readouterr().err
    assert f"{len(NAMES) - made} made, {made} already done, 0 failed" in err
    assert {name: stamps[name] for name in kept} == {name: _stamps(out)[name] for name in kept}
    assert len(list(out.iterdir())) == len(NAMES)


def test_a_clip_in_chunks_has_seams_that_flicker_no_more_than_one_machine(assets, tiny_weights, weights_file,
                                                                          tmp_path, capsys):
    clip_path, style_path = tmp_path / "clip.gif", tmp_path / "style.png"
    shutil.copy(assets / "sintel_8f.gif", clip_path)
    asset_at(assets, "starry_night.jpg", 64).save(style_path)
    out = tmp_path / "styled"                                           # PNG frames: no GIF palette
    argv = ["video", str(clip_path), str(style_path), "-o", str(out), "--size", "64", "--steps", "40",
            "--weights", str(weights_file), "--device", "cpu", "--quiet", "--precision", "fp32"]
    assert main([*argv, "--ray", "--chunks", "2", "--overlap", "2"]) == 0
    printed = capsys.readouterr().out
    seams = float(re.search(r"flicker across the chunk seams: (\S+)", printed).group(1))
    clip = read_clip(out)
    assert len(clip.frames) == 8 and clip.frames[0].size == (64, 27)

    # The same clip on one machine: its flicker over the same frame pairs is the yardstick.
    frames = read_clip(clip_path, max_side=64).frames
    alone = VideoTransfer(VGG19Features(tiny_weights), frames, [Image.open(style_path).convert("RGB")],
                          TransferConfig(size=64, steps=40, precision="fp32"), device="cpu")
    alone.run()

    plan = plan_chunks(8, 2, 2)
    theirs, _ = seam_flicker(pair_errors(alone.results(), alone.frames), seam_pairs(plan))
    ours_all = pair_errors([f.convert("RGB") for f in clip.frames], alone.frames)
    assert seam_flicker(ours_all, seam_pairs(plan))[0] == pytest.approx(seams, rel=0.2)  # what it printed
    assert seams < 2 * theirs
    assert sum(ours_all) / len(ours_all) < 2 * alone.flicker()
