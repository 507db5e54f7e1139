"""The main command: style transfer, texture synthesis, and the sweep between two styles.

    python -m nst CONTENT STYLE [STYLE ...] -o OUTPUT [options]        style transfer
    python -m nst --texture STYLE [STYLE ...] -o OUTPUT [options]      texture synthesis (no content)
    python -m nst CONTENT --preset NAME|PATH|user/repo|result.png -o OUTPUT    a preset's look
    python -m nst interpolate CONTENT STYLE_A STYLE_B -n 5 -o GRID [--gif ANIMATION] [options]

The settings' options come from ``nst.config.SPEC`` (``nst.cli.options``). An interrupted run
(Ctrl-C) still saves the best image so far. A run that runs out of memory starts again smaller,
then with Adam (``nst.recovery``), saying so on stderr.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .. import __version__
from ..config import MAX_SIZE, TransferConfig
from ..record import result_record
from ..image import save_image
from ..texture import TEXTURE_LOOK, texture_config
from .common import Parser, UsageError, add_machine_options, open_image, open_model, say
from .outputs import check_output, check_writable, deliver, reason
from .options import (
    CLI_DEFAULTS, add_setting_option, add_setting_options, check_counts, config_from_args, in_flag_terms,
    typed_settings,
)
from .preset_options import preset_for_transfer
from .progress import Progress


class _TransferParser(Parser):
    """The main parser: with ``--texture`` every positional image is a style and ``content`` is None."""

    def parse_known_args(self, args=None, namespace=None):
        ns, rest = super().parse_known_args(args, namespace)
        if ns.texture:
            ns.styles = [ns.content, *ns.styles]
            ns.content = None
        elif not ns.styles and not ns.preset:
            self.error("give at least one STYLE image after CONTENT (or --texture STYLE to synthesise a texture)")
        return ns, rest


def _dimensions(text: str) -> tuple[int, int]:
    """``"WIDTHxHEIGHT"`` -> ``(height, width)``."""
    try:
        width, height = (int(part) for part in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT such as 512x256, got {text!r}") from None
    if width < 1 or height < 1:
        raise argparse.ArgumentTypeError(f"width and height must be positive, got {text!r}")
    return height, width


def build_parser() -> argparse.ArgumentParser:
    """The parser of ``python -m nst CONTENT STYLE... -o OUTPUT``."""
    p = _TransferParser(
        prog="python -m nst",
        description="Neural style transfer (Gatys, Ecker & Bethge): restyle CONTENT after STYLE. "
                    "'python -m nst interpolate -h' explains the sweep between two styles; 'preset', 'batch' "
                    "and 'video' are commands of their own.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("content", metavar="CONTENT", help="the photo to restyle (with --texture: a style image too)")
    p.add_argument("styles", metavar="STYLE", nargs="*", help="one or more style images (paintings)")
    p.add_argument("-o", "--output", required=True, help="where to write the result (.png or .jpg)")
    p.add_argument("--preset", default=None, metavar="NAME|PATH|user/repo|result.png",
                   help="take the style images, settings and weights from a preset (or from an image nst wrote); "
                        "options given here override its settings, STYLE images replace its styles")
    p.add_argument("--preset-revision", default=None, metavar="REV", help="branch, tag or commit of a Hub preset")
    p.add_argument("--mask", action="append", default=None, metavar="PATH|none",
                   help="repeat once per STYLE, in order: where that style goes in the output (white), "
                        "any size; 'none' for a style everywhere")
    p.add_argument("--style-mask", action="append", default=None, metavar="PATH|none",
                   help="repeat once per STYLE: the part of that style image (white) whose look is used")
    p.add_argument("--default-style", type=int, default=None, metavar="N",
                   help="the STYLE (1 = the first) painting the area no --mask covers; otherwise it keeps the content")
    p.add_argument("--texture", action="store_true",
                   help="synthesise a texture: no CONTENT, every image given is a STYLE; average pooling and "
                        "--tv-weight 0 (Gatys 2015) unless typed or a --preset sets them")
    p.add_argument("--texture-size", type=_dimensions, default=None, metavar="WIDTHxHEIGHT",
                   help="with --texture: the output's exact size (default: --size on the style's aspect ratio)")
    add_setting_option(p, "preview_every", flag="--save-every", dest="save_every", metavar="N",
                       help="also save the image every N steps as OUTPUT_stepN.png (default: none)")
    add_setting_options(p)
    add_machine_options(p)
    p.add_argument("--version", action="version", version=f"nst {__version__}")
    return p


def build_interpolate_parser() -> argparse.ArgumentParser:
    """The parser of ``python -m nst interpolate CONTENT STYLE_A STYLE_B -n N -o GRID``."""
    p = Parser(
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
    add_setting_options(p, exclude=("style_blend_weights",))  # the sweep sets the blend
    add_machine_options(p)
    return p


def _transfer_config(args: argparse.Namespace) -> TransferConfig:
    """The run's settings; with ``--texture``, made fit for synthesis, on the paper's look for textures
    (``TEXTURE_LOOK``) where no preset gives the base."""
    if args.texture and args.base_config is CLI_DEFAULTS:
        args.base_config = CLI_DEFAULTS.replace(**TEXTURE_LOOK)
    config = config_from_args(args)
    if not args.texture:
        return config
    if typed_settings(args).get("preserve_color", "off") != "off":
        raise UsageError("--preserve-color takes colours from a CONTENT image: drop it with --texture")
    if config.photo_smoothing:
        raise UsageError("--photo-smoothing follows a CONTENT photo's edges: drop it with --texture")
    config = texture_config(config)
    if args.texture_size is not None:
        height, width = args.texture_size
        if max(width, height) > MAX_SIZE:
            raise UsageError(f"--texture-size {width}x{height}: the longest side may be at most {MAX_SIZE} px")
        try:
            config = config.replace(size=max(width, height))
        except ValueError as exc:
            raise UsageError(f"--texture-size {width}x{height}: {in_flag_terms(str(exc))}") from None
    return config


def _init_image(args: argparse.Namespace, config: TransferConfig):
    """The image ``--init PATH`` names, when the run starts from one."""
    if config.init != "image":
        return None
    if getattr(args, "init_image", None) is None:
        raise UsageError("init 'image' starts from an image: give its path with --init PATH")
    return open_image(args.init_image)


def _per_style(values: list[str] | None, count: int, option: str) -> list[str | None] | None:
    """Repeated ``option`` values, one per style ('none' meaning none), checked against the number of styles."""
    if values is None:
        return None
    if len(values) != count:
        raise UsageError(f"{len(values)} {option} for {count} STYLE image(s): give one per style, "
                         f"'none' for a style without one")
    return [None if value.lower() == "none" else value for value in values]


def _open_masks(paths: list[str | None] | None, option: str):
    """The mask images named by a per-style option, opened (None stays None)."""
    from ..masks import open_mask

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


def run_transfer(args: argparse.Namespace) -> int:
    """Run ``python -m nst CONTENT STYLE... -o OUTPUT`` (or ``--texture``) from parsed ``args``."""
    from ..optimize import StyleTransfer
    from ..recovery import RetryingTransfer, is_out_of_memory

    config = _transfer_config(args)
    output = check_output(args.output)
    check_counts(config, len(args.styles))
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
    content = open_image(args.content) if args.content is not None else None
    styles = [open_image(path) for path in args.styles]
    init_image = _init_image(args, config)
    mask_images = _open_masks(masks, "--mask")
    image_mask_images = _open_masks(image_masks, "--style-mask")
    _check_mask_shapes(mask_images, [content] * len(styles), "--mask", "the CONTENT")
    _check_mask_shapes(image_mask_images, styles, "--style-mask", "its STYLE")
    model = open_model(args)
    try:  # the sizes and the memory plan are checked here, before anything runs
        run = RetryingTransfer(
            lambda c: StyleTransfer(model, content, styles, c, init_image=init_image, device=args.device,
                                    content_size=args.texture_size, style_masks=mask_images,
                                    style_image_masks=image_mask_images, default_style=default_style),
            config)
    except ValueError as exc:
        raise UsageError(in_flag_terms(str(exc))) from None
    save_every = getattr(args, "save_every", 0)

    def settings_for(config: TransferConfig) -> dict:
        extra = {key: [Path(m).name if m is not None else None for m in paths]
                 for key, paths in (("masks", masks), ("style_masks", image_masks)) if paths is not None}
        return result_record(config, weights=model.source, extra=extra, name=output.stem,
                             content=Path(args.content).name if args.content is not None else None,
                             styles=[Path(s).name for s in args.styles], preset=getattr(args, "loaded_preset", None),
                             preset_styles=getattr(args, "preset_styles", False))

    say(args, run.attempt.plan.describe())
    progress = Progress(run.total, unit="step", quiet=args.quiet)
    shown, out_of_memory, step_failed = 0, None, False
    try:
        for event in run:
            if len(run.notices) > shown:  # out of memory: a lighter run started over
                for notice in run.notices[shown:]:
                    progress.write(f"nst: {notice}")
                shown = len(run.notices)
                progress.restart(run.total)
            progress.advance(1, f"loss {event.losses['total']:.4g}, {'x'.join(map(str, event.size[::-1]))} px")
            if save_every and event.image is not None and event.step % save_every == 0:
                step_file = output.with_name(f"{output.stem}_step{event.step}.png")
                try:
                    save_image(event.image, step_file, settings_for(run.attempt.config))
                except OSError as exc:  # the run goes on: its result is what matters
                    if not step_failed:
                        progress.write(f"nst: warning: could not save {step_file} ({reason(exc)}); the run goes on",
                                       sys.stderr)
                    step_failed = True
    except KeyboardInterrupt:
        run.close()
    except Exception as exc:
        if not is_out_of_memory(exc):
            raise
        out_of_memory = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else 'no memory left'}"
    finally:
        progress.close()
    for notice in run.notices[shown:]:
        print(f"nst: {notice}", file=sys.stderr)
    if out_of_memory is not None and not run.has_image:
        print(f"nst: error: out of memory before the first step ({out_of_memory}); nothing saved. "
              "Try a smaller --size, or --device cpu", file=sys.stderr)
        return 1
    image = run.result()
    settings = {**settings_for(run.config), "stop_reason": "out of memory" if out_of_memory else run.stop_reason}
    where = deliver(lambda path: save_image(image, path, settings), output, what="the image")
    if out_of_memory is not None:
        if where is not None:
            print(f"nst: error: out of memory at the lightest settings tried ({out_of_memory}); saved the best image "
                  f"so far to {where}. Try a smaller --size, or --device cpu", file=sys.stderr)
        return 1
    if where != output:  # saved elsewhere (said already), or nowhere
        return 1
    return exit_status(run.stop_reason, nan_kept="the last good image",
                       cancelled_kept=f"the best image so far to {output}")


def run_interpolation(args: argparse.Namespace) -> int:
    """Run ``python -m nst interpolate ...`` from parsed ``args``."""
    from ..interpolate import MAX_OUTPUTS, interpolate
    from ..montage import MAX_DURATION_MS, grid, save_gif

    if not 2 <= args.count <= MAX_OUTPUTS:
        raise UsageError(f"-n must be from 2 (the two ends of the sweep) to {MAX_OUTPUTS} (each is a run of its "
                         f"own), got {args.count}")
    if args.columns is not None and args.columns < 1:
        raise UsageError(f"--columns must be at least 1, got {args.columns}")
    if args.follow_steps is not None and args.follow_steps < 0:
        raise UsageError(f"--follow-steps must not be negative, got {args.follow_steps}")
    if not 10 <= args.duration <= MAX_DURATION_MS:
        raise UsageError(f"--duration must be from 10 to {MAX_DURATION_MS} (milliseconds per GIF frame), "
                         f"got {args.duration}")
    config = config_from_args(args)
    output = check_output(args.output)
    if args.gif is not None and Path(args.gif).suffix.lower() != ".gif":
        raise UsageError(f"--gif {args.gif!r} must end in .gif")
    gif = check_writable(args.gif, "--gif") if args.gif is not None else None
    check_counts(config, 2)
    content = open_image(args.content)
    style_a, style_b = open_image(args.style_a), open_image(args.style_b)
    init_image = _init_image(args, config)
    model = open_model(args)
    sweep = interpolate(model, content, style_a, style_b, args.count, config, device=args.device,
                        follow_steps=args.follow_steps, init_image=init_image)
    progress = Progress(sweep.total, unit="step", quiet=args.quiet)
    try:
        for event in sweep:
            progress.move_to(event.step, f"output {event.index + 1}/{event.count}")
    except KeyboardInterrupt:
        sweep.close()
    finally:
        progress.close()
    images = sweep.results()
    if not images:
        print("nst: interrupted before the first output had an image; nothing saved", file=sys.stderr)
        return 130
    settings = result_record(config, weights=model.source, content=Path(args.content).name,
                             styles=[Path(args.style_a).name, Path(args.style_b).name], describe=False,
                             extra={"interpolation": sweep.values[: len(images)],
                                    "follow_steps": sweep.jobs[-1].config.steps, "stop_reason": sweep.stop_reason})
    labels = None if args.no_labels else sweep.labels[: len(images)]
    sheet = grid(images, args.columns, labels)
    kept = deliver(lambda path: save_image(sheet, path, settings), output, what="the grid") == output
    if gif is not None:
        kept = deliver(lambda path: save_gif(images, path, args.duration), gif, what="the animation") == gif and kept
    if not kept:  # written elsewhere (said already), or nowhere
        return 1
    return exit_status(sweep.stop_reason, nan_kept="the outputs so far",
                       cancelled_kept=f"the {len(images)} output(s) so far to {output}")


def exit_status(stop_reason: str | None, *, nan_kept: str, cancelled_kept: str) -> int:
    """The exit status of a run or sweep whose result was saved, saying on stderr how it ended when that was
    not "finished": 1 for a NaN loss, 130 when interrupted (``*_kept``: what was saved then), else 0."""
    if stop_reason == "nan":
        print(f"nst: error: the loss became NaN; saved {nan_kept}. Try a lower --lr or --style-weight",
              file=sys.stderr)
        return 1
    if stop_reason == "cancelled":
        print(f"nst: interrupted; saved {cancelled_kept}", file=sys.stderr)
        return 130
    return 0


def transfer_main(argv: list[str]) -> int:
    """``python -m nst CONTENT STYLE... -o OUTPUT [--preset P]``; errors propagate to ``nst.cli.main``."""
    args = build_parser().parse_args(argv)
    if args.preset:
        args = preset_for_transfer(args)
    return run_transfer(args)


def interpolate_main(argv: list[str]) -> int:
    """``python -m nst interpolate ...``; errors propagate to ``nst.cli.main``."""
    return run_interpolation(build_interpolate_parser().parse_args(argv))
