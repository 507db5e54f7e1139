"""Presets on the Hugging Face Hub: download one (``load_from_hub``), upload one (``push_to_hub``).

A preset repo is a model repo with the preset folder at its root (``preset.json``, the style images,
``thumbnail.jpg``) and a model card ``README.md`` showing the thumbnail and crediting the paintings.

Downloading fetches nothing but the preset's own files, in two steps through
``huggingface_hub.snapshot_download``:

1. ``preset.json`` alone: the revision (branch, tag or commit; default ``main``) is resolved to a
   commit, and the file is checked like any local preset;
2. at that commit, the files it names and ``thumbnail.jpg``, once the repo listing shows that none
   is over its size limit.

The files stay in the Hub cache (``HF_HUB_CACHE``) and the preset is read from the cached snapshot,
so a second load, or one with ``HF_HUB_OFFLINE=1``, needs no network. ``HF_ENDPOINT``, ``HF_TOKEN``
and a saved login behave as everywhere in ``huggingface_hub``. Every failure becomes one
``PresetError`` line that says what to do.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from ..config import TransferConfig
from ..hub_ids import check_repo_id
from .preset import MAX_FILE_BYTES, PRESET_FILE, THUMBNAIL_FILE, Preset, PresetError
from .store import read, read_json, save

CARD_FILE = "README.md"
CARD_TAGS = ("neural-style-transfer", "style-transfer", "nst-preset")


def _explain(exc: BaseException, what: str, repo_id: str, revision: str | None) -> str:
    """One line saying what went wrong with the Hub and what to do about it."""
    import httpx2
    from huggingface_hub.errors import (
        GatedRepoError, HfHubHTTPError, LocalEntryNotFoundError, OfflineModeIsEnabled, RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    if isinstance(exc, GatedRepoError):
        return f"{what}: {repo_id} is gated; accept its conditions on the Hub and log in (or give a token)"
    if isinstance(exc, RepositoryNotFoundError):
        return f"{what}: the Hub has no repo {repo_id} (or it is private: log in or give a token)"
    if isinstance(exc, RevisionNotFoundError):
        return f"{what}: {repo_id} has no revision {revision!r}; give a branch, tag or commit it has"
    if isinstance(exc, (LocalEntryNotFoundError, OfflineModeIsEnabled)):
        return (f"{what}: not in the local Hub cache, and the Hub is offline or unreachable; "
                "connect (and unset HF_HUB_OFFLINE) to download it once")
    if isinstance(exc, HfHubHTTPError):
        status = exc.response.status_code if exc.response is not None else None
        if status in (401, 403):
            return (f"{what}: the Hub refused the token ({status}); log in with a token that may write to "
                    f"{repo_id} (`hf auth login`, HF_TOKEN or --token)")
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return f"{what}: the Hub answered {status}: {first_line}"
    if isinstance(exc, httpx2.HTTPError):
        return f"{what}: could not reach the Hub ({type(exc).__name__}: {exc}); check the connection"
    return f"{what}: {type(exc).__name__}: {exc}"


def _hub_errors() -> tuple[type[BaseException], ...]:
    import httpx2
    from huggingface_hub.errors import EntryNotFoundError, HfHubHTTPError, OfflineModeIsEnabled

    return HfHubHTTPError, EntryNotFoundError, OfflineModeIsEnabled, httpx2.HTTPError, OSError


def _check_remote_sizes(repo_id: str, commit: str, cache_dir: str | Path | None, files: list[str]) -> None:
    """Refuse, before downloading, files the repo listing shows to be over the size limit.

    The listing is the one ``snapshot_download`` cached in step 1; without it (a cache filled by
    other means) the sizes are checked after the download, when the preset is read.
    """
    from huggingface_hub import get_cached_repo_tree
    from huggingface_hub.errors import CachedRepoTreeNotFoundError

    try:
        listing = get_cached_repo_tree(repo_id, revision=commit, cache_dir=cache_dir)
    except (CachedRepoTreeNotFoundError, OSError, ValueError):
        return
    for entry in listing:
        if entry.path in files and (entry.size or 0) > MAX_FILE_BYTES:
            raise PresetError(
                f"{repo_id}@{commit[:12]}: {entry.path!r} is {entry.size / 1e6:.1f} MB; "
                f"the limit is {MAX_FILE_BYTES / 1e6:.1f} MB"
            )


def _silent_tqdm() -> type:
    """A tqdm class that shows nothing: the engine does not print (callers draw their own progress)."""
    from tqdm.auto import tqdm

    class Silent(tqdm):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            kwargs["disable"] = True
            super().__init__(*args, **kwargs)

    return Silent


def load_from_hub(repo_id: str, revision: str | None = None, *, token: str | bool | None = None,
                  cache_dir: str | Path | None = None, endpoint: str | None = None) -> Preset:
    """The preset in the Hub repo ``repo_id`` at ``revision`` (default: the main branch).

    Its ``origin`` is ``repo_id@commit``, so an output made with it records the exact revision.
    """
    from huggingface_hub import snapshot_download

    _check_repo_id(repo_id)
    what = f"preset {repo_id}" + (f"@{revision}" if revision else "")
    options: dict[str, Any] = {"repo_id": repo_id, "token": token, "cache_dir": cache_dir, "endpoint": endpoint,
                               "tqdm_class": _silent_tqdm()}
    try:
        snapshot = Path(snapshot_download(revision=revision, allow_patterns=[PRESET_FILE], **options))
        if not (snapshot / PRESET_FILE).is_file():
            raise PresetError(f"{what}: the repo has no {PRESET_FILE}; is it a preset?")
        commit, root = snapshot.name, snapshot.parent.parent  # .../models--user--name/snapshots/<commit>
        preset = read_json(snapshot, root=root)
        files = [PRESET_FILE, THUMBNAIL_FILE, *(s.file for s in preset.styles)]
        _check_remote_sizes(repo_id, commit, cache_dir, files)
        snapshot = Path(snapshot_download(revision=commit, allow_patterns=files, **options))
    except PresetError:
        raise
    except _hub_errors() as exc:
        raise PresetError(_explain(exc, f"downloading {what}", repo_id, revision)) from exc
    return read(snapshot, root=root, origin=f"{repo_id}@{commit}")


def _check_repo_id(repo_id: str) -> None:
    """``PresetError`` unless ``repo_id`` is a repo id the Hub accepts (``nst.hub_ids``)."""
    try:
        check_repo_id(repo_id)
    except ValueError as exc:
        raise PresetError(str(exc)) from None


def _cell(text: str) -> str:
    """Text fit for one cell of a Markdown table."""
    return " ".join(text.split()).replace("|", "\\|") or "-"


def model_card(preset: Preset, repo_id: str) -> str:
    """The repo's README.md: what the preset is, its thumbnail, the paintings' credits, how to use it."""
    defaults = TransferConfig().to_dict()
    changed = {k: v for k, v in preset.config.to_dict().items() if defaults.get(k) != v}
    lines = [
        "---",
        "tags:",
        *(f"- {tag}" for tag in CARD_TAGS),
        "---",
        "",
        f"# {preset.name}",
        "",
    ]
    if preset.description:
        lines += [preset.description, ""]
    if preset.thumbnail is not None:
        lines += [f"![{preset.name}: a photo restyled with this preset]({THUMBNAIL_FILE})", ""]
    lines += [
        "A style preset for neural style transfer (Gatys, Ecker & Bethge, *Image Style Transfer Using "
        "Convolutional Neural Networks*, CVPR 2016): the painting(s) below, their blend weights and every "
        "setting of the run, in `preset.json`.",
        "",
        "## Paintings",
        "",
        "| file | weight | credit | licence |",
        "|---|---|---|---|",
        *(f"| [{_cell(s.file)}]({s.file}) | {s.weight:g} | {_cell(s.credit)} | {_cell(s.licence)} |"
          for s in preset.styles),
        "",
        "## Use it",
        "",
        "```bash",
        f"python -m nst photo.jpg --preset {repo_id} -o out.png",
        "```",
        "",
        "```python",
        "import nst.presets",
        f'preset = nst.presets.load("{repo_id}")',
        "```",
        "",
        "## Settings",
        "",
        f"VGG-19 weights: `{preset.weights.source}`"
        + (f" (revision `{preset.weights.revision}`)" if preset.weights.revision else "")
        + f"; made with nst {preset.nst_version or 'unknown'}.",
        "",
    ]
    if changed:
        lines += ["Settings that differ from the defaults:", "", "| setting | value |", "|---|---|"]
        lines += [f"| `{k}` | `{_cell(str(v))}` |" for k, v in changed.items()]
    else:
        lines += ["All settings are the defaults."]
    return "\n".join(lines) + "\n"


def push_to_hub(preset: Preset, repo_id: str, token: str | None = None, *, private: bool | None = None,
                endpoint: str | None = None, commit_message: str | None = None) -> str:
    """Create the model repo ``repo_id`` if needed and upload ``preset`` with its model card in one
    commit; return the commit's URL. ``token`` defaults to ``HF_TOKEN`` or the saved login."""
    from huggingface_hub import HfApi

    _check_repo_id(repo_id)
    if preset.folder is None:
        raise PresetError(f"preset {preset.name!r} holds settings only (it was restored from an image): "
                          "save it with its style images first, then push that folder")
    api = HfApi(endpoint=endpoint, token=token)
    with tempfile.TemporaryDirectory(prefix="nst-preset-") as tmp:
        folder = Path(tmp) / "preset"
        staged = save(preset, folder)
        (folder / CARD_FILE).write_text(model_card(staged, repo_id), encoding="utf-8")
        try:
            api.create_repo(repo_id, private=private, exist_ok=True)
            info = api.upload_folder(repo_id=repo_id, folder_path=folder,
                                     commit_message=commit_message or f"Preset {preset.name}")
        except _hub_errors() + (ValueError,) as exc:
            raise PresetError(_explain(exc, f"pushing to {repo_id}", repo_id, None)) from exc
    return info.commit_url
