"""Video style transfer with temporal consistency (Ruder, Dosovitskiy & Brox 2016).

A clip is stylised frame by frame, one ``StyleTransfer`` run each. The first frame is a full run
(``config.steps`` over ``config.scales``); every later frame ``i``

1. starts from the previous output warped along the optical flow into frame ``i`` (``frame_init``
   "flow", the default), the previous output as it is ("previous"), or the frame itself ("content");
2. adds the temporal loss to the run's objective (see ``nst.temporal``),
   ``L(x) = alpha L_content + beta L_style + gamma L_tv
          + lambda_t sum_{j in J} (1 / D) sum_k c_k^(i-j) (x_k - omega_k^(i-j))^2``,
   which holds the output to the earlier outputs ``x^(i-j)`` warped into frame ``i`` wherever the
   forward-backward flow check trusts the flow (weights ``c``, see ``nst.flow``); ``J = {1}`` is the
   short-term loss, more offsets (``long_term``) the long-term one;
3. runs ``follow_steps`` steps at the output size only (half of ``config.steps`` by default): it
   starts close to its result.

``independent=True`` instead stylises every frame on its own (the same full run each, no temporal
loss): the baseline the flicker measure compares against.

    video = VideoTransfer(model, clip.frames, [style], TransferConfig(size=256, steps=100))
    for event in video: ...                  # VideoEvents: frame, step, losses, preview
    write_clip(video.results(), "out.mp4", clip.fps)
    video.flicker()                          # mean warping error between consecutive outputs

Flow is computed on the input frames at the output size, both ways, once per frame pair.
"""

from __future__ import annotations

from typing import Iterator, Sequence

import torch
from PIL import Image

from .config import TransferConfig
from .features import VGG19Features
from .flow import FLOW_METHODS, Correspondence, correspondence, warp
from .image import resize_longest, to_pil
from .optimize import StepEvent, StyleTransfer
from .sequence import RunSequence, SequenceEvent, level_plan
from .temporal import TemporalLoss, flicker, long_term_weights

FRAME_INITS = ("flow", "previous", "content")
DEFAULT_TEMPORAL_WEIGHT = 200.0
MAX_OFFSET = 100


class VideoEvent(SequenceEvent):
    """Progress of a clip (``nst.sequence.SequenceEvent``): one per optimiser step, and one more closing
    each frame with its image; ``index``/``count`` are the frame and the frames in all, also named
    ``frame``/``frames``."""

    @property
    def frame(self) -> int:
        """The frame being stylised, 0-based."""
        return self.index

    @property
    def frames(self) -> int:
        """Frames in all."""
        return self.count


