"""The page's side of ``studio.budget``: what a run will cost, said before it starts, and the measured
defaults filled in on the first visit.

The page is built without loading the weights (``budget.deferred``), so a control whose starting value
depends on the measurement (Size, Steps, a texture's width and height, a clip's size) starts at the
unmeasured default and registers itself (``device_default``) while ``build_demo`` collects them
(``collecting``). The page's load event (``Collected.refresh``, with the runtime line) measures once
per process and gives every such control, and every estimate line, its value.

An ``Estimate`` is a line under a Run button: "On this CPU a run at these settings takes about 55 s (the
first preview after about 1 s)", from ``budget``'s cost model, updated as the settings it depends on
change (a private event outside the queue). On a GPU, where nothing is measured, it says nothing.
"""

from __future__ import annotations

import contextlib
import contextvars
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Sequence

import gradio as gr

from nst.config import TransferConfig

from . import budget
from .inputs import whole

QUIET = dict(api_visibility="private", queue=False, show_progress="hidden")


def about(seconds: float) -> str:
    """A duration in words: "about 55 s", "about 3 min"."""
    if seconds < 90:
        return f"about {max(1, round(seconds))} s"
    return f"about {round(seconds / 60)} min"


def run_line(config: TransferConfig | None, pass_s: float | None, frames: int | None = None,
             what: str = "a run at these settings") -> str:
    """The estimate line for ``config`` (a clip's when ``frames`` is given); "" when unknown."""
    if config is None or pass_s is None:
        return ""
    if frames is None:
        took = budget.run_seconds(config, pass_s)
    else:
        took = budget.seconds(budget.clip_levels(config, frames), pass_s)
    line = f"On this CPU {what} takes {about(took)}"
    first = budget.first_preview_seconds(config.replace(preview_every=budget.preview_every(config, pass_s)), pass_s)
    return f"{line} (the first preview after {about(first)})." if first is not None else f"{line}."


class Estimate:
    """A Markdown line (``elem_id`` ``"{tab}-estimate"``) that says what a run costs; ``follow`` wires it to
    the settings it depends on. Create it where the line goes."""

    def __init__(self, tab: str) -> None:
        self.line = gr.Markdown("", elem_id=f"{tab}-estimate")
        self.inputs: list[gr.Component] = []
        self.text: Callable[..., str] = lambda *values: ""

    def follow(self, inputs: Sequence[gr.Component], config: Callable[..., TransferConfig | None],
               frames: Callable[..., int | None] | None = None, what: str = "a run at these settings") -> None:
        """Say what a run costs for ``config(*values of inputs)`` (a clip of ``frames(*values)`` frames), and
        again whenever one of ``inputs`` changes."""
        def text(*values: Any) -> str:
            try:
                made = config(*values)
                count = frames(*values) if frames is not None else None
                if count is not None and (not isinstance(count, int) or count < 1):
                    return ""
            except (TypeError, ValueError):  # a value being typed
                return ""
            return run_line(made, budget.pass_seconds(measure_now=False), count, what)

        self.inputs, self.text = list(inputs), text
        for component in inputs:
            component.change(text, self.inputs, self.line, **QUIET)
        _register(self)


def sketch(size, steps, scales=None) -> TransferConfig:
    """The config whose cost a run with the page's ``size``, ``steps`` and ``scales`` has (the rest at the
    engine's defaults; ``ValueError`` for values being typed)."""
    fields = {"size": whole(size), "steps": whole(steps)}
    if scales is not None:
        fields["scales"] = whole(scales)
    if isinstance(fields["steps"], int) and fields["steps"] > 0:
        fields["preview_every"] = budget.previews_for(fields["steps"])
    return TransferConfig(**fields)


def follow_settings(estimate: Estimate, settings: dict[str, gr.Component], what: str = "a run at these settings",
                    frames: gr.Component | None = None) -> None:
    """``estimate`` following a form's Size, Steps and (when it has them) Scales, and a clip's ``frames``."""
    names = [name for name in ("size", "steps", "scales") if name in settings]
    inputs = [settings[name] for name in names] + ([frames] if frames is not None else [])
    count = (lambda *values: whole(values[-1])) if frames is not None else None
    estimate.follow(inputs, lambda *values: sketch(**dict(zip(names, values))), count, what)


@dataclass
class Collected:
    """The controls whose starting value is measured, with how to get it, and the estimate lines."""

    defaults: list[tuple[gr.Component, Callable[[], Any]]] = field(default_factory=list)
    estimates: list[Estimate] = field(default_factory=list)

    @property
    def outputs(self) -> list[gr.Component]:
        return [component for component, _ in self.defaults] + [e.line for e in self.estimates]

    def refresh(self) -> list[Any]:
        """Measure (once per process), then the values of ``outputs``: each default, each estimate at them."""
        budget.pass_seconds()
        values = {component._id: value() for component, value in self.defaults}
        lines = [e.text(*(values.get(c._id, c.value) for c in e.inputs)) for e in self.estimates]
        return [values[component._id] for component, _ in self.defaults] + lines


_collected: contextvars.ContextVar[Collected | None] = contextvars.ContextVar("nst_page_defaults", default=None)


@contextlib.contextmanager
def collecting() -> Iterator[Collected]:
    """While the page is built: nothing is measured, and measured defaults and estimates are collected."""
    collected = Collected()
    token = _collected.set(collected)
    try:
        with budget.deferred():
            yield collected
    finally:
        _collected.reset(token)


def device_default(component: gr.Component, value: Callable[[], Any]) -> gr.Component:
    """``component``, whose starting value ``value()`` depends on the measurement, set again on page load."""
    collected = _collected.get()
    if collected is not None:
        collected.defaults.append((component, value))
    return component


def _register(estimate: Estimate) -> None:
    collected = _collected.get()
    if collected is not None:
        collected.estimates.append(estimate)
