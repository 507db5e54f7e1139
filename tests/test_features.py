"""``VGG19Features`` against torchvision's VGG-19, layer by layer, plus truncation, pooling and freezing."""

from __future__ import annotations

import pytest
import torch
import torchvision
from torch import nn

from nst.features import CONTENT_LAYERS, CONV_NAMES, LAYER_NAMES, STYLE_LAYERS, VGG19Features
from nst.weights import CAFFE, TORCHVISION, VGGWeights, convs_from_state_dict

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def torchvision_vgg() -> nn.Module:
    """torchvision's VGG-19 with seeded random weights (no download)."""
    with torch.random.fork_rng():
        torch.manual_seed(0)
        return torchvision.models.vgg19(weights=None).eval()


@pytest.fixture(scope="module")
def ours(torchvision_vgg) -> VGG19Features:
    state = torchvision_vgg.state_dict()
    return VGG19Features(VGGWeights(convs_from_state_dict(state, "torchvision vgg19"), TORCHVISION, "test"))


@pytest.fixture(scope="module")
def image() -> torch.Tensor:
    return torch.rand(1, 3, 32, 40, generator=torch.Generator().manual_seed(0))


def torchvision_chain(features: nn.Sequential, x: torch.Tensor) -> list[torch.Tensor]:
    """The output of every module of torchvision's ``features``, in order (its ReLUs work in place)."""
    outputs = []
    for module in features:
        x = module(x)
        outputs.append(x.clone())
    return outputs


def test_layer_names_follow_torchvision_module_order(torchvision_vgg):
    kinds = {"conv": nn.Conv2d, "relu": nn.ReLU, "pool": nn.MaxPool2d}
    assert len(LAYER_NAMES) == len(torchvision_vgg.features) == 37
    for name, module in zip(LAYER_NAMES, torchvision_vgg.features):
        assert isinstance(module, kinds[name[:4]]), name
    assert CONTENT_LAYERS == ("relu4_2",)
    assert STYLE_LAYERS == ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")


@torch.no_grad()
def test_every_layer_matches_torchvision(torchvision_vgg, ours, image):
    expected = torchvision_chain(torchvision_vgg.features, ours.preprocess(image))
    got = ours(image, LAYER_NAMES)
    assert list(got) == list(LAYER_NAMES)
    for name, reference in zip(LAYER_NAMES, expected):
        assert got[name].shape == reference.shape, name
        assert torch.allclose(got[name], reference, rtol=1e-4, atol=1e-5), name
    assert got["pool5"].shape == (1, 512, 1, 1)


@torch.no_grad()
def test_average_pooling_matches_torchvision_with_avg_pools(torchvision_vgg, ours, image):
    features = nn.Sequential(*(
        nn.AvgPool2d(kernel_size=2, stride=2) if isinstance(m, nn.MaxPool2d) else m for m in torchvision_vgg.features
    ))
    expected = dict(zip(LAYER_NAMES, torchvision_chain(features, ours.preprocess(image))))
    wanted = ("pool1", "relu3_1", "pool4", "relu5_1")
    got = ours(image, wanted, pooling="avg")
    for name in wanted:
        assert torch.allclose(got[name], expected[name], rtol=1e-4, atol=1e-5), name
    assert not torch.allclose(got["relu5_1"], ours(image, ["relu5_1"], pooling="max")["relu5_1"])


def test_preprocessing_torchvision_and_caffe(tiny_weights):
    pixel = torch.tensor([1.0, 0.0, 0.5]).view(1, 3, 1, 1)  # RGB
    tv = VGG19Features(tiny_weights).preprocess(pixel).flatten()
    expected_tv = torch.tensor([(1.0 - 0.485) / 0.229, (0.0 - 0.456) / 0.224, (0.5 - 0.406) / 0.225])
    assert torch.allclose(tv, expected_tv)
    caffe = VGG19Features(VGGWeights(tiny_weights.convs, CAFFE, "test")).preprocess(pixel).flatten()
    # Caffe: times 255, RGB -> BGR = (127.5, 0, 255), minus the BGR means.
    expected_caffe = torch.tensor([127.5 - 103.939, 0.0 - 116.779, 255.0 - 123.68])
    assert torch.allclose(caffe, expected_caffe, atol=1e-4)


def test_runs_only_as_deep_as_asked(tiny_model):
    calls = []
    hooks = [tiny_model.convs[name].register_forward_hook(lambda m, i, o, name=name: calls.append(name))
             for name in CONV_NAMES]
    try:
        out = tiny_model(torch.rand(1, 3, 32, 32), ["relu1_1"])
        assert list(out) == ["relu1_1"]
        assert calls == ["conv1_1"]
        calls.clear()
        tiny_model(torch.rand(1, 3, 32, 32), ["conv3_1", "relu2_1"])
        assert calls == ["conv1_1", "conv1_2", "conv2_1", "conv2_2", "conv3_1"]
    finally:
        for hook in hooks:
            hook.remove()


def test_returns_exactly_the_layers_asked_for(tiny_model):
    out = tiny_model(torch.rand(1, 3, 32, 32), ["relu4_2", "relu1_1", "pool2"])
    assert set(out) == {"relu4_2", "relu1_1", "pool2"}
    assert out["relu1_1"].shape == (1, 4, 32, 32)
    assert out["pool2"].shape == (1, 6, 8, 8)
    assert out["relu4_2"].shape == (1, 8, 4, 4)
    assert (out["relu4_2"] >= 0).all()
    assert tiny_model(torch.rand(1, 3, 32, 32), []) == {}


@pytest.mark.parametrize("bad", ["conv6_1", "relu4_5", "fc7", "Relu1_1"])
def test_unknown_layer_names_raise(tiny_model, bad):
    with pytest.raises(ValueError, match=bad):
        tiny_model(torch.rand(1, 3, 32, 32), ["relu1_1", bad])


def test_unknown_pooling_raises(tiny_model):
    with pytest.raises(ValueError, match="pooling must be 'max' or 'avg'"):
        tiny_model(torch.rand(1, 3, 32, 32), ["pool1"], pooling="mean")


def test_weights_that_stop_early_limit_the_layers(tiny_weights):
    partial = {name: tiny_weights.convs[name] for name in CONV_NAMES[:4]}  # conv1_1 … conv2_2
    model = VGG19Features(VGGWeights(partial, TORCHVISION, "partial"))
    assert model.available_layers[-1] == "pool2"
    assert model(torch.rand(1, 3, 16, 16), ["pool2"])["pool2"].shape == (1, 6, 4, 4)
    with pytest.raises(ValueError, match="relu3_1"):
        model(torch.rand(1, 3, 16, 16), ["relu3_1"])


def test_parameters_are_frozen_but_images_get_gradients(tiny_model):
    assert all(not p.requires_grad for p in tiny_model.parameters())
    assert len(list(tiny_model.parameters())) == 32
    tiny_model.train()
    assert not tiny_model.training
    image = torch.rand(1, 3, 32, 32, requires_grad=True)
    tiny_model(image, ["relu3_1"])["relu3_1"].sum().backward()
    assert image.grad is not None and image.grad.abs().sum() > 0
    assert all(p.grad is None for p in tiny_model.parameters())
