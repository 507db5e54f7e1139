"""Tiled optimisation: images larger than fit through VGG-19 at once, with the exact whole-image loss.

The image ``x`` stays whole; only the network sees it in pieces. At every step a grid cuts ``x`` into
tiles. A tile is a *core* (the pixels it is responsible for) plus a *halo* of ``h`` pixels on each
side, cut from ``x`` and run through VGG-19 on its own.

Why the core's features are exact. A feature at layer ``l`` (stride ``s_l = 2^p``, ``p`` poolings)
depends only on the pixels within its receptive field: ``r`` pixels either side of its own ``s_l x
s_l`` block (``r = 70`` at relu5_1, 38 at relu4_2; ``receptive_margin``). With ``h >= r`` the tile's
zero padding never reaches a core feature, and with every cut on a multiple of the deepest layer's
stride ``S`` (16 at relu5_1) the tile's pooling windows are the whole image's. So the core's features
at every layer are exactly the whole image's features there (up to float rounding), and the cores of
one grid partition every feature map: ``F_l = union_t F_l^(t)`` with no overlap.

The losses, summed over the cores ``t`` (``F_t`` a core's ``[N, M_t]`` features at layer ``l``):

* content: ``L_c,l = ||F - P||^2 / ||P||^2 = sum_t ||F_t - P_t||^2 / ||P||^2``, with ``P`` the content
  image's features, computed once per scale in tiles and kept whole (``feature_maps``);
* style: ``G_l = S_l / M`` with ``S_l = sum_t F_t F_t^T`` and ``M = sum_t M_t`` (the *global* Gram; with
  a mask ``m`` the guided ``S_l = sum_t (F_t m_t)(F_t m_t)^T`` and ``M = sum(m_l)``), and
  ``E_l = ||G_l - A_l||^2 / ||A_l||^2``. The style targets ``A_l`` are Gram sums over tiles the same
  way (``tiled_grams``), so a painting larger than fits is measured whole too.

One step runs two passes over the tiles of one grid:

1. without gradients: every tile's content error and Gram sum ``F_t F_t^T``, which give the loss
   ``L(x)`` exactly and, by autograd on the small Gram matrices alone, ``D_l = dE/dG_l``;
2. with gradients, tile by tile: ``G_l`` is linear in each ``F_t F_t^T`` with the other tiles held
   fixed, so ``dE/dF_t = d/dF_t <D_l, F_t F_t^T / M>`` (the brief ``G = (S_others + F_t F_t^T) / M``,
   differentiated at ``S_others = S_l - F_t F_t^T``). The tile's surrogate

       L_t = alpha sum_l c_l ||F_t - P_t||^2 / ||P||^2 + sum_l <D_l, F_t F_t^T> / M

   has the gradient of ``L`` through the tile's core features; its backward goes to the whole tile,
   halo included, and is *added* into ``x.grad``. A pixel near a cut is in the receptive field of
   features on both sides; each core's backward carries the part through its own features, so the sum
   over tiles is the whole-image gradient ``dL/dx = sum_t sum_{p in core t} dL/dF_p dF_p/dx`` with
   every feature counted exactly once. (Keeping only each core's own pixels' gradient would drop the
   neighbours' share near every cut.)

Total variation and any extra terms act on the whole ``x`` (they are cheap). Then one optimiser step
on the whole ``x``. The peak memory is one tile's activations plus the whole-image tensors.

The grid moves every step: its offset (a multiple of ``S``, seeded) changes at each step, so even where
the features are not exact (a halo set below the receptive field, bfloat16 rounding that depends on
the tile's size) no seam stays in one place long enough to show.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterator, Mapping, Sequence

import torch

from .features import LAYER_INDEX, LAYER_NAMES, deepest, layer_shape, pools_through
from .objective import ExtraTerm, FeaturesFn, Objective, StyleTerm


def receptive_margin(layer: str) -> int:
    """Pixels either side of a feature's own ``s x s`` block that it depends on (70 at relu5_1).

    Walking back from one feature: a 3x3 convolution widens the input range by one each side, a 2x2
    pooling maps ``[lo, hi]`` to ``[2 lo, 2 hi + 1]``.
    """
    lo = hi = 0
    for name in reversed(LAYER_NAMES[: LAYER_INDEX[layer] + 1]):
        if name.startswith("conv"):
            lo, hi = lo - 1, hi + 1
        elif name.startswith("pool"):
            lo, hi = 2 * lo, 2 * hi + 1
    stride = 2 ** pools_through(layer)
    return max(-lo, hi - (stride - 1))


@dataclass(frozen=True)
class Tiling:
    """How a scale is cut: cores of ``tile`` pixels (square, at most), ``halo`` pixels around each, cuts
    on multiples of ``stride``. ``for_layers`` gives the exact choice for a set of layers."""

    tile: int
    halo: int
    stride: int

    def __post_init__(self) -> None:
        if self.stride < 1 or self.tile < self.stride or self.tile % self.stride or self.halo < 0 \
                or self.halo % self.stride:
            raise ValueError(f"tile ({self.tile}) and halo ({self.halo}) must be multiples of the stride "
                             f"({self.stride}), the tile at least one stride")

    @classmethod
    def for_layers(cls, layers: Sequence[str], tile: int, halo: int | None = None) -> "Tiling":
        """Cores of about ``tile`` px (rounded down to the stride) for ``layers``; the halo defaults to the
        deepest layer's receptive margin, rounded up to the stride, which makes the features exact."""
        last = deepest(layers)
        stride = 2 ** pools_through(last)
        if halo is None:
            halo = receptive_margin(last)
        halo = stride * math.ceil(halo / stride)
        return cls(max(stride, tile // stride * stride), halo, stride)


@dataclass(frozen=True)
class Tile:
    """One piece of a grid: the core ``[y0, y1) x [x0, x1)`` and the window (core and halo) cut from the image."""

    core: tuple[int, int, int, int]     # y0, y1, x0, x1
    window: tuple[int, int, int, int]   # y0, y1, x0, x1

    def cut(self, image: torch.Tensor) -> torch.Tensor:
        y0, y1, x0, x1 = self.window
        return image[..., y0:y1, x0:x1]

    def core_of(self, features: torch.Tensor, pools: int, shape: tuple[int, int]) -> torch.Tensor:
        """The core's part of the window's ``features`` at a layer after ``pools`` poolings."""
        return features[..., self.rows(pools, shape, local=True), self.cols(pools, shape, local=True)]

    def rows(self, pools: int, shape: tuple[int, int], local: bool = False) -> slice:
        return _span(self.core[0], self.core[1], self.window[0] if local else 0, shape[0], pools)

    def cols(self, pools: int, shape: tuple[int, int], local: bool = False) -> slice:
        return _span(self.core[2], self.core[3], self.window[2] if local else 0, shape[1], pools)


def _span(start: int, end: int, origin: int, length: int, pools: int) -> slice:
    """Feature indices of pixels ``[start, end)`` after ``pools`` poolings, counted from pixel ``origin``.

    Cuts sit on multiples of the stride, so each maps to a whole feature index; the image's last cut
    maps to the last feature (pooling rounds the size down).
    """
    stop = length >> pools if end >= length else end >> pools
    return slice((start >> pools) - (origin >> pools), stop - (origin >> pools))


def _cuts(length: int, tile: int, offset: int, stride: int) -> list[tuple[int, int]]:
    if tile >= length:
        return [(0, length)]
    bounds = [0, *range(offset if offset else tile, length, tile), length]
    if len(bounds) > 2 and length - bounds[-2] < stride:
        del bounds[-2]  # a last piece thinner than one stride has no feature of its own at the deepest layer
    return list(zip(bounds, bounds[1:]))


def grid(shape: tuple[int, int], tiling: Tiling, offset: tuple[int, int] = (0, 0)) -> list[Tile]:
    """The tiles covering an image of ``shape = (H, W)``: cuts at ``offset + k * tile`` in each direction
    (a last piece thinner than the stride joins the one before it)."""
    h, w = shape
    tiles = []
    for y0, y1 in _cuts(h, tiling.tile, offset[0], tiling.stride):
        for x0, x1 in _cuts(w, tiling.tile, offset[1], tiling.stride):
            window = (max(0, y0 - tiling.halo), min(h, y1 + tiling.halo),
                      max(0, x0 - tiling.halo), min(w, x1 + tiling.halo))
            tiles.append(Tile((y0, y1, x0, x1), window))
    return tiles


class MovingOffsets:
    """Seeded grid offsets (multiples of the stride below the tile size) that change at every draw:
    each direction the image is cut in moves to another of its possible offsets."""

    def __init__(self, shape: tuple[int, int], tiling: Tiling, seed: int) -> None:
        self.choices = [tiling.tile // tiling.stride if length > tiling.tile else 1 for length in shape]
        self.stride = tiling.stride
        self.generator = torch.Generator().manual_seed(seed)
        self.current = [0, 0]

    def __iter__(self) -> Iterator[tuple[int, int]]:
        return self

    def __next__(self) -> tuple[int, int]:
        for d, n in enumerate(self.choices):
            if n > 1:
                shift = 1 + int(torch.randint(n - 1, (1,), generator=self.generator))
                self.current[d] = (self.current[d] + shift) % n
        return self.current[0] * self.stride, self.current[1] * self.stride


@torch.no_grad()
def feature_maps(features: FeaturesFn, image: torch.Tensor, layers: Sequence[str],
                 tiling: Tiling) -> dict[str, torch.Tensor]:
    """Whole feature maps of ``image`` at ``layers``, computed tile by tile (what ``features`` would give
    for the whole image, without its peak memory)."""
    shape = tuple(image.shape[-2:])
    out: dict[str, torch.Tensor] = {}
    for tile in grid(shape, tiling):
        feats = features(tile.cut(image), layers)
        for layer in layers:
            p = pools_through(layer)
            core = tile.core_of(feats[layer], p, shape)
            if layer not in out:
                out[layer] = core.new_empty((image.shape[0], core.shape[1], *layer_shape(shape, p)))
            out[layer][..., tile.rows(p, shape), tile.cols(p, shape)] = core
    return out


def _gram_sum(core: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """``sum F F^T`` (unnormalised) over a core's positions, optionally weighted by the mask ``m`` as ``(F m)(F m)^T``."""
    f = core.float() if mask is None else core.float() * mask
    f = f.reshape(f.shape[0], f.shape[1], -1)
    return torch.bmm(f, f.transpose(1, 2))


@torch.no_grad()
def tiled_grams(features: FeaturesFn, image: torch.Tensor, layers: Sequence[str], tiling: Tiling,
                masks: Mapping[str, torch.Tensor] | None = None) -> dict[str, torch.Tensor]:
    """Gram matrices ``G_l = sum_t F_t F_t^T / M`` of a whole image from its tiles (with ``masks`` at each
    layer's resolution, the guided ``sum_t (F_t m_t)(F_t m_t)^T / sum(m_l)``)."""
    shape = tuple(image.shape[-2:])
    sums: dict[str, torch.Tensor] = {}
    for tile in grid(shape, tiling):
        feats = features(tile.cut(image), layers)
        for layer in layers:
            p = pools_through(layer)
            mask = None if masks is None else masks[layer][..., tile.rows(p, shape), tile.cols(p, shape)]
            part = _gram_sum(tile.core_of(feats[layer], p, shape), mask)
            sums[layer] = sums[layer] + part if layer in sums else part
    return {layer: sums[layer] / _positions(shape, layer, masks) for layer in layers}


def _positions(shape: tuple[int, int], layer: str, masks: Mapping[str, torch.Tensor] | None):
    """``M``: the feature map's positions at ``layer``, or ``sum(m_l)`` with a mask."""
    if masks is None:
        h, w = layer_shape(shape, pools_through(layer))
        return h * w
    return masks[layer].sum().clamp_min(1e-8)


class TiledObjective(Objective):
    """The objective of ``nst.objective`` at one scale, evaluated tile by tile (see the module notes).

    ``content_targets`` are whole feature maps ``P_l`` (from ``feature_maps``); ``style_terms`` are
    ``StyleTerm``s (weight, targets ``A_l``, masks at each layer's resolution or None); ``extra_terms``
    act on the whole image. ``evaluate(x)`` adds ``dL/dx`` into ``x.grad`` and returns ``L(x)`` with its
    terms; ``value(x)`` only the loss.
    """

    def __init__(self, features: FeaturesFn, config, shape: tuple[int, int], tiling: Tiling,
                 content_targets: Mapping[str, torch.Tensor], style_terms: Sequence[StyleTerm],
                 extra_terms: Mapping[str, ExtraTerm] | None = None,
                 seed: int = 0) -> None:
        super().__init__(features, config, content_targets, style_terms, extra_terms)
        self.shape = tuple(shape)
        self.tiling = tiling
        self.content_norms = {l: p.float().pow(2).sum() + 1e-8 for l, p in self.content_targets.items()}
        self.offsets = MovingOffsets(self.shape, tiling, seed)
        self.grids: list[list[Tile]] = []  # the grid of each evaluation so far (the last few)

    # -- one pass of each kind -----------------------------------------------------------------------

    def _content(self, tile: Tile, feats: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Each content layer's ``||F_t - P_t||^2`` over the tile's core."""
        out = {}
        for layer, target in self.content_targets.items():
            p = pools_through(layer)
            core = tile.core_of(feats[layer], p, self.shape).float()
            out[layer] = (core - target[..., tile.rows(p, self.shape), tile.cols(p, self.shape)]).pow(2).sum()
        return out

    def _relative(self, errors: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Squared errors (over the image or a tile's core) relative to the content targets' norms ``||P||^2``."""
        return {l: errors[l] / self.content_norms[l] for l in self.content_targets}

    def _grams(self, tile: Tile, feats: Mapping[str, torch.Tensor]) -> list[dict[str, torch.Tensor]]:
        """Each style term's Gram sums over the tile's core, ``(F_t m_t)(F_t m_t)^T`` per style layer."""
        out = []
        for term in self.style_terms:
            sums = {}
            for layer in self.style_layers:
                p = pools_through(layer)
                mask = None if term.masks is None else \
                    term.masks[layer][..., tile.rows(p, self.shape), tile.cols(p, self.shape)]
                sums[layer] = _gram_sum(tile.core_of(feats[layer], p, self.shape), mask)
            out.append(sums)
        return out

    @torch.no_grad()
    def _first_pass(self, x: torch.Tensor, tiles: Sequence[Tile]):
        errors = {l: x.new_zeros((), dtype=torch.float32) for l in self.content_targets}
        sums = [{} for _ in self.style_terms]
        for tile in tiles:
            feats = self.features(tile.cut(x), self.layers)
            for l, e in self._content(tile, feats).items():
                errors[l] += e
            for total, part in zip(sums, self._grams(tile, feats)):
                for l, g in part.items():
                    total[l] = total[l] + g if l in total else g
            del feats
        grams = [{l: s[l] / _positions(self.shape, l, term.masks) for l in self.style_layers}
                 for term, s in zip(self.style_terms, sums)]
        return self._relative(errors), grams

    def _next_grid(self) -> list[Tile]:
        tiles = grid(self.shape, self.tiling, next(self.offsets))
        self.grids = [*self.grids[-9:], tiles]
        return tiles

    # -- the public surface --------------------------------------------------------------------------

    def value(self, x: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """``L(x)`` and its terms, without gradients."""
        with torch.no_grad():
            errors, grams = self._first_pass(x, grid(self.shape, self.tiling))
            terms = self.feature_terms(x, errors, grams)
            terms.update(self.image_terms(x))
        return sum(terms.values()), terms

    def evaluate(self, x: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """``L(x)`` and its terms; ``dL/dx`` is added into ``x.grad`` (which starts at zero if None)."""
        tiles = self._next_grid()
        errors, grams = self._first_pass(x, tiles)
        # D_l = dE/dG_l, by autograd through the small Gram matrices only.
        leaves = [{l: g.detach().requires_grad_(True) for l, g in term.items()} for term in grams]
        with torch.enable_grad():
            terms = self.feature_terms(x, errors, leaves)
            if self.style_terms:
                flat = [g for term in leaves for g in term.values()]
                slopes = torch.autograd.grad(terms["style"], flat)
                it = iter(slopes)
                directions = [{l: next(it) / _positions(self.shape, l, term.masks) for l in self.style_layers}
                              for term in self.style_terms]
            else:
                directions = []
        terms = {k: v.detach() for k, v in terms.items()}
        if x.grad is None:
            x.grad = torch.zeros_like(x)
        for tile in tiles:
            piece = tile.cut(x.detach()).requires_grad_(True)
            with torch.enable_grad():
                feats = self.features(piece, self.layers)
                surrogate = piece.new_zeros((), dtype=torch.float32)
                if self.content_targets:
                    surrogate = surrogate + self.content(self._relative(self._content(tile, feats)))
                for direction, part in zip(directions, self._grams(tile, feats)):
                    for l, g in part.items():
                        surrogate = surrogate + (direction[l] * g).sum()
            surrogate.backward()
            y0, y1, x0, x1 = tile.window
            x.grad[..., y0:y1, x0:x1] += piece.grad
            del feats, surrogate, piece
        with torch.enable_grad():  # total variation and the extra terms, on the whole image
            image = self.image_terms(x)
            terms.update(image)
            if image:
                whole = sum(image.values())
                if whole.requires_grad:
                    whole.backward()
        terms = {k: v.detach() for k, v in terms.items()}
        return sum(terms.values()), terms
