"""The output folder: fresh paths for results, a bounded size, and writes that never lose a finished result.

``new_output(mode, suffix)`` names a fresh file ``{mode}-{date}-{time}-{random}{suffix}`` in
``runtime.output_dir()`` after pruning the folder: its entries - the result files, and the preset
folders under ``presets/`` (each counted with the bytes of its files) - are deleted oldest first until
fewer than ``limits.max_outputs()`` remain and together they hold at most ``limits.max_output_bytes()``.
Other runs prune at the same time: an entry that vanished between the listing and its stat or
deletion is skipped, and a file being written (a hidden temporary) is never counted or deleted.

``keep(write, mode, suffix)`` calls ``write(path)`` with such a path. When the output folder refuses
the write (a full or read-only disk, a folder that cannot be made, a file pruned under it), the result
goes to ``fallback_dir()`` in the system's temporary folder instead (Gradio serves files from there,
and its budget is the same), and ``Kept.note`` says so; when that fails too, ``Kept.path`` is None
and the caller hands back the image itself.
"""

from __future__ import annotations

import logging
import os
import shutil
import stat
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

from . import limits, runtime

PRESETS = "presets"          # preset folders saved from the page, under the output folder
FALLBACK = "nst-unsaved"     # under the system's temporary folder

logger = logging.getLogger("nst.app")


@dataclass(frozen=True)
class Entry:
    """One thing the output folder keeps: a result file or a preset folder, with its age and bytes."""

    path: Path
    mtime: float
    size: int
    folder: bool


def fallback_dir() -> Path:
    """Where results go when the output folder refuses them."""
    return Path(tempfile.gettempdir()) / FALLBACK


def _tree_bytes(folder: Path) -> int:
    total = 0
    for root, _, files in os.walk(folder):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except OSError:  # deleted meanwhile
                continue
    return total


def _scan(folder: Path) -> Iterator[os.DirEntry]:
    try:
        with os.scandir(folder) as listing:
            yield from list(listing)
    except OSError:  # not there (yet, or any more)
        return


def entries(folder: Path) -> list[Entry]:
    """What ``folder`` keeps, oldest first (see the module notes)."""
    found = []
    for item in _scan(folder):
        if item.name.startswith(".") or "." not in item.name:
            continue
        try:
            info = item.stat(follow_symlinks=False)
        except OSError:
            continue
        if stat.S_ISREG(info.st_mode):
            found.append(Entry(Path(item.path), info.st_mtime, info.st_size, False))
    for item in _scan(folder / PRESETS):
        try:
            info = item.stat(follow_symlinks=False)
        except OSError:
            continue
        if stat.S_ISDIR(info.st_mode):
            found.append(Entry(Path(item.path), info.st_mtime, _tree_bytes(Path(item.path)), True))
    return sorted(found, key=lambda e: e.mtime)


def _delete(entry: Entry) -> None:
    try:
        if entry.folder:
            shutil.rmtree(entry.path, ignore_errors=True)
        else:
            entry.path.unlink(missing_ok=True)
    except OSError as exc:  # a read-only disk: nothing to free, the run goes on
        logger.warning("could not delete %s: %s", entry.path, exc)


def prune(folder: Path, room: int = 1) -> None:
    """Delete ``folder``'s oldest entries until ``room`` more fit within ``limits.max_outputs()`` and the
    rest hold at most ``limits.max_output_bytes()``."""
    kept = entries(folder)
    most, budget = max(0, limits.max_outputs() - room), limits.max_output_bytes()
    total = sum(e.size for e in kept)
    for entry in kept:
        if len(kept) <= most and total <= budget:
            break
        _delete(entry)
        kept = kept[1:]
        total -= entry.size


def fresh_name(mode: str, suffix: str) -> str:
    """``{mode}-{date}-{time}-{random}{suffix}`` (64 random bits: a name cannot be guessed)."""
    return f"{mode}-{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:16]}{suffix}"


def new_output(mode: str, suffix: str, folder: Path | None = None) -> Path:
    """A fresh path in ``folder`` (default the output folder, made if needed) for a result of ``mode``, after
    pruning it; ``OSError`` when the folder cannot be made."""
    folder = runtime.output_dir() if folder is None else folder
    folder.mkdir(parents=True, exist_ok=True)
    prune(folder)
    return folder / fresh_name(mode, suffix)


@dataclass(frozen=True)
class Kept:
    """Where a result went: ``path`` (None: nowhere, hand back the image) and a note for the status line
    ("" when it is in the output folder)."""

    path: str | None
    note: str = ""


WRITE_ERRORS = (OSError, ValueError, RuntimeError)   # what writing a file fails with (a VideoError is a ValueError)


def keep(write: Callable[[Path], object], mode: str, suffix: str) -> Kept:
    """``write(path)`` to a fresh path in the output folder, else in ``fallback_dir()``; see the module notes."""
    try:
        path = new_output(mode, suffix)
        write(path)
        return Kept(str(path))
    except WRITE_ERRORS as exc:
        refused = _reason(exc)
        logger.warning("the output folder refused a result: %s", refused)
    try:
        path = new_output(mode, suffix, fallback_dir())
        write(path)
    except WRITE_ERRORS as exc:
        logger.warning("the temporary folder refused a result too: %s", _reason(exc))
        return Kept(None, f"It could not be saved ({refused}): download it from the page now, it is not kept.")
    return Kept(str(path), f"It could not be saved in the output folder ({refused}), so it is kept in a temporary "
                           "folder for now: download it.")


def _reason(exc: BaseException) -> str:
    """Why a write failed, in a few words, naming no server path."""
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower()
    return type(exc).__name__
