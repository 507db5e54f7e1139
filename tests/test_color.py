"""Tests for nst.color (colour preservation; CPU, fast)."""

import math

import pytest
import torch

from nst import color
from nst.color import (
    COLOR_SPACES,
    combine_luminance,
    lab_to_rgb,
    luminance,
    luminance_to_rgb,
    luv_to_rgb,
    match_color_histogram,
    match_luminance,
    preserve_color,
    rgb_to_lab,
    rgb_to_luv,
    rgb_to_ycbcr,
    rgb_to_yuv,
    ycbcr_to_rgb,
    yuv_to_rgb,
)

PAIRS = {
    "yuv": (rgb_to_yuv, yuv_to_rgb),
    "ycrcb": (rgb_to_ycbcr, ycbcr_to_rgb),
    "lab": (rgb_to_lab, lab_to_rgb),
    "luv": (rgb_to_luv, luv_to_rgb),
}


def _gen(seed):
    return torch.Generator().manual_seed(seed)


def _random_image(h=24, w=20, seed=0):
    """Random image in [0,1] including exact 0/1 and values near 0."""
    img = torch.rand(1, 3, h, w, generator=_gen(seed))
    img[:, :, 0, :] = 0.0
    img[:, :, 1, :] = 1.0
    img[:, :, 2, :] = torch.logspace(-7, -1.5, w)
    img[:, 0, 3, :] = 0.0  # saturated-ish colours
    img[:, 2, 4, :] = 1.0
    return img


def _pixel(r, g, b):
    return torch.tensor([r, g, b], dtype=torch.float32).view(1, 3, 1, 1)


def _moderate_image(seed, h=16, w=16, lo=0.35, hi=0.65):
    return lo + (hi - lo) * torch.rand(1, 3, h, w, generator=_gen(seed))


def test_color_spaces_tuple():
    assert COLOR_SPACES == ("yuv", "ycrcb", "lab", "luv")


@pytest.mark.parametrize("space", COLOR_SPACES)
def test_round_trip(space):
    fwd, inv = PAIRS[space]
    img = _random_image()
    out = inv(fwd(img))
    assert out.shape == img.shape
    assert (out - img).abs().max().item() < 1e-4


@pytest.mark.parametrize("space", COLOR_SPACES)
def test_round_trip_3d_and_batch(space):
    fwd, inv = PAIRS[space]
    img3 = _random_image(seed=1)[0]
    conv = fwd(img3)
    assert conv.shape == img3.shape
    assert (inv(conv) - img3).abs().max().item() < 1e-4
    batch = torch.rand(2, 3, 8, 8, generator=_gen(2))
    assert (inv(fwd(batch)) - batch).abs().max().item() < 1e-4


@pytest.mark.parametrize("space", COLOR_SPACES)
def test_conversion_is_not_identity(space):
    fwd, _ = PAIRS[space]
    img = _random_image(seed=3)
    assert (fwd(img) - img).abs().max().item() > 1e-2


def test_lab_known_values():
    white = rgb_to_lab(_pixel(1, 1, 1)).flatten()
    assert torch.allclose(white, torch.tensor([100.0, 0.0, 0.0]), atol=1e-2)
    red = rgb_to_lab(_pixel(1, 0, 0)).flatten()
    assert torch.allclose(red, torch.tensor([53.24, 80.09, 67.20]), atol=2e-2)
    black = rgb_to_lab(_pixel(0, 0, 0)).flatten()
    assert torch.allclose(black, torch.zeros(3), atol=1e-4)


def test_luv_known_values():
    red = rgb_to_luv(_pixel(1, 0, 0)).flatten()
    assert torch.allclose(red, torch.tensor([53.24, 175.01, 37.76]), atol=5e-2)
    white = rgb_to_luv(_pixel(1, 1, 1)).flatten()
    assert torch.allclose(white, torch.tensor([100.0, 0.0, 0.0]), atol=1e-2)


