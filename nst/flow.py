"""Optical flow between video frames, warping along it, and where it can be trusted.

A flow ``w`` from frame ``a`` to frame ``b`` is a ``[1, 2, H, W]`` float32 tensor of displacements in
pixels (x first, then y) such that ``a(p) ~ b(p + w(p))``: for each pixel of ``a``, where it is in
``b``. It is estimated by OpenCV without downloaded weights: DIS (Kroeger et al. 2016, the default) or
Farneback (2003), both on the frames' grey levels. Farneback's smoothing window needs texture and
size: on small frames or flat areas (a sky) it often misses the motion, which DIS finds.

``warp(image, w)`` pulls an image of ``b``'s geometry into ``a``'s: ``warp(b, w)(p) = b(p + w(p))``,
bilinear, the border repeated outside the frame.

Reliability follows Ruder, Dosovitskiy & Brox (2016). For the current frame ``i`` and an earlier
frame ``j``, let ``w_b`` be the flow from ``i`` to ``j`` (backward in time) and ``w_f`` the flow from
``j`` to ``i``, brought to ``i``'s pixels as ``w~_f(p) = w_f(p + w_b(p))``. A pixel gets weight
``c = 0`` when

* it is disoccluded (forward and backward flow do not cancel):
  ``|w~_f + w_b|^2 > 0.01 (|w~_f|^2 + |w_b|^2) + 0.5``;
* it lies on a motion boundary: ``|grad u_b|^2 + |grad v_b|^2 > 0.01 |w_b|^2 + 0.002``;
* it comes from outside frame ``j`` (``p + w_b(p)`` off the image: content entering the view);

and ``c = 1`` otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

FLOW_METHODS = ("dis", "farneback")


@dataclass(frozen=True)
class Correspondence:
    """How the pixels of a frame ``i`` map to an earlier frame ``j`` and which of them to trust."""

    flow: torch.Tensor      # [1, 2, H, W]: the backward flow w_b from frame i to frame j
    weights: torch.Tensor   # [1, 1, H, W]: the consistency weights c (0 or 1) of frame i's pixels


def _grey(frame: Image.Image | np.ndarray) -> np.ndarray:
    """8-bit grey levels (``H x W``) of a PIL image or an ``H x W x 3`` uint8 RGB array."""
    import cv2

    array = np.asarray(frame.convert("RGB") if isinstance(frame, Image.Image) else frame)
    if array.ndim == 2:
        return np.ascontiguousarray(array, dtype=np.uint8)
    return cv2.cvtColor(np.ascontiguousarray(array, dtype=np.uint8), cv2.COLOR_RGB2GRAY)


def estimate_flow(a: Image.Image | np.ndarray, b: Image.Image | np.ndarray, method: str = "dis") -> torch.Tensor:
    """The flow ``w`` from frame ``a`` to frame ``b`` (``a(p) ~ b(p + w(p))``), ``[1, 2, H, W]`` in pixels.

    ``method`` is "dis" (dense inverse search, medium preset, down to full resolution) or
    "farneback" (polynomial expansion, 5 levels). Both frames must have the same size.
    """
    import cv2

    grey_a, grey_b = _grey(a), _grey(b)
    if grey_a.shape != grey_b.shape:
        raise ValueError(f"flow needs frames of one size, got {grey_a.shape[::-1]} and {grey_b.shape[::-1]}")
    if method == "dis":
        dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
        dis.setFinestScale(0)  # refine down to full resolution: frames here are small
        flow = dis.calc(grey_a, grey_b, None)
    elif method == "farneback":
        flow = cv2.calcOpticalFlowFarneback(grey_a, grey_b, None, pyr_scale=0.5, levels=5, winsize=15,
                                            iterations=3, poly_n=5, poly_sigma=1.2, flags=0)
    else:
        raise ValueError(f"flow method must be one of {', '.join(FLOW_METHODS)}, got {method!r}")
    return torch.from_numpy(np.ascontiguousarray(flow, dtype=np.float32)).permute(2, 0, 1).unsqueeze(0)


def _sampling_grid(flow: torch.Tensor) -> torch.Tensor:
    """``p + w(p)`` in ``grid_sample``'s coordinates (-1 .. 1 across pixel centres), ``[1, H, W, 2]``."""
    _, _, h, w = flow.shape
    ys, xs = torch.meshgrid(torch.arange(h, dtype=flow.dtype, device=flow.device),
                            torch.arange(w, dtype=flow.dtype, device=flow.device), indexing="ij")
    x = (xs + flow[0, 0]) * (2.0 / max(w - 1, 1)) - 1.0
    y = (ys + flow[0, 1]) * (2.0 / max(h - 1, 1)) - 1.0
    return torch.stack((x, y), dim=-1).unsqueeze(0)


def warp(image: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
    """``image`` ``[B, C, H, W]`` sampled at ``p + w(p)`` (bilinear, border repeated): ``warp(b, w)(p) = b(p + w(p))``."""
    if image.shape[-2:] != flow.shape[-2:]:
        raise ValueError(f"image {tuple(image.shape[-2:])} and flow {tuple(flow.shape[-2:])} differ in size")
    grid = _sampling_grid(flow.to(image.device, image.dtype)).expand(image.shape[0], -1, -1, -1)
    return F.grid_sample(image, grid, mode="bilinear", padding_mode="border", align_corners=True)


def consistency_weights(backward: torch.Tensor, forward: torch.Tensor) -> torch.Tensor:
    """Ruder et al.'s weights ``c`` (``[1, 1, H, W]``, 0 or 1) for the frame whose flow to an earlier
    frame is ``backward`` (``w_b``), given the earlier frame's flow to it, ``forward`` (``w_f``):
    0 where disoccluded, on a motion boundary, or sourced from outside the earlier frame."""
    _, _, h, w = backward.shape
    forward_here = warp(forward, backward)                     # w~_f(p) = w_f(p + w_b(p))
    mismatch = (forward_here + backward).pow(2).sum(1, keepdim=True)
    size = forward_here.pow(2).sum(1, keepdim=True) + backward.pow(2).sum(1, keepdim=True)
    disoccluded = mismatch > 0.01 * size + 0.5
    du_dy, du_dx = torch.gradient(backward[:, 0:1], dim=(-2, -1))
    dv_dy, dv_dx = torch.gradient(backward[:, 1:2], dim=(-2, -1))
    gradient = du_dx.pow(2) + du_dy.pow(2) + dv_dx.pow(2) + dv_dy.pow(2)
    boundary = gradient > 0.01 * backward.pow(2).sum(1, keepdim=True) + 0.002
    ys, xs = torch.meshgrid(torch.arange(h, dtype=backward.dtype), torch.arange(w, dtype=backward.dtype),
                            indexing="ij")
    x, y = xs + backward[0, 0], ys + backward[0, 1]
    outside = ((x < 0) | (x > w - 1) | (y < 0) | (y > h - 1)).view(1, 1, h, w)
    return (~(disoccluded | boundary | outside)).float()


def correspondence(frame: Image.Image, earlier: Image.Image, method: str = "dis") -> Correspondence:
    """The backward flow from ``frame`` to ``earlier`` and its consistency weights (flow both ways)."""
    backward = estimate_flow(frame, earlier, method)
    forward = estimate_flow(earlier, frame, method)
    return Correspondence(backward, consistency_weights(backward, forward))
