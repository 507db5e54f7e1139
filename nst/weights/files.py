"""VGG-19 weights in a local file: read ``.safetensors`` or ``.pth`` (``load_file``), write the
features-only safetensors copy (``save_features``).

A ``.pth``/``.pt`` file is read with ``torch.load(weights_only=True)``, never unpickling arbitrary
objects. Keys may be torchvision's (``features.0.weight`` ..., optionally under a prefix) or this
project's (``conv1_1.weight`` ...). A safetensors file written here names its preprocessing and
source in its metadata.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping

import torch

from .vgg import PREPROCESSINGS, TORCHVISION, VGGWeights, WeightsUnavailable, convs_from_state_dict


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
