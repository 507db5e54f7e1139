"""Photorealistic smoothing: box means, the guided filter, and runs whose edges stay where the photo's are."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nst import StyleTransfer, TransferConfig, load_image
from nst.image import to_tensor
from nst.photoreal import box_mean, guided_filter

FAST = TransferConfig(size=64, steps=15, preview_every=5, style_weight=100.0)


pytestmark = pytest.mark.usefixtures("one_thread")


def edges(image: torch.Tensor) -> np.ndarray:
    """Gradient magnitude of the mean of the channels, ``[H-1, W-1]``."""
    grey = image[0].double().mean(dim=0)
    dx = grey[:-1, 1:] - grey[:-1, :-1]
    dy = grey[1:, :-1] - grey[:-1, :-1]
    return torch.sqrt(dx**2 + dy**2).numpy()


def test_box_mean_is_the_mean_over_clipped_windows():
    x = torch.rand(2, 9, 7, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    r = 2
    means = box_mean(x, r)
    for i, j in ((0, 0), (4, 3), (8, 6), (1, 5)):
        window = x[:, max(0, i - r): i + r + 1, max(0, j - r): j + r + 1]
        assert torch.allclose(means[:, i, j], window.mean(dim=(1, 2)))


def test_guided_filter_puts_the_guides_edges_into_the_output():
    guide = torch.full((1, 3, 32, 32), 0.2)
    guide[..., 16:] = 0.8                                  # one vertical edge, between columns 15 and 16
    noise = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    smoothed = guided_filter(noise, guide, radius=4)
    strength = edges(smoothed)
    at_edge = strength[:, 15].mean()
    elsewhere = np.delete(strength, [14, 15, 16], axis=1).mean()
    assert at_edge > 5 * elsewhere                        # flat where the guide is flat, a step at its edge
    assert elsewhere < 0.25 * edges(noise).mean()          # the noise's own texture is gone


def test_guided_filter_checks_its_inputs():
    with pytest.raises(ValueError, match="must be the same size"):
        guided_filter(torch.rand(1, 3, 8, 8), torch.rand(1, 3, 8, 9), 2)
    with pytest.raises(ValueError, match="radius must be at least 1"):
        guided_filter(torch.rand(1, 3, 8, 8), torch.rand(1, 3, 8, 8), 0)


def test_photorealistic_run_keeps_the_photos_edges(tiny_model, assets):
    content, style = load_image(assets / "golden_gate.jpg"), load_image(assets / "kandinsky.jpg")
    config = FAST.replace(init="noise")  # from noise, a short run's edges are far from the photo's
    painted = StyleTransfer(tiny_model, content, [style], config, device="cpu").run()
    run = StyleTransfer(tiny_model, content, [style], config.replace(photo_smoothing=4), device="cpu")
    previews = [e.image for e in run if e.image is not None]
    photo = run.result()
    assert photo.size == painted.size and previews[-1].size == photo.size
    reference = edges(to_tensor(content.resize(photo.size))).ravel()
    match = lambda image: np.corrcoef(edges(to_tensor(image)).ravel(), reference)[0, 1]  # noqa: E731
    assert match(photo) > match(painted) + 0.2
    assert match(previews[-1]) > match(painted)
    # The colours still come from the stylised image, not the photo.
    diff = lambda a, b: np.abs(np.asarray(a, dtype=float).mean((0, 1)) - np.asarray(b, dtype=float).mean((0, 1))).sum()  # noqa: E731
    assert diff(photo, painted) < diff(content.resize(photo.size), painted)


def test_photo_smoothing_needs_a_photo(tiny_model, assets):
    with pytest.raises(ValueError, match="set it to 0 for texture synthesis"):
        StyleTransfer(tiny_model, None, [load_image(assets / "kandinsky.jpg")],
                      FAST.replace(content_weight=0.0, photo_smoothing=4))
    with pytest.raises(ValueError, match="photo_smoothing must be an integer"):
        TransferConfig(photo_smoothing=2.5)
