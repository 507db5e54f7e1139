"""The objective: the one place where a run's loss at one scale is put together from its terms.

    L(x) = alpha * sum_l c_l L_content,l(x) + beta * sum_l s_l E_l(x) + gamma * TV(x) + sum_k E_k(x)

* ``L_content,l = ||F_l - P_l||^2 / ||P_l||^2`` at the content layers, ``F_l`` the features of the image
  ``x`` being optimised and ``P_l`` the content image's (``nst.losses``);
* ``E_l = sum_i w_i ||G_l[m_i] - A_l^(i)||^2 / ||A_l^(i)||^2`` at the style layers, one ``StyleTerm`` per
  ``i``: the Gram matrix ``G_l`` of ``x`` (the guided ``G_l[m_i]`` where the term has a region ``m_i``,
  see ``nst.masks``) against the term's target ``A_l^(i)`` (without style masks a single term with
  ``w = 1`` and the blended target ``A_l = sum_i w_i A_l^(i)``);
* ``c_l`` and ``s_l`` the layer weights, normalised to sum to one (``weighted_sum``);
* ``TV`` the total variation of ``x`` (``config.tv_kind``);
* ``E_k`` further terms (``extra_terms``, e.g. the temporal loss of video, ``nst.temporal``): functions
  of ``x`` (``[1, 3, H, W]`` in [0, 1]) that return their weighted value;
* ``alpha, beta, gamma`` = ``config.content_weight``, ``style_weight``, ``tv_weight``.

At each scale, the style layers are those whose Gram matrix is a statistic of the painting's texture
rather than a fingerprint of its layout (``style_layers_at``): ``G_l = F_l F_l^T / M`` sums ``M = H_l W_l``
outer products of ``C_l``-vectors, so with fewer positions than channels it has rank ``M < C_l`` and
matching it pins the painting's very feature vectors in place, copying its objects (a portrait's face in
a landscape). A layer joins where ``H_l W_l >= rho C_l`` (``rho`` = ``config.min_gram_positions``), so
at the coarse scales of a coarse-to-fine run (64 px: relu5_1 is 4x4 for 512 channels) and at small
sizes the deepest layers wait until the image is large enough, and their weights are shared out among
the others (``s_l`` is normalised over the layers matched at that scale). Texture synthesis, with no
photo whose layout the painting's could replace, matches every layer at every scale (``rho = 0``).

The terms are reported by name, ``"content"``, ``"style"``, ``"tv"`` and each extra term's, and their
sum is ``L``. ``Objective`` evaluates ``L`` from the features of the whole image; ``nst.tiled``'s
``TiledObjective`` is the same objective evaluated tile by tile: it sums the content errors and Gram
matrices over tiles and hands them to the same ``feature_terms``, and adds the same ``image_terms``.
A new term is added here, and both paths have it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

import torch

from .features import layer_shape, pools_through
from .losses import content_loss, gram_matrix, relative_squared_error, total_variation, weighted_sum
from .masks import guided_gram

FeaturesFn = Callable[[torch.Tensor, Sequence[str]], "dict[str, torch.Tensor]"]
ExtraTerm = Callable[[torch.Tensor], torch.Tensor]

TERM_NAMES = ("content", "style", "tv")  # the built-in terms; with "total", names extra terms may not take


def style_layers_at(layers: Sequence[str], shape: tuple[int, int], channels: Callable[[str], int],
                    min_positions: float) -> tuple[str, ...]:
    """The ``layers`` whose feature maps at an image of ``shape`` have ``H_l W_l >= min_positions * C_l``
    (``channels(l)`` = ``C_l``); the shallowest layer always stays, so a style term always has one."""
    kept = []
    for layer in layers:
        h, w = layer_shape(shape, pools_through(layer))
        if h * w >= min_positions * channels(layer):
            kept.append(layer)
    if not kept and layers:
        kept = [min(layers, key=pools_through)]
    return tuple(l for l in layers if l in kept)


def check_extra_terms(extra_terms: Mapping[str, ExtraTerm] | None) -> dict[str, ExtraTerm]:
    """``extra_terms`` as a dict, after checking no name clashes with a built-in term or ``"total"``."""
    extra = dict(extra_terms or {})
    clash = set(extra) & {*TERM_NAMES, "total"}
    if clash:
        raise ValueError(f"extra loss term name(s) {', '.join(sorted(clash))} are taken: name them otherwise")
    return extra


@dataclass(frozen=True)
class StyleTerm:
    """One term of the style loss at one scale: ``weight * ||G_l[m] - A_l||^2 / ||A_l||^2`` per style layer."""

    weight: float
    grams: dict[str, torch.Tensor]            # the targets A_l
    masks: dict[str, torch.Tensor] | None     # the region m_l at each layer's resolution; None: everywhere

    def gram(self, layer: str, features: torch.Tensor) -> torch.Tensor:
        """``G_l`` of the image's ``features`` at ``layer``, over this term's region if it has one."""
        if self.masks is None:
            return gram_matrix(features)
        return guided_gram(features, self.masks[layer])

    def error(self, layer: str, gram: torch.Tensor) -> torch.Tensor:
        """This term's weighted error at ``layer`` for the image's Gram matrix ``gram`` there."""
        return self.weight * relative_squared_error(gram, self.grams[layer])

    def loss(self, layer: str, features: torch.Tensor) -> torch.Tensor:
        """This term's weighted error at ``layer`` for the image's ``features`` there."""
        return self.error(layer, self.gram(layer, features))


class Objective:
    """``L(x)`` at one scale (see the module notes), evaluated on the whole image.

    ``features(x, layers)`` gives ``x``'s float32 feature maps at ``layers``; ``content_targets`` are the
    content image's feature maps ``P_l`` (empty: no content term); ``style_terms`` are ``StyleTerm``s
    (empty: no style term); ``extra_terms`` map names to further terms ``E_k(x)``.
    ``evaluate(x)`` puts ``dL/dx`` in ``x.grad`` and returns ``L(x)`` with its terms; ``value(x)`` only those.
    """

    def __init__(self, features: FeaturesFn, config, content_targets: Mapping[str, torch.Tensor],
                 style_terms: Sequence[StyleTerm],
                 extra_terms: Mapping[str, ExtraTerm] | None = None) -> None:
        self.features = features
        self.config = config
        self.content_targets = dict(content_targets)
        self.style_terms = list(style_terms)
        self.style_layers = tuple(config.style_layers) if self.style_terms else ()
        self.layers = list(dict.fromkeys((*self.content_targets, *self.style_layers)))  # what VGG-19 must give
        self.extra_terms = check_extra_terms(extra_terms)

    # -- the formula, term by term ------------------------------------------------------------------

    def content(self, per_layer: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """``alpha * sum_l c_l L_content,l`` from each content layer's relative error."""
        c = self.config
        return c.content_weight * weighted_sum(per_layer, c.content_layer_weights, c.content_layers)

    def style(self, grams: Sequence[Mapping[str, torch.Tensor]]) -> torch.Tensor:
        """``beta * sum_l s_l E_l`` from the image's Gram matrices, one ``{layer: G_l}`` per style term."""
        c = self.config
        per_layer = {
            l: sum(term.error(l, g[l]) for term, g in zip(self.style_terms, grams)) for l in self.style_layers
        }
        return c.style_weight * weighted_sum(per_layer, c.style_layer_weights, c.style_layers)

    def feature_terms(self, x: torch.Tensor, content_errors: Mapping[str, torch.Tensor],
                      grams: Sequence[Mapping[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
        """The terms measured through VGG-19, ``{"content", "style", "tv": 0}`` (a term the run does not
        have is zero; TV comes with ``image_terms``)."""
        zero = x.new_zeros((), dtype=torch.float32)
        terms = {name: zero for name in TERM_NAMES}
        if self.content_targets:
            terms["content"] = self.content(content_errors)
        if self.style_terms:
            terms["style"] = self.style(grams)
        return terms

    def image_terms(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """The terms computed on the image itself: ``gamma * TV(x)`` (when ``gamma > 0``) and each ``E_k(x)``."""
        c = self.config
        terms = {}
        if c.tv_weight > 0:
            terms["tv"] = c.tv_weight * total_variation(x, c.tv_kind)
        for name, term in self.extra_terms.items():
            terms[name] = term(x)
        return terms

    def loss(self, x: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """``L(x)`` and its terms, from the features of the whole image (differentiable)."""
        return self.from_features(x, self.features(x, self.layers))

    def from_features(self, x: torch.Tensor,
                      feats: Mapping[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """``L(x)`` and its terms from ``feats``, the feature maps of the whole image ``x`` at ``self.layers``
        (differentiable through both): what ``loss`` computes after the network's pass, for a caller that
        ran the pass itself (``nst.batch`` runs one pass over several runs' images)."""
        errors = {l: content_loss(feats[l], p) for l, p in self.content_targets.items()}
        grams = [{l: term.gram(l, feats[l]) for l in self.style_layers} for term in self.style_terms]
        terms = self.feature_terms(x, errors, grams)
        terms.update(self.image_terms(x))
        return sum(terms.values()), terms

    # -- the public surface --------------------------------------------------------------------------

    def evaluate(self, x: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """``L(x)`` and its terms; ``dL/dx`` is accumulated into ``x.grad``."""
        loss, terms = self.loss(x)
        loss.backward()
        return loss, terms

    def value(self, x: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """``L(x)`` and its terms, without gradients."""
        with torch.no_grad():
            return self.loss(x)