class VideoTransfer(RunSequence):
    """Stylises ``frames`` (PIL images of one size) after ``styles``; iterate it for ``VideoEvent``s,
    then call ``results()``. Frames are resized so their longest side is ``config.size``.

    ``frame_init`` ("flow", "previous" or "content") starts each frame after the first;
    ``temporal_weight`` is ``lambda_t`` (0: no temporal loss); ``long_term`` the offsets ``J`` of the
    earlier outputs held to (default ``(1,)``, the short-term loss); ``follow_steps`` the steps of
    each frame after the first; ``flow_method`` "dis" or "farneback"; ``init_image`` starts the first
    frame when ``config.init`` is "image".
    """

    def __init__(
        self,
        model: VGG19Features,
        frames: Sequence[Image.Image],
        styles: Sequence[Image.Image],
        config: TransferConfig = TransferConfig(),
        *,
        frame_init: str = "flow",
        temporal_weight: float = DEFAULT_TEMPORAL_WEIGHT,
        long_term: Sequence[int] | None = None,
        follow_steps: int | None = None,
        independent: bool = False,
        flow_method: str = "dis",
        init_image: Image.Image | None = None,
        device: str | torch.device = "auto",
    ) -> None:
        if not frames:
            raise ValueError("a video needs at least one frame")
        if len({f.size for f in frames}) > 1:
            raise ValueError("the frames differ in size: give frames of one size")
        if frame_init not in FRAME_INITS:
            raise ValueError(f"frame_init must be one of {', '.join(FRAME_INITS)}, got {frame_init!r}")
        if flow_method not in FLOW_METHODS:
            raise ValueError(f"flow method must be one of {', '.join(FLOW_METHODS)}, got {flow_method!r}")
        if isinstance(temporal_weight, bool) or not isinstance(temporal_weight, (int, float)) \
                or not 0 <= temporal_weight < float("inf"):
            raise ValueError(f"temporal_weight must be a number of 0 or more, got {temporal_weight!r}")
        offsets = tuple(long_term) if long_term is not None else (1,)
        if not offsets or any(isinstance(j, bool) or not isinstance(j, int) or not 1 <= j <= MAX_OFFSET
                              for j in offsets):
            raise ValueError(f"long_term must be frame offsets from 1 to {MAX_OFFSET}, like 1, 2, 4; got {long_term!r}")
        if follow_steps is None:
            follow_steps = max(1, config.steps // 2)
        if isinstance(follow_steps, bool) or not isinstance(follow_steps, int) or follow_steps < 0:
            raise ValueError(f"follow_steps must be a whole number of steps, got {follow_steps!r}")
        if config.init == "image" and init_image is None:
            raise ValueError("init is 'image' but no init image was given")
        self.model = model
        self.frames = [resize_longest(f, config.size) for f in frames]
        self.styles = list(styles)
        self.config = config
        self.frame_init = frame_init
        self.temporal_weight = 0.0 if independent else float(temporal_weight)
        self.offsets = tuple(sorted(set(offsets)))
        self.follow_steps = config.steps if independent else follow_steps
        self.independent = independent
        self.flow_method = flow_method
        self.init_image = init_image
        self.device = device
        self.total = config.steps + (len(self.frames) - 1) * self.follow_steps
        super().__init__()
        self.links: list[Correspondence | None] = [None] * len(self.frames)  # frame t to t - 1
        self._raw: dict[int, torch.Tensor] = {}      # outputs as optimised, for warping

    # -- the public surface ------------------------------------------------------------------------

    def _planned(self) -> int:
        return len(self.frames)

    def plan(self) -> list[tuple[int, int]]:
        """The first frame's levels (a full run), then each later frame's steps at the output size (its
        levels again when every frame runs on its own)."""
        first = level_plan(self.config)
        later = first if self.independent else [(self.follow_steps, self.config.size)]
        return first + later * (len(self.frames) - 1)

    def flicker(self) -> float | None:
        """The mean warping error between consecutive outputs so far (``nst.temporal.flicker``); None
        before two frames are done."""
        done = self._done
        if len(done) < 2:
            return None
        return flicker(done, self.frames[: len(done)], self.flow_method, links=self.links)

    def input_flicker(self) -> float | None:
        """The same measure for the input frames themselves: the floor set by flow errors and lighting."""
        if len(self.frames) < 2:
            return None
        return flicker(self.frames, self.frames, self.flow_method, links=self.links)

    # -- internals -----------------------------------------------------------------------------------

    def _link(self, i: int, j: int) -> Correspondence:
        """Frame ``i`` to frame ``i - j``: backward flow and consistency weights (kept for ``j = 1``)."""
        if j == 1 and self.links[i] is not None:
            return self.links[i]
        link = correspondence(self.frames[i], self.frames[i - j], self.flow_method)
        if j == 1:
            self.links[i] = link
        return link

    def _frame_run(self, i: int) -> StyleTransfer:
        """The run stylising frame ``i``: a full one for the first (or every, if independent) frame,
        else a warm-started one with the temporal loss."""
        frame = self.frames[i]
        if i == 0 or self.independent:
            init = self.init_image if self.config.init == "image" else None
            return StyleTransfer(self.model, frame, self.styles, self.config, init_image=init, device=self.device)
        previous = self._raw[i - 1]
        config = self.config.replace(steps=self.follow_steps, scales=1)
        init_image = None
        if self.frame_init == "content":
            config = config.replace(init="content")
        else:
            start = warp(previous, self._link(i, 1).flow) if self.frame_init == "flow" else previous
            config, init_image = config.replace(init="image"), to_pil(start)
        extra = {}
        if self.temporal_weight > 0:
            offsets = [j for j in self.offsets if i - j >= 0]
            links = [self._link(i, j) for j in offsets]
            weights = long_term_weights([link.weights for link in links])
            targets = [(warp(self._raw[i - j], link.flow), c) for j, link, c in zip(offsets, links, weights)]
            extra["temporal"] = TemporalLoss(self.temporal_weight, targets)
        return StyleTransfer(self.model, frame, self.styles, config, init_image=init_image, device=self.device,
                             extra_terms=extra)

    def _events(self) -> Iterator[VideoEvent]:
        done_steps, count = 0, len(self.frames)
        for i in range(count):
            run = self._frame_run(i)
            self._run = run
            last: StepEvent | None = None
            for event in run:
                last = event
                yield VideoEvent(i, count, f"frame {i + 1}/{count}", done_steps + event.step, self.total, event)
            done_steps += run.config.steps
            if i > 0:
                self._link(i, 1)  # for the flicker measure, whatever the settings
            image = run.result()
            self._done.append(image)
            self._raw[i] = run.result_tensor()
            for old in [k for k in self._raw if k < i + 1 - max(self.offsets)]:
                del self._raw[old]
            self._run = None
            yield VideoEvent(i, count, f"frame {i + 1}/{count}", done_steps, self.total, last, image)
            if run.stop_reason == "nan":
                self.stop_reason = "nan"
                return