def test_yuv_ycbcr_known_values():
    red = _pixel(1, 0, 0)
    yuv = rgb_to_yuv(red).flatten()
    assert torch.allclose(yuv, torch.tensor([0.299, -0.14713, 0.615]), atol=1e-5)
    ycc = rgb_to_ycbcr(red).flatten()
    assert torch.allclose(ycc, torch.tensor([0.299, 0.5 - 0.168736, 1.0]), atol=1e-5)


@pytest.mark.parametrize("space", COLOR_SPACES)
@pytest.mark.parametrize("level", [0.0, 0.02, 0.3, 0.5, 0.9, 1.0])
def test_grey_has_zero_chroma(space, level):
    fwd, _ = PAIRS[space]
    conv = fwd(_pixel(level, level, level)).flatten()
    neutral = 0.5 if space == "ycrcb" else 0.0
    assert abs(conv[1].item() - neutral) < 1e-3
    assert abs(conv[2].item() - neutral) < 1e-3


def test_luminance_shapes_and_scale():
    img = _random_image(seed=4)
    for space in COLOR_SPACES:
        lum = luminance(img, space)
        assert lum.shape == (1, 1, 24, 20)
        assert lum.min().item() >= -1e-6 and lum.max().item() <= 1 + 1e-5
    lum3 = luminance(img[0], "lab")
    assert lum3.shape == (1, 1, 24, 20)
    assert torch.allclose(luminance(img, "lab"), rgb_to_lab(img)[:, :1] / 100.0)
    white = _pixel(1, 1, 1)
    for space in COLOR_SPACES:
        assert abs(luminance(white, space).item() - 1.0) < 1e-4
    expected_y = 0.299 * img[:, 0] + 0.587 * img[:, 1] + 0.114 * img[:, 2]
    assert torch.allclose(luminance(img, "yuv")[:, 0], expected_y, atol=1e-6)


def test_match_luminance_matches_content_stats():
    style = torch.rand(1, 1, 30, 40, generator=_gen(5)) ** 2
    content = 0.4 + 0.1 * torch.rand(1, 1, 17, 23, generator=_gen(6))
    out = match_luminance(style, content)
    assert out.shape == style.shape
    assert abs(out.mean().item() - content.mean().item()) < 1e-5
    assert abs(out.std(unbiased=False).item() - content.std(unbiased=False).item()) < 1e-5
    # Monotone (an affine remap with positive slope) -> ordering preserved.
    assert torch.equal(out.flatten().argsort(), style.flatten().argsort())


def test_match_luminance_constant_style_is_finite():
    style = torch.full((1, 1, 8, 8), 0.3)
    content = torch.rand(1, 1, 8, 8, generator=_gen(7))
    out = match_luminance(style, content)
    assert torch.isfinite(out).all()
    assert torch.allclose(out, torch.full_like(out, content.mean().item()), atol=1e-5)


@pytest.mark.parametrize("space", COLOR_SPACES)
def test_combine_luminance_takes_luma_and_chroma(space):
    luma_img = _moderate_image(8)
    color_img = _moderate_image(9)
    out = combine_luminance(luma_img, color_img, space)
    assert out.shape == luma_img.shape
    assert out.min().item() >= 0.0 and out.max().item() <= 1.0
    fwd, _ = PAIRS[space]
    o, l, c = fwd(out), fwd(luma_img), fwd(color_img)
    tol = 1e-2 if space in ("lab", "luv") else 1e-4
    assert (o[:, 0] - l[:, 0]).abs().max().item() < tol
    assert (o[:, 1:] - c[:, 1:]).abs().max().item() < tol
    # And it differs from both inputs.
    assert (out - luma_img).abs().max().item() > 1e-2
    assert (out - color_img).abs().max().item() > 1e-2


@pytest.mark.parametrize("space", COLOR_SPACES)
def test_combine_luminance_accepts_one_channel_luma(space):
    luma_img = _moderate_image(10)
    color_img = _moderate_image(11)
    from_rgb = combine_luminance(luma_img, color_img, space)
    from_lum = luminance_to_rgb(luminance(luma_img, space), color_img, space)
    assert torch.allclose(from_rgb, from_lum, atol=1e-5)


