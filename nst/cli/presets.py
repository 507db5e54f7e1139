"""The commands for presets: ``preset`` and ``batch``.

    python -m nst preset list [--folder DIR]
    python -m nst preset show PRESET
    python -m nst preset save SOURCE [STYLE ...] -o FOLDER [--name N --description D --credit C --licence L]
    python -m nst preset push PRESET user/name [--token T] [--private]
    python -m nst batch INPUT_DIR --preset PRESET -o OUTPUT_DIR [options]

(``python -m nst CONTENT --preset ...`` is the main command's; see ``nst.cli.preset_options``.)

A batch applies one preset to every image of a folder, one output ``<name>.png`` each, under one
progress bar. The preset's settings are the base and every option typed overrides its own. An
output that exists and was made with the same preset and settings counts as done and is skipped,
so an interrupted batch picks up where it stopped; a file that fails is reported and the rest carry
on, and the exit status is 1 if any failed. An image that runs out of memory is retried lighter
(``nst.recovery``) and saved with the settings it was made with, so the next batch (on a larger
machine, say) does it again at the preset's own; if no retry fits, the best image so far is saved
and the file counts as failed. With ``--ray`` the images are styled on a Ray cluster, one task
each, and written here as they arrive, by the same rules (``nst.cli.cluster``).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path
from typing import Callable, Sequence

from ..image import load_image, read_settings, save_image
from ..presets import Preset, create, list_presets, load, push_to_hub, run_preset, save
from ..record import result_record
from .cluster import add_ray_options, batch_on_ray
from .common import Parser, UsageError, add_machine_options, open_model
from .outputs import check_writable, deliver
from .options import add_setting_options, config_from_args
from .preset_options import apply_preset
from .progress import Progress

INPUT_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".gif")


# --------------------------------------------------------------------------------------------------
# python -m nst batch


def build_batch_parser() -> argparse.ArgumentParser:
    """The parser of ``python -m nst batch INPUT_DIR --preset PRESET -o OUTPUT_DIR``."""
    p = Parser(
        prog="python -m nst batch",
        description="Apply a preset to every image in INPUT_DIR, writing OUTPUT_DIR/<name>.png. Outputs already "
                    "made with the same settings are skipped, so an interrupted batch resumes; a file that fails "
                    "is reported without stopping the rest. Settings and weights come from the preset; an option "
                    "given here overrides the preset's value (the defaults listed are those of no preset).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("input_dir", metavar="INPUT_DIR", help="folder of photos to restyle")
    p.add_argument("--preset", required=True, metavar="NAME|PATH|user/repo|result.png", help="the look to apply")
    p.add_argument("--preset-revision", default=None, metavar="REV", help="branch, tag or commit of a Hub preset")
    p.add_argument("-o", "--output", required=True, metavar="OUTPUT_DIR", help="folder for the results")
    p.add_argument("--overwrite", action="store_true", help="redo outputs that already exist")
    add_setting_options(p)
    add_machine_options(p)
    add_ray_options(p)
    return p


def batch_inputs(folder: Path) -> list[Path]:
    """The image files directly in ``folder`` (hidden files aside), sorted by name."""
    return sorted(p for p in folder.iterdir()
                  if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in INPUT_SUFFIXES)


def batch_outputs(inputs: Sequence[Path], folder: Path) -> list[Path]:
    """``folder/<stem>.png`` per input; inputs sharing a stem (a.jpg, a.png) keep their suffix (a.jpg.png)."""
    stems = [p.stem for p in inputs]
    return [folder / (f"{p.name}.png" if stems.count(p.stem) > 1 else f"{p.stem}.png") for p in inputs]


def _same_look(path: Path, preset: Preset) -> bool:
    """Whether the image at ``path`` was made with ``preset``'s styles, settings and weights."""
    try:
        meta = read_settings(path)
    except (OSError, ValueError):
        return False
    made = (meta or {}).get("preset")
    if not isinstance(made, dict):
        return False
    wanted = preset.to_dict()
    return all(made.get(key) == wanted[key] for key in ("styles", "settings", "weights"))


class _NotWritten(Exception):
    """A batch result the disk refused (kept elsewhere if possible, as already said)."""


