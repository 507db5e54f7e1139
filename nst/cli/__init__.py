"""The command line, ``python -m nst``.

    python -m nst CONTENT STYLE [STYLE ...] -o OUTPUT [options]        style transfer   (nst.cli.transfer)
    python -m nst --texture STYLE [STYLE ...] -o OUTPUT [options]      texture synthesis
    python -m nst CONTENT --preset NAME|PATH|user/repo|result.png -o OUTPUT    a preset's look
    python -m nst interpolate CONTENT STYLE_A STYLE_B -n 5 -o GRID [--gif ANIMATION] [options]
    python -m nst preset list|show|save|push ...  /  python -m nst batch ...   (nst.cli.presets)
    python -m nst video CLIP STYLE [STYLE ...] -o OUT.mp4 [-o OUT.gif] [options]   (nst.cli.video)

The settings' options are generated from ``nst.config.SPEC`` (``nst.cli.options``): the same flags,
help, bounds and defaults everywhere; with a preset, its settings are the base and the options typed
override them. stdout says what was written; stderr carries progress (a bar on a terminal, a line
every few seconds elsewhere, nothing with ``--quiet``), the weights used, notices and errors. Bad
input ends the program with a one-line ``nst: error: ...`` and exit status 2, a failure while
running with status 1.
"""

from __future__ import annotations

import sys
from typing import Sequence

from ..image import ImageError
from ..weights import WeightsUnavailable
from .common import UsageError
from .options import config_from_args
from .transfer import build_parser, interpolate_main, transfer_main

__all__ = ["UsageError", "build_parser", "config_from_args", "main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line on ``argv`` (default: ``sys.argv[1:]``); returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        if argv and argv[0] == "interpolate":
            return interpolate_main(argv[1:])
        if argv and argv[0] in ("preset", "batch"):
            from .presets import SUBCOMMANDS

            return SUBCOMMANDS[argv[0]](argv[1:])
        if argv and argv[0] == "video":
            from .video import video_main

            return video_main(argv[1:])
        return transfer_main(argv)
    except (UsageError, ImageError, ValueError) as exc:
        print(f"nst: error: {exc}", file=sys.stderr)
        return 2
    except WeightsUnavailable as exc:
        print(f"nst: error: {exc}", file=sys.stderr)
        return 1
