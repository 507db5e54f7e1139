"""A clip split into overlapping chunks, and the chunks joined so the seams do not flicker.

``plan_chunks(T, K, L)`` cuts frames ``0 .. T-1`` into ``K`` runs of frames of near-equal length,
chunk ``k`` owning frames ``c_k .. c_(k+1) - 1``. Each chunk after the first starts ``L`` frames
early, at ``c_k - L`` (its lead-in), so at its seam both chunks have styled frames
``c_k - L .. c_k - 1``. A chunk's own frames are held together by the temporal loss as in
``nst.video``. Chunk ``k``'s first frame starts from the clip's styled first frame carried along the
optical flow to frame ``c_k - L`` (``flows_to_first``, ``carry_along``), so both chunks come from one look; the lead-in
lets the chunk settle onto its content, and ``join_chunks`` cross-fades the overlap,
frame ``t = c_k - L + j`` (``j = 0 .. L-1``) being

    x_t = (1 - w_j) a_t + w_j b_t,        w_j = (j + 1) / (L + 1)

with ``a`` the earlier chunk's output and ``b`` the later one's. Where the two differ by ``d`` a
hard cut changes one frame pair by all of ``d``; the fade changes each of ``L + 1`` pairs by
``d / (L + 1)``, and the flicker measure (a squared error) of each of those pairs by
``|d|^2 / (L + 1)^2``.

``seam_pairs`` names the frame pairs ``(t - 1, t)`` a seam touches (``t`` in ``c_k - L .. c_k``);
``nst.temporal.pair_errors`` is each pair's warping error (flow from the input frames), whose mean is
``nst.temporal.flicker``; ``seam_flicker`` compares the seams' mean with the
other pairs' mean.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch
from PIL import Image

from ..flow import estimate_flow, warp
from ..image import to_pil, to_tensor


@dataclass(frozen=True)
class Chunk:
    """Chunk ``index`` styles frames ``start .. stop - 1`` and owns ``own .. stop - 1`` (``own - start``:
    its lead-in, cross-faded with the chunk before)."""

    index: int
    start: int
    own: int
    stop: int

    @property
    def frames(self) -> range:
        """The frames it styles, lead-in included."""
        return range(self.start, self.stop)


def plan_chunks(frames: int, chunks: int, overlap: int) -> list[Chunk]:
    """``chunks`` chunks over ``frames`` frames, each after the first starting ``overlap`` frames early.

    There are fewer chunks when the clip is too short: each owns at least ``overlap + 1`` frames (so
    no frame is in two fades) and at least 2.
    """
    if frames < 1:
        raise ValueError("a clip needs at least one frame")
    if isinstance(chunks, bool) or not isinstance(chunks, int) or chunks < 1:
        raise ValueError(f"the number of chunks must be 1 or more, got {chunks!r}")
    if isinstance(overlap, bool) or not isinstance(overlap, int) or overlap < 0:
        raise ValueError(f"the overlap must be a whole number of frames, 0 or more, got {overlap!r}")
    count = max(1, min(chunks, frames // max(2, overlap + 1)))
    edges = [round(k * frames / count) for k in range(count + 1)]
    return [Chunk(k, max(0, edges[k] - overlap) if k else 0, edges[k], edges[k + 1]) for k in range(count)]


def flows_to_first(frames: Sequence[Image.Image], targets: Sequence[int], method: str = "dis") -> dict[int, torch.Tensor]:
    """For each frame ``t`` of ``targets``, the flow ``F_t`` from frame ``t`` back to frame 0, composed from
    the backward flows ``w_s`` between consecutive frames (``nst.flow``): ``F_0 = 0`` and

        F_t = w_t + warp(F_(t-1), w_t)        (frame_t(p) ~ frame_0(p + F_t(p)))

    Only the running ``F_t`` and those asked for are kept, whatever the clip's length."""
    wanted = sorted(set(targets))
    width, height = frames[0].size
    composed = torch.zeros(1, 2, height, width)
    flows = {0: composed} if 0 in wanted else {}
    for t in range(1, (wanted[-1] if wanted else 0) + 1):
        step = estimate_flow(frames[t], frames[t - 1], method)
        composed = step + warp(composed, step)
        if t in wanted:
            flows[t] = composed
    return flows


def carry_along(image: Image.Image, flows: dict[int, torch.Tensor]) -> dict[int, Image.Image]:
    """``image`` (frame 0's output) pulled into each frame ``t`` along ``F_t`` (``flows_to_first``): the
    first frame's look moved where the clip has moved it, what a chunk starting at ``t`` starts from."""
    x = to_tensor(image)
    return {t: image if t == 0 else to_pil(warp(x, flow)) for t, flow in flows.items()}


def fade_weight(j: int, overlap: int) -> float:
    """``w_j = (j + 1) / (L + 1)``: the later chunk's share of lead-in frame ``j``."""
    return (j + 1) / (overlap + 1)


def join_chunks(plan: Sequence[Chunk], outputs: Sequence[Sequence[Image.Image]]) -> list[Image.Image]:
    """One frame per frame of the clip from the chunks' ``outputs`` (each over its ``Chunk.frames``),
    the overlaps cross-faded (see the module notes)."""
    if len(outputs) != len(plan):
        raise ValueError(f"{len(outputs)} chunk output(s) for {len(plan)} chunk(s)")
    for chunk, images in zip(plan, outputs):
        if len(images) != len(chunk.frames):
            raise ValueError(f"chunk {chunk.index} has {len(images)} frame(s), expected {len(chunk.frames)}")
    joined: list[Image.Image] = []
    for k, (chunk, images) in enumerate(zip(plan, outputs)):
        lead = chunk.own - chunk.start
        for j in range(lead):
            t = chunk.start + j
            before = plan[k - 1]
            a = np.asarray(outputs[k - 1][t - before.start], dtype=np.float32)
            b = np.asarray(images[j], dtype=np.float32)
            w = fade_weight(j, lead)
            joined[t] = Image.fromarray(np.clip(np.rint((1 - w) * a + w * b), 0, 255).astype(np.uint8))
        joined.extend(images[lead:])
    return joined


def seam_pairs(plan: Sequence[Chunk]) -> set[int]:
    """The ``t`` of the frame pairs ``(t - 1, t)`` that a seam touches: ``c_k - L .. c_k`` for every
    chunk after the first (the pair into its first faded frame through the pair out of its last)."""
    return {t for chunk in plan[1:] for t in range(max(1, chunk.start), chunk.own + 1)}


def seam_flicker(errors: Sequence[float], seams: set[int]) -> tuple[float | None, float | None]:
    """The mean of ``errors`` (``E_t`` at ``errors[t - 1]``) over the seam pairs, and over the others;
    None for a side with no pairs."""
    inside = [e for t, e in enumerate(errors, start=1) if t in seams]
    outside = [e for t, e in enumerate(errors, start=1) if t not in seams]
    return (sum(inside) / len(inside) if inside else None, sum(outside) / len(outside) if outside else None)
