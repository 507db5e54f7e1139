"""Temporal consistency of a stylised video: the temporal loss and the flicker measure.

Ruder, Dosovitskiy & Brox (2016). Frame ``i``'s output ``x`` is held to the earlier outputs
``x^(i-j)``, each warped into frame ``i`` along the optical flow (``omega^(i-j) = warp(x^(i-j), w_b)``,
see ``nst.flow``), where the flow can be trusted (weights ``c^(i-j)``):

    L_temporal(x) = lambda_t * sum_{j in J} (1 / D) sum_k c_k^(i-j) (x_k - omega_k^(i-j))^2

with ``D = 3 H W`` the number of values and pixels in [0, 1]. ``J = {1}`` is the short-term loss;
the long-term loss takes several earlier frames, e.g. ``J = {1, 2, 4}``, and counts each pixel only
for the nearest earlier frame where it is reliable:

    c_long^(i-j) = max(c^(i-j) - sum_{k in J, k < j} c^(i-k), 0)

Flicker is measured as the mean warping error between consecutive outputs over reliable pixels,
with flow and weights from the *input* frames (so every stylisation of a clip is judged alike):

    E_warp = 1 / (T - 1) sum_{t=1}^{T-1} sum_k c_k^(t) (x_k^(t) - omega_k^(t))^2 / (3 sum_p c_p^(t))

with ``omega^(t)`` the output of frame ``t - 1`` warped into frame ``t``. It is 0 for a perfectly
stable video; the input clip's own value is the floor that flow errors and lighting changes set.
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from PIL import Image

from .flow import Correspondence, correspondence, warp
from .image import to_tensor


def long_term_weights(weights: Sequence[torch.Tensor]) -> list[torch.Tensor]:
    """``c_long^(i-j) = max(c^(i-j) - sum_{k < j} c^(i-k), 0)`` for weights given nearest frame first."""
    out, covered = [], torch.zeros_like(weights[0])
    for c in weights:
        out.append((c - covered).clamp_min(0))
        covered = covered + c
    return out


class TemporalLoss:
    """``lambda_t * sum_j (1 / D) sum_k c_k^(j) (x_k - omega_k^(j))^2`` as an extra loss term of a run.

    ``targets`` are pairs ``(omega, c)`` of warped earlier outputs ``[1, 3, H, W]`` and their weights
    ``[1, 1, H, W]``; called on an image of another size (a coarser scale), both are resized to it.
    """

    def __init__(self, weight: float, targets: Sequence[tuple[torch.Tensor, torch.Tensor]]) -> None:
        if not targets:
            raise ValueError("a temporal loss needs at least one warped earlier output")
        self.weight = float(weight)
        self.targets = [(omega.detach(), c.detach().to(omega.device)) for omega, c in targets]

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        total = x.new_zeros(())
        for omega, c in self.targets:
            if omega.shape[-2:] != x.shape[-2:]:
                omega = F.interpolate(omega, size=x.shape[-2:], mode="bilinear", align_corners=False)
                c = (F.interpolate(c, size=x.shape[-2:], mode="bilinear", align_corners=False) > 0.5).float()
            total = total + (c * (x - omega).pow(2)).sum() / x[0].numel()
        return self.weight * total


def warping_error(output: torch.Tensor, earlier_output: torch.Tensor, link: Correspondence) -> float:
    """``sum_k c_k (x_k - omega_k)^2 / (3 sum_p c_p)``: how far ``output`` is from ``earlier_output``
    warped into it, over the pixels ``link`` trusts (0 when it trusts none)."""
    omega = warp(earlier_output, link.flow.to(earlier_output.device))
    c = link.weights.to(output.device)
    reliable = float(c.sum())
    if reliable == 0:
        return 0.0
    return float((c * (output - omega).pow(2)).sum() / (output.shape[1] * reliable))


def pair_errors(outputs: Sequence[Image.Image], frames: Sequence[Image.Image], method: str = "dis",
                links: Sequence[Correspondence | None] | None = None) -> list[float]:
    """The warping error of each consecutive pair of ``outputs`` (pixels in [0, 1]), ``[E_1 .. E_(T-1)]``,
    over the pixels that the flow between consecutive input ``frames`` trusts. ``links[t]`` (frame ``t``
    to ``t - 1``), where given, saves estimating that flow again. Frames are brought to the outputs' size."""
    if len(outputs) != len(frames):
        raise ValueError(f"{len(outputs)} output(s) for {len(frames)} frame(s): give one output per frame")
    size = outputs[0].size
    inputs = [f if f.size == size else f.resize(size, Image.LANCZOS) for f in frames]
    errors = []
    for t in range(1, len(outputs)):
        link = links[t] if links is not None and t < len(links) else None
        if link is None or tuple(link.flow.shape[-2:]) != (size[1], size[0]):
            link = correspondence(inputs[t], inputs[t - 1], method)
        errors.append(warping_error(to_tensor(outputs[t]), to_tensor(outputs[t - 1]), link))
    return errors


def flicker(outputs: Sequence[Image.Image], frames: Sequence[Image.Image], method: str = "dis",
            links: Sequence[Correspondence | None] | None = None) -> float:
    """``E_warp``: the mean of ``pair_errors``, the warping error between consecutive ``outputs`` over the
    pixels that the flow between consecutive input ``frames`` trusts."""
    if len(outputs) < 2:
        raise ValueError("flicker compares consecutive frames: give at least two")
    errors = pair_errors(outputs, frames, method, links)
    return sum(errors) / len(errors)
