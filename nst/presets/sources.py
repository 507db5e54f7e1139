"""Where a preset comes from: ``load`` finds one by folder, file, built-in name or Hub repo, and
``from_image`` restores the one an image written by this project carries.

An image carries the preset that made it (``png_metadata``, see ``nst.record``), or, from older
runs, only the run's settings; its style images are found again when the preset it came from is
still at hand (a built-in, a folder, or a Hub repo at the recorded commit).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Callable, Mapping

from PIL import UnidentifiedImageError

from ..config import TransferConfig
from ..hub_ids import REPO_ID_RULE
from ..image import ImageError, read_settings
from .hub import load_from_hub
from .preset import (
    IMAGE_SUFFIXES, NAME_PATTERN, PRESET_FILE, REPO_PATTERN, Preset, PresetError, StyleImage, WeightsRecord, _fail,
    safe_name, style_file_name,
)
from .store import BUILTIN_DIR, builtin_names, read


def load(spec: str | Path | Preset, revision: str | None = None, *, token: str | bool | None = None,
         cache_dir: str | Path | None = None, endpoint: str | None = None) -> Preset:
    """A preset from, in this order: an existing folder, ``preset.json`` or image file written by this
    project; a built-in name; a Hub repo ``user/name`` (``revision``: a branch, tag or commit).

    ``token``, ``cache_dir`` and ``endpoint`` are passed to ``huggingface_hub`` for Hub presets.
    """
    if isinstance(spec, Preset):
        return spec
    text = str(spec)
    path = Path(text).expanduser()
    if text and path.exists():
        if revision is not None:
            raise PresetError(f"{text}: a revision applies to Hub presets only, not to a local path")
        if path.is_dir():
            return read(path)
        if path.name == PRESET_FILE:
            return read(path.parent)
        if path.suffix.lower() in (".png", ".jpg", ".jpeg"):
            return from_image(path)
        raise PresetError(f"{text}: give a preset folder, its {PRESET_FILE}, or an image written by nst")
    if NAME_PATTERN.fullmatch(text) and (BUILTIN_DIR / text / PRESET_FILE).is_file():
        if revision is not None:
            raise PresetError(f"{text}: a revision applies to Hub presets only, not to a built-in preset")
        return read(BUILTIN_DIR / text, origin=text)
    if REPO_PATTERN.fullmatch(text):
        return load_from_hub(text, revision, token=token, cache_dir=cache_dir, endpoint=endpoint)
    if text.count("/") == 1 and not text.startswith(("/", ".", "~")):  # meant as a Hub repo id, most likely
        raise PresetError(f"no preset {text!r}: it is not an existing folder or file, nor a Hub repo id (one is "
                          f"{REPO_ID_RULE})")
    names = ", ".join(builtin_names()) or "none installed"
    raise PresetError(
        f"no preset {text!r}: it is not an existing folder or file, a built-in (one of: {names}), "
        "or a Hub repo written user/name"
    )


def from_image(path: str | Path, *, find: Callable[[str], Preset | None] | None = None) -> Preset:
    """The preset an image written by this project carries (see ``png_metadata``).

    Its style images are found again when the preset it came from (a built-in, a folder or a Hub
    repo at the recorded commit) is still at hand and names the same files; otherwise the preset
    holds the settings only (``folder`` is None). ``find`` looks the recorded origin up (default: as
    ``load`` does); an image from someone else may name any path, so a server passes a stricter one.
    """
    path = Path(path)
    try:
        meta = read_settings(path)
    except ImageError as exc:  # settings that are no settings nst wrote (nested far too deep ...)
        raise PresetError(str(exc)) from None
    except (OSError, UnidentifiedImageError, ValueError):
        raise PresetError(f"{path}: not a readable image") from None
    if meta is None:
        raise PresetError(f"{path}: carries no nst settings; only images written by nst restore a preset")
    where = f"{path} (embedded preset)"
    if "preset" in meta:
        preset = Preset.from_dict(meta["preset"], where)
    elif "config" in meta:
        preset = _preset_from_run_settings(meta, path, where)
    else:
        raise PresetError(f"{path}: its nst metadata holds no settings")
    origin = meta.get("preset_origin")
    source = (find or _find_origin)(origin) if isinstance(origin, str) else None
    if source is not None and [s.file for s in source.styles] == [s.file for s in preset.styles]:
        return dataclasses.replace(preset, folder=source.folder, origin=source.origin)
    return dataclasses.replace(preset, folder=None, origin=None)


def _preset_from_run_settings(meta: Mapping[str, Any], path: Path, where: str) -> Preset:
    """A settings-only preset from the plain run settings an image carries (``config`` and ``styles``)."""
    try:
        config = TransferConfig.from_dict(meta["config"])
    except (ValueError, TypeError) as exc:
        raise _fail(f"{where}: config", str(exc)) from None
    names = meta.get("styles") if isinstance(meta.get("styles"), list) else []
    count = len(names) or len(config.style_blend_weights or ()) or 1
    blend = config.style_blend_weights if len(config.style_blend_weights or ()) == count else (1.0,) * count
    files = [style_file_name(names[i] if i < len(names) else "", i) for i in range(count)]
    styles = tuple(StyleImage(file=f, weight=float(w)) for f, w in zip(files, blend))
    return Preset(name=safe_name(path.stem), styles=styles, config=config.replace(style_blend_weights=None),
                  weights=WeightsRecord.from_model_source(str(meta.get("weights", ""))))


def _find_origin(origin: str) -> Preset | None:
    """The preset ``origin`` names (a built-in, folder or ``user/name@commit``), or None if it is not at hand."""
    repo, at, commit = origin.partition("@")
    if at and REPO_PATTERN.fullmatch(repo) and not Path(origin).exists():
        spec, revision = repo, commit
    else:
        spec, revision = origin, None
    if Path(spec).suffix.lower() in IMAGE_SUFFIXES:
        return None  # an origin is a preset, never another image
    try:
        found = load(spec, revision)
    except (PresetError, OSError):
        return None
    return found if found.folder is not None else None
