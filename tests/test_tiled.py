"""Tiled optimisation with the tiny random VGG-19: the tiles' loss and gradient against the whole image's,
the global Gram matrices, the moving grid, and tiled runs through ``StyleTransfer`` and the command line."""

from __future__ import annotations

import pytest
import torch
from PIL import Image

from nst.cli import main
from nst.config import TransferConfig
from nst.features import STYLE_LAYERS
from nst.image import to_tensor
from nst.losses import gram_matrix
from nst.masks import guided_gram, layer_masks
from nst.optimize import StepEvent, StyleTransfer
from nst.tiled import MovingOffsets, TiledObjective, Tiling, feature_maps, grid, receptive_margin, tiled_grams
from nst.weights import save_features

from conftest import asset_at

pytestmark = pytest.mark.usefixtures("one_thread")

LAYERS = ("relu4_2", *STYLE_LAYERS)
EXACT = dict(size=120, scales=1, precision="fp32")  # float32, where tiles reproduce the whole image to rounding


@pytest.fixture(scope="module")
def content(assets) -> Image.Image:
    return asset_at(assets, "tubingen.jpg", 120)  # 120x90


@pytest.fixture(scope="module")
def style(assets) -> Image.Image:
    return asset_at(assets, "starry_night.jpg", 120)


def features_of(model):
    return lambda image, layers: {k: v.float() for k, v in model(image, layers).items()}


def whole_and_tiled(model, content, style, tiling: Tiling, config: TransferConfig, seed: int = 0):
    """The whole-image loss and gradient at a random image, and the tiled ones (same run, same targets)."""
    run = StyleTransfer(model, content, [style], config, device="cpu")
    shape = run._level_shape(config.size)
    x = torch.rand((1, 3, *shape), generator=torch.Generator().manual_seed(seed)).requires_grad_(True)
    evaluate, _, _ = run._objective(0, shape)
    loss, terms = evaluate(x)
    whole = x.grad.clone()
    _, content_targets, style_terms = run._targets(shape, tiling)
    tiled = TiledObjective(run._features, config, shape, tiling, content_targets, style_terms, seed=seed)
    x.grad = None
    tiled_loss, tiled_terms = tiled.evaluate(x)
    return (loss.detach(), terms, whole), (tiled_loss, tiled_terms, x.grad.clone()), tiled


# -- geometry ---------------------------------------------------------------------------------------------------


def test_receptive_margins_and_the_default_halo():
    assert receptive_margin("relu1_1") == 1
    assert receptive_margin("relu4_2") == 38
    assert receptive_margin("relu5_1") == 70
    tiling = Tiling.for_layers(LAYERS, 100)
    assert tiling == Tiling(tile=96, halo=80, stride=16)  # cuts on relu5_1's stride, halo covers its field
    assert Tiling.for_layers(("relu1_1", "relu2_1"), 64) == Tiling(tile=64, halo=4, stride=2)
    with pytest.raises(ValueError, match="multiples of the stride"):
        Tiling(tile=40, halo=16, stride=16)


@pytest.mark.parametrize("offset", [(0, 0), (16, 48), (48, 16)])
def test_cores_cover_every_pixel_exactly_once_and_windows_hold_the_halo(offset):
    shape = (90, 120)
    tiling = Tiling(tile=64, halo=32, stride=16)
    count = torch.zeros(shape, dtype=torch.int32)
    for tile in grid(shape, tiling, offset):
        y0, y1, x0, x1 = tile.core
        count[y0:y1, x0:x1] += 1
        wy0, wy1, wx0, wx1 = tile.window
        assert (wy0, wx0) == (max(0, y0 - 32), max(0, x0 - 32)) and (wy1, wx1) == (min(90, y1 + 32), min(120, x1 + 32))
        assert y1 - y0 < 64 + 16 and x1 - x0 < 64 + 16  # a piece thinner than the stride joins its neighbour
        assert all(v % 16 == 0 for v in (y0, x0, wy0, wx0))  # pooling windows line up with the whole image's
    assert bool((count == 1).all())


