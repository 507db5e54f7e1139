"""How a tab's buttons start its runs: Run, a click on an example, Continue, and Stop.

Every run of a tab goes through its Run button's one event, which keeps Gradio's
``trigger_mode="once"``: while it is pending (queued or running) the page ignores further presses.
A click on an example runs nothing: it fills the inputs and shows the example's result made ahead of
time (``docs/examples/results/``, written by ``python -m studio.examples`` with the page's defaults),
with a status line saying so; **Run** then makes a new one, once. Continue sets the init image and then
clicks Run in the browser.

The handler takes the tab's positional inputs in order and the settings form by name
(``inputs_kwargs``; see ``studio.form``), so the API's parameter names are the handler's own
parameters followed by the form's keys. Every run shares the device's queue slots (``device_queue``:
one, or ``NST_BATCH_SIZE`` when runs are optimised together, ``studio.batcher``); Stop is served outside the queue, so it reaches a run while the queue is full:
the page's button posts to ``/gradio_api/run/stop``, and so can an API client (the README shows the
call; ``gradio_client`` joins the queue for every call, Stop included, and is refused while it is full).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import gradio as gr

from . import batcher, runtime
from .outputs import OutputPanel, continue_from
from .stream import stop

RESULTS = runtime.EXAMPLES / "results"   # the examples' results, made ahead (python -m studio.examples)
PRE_MADE = ("This is the example's result made ahead of time with this page's default settings "
            "(shown smaller). Press **Run** to make a new one here.")
NOT_MADE = "The example is loaded: press **Run** to run it."


def device_queue() -> dict:
    """The queue settings every run's event shares: the device's slots, one per run optimised at once
    (``NST_BATCH_SIZE``, 1 without batching)."""
    return dict(concurrency_limit=batcher.batch_size(), concurrency_id="device")


def click_js(button: gr.Button) -> str:
    """Browser code that clicks ``button`` (by its ``elem_id``), as a visitor would."""
    if not button.elem_id:
        raise ValueError("the button needs an elem_id to be clicked from the page")
    return f"() => {{ document.getElementById({json.dumps(button.elem_id)}).click(); }}"


def result_name(tab: str, row: Sequence[str]) -> str:
    """The file name of the result made ahead for example ``row`` of ``tab``: ``{tab}-{stem}+{stem}....jpg``
    (``.gif`` for a clip)."""
    suffix = ".gif" if tab == "video" else ".jpg"
    return f"{tab}-{'+'.join(Path(name).stem for name in row)}{suffix}"


@dataclass(frozen=True)
class Examples:
    """A tab's example rows (file names in ``docs/examples``) and their ``gr.Examples``."""

    tab: str
    rows: tuple[tuple[str, ...], ...]
    component: gr.Examples

    def result(self, index: int) -> Path | None:
        """The result made ahead for row ``index``, None when it is not there."""
        path = RESULTS / result_name(self.tab, self.rows[index])
        return path if path.is_file() else None

    def show(self, picked) -> tuple:
        """The panel's (result, status) for a click on an example (``picked``: the dataset's (index, row))."""
        index = picked[0] if isinstance(picked, (tuple, list)) else picked
        found = self.result(index) if isinstance(index, int) and 0 <= index < len(self.rows) else None
        return (str(found), PRE_MADE) if found is not None else (gr.skip(), NOT_MADE)


def examples(tab: str, rows: Sequence[Sequence[str]], inputs: list,
             label: str = "Examples (click one to see its result, then Run to make it here)") -> Examples:
    """Example files from ``docs/examples`` for ``inputs``, with the ``elem_id`` ``"{tab}-examples"``;
    ``wire_run`` makes a click on one show its result made ahead."""
    component = gr.Examples([[str(runtime.EXAMPLES / name) for name in row] for row in rows], inputs, label=label,
                            cache_examples=False, elem_id=f"{tab}-examples")
    return Examples(tab, tuple(tuple(row) for row in rows), component)


def wire_run(fn, button: gr.Button, inputs: list, out: OutputPanel, api_name: str, *,
             settings: dict[str, gr.Component] | None = None, outputs: list | None = None,
             examples: Examples | None = None, continues: bool = True) -> None:
    """``fn`` on ``button`` with ``inputs`` in order and ``settings`` by name, streaming to ``outputs``
    (default the panel's); a click on one of ``examples`` shows its result made ahead in the panel, and
    the panel's Continue (``continues``; it needs the form's init image) sets the last result as the init
    and clicks ``button``."""
    outputs = outputs or out.outputs
    button.click(runtime.on_gpu(fn), inputs, outputs, inputs_kwargs=settings or None, api_name=api_name,
                 show_progress_on=[outputs[3]], **device_queue())
    if examples is not None:
        examples.component.load_input_event.then(examples.show, examples.component.dataset, [out.result, out.status],
                                                 api_visibility="private", queue=False, show_progress="hidden")
    if continues and out.continue_ is not None and settings is not None and "init_image" in settings:
        out.continue_.click(continue_from, out.result, [settings["init_image"], settings["init"]],
                            api_visibility="private", queue=False).success(
            None, js=click_js(button), api_visibility="private", queue=False)


def wire_stop(out: OutputPanel, public: bool = False) -> None:
    """Stop runs outside the queue, so it is served while a run holds the device and when the queue is full.

    The run's own last status says where it stopped. Stop writes to no component a run writes to: the
    page applies an event's outputs to a component that a pending run streams to only after that run,
    so a Stop writing the status could land after the run's last word and hide it. Its answer, for API
    clients, goes to the panel's hidden ``stop_reply``."""
    out.stop.click(stop, None, out.stop_reply, api_name="stop" if public else None,
                   api_visibility="public" if public else "private", queue=False, show_progress="hidden")
