"""``--ray``: ``nst batch`` and ``nst video`` on a Ray cluster (the work is ``nst.distributed``'s).

    python -m nst batch photos/ --preset starry-night -o out/ --ray             # a local Ray (or RAY_ADDRESS's)
    python -m nst batch photos/ --preset starry-night -o out/ --ray ray://head:10001
    python -m nst video clip.mp4 style.jpg -o out.mp4 --ray --chunks 8 --overlap 3

A batch runs one task per image (a GPU each where the cluster has GPUs, else ``--ray-cpus`` cores
each) under one progress bar for the whole cluster: images done, failed and left, the rate and the
time left. The driver writes every result as it arrives, atomically, with the settings it was made
with, so the resume rule is the one of a batch on one machine: an output made with the same look is
skipped. A task whose worker is lost is submitted again; Ctrl-C cancels the tasks left and keeps
every image finished. The summary says how many images were made, already done, failed and retried.

A clip is cut into overlapping chunks styled in parallel and joined by cross-fading the overlaps
(``nst.distributed.video``); besides the flicker of the whole, the flicker across the seams is
printed beside that of the other frame pairs, so a seam that flickers shows.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Callable, Sequence

from ..distributed.batch import BatchResult, ClusterBatch
from ..distributed.cluster import INSTALL, Cluster, RayUnavailable, check_address, connect, ray_installed
from ..distributed.video import DEFAULT_OVERLAP, ChunkedVideo, ChunkFailed
from ..image import save_image
from ..video_io import write_clip
from .common import UsageError, say, wrote
from .progress import Progress


class _RayAddress(argparse.Action):
    """``--ray [ADDRESS]``: checks the address, and that Ray is installed, as the option is read."""

    def __call__(self, parser, namespace, values, option_string=None):
        address = self.const if values is None else values
        try:
            check_address(address)
        except ValueError as exc:
            parser.error(f"argument --ray: {exc}")
        if not ray_installed():
            parser.error(f"--ray needs Ray, which is not installed: {INSTALL}")
        setattr(namespace, self.dest, address)


def _count(low: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"must be at least {low}, got {value}")
        return value
    return parse


def add_ray_options(p: argparse.ArgumentParser, *, video: bool = False) -> None:
    """``--ray [auto|ray://HOST:PORT]`` and ``--ray-cpus``; for a clip also ``--chunks`` and ``--overlap``."""
    g = p.add_argument_group("on a Ray cluster (pip install .[ray])")
    g.add_argument("--ray", nargs="?", const="auto", default=None, action=_RayAddress, metavar="auto|ray://HOST:PORT",
                   help="run on a Ray cluster: auto (RAY_ADDRESS's, one started with `ray start --head`, else a "
                        "local one), ray://HOST:PORT (Ray Client) or HOST:PORT; None: this machine alone")
    g.add_argument("--ray-cpus", type=_count(1), default=1, metavar="N",
                   help="CPU cores per task on a cluster without GPUs (with GPUs: one GPU per task)")
    if video:
        g.add_argument("--chunks", type=_count(1), default=None, metavar="N",
                       help="chunks of the clip styled in parallel; None: as many as the cluster runs at once")
        g.add_argument("--overlap", type=_count(0), default=DEFAULT_OVERLAP, metavar="N",
                       help="frames each chunk starts early, cross-faded with the chunk before")


def open_cluster(args: argparse.Namespace) -> Cluster:
    """The cluster ``--ray`` names; says which on stderr unless quiet."""
    try:
        cluster = connect(args.ray)
    except RayUnavailable as exc:
        raise UsageError(str(exc)) from None
    if getattr(args, "device", "auto") == "cuda" and not cluster.uses_gpus("cuda"):
        cluster.close()
        raise UsageError("--device cuda, but the Ray cluster has no GPUs: leave --device at auto")
    say(args, f"on {cluster.describe()}")
    return cluster


def _pace(done: int, left: int, failed: int, started: float) -> str:
    """``"2 failed, 12 left, 4.2 images/min, 3 min left"``."""
    minutes = (time.monotonic() - started) / 60
    rate = done / minutes if minutes > 0 else 0.0
    text = f"{failed} failed, {left} left, {rate:.1f} images/min"
    if rate > 0 and left:
        eta = left / rate
        text += f", {eta:.0f} min left" if eta >= 1 else f", {eta * 60:.0f} s left"
    return text


def batch_on_ray(args: argparse.Namespace, *, model, styles, config, init_image, inputs: Sequence[Path],
                 outputs: Sequence[Path], done: Sequence[bool], settings_of: Callable[..., dict]) -> int:
    """``nst batch ... --ray``: the images of ``inputs`` not ``done`` styled on the cluster, each written to
    its ``outputs`` path with ``settings_of(config, photo, stop_reason)``; returns the exit status."""
    todo = [i for i, skip in enumerate(done) if not skip]
    if not todo:
        print(f"nst: batch: 0 made, {sum(done)} already done, 0 failed (nothing to do on the cluster)", file=sys.stderr)
        return 0
    cluster = open_cluster(args)
    try:
        batch = ClusterBatch(cluster, model, styles, config, [inputs[i] for i in todo], init_image=init_image,
                             device=args.device, cpus=args.ray_cpus)
        progress = Progress(len(inputs), unit="image", quiet=args.quiet, initial=sum(done))
        made, lighter, failures, started = 0, 0, [], time.monotonic()

        def finish(result: BatchResult) -> None:
            nonlocal made, lighter
            photo, out, outcome = result.path, outputs[todo[result.index]], result.outcome
            for notice in outcome.notices:
                progress.write(f"nst: {photo.name}: {notice}")
            lighter += bool(outcome.notices)
            if outcome.image is not None:
                save_image(outcome.image, out, settings_of(outcome.config, photo, outcome.stop_reason))
                progress.write(f"wrote {out}", sys.stdout)
            if outcome.error is not None:
                failures.append((photo.name, outcome.error))
                progress.write(f"nst: {photo.name}: {outcome.error}")
            else:
                made += 1
            finished = made + len(failures)
            progress.advance(1, _pace(finished, len(todo) - finished, len(failures), started))

        try:
            for result in batch:
                finish(result)
        except KeyboardInterrupt:
            for result in batch.stop():
                finish(result)
            progress.close()
            print(f"nst: interrupted after {made} new output(s), {batch.cancelled} cancelled, {batch.retried} "
                  "retried (worker lost); run the same command again to go on", file=sys.stderr)
            return 130
        progress.close()
    finally:
        cluster.close()
    summary = (f"nst: batch: {made} made, {sum(done)} already done, {len(failures)} failed, "
               f"{batch.retried} retried (worker lost)") + (f", {lighter} made lighter (out of memory)" if lighter else "")
    print(summary + (":" if failures else ""), file=sys.stderr)
    for name, message in failures:
        print(f"  {name}: {message}", file=sys.stderr)
    return 1 if failures else 0


def _flicker_text(value: float | None) -> str:
    return "n/a (fewer than two frames)" if value is None else f"{value:.3g}"


def video_on_ray(args: argparse.Namespace, *, clip, styles, config, model, options: dict, outputs: Sequence[Path]) -> int:
    """``nst video ... --ray``: the clip in overlapping chunks on the cluster; returns the exit status."""
    if args.compare:
        raise UsageError("--compare renders the independent baseline on this machine: drop --ray or --compare")
    cluster = open_cluster(args)
    try:
        video = ChunkedVideo(cluster, model, clip.frames, styles, config, chunks=args.chunks, overlap=args.overlap,
                             independent=args.independent, cpus=args.ray_cpus, **options)
        size = "x".join(map(str, video.frames[0].size))
        say(args, f"{len(video.frames)} frame(s) at {clip.fps:g} fps, {size} px, in {len(video.plan)} chunk(s) "
                  f"overlapping by {video.plan[1].own - video.plan[1].start if len(video.plan) > 1 else 0} frame(s)")
        progress = Progress(video.total, unit="frame", quiet=args.quiet, desc="video")
        ended, failure = "finished", None
        try:
            for event in video:
                progress.move_to(event.done, event.label)
        except KeyboardInterrupt:
            video.close()
            ended = "interrupted"
        except ChunkFailed as exc:
            ended, failure = "failed", str(exc)
        finally:
            progress.close()
    finally:
        cluster.close()
    images = video.results()
    if failure is not None:
        print(f"nst: error: {failure}", file=sys.stderr)
    if not images:
        print(f"nst: {ended} before the first chunk was done; nothing written", file=sys.stderr)
        return 130 if ended == "interrupted" else 1
    for path in outputs:
        wrote(write_clip(images, path, clip.fps))
    print(f"flicker (mean warping error over reliable pixels, lower is steadier): {_flicker_text(video.flicker())}")
    seams, rest = video.seam_flicker()
    if seams is not None:
        print(f"flicker across the chunk seams: {_flicker_text(seams)} (the other frame pairs: {_flicker_text(rest)})")
    print(f"flicker of the input clip itself: {_flicker_text(video.input_flicker())}")
    say(args, f"video: {len(video.plan)} chunk(s), {video.retried} retried (worker lost)")
    if video.stop_reason == "nan":
        print("nst: error: the loss became NaN; wrote the frames. Try a lower --lr or --style-weight", file=sys.stderr)
        return 1
    if ended != "finished":
        print(f"nst: {ended}; wrote the {len(images)} frame(s) of the chunks done in a row from the start",
              file=sys.stderr)
        return 130 if ended == "interrupted" else 1
    return 0
