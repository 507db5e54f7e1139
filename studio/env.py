"""Reading the host's environment variables: a whole number or a choice, or one line naming the variable.

A value that cannot be used raises ``HostSettingError`` (a ``ValueError``) saying which variable, what
it holds and what to set instead; ``studio.app.main`` checks every variable before serving, so a host
sees that line at start-up rather than a traceback, and a visitor never meets it.
"""

from __future__ import annotations

import os
from typing import Sequence


class HostSettingError(ValueError):
    """An environment variable the app cannot use; the message says what to set."""


def text(name: str) -> str:
    """The variable's value, stripped; "" when it is unset."""
    return os.environ.get(name, "").strip()


def whole(name: str, default: int, low: int, what: str, example: int) -> int:
    """``name`` as a whole number of at least ``low`` (``default`` when unset or empty); ``what`` says what it
    counts and ``example`` is a value to suggest."""
    value = text(name)
    if not value:
        return default
    digits = value.replace("_", "")
    if not digits.isdigit() or int(digits) < low:
        raise HostSettingError(f"{name} must be a whole number of {what}, at least {low:,}; got {value!r}: set it to "
                               f"a number like {example} (or unset it for the default, {default:,})")
    return int(digits)


def choice(name: str, choices: Sequence[str], default: str) -> str:
    """``name`` as one of ``choices`` (case-insensitive; ``default`` when unset or empty)."""
    value = text(name).lower()
    if not value:
        return default
    if value not in choices:
        raise HostSettingError(f"{name} must be one of {', '.join(choices)}; got {text(name)!r}: set one of them "
                               f"(or unset it for the default, {default})")
    return value
