"""The Hugging Face Hub on a visitor's behalf: never with the host's credentials.

``huggingface_hub`` sends the host's token (``HF_TOKEN`` or the saved login) with every request that
is not told otherwise, so every call here says whose token it is:

* ``load`` fetches a preset anonymously (``token=False``): a visitor names any repo, and the host's
  token must not reach it (nor open the host's private or gated repos to the visitor);
* ``push_token`` is the token a push uses: the visitor's own, typed on the page; with
  ``NST_ALLOW_PUSH=off`` pushing is refused, and with ``NST_ALLOW_PUSH=host`` an empty field means the
  host's credentials (``None``), for an app its host alone can reach (``limits.push_policy``);
* ``origin_here`` finds the preset a dropped result names, as a visitor may name one: a built-in by
  name or a Hub repo at a commit, loaded anonymously; a path on this machine is never looked at, so a
  visitor cannot read a server folder, nor learn whether one exists.

A repo id is checked as the Hub checks it (``repo_id``), so one it would refuse is a one-line message.
"""

from __future__ import annotations

import gradio as gr

import nst.presets
from nst.presets import Preset, PresetError, load_from_hub
from nst.presets.preset import REVISION_PATTERN
from nst.settings import shown

from . import limits, runtime


def repo_id(text: str, what: str = "Hub repo") -> str:
    """``text`` as a Hub repo id ``user/name``, or ``gr.Error`` saying what the Hub accepts."""
    from huggingface_hub.errors import HFValidationError
    from huggingface_hub.utils import validate_repo_id

    if not nst.presets.REPO_PATTERN.fullmatch(text):
        raise gr.Error(f"{what} {shown(text)}: write it user/name (your user or organisation, then the repo)")
    try:
        validate_repo_id(text)
    except HFValidationError as exc:
        reason = str(exc).split(":", 1)[0].strip().rstrip(".")
        raise gr.Error(f"{what} {shown(text)} is not a name the Hub accepts ({reason}): use letters, digits, '-', '_' "
                       "and '.', not starting or ending with '-' or '.', without '--' or '..', at most 96 "
                       "characters") from None
    return text


def load(repo: str, revision: str | None) -> Preset:
    """The preset in the Hub repo ``repo`` at ``revision``, fetched anonymously; ``PresetError`` if it cannot be."""
    if revision is not None and not REVISION_PATTERN.fullmatch(revision):
        raise PresetError(f"revision {shown(revision)}: give a branch, tag or commit of letters, digits, '.', '_', "
                          "'-' and '/'")
    return load_from_hub(repo, revision, token=False, endpoint=runtime.hub_endpoint())


def push_token(token) -> str | None:
    """The token a push uses: the visitor's ``token``; None (the host's) only where the host allows it."""
    policy, token = limits.push_policy(), str(token or "").strip()
    if policy == "off":
        raise gr.Error("Pushing to the Hub is turned off on this server: save the preset as a .zip and push it "
                       "yourself (python -m nst preset push FOLDER you/name)")
    if token:
        return token
    if policy == "host":
        return None
    raise gr.Error("Give your own Hub token with write access (huggingface.co/settings/tokens): this server never "
                   "pushes with its own credentials")


def token_hint() -> str:
    """The token field's placeholder, by ``limits.push_policy()``."""
    return {"off": "pushing is turned off on this server", "host": "empty: this server's HF_TOKEN or login"}.get(
        limits.push_policy(), "yours: this server never pushes with its own")


def origin_here(origin: str) -> Preset | None:
    """The preset ``origin`` names if it is a built-in or ``user/name@commit`` and at hand; None otherwise."""
    if nst.presets.NAME_PATTERN.fullmatch(origin) and origin in nst.presets.builtin_names():
        try:
            return nst.presets.read(nst.presets.BUILTIN_DIR / origin, origin=origin)
        except (PresetError, OSError):
            return None
    repo, at, commit = origin.partition("@")
    if not at:
        return None
    try:
        repo_id(repo)
        return load(repo, commit)
    except (gr.Error, PresetError, OSError, ValueError):
        return None
