"""Luminance-only transfer and colour swap (Gatys, Bethge, Hertzmann & Shechtman 2016).

The image is split into a luminance channel and two chroma channels in a luma/chroma colour space
(``nst.color.spaces``). Before optimisation the style luminance can be matched to the content's
(:func:`match_luminance`)::

    L_s' = sigma_c / sigma_s * (L_s - mu_s) + mu_c

and after it the stylised image's luminance is recombined with the content's chroma
(:func:`combine_luminance`, :func:`preserve_color`)::

    out = space_to_rgb(L(stylized), (1 - amount) * chroma(stylized) + amount * chroma(content))

The recombination functions clamp their inputs and outputs to [0, 1].
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from .spaces import FROM_SPACE, LUMA_SCALE, TO_SPACE, as4d, check_space, restore


def luminance(image: torch.Tensor, space: str = "yuv") -> torch.Tensor:
    """Luma channel of an RGB image as an ``[N, 1, H, W]`` tensor in [0, 1].

    The first channel of ``space``: ``Y = 0.299 R + 0.587 G + 0.114 B`` for
    "yuv" and "ycrcb"; ``L* / 100`` for "lab" and "luv".  A ``[3, H, W]`` input
    gives ``[1, 1, H, W]``.
    """
    space = check_space(space)
    x, _ = as4d(image)
    return TO_SPACE[space](x)[:, :1] / LUMA_SCALE[space]


def match_luminance(style_lum: torch.Tensor, content_lum: torch.Tensor,
                    eps: float = 1e-6) -> torch.Tensor:
    """Luminance histogram matching of Gatys et al. (2016)::

        L_s' = sigma_c / sigma_s * (L_s - mu_s) + mu_c

    ``mu``/``sigma`` are the mean and (population) standard deviation over the
    spatial dimensions (last two), per image and channel; the two inputs may
    have different spatial sizes.  If ``sigma_s <= eps`` the style is treated
    as constant and maps to ``mu_c`` (avoids amplifying rounding noise).  Not
    clamped: the result has exactly the content's mean and std.  Returns a tensor shaped like
    ``style_lum``.
    """
    for name, t in (("style_lum", style_lum), ("content_lum", content_lum)):
        if not isinstance(t, torch.Tensor) or not t.is_floating_point() or t.dim() < 2:
            raise ValueError(f"{name} must be a floating point tensor [..., H, W]")
    dims = (-2, -1)
    mu_s = style_lum.mean(dim=dims, keepdim=True)
    sd_s = style_lum.std(dim=dims, keepdim=True, unbiased=False)
    mu_c = content_lum.mean(dim=dims, keepdim=True)
    sd_c = content_lum.std(dim=dims, keepdim=True, unbiased=False)
    scale = torch.where(sd_s > eps, sd_c / sd_s.clamp_min(eps), torch.zeros_like(sd_c))
    return scale * (style_lum - mu_s) + mu_c


def _resize(x: torch.Tensor, size) -> torch.Tensor:
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    return F.interpolate(x, size=tuple(size), mode="bilinear", align_corners=False)


def _broadcast_batch(a: torch.Tensor, b: torch.Tensor, names):
    if a.shape[0] == b.shape[0]:
        return a, b
    if b.shape[0] == 1:
        return a, b.expand(a.shape[0], *b.shape[1:])
    if a.shape[0] == 1:
        return a.expand(b.shape[0], *a.shape[1:]), b
    raise ValueError(
        f"batch sizes of {names[0]} ({a.shape[0]}) and {names[1]} ({b.shape[0]}) "
        "are incompatible"
    )


def _blend_chroma(luma_space: torch.Tensor, chroma_space: torch.Tensor,
                  amount: float) -> torch.Tensor:
    """Channel 0 from ``luma_space``; chroma = (1 - amount) * luma_space's
    chroma + amount * chroma_space's chroma (``chroma_space`` resized)."""
    chroma = _resize(chroma_space[:, 1:], luma_space.shape[-2:])
    luma_space, chroma = _broadcast_batch(luma_space, chroma, ("luminance", "colour"))
    if amount != 1.0:
        chroma = (1.0 - amount) * luma_space[:, 1:] + amount * chroma
    return torch.cat((luma_space[:, :1], chroma), dim=1)


