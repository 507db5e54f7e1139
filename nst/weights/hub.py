"""VGG-19 weights from the Hugging Face Hub (``load_hub``), with a features-only copy kept on disk.

By default ``timm/vgg19.tv_in1k`` / ``model.safetensors``: torchvision's ImageNet weights. Only the
16 convolutions (``features.*``, about 80 MB of the 575 MB file) are needed. On first use the
safetensors header is read with two small HTTP range requests, the span holding ``features.*`` is
fetched with a third, and a features-only copy is written under ``$HF_HOME/nst/`` keyed by the
repo's commit, so later starts read 80 MB from disk. If the server ignores range requests the whole
file is fetched with ``hf_hub_download`` instead. ``HF_HOME``, ``HF_HUB_CACHE``, ``HF_HUB_OFFLINE``,
``HF_ENDPOINT``, tokens and revisions behave as everywhere else in ``huggingface_hub``; offline, the
features copy or a full file already in the Hub cache is used.

Checksums: the features copy has its sha256 beside it (``features.safetensors.sha256``, in
``sha256sum`` format), checked each time the copy is loaded; a copy that does not match (or has no
checksum) is deleted and fetched again, or, offline, replaced from the full file in the Hub cache,
else refused with a message that says what to do. A whole file, downloaded or found in the Hub
cache, is checked against the sha256 the Hub gives for it (an LFS file's ETag, which also names its
blob in the cache); a file that does not match is deleted. (The range-fetched span cannot be checked
against the whole file's sha256; it comes over the same HTTPS as a whole download would.)
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import struct
from pathlib import Path

import torch

from ..hub_ids import check_repo_id
from .files import load_file, save_features
from .vgg import TORCHVISION, VGGWeights, WeightsUnavailable, convs_from_state_dict

DEFAULT_HUB_REPO = "timm/vgg19.tv_in1k"
DEFAULT_HUB_FILENAME = "model.safetensors"
_SAFETENSORS_DTYPES = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16, "F64": torch.float64}


def features_cache_dir() -> Path:
    """Folder of features-only copies: ``$HF_HOME/nst``."""
    from huggingface_hub import constants

    return Path(constants.HF_HOME) / "nst"


def _repo_folder(repo_id: str, root: Path) -> Path:
    return root / ("vgg19--" + repo_id.replace("/", "--"))


def _is_commit(revision: str) -> bool:
    return re.fullmatch(r"[0-9a-f]{40}", revision) is not None


def sha256_of(path: str | os.PathLike) -> str:
    """The sha256 of a file's bytes, as hex."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def checksum_path(copy: Path) -> Path:
    """Where the sha256 of a features copy is kept: beside it, ``<name>.sha256``."""
    return copy.with_name(copy.name + ".sha256")


def _write_checksum(copy: Path) -> None:
    """The copy's sha256 beside it, as ``sha256sum`` writes it (``<hex>  <name>``), written atomically."""
    target = checksum_path(copy)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    tmp.write_text(f"{sha256_of(copy)}  {copy.name}\n")
    os.replace(tmp, target)


def _checksum_problem(copy: Path) -> str | None:
    """None when ``copy`` matches the sha256 kept beside it; else what is wrong with it."""
    target = checksum_path(copy)
    try:
        expected = target.read_text().split()[0]
    except (OSError, IndexError):
        return f"the features copy {copy} has no checksum ({target.name})"
    if sha256_of(copy) != expected:
        return f"the features copy {copy} does not match its checksum ({target.name}): it is damaged or was changed"
    return None


def _check_download(path: str, expected: str | None, where: str) -> None:
    """A whole file from the Hub against the sha256 the Hub gives for it; one that does not match is deleted.

    ``expected`` is the file's ETag: an LFS file's sha256 (64 hex digits). A file kept in git has its
    git blob id there instead, and is not checked.
    """
    if expected is None or re.fullmatch(r"[0-9a-f]{64}", expected) is None:
        return
    actual = sha256_of(path)
    if actual == expected:
        return
    blob = Path(path).resolve()
    for file in (Path(path), blob):
        file.unlink(missing_ok=True)
    raise WeightsUnavailable(
        f"{where}: {blob} has sha256 {actual} but the Hub gives {expected} for it: the download is damaged and "
        "was deleted; load again to download it afresh"
    )