def test_the_grid_moves_at_every_step():
    offsets = MovingOffsets((300, 200), Tiling(tile=64, halo=16, stride=16), seed=3)
    drawn = [next(offsets) for _ in range(30)]
    for before, after in zip(drawn, drawn[1:]):
        assert before[0] != after[0] and before[1] != after[1]
    assert all(o % 16 == 0 and 0 <= o < 64 for pair in drawn for o in pair)
    assert len(set(drawn)) > 5
    again = MovingOffsets((300, 200), Tiling(tile=64, halo=16, stride=16), seed=3)
    assert [next(again) for _ in range(30)] == drawn  # seeded
    # A direction that fits in one tile is not cut, so it has nothing to move.
    narrow = MovingOffsets((300, 50), Tiling(tile=64, halo=16, stride=16), seed=0)
    assert {next(narrow)[1] for _ in range(5)} == {0}


# -- the features, Gram matrices, loss and gradient match the whole image's -------------------------------------------


def test_tiled_feature_maps_equal_the_whole_image_features(tiny_model, content):
    image = to_tensor(content)
    whole = tiny_model(image, LAYERS)
    tiled = feature_maps(features_of(tiny_model), image, LAYERS, Tiling.for_layers(LAYERS, 32))
    for layer in LAYERS:
        assert tiled[layer].shape == whole[layer].shape
        torch.testing.assert_close(tiled[layer], whole[layer], rtol=1e-4, atol=1e-5)


def test_sum_of_tile_grams_is_the_global_gram_with_and_without_a_mask(tiny_model, style):
    image = to_tensor(style)
    tiling = Tiling.for_layers(STYLE_LAYERS, 32)
    assert len(grid(tuple(image.shape[-2:]), tiling)) == 8  # 75x120: 2 x 4 (the 11 px left at the bottom joins)
    whole = tiny_model(image, STYLE_LAYERS)
    grams = tiled_grams(features_of(tiny_model), image, STYLE_LAYERS, tiling)
    mask = torch.zeros((1, 1, *image.shape[-2:]))
    mask[..., :, 40:] = 1.0
    masks = layer_masks(mask, STYLE_LAYERS)
    guided = tiled_grams(features_of(tiny_model), image, STYLE_LAYERS, tiling, masks)
    for layer in STYLE_LAYERS:
        torch.testing.assert_close(grams[layer], gram_matrix(whole[layer]), rtol=1e-4, atol=1e-6)
        torch.testing.assert_close(guided[layer], guided_gram(whole[layer], masks[layer]), rtol=1e-4, atol=1e-6)


def test_one_tile_over_everything_gives_the_whole_image_loss_and_gradient(tiny_model, content, style):
    config = TransferConfig(**EXACT, tv_weight=0.5)
    (loss, terms, grad), (tiled_loss, tiled_terms, tiled_grad), tiled = whole_and_tiled(
        tiny_model, content, style, Tiling.for_layers(LAYERS, 128), config)
    assert len(tiled.grids[-1]) == 1
    assert set(tiled_terms) == set(terms)
    for name in terms:
        torch.testing.assert_close(tiled_terms[name], terms[name].detach(), rtol=1e-5, atol=1e-7)
    torch.testing.assert_close(tiled_loss, loss, rtol=1e-5, atol=1e-7)
    torch.testing.assert_close(tiled_grad, grad, rtol=1e-4, atol=1e-6 * float(grad.abs().max()))


def test_many_tiles_with_a_full_halo_give_the_whole_image_loss_and_gradient(tiny_model, content, style):
    """With the halo over the receptive field and cuts on the stride, the tiles' features are exact, so the
    global Gram and the halo gradients make the tiled gradient the whole image's, not an approximation."""
    config = TransferConfig(**EXACT)
    (loss, _, grad), (tiled_loss, _, tiled_grad), tiled = whole_and_tiled(
        tiny_model, content, style, Tiling.for_layers(LAYERS, 32), config, seed=1)
    assert len(tiled.grids[-1]) >= 12
    torch.testing.assert_close(tiled_loss, loss, rtol=1e-5, atol=0)
    assert float((tiled_grad - grad).abs().max()) < 1e-4 * float(grad.abs().max())