def test_combine_luminance_resizes_chroma():
    luma_img = _moderate_image(12, h=16, w=16)
    color_img = _moderate_image(13, h=9, w=11)
    out = combine_luminance(luma_img[0], color_img[0], "yuv")
    assert out.shape == (3, 16, 16)


def _correlated_image(seed, mean, mix, h, w):
    """mean + mix @ z with z ~ U[-1,1]^3; stays inside [0,1] (no clamping)."""
    z = 2 * torch.rand(3, h * w, generator=_gen(seed)) - 1
    pix = torch.tensor(mean).view(3, 1) + torch.tensor(mix) @ z
    assert pix.min() > 0 and pix.max() < 1
    return pix.view(1, 3, h, w)


def _stats(img):
    flat = img.reshape(3, -1).double()
    mu = flat.mean(1)
    d = flat - mu[:, None]
    return mu, d @ d.T / flat.shape[1]


@pytest.mark.parametrize("mode", ["cholesky", "pca", "sym"])
def test_match_color_histogram_matches_mean_and_covariance(mode):
    style = _correlated_image(
        14, [0.3, 0.6, 0.5], [[0.2, 0.05, 0.0], [0.0, 0.15, 0.1], [0.05, 0.0, 0.25]], 40, 30
    )
    content = _correlated_image(
        15, [0.55, 0.45, 0.4], [[0.08, 0.04, 0.02], [0.03, 0.07, 0.0], [0.0, 0.02, 0.06]], 25, 35
    )
    out = match_color_histogram(style, content, mode=mode)
    assert out.shape == style.shape
    mu_o, cov_o = _stats(out)
    mu_c, cov_c = _stats(content)
    mu_s, cov_s = _stats(style)
    assert torch.allclose(mu_o, mu_c, atol=1e-4)
    assert torch.allclose(cov_o, cov_c, atol=2e-4), (cov_o, cov_c)
    # The style's statistics really were different.
    assert (mu_s - mu_c).abs().max() > 0.05
    assert (cov_s - cov_c).abs().max() > 5e-3


def test_match_color_histogram_modes_and_clamping():
    style = torch.rand(1, 3, 20, 20, generator=_gen(16))
    content = torch.rand(1, 3, 12, 12, generator=_gen(17)) * torch.tensor([1.0, 0.2, 0.1]).view(1, 3, 1, 1)
    outs = {m: match_color_histogram(style, content, mode=m) for m in ("cholesky", "pca", "sym")}
    for out in outs.values():
        assert out.min().item() >= 0.0 and out.max().item() <= 1.0
        assert torch.isfinite(out).all()
    # Different square roots give different transforms in general.
    assert (outs["cholesky"] - outs["sym"]).abs().max().item() > 1e-3
    # 3-D input keeps its rank.
    assert match_color_histogram(style[0], content[0], mode="sym").shape == (3, 20, 20)


def test_match_color_histogram_constant_style_is_finite():
    style = torch.full((1, 3, 8, 8), 0.2)
    content = _moderate_image(18)
    out = match_color_histogram(style, content)
    assert torch.isfinite(out).all()
    assert torch.allclose(out[0, :, 0, 0], content.mean(dim=(0, 2, 3)), atol=1e-5)


def test_preserve_color_lab_amount_one():
    stylized = _moderate_image(19)
    content = _moderate_image(20)
    out = preserve_color(stylized, content, "lab", amount=1.0)
    lab_o, lab_s, lab_c = rgb_to_lab(out), rgb_to_lab(stylized), rgb_to_lab(content)
    assert (lab_o[:, 0] - lab_s[:, 0]).abs().max().item() < 1e-2
    assert abs(lab_o[:, 1].mean().item() - lab_c[:, 1].mean().item()) < 0.05
    assert abs(lab_o[:, 2].mean().item() - lab_c[:, 2].mean().item()) < 0.05
    # Per pixel too, and it really changed the stylised chroma.
    assert (lab_o[:, 1:] - lab_c[:, 1:]).abs().max().item() < 1e-2
    assert (lab_s[:, 1:] - lab_c[:, 1:]).abs().max().item() > 1.0


