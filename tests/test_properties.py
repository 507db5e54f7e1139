"""Property-based tests (hypothesis) of the settings and of runs made with any valid settings.

* ``TransferConfig.from_dict`` fed arbitrary mappings (unknown keys, keys that are not strings, values of
  every type, NaN and infinities, huge integers, unknown layer names) returns a valid config or raises
  ``ValueError`` with a message, never another exception; valid configs survive ``to_dict`` -> JSON ->
  ``from_dict`` unchanged.
* ``weighted_sum`` (the per-layer loss weighting, ``sum_l w_l / sum(w) * E_l``) is a weighted mean of its
  terms for any valid weights, however large.
* A ``StyleTransfer`` on the tiny network with any valid settings (small sizes, few steps; every
  optimiser, init, pooling, number of scales, colour mode, TV kind, layer choice and weights, zeros
  included) yields only finite losses, or stops with ``stop_reason == "nan"``, and in every case hands
  back a result of the output's size.
* The command line answers bad numeric option values with exit status 2 and one line ``nst: error: ...``.
"""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st
from PIL import Image

from nst.cli import main
from nst.config import INITS, MAX_SIZE, OPTIMIZERS, POOLINGS, PRECISIONS, PRESERVE_COLORS, TV_KINDS, TransferConfig
from nst.features import LAYER_NAMES
from nst.losses import weighted_sum
from nst.optimize import StyleTransfer

pytestmark = pytest.mark.usefixtures("one_thread")

FIELDS = tuple(f.name for f in dataclasses.fields(TransferConfig))
HUGE_INTS = (2**63, 2**64, -(2**63) - 1, 10**400, -(10**400))
WORDS = (*LAYER_NAMES, *OPTIMIZERS, *POOLINGS, *INITS, *TV_KINDS, *PRECISIONS, *PRESERVE_COLORS,
         "conv6_1", "relu0_1", "pool6", "", " relu1_1", "RELU1_1", "lbfgs ")

# Any value at all: every JSON type and then some, nested a little.
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.sampled_from(HUGE_INTS),
    st.floats(allow_nan=True, allow_infinity=True), st.sampled_from((math.nan, math.inf, -math.inf, -0.0, 1e308)),
    st.text(max_size=10), st.sampled_from(WORDS), st.binary(max_size=4),
)
anything = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=5), st.tuples(inner, inner),
                            st.dictionaries(st.text(max_size=5), inner, max_size=3)),
    max_leaves=8,
)
keys = st.one_of(st.sampled_from(FIELDS), st.text(max_size=12), st.integers(), st.none(), st.booleans(),
                 st.tuples(st.integers(), st.integers()), st.floats(allow_nan=False))

# -- Valid settings ----------------------------------------------------------------------------------------

weight = st.one_of(st.just(0.0), st.floats(min_value=0.0, max_value=1e6),
                   st.floats(min_value=0.0, allow_infinity=False))


@st.composite
def layer_weights(draw, count: int):
    """None, or ``count`` weights of 0 or more that are not all zero."""
    if count == 0 or draw(st.booleans()):
        return None
    values = draw(st.lists(weight, min_size=count, max_size=count))
    if sum(values) == 0:
        values[draw(st.integers(0, count - 1))] = 1.0
    return values


