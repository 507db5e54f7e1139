"""The optimisation loop: image pixels are optimised so VGG-19 features match content and style.

A run is a ``StyleTransfer`` object. Iterating it yields one ``StepEvent`` per optimiser step (the
losses, the time, a preview image every ``preview_every`` steps); the command line, the app and the
tests all consume this one stream. Closing the iterator (or breaking out of the loop) cancels the run;
``result()`` always hands back the best image found so far, whatever ended the run. The per-level and
per-step bookkeeping (best image, history, previews, early stopping) is ``nst.run_state``'s
``RunState``, which the run's own loop and ``nst.batch``'s batched runner (several runs of the same
size in one pass of the network per step) both drive.

Per scale of the coarse-to-fine pyramid (one scale unless ``config.scales > 1``):

1. the content and style images are resized for this scale (style ``i`` to ``style_scale *
   style_scales[i]`` times the content's longest side), and the targets are computed once: ``P_l`` at
   the content layers, and at each style layer the blended Gram matrix ``A_l = sum_i w_i A_l^(i)`` of
   the style images (blend weights ``w_i`` normalised to sum to one);
2. the image ``x`` starts from the init (the first scale) or the previous scale's best image upsampled;
3. ``L(x) = alpha * sum_l c_l L_content,l + beta * sum_l s_l E_l + gamma * TV(x)`` (``nst.objective``,
   which puts every term together for both the whole-image and the tiled path) is minimised by
   L-BFGS (``nst.lbfgs``: one forward and backward pass per step) or Adam, with ``x`` kept in
   [0, 1] by clamping before each evaluation.

Spatial control (Gatys et al. 2017, see ``nst.masks``): with ``style_masks``, every style ``i`` has its
own term over its region ``m_i`` of the output, ``E_l = sum_i w_i ||G_l[m_i] - A_l^(i)||^2 / ||A_l^(i)||^2``
with the guided Gram ``G_l[m] = (F_l m_l)(F_l m_l)^T / sum(m_l)`` and ``w_i`` normalised to a mean of one
(so each region is styled as strongly as a single style would be). ``style_image_masks`` restrict each
target to a region of its painting, ``A_l^(i) = G_l[m'_i](style_i)``. The area no mask covers keeps the
content, or goes to the style ``default_style``.

Colour preservation (``config.preserve_color``, see ``nst.color_modes``) changes the images the losses
see before the run and the images handed out (previews and ``result()``) after each step; the
photorealistic mode (``config.photo_smoothing``, see ``nst.photoreal``) then makes the image handed out
locally an affine function of the content photo's colours, so its edges are the photo's.

Further terms (``extra_terms``, e.g. the temporal loss of video transfer, see ``nst.temporal``) are
added as they are, ``L(x) + sum_k E_k(x)``: each is a function of the image ``x`` being optimised
(``[1, 3, H, W]`` in [0, 1], at the current scale's size) that returns its weighted value, reported
under its name in ``StepEvent.losses``.

Memory (``nst.memory``): before the run starts, the peak memory of each scale is estimated (its
optimisation, and the computing of its style targets at the styles' processed sizes) and ``plan`` says
how it runs within the budget (the device's free memory, capped by ``config.max_memory``): whole when
it fits, else in tiles with the same loss and gradient (``nst.tiled``), with L-BFGS the longest history
that fits, and the style targets whole or summed over tiles. ``StyleTransfer.plan`` holds the choice.
A style image that would be processed over ``MAX_SIZE`` (a strip so narrow that its short side reaches
the network's smallest only beyond it) is refused.

A scale ends after its share of the steps, or early when the loss improved by less than
``early_stop_tol`` (relative) over ``early_stop_patience`` steps. A non-finite loss ends the run
with ``stop_reason == "nan"`` and the last good image.
"""

from __future__ import annotations

import contextlib
import math
from typing import Callable, Iterator, Mapping, Sequence

import torch
from PIL import Image

from .color_modes import finish, prepare_inputs
from .config import MAX_SIZE, TransferConfig
from .device import resolve_device, resolve_precision
from .features import VGG19Features, min_side
from .image import resize_longest, resize_tensor, to_pil, to_tensor
from .lbfgs import LBFGS
from .losses import gram_matrix
from .masks import cover_rest, guided_gram, layer_masks, mask_to_tensor, resize_mask
from .memory import plan as plan_memory
from .objective import Objective, StyleTerm, check_extra_terms, style_layers_at
from .photoreal import guided_filter
from .run_state import Best, RunState, StepEvent
from .tiled import TiledObjective, Tiling, feature_maps, tiled_grams


