"""The benchmark scripts in ``bench/`` start as the README runs them (``python -m bench.NAME``), and the
comparison with pastiche runs end to end at a tiny size: both programs, the scoring, the tables, the
convergence CSV and its plot. Their numbers are not checked here: they are measured, not tested."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = sorted(p.stem for p in (ROOT / "bench").glob("*.py") if p.stem != "__init__")


@pytest.mark.parametrize("script", SCRIPTS)
def test_a_bench_script_starts_from_the_repository_root(script):
    done = subprocess.run([sys.executable, "-m", f"bench.{script}", "--help"], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage:")


def test_the_pastiche_comparison_runs_end_to_end(tmp_path):
    out, plot = tmp_path / "results", tmp_path / "convergence.png"
    done = subprocess.run(
        [sys.executable, "-m", "bench.bench", "--sizes", "64", "--steps", "6", "--pastiche-steps", "4", "--snapshots", "2",
         "--pairs", "tubingen:starry_night", "--out", str(out), "--plot", str(plot)],
        cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "| tubingen + starry_night | 64 | ours | 6 |" in done.stdout
    assert "| tubingen + starry_night | 64 | pastiche | 4 |" in done.stdout
    results = json.loads((out / "bench.json").read_text())
    assert [(r["program"], r["steps"]) for r in results["rows"]] == [("ours", 6), ("pastiche", 4)]
    assert all(r["peak_mib"] > 100 and r["cpu_s"] > 0 for r in results["rows"])
    assert results["overhead"]["64"]["ratio"] > 0
    with open(out / "convergence.csv") as f:
        points = list(csv.DictReader(f))
    assert {(p["program"], p["kind"]) for p in points} == {(program, kind) for program in ("ours", "pastiche")
                                                           for kind in ("snapshot", "result")}
    assert all(float(p["style_distance"]) > 0 and float(p["content_distance"]) > 0 for p in points)
    assert plot.stat().st_size > 10_000


def test_the_screenshot_shows_a_finished_run_of_the_first_example(tmp_path, tiny_weights):
    from PIL import Image

    from nst.weights import save_features

    shot = tmp_path / "app.png"
    env = {**os.environ, "NST_WEIGHTS": str(save_features(tiny_weights, tmp_path / "tiny.safetensors")),
           "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-m", "bench.screenshot", "--out", str(shot), "--steps", "3"], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Done: 3 steps" in done.stdout or "Converged" in done.stdout, done.stdout
    with Image.open(shot) as picture:
        assert picture.size == (1400, 1060)
        assert len(picture.convert("RGB").getcolors(1 << 24)) > 1000  # a page with photos on it, not a blank one


def test_the_gpu_benchs_sync_check_names_where_a_step_failed_and_restores_the_optimiser(tiny_model, content, style,
                                                                                      monkeypatch):
    from bench import gpu
    from nst.lbfgs import LBFGS
    from nst.objective import Objective

    monkeypatch.setattr(gpu, "DEVICE", "cpu")  # the mode itself needs CUDA; the patching and the report do not
    step = LBFGS.step
    assert gpu.sync_check(tiny_model, content, style, 48, steps=4) == {"size": 48, "steps": 4, "sync_free": True}
    assert LBFGS.step is step

    def synchronising(self, x):
        raise RuntimeError("called a synchronizing CUDA operation\nmore")

    monkeypatch.setattr(Objective, "evaluate", synchronising)
    report = gpu.sync_check(tiny_model, content, style, 48, steps=4)
    assert report["sync_free"] is False and report["error"] == "called a synchronizing CUDA operation"
    assert any("lbfgs.py" in frame for frame in report["where"]) and LBFGS.step is step


def test_the_visitors_bench_serves_its_own_weights_and_threads_settings(tmp_path):
    done = subprocess.run([sys.executable, "-m", "bench.visitors", "--weights", "tiny", "--threads", "1", "--visitors",
                           "1", "--batch-sizes", "1", "--size", "64", "--steps", "2", "--out", str(tmp_path / "v.json")],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "| 1 | 1 |" in done.stdout and "yes" in done.stdout, done.stdout
    assert json.loads((tmp_path / "v.json").read_text())["weights"] == "tiny"