def _hub_offline() -> bool:
    from huggingface_hub import constants

    return bool(constants.is_offline_mode())


def _convs_from_safetensors_bytes(header: dict, data: bytes, base: int, where: str) -> dict:
    """Tensors named in a safetensors ``header`` from ``data``, which starts at data offset ``base``."""
    state = {}
    for key, info in header.items():
        if key == "__metadata__" or not key.startswith("features."):
            continue
        dtype = _SAFETENSORS_DTYPES.get(info["dtype"])
        if dtype is None:
            raise WeightsUnavailable(f"{where}: {key} has unsupported dtype {info['dtype']}")
        begin, end = info["data_offsets"]
        chunk = data[begin - base:end - base]
        tensor = torch.frombuffer(bytearray(chunk), dtype=dtype) if chunk else torch.empty(0, dtype=dtype)
        state[key] = tensor.reshape(info["shape"]).float()
    return convs_from_state_dict(state, where)


def _fetch_features_by_range(url: str, token) -> dict | None:
    """Read only the ``features.*`` tensors of a remote safetensors file with HTTP range requests.

    The file is ``[8-byte little-endian header length n][n bytes of JSON header][data]``, and each
    tensor's ``data_offsets`` are relative to the start of the data. Returns None when the server does
    not honour ranges (the caller then downloads the whole file).
    """
    from huggingface_hub.utils import build_hf_headers, get_session, hf_raise_for_status

    session = get_session()
    headers = build_hf_headers(token=token)
    headers["Accept-Encoding"] = "identity"

    def get_range(start: int, end: int) -> bytes | None:
        with session.stream("GET", url, headers={**headers, "Range": f"bytes={start}-{end}"}, follow_redirects=True) as r:
            hf_raise_for_status(r)
            if r.status_code != 206:
                return None
            body = r.read()
        return body if len(body) == end - start + 1 else None

    first = get_range(0, 7)
    if first is None:
        return None
    (n,) = struct.unpack("<Q", first)
    if not 2 <= n <= 100_000_000:
        raise WeightsUnavailable(f"{url}: not a safetensors file (header length {n})")
    raw = get_range(8, 8 + n - 1)
    if raw is None:
        return None
    header = json.loads(raw)
    spans = [info["data_offsets"] for key, info in header.items() if key.startswith("features.")]
    if not spans:
        raise WeightsUnavailable(f"{url}: no features.* tensors in this file; is it a VGG-19?")
    lo, hi = min(s[0] for s in spans), max(s[1] for s in spans)
    data = get_range(8 + n + lo, 8 + n + hi - 1)
    if data is None:
        return None
    return _convs_from_safetensors_bytes(header, data, lo, url)


def _convs_from_full_file(path: str) -> dict:
    from safetensors import safe_open

    with safe_open(path, framework="pt") as f:
        state = {k: f.get_tensor(k) for k in f.keys() if k.startswith("features.") or re.match(r"conv\d_\d\.", k)}
    return convs_from_state_dict(state, path)


