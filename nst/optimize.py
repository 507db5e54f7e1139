"""The optimisation loop: image pixels are optimised so VGG-19 features match content and style.

A run is a ``StyleTransfer`` object. Iterating it yields one ``StepEvent`` per optimiser step (the
losses, the time, a preview image every ``preview_every`` steps); the command line, the app and the
tests all consume this one stream. Closing the iterator (or breaking out of the loop) cancels the run;
``result()`` always hands back the best image found so far, whatever ended the run.

Per scale of the coarse-to-fine pyramid (one scale unless ``config.scales > 1``):

1. the content and style images are resized for this scale, and the targets are computed once:
   ``P_l`` at the content layers, and at each style layer the blended Gram matrix
   ``A_l = sum_i w_i A_l^(i)`` of the style images (blend weights ``w_i`` normalised to sum to one);
2. the image ``x`` starts from the init (the first scale) or the previous scale's best image upsampled;
3. ``L(x) = alpha * sum_l c_l L_content,l + beta * sum_l s_l E_l + gamma * TV(x)`` is minimised by
   L-BFGS (one iteration, i.e. one forward and backward pass, per step) or Adam, with ``x`` kept in
   [0, 1] by clamping before each evaluation.

A scale ends after its share of the steps, or early when the loss improved by less than
``early_stop_tol`` (relative) over ``early_stop_patience`` steps. A non-finite loss ends the run
with ``stop_reason == "nan"`` and the last good image.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass
from typing import Iterator, Sequence

import torch
from PIL import Image

from .config import TransferConfig
from .device import resolve_device, resolve_precision
from .features import VGG19Features
from .image import resize_longest, resize_tensor, to_pil, to_tensor
from .losses import content_loss, gram_matrix, style_loss, total_variation, weighted_sum


@dataclass(frozen=True)
class StepEvent:
    """What happened at one optimiser step."""

    step: int                    # 1 .. total, over all scales
    total: int                   # steps planned in all (a run may end earlier)
    scale: int                   # 0-based index of the pyramid level
    scales: int                  # number of levels
    size: tuple[int, int]        # (height, width) being optimised now
    losses: dict[str, float]     # weighted terms "content", "style", "tv" and their sum "total"
    elapsed: float               # seconds since the run started
    image: Image.Image | None = None  # a preview of the current image, every preview_every steps


@dataclass
class _Best:
    loss: float = float("inf")
    image: torch.Tensor | None = None


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
    and ``init="noise"``); ``styles`` a non-empty list of PIL images. ``init_image`` is used when
    ``config.init == "image"``.
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
    ) -> None:
        if not styles and config.style_weight > 0:
            raise ValueError("give at least one style image")
        if config.style_blend_weights is not None and len(config.style_blend_weights) != len(styles):
            raise ValueError(
                f"{len(config.style_blend_weights)} style blend weight(s) for {len(styles)} style image(s): give one per style"
            )
        if config.init == "image" and init_image is None:
            raise ValueError("init is 'image' but no init image was given")
        if content is None and config.content_weight > 0:
            raise ValueError("no content image: give one, or set content_weight to 0 for texture synthesis")
        self.model = model
        self.config = config
        self.device = resolve_device(device)
        self.dtype = resolve_precision(config.precision, self.device)
        self.content = content
        self.styles = list(styles)
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
        self.sizes = pyramid(config.size, config.scales, config.min_scale_size)
        self.steps_per_scale = split_steps(config.steps, len(self.sizes))
        self.total = sum(self.steps_per_scale)
        self.stop_reason: str | None = None  # "finished", "converged", "cancelled" or "nan"
        self.history: list[dict[str, float]] = []
        self._best = _Best()
        self._current: torch.Tensor | None = None
        self._iterator: Iterator[StepEvent] | None = None

    # -- the public surface ------------------------------------------------------------------------

    def __iter__(self) -> Iterator[StepEvent]:
        if self._iterator is None:
            self._iterator = self._run()
        return self._iterator

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

    def result(self) -> Image.Image:
        """The best image so far (lowest loss at the finest scale reached)."""
        best = self._best.image if self._best.image is not None else self._current
        if best is None:
            raise RuntimeError("the run has not started: iterate it first")
        return to_pil(best)

    # -- internals -----------------------------------------------------------------------------------

    def _level_shape(self, longest: int) -> tuple[int, int]:
        h, w = self._aspect
        scale = longest / max(h, w)
        return max(1, round(h * scale)), max(1, round(w * scale))

    def _features(self, image: torch.Tensor, layers: Sequence[str]) -> dict[str, torch.Tensor]:
        autocast = (
            torch.autocast(self.device.type, dtype=torch.bfloat16)
            if self.dtype == torch.bfloat16
            else contextlib.nullcontext()
        )
        with autocast:
            feats = self.model(image, layers, pooling=self.config.pooling)
        return {k: v.float() for k, v in feats.items()}

    def _targets(self, shape: tuple[int, int]):
        c = self.config
        content_targets = {}
        content_tensor = None
        if self.content is not None:
            content_tensor = to_tensor(self.content.resize((shape[1], shape[0]), Image.LANCZOS), self.device)
            if c.content_weight > 0:
                with torch.no_grad():
                    content_targets = self._features(content_tensor, c.content_layers)
        style_grams = {}
        if c.style_weight > 0:
            blend = c.style_blend_weights or (1.0,) * len(self.styles)
            total = float(sum(blend))
            longest = round(max(shape) * c.style_scale)
            for weight, style in zip(blend, self.styles):
                if weight == 0:
                    continue
                s = to_tensor(resize_longest(style, max(16, longest)), self.device)
                with torch.no_grad():
                    feats = self._features(s, c.style_layers)
                for layer in c.style_layers:
                    g = gram_matrix(feats[layer]) * (weight / total)
                    style_grams[layer] = style_grams[layer] + g if layer in style_grams else g
        return content_tensor, content_targets, style_grams

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

    def _loss(self, x, content_targets, style_grams) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        c = self.config
        layers = list(dict.fromkeys((*content_targets, *style_grams)))
        feats = self._features(x, layers)
        zero = x.new_zeros(())
        terms = {"content": zero, "style": zero, "tv": zero}
        if content_targets:
            per_layer = {l: content_loss(feats[l], content_targets[l]) for l in content_targets}
            terms["content"] = c.content_weight * weighted_sum(per_layer, c.content_layer_weights, c.content_layers)
        if style_grams:
            per_layer = {l: style_loss(feats[l], style_grams[l]) for l in style_grams}
            terms["style"] = c.style_weight * weighted_sum(per_layer, c.style_layer_weights, c.style_layers)
        if c.tv_weight > 0:
            terms["tv"] = c.tv_weight * total_variation(x, c.tv_kind)
        return terms["content"] + terms["style"] + terms["tv"], terms

    def _optimizer(self, x: torch.Tensor) -> torch.optim.Optimizer:
        if self.config.optimizer == "lbfgs":
            return torch.optim.LBFGS([x], lr=self.config.learning_rate, max_iter=1, history_size=50)
        return torch.optim.Adam([x], lr=self.config.learning_rate)

    def _run(self) -> Iterator[StepEvent]:
        c = self.config
        start = time.perf_counter()
        step = 0
        self.model.to(self.device)
        try:
            for level, (longest, level_steps) in enumerate(zip(self.sizes, self.steps_per_scale)):
                shape = self._level_shape(longest)
                content, content_targets, style_grams = self._targets(shape)
                if level == 0:
                    x = self._initial(shape, content)
                else:
                    x = resize_tensor(self.result_tensor(), shape)
                x = x.detach().clone().requires_grad_(True)
                self._current = x
                self._best = _Best(image=x.detach().clone())
                optimizer = self._optimizer(x)
                recent: list[float] = []
                converged = False
                for _ in range(level_steps):
                    record: dict[str, torch.Tensor] = {}

                    def closure() -> torch.Tensor:
                        with torch.no_grad():
                            x.clamp_(0, 1)
                        optimizer.zero_grad(set_to_none=True)
                        loss, terms = self._loss(x, content_targets, style_grams)
                        loss.backward()
                        if not record:
                            record.update({k: v.detach() for k, v in terms.items()}, total=loss.detach())
                            value = float(loss.detach())
                            if value < self._best.loss:
                                self._best = _Best(value, x.detach().clone())
                        return loss

                    optimizer.step(closure)
                    step += 1
                    losses = {k: float(v) for k, v in record.items()}
                    self.history.append(losses)
                    if not all(map(_finite, losses.values())):
                        self.stop_reason = "nan"
                        return
                    preview = None
                    is_last = step == self.total
                    if is_last or (c.preview_every and step % c.preview_every == 0):
                        preview = to_pil(x)
                    yield StepEvent(step, self.total, level, len(self.sizes), shape, losses,
                                    time.perf_counter() - start, preview)
                    recent.append(losses["total"])
                    if c.early_stop_tol > 0 and len(recent) > c.early_stop_patience:
                        before = recent[-1 - c.early_stop_patience]
                        if before - losses["total"] < c.early_stop_tol * abs(before):
                            converged = True
                            break
                # The loss at a step is that of the image before the step; one last look at the final image.
                with torch.no_grad():
                    x.clamp_(0, 1)
                    final, _ = self._loss(x, content_targets, style_grams)
                    if float(final) < self._best.loss:
                        self._best = _Best(float(final), x.detach().clone())
            self.stop_reason = "converged" if converged else "finished"
        except GeneratorExit:
            self.stop_reason = self.stop_reason or "cancelled"
            raise

    def result_tensor(self) -> torch.Tensor:
        """The best image so far as a ``[1, 3, H, W]`` tensor on the run's device."""
        best = self._best.image if self._best.image is not None else self._current
        if best is None:
            raise RuntimeError("the run has not started: iterate it first")
        return best.detach().clamp(0, 1)


def _finite(value: float) -> bool:
    return value == value and abs(value) != float("inf")
