"""GPU timings: the same engine and defaults as on the CPU, timed on a CUDA card at 512, 1024 and 2048 px.

For each size and precision (float32, and bfloat16 autocast on the convolutions where the card has
it) one default run (coarse-to-fine over 3 scales, 200 L-BFGS steps) is timed from construction to
the finished image, the device synchronised at both ends, with the peak GPU memory it allocated and
the style and content distances of its result (``nst.metrics``, as in ``bench.py``). A warm-up run
first keeps CUDA's start-up and cuDNN's algorithm choice out of the numbers. Also measured per size:
one bare VGG-19 forward+backward pass against one step of ours with a full L-BFGS history, its
direction ``-H g`` by the two-loop recursion and by the compact form (``nst.lbfgs``), and pastiche's
500-step run at the first size on the same card when it is installed (``--pastiche``). And a check
that a step waits for the host nowhere but where it is meant to: a short run at the first size with
every L-BFGS step (its closure's forward+backward pass included) under
``torch.cuda.set_sync_debug_mode("error")``, which raises on any synchronising call; the per-step
loss read-back and the per-level bookkeeping sit outside the step and are allowed.

    python -m bench.gpu                                    # 512 1024 2048, fp32 and bf16
    python -m bench.gpu --sizes 512 --precisions fp32 --assets docs/examples
"""

from __future__ import annotations

import argparse
import contextlib
import json
import subprocess
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]


DEVICE = "cuda"  # --device cpu makes a quick dry run of the script itself


def synchronized() -> float:
    """``time.perf_counter()`` after the device has finished all queued work."""
    if DEVICE == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter()


def peak_gib() -> float:
    """GPU memory allocated at the peak since the last reset (0 on the CPU)."""
    return torch.cuda.max_memory_allocated() / 2**30 if DEVICE == "cuda" else 0.0


def timed_run(model, content, style, size: int, precision: str, steps: int, max_memory: int = 0) -> dict:
    """One default run on CUDA: wall seconds, seconds per step, peak GPU memory, the memory plan and the result."""
    from nst import StyleTransfer, TransferConfig

    if DEVICE == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
    start = synchronized()
    config = TransferConfig(size=size, steps=steps, precision=precision, preview_every=0, max_memory=max_memory)
    run = StyleTransfer(model, content, [style], config, device=DEVICE)
    result = run.run()
    wall = synchronized() - start
    return {"wall_s": wall, "s_per_step": wall / steps, "peak_gib": peak_gib(), "plan": run.plan.describe(),
            "stop_reason": run.stop_reason, "result": result}


@contextlib.contextmanager
def lbfgs_method(method: str):
    """Runs made inside take ``-H g`` by ``method`` ("two_loop" or "compact", ``nst.lbfgs``)."""
    import nst.lbfgs

    chosen = nst.lbfgs.DEFAULT_METHOD
    nst.lbfgs.DEFAULT_METHOD = method
    try:
        yield
    finally:
        nst.lbfgs.DEFAULT_METHOD = chosen


def step_cost(model, content, size: int, repeats: int = 10, fill: int = 50) -> dict:
    """Seconds per bare VGG-19 forward+backward (relu1_1 … relu5_1, relu4_2) and per step of ours at ``size``,
    with ``-H g`` by the two-loop recursion and by the compact form, each timed over ``repeats`` steps
    once ``fill`` pairs are stored (50: the whole-image history, full)."""
    from nst import StyleTransfer, TransferConfig
    from nst.features import CONTENT_LAYERS, STYLE_LAYERS
    from nst.image import resize_longest, to_tensor

    x = to_tensor(resize_longest(content, size), DEVICE).requires_grad_(True)
    layers = list(dict.fromkeys(STYLE_LAYERS + CONTENT_LAYERS))

    def bare() -> None:
        x.grad = None
        features = model(x, layers)
        sum(f.sum() for f in features.values()).backward()

    for _ in range(3):
        bare()
    start = synchronized()
    for _ in range(repeats):
        bare()
    cost = {"bare_s": (synchronized() - start) / repeats}
    for method in ("two_loop", "compact"):
        config = TransferConfig(size=size, steps=fill + 1 + repeats, scales=1, preview_every=0)
        with lbfgs_method(method):
            times = [event.elapsed for event in StyleTransfer(model, content, [content], config, device=DEVICE)]
        cost[f"{method}_s"] = (times[-1] - times[-1 - repeats]) / repeats  # each step ends in a read-back
        cost[f"{method}_ratio"] = cost[f"{method}_s"] / cost["bare_s"]
        torch.set_grad_enabled(True)
    cost["gain"] = cost["two_loop_s"] / cost["compact_s"]
    return cost