def load_hub(
    repo_id: str = DEFAULT_HUB_REPO,
    *,
    filename: str = DEFAULT_HUB_FILENAME,
    revision: str | None = None,
    token: str | bool | None = None,
    cache_dir: str | os.PathLike | None = None,
    features_dir: str | os.PathLike | None = None,
    endpoint: str | None = None,
) -> VGGWeights:
    """torchvision-style VGG-19 weights from a Hub repo, fetching only the convolutions.

    ``cache_dir`` is the Hub cache (default ``$HF_HUB_CACHE``), ``features_dir`` where features-only
    copies go (default ``$HF_HOME/nst``; when it cannot be written, no copy is kept). Offline
    (``HF_HUB_OFFLINE=1`` or no connection), a copy made earlier or a full file already in the Hub
    cache is used. Copies and whole files are checked against their sha256 (see the module notes).
    """
    from huggingface_hub import get_hf_file_metadata, hf_hub_download, hf_hub_url

    check_repo_id(repo_id)  # a ValueError, not WeightsUnavailable: bad input is not a reason to fall back
    revision = revision or "main"
    folder = _repo_folder(repo_id, Path(features_dir) if features_dir else features_cache_dir())
    ref = folder / "refs" / revision.replace("/", "--")
    where = f"{repo_id}@{revision}"

    def copy_for(commit: str) -> Path:
        return folder / commit / "features.safetensors"

    def remember(commit: str) -> None:
        try:
            ref.parent.mkdir(parents=True, exist_ok=True)
            ref.write_text(commit)
        except OSError:  # a read-only folder: the next start asks the Hub again
            pass

    def finish(convs: dict, commit: str) -> VGGWeights:
        weights = VGGWeights(convs, TORCHVISION, f"hub:{repo_id}@{commit[:12]}")
        try:
            save_features(weights, copy_for(commit))
            _write_checksum(copy_for(commit))
        except OSError:  # the copy only speeds up later starts; the weights are good without it
            with contextlib.suppress(OSError):  # a copy without its checksum would be refused anyway
                copy_for(commit).unlink(missing_ok=True)
            return weights
        remember(commit)
        return weights

    damaged: list[str] = []

    def checked_copy(commit: str) -> VGGWeights | None:
        """The features copy for ``commit`` if there is one and it matches its checksum; a bad one is deleted."""
        copy = copy_for(commit)
        if not copy.is_file():
            return None
        problem = _checksum_problem(copy)
        if problem is None:
            return load_file(copy)
        try:
            for file in (copy, checksum_path(copy)):
                file.unlink(missing_ok=True)
            damaged.append(f"{problem}, so it was deleted")
        except OSError:
            damaged.append(f"{problem}, and it could not be deleted: delete it")
        return None

    def from_cache() -> VGGWeights:
        commit = revision if _is_commit(revision) else (ref.read_text().strip() if ref.is_file() else None)
        weights = checked_copy(commit) if commit else None
        if weights is not None:
            return weights
        try:
            path = hf_hub_download(repo_id, filename, revision=revision, cache_dir=cache_dir, local_files_only=True)
        except Exception as exc:
            if damaged:
                raise WeightsUnavailable(f"{damaged[-1]}; then load the weights once with the Hugging Face Hub "
                                         f"reachable (HF_HUB_OFFLINE unset) to fetch them again") from exc
            raise WeightsUnavailable(f"{where} is not in the local cache ({type(exc).__name__})") from exc
        _check_download(path, Path(path).resolve().name, where)  # the Hub cache names a blob by its ETag
        commit = Path(path).parent.name
        return finish(_convs_from_full_file(path), commit)

    if _hub_offline():
        return from_cache()
    try:
        url = hf_hub_url(repo_id, filename, revision=revision, endpoint=endpoint)
        meta = get_hf_file_metadata(url, token=token, endpoint=endpoint)
    except Exception as exc:
        try:
            return from_cache()
        except WeightsUnavailable as not_cached:
            if damaged:  # a copy was there but failed its checksum: that is the news
                raise not_cached from exc
            raise WeightsUnavailable(f"could not reach the Hub for {where} ({type(exc).__name__}: {exc}) and it is not cached") from exc
    commit = meta.commit_hash or revision
    weights = checked_copy(commit)
    if weights is not None:
        remember(commit)
        return weights
    commit_url = hf_hub_url(repo_id, filename, revision=commit, endpoint=endpoint) if meta.commit_hash else url
    try:
        convs = _fetch_features_by_range(commit_url, token)
    except WeightsUnavailable:
        raise
    except Exception as exc:
        raise WeightsUnavailable(f"downloading {where} failed: {type(exc).__name__}: {exc}") from exc
    if convs is None:
        path = hf_hub_download(repo_id, filename, revision=commit, token=token, cache_dir=cache_dir, endpoint=endpoint)
        _check_download(path, meta.etag, where)
        convs = _convs_from_full_file(path)
    return finish(convs, commit)
