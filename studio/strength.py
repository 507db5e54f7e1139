"""The Style strength slider: the one knob most visitors need, as a view of the style weight beta.

``nst.strength`` maps a strength ``s`` in [0, 100] % to ``beta(s) = beta_0 10^((s - 50) / 25)`` with
``beta_0`` the engine's default style weight, and back (``strength_of``). On the page the slider sits at
the top of a tab's settings, and the weights alpha and beta themselves under "Advanced"; the run
always takes beta (the API's parameter is ``style_weight``: the strength is only how the page shows it).

The two controls follow each other without a loop: moving the slider (its ``input`` event, a
visitor's move only) sets beta; any change of beta (typed, or filled in by a preset or a restored
result: its ``change`` event) moves the slider. A change made by the page itself does not fire
``input``, so the slider's own update stops there.
"""

from __future__ import annotations

import math

import gradio as gr

from nst.config import SPEC
from nst.strength import DEFAULT_STRENGTH, strength_of, style_weight_for

LABEL = "Style strength (%)"
INFO = ("How strongly the painting's style is applied: 0 a light touch, 50 the default, 100 a full repaint "
        "(each 25 points is ten times the style weight β, under Advanced)")
STEP = 1


def strength_for(style_weight) -> float:
    """The slider's value for ``style_weight`` (a number box's value); the default's when it is not a number."""
    if isinstance(style_weight, bool) or not isinstance(style_weight, (int, float)) or not math.isfinite(style_weight):
        return DEFAULT_STRENGTH
    return strength_of(style_weight)


def beta_for(strength):
    """The style weight for a slider value, or ``gr.skip()`` (beta left as it is) for one that is not 0-100."""
    try:
        return style_weight_for(strength)
    except ValueError:
        return gr.skip()


def strength_slider(tab: str, style_weight_default: float = SPEC["style_weight"].default) -> gr.Slider:
    """The slider (``elem_id`` ``"{tab}-style_strength"``) showing ``style_weight_default``; call ``link``
    once the style weight's control exists."""
    return gr.Slider(0, 100, value=strength_for(style_weight_default), step=STEP, label=LABEL, info=INFO,
                     elem_id=f"{tab}-style_strength")


def link(slider: gr.Slider, style_weight: gr.Component) -> None:
    """Moving ``slider`` sets ``style_weight``; a change of ``style_weight`` moves ``slider`` (see the notes)."""
    quiet = dict(api_visibility="private", queue=False, show_progress="hidden")
    slider.input(beta_for, slider, style_weight, **quiet)
    style_weight.change(strength_for, style_weight, slider, **quiet)
