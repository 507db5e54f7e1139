"""Hugging Face Hub repo ids: the form the Hub accepts, checked before any request is made.

A repo id is ``namespace/name``. Each part starts with a letter or digit, holds letters, digits,
``_``, ``-`` and ``.`` with no ``-`` or ``.`` followed by another (so no ``--`` or ``..``), does not
end in ``-`` or ``.``, and is at most 96 characters; the id does not end in ``.git``. That is the
Hub's own rule (``huggingface_hub.utils.validate_repo_id``) or a little stricter, so an id that
passes here is never refused there with an ``HFValidationError``.
"""

from __future__ import annotations

import re

_PART = r"[A-Za-z0-9](?:[A-Za-z0-9_]|[.-](?=[A-Za-z0-9_])){0,95}"
REPO_ID_PATTERN = re.compile(rf"{_PART}/{_PART}(?<!\.git)")
REPO_ID_RULE = ("written user/name, each part of letters, digits, '_', '-' and '.', starting with a letter or "
                "digit, not ending in '-' or '.', without '--' or '..', at most 96 characters")


def is_repo_id(text: object) -> bool:
    """Whether ``text`` is a Hub repo id of the accepted form."""
    return isinstance(text, str) and REPO_ID_PATTERN.fullmatch(text) is not None


def check_repo_id(text: object) -> str:
    """``text`` if it is a Hub repo id, else ``ValueError`` saying how one is written."""
    if not is_repo_id(text):
        shown = repr(text) if len(repr(text)) <= 120 else repr(text)[:117] + "..."
        raise ValueError(f"{shown} is not a Hub repo id: a repo id is {REPO_ID_RULE}")
    return text
