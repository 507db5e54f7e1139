"""Loss terms against values worked out by hand from the formulas in ``nst.losses``."""

from __future__ import annotations

import math

import pytest
import torch

from nst.losses import content_loss, gram_matrix, style_loss, total_variation, weighted_sum

EPS = 1e-8  # total_variation's default eps


# -- Gram matrices: G = F F^T / M ---------------------------------------------------------------------


def test_gram_matrix_of_a_known_map():
    # Two channels over a 1x2 map: F = [[1, 2], [3, 4]], M = 2.
    # F F^T = [[1*1 + 2*2, 1*3 + 2*4], [3*1 + 4*2, 3*3 + 4*4]] = [[5, 11], [11, 25]]; divided by M = 2.
    features = torch.tensor([[1.0, 2.0], [3.0, 4.0]]).reshape(1, 2, 1, 2)
    expected = torch.tensor([[[2.5, 5.5], [5.5, 12.5]]])
    assert torch.equal(gram_matrix(features), expected)


def test_gram_matrix_three_channels_on_a_square_map():
    # Channels over a 2x2 map (M = 4): a = [1, 0, 0, 1], b = [0, 2, 0, 0], c = [1, 1, 1, 1].
    # a.a = 2, a.b = 0, a.c = 2, b.b = 4, b.c = 2, c.c = 4.
    features = torch.tensor([[1.0, 0.0, 0.0, 1.0], [0.0, 2.0, 0.0, 0.0], [1.0, 1.0, 1.0, 1.0]]).reshape(1, 3, 2, 2)
    expected = torch.tensor([[2.0, 0.0, 2.0], [0.0, 4.0, 2.0], [2.0, 2.0, 4.0]]) / 4
    assert torch.allclose(gram_matrix(features)[0], expected)


def test_gram_matrix_is_per_image_and_does_not_grow_with_size():
    generator = torch.Generator().manual_seed(0)
    a = torch.randn(1, 5, 3, 4, generator=generator)
    b = torch.randn(1, 5, 3, 4, generator=generator)
    batch = gram_matrix(torch.cat([a, b]))
    assert batch.shape == (2, 5, 5)
    assert torch.allclose(batch[0], gram_matrix(a)[0]) and torch.allclose(batch[1], gram_matrix(b)[0])
    # The same map tiled 2x2 has 4x the positions and 4x the raw sums: dividing by M cancels that.
    tiled = a.repeat(1, 1, 2, 2)
    assert torch.allclose(gram_matrix(tiled), gram_matrix(a), atol=1e-6)


def test_gram_matrix_is_float32_for_bfloat16_features():
    features = torch.ones(1, 2, 2, 2, dtype=torch.bfloat16)
    gram = gram_matrix(features)
    assert gram.dtype == torch.float32
    assert torch.equal(gram, torch.ones(1, 2, 2))


# -- Total variation ----------------------------------------------------------------------------------


def checkerboard(channels: int, h: int, w: int) -> torch.Tensor:
    i = torch.arange(h).view(h, 1)
    j = torch.arange(w).view(1, w)
    return ((i + j) % 2).float().expand(1, channels, h, w).clone()


def test_total_variation_of_a_checkerboard():
    # Every forward difference of a 0/1 checkerboard is +-1, so dx^2 + dy^2 = 2 at every pixel.
    # Summed over 3 channels: squared TV = 3 * 2, isotropic TV = 3 * sqrt(2 + eps).
    board = checkerboard(3, 6, 7)
    assert total_variation(board, "squared").item() == pytest.approx(6.0, rel=1e-6)
    assert total_variation(board, "isotropic").item() == pytest.approx(3 * math.sqrt(2 + EPS), rel=1e-6)
    assert total_variation(board).item() == pytest.approx(3 * math.sqrt(2 + EPS), rel=1e-6)  # the default


def test_total_variation_of_a_single_bright_pixel():
    # A 3x3 image, zero but for x[1, 1] = 1. Over the 2x2 pixels that have both differences:
    #   (0,0): dx = 0,  dy = 0      (0,1): dx = 0,  dy = 1
    #   (1,0): dx = 1,  dy = 0      (1,1): dx = -1, dy = -1
    # squared: (0 + 1 + 1 + 2) / 4 = 1; isotropic: (sqrt(eps) + 2 sqrt(1 + eps) + sqrt(2 + eps)) / 4.
    image = torch.zeros(1, 1, 3, 3)
    image[0, 0, 1, 1] = 1.0
    assert total_variation(image, "squared").item() == pytest.approx(1.0, rel=1e-6)
    expected = (math.sqrt(EPS) + 2 * math.sqrt(1 + EPS) + math.sqrt(2 + EPS)) / 4
    assert total_variation(image, "isotropic").item() == pytest.approx(expected, rel=1e-6)


