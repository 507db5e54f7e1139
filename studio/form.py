"""The settings form: a tab's controls built from the settings spec (``nst.config.SPEC``).

A ``Form`` names the settings a tab shows, in the order it shows them; everything else about a
control comes from its ``Setting``: the label, the info text (its help), the kind of control, the
bounds, the default. The app adds its own caps on top of SPEC's ranges (``control_range``): the
Size slider ends at this machine's ``runtime.size_limit()``, and its starting value is the
device's (``budget.default_size()``, as for Steps: on a CPU chosen by measuring it, see
``studio.budget``; such a control is set again when the page is visited, ``estimate.device_default``).

What comes from outside is held to the same caps as the form: ``Form.config`` caps the size and the
steps, and lowers a preset's style scale so the paintings are processed within the size cap
(``fit_style_scale``); a preset's machine settings are this host's (``for_this_host``).

Which control a setting gets:

* a number is a slider when clipping it to the slider cannot change a look: a "budget" setting (size,
  steps, scales: what the page caps anyway), or one whose slider (``Setting.ui``) spans all it may be;
* any other number is a number box within SPEC's bounds (weights span orders of magnitude, and a
  preset's style weight of 1e4 or seed of 12345 must come through unchanged);
* a choice is a dropdown, a list of layers a multi-select dropdown of VGG-19's layers;
* the loss weights alpha and beta are number boxes under "Advanced": what most visitors move is the
  Style strength slider above the settings (``studio.strength``), a view of beta that sets it. The
  handlers (and the API) take ``style_weight``; the strength is recorded with each result.

Handlers take the form's values by name (``**settings``: Gradio passes the controls as keyword
arguments, see ``studio.wiring``); ``Form.values`` fills in what a direct call leaves out with the
form's defaults and refuses names the form does not have; ``Form.config`` turns the values into a
``TransferConfig``. One rule for presets: a preset's settings are the base, what the form sets
overrides them, and what the tab fixes (a texture's content weight 0, a blend's weights) overrides both.
"""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import gradio as gr

from nst.config import SPEC, TransferConfig
from nst.features import LAYER_NAMES
from nst.presets import Preset
from nst.settings import Setting
from nst.texture import TEXTURE_LOOK

from . import budget, runtime
from .estimate import device_default
from .inputs import checked_number, image_input, whole
from .strength import link, strength_slider

APP_CAPS: dict[str, Callable[[], int]] = {"size": lambda: runtime.size_limit()}   # the app's own upper bounds
APP_DEFAULTS: dict[str, Callable[[], Any]] = {"size": lambda: budget.default_size(),   # this device's, measured
                                              "steps": lambda: budget.default_steps()}
NOT_FROM_PRESETS = ("style_blend_weights", "preview_every")  # a tab's blend sliders and the steps set these
INIT_IMAGE = "init_image"   # the one value of a form that is not a setting: the image a run starts from
LOSS_WEIGHTS = ("content_weight", "style_weight")   # alpha and beta: under "Advanced", the Style strength above


def is_slider(setting: Setting) -> bool:
    """Whether ``setting`` gets a slider (see the module notes) rather than a number box."""
    if setting.ui is None or setting.kind not in ("int", "float"):
        return False
    low, high = setting.ui[0], setting.ui[1]
    spans_all = setting.low is not None and setting.high is not None and low <= setting.low and high >= setting.high
    return setting.role == "budget" or spans_all


def control_range(name: str) -> tuple[float, float]:
    """The lowest and highest value the control of setting ``name`` offers here (its slider's ends)."""
    setting = SPEC[name]
    low, high = setting.ui[0], setting.ui[1]
    if name in APP_CAPS:
        high = APP_CAPS[name]()
    if setting.high is not None:
        high = min(high, setting.high)
    return low, high


def capped(value, what: str = "Size", limit: int | None = None, unit: str = " px"):
    """A whole number within ``limit`` (default: this machine's longest side), with a warning when it was over."""
    value = whole(value)
    limit = runtime.size_limit() if limit is None else limit
    if isinstance(value, int) and not isinstance(value, bool) and value > limit:
        gr.Warning(f"{what} {value}{unit} is over this machine's limit; using {limit}{unit}")
        return limit
    return value


def fit_style_scale(config: TransferConfig) -> TransferConfig:
    """``config`` with its style scale lowered, with a warning, so that the largest painting is processed
    within this machine's limit: ``size * style_scale * max(style_scales) <= size_limit``."""
    limit, widest = runtime.size_limit(), max(config.style_scales or (1.0,))
    side = config.size * config.style_scale * widest
    if side <= limit:
        return config
    scale = max(SPEC["style_scale"].low, math.floor(100 * limit / (config.size * widest)) / 100)
    gr.Warning(f"Style scale {config.style_scale:g} would process the painting at {round(side)} px, over this "
               f"machine's limit of {limit} px; using {scale:g}")
    return config.replace(style_scale=scale)


