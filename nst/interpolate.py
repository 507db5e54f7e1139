"""Interpolation between two styles: ``n`` outputs whose style moves from A to B.

Output ``k`` of ``n`` blends the two Gram targets with weights ``(1 - t_k, t_k)``, ``t_k = k / (n - 1)``:

    A_l(t) = (1 - t) A_l^(A) + t A_l^(B)

The first output is a full run; every following one starts from its neighbour's result
(``init="image"``) and runs only ``follow_steps`` steps (a third of ``config.steps`` by default, at
the finest scale only), since neighbouring targets differ little. A sweep of ``n`` outputs so costs
about ``1 + (n - 1) / 3`` runs instead of ``n``, and neighbouring frames stay alike, which also makes
the sweep animate smoothly.

    sweep = interpolate(model, content, style_a, style_b, 5, TransferConfig(size=256))
    for event in sweep: ...                  # SweepEvents, see nst.sweep
    grid(sweep.results(), columns=5).save("grid.png")
    save_gif(sweep.results(), "sweep.gif", duration_ms=300)
"""

from __future__ import annotations

import torch
from PIL import Image

from .config import TransferConfig
from .features import VGG19Features
from .montage import grid, save_gif
from .sweep import Job, Sweep

__all__ = ["MAX_OUTPUTS", "blend_values", "grid", "interpolate", "save_gif"]


MAX_OUTPUTS = 64  # outputs of one sweep: each is a transfer of its own, and all of them share one grid


def blend_values(n: int) -> list[float]:
    """``t_k = k / (n - 1)`` for ``k = 0 .. n-1``: 0 is all style A, 1 all style B."""
    if isinstance(n, bool) or not isinstance(n, int) or not 2 <= n <= MAX_OUTPUTS:
        raise ValueError(f"an interpolation needs from 2 to {MAX_OUTPUTS} outputs, got n={n!r}")
    return [k / (n - 1) for k in range(n)]


def interpolate(model: VGG19Features, content: Image.Image | None, style_a: Image.Image, style_b: Image.Image,
                n: int, config: TransferConfig = TransferConfig(), device: str | torch.device = "auto",
                follow_steps: int | None = None, init_image: Image.Image | None = None) -> Sweep:
    """A ``Sweep`` rendering ``n`` outputs from style A (t = 0) to style B (t = 1), each warm-started
    from the one before. ``config.style_blend_weights`` is set per output; ``config.style_scales``, if
    given, holds the two styles' scales. ``init_image`` starts the first output when ``config.init``
    is "image". ``content`` None interpolates textures (with ``content_weight`` 0)."""
    values = blend_values(n)
    if follow_steps is None:
        follow_steps = max(1, round(config.steps / 3))
    if isinstance(follow_steps, bool) or not isinstance(follow_steps, int) or follow_steps < 0:
        raise ValueError(f"follow_steps must be a whole number of steps, got {follow_steps!r}")
    jobs = []
    for k, t in enumerate(values):
        job_config = config.replace(style_blend_weights=(1.0 - t, t))
        if k > 0:
            job_config = job_config.replace(steps=follow_steps, scales=1)
        options = {"init_image": init_image} if k == 0 and init_image is not None else {}
        jobs.append(Job(f"t = {t:.2f}", content, (style_a, style_b), job_config, warm_start=k > 0, value=t,
                        options=options))
    return Sweep(model, jobs, device=device)
