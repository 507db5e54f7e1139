"""Style strength as a view of beta: 50 % is the default style weight, a decade per 25 points, and back."""

from __future__ import annotations

import pytest

from nst.config import TransferConfig
from nst.strength import strength_of, style_weight_for


def test_half_strength_is_the_default_style_weight_and_the_ends_are_a_hundredfold_either_way():
    beta = TransferConfig().style_weight
    assert style_weight_for(50) == beta
    assert style_weight_for(0) == pytest.approx(beta / 100)
    assert style_weight_for(100) == pytest.approx(beta * 100)
    assert style_weight_for(75) == pytest.approx(beta * 10)


def test_more_strength_is_more_style_weight():
    weights = [style_weight_for(s) for s in range(0, 101, 5)]
    assert weights == sorted(weights) and len(set(weights)) == len(weights)


@pytest.mark.parametrize("strength", [0, 12.5, 33.3, 50, 80, 100])
def test_strength_of_inverts_it(strength):
    assert strength_of(style_weight_for(strength)) == pytest.approx(strength, abs=0.1)


def test_weights_beyond_the_knob_are_clamped_to_its_ends():
    beta = TransferConfig().style_weight
    assert strength_of(beta * 1e6) == 100 and strength_of(beta / 1e6) == 0 and strength_of(0) == 0


@pytest.mark.parametrize("bad", [-1, 101, float("nan"), "50", True])
def test_a_strength_outside_0_to_100_is_refused(bad):
    with pytest.raises(ValueError, match="from 0 to 100"):
        style_weight_for(bad)