def for_this_host(config: TransferConfig) -> TransferConfig:
    """``config`` from outside (a preset, a restored image) with its machine settings (precision, memory,
    tiles: ``Setting.role == "machine"``) set by this host, that is left at their defaults."""
    defaults = TransferConfig()
    return config.replace(**{name: getattr(defaults, name) for name, setting in SPEC.items()
                             if setting.role == "machine"})


def _fit(name: str, value):
    """``value`` of a slider setting within its slider, with a warning when a preset asks for more."""
    low, high = control_range(name)
    fitted = min(max(value, low), high)
    if fitted != value:
        label = SPEC[name].label.lower()
        unit = re.fullmatch(r"(.*) \((.*)\)", label)
        what = f"{unit[1]} in {unit[2]}" if unit else f"number of {label}"
        gr.Warning(f"The preset's {what} ({value}) is outside what this page allows ({low:g} to {high:g}); "
                   f"using {fitted:g}")
    return type(value)(fitted)


@dataclass(frozen=True)
class Form:
    """The settings ``names`` a tab shows, in order; ``init_image``: whether it also takes an image to start
    from; ``defaults``: the tab's own starting values (a value, or a function of none), over SPEC's and the
    app's (``APP_DEFAULTS``)."""

    names: tuple[str, ...]
    init_image: bool = False
    defaults: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        unknown = [name for name in (*self.names, *self.defaults) if name not in SPEC]
        if unknown:
            raise ValueError(f"not settings of nst.config.SPEC: {', '.join(unknown)}")

    def without(self, *names: str, init_image: bool | None = None, **defaults) -> Form:
        """This form less ``names``, with more ``defaults``."""
        return Form(tuple(n for n in self.names if n not in names),
                    self.init_image if init_image is None else init_image,
                    {k: v for k, v in {**self.defaults, **defaults}.items() if k not in names})

    @property
    def keys(self) -> tuple[str, ...]:
        """What the form hands a handler, in order: its settings, then ``init_image`` when it has one."""
        return (*self.names, INIT_IMAGE) if self.init_image else self.names

    def default(self, name: str):
        """The starting value of ``name`` here: the tab's, else the app's, else SPEC's."""
        if name == INIT_IMAGE:
            return None
        value = self.defaults.get(name, APP_DEFAULTS.get(name))
        if value is None:
            value = SPEC[name].default
        value = value() if callable(value) else value
        return list(value) if SPEC[name].kind == "layers" else value

    def values(self, given: Mapping[str, Any], handler: str = "the handler") -> dict[str, Any]:
        """``given`` (what a handler got by name) with the rest at the form's defaults; ``TypeError`` for
        a name the form does not have, as Python says it for a misspelt keyword argument."""
        unknown = [name for name in given if name not in self.keys]
        if unknown:
            raise TypeError(f"{handler}() got an unexpected keyword argument {unknown[0]!r}; its settings are "
                            f"{', '.join(self.keys)}")
        return {name: given[name] if name in given else self.default(name) for name in self.keys}

    def config(self, values: Mapping[str, Any], preset: Preset | None = None, **fixed) -> TransferConfig:
        """A ``TransferConfig`` from ``preset`` (the base), the form's ``values`` and what the tab ``fixed``,
        or ``gr.Error`` with the config's own explanation. The size, the steps and the processed size of the
        paintings are capped to this machine (``capped``, ``fit_style_scale``); the steps set how often a
        preview comes (``budget.PREVIEWS_PER_RUN`` a run, and the first within ``budget.FIRST_PREVIEW_S``
        where the machine is measured)."""
        fields = {} if preset is None else {f.name: getattr(preset.config, f.name)
                                            for f in dataclasses.fields(TransferConfig)
                                            if f.name not in NOT_FROM_PRESETS}
        fields.update({name: value for name, value in values.items() if name != INIT_IMAGE})
        fields.update(fixed)
        for name, value in fields.items():
            kind = SPEC[name].kind if name in SPEC else None
            if kind == "int":
                fields[name] = whole(value)
            elif kind == "layers" and isinstance(value, list):
                fields[name] = tuple(value)
        if "size" in values:
            fields["size"] = capped(fields["size"])
        if "steps" in values:
            fields["steps"] = capped(fields["steps"], "Steps", int(control_range("steps")[1]), " steps")
        steps = fields.get("steps")
        if isinstance(steps, int) and not isinstance(steps, bool) and steps > 0:
            fields["preview_every"] = budget.previews_for(steps)
        try:
            config = TransferConfig(**fields)
        except (TypeError, ValueError) as exc:
            raise gr.Error(f"Check the settings: {exc}") from None
        config = config.replace(preview_every=budget.preview_every(config, budget.pass_seconds(measure_now=False)))
        return fit_style_scale(config)

    def extras(self, preset: Preset | None) -> dict[str, Any]:
        """The settings of ``preset`` that have no control on this form (``preserve_color``, ``tv_kind``, ...)."""
        if preset is None:
            return {}
        return {f.name: getattr(preset.config, f.name) for f in dataclasses.fields(TransferConfig)
                if f.name not in (*self.names, *NOT_FROM_PRESETS)}

    def show(self, config: TransferConfig) -> dict[str, Any]:
        """The values of the form's controls that show ``config`` (a slider's fitted to it, with a warning)."""
        shown = {}
        for name in self.names:
            value = getattr(config, name)
            if SPEC[name].kind == "layers":
                value = list(value)
            elif is_slider(SPEC[name]):
                value = _fit(name, value)
            shown[name] = value
        return shown

    def build(self, tab: str) -> dict[str, gr.Component]:
        """The controls, in ``keys`` order, in a "Settings" accordion: first the Style strength slider
        (``studio.strength``) when the form has a style weight, then the sliders (one a line), a row of
        number boxes and a row of choices;
        the weights alpha and beta, the layers and the init image under "Advanced". Each control's
        ``elem_id`` is ``"{tab}-{name}"``. Call inside a ``gr.Blocks``."""
        groups = {"slider": [], "number": [], "choice": [], "weights": [], "advanced": []}
        for name in self.names:
            setting = SPEC[name]
            kind = ("advanced" if setting.kind == "layers" else "weights" if name in LOSS_WEIGHTS
                    else "choice" if setting.kind == "choice" else "slider" if is_slider(setting) else "number")
            groups[kind].append(name)
        controls: dict[str, gr.Component] = {}
        with gr.Accordion("Settings", open=True):
            knob = strength_slider(tab, self.default("style_weight")) if "style_weight" in self.names else None
            for name in groups["slider"]:  # one a line, as wide as the strength: room for the help text
                controls[name] = self._control(name)
            for kind in ("number", "choice"):
                if groups[kind]:
                    with gr.Row():
                        for name in groups[kind]:
                            controls[name] = self._control(name)
            if groups["weights"] or groups["advanced"] or self.init_image:
                with gr.Accordion("Advanced", open=False, elem_id=f"{tab}-advanced"):
                    if groups["weights"]:
                        with gr.Row():
                            for name in groups["weights"]:
                                controls[name] = self._control(name)
                    for name in groups["advanced"]:
                        controls[name] = self._control(name)
                    if self.init_image:
                        controls[INIT_IMAGE] = image_input("Init image (used when 'Start from' is image)", height=200)
        for name, control in controls.items():
            control.elem_id = f"{tab}-{name}"
        if knob is not None:
            link(knob, controls["style_weight"])
        return {name: controls[name] for name in self.keys}

    def _control(self, name: str) -> gr.Component:
        setting, value = SPEC[name], self.default(name)
        common = dict(label=setting.label, info=setting.help)
        if setting.kind == "layers":
            return gr.Dropdown(list(LAYER_NAMES), value=value, multiselect=True, **common)
        if setting.kind == "choice":
            return gr.Dropdown(list(setting.choices), value=value, **common)
        if is_slider(setting):
            low, high = control_range(name)
            slider = checked_number(gr.Slider(low, high, value=value, step=setting.ui[2], **common))
            if name in APP_DEFAULTS or callable(self.defaults.get(name)):  # measured when the page is visited
                device_default(slider, lambda: self.default(name))
            return slider
        return checked_number(gr.Number(value, minimum=setting.low, maximum=setting.high,
                                        step=setting.ui[2] if setting.ui else 1,
                                        precision=0 if setting.kind == "int" else None, **common))


# The forms of the tabs: every setting a transfer shows, and what the other tabs leave out because
# they set it themselves (a texture's size, content weight and start; the studies' layers).
TRANSFER = Form(("size", "steps", "content_weight", "style_weight", "tv_weight", "optimizer", "init", "pooling", "seed",
                 "scales", "content_layers", "style_layers"), init_image=True)
TEXTURE = TRANSFER.without("size", "content_weight", "init", "content_layers", init_image=False, **TEXTURE_LOOK)
EXPLORE = TRANSFER.without("init", "scales", "content_layers", "style_layers", init_image=False,
                           size=lambda: min(128, runtime.size_limit()),
                           steps=lambda: max(1, budget.default_steps() // 2))
VIDEO = TRANSFER.without("init", "content_layers", "style_layers", init_image=False, size=lambda: budget.clip_size())
