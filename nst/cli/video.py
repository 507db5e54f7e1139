"""The command line for video: ``python -m nst video CLIP STYLE [STYLE ...] -o OUT.mp4 [-o OUT.gif] [options]``.

CLIP is a GIF, a video file (MP4, WebM, ...) or a folder of frames; each ``-o`` is an ``.mp4``
(H.264), a ``.gif`` or a folder (no suffix) for PNG frames, written at the clip's frame rate. The
frames are stylised in order with temporal consistency (see ``nst.video``); the first frame takes
``--steps``, each later one ``--follow-steps``. A progress bar shows the frame and the steps over
the whole clip. At the end the flicker measure is printed (the mean warping error between
consecutive outputs over reliable pixels, see ``nst.temporal``), with the input clip's own value;
``--compare`` also stylises every frame independently, writes that as ``OUT_independent.*`` and
prints its flicker beside, so the gain is a number. Ctrl-C writes the frames done so far. With
``--ray`` the clip is styled in overlapping chunks in parallel on a Ray cluster (``nst.cli.cluster``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence

from ..config import TransferConfig
from ..flow import FLOW_METHODS
from ..image import load_image
from ..video import DEFAULT_TEMPORAL_WEIGHT, FRAME_INITS, VideoTransfer
from ..video_io import check_output, read_clip, write_clip
from .cluster import add_ray_options, video_on_ray
from .common import Parser, UsageError, add_machine_options, open_model, say
from .outputs import check_writable, deliver
from .options import CLI_DEFAULTS, add_setting_options, check_counts, config_from_args
from .progress import Progress

DEFAULT_VIDEO_SIZE = 256
VIDEO_DEFAULTS: TransferConfig = CLI_DEFAULTS.replace(size=DEFAULT_VIDEO_SIZE)


def _offsets(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated frame offsets such as 1,2,4, got {text!r}") from None


def build_video_parser() -> argparse.ArgumentParser:
    """The parser of ``python -m nst video CLIP STYLE... -o OUTPUT``."""
    p = Parser(
        prog="python -m nst video",
        description="Stylise a clip frame by frame without flicker (Ruder, Dosovitskiy & Brox 2016): each frame "
                    "starts from the previous output warped along the optical flow and is held to it by a "
                    "temporal loss where the flow is reliable.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("clip", metavar="CLIP", help="a GIF, a video file (MP4, WebM, ...) or a folder of frames")
    p.add_argument("styles", metavar="STYLE", nargs="+", help="one or more style images (paintings)")
    p.add_argument("-o", "--output", action="append", required=True, metavar="OUT",
                   help="an .mp4 (H.264), a .gif, or a folder for PNG frames; repeat for several")
    p.add_argument("--max-frames", type=int, default=None, metavar="N", help="stylise only the first N frames")
    p.add_argument("--fps", type=float, default=None,
                   help="frame rate of the outputs (default: the clip's; 24 for a folder of frames)")
    p.add_argument("--frame-init", choices=FRAME_INITS, default="flow",
                   help="how each frame after the first starts: the previous output warped by the optical flow, "
                        "the previous output as it is, or the frame itself")
    p.add_argument("--temporal-weight", type=float, default=DEFAULT_TEMPORAL_WEIGHT,
                   help="lambda_t: weight of the temporal loss (0: none)")
    p.add_argument("--long-term", type=_offsets, default=None, metavar="J,J,...",
                   help="hold each frame to the outputs this many frames back, e.g. 1,2,4 (default: 1, short-term)")
    p.add_argument("--follow-steps", type=int, default=None, metavar="N",
                   help="steps for each frame after the first (default: half of --steps)")
    p.add_argument("--flow", choices=FLOW_METHODS, default="dis", help="optical flow method (OpenCV)")
    p.add_argument("--independent", action="store_true",
                   help="stylise every frame on its own (no temporal consistency): the baseline")
    p.add_argument("--compare", action="store_true",
                   help="also stylise every frame independently, write it as OUT_independent.*, and print both "
                        "flicker measures")
    add_setting_options(p, defaults=VIDEO_DEFAULTS)
    add_machine_options(p)
    add_ray_options(p, video=True)
    return p


def _output(text: str) -> Path:
    """An ``-o`` path that this writes (``.mp4``, ``.gif`` or a folder of frames) and can write, checked up front."""
    path = check_output(text)
    return check_writable(path, "-o", folder=path.suffix == "")


def _write_all(frames, paths: Sequence[Path], fps: float) -> bool:
    """Write ``frames`` to every path (kept in the current or temp folder where the disk refuses); True when
    each went where asked."""
    return all([deliver(lambda where: write_clip(frames, where, fps), path, what="the video") == path
                for path in paths])


def _independent_path(path: Path) -> Path:
    return path.with_name(f"{path.stem}_independent{path.suffix}")


def _stylise(video: VideoTransfer, label: str, quiet: bool) -> bool:
    """Run ``video`` under a progress bar; False when interrupted (the frames so far are kept)."""
    progress = Progress(video.total, unit="step", quiet=quiet, desc=label)
    try:
        for event in video:
            info = None
            if event.event is not None:
                info = (f"frame {event.frame + 1}/{event.frames}, step {event.event.step}/{event.event.total}, "
                        f"loss {event.event.losses['total']:.4g}")
            progress.move_to(event.step, info)
    except KeyboardInterrupt:
        video.close()
        return False
    finally:
        progress.close()
    return True


def _flicker_text(value: float | None) -> str:
    return "n/a (fewer than two frames)" if value is None else f"{value:.3g}"


def video_main(argv: Sequence[str]) -> int:
    """``python -m nst video ...``; bad input raises ``UsageError`` / ``ValueError`` for ``nst.cli.main``."""
    args = build_video_parser().parse_args(list(argv))
    config = config_from_args(args)
    outputs = [_output(path) for path in args.output]
    if args.max_frames is not None and args.max_frames < 1:
        raise UsageError(f"--max-frames must be at least 1, got {args.max_frames}")
    if args.independent and args.compare:
        raise UsageError("--compare already renders the independent baseline beside the consistent video: "
                         "drop --independent")
    check_counts(config, len(args.styles))
    clip = read_clip(args.clip, max_frames=args.max_frames, max_side=config.size, fps=args.fps)
    styles = [load_image(path) for path in args.styles]
    init_image = load_image(args.init_image) if config.init == "image" else None
    model = open_model(args)
    options = dict(frame_init=args.frame_init, temporal_weight=args.temporal_weight, long_term=args.long_term,
                   follow_steps=args.follow_steps, flow_method=args.flow, init_image=init_image, device=args.device)
    if args.ray is not None:
        return video_on_ray(args, clip=clip, styles=styles, config=config, model=model, options=options,
                            outputs=outputs)
    video = VideoTransfer(model, clip.frames, styles, config, independent=args.independent, **options)
    say(args, f"{len(clip.frames)} frame(s) at {clip.fps:g} fps, {'x'.join(map(str, video.frames[0].size))} px")
    finished = _stylise(video, "independent" if args.independent else "video", args.quiet)
    images = video.results()
    if not images:
        print("nst: interrupted before the first frame had an image; nothing written", file=sys.stderr)
        return 130
    kept = _write_all(images, outputs, clip.fps)
    print(f"flicker (mean warping error over reliable pixels, lower is steadier): {_flicker_text(video.flicker())}")
    print(f"flicker of the input clip itself: {_flicker_text(video.input_flicker())}")
    if finished and args.compare:
        baseline = VideoTransfer(model, clip.frames, styles, config, independent=True, **options)
        finished = _stylise(baseline, "independent", args.quiet)
        if baseline.results():
            kept = _write_all(baseline.results(), [_independent_path(path) for path in outputs], clip.fps) and kept
        ours, theirs = video.flicker(), baseline.flicker()
        print(f"flicker of independently stylised frames: {_flicker_text(theirs)}")
        if finished and ours and theirs:
            print(f"the independent frames flicker {theirs / ours:.1f}x as much")
    if video.stop_reason == "nan":
        print("nst: error: the loss became NaN; wrote the frames so far. Try a lower --lr or --style-weight",
              file=sys.stderr)
        return 1
    if not finished:
        print(f"nst: interrupted; wrote the {len(images)} frame(s) so far", file=sys.stderr)
        return 130
    return 0 if kept else 1
