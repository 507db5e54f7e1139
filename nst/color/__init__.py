"""Colour preservation for Gatys-style neural style transfer.

Implements the two strategies of Gatys, Bethge, Hertzmann & Shechtman (2016),
"Preserving color in neural artistic style transfer":

* **Luminance-only transfer / colour swap.**  The image is split into a
  luminance channel and two chroma channels in a luma/chroma colour space.
  After optimisation the luminance of the stylised image is recombined with
  the chroma of the content image (:func:`combine_luminance`,
  :func:`preserve_color`).  Before optimisation the style luminance can be
  matched to the content luminance (:func:`match_luminance`)::

      L_s' = sigma_c / sigma_s * (L_s - mu_s) + mu_c

* **Colour histogram matching.**  The style image's RGB distribution is
  linearly transformed so that its mean and covariance equal the content's
  (:func:`match_color_histogram`)::

      x' = A (x - mu_s) + mu_c,   with   A Sigma_s A^T = Sigma_c

Supported colour spaces (all conversions are differentiable torch ops):

* ``"yuv"``   -- BT.601 analog YUV.
* ``"ycrcb"`` -- BT.601 full-range YCbCr (JPEG/JFIF), Y in [0, 1], Cb/Cr
  centred at 0.5 (channel order Y, Cb, Cr).
* ``"lab"``   -- CIE 1976 L*a*b*, D65 white, via linear sRGB and XYZ,
  L* in [0, 100].
* ``"luv"``   -- CIE 1976 L*u*v*, D65 white, via linear sRGB and XYZ.

The modules: ``nst.color.spaces`` (the conversions), ``nst.color.transfer`` (luminance transfer,
colour swap, ``preserve_color``) and ``nst.color.histogram`` (histogram matching).

Conventions: images are float tensors of shape ``[N, 3, H, W]`` (usually
``N == 1``) or ``[3, H, W]`` holding sRGB values in [0, 1].  Colour
conversions return a tensor of the same rank as their input and do not clamp,
so that round trips are exact; the recombination functions clamp their
inputs and outputs to [0, 1].
"""

from __future__ import annotations

from .histogram import HISTOGRAM_MODES, match_color_histogram
from .transfer import combine_luminance, luminance, luminance_to_rgb, match_luminance, preserve_color
from .spaces import (
    COLOR_SPACES, from_space, lab_to_rgb, linear_to_srgb, luv_to_rgb, rgb_to_lab, rgb_to_luv, rgb_to_xyz,
    rgb_to_ycbcr, rgb_to_yuv, srgb_to_linear, to_space, xyz_to_rgb, ycbcr_to_rgb, yuv_to_rgb,
)

__all__ = [
    "COLOR_SPACES",
    "HISTOGRAM_MODES",
    "rgb_to_yuv",
    "yuv_to_rgb",
    "rgb_to_ycbcr",
    "ycbcr_to_rgb",
    "rgb_to_lab",
    "lab_to_rgb",
    "rgb_to_luv",
    "luv_to_rgb",
    "srgb_to_linear",
    "linear_to_srgb",
    "rgb_to_xyz",
    "xyz_to_rgb",
    "to_space",
    "from_space",
    "luminance",
    "match_luminance",
    "combine_luminance",
    "luminance_to_rgb",
    "match_color_histogram",
    "preserve_color",
]
