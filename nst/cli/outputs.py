"""Where the command line writes its results: checked before a run starts, kept if the write fails at the end.

Before any work, ``check_writable`` makes sure an output can be written where it is asked for: the
path is not a folder (unless a folder is what is written), no part of it is a file, and the nearest
existing folder takes a new file (one is created there and removed; a missing folder below it is
created when the result is written). Each problem is one ``UsageError`` line that says what to give.

After the work, ``deliver`` writes the result and says where on stdout (``wrote PATH``). If the disk
refuses it then (full, gone read-only, removed), the same result is written into the current
directory, or else the temp folder, under a name no file there has, and stderr says where it went; a
finished run is not lost. The caller ends with a non-zero status in that case.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path
from typing import Callable, TextIO

from .common import UsageError

Writer = Callable[[Path], object]


def reason(exc: OSError) -> str:
    """The system's words for ``exc`` ("No space left on device"), without the path."""
    return exc.strerror or str(exc) or type(exc).__name__


def check_writable(path: str | os.PathLike, option: str = "-o", *, folder: bool = False) -> Path:
    """``path`` as a ``Path`` if a result can be written there, else ``UsageError`` naming ``option``.

    ``folder``: the result is a folder (of frames, of batch results), which may exist already.
    """
    path = Path(path)
    shown = f"{option} {str(path)!r}"
    if path.is_dir() and not folder:
        example = path / ("result" + (path.suffix or ".png"))
        raise UsageError(f"{shown} is a folder: give a file name in it, such as {str(example)!r}")
    if path.exists() and not path.is_dir() and folder:
        raise UsageError(f"{shown} is a file: give a folder (a new or an existing one)")
    nearest = path if folder and path.is_dir() else path.parent
    while not nearest.exists() and nearest != nearest.parent:
        nearest = nearest.parent
    if not nearest.is_dir():
        raise UsageError(f"{shown}: {str(nearest)!r} is a file, not a folder; give a path in a folder")
    try:
        handle, probe = tempfile.mkstemp(prefix=".nst-write-check-", dir=nearest)
        os.close(handle)
        os.unlink(probe)
    except OSError as exc:
        raise UsageError(f"{shown}: cannot write in {str(nearest)!r} ({reason(exc)}); give a path in a folder you "
                         f"can write to") from None
    return path


def check_output(path: str, option: str = "-o") -> Path:
    """``path`` as a ``Path``, if it names a PNG or JPEG that can be written (``check_writable``)."""
    output = Path(path)
    if output.suffix.lower() not in (".png", ".jpg", ".jpeg"):
        raise UsageError(f"output {str(output)!r} must end in .png or .jpg")
    return check_writable(output, option)


def free_name(folder: Path, name: str) -> Path:
    """``folder / name``, or ``folder / "stem-N.suffix"`` with the first ``N`` that no file has."""
    candidate = folder / name
    stem, suffix = Path(name).stem, Path(name).suffix
    n = 1
    while candidate.exists():
        candidate = folder / f"{stem}-{n}{suffix}"
        n += 1
    return candidate


def deliver(write: Writer, path: Path, *, what: str = "the result",
            say: Callable[[str, TextIO], None] | None = None) -> Path | None:
    """``write(path)`` and ``wrote PATH`` on stdout; where the disk refuses, ``write`` into the current
    directory or else the temp folder instead, saying so on stderr. Returns where it was written (``path``
    when all went well), or None when it could be written nowhere (also said on stderr).

    ``say(line, stream)`` writes a line (default: ``print``); a progress bar passes its own.
    """
    say = say or (lambda line, stream: print(line, file=stream, flush=True))
    try:
        write(path)
    except OSError as exc:
        error = exc
    else:
        say(f"wrote {path}", sys.stdout)
        return path
    for folder in (Path.cwd(), Path(tempfile.gettempdir())):
        try:
            candidate = free_name(folder, path.name)
            write(candidate)
        except OSError:
            continue
        say(f"wrote {candidate}", sys.stdout)
        say(f"nst: error: could not write {path} ({reason(error)}); saved {what} to {candidate} instead", sys.stderr)
        return candidate
    say(f"nst: error: could not write {path} ({reason(error)}), nor in the current folder or {tempfile.gettempdir()}; "
        f"{what} is lost: free some space and run again", sys.stderr)
    return None