def run_batch(args: argparse.Namespace) -> int:
    """Run ``python -m nst batch ...`` from parsed ``args``."""
    from ..optimize import StyleTransfer
    from ..recovery import RetryingTransfer, is_out_of_memory

    source, target = Path(args.input_dir), Path(args.output)
    if not source.is_dir():
        raise UsageError(f"INPUT_DIR {str(source)!r} is not a folder")
    if target.exists() and not target.is_dir():
        raise UsageError(f"OUTPUT_DIR {str(target)!r} exists and is not a folder")
    check_writable(target, "OUTPUT_DIR", folder=True)
    if target.resolve() == source.resolve():
        raise UsageError("give an OUTPUT_DIR other than INPUT_DIR, so results are not taken for inputs")
    inputs = batch_inputs(source)
    if not inputs:
        raise UsageError(f"no images in {source} (looked for {', '.join(INPUT_SUFFIXES)})")
    preset = load(args.preset, args.preset_revision)
    args = apply_preset(args, preset)
    config = config_from_args(args)
    styles = preset.style_images()
    init_image = load_image(args.init_image) if config.init == "image" else None
    model = open_model(args)
    made_with = run_preset(preset, config, (), model.source)
    outputs = batch_outputs(inputs, target)
    done = [not args.overwrite and out.exists() and _same_look(out, made_with) for out in outputs]

    def settings_of(config, photo: Path, stop_reason: str | None) -> dict:
        """The settings an image is saved with: those it was made with, as a lighter retry's are not the
        preset's, so the next batch does that image again rather than count it as done."""
        return result_record(config, weights=model.source, content=photo.name, styles=[s.file for s in preset.styles],
                             preset=preset, preset_styles=True, extra={"stop_reason": stop_reason})

    if args.ray is not None:
        return batch_on_ray(args, model=model, styles=styles, config=config, init_image=init_image, inputs=inputs,
                            outputs=outputs, done=done, settings_of=settings_of)

    def save_result(run: RetryingTransfer, photo: Path, out: Path, stop_reason: str | None) -> None:
        """The run's image, with the settings it was made with (``settings_of``). Where the disk refuses
        it, it is kept in the current directory or the temp folder, and the file counts as failed."""
        settings = settings_of(run.config, photo, stop_reason)
        image = run.result()
        where = deliver(lambda path: save_image(image, path, settings), out, what=f"the result of {photo.name}",
                        say=lambda line, stream: progress.write(line, stream))
        if where != out:
            raise _NotWritten(f"could not write {out}" + (f"; saved to {where}" if where is not None else ""))

    failures: list[tuple[str, str]] = []
    made = 0
    progress = Progress(len(inputs), unit="image", quiet=args.quiet, initial=sum(done))
    try:
        for photo, out, skip in zip(inputs, outputs, done):
            if skip:
                continue
            progress.move_to(progress.n, photo.name)
            run = None
            try:
                content = load_image(photo)
                run = RetryingTransfer(lambda c: StyleTransfer(model, content, styles, c, init_image=init_image,
                                                               device=args.device), config)
                shown = 0
                for event in run:
                    for notice in run.notices[shown:]:
                        progress.write(f"nst: {photo.name}: {notice}")
                    shown = len(run.notices)
                    progress.move_to(progress.n, f"{photo.name} {event.step}/{event.total}")
                if run.stop_reason == "nan":
                    raise RuntimeError("the loss became NaN; try a lower --lr or --style-weight")
                save_result(run, photo, out, run.stop_reason)
                made += 1
            except _NotWritten as exc:
                failures.append((photo.name, str(exc)))
            except (ValueError, RuntimeError, OSError, MemoryError) as exc:  # ImageError, PresetError: ValueErrors
                message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                if run is not None and is_out_of_memory(exc) and run.has_image:
                    try:
                        save_result(run, photo, out, "out of memory")
                        message = (f"out of memory at the lightest settings tried; saved the best image so far "
                                   f"({message})")
                    except _NotWritten as unwritten:
                        message = f"out of memory at the lightest settings tried ({message}); {unwritten}"
                failures.append((photo.name, message))
                progress.write(f"nst: {photo.name}: {failures[-1][1]}")
            progress.advance(1)
    except KeyboardInterrupt:
        progress.close()
        print(f"nst: interrupted after {made} new output(s); run the same command again to go on", file=sys.stderr)
        return 130
    progress.close()
    summary = f"nst: batch: {made} made, {sum(done)} already done, {len(failures)} failed"
    print(summary + (":" if failures else ""), file=sys.stderr)
    for name, message in failures:
        print(f"  {name}: {message}", file=sys.stderr)
    return 1 if failures else 0


def batch_main(argv: Sequence[str]) -> int:
    """``python -m nst batch ...``; errors propagate to ``nst.cli.main``."""
    return run_batch(build_batch_parser().parse_args(list(argv)))


# --------------------------------------------------------------------------------------------------
# python -m nst preset list|show|save|push