MIN_SIDE = 16  # short side of every level, in pixels, at least: relu5_1 sees it 16x smaller (pool5 needs 32)


def pyramid(longest: int, scales: int, min_size: int) -> list[int]:
    """Longest sides of the coarse-to-fine levels, smallest first: ``longest / 2^k``, none under ``min_size``."""
    sizes = [longest]
    while len(sizes) < scales and sizes[0] // 2 >= min_size:
        sizes.insert(0, sizes[0] // 2)
    return sizes


def split_steps(steps: int, levels: int) -> list[int]:
    """Steps per level: an equal share each, the remainder going to the finest level."""
    share, rest = divmod(steps, levels)
    return [share] * (levels - 1) + [share + rest]


class StyleTransfer:
    """One style-transfer run; iterate it for ``StepEvent``s, then call ``result()``.

    ``content`` is a PIL image (or None for texture synthesis, which needs ``size`` from the config
    and ``init="noise"``; ``content_size=(h, w)`` then sets the aspect ratio, else the first style's);
    ``styles`` a non-empty list of PIL images. ``init_image`` is used when ``config.init == "image"``.

    ``style_masks`` (one mask or None per style) confine each style to a region of the output;
    ``style_image_masks`` (one mask or None per style) use only part of each style image; masks are
    PIL images of any size (see ``nst.masks``). ``default_style`` (an index into ``styles``) paints
    the area no style mask covers, which otherwise keeps the content. ``extra_terms`` maps names to
    further loss terms ``E_k(x)`` added to the total (see the module notes).
    """

    def __init__(
        self,
        model: VGG19Features,
        content: Image.Image | None,
        styles: Sequence[Image.Image],
        config: TransferConfig = TransferConfig(),
        *,
        init_image: Image.Image | None = None,
        device: str | torch.device = "auto",
        content_size: tuple[int, int] | None = None,
        style_masks: Sequence[object | None] | None = None,
        style_image_masks: Sequence[object | None] | None = None,
        default_style: int | None = None,
        extra_terms: Mapping[str, Callable[[torch.Tensor], torch.Tensor]] | None = None,
    ) -> None:
        if not styles and config.style_weight > 0:
            raise ValueError("give at least one style image")
        for name, values in (("style blend weight", config.style_blend_weights), ("style scale", config.style_scales),
                             ("style mask", style_masks), ("style image mask", style_image_masks)):
            if values is not None and len(values) != len(styles):
                raise ValueError(
                    f"{len(values)} {name}(s) for {len(styles)} style image(s): give one per style"
                )
        if config.init == "image" and init_image is None:
            raise ValueError("init is 'image' but no init image was given")
        if content is None and config.content_weight > 0:
            raise ValueError("no content image: give one, or set content_weight to 0 for texture synthesis")
        if content is None and config.preserve_color != "off":
            raise ValueError("preserve_color takes colours from a content image: set it to 'off' for texture synthesis")
        if content is None and config.photo_smoothing > 0:
            raise ValueError("photo_smoothing follows a content photo's edges: set it to 0 for texture synthesis")
        self.style_masks = _masks(style_masks, "style mask")
        self.style_image_masks = _masks(style_image_masks, "style image mask")
        if default_style is not None:
            if self.style_masks is None:
                raise ValueError("default_style paints the area the style masks leave free: give style masks too")
            if isinstance(default_style, bool) or not isinstance(default_style, int) \
                    or not 0 <= default_style < len(styles):
                raise ValueError(f"default_style must be a style index from 0 to {len(styles) - 1}, got {default_style!r}")
        self.default_style = default_style
        self.extra_terms = check_extra_terms(extra_terms)
        self.model = model
        self.config = config
        self.device = resolve_device(device)
        self.dtype = resolve_precision(config.precision, self.device)
        self.original_content = content
        self.content, self.styles = prepare_inputs(content, styles, config.preserve_color, config.color_amount)
        self.init_image = init_image
        # For texture synthesis the output's aspect ratio comes from content_size (h, w) or the first style.
        shape_source = content if content is not None else (self.styles[0] if self.styles else None)
        if content_size is not None:
            h, w = content_size
        elif shape_source is not None:
            w, h = shape_source.size
        else:
            h = w = config.size
        self._aspect = (h, w)
        finest = self._level_shape(config.size)
        self.min_side = max(MIN_SIDE, min_side((*config.content_layers, *config.style_layers)))
        if min(finest) < self.min_side:
            raise ValueError(
                f"at size {config.size} the image would be {finest[1]}x{finest[0]} px; its short side must be at "
                f"least {self.min_side} px: raise the size or crop the image"
            )
        # Coarse levels too thin for VGG's pooling are left out (the finest level is always kept).
        self.sizes = [longest for longest in pyramid(config.size, config.scales, config.min_scale_size)
                      if longest == config.size or min(self._level_shape(longest)) >= self.min_side]
        self.steps_per_scale = split_steps(config.steps, len(self.sizes))
        shapes = [self._level_shape(longest) for longest in self.sizes]
        self.plan = plan_memory(model, shapes, config, self.device, dtype=self.dtype,
                                style_shapes=[self._style_shapes(shape) for shape in shapes])
        self.total = sum(self.steps_per_scale)
        self.stop_reason: str | None = None  # "finished", "converged", "cancelled" or "nan"
        self.history: list[dict[str, float]] = []
        self._best = Best()
        self._current: torch.Tensor | None = None
        self._iterator: Iterator[StepEvent] | None = None
        self._state: RunState | None = None  # its progress, once a driver took it (``claim``)
        self._content_colors: dict[tuple[int, int], torch.Tensor] = {}

    # -- the public surface ------------------------------------------------------------------------

    def __iter__(self) -> Iterator[StepEvent]:
        if self._iterator is None:
            self._iterator = self._run(self.claim())
        return self._iterator

    def claim(self) -> RunState:
        """The run's ``RunState``, for the one driver that steps it: its own iterator, or ``nst.batch``'s
        batched runner. ``RuntimeError`` if a driver has it already (a run is driven once)."""
        if self._state is not None:
            raise RuntimeError("this run is already being driven (iterated, or in a batch): a run runs once")
        self._state = RunState(self)
        return self._state

    def close(self) -> None:
        """Cancel the run; ``result()`` still returns the best image so far."""
        if self._iterator is not None:
            self._iterator.close()
        if self.stop_reason is None:
            self.stop_reason = "cancelled"

    def run(self) -> Image.Image:
        """Run to the end and return the result."""
        for _ in self:
            pass
        return self.result()

    @property
    def has_image(self) -> bool:
        """Whether the run has an image yet (it has once the first step began)."""
        return self._best.image is not None or self._current is not None

    def result(self) -> Image.Image:
        """The best image so far (lowest loss at the finest scale reached) at the output's size, colours
        preserved as configured."""
        return to_pil(self._finish(self.result_tensor()))

    # -- internals -----------------------------------------------------------------------------------

    def _level_shape(self, longest: int) -> tuple[int, int]:
        h, w = self._aspect
        scale = longest / max(h, w)
        return max(1, round(h * scale)), max(1, round(w * scale))

    def _style_side(self, style: Image.Image, shape: tuple[int, int], scale: float) -> int:
        """The longest side style image ``style`` is processed at for a scale of ``shape``: ``style_scale *
        scale`` times the scale's longest side, more if its short side would otherwise be under ``min_side``."""
        w, h = style.size
        return max(round(max(shape) * self.config.style_scale * scale),
                   math.ceil(self.min_side * max(w, h) / min(w, h)))

    def _style_shapes(self, shape: tuple[int, int]) -> list[tuple[int, int]]:
        """``(H, W)`` of each style image with a weight, as processed for a scale of ``shape``; ``ValueError``
        for one that would be processed over ``MAX_SIZE`` (a narrow strip, whose short side needs it)."""
        c = self.config
        n = len(self.styles)
        shapes = []
        for i, (weight, scale, style) in enumerate(zip(c.style_blend_weights or (1.0,) * n,
                                                       c.style_scales or (1.0,) * n, self.styles)):
            if weight == 0 or c.style_weight == 0:
                continue  # not measured at all
            longest = self._style_side(style, shape, scale)
            if longest > MAX_SIZE:
                raise ValueError(f"style image {i + 1} is {style.width}x{style.height} px: for its short side to "
                                 f"reach {self.min_side} px it would be processed {longest} px long, over the "
                                 f"limit of {MAX_SIZE} px; crop it closer to a square")
            w, h = style.size
            ratio = longest / max(w, h)
            shapes.append((max(1, round(h * ratio)), max(1, round(w * ratio))))
        return shapes

    def _features(self, image: torch.Tensor, layers: Sequence[str]) -> dict[str, torch.Tensor]:
        autocast = (
            torch.autocast(self.device.type, dtype=torch.bfloat16)
            if self.dtype == torch.bfloat16
            else contextlib.nullcontext()
        )
        with autocast:
            feats = self.model(image, layers, pooling=self.config.pooling)
        return {k: v.float() for k, v in feats.items()}

    def _targets(self, shape: tuple[int, int], tiling: Tiling | None = None, style_tiling: Tiling | None = None):
        c = self.config
        content_targets = {}
        content_tensor = None
        if self.content is not None:
            content_tensor = to_tensor(self.content.resize((shape[1], shape[0]), Image.LANCZOS), self.device)
            if c.content_weight > 0:
                with torch.no_grad():
                    if tiling is None:
                        content_targets = self._features(content_tensor, c.content_layers)
                    else:
                        content_targets = feature_maps(self._features, content_tensor, c.content_layers, tiling)
        return content_tensor, content_targets, self._style_terms(shape, style_tiling)

    @torch.no_grad()
    def _style_grams(self, shape: tuple[int, int], tiling: Tiling | None = None) -> list[dict[str, torch.Tensor] | None]:
        """Each style's Gram matrices ``A_l^(i)`` (of its masked region if it has one), whole or summed over
        ``tiling``'s tiles (the plan's choice); None for weight 0."""
        c = self.config
        n = len(self.styles)
        blend = c.style_blend_weights or (1.0,) * n
        scales = c.style_scales or (1.0,) * n
        image_masks = self.style_image_masks or [None] * n
        grams = []
        for weight, scale, style, mask in zip(blend, scales, self.styles, image_masks):
            if weight == 0:
                grams.append(None)
                continue
            # The style image's short side is kept at min_side or more, like the output's.
            s = to_tensor(resize_longest(style, self._style_side(style, shape, scale)), self.device)
            if tiling is not None:  # measured in tiles, like the image it is matched to
                masks = None if mask is None else \
                    layer_masks(resize_mask(mask, s.shape[-2:]).to(self.device), c.style_layers)
                grams.append(tiled_grams(self._features, s, c.style_layers, tiling, masks))
                continue
            feats = self._features(s, c.style_layers)
            if mask is None:
                grams.append({l: gram_matrix(feats[l]) for l in c.style_layers})
            else:
                masks = layer_masks(resize_mask(mask, s.shape[-2:]).to(self.device), c.style_layers)
                grams.append({l: guided_gram(feats[l], masks[l]) for l in c.style_layers})
        return grams

    def _style_terms(self, shape: tuple[int, int], tiling: Tiling | None = None) -> list[StyleTerm]:
        """Without style masks one term, the blend ``A_l = sum_i w_i A_l^(i)``; with them one term per style."""
        c = self.config
        if c.style_weight == 0 or not self.styles:
            return []
        blend = c.style_blend_weights or (1.0,) * len(self.styles)
        total = float(sum(blend))
        grams = self._style_grams(shape, tiling)
        if self.style_masks is None:
            blended = {
                l: sum(w / total * g[l] for w, g in zip(blend, grams) if g is not None) for l in c.style_layers
            }
            return [StyleTerm(1.0, blended, None)]
        masks = [None if m is None else resize_mask(m, shape).to(self.device) for m in self.style_masks]
        if self.default_style is not None:
            masks = cover_rest(masks, self.default_style)
        terms = []
        for w, g, m in zip(blend, grams, masks):
            if g is not None:
                at_layers = None if m is None else layer_masks(m, c.style_layers)
                terms.append(StyleTerm(w * len(blend) / total, g, at_layers))
        return terms

    def _initial(self, shape: tuple[int, int], content: torch.Tensor | None) -> torch.Tensor:
        c = self.config
        if c.init == "content" and content is not None:
            return content.clone()
        if c.init == "style" and self.styles:
            return to_tensor(self.styles[0].resize((shape[1], shape[0]), Image.LANCZOS), self.device)
        if c.init == "image":
            return to_tensor(self.init_image.convert("RGB").resize((shape[1], shape[0]), Image.LANCZOS), self.device)
        generator = torch.Generator().manual_seed(c.seed)
        return torch.rand((1, 3, *shape), generator=generator).to(self.device)

    def _finish(self, image: torch.Tensor) -> torch.Tensor:
        """``image`` with the content's colours put back as ``config.preserve_color`` says, then smoothed
        along the photo's edges if ``config.photo_smoothing`` is on (its radius scaled to this size)."""
        c = self.config
        if c.preserve_color in ("off", "histogram") and c.photo_smoothing == 0:
            return image
        shape = tuple(image.shape[-2:])
        if shape not in self._content_colors:
            resized = self.original_content.resize((shape[1], shape[0]), Image.LANCZOS)
            self._content_colors = {shape: to_tensor(resized, image.device)}
        content = self._content_colors[shape]
        image = finish(image, content, c.preserve_color, c.color_amount)
        if c.photo_smoothing > 0:
            radius = max(1, round(c.photo_smoothing * max(shape) / c.size))
            image = guided_filter(image, content, radius)
        return image

    def _optimizer(self, x: torch.Tensor, history: int = 50) -> LBFGS | torch.optim.Adam:
        if self.config.optimizer == "lbfgs":
            return LBFGS(x, lr=self.config.learning_rate, history_size=history)
        return torch.optim.Adam([x], lr=self.config.learning_rate)

    def level_config(self, shape: tuple[int, int]) -> TransferConfig:
        """The settings at a scale of ``shape``: the style layers whose Gram matrices are texture statistics
        there (``nst.objective.style_layers_at``), their layer weights with them. Texture synthesis (no
        content image) matches every layer at every scale, as Gatys et al. (2015) do: with no photo there is
        no layout for the painting's to replace, and without the deep layers the texture does not cover
        the canvas (a 256 x 192 Kandinsky texture left a third of it a flat grey)."""
        c = self.config
        rho = c.min_gram_positions if self.content is not None else 0.0
        layers = style_layers_at(c.style_layers, shape, self.model.channels, rho)
        if layers == c.style_layers:
            return c
        weights = None if c.style_layer_weights is None else \
            tuple(w for l, w in zip(c.style_layers, c.style_layer_weights) if l in layers)
        if weights is not None and sum(weights) <= 0:
            return c  # the layers that stay carry no weight: keep them all rather than match nothing
        return c.replace(style_layers=layers, style_layer_weights=weights)

    def level_objective(self, level: int, shape: tuple[int, int]):
        """This scale's ``(objective, content)``: its ``Objective``, whole-image or tiled as the plan says
        (``objective.evaluate(x)`` puts ``dL/dx`` in ``x.grad`` and returns ``L(x)`` and its terms,
        ``objective.value(x)`` only those), and the content image at this scale (None without one)."""
        tiling = self.plan.levels[level].tiling
        content, content_targets, style_terms = self._targets(shape, tiling, self.plan.levels[level].style_tiling)
        config = self.level_config(shape)
        if tiling is None:
            objective = Objective(self._features, config, content_targets, style_terms, self.extra_terms)
        else:
            objective = TiledObjective(self._features, config, shape, tiling, content_targets, style_terms,
                                       self.extra_terms, seed=self.config.seed + level)
        return objective, content

    def _objective(self, level: int, shape: tuple[int, int]):
        """This scale's ``(evaluate, value, content)``: ``level_objective``'s objective's two methods."""
        objective, content = self.level_objective(level, shape)
        return objective.evaluate, objective.value, content

    def _run(self, state: RunState) -> Iterator[StepEvent]:
        """The run on its own: per step one evaluation (``state.closure``) and one optimiser step."""
        self.model.to(self.device)
        try:
            while state.begin_level():
                while not state.level_over:
                    state.optimizer.step(state.closure)
                    event = state.after_step()
                    if event is None:  # the loss was not finite
                        return
                    yield event
                state.end_level()
            state.finish()
        except GeneratorExit:
            self.stop_reason = self.stop_reason or "cancelled"
            raise
        finally:
            state.release()

    def result_tensor(self) -> torch.Tensor:
        """The best image so far as a ``[1, 3, H, W]`` tensor on the run's device at the output's size, as
        optimised: before colour preservation (what a warm start continues from). A run that ended at a
        coarse scale (cancelled, NaN) has its image there upsampled to the output's size."""
        return resize_tensor(self._best_so_far(), self._level_shape(self.sizes[-1])).clamp(0, 1)

    def _best_so_far(self) -> torch.Tensor:
        """The best image at the scale reached (what the next scale continues from)."""
        best = self._best.image if self._best.image is not None else self._current
        if best is None:
            raise RuntimeError("the run has not started: iterate it first")
        return best.detach().clamp(0, 1)


def _masks(masks: Sequence[object | None] | None, name: str) -> list[torch.Tensor | None] | None:
    """Masks as ``[1, 1, H, W]`` tensors (None stays None); None when no mask is given at all."""
    if masks is None or all(m is None for m in masks):
        return None
    return [None if m is None else mask_to_tensor(m, f"{name} {i + 1}") for i, m in enumerate(masks)]
