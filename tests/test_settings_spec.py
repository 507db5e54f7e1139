"""The settings spec: every ``TransferConfig`` field is described once, and single values are checked from it."""

from __future__ import annotations

import dataclasses

import pytest

from nst.config import SPEC, Setting, TransferConfig, setting
from nst.settings import KINDS, ROLES


def test_spec_describes_every_field_in_order_with_its_default():
    fields = dataclasses.fields(TransferConfig)
    assert list(SPEC) == [f.name for f in fields]
    defaults = TransferConfig()
    for f in fields:
        described = SPEC[f.name]
        assert isinstance(described, Setting) and described.name == f.name
        assert described.default == getattr(defaults, f.name) == f.default
        assert described.kind in KINDS and described.role in ROLES
        assert described.help.strip() and described.label.strip()
        described.validate(described.default)


def test_flags_are_unique_options_and_bounds_hold_defaults_and_sliders():
    flags = [s.flag for s in SPEC.values() if s.flag is not None]
    assert len(flags) == len(set(flags)) and all(flag.startswith("--") for flag in flags)
    for described in SPEC.values():
        if described.choices is not None:
            assert described.default in described.choices
        if described.ui is not None:
            low, high, step = described.ui
            assert described.kind in ("int", "float") and step > 0 and low < high
            assert (described.low is None or low >= described.low) and (described.high is None or high <= described.high)


def test_roles_sort_the_settings():
    roles = {name: s.role for name, s in SPEC.items()}
    assert roles["size"] == roles["steps"] == roles["early_stop_patience"] == "budget"
    assert roles["style_weight"] == roles["pooling"] == roles["seed"] == roles["style_layers"] == "look"
    assert roles["tile_size"] == roles["max_memory"] == roles["preview_every"] == "machine"


@pytest.mark.parametrize("name", [n for n, s in SPEC.items() if s.kind in ("int", "float") and s.low is not None])
def test_each_bounded_number_is_refused_outside_its_bounds(name):
    described = SPEC[name]
    below = described.low - 1 if described.kind == "int" else described.low - 0.5
    with pytest.raises(ValueError, match=f"^{name} must be between {described.low} and "):
        TransferConfig(**{name: below})
    if described.high is not None:
        with pytest.raises(ValueError, match=f"^{name} must be between {described.low} and {described.high}, got"):
            TransferConfig(**{name: described.high * 2 + 1})


def test_messages_keep_their_wording():
    with pytest.raises(ValueError, match="^size must be between 16 and 8192, got 5$"):
        TransferConfig(size=5)
    with pytest.raises(ValueError, match="^color_amount must be between 0.0 and 1.0, got 2.0$"):
        TransferConfig(color_amount=2.0)
    with pytest.raises(ValueError, match="^optimizer must be one of lbfgs, adam, got 'sgd'$"):
        TransferConfig(optimizer="sgd")
    with pytest.raises(ValueError, match="^steps must be an integer, got 2.5$"):
        TransferConfig(steps=2.5)
    with pytest.raises(ValueError, match="^style_scales must be between 0.05 and 8.0, got 9.0$"):
        TransferConfig(style_scales=(1.0, 9.0))
    with pytest.raises(ValueError, match="^style_blend_weights must be a list of numbers, got 'heavy'$"):
        TransferConfig(style_blend_weights="heavy")
    # Rules between fields stay written out.
    with pytest.raises(ValueError, match="^style_layer_weights needs 5 value"):
        TransferConfig(style_layer_weights=(1.0,))
    with pytest.raises(ValueError, match="both zero"):
        TransferConfig(content_weight=0.0, style_weight=0.0)


def test_validate_names_what_the_caller_says():
    with pytest.raises(ValueError, match="^--early-stop must be between 0.0 and 1.0, got 2.0$"):
        SPEC["early_stop_tol"].validate(2.0, "--early-stop")


def test_setting_makes_a_dataclass_field_with_its_description():
    f = setting(3, help="How many.", label="Count", flag="--count", kind="int", low=1, high=9, role="budget")
    assert f.default == 3 and f.metadata["setting"].high == 9
    with pytest.raises(ValueError, match="kind"):
        setting(3, help="x", label="x", flag=None, kind="integer", role="budget")
    with pytest.raises(ValueError, match="choices"):
        setting("a", help="x", label="x", flag=None, kind="choice", role="look")
