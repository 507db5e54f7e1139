"""VGG-19's convolution weights as data: ``VGGWeights``, the preprocessing each set expects, and the
shape check every set passes (a chain of 3x3 convolutions from 3 input channels, in VGG-19's order).

A set's preprocessing turns an RGB image ``x`` in [0, 1] into the network's input,
``((x * scale)[order] - mean) / std``: torchvision's ImageNet weights take RGB normalised by the
ImageNet mean and std; the original Caffe weights take BGR in 0-255 minus the channel means.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Mapping

import torch

from ..features import CONV_NAMES

# Index of each convolution in torchvision's ``vgg19().features`` (and timm's, which is the same).
TORCHVISION_INDEX = dict(zip(CONV_NAMES, (0, 2, 5, 7, 10, 12, 14, 16, 19, 21, 23, 25, 28, 30, 32, 34)))


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
