"""The command-line options that set ``TransferConfig`` fields, generated from ``nst.config.SPEC``.

Every field whose ``Setting`` has a ``flag`` becomes that option: its help, how its text is read
(kind), its choices, its bounds and the default shown in ``--help`` all come from the spec. A value
out of bounds is refused while parsing, naming the flag (``--size must be between 16 and 8192, got 5``).

The options default to ``argparse.SUPPRESS``, so the parsed namespace holds only the settings the
user typed (``typed_settings``). ``config_from_args`` lays them over a base: the preset's settings
when there is one (``nst.cli.preset_options``), else the command's defaults (``args.base_config``,
``CLI_DEFAULTS`` unless a command sets its own). One rule: the preset is the base, what the user
typed overrides it. An error from the rules between fields names the options too.
"""

from __future__ import annotations

import argparse
import re
from typing import Any, Iterable

from ..config import INITS, SPEC, Setting, TransferConfig
from .common import UsageError

# The command line makes no preview images unless --save-every asks for them.
CLI_DEFAULTS = TransferConfig(preview_every=0)
PER_STYLE = ("style_blend_weights", "style_scales")  # one value per style image


def _memory(text: str) -> int:
    from ..memory import parse_bytes

    try:
        return parse_bytes(text)
    except ValueError:
        raise ValueError(f"a size such as 6GB or 512MB, or 0, got {text!r}") from None


# Settings whose text is read in a way of their own, and the metavar shown for them.
_READERS = {"max_memory": _memory}
_METAVARS = {"max_memory": "SIZE", "init": "|".join(INITS[:3]) + "|PATH", "early_stop_tol": "TOL", "tile_size": "PX",
             "photo_smoothing": "RADIUS"}
_CLI_HELP = {"init": " On the command line: content, style, noise, or the PATH of an image to start from.",
             "max_memory": " On the command line: a size such as 6GB or 512MB."}


def _read(setting: Setting, text: str) -> Any:
    """The value ``text`` stands for; ``ValueError`` says what was expected (after "must be ")."""
    if setting.name in _READERS:
        return _READERS[setting.name](text)
    if setting.kind == "int":
        try:
            return int(text)
        except ValueError:
            raise ValueError(f"an integer, got {text!r}") from None
    if setting.kind in ("float", "optional_float"):
        try:
            return float(text)
        except ValueError:
            raise ValueError(f"a number, got {text!r}") from None
    if setting.kind == "layers":
        return tuple(part.strip() for part in text.split(",") if part.strip())
    if setting.kind == "numbers":
        try:
            return tuple(float(part) for part in text.split(",") if part.strip())
        except ValueError:
            raise ValueError(f"comma-separated numbers, got {text!r}") from None
    return text  # "choice": argparse has checked it against the choices


class SettingOption(argparse.Action):
    """Stores one setting's value, read from the text and checked against its ``Setting``; errors name the flag."""

    def __init__(self, option_strings, dest, setting: Setting, **kwargs) -> None:
        self.setting = setting
        super().__init__(option_strings, dest, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None):
        flag = self.option_strings[0]
        if values == []:  # argparse turns "--size=--" into []
            parser.error(f"argument {flag}: expected one value")
        try:
            value = _read(self.setting, values)
        except ValueError as exc:
            parser.error(f"{flag} must be {exc}")
        if self.setting.name == "init" and value not in INITS[:3]:
            setattr(namespace, "init_image", value)  # a path: start from that image
            value = "image"
        try:
            self.setting.validate(value, flag)
        except ValueError as exc:
            parser.error(str(exc))
        setattr(namespace, self.dest, value)


def _shown_default(value: Any) -> str:
    if isinstance(value, tuple):
        return ",".join(map(str, value))
    return str(value)


def add_setting_option(p: argparse.ArgumentParser, name: str, *, flag: str | None = None, dest: str | None = None,
                       help: str | None = None, metavar: str | None = None, default: Any = None) -> None:
    """The option ``flag`` (default: the setting's) for the setting ``name``, stored under ``dest`` (default:
    ``name``) only when typed; ``help`` (default: the setting's) is followed by ``default`` where not None."""
    setting = SPEC[name]
    text = help if help is not None else setting.help + _CLI_HELP.get(name, "")
    if default is not None:
        text += f" (default: {_shown_default(default)})"
    choices = setting.choices if setting.kind == "choice" and name != "init" else None
    if metavar is None and choices is None:
        metavar = (_METAVARS.get(name) or {"layers": "LAYER,...", "numbers": "X,..."}.get(setting.kind)
                   or (flag or setting.flag).lstrip("-").upper().replace("-", "_"))
    p.add_argument(flag or setting.flag, dest=dest or name, action=SettingOption, setting=setting,
                   default=argparse.SUPPRESS, choices=choices, metavar=metavar, help=text.replace("%", "%%"))


def add_setting_options(p: argparse.ArgumentParser, *, defaults: TransferConfig = CLI_DEFAULTS,
                        exclude: Iterable[str] = ()) -> None:
    """An option for every setting of ``SPEC`` with a flag (but ``exclude``), showing ``defaults``' values;
    ``args.base_config`` becomes ``defaults``."""
    group = p.add_argument_group("settings", "Settings of the run; with a preset, its settings are the base and "
                                             "these options override them.")
    left_out = set(exclude)
    for name, setting in SPEC.items():
        if setting.flag is not None and name not in left_out:
            add_setting_option(group, name, default=getattr(defaults, name))
    p.set_defaults(base_config=defaults)


def typed_settings(args: argparse.Namespace) -> dict[str, Any]:
    """The settings the user typed, by field name (nothing else of SPEC is in the namespace)."""
    given = vars(args)
    return {name: given[name] for name in SPEC if name in given}


def in_flag_terms(message: str) -> str:
    """A ``TransferConfig`` error with each setting named by its option: "early_stop_tol must be ..."
    becomes "--early-stop must be ...", so the message names what the user typed. A name that is part of
    a flag already there ("scales" in "--style-scales") is left alone."""
    flags = {name: s.flag for name, s in SPEC.items() if s.flag is not None}
    pattern = r"(?<![\w-])(" + "|".join(map(re.escape, flags)) + r")(?![\w-])"
    return re.sub(pattern, lambda match: flags[match.group(1)], message)


def config_from_args(args: argparse.Namespace) -> TransferConfig:
    """``args.base_config`` (a preset's settings, or the command's defaults) with the settings typed laid over.

    ``--save-every N`` (where a command has it) sets ``preview_every``, so the images it saves exist.
    """
    settings = typed_settings(args)
    if "save_every" in vars(args):
        settings["preview_every"] = args.save_every
    base = getattr(args, "base_config", CLI_DEFAULTS)
    try:
        return base.replace(**settings)
    except ValueError as exc:
        raise UsageError(in_flag_terms(str(exc))) from None


def check_counts(config: TransferConfig, count: int) -> None:
    """Per-style settings must come one per style image."""
    for name in PER_STYLE:
        values = getattr(config, name)
        if values is not None and len(values) != count:
            raise UsageError(f"{SPEC[name].flag} has {len(values)} value(s) for {count} STYLE image(s): "
                             f"give one per style")
