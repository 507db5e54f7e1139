"""Photorealistic smoothing of a stylised photo (Li, Liu, Li, Yang & Kautz 2018, "A closed-form solution
to photorealistic image stylization", the fast variant of its smoothing step).

A stylised image ``p`` is replaced by one that is, in every window ``w_k`` of ``(2r + 1)^2`` pixels, an
affine function of the content photo ``I`` (the guided image filter of He, Sun & Tang 2010):

    q_i = a_k^T I_i + b_k  for i in w_k,   with
    a_k = (Sigma_k + eps U)^-1 cov_k(I, p),   b_k = mean_k(p) - a_k^T mean_k(I),

where ``Sigma_k`` is the 3x3 colour covariance of ``I`` in the window, ``cov_k(I, p)`` the 3xC cross
covariance and ``U`` the identity; each pixel averages the ``a_k, b_k`` of the windows covering it.
Where the photo is flat, the output is flat; so the output's edges fall where the photo's are and the
painterly distortions of the strokes are smoothed away, keeping the style's colours and tones.
``eps`` sets how strongly: the smaller, the more closely the output follows the photo's structure.
"""

from __future__ import annotations

import torch

EPS = 1e-3   # regulariser for [0, 1] images (window variances of a photo are ~1e-3 .. 1e-1)


def _window_sum(x: torch.Tensor, r: int, dim: int) -> torch.Tensor:
    """Sums over windows ``[i - r, i + r]`` (clipped at the borders) along ``dim``, by cumulative sums."""
    n = x.shape[dim]
    shape = list(x.shape)
    shape[dim] = 1
    c = torch.cat((x.new_zeros(shape), x.cumsum(dim)), dim=dim)
    index = torch.arange(n, device=x.device)
    hi = (index + r + 1).clamp(max=n)
    lo = (index - r).clamp(min=0)
    return c.index_select(dim, hi) - c.index_select(dim, lo)


def box_mean(x: torch.Tensor, r: int) -> torch.Tensor:
    """Mean of ``[..., H, W]`` over ``(2r + 1)^2`` windows, clipped at the borders; O(HW) whatever ``r``."""
    ones = x.new_ones(x.shape[-2:])
    count = _window_sum(_window_sum(ones, r, -2), r, -1)
    return _window_sum(_window_sum(x, r, -2), r, -1) / count


def guided_filter(image: torch.Tensor, guide: torch.Tensor, radius: int, eps: float = EPS) -> torch.Tensor:
    """``image`` ``[1, C, H, W]`` made locally affine in ``guide`` ``[1, 3, H, W]`` (both in [0, 1]); see the module notes."""
    if image.shape[-2:] != guide.shape[-2:]:
        raise ValueError(f"image {tuple(image.shape[-2:])} and guide {tuple(guide.shape[-2:])} must be the same size")
    if radius < 1:
        raise ValueError(f"radius must be at least 1 pixel, got {radius}")
    p, g = image[0].double(), guide[0].double()          # [C, H, W], [3, H, W]
    h, w = p.shape[-2:]
    mean_g = box_mean(g, radius)                            # [3, H, W]
    mean_p = box_mean(p, radius)                            # [C, H, W]
    gg = box_mean(g[:, None] * g[None], radius) - mean_g[:, None] * mean_g[None]   # [3, 3, H, W]
    gp = box_mean(g[:, None] * p[None], radius) - mean_g[:, None] * mean_p[None]   # [3, C, H, W]
    sigma = gg.permute(2, 3, 0, 1) + eps * torch.eye(3, dtype=p.dtype, device=p.device)  # [H, W, 3, 3]
    a = torch.linalg.solve(sigma, gp.permute(2, 3, 0, 1))  # [H, W, 3, C]
    b = mean_p - torch.einsum("hwgc,ghw->chw", a, mean_g)   # [C, H, W]
    mean_a = box_mean(a.permute(2, 3, 0, 1), radius)        # [3, C, H, W]
    q = torch.einsum("gchw,ghw->chw", mean_a, g) + box_mean(b, radius)
    return q.clamp(0, 1).to(image.dtype).view(1, -1, h, w)
