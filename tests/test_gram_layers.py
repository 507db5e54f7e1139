"""Style layers per scale: a Gram matrix over fewer positions than channels pins the painting's layout, so
such a layer waits until the image is large enough (``nst.objective.style_layers_at``)."""

from __future__ import annotations

import pytest

from nst.config import TransferConfig
from nst.features import STYLE_LAYERS
from nst.objective import style_layers_at
from nst.optimize import StyleTransfer

VGG19_WIDTHS = {"relu1_1": 64, "relu2_1": 128, "relu3_1": 256, "relu4_1": 512, "relu5_1": 512}


@pytest.mark.parametrize("longest, expected", [
    (64, ("relu1_1", "relu2_1")),                        # relu3_1: 16x12 = 192 positions for 256 channels
    (128, ("relu1_1", "relu2_1", "relu3_1")),            # relu4_1: 16x12 for 512
    (256, ("relu1_1", "relu2_1", "relu3_1", "relu4_1")),  # relu5_1: 16x12 for 512
    (512, STYLE_LAYERS),                                 # relu5_1: 32x24 = 768 >= 512
])
def test_vgg19_style_layers_join_as_the_image_grows(longest, expected):
    shape = (longest * 3 // 4, longest)
    assert style_layers_at(STYLE_LAYERS, shape, VGG19_WIDTHS.__getitem__, 1.0) == expected


def test_the_threshold_is_positions_per_channel_and_zero_keeps_every_layer():
    shape = (192, 256)  # relu5_1 16x12 = 192 positions
    assert "relu5_1" not in style_layers_at(STYLE_LAYERS, shape, VGG19_WIDTHS.__getitem__, 1.0)
    assert "relu5_1" in style_layers_at(STYLE_LAYERS, shape, VGG19_WIDTHS.__getitem__, 192 / 512)
    assert style_layers_at(STYLE_LAYERS, (8, 8), VGG19_WIDTHS.__getitem__, 0.0) == STYLE_LAYERS


def test_the_shallowest_layer_always_stays():
    assert style_layers_at(("relu4_1", "relu3_1"), (16, 16), VGG19_WIDTHS.__getitem__, 1.0) == ("relu3_1",)


def test_each_scale_of_a_run_matches_the_layers_its_size_allows(tiny_model, content, style):
    """With the tiny network's 8 channels at relu5_1, a 32 px scale (relu5_1 2x1) leaves it out, 64 px keeps it."""
    assert tiny_model.channels("relu5_1") == 8 and tiny_model.channels("relu1_1") == 4
    config = TransferConfig(size=64, steps=2, scales=2, min_scale_size=32, preview_every=0,
                            style_layer_weights=(1, 1, 1, 1, 2))
    run = StyleTransfer(tiny_model, content, [style], config, device="cpu")
    coarse, fine = (run.level_config(run._level_shape(longest)) for longest in run.sizes)
    assert coarse.style_layers == STYLE_LAYERS[:4] and coarse.style_layer_weights == (1, 1, 1, 1)
    assert fine == config
    off = StyleTransfer(tiny_model, content, [style], config.replace(min_gram_positions=0), device="cpu")
    assert off.level_config(off._level_shape(32)).style_layers == STYLE_LAYERS
    assert len(list(run)) == 2 and run.stop_reason == "finished"


def test_a_texture_matches_every_style_layer_at_every_scale(tiny_model, style):
    """Without a content image there is no photo whose layout the rule protects: the 32 px scale that
    leaves relu5_1 out of a transfer keeps it in a texture, whatever min_gram_positions says."""
    config = TransferConfig(size=64, steps=2, scales=2, min_scale_size=32, preview_every=0, content_weight=0.0,
                            init="noise", min_gram_positions=4.0)
    texture = StyleTransfer(tiny_model, None, [style], config, device="cpu", content_size=(48, 64))
    assert all(texture.level_config(texture._level_shape(longest)).style_layers == STYLE_LAYERS
               for longest in texture.sizes)
    assert len(list(texture)) == 2 and texture.stop_reason == "finished"
