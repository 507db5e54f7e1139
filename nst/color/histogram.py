"""Colour histogram matching (Gatys, Bethge, Hertzmann & Shechtman 2016, section 2.1).

The style image's RGB distribution is linearly transformed so that its mean and covariance equal
the content's (:func:`match_color_histogram`)::

    x' = A (x - mu_s) + mu_c,   with   A Sigma_s A^T = Sigma_c
"""

from __future__ import annotations

from typing import Tuple

import torch

from .spaces import as4d, restore

#: Modes accepted by :func:`match_color_histogram`.
HISTOGRAM_MODES: Tuple[str, ...] = ("cholesky", "pca", "sym")


def _mean_cov(x: torch.Tensor):
    """Per-image RGB mean [N,3,1] and population covariance [N,3,3]."""
    flat = x.reshape(x.shape[0], 3, -1)
    mu = flat.mean(dim=2, keepdim=True)
    d = flat - mu
    return mu, d @ d.transpose(1, 2) / flat.shape[2]


def _sym_pow(cov: torch.Tensor, p: float) -> torch.Tensor:
    evals, evecs = torch.linalg.eigh(cov)
    return evecs @ torch.diag_embed(evals.clamp_min(1e-12) ** p) @ evecs.transpose(-1, -2)


def _pca_basis(cov: torch.Tensor):
    """Eigen-decomposition with a sign convention: each eigenvector's
    components sum to a non-negative value (avoids arbitrary colour flips)."""
    evals, evecs = torch.linalg.eigh(cov)
    sign = torch.where(evecs.sum(dim=-2, keepdim=True) < 0, -1.0, 1.0).to(evecs.dtype)
    return evals.clamp_min(1e-12), evecs * sign


def match_color_histogram(style: torch.Tensor, content: torch.Tensor,
                          mode: str = "cholesky", eps: float = 1e-5) -> torch.Tensor:
    """Mean/covariance colour transfer of ``style`` onto ``content``'s palette.

    Gatys et al. (2016) §2.1, colour histogram matching: every style pixel
    ``x`` (RGB column vector) becomes::

        x' = A (x - mu_s) + mu_c,   so that   A Sigma_s A^T = Sigma_c

    with ``mu``, ``Sigma`` the RGB mean and covariance of each image,
    regularised as ``Sigma + eps I``.  Choices of ``A``:

    * ``"sym"``:      ``A = Sigma_c^{1/2} Sigma_s^{-1/2}`` with symmetric
      matrix square roots (eigendecomposition ``Sigma = Q diag(l) Q^T``,
      ``Sigma^p = Q diag(l^p) Q^T``).
    * ``"cholesky"``: ``A = L_c L_s^{-1}`` with ``Sigma = L L^T``.
    * ``"pca"``:      ``A = Q_c diag(l_c)^{1/2} diag(l_s)^{-1/2} Q_s^T``
      (eigenvectors paired by ascending eigenvalue; each eigenvector's sign
      chosen so its components sum to >= 0).

    Style and content may have different spatial sizes; batches are matched
    image-by-image (a batch of 1 broadcasts).  The output has the style's
    shape and is clamped to [0, 1].  Statistics are computed in float64.
    """
    if not isinstance(mode, str) or mode.strip().lower() not in HISTOGRAM_MODES:
        raise ValueError(
            f"unknown mode {mode!r}; valid choices are {', '.join(HISTOGRAM_MODES)}"
        )
    mode = mode.strip().lower()
    eps = float(eps)
    if not eps >= 0.0:
        raise ValueError(f"eps must be >= 0, got {eps}")
    s4, s3d = as4d(style, "style")
    c4, _ = as4d(content, "content")
    n = max(s4.shape[0], c4.shape[0])
    if s4.shape[0] not in (1, n) or c4.shape[0] not in (1, n):
        raise ValueError(
            f"batch sizes of style ({s4.shape[0]}) and content ({c4.shape[0]}) are incompatible"
        )
    s64, c64 = s4.double(), c4.double()
    mu_s, cov_s = _mean_cov(s64)
    mu_c, cov_c = _mean_cov(c64)
    eye = torch.eye(3, dtype=torch.float64, device=s4.device)
    cov_s = cov_s + eps * eye
    cov_c = cov_c + eps * eye
    if mode == "sym":
        A = _sym_pow(cov_c, 0.5) @ _sym_pow(cov_s, -0.5)
    elif mode == "cholesky":
        L_s = torch.linalg.cholesky(cov_s)
        L_c = torch.linalg.cholesky(cov_c)
        L_s_inv = torch.linalg.solve_triangular(L_s, eye.expand_as(L_s), upper=False)
        A = L_c @ L_s_inv
    else:  # pca
        l_s, Q_s = _pca_basis(cov_s)
        l_c, Q_c = _pca_basis(cov_c)
        A = Q_c @ torch.diag_embed((l_c / l_s).sqrt()) @ Q_s.transpose(-1, -2)
    flat = s64.reshape(s4.shape[0], 3, -1)
    out = A @ (flat - mu_s) + mu_c
    out = out.reshape(n, 3, *s4.shape[-2:]).to(style.dtype).clamp(0.0, 1.0)
    return restore(out, s3d)
