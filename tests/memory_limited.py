"""A stand-in for a GPU that runs out of memory: VGG-19 refusing images over a size, as CUDA would refuse them."""

from __future__ import annotations

import torch

from nst.features import VGG19Features


class MemoryLimited(VGG19Features):
    """A VGG-19 that raises ``torch.OutOfMemoryError`` on images whose longest side is over ``most`` px."""

    def __init__(self, weights, most: int) -> None:
        super().__init__(weights)
        self.most = most
        self.refused: list[int] = []   # the longest sides refused, in order

    def forward(self, image, layers, pooling="max"):
        side = max(image.shape[-2:])
        if side > self.most:
            self.refused.append(side)
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB (GPU 0; 79.1 GiB total)")
        return super().forward(image, layers, pooling)
