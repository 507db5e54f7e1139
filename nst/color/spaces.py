"""Colour spaces: sRGB to and from luma/chroma spaces, as differentiable torch ops.

* ``"yuv"``   -- BT.601 analog YUV.
* ``"ycrcb"`` -- BT.601 full-range YCbCr (JPEG/JFIF), Y in [0, 1], Cb/Cr
  centred at 0.5 (channel order Y, Cb, Cr).
* ``"lab"``   -- CIE 1976 L*a*b*, D65 white, via linear sRGB and XYZ,
  L* in [0, 100].
* ``"luv"``   -- CIE 1976 L*u*v*, D65 white, via linear sRGB and XYZ.

Each conversion's formula is in its docstring. Images are float tensors ``[N, 3, H, W]`` or
``[3, H, W]`` of sRGB values in [0, 1]; conversions keep the input's rank and do not clamp, so
round trips are exact. ``as4d``, ``restore`` and ``check_space`` are the shape and name checks the
other colour modules share.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Sequence, Tuple

import torch

#: Luma/chroma colour spaces accepted by :func:`nst.color.luminance`,
#: :func:`nst.color.combine_luminance` and :func:`nst.color.preserve_color`.
COLOR_SPACES: Tuple[str, ...] = ("yuv", "ycrcb", "lab", "luv")

# Alternative spellings accepted for colour-space names.
_SPACE_ALIASES = {"ycbcr": "ycrcb"}


# ---------------------------------------------------------------------------
# Constants (plain Python numbers; tensors are built on demand so that the
# module has no import-time side effects and follows the input device/dtype).
# ---------------------------------------------------------------------------

# BT.601 analog YUV.
_YUV = (
    (0.299, 0.587, 0.114),
    (-0.14713, -0.28886, 0.436),
    (0.615, -0.51499, -0.10001),
)

# BT.601 full-range YCbCr (JPEG); offsets (0, 0.5, 0.5) are added separately.
_YCBCR = (
    (0.299, 0.587, 0.114),
    (-0.168736, -0.331264, 0.5),
    (0.5, -0.418688, -0.081312),
)

# Linear sRGB -> CIE XYZ (D65).
_RGB2XYZ = (
    (0.4124564, 0.3575761, 0.1804375),
    (0.2126729, 0.7151522, 0.0721750),
    (0.0193339, 0.1191920, 0.9503041),
)

# D65 reference white = XYZ of linear RGB (1, 1, 1); using the row sums keeps
# neutral greys at exactly zero chroma (they equal 0.95047, 1.0, 1.08883 to
# 6 decimals).
_WHITE = tuple(sum(row) for row in _RGB2XYZ)

# CIE constants (exact rational forms, as recommended by the CIE / Lindbloom).
_EPS = 216.0 / 24389.0  # (6/29)^3
_KAPPA = 24389.0 / 27.0  # (29/3)^3
_DELTA = 6.0 / 29.0

# sRGB transfer function breakpoints.
_SRGB_LIN_THRESH = 0.04045
_SRGB_GAMMA_THRESH = 0.0031308

# Guard for divisions near zero (black pixels in Luv).
_TINY = 1e-10


def _inv3(m: Sequence[Sequence[float]]) -> Tuple[Tuple[float, ...], ...]:
    """Inverse of a 3x3 matrix (pure Python, float64) via the adjugate."""
    (a, b, c), (d, e, f), (g, h, i) = m
    det = a * (e * i - f * h) - b * (d * i - f * g) + c * (d * h - e * g)
    adj = (
        (e * i - f * h, c * h - b * i, b * f - c * e),
        (f * g - d * i, a * i - c * g, c * d - a * f),
        (d * h - e * g, b * g - a * h, a * e - b * d),
    )
    return tuple(tuple(v / det for v in row) for row in adj)


@lru_cache(maxsize=None)
def _inverse(name: str) -> Tuple[Tuple[float, ...], ...]:
    return _inv3({"yuv": _YUV, "ycbcr": _YCBCR, "xyz": _RGB2XYZ}[name])


# ---------------------------------------------------------------------------
# Shape helpers
# ---------------------------------------------------------------------------


def as4d(image: torch.Tensor, name: str = "image", channels: Sequence[int] = (3,)):
    """Return ``(image4d, was3d)``; validates rank, channel count and dtype."""
    if not isinstance(image, torch.Tensor):
        raise ValueError(f"{name} must be a torch.Tensor, got {type(image).__name__}")
    if not image.is_floating_point():
        raise ValueError(f"{name} must be a floating point tensor, got {image.dtype}")
    if image.dim() == 3:
        image4d, was3d = image.unsqueeze(0), True
    elif image.dim() == 4:
        image4d, was3d = image, False
    else:
        raise ValueError(
            f"{name} must have shape [N,C,H,W] or [C,H,W], got {tuple(image.shape)}"
        )
    if image4d.shape[1] not in channels:
        raise ValueError(
            f"{name} must have {' or '.join(map(str, channels))} channels, "
            f"got shape {tuple(image.shape)}"
        )
    return image4d, was3d


def restore(image4d: torch.Tensor, was3d: bool) -> torch.Tensor:
    return image4d.squeeze(0) if was3d and image4d.shape[0] == 1 else image4d


def _apply_matrix(m, x: torch.Tensor) -> torch.Tensor:
    """``out[:, i] = sum_j m[i][j] * x[:, j]`` for a 3x3 matrix ``m``."""
    mat = torch.tensor(m, dtype=x.dtype, device=x.device)
    return torch.einsum("ij,njhw->nihw", mat, x)


def check_space(space) -> str:
    if isinstance(space, str):
        key = space.strip().lower()
        key = _SPACE_ALIASES.get(key, key)
        if key in COLOR_SPACES:
            return key
    raise ValueError(
        f"unknown colour space {space!r}; valid choices are {', '.join(COLOR_SPACES)}"
    )


# ---------------------------------------------------------------------------
# Colour-space conversions
# ---------------------------------------------------------------------------


def rgb_to_yuv(image: torch.Tensor) -> torch.Tensor:
    """sRGB -> BT.601 analog YUV (applied directly to gamma-encoded RGB)::

        Y =  0.299   R + 0.587   G + 0.114   B
        U = -0.14713 R - 0.28886 G + 0.436   B   (= 0.492 (B - Y))
        V =  0.615   R - 0.51499 G - 0.10001 B   (= 0.877 (R - Y))

    Y in [0, 1], U in [-0.436, 0.436], V in [-0.615, 0.615].
    """
    x, was3d = as4d(image)
    return restore(_apply_matrix(_YUV, x), was3d)


def yuv_to_rgb(image: torch.Tensor) -> torch.Tensor:
    """BT.601 analog YUV -> sRGB: ``rgb = M^{-1} yuv`` with ``M`` the matrix
    of :func:`rgb_to_yuv` (approximately R = Y + 1.13983 V,
    G = Y - 0.39465 U - 0.58060 V, B = Y + 2.03211 U).  Not clamped."""
    x, was3d = as4d(image)
    return restore(_apply_matrix(_inverse("yuv"), x), was3d)


def rgb_to_ycbcr(image: torch.Tensor) -> torch.Tensor:
    """sRGB -> BT.601 full-range YCbCr (JPEG/JFIF), channel order (Y, Cb, Cr)::

        Y  =       0.299    R + 0.587    G + 0.114    B
        Cb = 0.5 - 0.168736 R - 0.331264 G + 0.5      B   (= 0.5 + (B - Y) / 1.772)
        Cr = 0.5 + 0.5      R - 0.418688 G - 0.081312 B   (= 0.5 + (R - Y) / 1.402)

    All channels in [0, 1]; Cb and Cr are centred at 0.5 (grey -> 0.5).
    """
    x, was3d = as4d(image)
    y = _apply_matrix(_YCBCR, x)
    offset = torch.tensor([0.0, 0.5, 0.5], dtype=y.dtype, device=y.device)
    return restore(y + offset.view(1, 3, 1, 1), was3d)


def ycbcr_to_rgb(image: torch.Tensor) -> torch.Tensor:
    """BT.601 full-range YCbCr (Y, Cb, Cr) -> sRGB::

        R = Y                       + 1.402    (Cr - 0.5)
        G = Y - 0.344136 (Cb - 0.5) - 0.714136 (Cr - 0.5)
        B = Y + 1.772    (Cb - 0.5)

    (computed as the exact inverse of the forward matrix).  Not clamped.
    """
    x, was3d = as4d(image)
    offset = torch.tensor([0.0, 0.5, 0.5], dtype=x.dtype, device=x.device)
    return restore(_apply_matrix(_inverse("ycbcr"), x - offset.view(1, 3, 1, 1)), was3d)


def srgb_to_linear(image: torch.Tensor) -> torch.Tensor:
    """sRGB gamma decoding (IEC 61966-2-1), elementwise::

        c_lin = c / 12.92                     if c <= 0.04045
                ((c + 0.055) / 1.055) ** 2.4  otherwise

    The power branch is evaluated on a clamped input so gradients stay finite.
    """
    low = image / 12.92
    high = ((image.clamp_min(_SRGB_LIN_THRESH) + 0.055) / 1.055) ** 2.4
    return torch.where(image <= _SRGB_LIN_THRESH, low, high)


def linear_to_srgb(image: torch.Tensor) -> torch.Tensor:
    """sRGB gamma encoding (IEC 61966-2-1), elementwise::

        c = 12.92 c_lin                          if c_lin <= 0.0031308
            1.055 c_lin ** (1 / 2.4) - 0.055     otherwise
    """
    low = image * 12.92
    high = 1.055 * image.clamp_min(_SRGB_GAMMA_THRESH) ** (1.0 / 2.4) - 0.055
    return torch.where(image <= _SRGB_GAMMA_THRESH, low, high)


def rgb_to_xyz(image: torch.Tensor) -> torch.Tensor:
    """sRGB -> CIE XYZ (D65): ``XYZ = M srgb_to_linear(rgb)`` with the sRGB
    primaries matrix ``M`` (Y of white = 1)."""
    x, was3d = as4d(image)
    return restore(_apply_matrix(_RGB2XYZ, srgb_to_linear(x)), was3d)


def xyz_to_rgb(image: torch.Tensor) -> torch.Tensor:
    """CIE XYZ (D65) -> sRGB: ``rgb = linear_to_srgb(M^{-1} XYZ)``.  Not clamped."""
    x, was3d = as4d(image)
    return restore(linear_to_srgb(_apply_matrix(_inverse("xyz"), x)), was3d)


def _lab_f(t: torch.Tensor) -> torch.Tensor:
    # f(t) = t^(1/3) if t > eps else (kappa t + 16) / 116
    cube = t.clamp_min(_EPS) ** (1.0 / 3.0)
    return torch.where(t > _EPS, cube, (_KAPPA * t + 16.0) / 116.0)


def _lab_finv(f: torch.Tensor) -> torch.Tensor:
    # f^-1(f) = f^3 if f > 6/29 else (116 f - 16) / kappa
    return torch.where(f > _DELTA, f**3, (116.0 * f - 16.0) / _KAPPA)


def rgb_to_lab(image: torch.Tensor) -> torch.Tensor:
    """sRGB -> CIE L*a*b* (D65 white (Xn, Yn, Zn) ~ (0.95047, 1, 1.08883))::

        (X, Y, Z) = M_sRGB->XYZ srgb_to_linear(rgb)
        L* = 116 f(Y/Yn) - 16
        a* = 500 (f(X/Xn) - f(Y/Yn))
        b* = 200 (f(Y/Yn) - f(Z/Zn))
        f(t) = t^(1/3)              if t > eps = 216/24389
               (kappa t + 16) / 116 otherwise, kappa = 24389/27

    L* in [0, 100]; white -> (100, 0, 0), pure red -> (53.24, 80.09, 67.20).
    """
    x, was3d = as4d(image)
    xyz = _apply_matrix(_RGB2XYZ, srgb_to_linear(x))
    white = torch.tensor(_WHITE, dtype=xyz.dtype, device=xyz.device).view(1, 3, 1, 1)
    fx, fy, fz = _lab_f(xyz / white).unbind(1)
    lab = torch.stack((116.0 * fy - 16.0, 500.0 * (fx - fy), 200.0 * (fy - fz)), dim=1)
    return restore(lab, was3d)


def lab_to_rgb(image: torch.Tensor) -> torch.Tensor:
    """CIE L*a*b* (D65) -> sRGB::

        f_y = (L* + 16) / 116,  f_x = f_y + a*/500,  f_z = f_y - b*/200
        X = Xn f^-1(f_x),  Y = Yn f^-1(f_y),  Z = Zn f^-1(f_z)
        f^-1(f) = f^3 if f > 6/29 else (116 f - 16) / kappa
        rgb = linear_to_srgb(M_sRGB->XYZ^-1 (X, Y, Z))

    Not clamped (out-of-gamut colours give values outside [0, 1]).
    """
    x, was3d = as4d(image)
    L, a, b = x.unbind(1)
    fy = (L + 16.0) / 116.0
    f = torch.stack((fy + a / 500.0, fy, fy - b / 200.0), dim=1)
    white = torch.tensor(_WHITE, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    xyz = _lab_finv(f) * white
    return restore(linear_to_srgb(_apply_matrix(_inverse("xyz"), xyz)), was3d)


def _white_uv() -> Tuple[float, float]:
    xn, yn, zn = _WHITE
    d = xn + 15.0 * yn + 3.0 * zn
    return 4.0 * xn / d, 9.0 * yn / d


def rgb_to_luv(image: torch.Tensor) -> torch.Tensor:
    """sRGB -> CIE L*u*v* (D65)::

        (X, Y, Z) = M_sRGB->XYZ srgb_to_linear(rgb)
        L* = 116 (Y/Yn)^(1/3) - 16   if Y/Yn > eps = 216/24389
             kappa Y/Yn              otherwise, kappa = 24389/27
        u' = 4X / (X + 15Y + 3Z),  v' = 9Y / (X + 15Y + 3Z)
        u* = 13 L* (u' - u'_n),    v* = 13 L* (v' - v'_n)

    with (u'_n, v'_n) the chromaticity of the D65 white.  Black maps to
    (0, 0, 0) (the 0/0 chromaticity is replaced by the white point).
    """
    x, was3d = as4d(image)
    X, Y, Z = _apply_matrix(_RGB2XYZ, srgb_to_linear(x)).unbind(1)
    un, vn = _white_uv()
    L = 116.0 * _lab_f(Y / _WHITE[1]) - 16.0  # == kappa * y below eps
    d = X + 15.0 * Y + 3.0 * Z
    ok = d > _TINY
    d_safe = torch.where(ok, d, torch.ones_like(d))
    up = torch.where(ok, 4.0 * X / d_safe, torch.full_like(d, un))
    vp = torch.where(ok, 9.0 * Y / d_safe, torch.full_like(d, vn))
    luv = torch.stack((L, 13.0 * L * (up - un), 13.0 * L * (vp - vn)), dim=1)
    return restore(luv, was3d)


def luv_to_rgb(image: torch.Tensor) -> torch.Tensor:
    """CIE L*u*v* (D65) -> sRGB::

        Y  = Yn ((L* + 16) / 116)^3   if L* > kappa eps = 8
             Yn L* / kappa            otherwise
        u' = u* / (13 L*) + u'_n,     v' = v* / (13 L*) + v'_n
        X  = Y 9u' / (4v'),           Z  = Y (12 - 3u' - 20v') / (4v')
        rgb = linear_to_srgb(M_sRGB->XYZ^-1 (X, Y, Z))

    L* = 0 gives black; v' is floored at a tiny positive value so that
    out-of-gamut inputs stay finite.  Not clamped.
    """
    x, was3d = as4d(image)
    L, u, v = x.unbind(1)
    un, vn = _white_uv()
    Y = _WHITE[1] * _lab_finv((L + 16.0) / 116.0)
    ok = L.abs() > _TINY
    L_safe = torch.where(ok, L, torch.ones_like(L))
    up = torch.where(ok, u / (13.0 * L_safe) + un, torch.full_like(L, un))
    vp = torch.where(ok, v / (13.0 * L_safe) + vn, torch.full_like(L, vn))
    vp = vp.clamp_min(1e-6)
    X = Y * 9.0 * up / (4.0 * vp)
    Z = Y * (12.0 - 3.0 * up - 20.0 * vp) / (4.0 * vp)
    xyz = torch.stack((X, Y, Z), dim=1)
    return restore(linear_to_srgb(_apply_matrix(_inverse("xyz"), xyz)), was3d)


TO_SPACE = {"yuv": rgb_to_yuv, "ycrcb": rgb_to_ycbcr, "lab": rgb_to_lab, "luv": rgb_to_luv}
FROM_SPACE = {"yuv": yuv_to_rgb, "ycrcb": ycbcr_to_rgb, "lab": lab_to_rgb, "luv": luv_to_rgb}
# Multiplier turning the first channel into a [0, 1] luminance.
LUMA_SCALE = {"yuv": 1.0, "ycrcb": 1.0, "lab": 100.0, "luv": 100.0}


def to_space(image: torch.Tensor, space: str) -> torch.Tensor:
    """sRGB -> ``space`` (one of :data:`COLOR_SPACES`), dispatching to the
    ``rgb_to_*`` functions above."""
    return TO_SPACE[check_space(space)](image)


def from_space(image: torch.Tensor, space: str) -> torch.Tensor:
    """``space`` (one of :data:`COLOR_SPACES`) -> sRGB, not clamped."""
    return FROM_SPACE[check_space(space)](image)
