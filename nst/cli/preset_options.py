"""A preset under command-line options: ``python -m nst CONTENT --preset NAME|PATH|user/repo|result.png``.

The preset's settings become the base of the run (``args.base_config``) and every setting typed on
the command line overrides its own (``nst.cli.options``), so every field of the preset survives
unless typed. The preset's VGG-19 weights are used unless ``--weights`` is typed; style images given
after CONTENT replace the preset's (its per-style settings then apply only if their count still
fits). Every output carries the preset that made it (``nst.record``), so ``--preset result.png``
runs the same look again.
"""

from __future__ import annotations

import argparse

from ..presets import Preset, load
from .common import UsageError
from .options import PER_STYLE


def apply_preset(args: argparse.Namespace, preset: Preset) -> argparse.Namespace:
    """``args`` with ``preset`` as the base of its settings and the source of its weights and styles.

    With no style images given, the preset's are used (``args.styles`` becomes their paths).
    """
    typed = vars(args)
    own_styles = bool(getattr(args, "styles", None))
    config = preset.config
    if own_styles:  # per-style values of the preset's styles mean nothing for another number of styles
        config = config.replace(**{name: None for name in PER_STYLE
                                   if getattr(config, name) is not None
                                   and len(getattr(config, name)) != len(args.styles)})
    if "init" not in typed and config.init == "image":
        raise UsageError(f"preset {preset.name!r} starts from an init image: give one with --init PATH")
    if "weights" not in typed:
        weights, options = preset.weights.load_options()
        args.weights = weights
        if "hub_repo" not in typed and "repo_id" in options:
            args.hub_repo = options["repo_id"]
        if "revision" not in typed and options.get("revision"):
            args.revision = options["revision"]
    if hasattr(args, "styles") and not own_styles:
        args.styles = [str(path) for path in preset.style_files]
    args.base_config = config
    args.preset_styles = not own_styles
    args.loaded_preset = preset
    return args


def preset_for_transfer(args: argparse.Namespace) -> argparse.Namespace:
    """Load ``--preset`` (at ``--preset-revision``) and apply it to ``args`` (see ``apply_preset``)."""
    return apply_preset(args, load(args.preset, args.preset_revision))