def combine_luminance(luma_image: torch.Tensor, color_image: torch.Tensor,
                      space: str = "yuv") -> torch.Tensor:
    """Colour swap: luminance of ``luma_image`` + chroma of ``color_image``.

    In ``space`` (one of :data:`COLOR_SPACES`) with channels (L, c1, c2)::

        out = space_to_rgb(L(luma_image), c1(color_image), c2(color_image))

    ``luma_image`` is either an RGB image ``[N,3,H,W]`` / ``[3,H,W]`` or a
    1-channel luminance ``[N,1,H,W]`` / ``[1,H,W]`` on the [0, 1] scale of
    :func:`luminance` (i.e. L*/100 for lab/luv).  RGB inputs are clamped to
    [0, 1] before conversion.  The output has the spatial size of
    ``luma_image``; if ``color_image`` has a different H, W its chroma
    channels are resized with bilinear interpolation.  The result is clamped
    to [0, 1] and is 4-D unless both inputs are 3-D.
    """
    space = check_space(space)
    luma4, luma3d = as4d(luma_image, "luma_image", channels=(1, 3))
    col4, col3d = as4d(color_image, "color_image")
    if luma4.shape[1] == 3:
        luma_sp = TO_SPACE[space](luma4.clamp(0.0, 1.0))
    else:
        luma_sp = luma4 * LUMA_SCALE[space]
    col_sp = TO_SPACE[space](col4.clamp(0.0, 1.0))
    if luma_sp.shape[1] == 1:
        # Placeholder chroma; fully replaced by the colour image's chroma.
        n, _, h, w = luma_sp.shape
        luma_sp = torch.cat((luma_sp, luma_sp.new_zeros(n, 2, h, w)), dim=1)
    out = FROM_SPACE[space](_blend_chroma(luma_sp, col_sp, 1.0)).clamp(0.0, 1.0)
    return restore(out, luma3d and col3d)


#: Alias of :func:`combine_luminance`.
luminance_to_rgb = combine_luminance


def _check_amount(amount) -> float:
    try:
        value = float(amount)
    except (TypeError, ValueError):
        raise ValueError(f"amount must be a number in [0, 1], got {amount!r}") from None
    if math.isnan(value) or not 0.0 <= value <= 1.0:
        raise ValueError(f"amount must be in [0, 1], got {amount!r}")
    return value


def preserve_color(stylized: torch.Tensor, content: torch.Tensor, method: str,
                   amount: float = 1.0) -> torch.Tensor:
    """Keep the content's colours in a stylised image (Gatys et al. 2016,
    colour swap after optimisation).

    ``method`` is a colour space from :data:`COLOR_SPACES` ("yuv", "ycrcb",
    "lab", "luv").  Both images (clamped to [0, 1]) are converted to it; the
    luminance channel is taken from ``stylized`` and the chroma channels are
    blended::

        L_out      = L(stylized)
        chroma_out = (1 - amount) * chroma(stylized) + amount * chroma(content)
        out        = clamp(space_to_rgb(L_out, chroma_out), 0, 1)

    ``amount = 1`` gives the content's colours, ``amount = 0`` returns the
    stylised image (up to round-trip error and clamping).  If the spatial
    sizes differ, the content's chroma channels are resized to the stylised
    image's H, W with bilinear interpolation (align_corners=False).  The
    output has the shape of ``stylized``.  Differentiable w.r.t. both inputs.

    Raises ValueError for an unknown ``method``, an ``amount`` outside [0, 1]
    or NaN, or malformed image tensors.
    """
    space = check_space(method)
    value = _check_amount(amount)
    sty4, sty3d = as4d(stylized, "stylized")
    con4, _ = as4d(content, "content")
    sty_sp = TO_SPACE[space](sty4.clamp(0.0, 1.0))
    con_sp = TO_SPACE[space](con4.clamp(0.0, 1.0))
    out = FROM_SPACE[space](_blend_chroma(sty_sp, con_sp, value)).clamp(0.0, 1.0)
    return restore(out, sty3d)