@contextlib.contextmanager
def strict_steps():
    """Inside, every ``nst.lbfgs.LBFGS.step`` (and the closure it calls) raises on a host synchronisation."""
    from nst.lbfgs import LBFGS

    step = LBFGS.step

    def strict(self, closure):
        if DEVICE == "cuda":
            torch.cuda.set_sync_debug_mode("error")
        try:
            return step(self, closure)
        finally:
            if DEVICE == "cuda":
                torch.cuda.set_sync_debug_mode(0)

    LBFGS.step = strict
    try:
        yield
    finally:
        LBFGS.step = step


def sync_check(model, content, style, size: int, steps: int = 60) -> dict:
    """A run of ``steps`` at ``size`` with every step strict (``strict_steps``): ``{"sync_free": True}``, or
    False and the synchronising call's error and the frames of ours it came through."""
    import traceback

    from nst import StyleTransfer, TransferConfig

    config = TransferConfig(size=size, steps=steps, preview_every=0)
    try:
        with strict_steps():
            StyleTransfer(model, content, [style], config, device=DEVICE).run()
    except RuntimeError as exc:
        frames = [f"{Path(f.filename).name}:{f.lineno} {f.name}" for f in traceback.extract_tb(exc.__traceback__)
                  if "/nst/" in f.filename]
        return {"size": size, "steps": steps, "sync_free": False, "error": str(exc).splitlines()[0], "where": frames}
    return {"size": size, "steps": steps, "sync_free": True}