@st.composite
def valid_settings(draw, *, run: bool = False, styles: int | None = None) -> dict:
    """A dict of settings ``TransferConfig`` accepts; ``run=True`` keeps it small enough to run in milliseconds."""
    content_weight, style_weight = draw(weight), draw(weight)
    if content_weight == style_weight == 0:
        style_weight = 1.0
    layers = st.sampled_from(LAYER_NAMES)
    content_layers = draw(st.lists(layers, min_size=0 if content_weight == 0 else 1, max_size=3))
    style_layers = draw(st.lists(layers, min_size=0 if style_weight == 0 else 1, max_size=4))
    n_styles = styles if styles is not None else draw(st.integers(1, 3))
    fraction = st.floats(min_value=0.0, max_value=1.0)
    scale = st.floats(min_value=0.05, max_value=8.0)
    out = dict(
        size=draw(st.integers(16, 48) if run else st.integers(16, MAX_SIZE)),
        steps=draw(st.integers(1, 3) if run else st.integers(0, 100_000)),
        content_weight=content_weight, style_weight=style_weight, tv_weight=draw(weight),
        tv_kind=draw(st.sampled_from(TV_KINDS)),
        content_layers=content_layers, style_layers=style_layers,
        content_layer_weights=draw(layer_weights(len(content_layers))),
        style_layer_weights=draw(layer_weights(len(style_layers))),
        style_blend_weights=draw(layer_weights(n_styles)),
        style_scale=draw(st.floats(min_value=0.05, max_value=2.0) if run else scale),
        style_scales=draw(st.none() | st.lists(st.floats(min_value=0.05, max_value=2.0) if run else scale,
                                               min_size=n_styles, max_size=n_styles)),
        optimizer=draw(st.sampled_from(OPTIMIZERS)),
        lr=draw(st.none() | st.floats(min_value=1e-8, max_value=1e3)),
        init=draw(st.sampled_from(INITS)),
        pooling=draw(st.sampled_from(POOLINGS)),
        scales=draw(st.integers(1, 8)),
        min_scale_size=draw(st.integers(16, 64) if run else st.integers(16, MAX_SIZE)),
        early_stop_tol=draw(fraction),
        early_stop_patience=draw(st.integers(1, 3) if run else st.integers(1, 100_000)),
        seed=draw(st.integers(0, 2**63 - 1)),
        precision=draw(st.sampled_from(("auto", "fp32")) if run else st.sampled_from(PRECISIONS)),
        preview_every=draw(st.integers(0, 3) if run else st.integers(0, 100_000)),
        preserve_color=draw(st.sampled_from(PRESERVE_COLORS)),
        color_amount=draw(fraction),
        photo_smoothing=draw(st.integers(0, 64) if run else st.integers(0, 1024)),
    )
    if run:
        return out
    # Leave some fields at their defaults, as outside data often does.
    kept = draw(st.sets(st.sampled_from(FIELDS)))
    always = ("content_weight", "style_weight", "content_layers", "style_layers")  # what other fields depend on
    out = {k: v for k, v in out.items() if k in kept or k in always}
    # Style i is processed at size * style_scale * style_scales[i] px, which must stay within MAX_SIZE.
    widest = out.get("size", TransferConfig().size) * max(out.get("style_scales") or [1.0])
    if round(widest * out.get("style_scale", 1.0)) > MAX_SIZE:
        out["style_scale"] = MAX_SIZE / widest * (1 - 1e-9)
    return out


def mixed_settings():
    """Valid settings with some values swapped for anything at all and some keys added."""
    return st.builds(lambda good, bad, extra: {**good, **bad, **extra}, valid_settings(),
                     st.dictionaries(st.sampled_from(FIELDS), anything, max_size=3),
                     st.dictionaries(keys, anything, max_size=2))


# -- from_dict ---------------------------------------------------------------------------------------------


def from_dict_or_value_error(data) -> TransferConfig | None:
    """``from_dict(data)``: a config, or None after a ``ValueError`` with a one-line message."""
    try:
        config = TransferConfig.from_dict(data)
    except ValueError as exc:
        message = str(exc)
        assert message and "\n" not in message, repr(message)
        return None
    assert isinstance(config, TransferConfig)
    return config


@settings(max_examples=100, deadline=None)
@given(st.one_of(st.dictionaries(keys, anything, max_size=6), mixed_settings()))
def test_from_dict_gives_a_config_or_a_value_error(data):
    config = from_dict_or_value_error(data)
    if config is not None:
        # What it accepted is what it holds, and it is valid: the same values build it again.
        assert TransferConfig.from_dict(config.to_dict()) == config


@settings(max_examples=50, deadline=None)
@given(st.one_of(scalars, st.lists(anything, max_size=3)))
def test_from_dict_refuses_what_is_not_a_mapping(data):
    with pytest.raises(ValueError, match="settings must be a mapping"):
        TransferConfig.from_dict(data)


@settings(max_examples=60, deadline=None)
@given(valid_settings())
def test_valid_settings_round_trip_through_json(data):
    config = TransferConfig.from_dict(data)
    assert TransferConfig.from_dict(config.to_dict()) == config
    assert TransferConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config


@settings(max_examples=40, deadline=None)
@given(valid_settings(), st.sampled_from(FIELDS), anything)
def test_replace_checks_like_from_dict(data, field, value):
    config = TransferConfig.from_dict(data)
    try:
        changed = config.replace(**{field: value})
    except ValueError as exc:
        assert str(exc)
    else:
        assert getattr(changed, field) == value


# -- weighted_sum ------------------------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.floats(min_value=0.0, max_value=1e6), weight), min_size=1, max_size=6))
def test_layer_weighting_is_a_weighted_mean(pairs):
    values, weights = zip(*pairs)
    assume(sum(weights) > 0)
    layers = [f"layer{i}" for i in range(len(values))]
    terms = {name: torch.tensor(v, dtype=torch.float64) for name, v in zip(layers, values)}
    mean = float(weighted_sum(terms, list(weights), layers))
    assert math.isfinite(mean)
    kept = [v for v, w in zip(values, weights) if w > 0]
    assert min(kept) * (1 - 1e-9) <= mean <= max(kept) * (1 + 1e-9)


