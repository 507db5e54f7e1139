"""How a tab's buttons start its runs: Run, a click on an example, Continue, and Stop.

Every run of a tab goes through its Run button's one event: a click on an example fills the inputs
and then clicks Run in the browser, and so does Continue after setting the init image. The event
keeps Gradio's ``trigger_mode="once"``: while it is pending (queued or running) the page ignores
further presses. (An example that ran its own event instead - ``gr.Examples`` with ``fn`` and
``run_on_click``, or a ``.then`` after loading it - is a second event, so pressing Run during the
example's run queued the same run again, behind it.)

The handler takes the tab's positional inputs in order and the settings form by name
(``inputs_kwargs``; see ``studio.form``), so the API's parameter names are the handler's own
parameters followed by the form's keys. Every run shares one queue slot on the device
(``DEVICE_QUEUE``); Stop is served outside the queue, so it reaches a run while the queue is full:
the page's button posts to ``/gradio_api/run/stop``, and so can an API client (the README shows the
call; ``gradio_client`` joins the queue for every call, Stop included, and is refused while it is full).
"""

from __future__ import annotations

import json
from typing import Sequence

import gradio as gr

from . import runtime
from .outputs import OutputPanel, continue_from
from .stream import stop

DEVICE_QUEUE = dict(concurrency_limit=1, concurrency_id="device")  # every run shares the one device


def click_js(button: gr.Button) -> str:
    """Browser code that clicks ``button`` (by its ``elem_id``), as a visitor would."""
    if not button.elem_id:
        raise ValueError("the button needs an elem_id to be clicked from the page")
    return f"() => {{ document.getElementById({json.dumps(button.elem_id)}).click(); }}"


def examples(tab: str, rows: Sequence[Sequence[str]], inputs: list,
             label: str = "Examples (click one to run it)") -> gr.Examples:
    """Example files from ``docs/examples`` for ``inputs``, with the ``elem_id`` ``"{tab}-examples"``;
    ``wire_run`` makes a click on one run it."""
    return gr.Examples([[str(runtime.EXAMPLES / name) for name in row] for row in rows], inputs, label=label,
                       cache_examples=False, elem_id=f"{tab}-examples")


def wire_run(fn, button: gr.Button, inputs: list, out: OutputPanel, api_name: str, *,
             settings: dict[str, gr.Component] | None = None, outputs: list | None = None,
             examples: gr.Examples | None = None, continues: bool = True) -> None:
    """``fn`` on ``button`` with ``inputs`` in order and ``settings`` by name, streaming to ``outputs``
    (default the panel's); a click on one of ``examples`` clicks ``button``, and so does the panel's
    Continue (``continues``; it needs the form's init image) after setting the last result as the init."""
    outputs = outputs or out.outputs
    button.click(runtime.on_gpu(fn), inputs, outputs, inputs_kwargs=settings or None, api_name=api_name,
                 show_progress_on=[outputs[3]], **DEVICE_QUEUE)
    if examples is not None:
        examples.load_input_event.then(None, js=click_js(button), api_visibility="private", queue=False)
    if continues and out.continue_ is not None and settings is not None and "init_image" in settings:
        out.continue_.click(continue_from, out.result, [settings["init_image"], settings["init"]],
                            api_visibility="private", queue=False).success(
            None, js=click_js(button), api_visibility="private", queue=False)


def wire_stop(out: OutputPanel, public: bool = False) -> None:
    """Stop runs outside the queue, so it is served while a run holds the device and when the queue is full."""
    out.stop.click(stop, None, out.status, api_name="stop" if public else None,
                   api_visibility="public" if public else "private", queue=False, show_progress="hidden")