def pastiche_run(content: Path, style: Path, size: int, steps: int, out: Path) -> float:
    """Wall seconds of pastiche's own command line on the card (a fresh process, weights loading included)."""
    command = [sys.executable, "-m", "pastiche", "--content", str(content), "--styles", str(style),
               "--output", str(out), "--size", str(size), "--num-steps", str(steps), "--device", DEVICE,
               "--seed", "0", "--no-verbose"]
    start = time.perf_counter()
    subprocess.run(command, check=True, cwd=ROOT)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[512, 1024, 2048])
    parser.add_argument("--precisions", nargs="+", default=["fp32", "bf16"], choices=["fp32", "bf16"])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--pair", default="tubingen:starry_night", metavar="CONTENT:STYLE")
    parser.add_argument("--assets", type=Path, default=ROOT / "docs" / "examples")
    parser.add_argument("--pastiche", action="store_true", help="also time pastiche at the first size")
    parser.add_argument("--pastiche-steps", type=int, default=500, help="pastiche's steps (500: its converged result)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "gpu")
    parser.add_argument("--max-memory", default="0", help="memory budget such as 8GB (0: the card's free memory); "
                        "scales that do not fit are optimised in tiles")
    parser.add_argument("--no-step-cost", action="store_true", help="leave out the step against bare pass timing")
    parser.add_argument("--no-sync-check", action="store_true", help="leave out the check for host syncs in a step")
    parser.add_argument("--cudnn-benchmark", action="store_true", help="let cuDNN time its algorithms per shape")
    parser.add_argument("--device", default="cuda", choices=["cuda", "cpu"], help="cpu: a dry run of the script")
    args = parser.parse_args()
    global DEVICE
    DEVICE = args.device
    if DEVICE == "cuda" and not torch.cuda.is_available():
        raise SystemExit("no CUDA device: this script times the GPU path")
    torch.backends.cudnn.benchmark = args.cudnn_benchmark

    import nst
    from nst.memory import parse_bytes
    from nst.metrics import content_distance, style_distance

    args.out.mkdir(parents=True, exist_ok=True)
    content_name, style_name = args.pair.split(":")
    content_path = next(args.assets.glob(f"{content_name}.*"))
    style_path = next(args.assets.glob(f"{style_name}.*"))
    content, style = nst.load_image(content_path), nst.load_image(style_path)
    model = nst.load_model("pastiche").to(DEVICE)
    card = torch.cuda.get_device_name() if DEVICE == "cuda" else "CPU"
    print(f"{card}; torch {torch.__version__}, CUDA {torch.version.cuda}, cuDNN {torch.backends.cudnn.version()}",
          flush=True)

    for precision in args.precisions:  # warm-up: CUDA context, cuDNN algorithm choice, autocast caches
        timed_run(model, content, style, 256, precision, 30)

    rows = []
    for size in args.sizes:
        for precision in args.precisions:
            measured = timed_run(model, content, style, size, precision, args.steps, parse_bytes(args.max_memory))
            result = measured.pop("result")
            suffix = "png" if size <= 2048 else "jpg"  # a 4096 px PNG is some 30 MB
            result.save(args.out / f"{content_name}_{style_name}_{size}_{precision}.{suffix}", quality=92)
            row = {"size": size, "precision": precision, "steps": args.steps, **measured,
                   "style_distance": style_distance(model, result, style),
                   "content_distance": content_distance(model, result, content),
                   "photo_style_distance": style_distance(model, nst.image.resize_longest(content, size), style)}
            rows.append(row)
            print(json.dumps(row), flush=True)
    fill = min(50, args.steps)  # pairs stored before a step is timed (a dry run's few steps: fewer)
    costs = {} if args.no_step_cost else {size: step_cost(model, content, size, fill=fill) for size in args.sizes}
    for size, cost in costs.items():
        print(json.dumps({"size": size, **cost}), flush=True)

    sync = None if args.no_sync_check else sync_check(model, content, style, args.sizes[0], min(60, args.steps))
    if sync is not None:
        print(json.dumps({"sync_check": sync}), flush=True)

    pastiche = None
    if args.pastiche:
        size = args.sizes[0]
        out = args.out / f"{content_name}_{style_name}_{size}_pastiche.png"
        wall = pastiche_run(content_path, style_path, size, args.pastiche_steps, out)
        result = nst.load_image(out)
        pastiche = {"size": size, "steps": args.pastiche_steps, "wall_s": wall, "style_distance": style_distance(model, result, style),
                    "content_distance": content_distance(model, result, content)}
        print(json.dumps({"pastiche": pastiche}), flush=True)

    (args.out / "gpu.json").write_text(json.dumps({"card": card, "rows": rows, "step_cost": costs,
                                                   "sync_check": sync, "pastiche": pastiche}, indent=2))
    print(f"\n{card}\n")
    print("| size | precision | steps | wall time (s) | s/step | peak GPU memory (GiB) | style distance | content distance |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['size']} | {r['precision']} | {r['steps']} | {r['wall_s']:.2f} | {r['s_per_step']:.4f} "
              f"| {r['peak_gib']:.2f} | {r['style_distance']:.3f} (photo: {r['photo_style_distance']:.3f}) "
              f"| {r['content_distance']:.3f} |")
    print(f"\nOne step with {fill} L-BFGS pairs stored, -H g by the two-loop recursion and by the compact form:\n")
    print("| size | bare VGG-19 forward+backward (ms) | step, two-loop (ms) | ratio | step, compact (ms) | ratio "
          "| two-loop / compact |")
    print("|---|---|---|---|---|---|---|")
    for size, c in costs.items():
        print(f"| {size} | {c['bare_s'] * 1000:.1f} | {c['two_loop_s'] * 1000:.1f} | {c['two_loop_ratio']:.2f} "
              f"| {c['compact_s'] * 1000:.1f} | {c['compact_ratio']:.2f} | {c['gain']:.2f} |")
    if sync is not None:
        verdict = "none" if sync["sync_free"] else f"{sync['error']} (via {' > '.join(sync['where'])})"
        print(f"\nHost syncs inside an L-BFGS step ({sync['steps']} steps at {sync['size']} px): {verdict}")
    if pastiche:
        print(f"\npastiche, {pastiche['steps']} steps at {pastiche['size']} px: {pastiche['wall_s']:.1f} s, style {pastiche['style_distance']:.3f}, "
              f"content {pastiche['content_distance']:.3f}")


if __name__ == "__main__":
    main()