# -- Runs with any valid settings -------------------------------------------------------------------------


def noise_image(seed: int, width: int, height: int) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8), "RGB")


@st.composite
def runs(draw):
    """(settings, content image or None, style images, init image) for a small run that must work."""
    n_styles = draw(st.integers(1, 2))
    data = valid_settings(run=True, styles=n_styles)
    data = draw(data)
    config = TransferConfig.from_dict(data)
    texture = config.content_weight == 0 and config.preserve_color == "off" and config.photo_smoothing == 0 \
        and draw(st.booleans())
    side = st.integers(16, 64)
    content = None if texture else noise_image(draw(st.integers(0, 99)), draw(side), draw(side))
    styles = [noise_image(draw(st.integers(0, 99)), draw(side), draw(side)) for _ in range(n_styles)]
    init = noise_image(7, draw(side), draw(side)) if config.init == "image" else None
    w, h = (content or styles[0]).size
    assume(round(min(w, h) * config.size / max(w, h)) >= 16)  # thinner images are refused with a message
    return config, content, styles, init


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(runs())
def test_any_valid_run_has_finite_losses_or_stops_on_nan_and_hands_back_an_image(tiny_model, case):
    # tiny_model is frozen (no state changes between examples), so one instance serves them all.
    config, content, styles, init = case
    w, h = (content or styles[0]).size
    scale = config.size / max(w, h)
    expected = (max(1, round(w * scale)), max(1, round(h * scale)))
    try:
        run = StyleTransfer(tiny_model, content, styles, config, init_image=init, device="cpu")
    except ValueError as exc:  # pool5 takes a short side of 32 px (five 2x2 poolings)
        assert "pool5" in (*config.content_layers, *config.style_layers) and min(expected) < 32
        assert "short side must be at least 32 px" in str(exc)
        return
    events = list(run)
    assert run.stop_reason in ("finished", "converged", "nan")
    assert [e.step for e in events] == list(range(1, len(events) + 1))
    assert all(all(map(math.isfinite, e.losses.values())) for e in events)
    assert all(e.image.size == expected for e in events if e.image is not None and e.scale == e.scales - 1)
    if run.stop_reason == "nan":
        assert not all(map(math.isfinite, run.history[-1].values()))
        assert len(run.history) == len(events) + 1
    else:
        assert run.history and all(math.isfinite(v) for losses in run.history for v in losses.values())
        assert len(events) <= run.total
    event(f"stop_reason {run.stop_reason}")
    result = run.result()
    assert result.size == expected and result.mode == "RGB"


# -- The command line --------------------------------------------------------------------------------------

# option: (lowest, highest value it accepts, whether a whole number, the setting its errors may name)
TRANSFER_OPTIONS = {
    "--size": (16, MAX_SIZE, True, "size"), "--steps": (0, 100_000, True, "steps"),
    "--content-weight": (0, math.inf, False, "content_weight"), "--style-weight": (0, math.inf, False, "style_weight"),
    "--tv-weight": (0, math.inf, False, "tv_weight"), "--lr": (1e-8, 1e3, False, "lr"),
    "--style-scale": (0.05, 8.0, False, "style_scale"), "--scales": (1, 8, True, "scales"),
    "--early-stop": (0, 1, False, "early_stop_tol"), "--seed": (0, 2**63 - 1, True, "seed"),
    "--color-amount": (0, 1, False, "color_amount"), "--photo-smoothing": (0, 1024, True, "photo_smoothing"),
    "--save-every": (0, 100_000, True, "preview_every"),
}
INTERPOLATE_OPTIONS = {
    "--count": (2, math.inf, True, "-n"), "--columns": (1, math.inf, True, "--columns"),
    "--duration": (10, math.inf, True, "--duration"), "--follow-steps": (0, math.inf, True, "--follow-steps"),
}
bad_numbers = st.one_of(
    st.sampled_from(("nan", "inf", "-inf", "NaN", "-1", "-0.5", "0", "1e999", "-1e999", "1e400", str(10**30),
                     str(-(10**30)), "0x10", "1,5", "", " ", "one", "1.5.2", "--", "9" * 5000)),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers().map(str),
    st.text(max_size=8),
)


def accepted(spec: tuple, text: str) -> bool:
    """Whether ``text`` is a value the option of ``spec`` accepts."""
    low, high, whole, _ = spec
    try:
        value = int(text) if whole else float(text)
    except ValueError:
        return False
    return math.isfinite(value) and low <= value <= high


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.one_of(st.tuples(st.just("transfer"), st.sampled_from(sorted(TRANSFER_OPTIONS))),
                 st.tuples(st.just("interpolate"), st.sampled_from(sorted(INTERPOLATE_OPTIONS)))),
       bad_numbers)