def build_preset_parser() -> argparse.ArgumentParser:
    """The parser of ``python -m nst preset {list,show,save,push}``."""
    p = Parser(prog="python -m nst preset", description="List, show, save and share style presets.")
    commands = p.add_subparsers(dest="command", required=True, metavar="{list,show,save,push}",
                                parser_class=Parser)

    c = commands.add_parser("list", help="the built-in presets, or those in a folder")
    c.add_argument("--folder", default=None, help="a folder of preset folders (default: the built-ins)")

    c = commands.add_parser("show", help="print a preset's preset.json")
    c.add_argument("preset", metavar="PRESET", help="a name, folder, preset.json, user/repo or result image")
    c.add_argument("--revision", default=None, help="branch, tag or commit of a Hub preset")

    c = commands.add_parser(
        "save", help="save a preset folder from a preset or a result image",
        description="Write a preset folder from SOURCE (a preset, or an image written by nst, whose settings it "
                    "restores). STYLE images replace the source's; a result image becomes the thumbnail.")
    c.add_argument("source", metavar="SOURCE", help="a name, folder, preset.json, user/repo or result image")
    c.add_argument("styles", metavar="STYLE", nargs="*", help="style images (needed when SOURCE has none)")
    c.add_argument("-o", "--output", required=True, metavar="FOLDER", help="the new preset folder")
    c.add_argument("--name", default=None, help="the preset's name (default: the source's)")
    c.add_argument("--description", default=None, help="one or two sentences on the look")
    c.add_argument("--credit", action="append", default=None, help="repeat per style: painter, title, year")
    c.add_argument("--licence", action="append", default=None, help="repeat per style: e.g. 'public domain'")
    c.add_argument("--thumbnail", default=None, metavar="IMAGE", help="a result made with the preset")
    c.add_argument("--revision", default=None, help="branch, tag or commit of a Hub SOURCE")
    c.add_argument("--overwrite", action="store_true", help="replace a preset already in FOLDER")

    c = commands.add_parser("push", help="upload a preset to a Hugging Face Hub repo, with a model card")
    c.add_argument("preset", metavar="PRESET", help="a name, folder or preset.json")
    c.add_argument("repo_id", metavar="REPO", help="the Hub repo, user/name (created if needed)")
    c.add_argument("--token", default=None, help="a Hub write token (default: HF_TOKEN or the saved login)")
    c.add_argument("--private", action="store_true", help="create the repo private")
    c.add_argument("--revision", default=None, help="branch, tag or commit of a Hub PRESET")
    return p


def _list(args: argparse.Namespace) -> int:
    errors: list[str] = []
    presets = list_presets(args.folder, errors)
    for preset in presets:
        styles = " + ".join(s.credit or s.file for s in preset.styles)
        print(f"{preset.name:<22} {styles}")
        if preset.description:
            print(f"{'':<22} {preset.description}")
    for message in errors:
        print(f"nst: skipped {message}", file=sys.stderr)
    if not presets:
        print(f"nst: no presets in {args.folder or 'the built-in folder'}", file=sys.stderr)
    return 0


def _show(args: argparse.Namespace) -> int:
    preset = load(args.preset, args.revision)
    print(json.dumps(preset.to_dict(), indent=2, ensure_ascii=False))
    print(f"nst: from {preset.origin or args.preset}" + (f" ({preset.folder})" if preset.folder else
          " (settings only: no style images)"), file=sys.stderr)
    return 0


def _with_credits(preset: Preset, credits: list[str] | None, licences: list[str] | None) -> Preset:
    styles = list(preset.styles)
    for field, values in (("credit", credits), ("licence", licences)):
        if values is not None and len(values) > len(styles):
            raise UsageError(f"{len(values)} --{field} for {len(styles)} style image(s)")
        for i, value in enumerate(values or ()):
            styles[i] = dataclasses.replace(styles[i], **{field: value})
    return preset.replace(styles=tuple(styles))


def _save(args: argparse.Namespace) -> int:
    base = load(args.source, args.revision)
    source_is_image = Path(args.source).suffix.lower() in (".png", ".jpg", ".jpeg") and Path(args.source).is_file()
    thumbnail = args.thumbnail or (args.source if source_is_image else None)
    name = args.name or base.name
    description = base.description if args.description is None else args.description
    if args.styles:
        config = base.config
        if len(args.styles) != len(base.styles):
            config = config.replace(style_blend_weights=None, style_scales=None)
        preset = create(args.output, name, config, args.styles, credits=args.credit or (),
                        licences=args.licence or (), description=description, model_source=base.weights,
                        thumbnail=thumbnail, overwrite=args.overwrite)
    else:
        renamed = _with_credits(base.replace(name=name, description=description), args.credit, args.licence)
        preset = save(renamed, args.output, thumbnail=thumbnail, overwrite=args.overwrite)
    print(f"nst: saved preset {preset.name!r} to {preset.folder}", file=sys.stderr)
    return 0


def _push(args: argparse.Namespace) -> int:
    preset = load(args.preset, args.revision)
    url = push_to_hub(preset, args.repo_id, token=args.token, private=args.private or None)
    print(url)
    return 0


def preset_main(argv: Sequence[str]) -> int:
    """``python -m nst preset ...``; errors propagate to ``nst.cli.main``."""
    args = build_preset_parser().parse_args(list(argv))
    return {"list": _list, "show": _show, "save": _save, "push": _push}[args.command](args)


SUBCOMMANDS: dict[str, Callable[[Sequence[str]], int]] = {"preset": preset_main, "batch": batch_main}

__all__ = ["SUBCOMMANDS", "batch_main", "build_batch_parser", "build_preset_parser", "preset_main"]