def test_total_variation_of_flat_and_ramp_images():
    flat = torch.full((1, 3, 5, 5), 0.3)
    assert total_variation(flat, "squared").item() == 0.0
    assert total_variation(flat, "isotropic").item() == pytest.approx(3 * math.sqrt(EPS), rel=1e-5)
    ramp = (torch.arange(6).float() * 0.1).expand(1, 1, 4, 6).clone()  # dx = 0.1, dy = 0
    assert total_variation(ramp, "squared").item() == pytest.approx(0.01, rel=1e-5)
    assert total_variation(ramp, "isotropic").item() == pytest.approx(math.sqrt(0.01 + EPS), rel=1e-5)


def test_total_variation_gradient_is_finite_on_a_flat_image():
    flat = torch.full((1, 3, 4, 4), 0.5, requires_grad=True)
    total_variation(flat, "isotropic").backward()
    assert torch.isfinite(flat.grad).all()


def test_total_variation_rejects_an_unknown_kind():
    with pytest.raises(ValueError, match="isotropic"):
        total_variation(torch.zeros(1, 3, 4, 4), "anisotropic")


# -- Content and style losses: relative squared errors --------------------------------------------------


def test_content_loss_is_zero_at_the_target():
    target = torch.randn(1, 4, 5, 5, generator=torch.Generator().manual_seed(1))
    assert content_loss(target.clone(), target).item() == 0.0


def test_content_loss_is_the_relative_squared_error():
    # P = ones (||P||^2 = 8); F differs from P by 2 in one place: ||F - P||^2 = 4, so L = 4 / 8.
    target = torch.ones(1, 2, 2, 2)
    features = target.clone()
    features[0, 1, 0, 1] += 2.0
    assert content_loss(features, target).item() == pytest.approx(0.5, rel=1e-6)


def test_content_loss_matches_the_formula_on_random_maps():
    generator = torch.Generator().manual_seed(2)
    target = torch.randn(1, 6, 4, 3, generator=generator)
    features = torch.randn(1, 6, 4, 3, generator=generator)
    expected = ((features - target) ** 2).sum() / (target**2).sum()
    assert content_loss(features, target).item() == pytest.approx(expected.item(), rel=1e-5)


def test_style_loss_is_zero_at_the_target():
    features = torch.rand(1, 4, 6, 6, generator=torch.Generator().manual_seed(3))
    assert style_loss(features, gram_matrix(features)).item() == pytest.approx(0.0, abs=1e-10)


@pytest.mark.parametrize("factor", [0.0, 0.5, 2.0, 3.0])
def test_style_loss_of_scaled_features(factor):
    # Scaling F by s scales G by s^2: ||s^2 A - A||^2 / ||A||^2 = (s^2 - 1)^2.
    features = torch.rand(1, 4, 6, 6, generator=torch.Generator().manual_seed(4))
    target = gram_matrix(features)
    assert style_loss(factor * features, target).item() == pytest.approx((factor**2 - 1) ** 2, rel=1e-5)


def test_style_loss_matches_the_formula_on_random_maps():
    generator = torch.Generator().manual_seed(5)
    features = torch.randn(1, 5, 4, 4, generator=generator)
    style = torch.randn(1, 5, 8, 8, generator=generator)  # another size: Grams are per position
    g = features.reshape(5, 16) @ features.reshape(5, 16).T / 16
    a = style.reshape(5, 64) @ style.reshape(5, 64).T / 64
    expected = ((g - a) ** 2).sum() / (a**2).sum()
    assert style_loss(features, gram_matrix(style)).item() == pytest.approx(expected.item(), rel=1e-5)


# -- Weighted sums over layers ---------------------------------------------------------------------------


def test_weighted_sum_normalises_the_weights():
    terms = {"relu1_1": torch.tensor(1.0), "relu2_1": torch.tensor(3.0)}
    layers = ("relu1_1", "relu2_1")
    assert weighted_sum(terms, None, layers).item() == pytest.approx(2.0)              # (1 + 3) / 2
    assert weighted_sum(terms, (1.0, 3.0), layers).item() == pytest.approx(2.5)        # (1*1 + 3*3) / 4
    assert weighted_sum(terms, (10.0, 30.0), layers).item() == pytest.approx(2.5)      # scale-free
    assert weighted_sum(terms, (1.0, 0.0), layers).item() == pytest.approx(1.0)        # a layer switched off


def test_weighted_sum_uses_only_the_listed_layers():
    terms = {"relu1_1": torch.tensor(4.0), "relu2_1": torch.tensor(100.0)}
    assert weighted_sum(terms, None, ("relu1_1",)).item() == pytest.approx(4.0)