def test_bad_numeric_options_are_one_line_errors_naming_them(capsys, tmp_path_factory, command, text):
    kind, option = command
    spec = (TRANSFER_OPTIONS if kind == "transfer" else INTERPOLATE_OPTIONS)[option]
    assume(not accepted(spec, text))
    out = tmp_path_factory.getbasetemp() / "out.png"
    images = ["content.png", "style.png"] if kind == "transfer" else ["interpolate", "content.png", "a.png", "b.png"]
    status = main([*images, "-o", str(out), f"{option}={text}"])  # the images need not exist: options come first
    err = capsys.readouterr().err
    assert status == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("nst: error: "), err
    assert option in lines[0] or spec[3] in lines[0], lines[0]
    assert not out.exists()


# -- What the properties found, pinned down -------------------------------------------------------------------


def test_keys_that_are_not_strings_and_huge_integers_get_messages():
    with pytest.raises(ValueError, match=r"unknown setting\(s\) \(1, 2\), 0, size2; known settings: color_amount"):
        TransferConfig.from_dict({0: 1, (1, 2): 3, "size2": 4})
    with pytest.raises(ValueError, match=r"^unknown setting\(s\) 'a\\nb'; known"):  # one line
        TransferConfig.from_dict({"a\nb": 1})
    with pytest.raises(ValueError, match="size must be between 16 and 8192, got an integer of about 401 digits"):
        TransferConfig.from_dict({"size": 10**400})
    long_list = r"style_layers must be a list of layer names, got \('x', 1, 'x', 1, .{20,40}\.\.\.$"
    with pytest.raises(ValueError, match=long_list):  # cut short
        TransferConfig.from_dict({"style_layers": ["x", 1] * 100})


def test_content_layers_cannot_be_empty_while_content_counts():
    with pytest.raises(ValueError, match="content_layers is empty: give at least one layer, or set content_weight"):
        TransferConfig(content_layers=())
    assert TransferConfig(content_layers=(), content_weight=0.0).content_layers == ()


def test_huge_layer_weights_keep_their_proportions():
    terms = {"a": torch.tensor(1.0), "b": torch.tensor(4.0)}
    assert float(weighted_sum(terms, [1e308, 1e308], ["a", "b"])) == pytest.approx(2.5)
    assert float(weighted_sum(terms, [1e308, 3e307], ["a", "b"])) == pytest.approx((1 + 0.3 * 4) / 1.3)


def test_pool5_takes_a_short_side_of_32_px(tiny_model):
    square = noise_image(0, 40, 40)
    config = TransferConfig(size=24, steps=1, scales=1, style_layers=("relu1_1", "pool5"))
    with pytest.raises(ValueError, match="short side must be at least 32 px"):
        StyleTransfer(tiny_model, square, [square], config, device="cpu")
    wide = noise_image(1, 90, 20)
    run = StyleTransfer(tiny_model, square, [wide], config.replace(size=64, scales=3, min_scale_size=16), device="cpu")
    assert run.sizes == [32, 64]  # the 16 px level is left out
    assert run.run().size == (64, 64) and run.stop_reason == "finished"


def test_a_run_ending_at_a_coarse_scale_hands_back_the_output_size(tiny_model):
    content, style = noise_image(0, 64, 48), noise_image(1, 40, 40)
    config = TransferConfig(size=64, steps=4, scales=2, min_scale_size=32)
    run = StyleTransfer(tiny_model, content, [style], config, device="cpu",
                        extra_terms={"broken": lambda x: x.sum() * math.nan})
    events = list(run)
    assert run.stop_reason == "nan" and events == [] and run.history[0]["broken"] != run.history[0]["broken"]
    assert run.result().size == (64, 48) and tuple(run.result_tensor().shape) == (1, 3, 48, 64)
    cancelled = StyleTransfer(tiny_model, content, [style], config, device="cpu")
    for step_event in cancelled:
        assert step_event.scale == 0 and step_event.size == (24, 32)
        break
    cancelled.close()
    assert cancelled.stop_reason == "cancelled" and cancelled.result().size == (64, 48)


@pytest.mark.parametrize("args", [
    ["interpolate", "c.png", "a.png", "b.png", "-o", "grid.png", "--duration", "5"],
    ["interpolate", "c.png", "a.png", "b.png", "-o", "grid.png", "--duration=--"],
    ["c.png", "s.png", "-o", "out.png", "--size=--"],
    ["c.png", "s.png", "-o", "out.png", "--default-style=--"],
])
def test_option_values_refused_before_any_work(capsys, args):
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("nst: error: ") and "no such file" not in err, err
    assert ("--duration" in err and "from 10 to" in err) or "expected one value" in err