@pytest.mark.parametrize("method", COLOR_SPACES)
def test_preserve_color_amount_zero_is_identity(method):
    stylized = _random_image(seed=21)
    content = _moderate_image(22)
    out = preserve_color(stylized, content, method, amount=0.0)
    assert out.shape == stylized.shape
    assert (out - stylized).abs().max().item() < 1e-4


@pytest.mark.parametrize("method", COLOR_SPACES)
def test_preserve_color_amount_blends_chroma(method):
    stylized = _moderate_image(23)
    content = _moderate_image(24)
    fwd, _ = PAIRS[method]
    half = fwd(preserve_color(stylized, content, method, amount=0.5))
    s, c = fwd(stylized), fwd(content)
    tol = 1e-2 if method in ("lab", "luv") else 1e-4
    assert (half[:, 0] - s[:, 0]).abs().max().item() < tol
    assert (half[:, 1:] - 0.5 * (s[:, 1:] + c[:, 1:])).abs().max().item() < tol


def test_preserve_color_resizes_content_and_keeps_rank():
    stylized = _moderate_image(25, h=16, w=12)
    content = _moderate_image(26, h=31, w=7)
    out = preserve_color(stylized, content, "ycrcb")
    assert out.shape == stylized.shape
    out3 = preserve_color(stylized[0], content[0], "luv", amount=0.3)
    assert out3.shape == (3, 16, 12)
    # Uniform content colour -> resized chroma is that colour's chroma.
    flat = torch.tensor([0.7, 0.4, 0.2]).view(1, 3, 1, 1).expand(1, 3, 5, 9)
    out = preserve_color(stylized, flat, "yuv")
    target_uv = rgb_to_yuv(flat)[0, 1:, 0, 0]
    got_uv = rgb_to_yuv(out)[0, 1:]
    assert torch.allclose(got_uv, target_uv.view(2, 1, 1).expand_as(got_uv), atol=1e-4)


def test_preserve_color_is_differentiable_with_black_pixels():
    stylized = _random_image(seed=27).requires_grad_(True)
    content = _random_image(seed=28)
    for method in COLOR_SPACES:
        stylized.grad = None
        preserve_color(stylized, content, method).sum().backward()
        assert torch.isfinite(stylized.grad).all(), method
        assert stylized.grad.abs().sum().item() > 0


@pytest.mark.parametrize("bad", ["rgb", "hsv", "", None, 3])
def test_preserve_color_bad_method(bad):
    img = _moderate_image(29)
    with pytest.raises(ValueError) as info:
        preserve_color(img, img, bad)
    for name in COLOR_SPACES:
        assert name in str(info.value)


@pytest.mark.parametrize("bad", [-0.1, 1.5, float("nan"), float("inf"), "a lot", None])
def test_preserve_color_bad_amount(bad):
    img = _moderate_image(30)
    with pytest.raises(ValueError):
        preserve_color(img, img, "lab", amount=bad)


def test_bad_space_and_mode_raise():
    img = _moderate_image(31)
    with pytest.raises(ValueError, match="yuv"):
        luminance(img, "hsl")
    with pytest.raises(ValueError, match="luv"):
        combine_luminance(img, img, "xyz")
    with pytest.raises(ValueError, match="cholesky"):
        match_color_histogram(img, img, mode="wavelet")


def test_bad_shapes_raise():
    img = _moderate_image(32)
    with pytest.raises(ValueError):
        preserve_color(img[:, :2], img, "yuv")
    with pytest.raises(ValueError):
        rgb_to_lab(torch.rand(3, 4))
    with pytest.raises(ValueError):
        match_color_histogram(img.to(torch.int64), img)


def test_module_exports():
    for name in color.__all__:
        assert hasattr(color, name), name
    assert color.luminance_to_rgb is color.combine_luminance
    assert math.isclose(color.rgb_to_yuv(_pixel(0.5, 0.5, 0.5))[0, 0].item(), 0.5, abs_tol=1e-6)