def test_the_gradient_error_shrinks_as_the_halo_grows_and_vanishes_at_the_receptive_margin(
        tiny_model, content, style):
    config = TransferConfig(**EXACT)
    errors = []
    for halo in (16, 48, 80):
        (_, _, grad), (_, _, tiled_grad), _ = whole_and_tiled(tiny_model, content, style, Tiling(32, halo, 16), config)
        errors.append(float((tiled_grad - grad).norm() / grad.norm()))
    assert errors[0] > errors[1] > 1e-3 > 1e-5 > errors[2], errors  # relu5_1 sees 70 px beyond its own block


def masked_whole_and_tiled(model, content, style, config: TransferConfig):
    """Two styles, one in the left half, one everywhere with part of its painting masked: the whole-image
    loss and gradient at a random image, and the tiled ones."""
    left = Image.new("L", (120, 90), 0)
    left.paste(255, (0, 0, 60, 90))
    top = Image.new("L", (40, 40), 0)
    top.paste(255, (0, 0, 40, 20))
    run = StyleTransfer(model, content, [style, style.rotate(90)], config, device="cpu",
                        style_masks=[left, None], style_image_masks=[None, top])
    shape = run._level_shape(120)
    x = torch.rand((1, 3, *shape), generator=torch.Generator().manual_seed(2)).requires_grad_(True)
    evaluate, _, _ = run._objective(0, shape)
    loss, _ = evaluate(x)
    grad = x.grad.clone()
    tiling = Tiling.for_layers(LAYERS, 48)
    _, targets, terms = run._targets(shape, tiling)
    assert [t.masks is None for t in terms] == [False, True]  # the second style goes everywhere
    x.grad = None
    tiled_loss, _ = TiledObjective(run._features, config, shape, tiling, targets, terms).evaluate(x)
    return (loss.detach(), grad), (tiled_loss, x.grad.clone())


def test_masked_styles_tile_too(tiny_model, content, style):
    (loss, grad), (tiled_loss, tiled_grad) = masked_whole_and_tiled(tiny_model, content, style,
                                                                    TransferConfig(**EXACT))
    torch.testing.assert_close(tiled_loss, loss, rtol=1e-5, atol=0)
    assert float((tiled_grad - grad).abs().max()) < 1e-4 * float(grad.abs().max())


# -- bfloat16: tiles match the whole image to bfloat16's rounding -----------------------------------------------
# bfloat16 keeps 8 bits of mantissa, so a bfloat16 gradient is ~25 % (in norm) from the float32 one on these
# tiny networks, and convolutions over a tile round differently from the same pixels inside the whole image.
# What tiling must not do is add error of its own beyond that rounding: the tiled loss equals the whole one
# to 1e-4 and the tiled gradient is within 3 % of the whole one, a tenth of bfloat16's own error.


def relative_error(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).norm() / b.norm())


def test_in_bfloat16_many_tiles_give_the_whole_image_loss_and_gradient_to_rounding(tiny_model, content, style):
    tiling = Tiling.for_layers(LAYERS, 32)
    (_, _, grad32), _, _ = whole_and_tiled(tiny_model, content, style, tiling, TransferConfig(**EXACT), seed=1)
    (loss, _, grad), (tiled_loss, _, tiled_grad), tiled = whole_and_tiled(
        tiny_model, content, style, tiling, TransferConfig(size=120, scales=1, precision="bf16"), seed=1)
    assert len(tiled.grids[-1]) >= 12
    torch.testing.assert_close(tiled_loss, loss, rtol=1e-4, atol=0)
    bf16_error = relative_error(grad, grad32)
    assert 0.01 < bf16_error < 0.5  # bfloat16 really ran, and stayed near float32
    assert relative_error(tiled_grad, grad) < min(0.03, 0.1 * bf16_error)


def test_in_bfloat16_masked_styles_tile_to_rounding(tiny_model, content, style):
    (loss, grad), (tiled_loss, tiled_grad) = masked_whole_and_tiled(
        tiny_model, content, style, TransferConfig(size=120, scales=1, precision="bf16"))
    torch.testing.assert_close(tiled_loss, loss, rtol=1e-4, atol=0)
    assert relative_error(tiled_grad, grad) < 0.03


