"""Style strength: one knob from a light touch to a full repaint, as a view of the style weight beta.

The loss is ``alpha L_content + beta L_style + gamma L_tv``; what the eye sees is mostly the ratio
``beta / alpha``, and it sees it on a log scale (doubling beta is as visible at 1 as at 100). So a
strength ``s`` in [0, 100] % sets

    beta(s) = beta_0 * 10 ** ((s - 50) / DECADE)

with ``beta_0`` the default style weight (``TransferConfig().style_weight``) at 50 %, and
``DECADE`` = 25 points per factor of ten: 0 % is ``beta_0 / 100`` (the photo with a hint of the
painting's texture), 100 % is ``beta_0 * 100`` (the painting's strokes everywhere, the photo's layout
barely held). ``strength_of`` is the inverse, clamped to [0, 100]; alpha is left as it is, so an expert
who sets alpha and beta by hand still gets the strength their ratio corresponds to.
"""

from __future__ import annotations

import math

from .config import SPEC

DEFAULT_STRENGTH = 50.0   # percent: the default style weight
DECADE = 25.0             # strength points per factor of ten in beta


def style_weight_for(strength: float) -> float:
    """beta for a strength in percent (0 to 100)."""
    if isinstance(strength, bool) or not isinstance(strength, (int, float)) or not 0 <= strength <= 100:
        raise ValueError(f"style strength must be a number from 0 to 100 (percent), got {strength!r}")
    beta = SPEC["style_weight"].default * 10 ** ((strength - DEFAULT_STRENGTH) / DECADE)
    return float(f"{beta:.4g}")  # four significant digits: readable in a form and a PNG's record


def strength_of(style_weight: float) -> float:
    """The strength in percent (0 to 100, one decimal) that ``style_weight`` corresponds to."""
    if style_weight <= 0:
        return 0.0
    strength = DEFAULT_STRENGTH + DECADE * math.log10(style_weight / SPEC["style_weight"].default)
    return round(min(100.0, max(0.0, strength)), 1)
