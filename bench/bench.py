"""Benchmark: this engine next to pastiche's command line, same inputs, sizes, steps and CPU, in one run.

For each content/style pair and size, both programs run as fresh processes (so start-up, weight
loading and peak memory are counted alike) with matching settings: L-BFGS, content init, max
pooling, the paper's layers, the same VGG-19 (pastiche's 8-bit Caffe weights, ``--weights pastiche``
here). Each keeps its own loss weights, which are not on the same scale, and its own step count:
ours its defaults (coarse-to-fine over 3 scales, 200 steps), pastiche 500 steps at full size, its
converged result: the question is the time each takes to a finished picture.

Every output is then scored the same way (``nst.metrics``, on the same VGG-19):

* style distance: mean relative Gram error over relu1_1 … relu5_1 (lower is more stylised);
* content distance: relative feature error at relu4_2 (lower is more faithful).

The content photo's own style distance is printed as the yardstick. Also measured, in this process:
the cost of one step of ours against one bare VGG-19 forward+backward pass at the same size.

    python bench/bench.py                       # 256 and 512 px, tubingen + starry_night
    python bench/bench.py --sizes 256 --steps 100 --pairs tubingen:starry_night golden_gate:the_scream
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ASSETS = ROOT.parent / "shared" / "assets"


def find_asset(name: str, kind: str) -> Path:
    folder = ASSETS / kind
    matches = sorted(folder.glob(f"{name}.*"))
    if not matches:
        raise SystemExit(f"no {kind} image named {name!r} in {folder}")
    return matches[0]


def timed_process(command: list[str]) -> dict:
    """Run ``command``: wall time and CPU time (user + system) in seconds, peak resident memory in MiB.

    CPU time is the steadier figure on a shared machine: other work slows the wall clock, not the
    CPU seconds a program needs.
    """
    start = time.perf_counter()
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - start
    stderr = process.stderr.read().decode(errors="replace")
    process.stderr.close()
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{stderr[-2000:]}")
    return {"wall_s": wall, "cpu_s": usage.ru_utime + usage.ru_stime, "peak_mib": usage.ru_maxrss / 1024}


def ours(content: Path, style: Path, size: int, steps: int, out: Path, extra: list[str]) -> dict:
    command = [sys.executable, "-m", "nst", str(content), str(style), "-o", str(out), "--size", str(size),
               "--steps", str(steps), "--weights", "pastiche", "--device", "cpu", "--quiet", *extra]
    return timed_process(command)


def pastiche(content: Path, style: Path, size: int, steps: int, out: Path) -> dict:
    command = [sys.executable, "-m", "pastiche", "--content", str(content), "--styles", str(style),
               "--output", str(out), "--size", str(size), "--num-steps", str(steps), "--device", "cpu",
               "--seed", "0", "--no-verbose"]
    return timed_process(command)


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 512])
    parser.add_argument("--steps", type=int, default=200, help="our steps (the default: 3 scales, 200 steps)")
    parser.add_argument("--pastiche-steps", type=int, default=500, help="pastiche's steps (500: its converged result)")
    parser.add_argument("--pairs", nargs="+", default=["tubingen:starry_night"], metavar="CONTENT:STYLE")
    parser.add_argument("--ours", nargs=argparse.REMAINDER, default=[], help="extra options for our command line")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    parser.add_argument("--skip-pastiche", action="store_true")
    args = parser.parse_args()

    sys.path.insert(0, str(ROOT))
    import nst
    from nst.metrics import content_distance, style_distance

    args.out.mkdir(parents=True, exist_ok=True)
    model = nst.load_model("pastiche")
    rows = []
    for pair in args.pairs:
        content_name, style_name = pair.split(":")
        content_path, style_path = find_asset(content_name, "content"), find_asset(style_name, "style")
        content, style = nst.load_image(content_path), nst.load_image(style_path)
        for size in args.sizes:
            photo = nst.image.resize_longest(content, size)
            yardstick = style_distance(model, photo, style)
            programs = ["ours"] + ([] if args.skip_pastiche else ["pastiche"])
            for name in programs:
                out = args.out / f"{content_name}_{style_name}_{size}_{name}.png"
                if name == "ours":
                    measured = ours(content_path, style_path, size, args.steps, out, args.ours)
                else:
                    measured = pastiche(content_path, style_path, size, args.pastiche_steps, out)
                result = nst.load_image(out)
                steps = args.steps if name == "ours" else args.pastiche_steps
                row = {
                    "pair": pair, "size": size, "program": name, "steps": steps, **measured,
                    "s_per_step": measured["wall_s"] / steps,
                    "style_distance": style_distance(model, result, style),
                    "content_distance": content_distance(model, result, content),
                    "photo_style_distance": yardstick,
                }
                rows.append(row)
                print(json.dumps(row), flush=True)
    overhead = {size: step_overhead(model, nst.load_image(find_asset("tubingen", "content")),
                                    nst.load_image(find_asset("starry_night", "style")), size)
                for size in args.sizes}
    (args.out / "bench.json").write_text(json.dumps({"rows": rows, "overhead": overhead}, indent=2))

    print()
    print("| pair | size | program | steps | wall time (s) | CPU time (s) | s/step | peak memory (MiB) "
          "| style distance | content distance |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['pair'].replace(':', ' + ')} | {r['size']} | {r['program']} | {r['steps']} | {r['wall_s']:.1f} "
              f"| {r['cpu_s']:.0f} | {r['s_per_step']:.2f} | {r['peak_mib']:.0f} | {r['style_distance']:.3f} "
              f"(photo: {r['photo_style_distance']:.3f}) | {r['content_distance']:.3f} |")
    print()
    print("| size | bare VGG-19 forward+backward (s) | one step of ours (s) | ratio |")
    print("|---|---|---|---|")
    for size, o in overhead.items():
        print(f"| {size} | {o['bare_s']:.3f} | {o['step_s']:.3f} | {o['ratio']:.2f} |")


if __name__ == "__main__":
    main()
