"""A setting described once: default, help, label, command-line flag, kind, bounds, slider and role.

``TransferConfig`` (``nst.config``) declares every field with ``setting(...)``, which puts a
``Setting`` in the field's metadata; ``nst.config.SPEC`` collects them. The command line builds its
options from them and the app its controls, so a default, a bound or a help text is written once.

``Setting.validate`` checks one value on its own against its kind, bounds and choices, with messages
such as ``"size must be between 16 and 8192, got 5"``. Rules that involve several fields (a weight
per layer, both loss weights zero ...) are ``nst.config``'s.

Kinds: ``"int"``, ``"float"``, ``"optional_float"`` (a float or None), ``"choice"`` (one of
``choices``), ``"layers"`` (a tuple of VGG-19 layer names), ``"numbers"`` (a tuple of floats, each
within the bounds, or None). Bounds are inclusive; None leaves that side open.

Roles: ``"look"`` (what a preset is: weights, layers, colour, init, pooling, seed ...), ``"budget"``
(how much work: size, steps, scales, early stopping), ``"machine"`` (how the work is done: precision,
memory, tiles, previews), which change the time and memory a run takes but not its look.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

from .features import check_layer_names

KINDS = ("int", "float", "optional_float", "choice", "layers", "numbers")
ROLES = ("look", "budget", "machine")


@dataclass(frozen=True)
class Setting:
    """How one ``TransferConfig`` field is described, bounded and shown (``name``/``default``: filled by SPEC)."""

    help: str                                     # one sentence: CLI --help, the UI's info text
    label: str                                    # the UI's label
    flag: str | None                              # the CLI option ("--style-weight"); None: not on the CLI
    kind: str                                     # one of KINDS
    low: float | None = None                      # inclusive lower bound; None: open
    high: float | None = None                     # inclusive upper bound; None: open
    choices: tuple[str, ...] | None = None        # the values a "choice" takes
    ui: tuple[float, float, float] | None = None  # slider (min, max, step) the app shows; None: no default control
    role: str = "look"                            # one of ROLES
    name: str = ""                                # the field's name
    default: Any = None                           # the field's default

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"setting kind must be one of {', '.join(KINDS)}, got {self.kind!r}")
        if self.role not in ROLES:
            raise ValueError(f"setting role must be one of {', '.join(ROLES)}, got {self.role!r}")
        if (self.kind == "choice") != (self.choices is not None):
            raise ValueError("a setting has choices exactly when its kind is 'choice'")

    def validate(self, value: Any, name: str | None = None) -> None:
        """Raise ``ValueError`` if ``value`` is not of this setting's kind, within its bounds and choices.

        The message starts with ``name`` (default: the setting's own name), so a caller can name the
        option the user typed instead.
        """
        name = name or self.name
        low = -math.inf if self.low is None else self.low
        high = math.inf if self.high is None else self.high
        if self.kind in ("int", "float"):
            number(name, value, low, high, integer=self.kind == "int")
        elif self.kind == "optional_float":
            if value is not None:
                number(name, value, low, high)
        elif self.kind == "choice":
            if value not in self.choices:
                raise ValueError(f"{name} must be one of {', '.join(self.choices)}, got {shown(value)}")
        elif self.kind == "layers":
            if not isinstance(value, tuple) or not all(isinstance(x, str) for x in value):
                raise ValueError(f"{name} must be a list of layer names, got {shown(value)}")
            check_layer_names(value, what=name)
        elif value is not None:  # "numbers"
            if not isinstance(value, tuple):
                raise ValueError(f"{name} must be a list of numbers, got {shown(value)}")
            for item in value:
                number(name, item, low, high)


def setting(default: Any, *, help: str, label: str, flag: str | None, kind: str, low: float | None = None,
            high: float | None = None, choices: tuple[str, ...] | None = None,
            ui: tuple[float, float, float] | None = None, role: str) -> Any:
    """A dataclass field with ``default`` whose metadata holds its ``Setting`` (under ``"setting"``)."""
    described = Setting(help=help, label=label, flag=flag, kind=kind, low=low, high=high, choices=choices, ui=ui,
                        role=role, default=default)
    return dataclasses.field(default=default, metadata={"setting": described})


def shown(value: Any, limit: int = 60) -> str:
    """``repr(value)`` cut to ``limit`` characters for a message (an integer too long to print is described)."""
    if isinstance(value, int) and value.bit_length() > 200:
        return f"an integer of about {int(value.bit_length() * math.log10(2)) + 1} digits"
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def number(name: str, value: Any, low: float, high: float = math.inf, *, integer: bool = False) -> None:
    """Raise ``ValueError`` unless ``value`` is a finite number (an int if ``integer``) in ``[low, high]``."""
    kind = int if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kind):
        raise ValueError(f"{name} must be {'an integer' if integer else 'a number'}, got {shown(value)}")
    if (isinstance(value, float) and not math.isfinite(value)) or not (low <= value <= high):  # ints of any size
        raise ValueError(f"{name} must be between {low} and {high}, got {shown(value)}")