# -- tiled runs ---------------------------------------------------------------------------------------------------


def test_a_tiled_run_streams_events_and_ends_at_the_right_size(tiny_model, content, style):
    config = TransferConfig(size=120, scales=2, min_scale_size=32, steps=6, tile_size=48, optimizer="adam",
                            preview_every=3)
    run = StyleTransfer(tiny_model, content, [style], config, device="cpu")
    assert [level.tiled for level in run.plan.levels] == [True, True]  # 60 and 120 px, both over 48
    assert run.plan.levels[-1].tiling.tile == 48
    events = list(run)
    assert all(isinstance(e, StepEvent) for e in events) and len(events) == 6
    assert [e.size for e in events] == [(45, 60)] * 3 + [(90, 120)] * 3
    assert events[2].image.size == (60, 45) and events[-1].image.size == (120, 90)
    assert run.stop_reason == "finished"
    assert run.result().size == (120, 90)
    assert all(torch.isfinite(torch.tensor(list(e.losses.values()))).all() for e in events)


def tiled_and_whole_losses(model, content, style, precision: str) -> tuple[list[float], list[float]]:
    common = dict(size=120, scales=1, steps=5, preview_every=0, precision=precision)
    whole = StyleTransfer(model, content, [style], TransferConfig(**common), device="cpu")
    tiled = StyleTransfer(model, content, [style], TransferConfig(**common, tile_size=48), device="cpu")
    assert not whole.plan.levels[0].tiled and tiled.plan.levels[0].tiled
    return [e.losses["total"] for e in whole], [e.losses["total"] for e in tiled]


def test_tiled_and_whole_runs_agree(tiny_model, content, style):
    """The same loss and gradient: L-BFGS follows the same path in tiles as whole."""
    a, b = tiled_and_whole_losses(tiny_model, content, style, "fp32")
    assert a == pytest.approx(b, rel=1e-3)
    assert b[-1] < b[0]


def test_in_bfloat16_tiled_and_whole_runs_start_alike_and_end_close(tiny_model, content, style):
    """bfloat16's rounding differs between a tile and the whole image, and L-BFGS amplifies small gradient
    differences step by step: the first loss is the same, the paths then stay within 10 %."""
    a, b = tiled_and_whole_losses(tiny_model, content, style, "bf16")
    assert b[0] == pytest.approx(a[0], rel=1e-3)
    assert b == pytest.approx(a, rel=0.1)
    assert b[-1] < b[0] and a[-1] < a[0]


def test_closing_a_tiled_run_keeps_the_best_image(tiny_model, content, style):
    config = TransferConfig(size=120, scales=1, steps=20, tile_size=48, preview_every=0)
    run = StyleTransfer(tiny_model, content, [style], config, device="cpu")
    losses = []
    for event in run:
        losses.append(event.losses["total"])
        if event.step == 3:
            run.close()
    assert run.stop_reason == "cancelled" and len(losses) == 3
    assert run.result().size == (120, 90)
    assert run._best.loss == min(losses)


def test_the_command_line_tiles_on_request(tmp_path, tiny_weights, content, style, capsys):
    weights = save_features(tiny_weights, tmp_path / "tiny.safetensors")
    content.save(tmp_path / "photo.png")
    style.save(tmp_path / "painting.png")
    output = tmp_path / "out.png"
    argv = [str(tmp_path / "photo.png"), str(tmp_path / "painting.png"), "-o", str(output), "--size", "96",
            "--steps", "2", "--scales", "1", "--weights", str(weights), "--device", "cpu",
            "--tile", "32", "--max-memory", "4GB"]
    assert main(argv) == 0
    err = capsys.readouterr().err
    assert "tiled at 96 px (32 px tiles)" in err and "of 4.0 GB available" in err
    assert Image.open(output).size == (96, 72)
    assert main([*argv, "--max-memory", "lots"]) == 2
    assert "6GB" in capsys.readouterr().err
