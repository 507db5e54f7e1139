"""Spatial control: masks in any form, masks following VGG's pooling, guided Gram matrices, and masked
runs whose regions take their own style (Gatys et al. 2017)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from nst import StyleTransfer, TransferConfig, load_image
from nst.features import LAYER_NAMES, STYLE_LAYERS
from nst.image import resize_longest, to_tensor
from nst.losses import gram_matrix
from nst.masks import cover_rest, guided_gram, layer_masks, mask_to_tensor, resize_mask

FAST = TransferConfig(size=64, steps=30, preview_every=0)


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def images(assets):
    load = lambda part: load_image(assets / part)  # noqa: E731
    return {
        "face": load("face.jpg"),
        "starry": load("starry_night.jpg"),
        "scream": load("the_scream.jpg"),
        "mask": Image.open(assets / "face_mask.png"),
        "mask_inv": Image.open(assets / "face_mask_inv.png"),
    }


def region_distance(model, image, mask, style) -> float:
    """Mean relative error between the guided Gram of ``image``'s masked region and ``style``'s Gram."""
    x = to_tensor(image)
    masks = layer_masks(resize_mask(mask_to_tensor(mask), x.shape[-2:]), STYLE_LAYERS)
    with torch.no_grad():
        f = model(x, STYLE_LAYERS)
        s = model(to_tensor(resize_longest(style, max(image.size))), STYLE_LAYERS)
    errors = [torch.linalg.norm(guided_gram(f[l], masks[l]) - gram_matrix(s[l])) / torch.linalg.norm(gram_matrix(s[l]))
              for l in STYLE_LAYERS]
    return float(sum(errors) / len(errors))


# -- reading masks ---------------------------------------------------------------------------------


def test_grey_mask_is_white_one_black_zero():
    grey = Image.fromarray(np.array([[0, 255], [128, 255]], dtype=np.uint8), "L")
    mask = mask_to_tensor(grey)
    assert mask.shape == (1, 1, 2, 2)
    assert torch.allclose(mask[0, 0], torch.tensor([[0.0, 1.0], [128 / 255, 1.0]]))


def test_alpha_is_used_when_the_mask_has_transparency():
    rgba = np.zeros((2, 2, 4), dtype=np.uint8)  # black pixels; the alpha carries the region
    rgba[..., 3] = [[255, 0], [0, 255]]
    mask = mask_to_tensor(Image.fromarray(rgba, "RGBA"))
    assert torch.equal(mask[0, 0], torch.tensor([[1.0, 0.0], [0.0, 1.0]]))


def test_opaque_rgba_and_rgb_masks_use_their_grey_levels():
    rgb = np.zeros((2, 2, 3), dtype=np.uint8)
    rgb[0, 0] = 255
    opaque = np.concatenate([rgb, np.full((2, 2, 1), 255, np.uint8)], axis=2)
    for image in (Image.fromarray(rgb, "RGB"), Image.fromarray(opaque, "RGBA"), Image.fromarray(rgb[..., 0] > 0)):
        assert torch.equal(mask_to_tensor(image)[0, 0], torch.tensor([[1.0, 0.0], [0.0, 0.0]])), image.mode


def test_float_arrays_and_paths_are_accepted(assets):
    from_array = mask_to_tensor(np.array([[0.0, 1.0]]))
    assert torch.equal(from_array[0, 0], torch.tensor([[0.0, 1.0]]))
    from_path = mask_to_tensor(assets / "face_mask.png")
    assert from_path.shape == (1, 1, 512, 384)


def test_an_all_black_mask_is_refused_with_a_clear_message():
    with pytest.raises(ValueError, match="black everywhere: paint white where its style should go"):
        mask_to_tensor(Image.new("L", (8, 8), 0))


def test_a_missing_mask_file_is_refused(tmp_path):
    with pytest.raises(ValueError, match="no such file"):
        mask_to_tensor(tmp_path / "nowhere.png")


# -- masks through the network -----------------------------------------------------------------------


def test_layer_masks_have_each_layers_resolution(tiny_model):
    x = torch.rand(1, 3, 45, 62)
    layers = [n for n in LAYER_NAMES if not n.startswith("conv")]
    features = tiny_model(x, layers)
    masks = layer_masks(torch.rand(1, 1, 45, 62), layers)
    for layer in layers:
        assert masks[layer].shape[-2:] == features[layer].shape[-2:], layer


def test_layer_masks_average_like_the_pooling():
    mask = torch.zeros(1, 1, 8, 8)
    mask[..., :, :4] = 1.0   # left half
    mask[..., 0, 4] = 1.0    # one extra pixel, which pooling spreads out
    masks = layer_masks(mask, ("relu1_1", "relu2_1", "relu3_1"))
    assert torch.equal(masks["relu1_1"], mask)
    assert masks["relu2_1"][0, 0, 0].tolist() == [1.0, 1.0, 0.25, 0.0]
    assert torch.allclose(masks["relu3_1"][0, 0], torch.tensor([[1.0, 0.0625], [1.0, 0.0]]))


def test_guided_gram_of_a_full_mask_is_the_plain_gram():
    f = torch.randn(1, 5, 6, 7)
    assert torch.allclose(guided_gram(f, torch.ones(1, 1, 6, 7)), gram_matrix(f), atol=1e-6)


def test_guided_gram_of_a_binary_mask_is_the_gram_of_the_region():
    f = torch.randn(1, 5, 6, 7)
    mask = torch.zeros(1, 1, 6, 7)
    mask[..., 1:4, 2:6] = 1.0
    assert torch.allclose(guided_gram(f, mask), gram_matrix(f[..., 1:4, 2:6]), atol=1e-6)


def test_resize_mask_keeps_soft_values_in_range():
    mask = torch.zeros(1, 1, 100, 80)
    mask[..., :50, :] = 1.0
    small, large = resize_mask(mask, (10, 8)), resize_mask(mask, (200, 160))
    assert small.shape == (1, 1, 10, 8) and large.shape == (1, 1, 200, 160)
    assert 0.0 <= float(small.min()) and float(large.max()) <= 1.0
    assert float(small.mean()) == pytest.approx(0.5, abs=0.01)


def test_cover_rest_gives_the_uncovered_area_to_the_default_style():
    a = torch.tensor([[[[1.0, 0.0, 0.3]]]])
    b = torch.tensor([[[[0.0, 0.0, 0.2]]]])
    filled = cover_rest([a, b], default=1)
    assert torch.equal(filled[0], a)
    assert torch.allclose(filled[1], torch.tensor([[[[0.0, 1.0, 0.7]]]]))
    assert cover_rest([a, None], default=0)[0] is a  # a style everywhere leaves nothing uncovered


# -- masked runs -------------------------------------------------------------------------------------


def test_each_masked_region_takes_its_own_style(tiny_model, images):
    run = StyleTransfer(tiny_model, images["face"], [images["starry"], images["scream"]], FAST,
                        style_masks=[images["mask"], images["mask_inv"]], device="cpu")
    out = run.run()
    face_starry = region_distance(tiny_model, out, images["mask"], images["starry"])
    face_scream = region_distance(tiny_model, out, images["mask"], images["scream"])
    rest_starry = region_distance(tiny_model, out, images["mask_inv"], images["starry"])
    rest_scream = region_distance(tiny_model, out, images["mask_inv"], images["scream"])
    assert face_starry < face_scream
    assert rest_scream < rest_starry
    # The same with the styles swapped: the regions follow the masks, not the photo.
    swapped = StyleTransfer(tiny_model, images["face"], [images["scream"], images["starry"]], FAST,
                            style_masks=[images["mask"], images["mask_inv"]], device="cpu").run()
    assert region_distance(tiny_model, swapped, images["mask"], images["scream"]) < \
        region_distance(tiny_model, swapped, images["mask"], images["starry"])
    assert region_distance(tiny_model, swapped, images["mask_inv"], images["starry"]) < \
        region_distance(tiny_model, swapped, images["mask_inv"], images["scream"])


def test_unmasked_area_keeps_the_content(tiny_model, images):
    content = images["face"]
    out = StyleTransfer(tiny_model, content, [images["starry"]], FAST.replace(steps=20),
                        style_masks=[images["mask"]], device="cpu").run()
    change = np.abs(np.asarray(out, dtype=np.float64)
                    - np.asarray(content.resize(out.size, Image.LANCZOS), dtype=np.float64)).mean(axis=2)
    face = np.asarray(images["mask"].resize(out.size), dtype=np.float64) > 127
    background = np.asarray(images["mask_inv"].resize(out.size), dtype=np.float64) > 127
    assert change[background].mean() < 0.5 * change[face].mean()


def test_default_style_takes_the_rest_so_full_cover_is_a_plain_transfer(tiny_model, images):
    config = FAST.replace(steps=8)
    plain = StyleTransfer(tiny_model, images["face"], [images["starry"]], config, device="cpu")
    plain.run()
    covered = StyleTransfer(tiny_model, images["face"], [images["starry"]], config, style_masks=[images["mask"]],
                            default_style=0, device="cpu")
    covered.run()
    alone = StyleTransfer(tiny_model, images["face"], [images["starry"]], config, style_masks=[images["mask"]],
                          device="cpu")
    alone.run()
    for a, b in zip(plain.history, covered.history):
        assert b["style"] == pytest.approx(a["style"], rel=1e-4)
    assert alone.history[0]["style"] != pytest.approx(plain.history[0]["style"], rel=1e-2)


def test_style_image_mask_picks_the_part_of_the_painting_used(tiny_model, images):
    # A painting made of two halves: Starry Night on the left, The Scream on the right.
    half = (48, 64)
    painting = Image.new("RGB", (96, 64))
    painting.paste(images["starry"].resize(half), (0, 0))
    painting.paste(images["scream"].resize(half), (48, 0))
    left = Image.new("L", painting.size, 0)
    left.paste(255, (0, 0, 48, 64))
    right = left.point(lambda v: 255 - v)
    config = FAST.replace(steps=20, style_scale=1.5)
    from_left = StyleTransfer(tiny_model, images["face"], [painting], config, style_image_masks=[left],
                              device="cpu").run()
    from_right = StyleTransfer(tiny_model, images["face"], [painting], config, style_image_masks=[right],
                               device="cpu").run()
    whole = Image.new("L", from_left.size, 255)
    assert region_distance(tiny_model, from_left, whole, images["starry"]) < \
        region_distance(tiny_model, from_right, whole, images["starry"])
    assert region_distance(tiny_model, from_right, whole, images["scream"]) < \
        region_distance(tiny_model, from_left, whole, images["scream"])


def test_mask_counts_and_default_style_are_checked(tiny_model, images):
    styles = [images["starry"], images["scream"]]
    with pytest.raises(ValueError, match="1 style mask\\(s\\) for 2 style image\\(s\\): give one per style"):
        StyleTransfer(tiny_model, images["face"], styles, FAST, style_masks=[images["mask"]])
    with pytest.raises(ValueError, match="style image mask"):
        StyleTransfer(tiny_model, images["face"], styles, FAST, style_image_masks=[None, None, None])
    with pytest.raises(ValueError, match="style mask 2 is black everywhere"):
        StyleTransfer(tiny_model, images["face"], styles, FAST, style_masks=[images["mask"], Image.new("L", (9, 9))])
    with pytest.raises(ValueError, match="give style masks too"):
        StyleTransfer(tiny_model, images["face"], styles, FAST, default_style=0)
    with pytest.raises(ValueError, match="default_style must be a style index from 0 to 1"):
        StyleTransfer(tiny_model, images["face"], styles, FAST, style_masks=[images["mask"], None], default_style=2)


def test_masks_of_any_size_and_mode_work_with_a_pyramid(tiny_model, images):
    rgba = Image.new("RGBA", (37, 23), (0, 0, 0, 0))
    rgba.paste((0, 0, 0, 255), (0, 0, 18, 23))  # left half opaque
    run = StyleTransfer(tiny_model, images["face"], [images["starry"]], FAST.replace(steps=4, scales=2, min_scale_size=32),
                        style_masks=[rgba], device="cpu")
    events = list(run)
    assert [e.size for e in events][0] != events[-1].size   # two scales ran
    assert run.stop_reason == "finished" and run.result().size == (48, 64)
