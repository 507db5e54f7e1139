"""The Explore tab: what each VGG-19 layer keeps, and the content/style trade-off, as labelled grids.

Three studies (``nst.explore``): the content reconstructed from noise at each layer (relu1_2 …
relu5_2); the style reconstructed from growing sets of layers (relu1_1 … relu5_1); one transfer per
style weight ``beta`` with the content weight ``alpha`` fixed, the ``beta / alpha`` trade-off.
"""

from __future__ import annotations

import gradio as gr

from nst.explore import content_reconstructions, style_reconstructions, tradeoff

from .. import runtime
from ..estimate import Estimate, follow_settings
from ..form import EXPLORE
from ..inputs import content_image, file_name, image_input, numbers, style_image
from ..jobs import SweepJob, make
from ..outputs import OutputPanel
from ..stream import stream
from ..wiring import examples, wire_run, wire_stop

EXAMPLES = [("tubingen.jpg", "starry_night.jpg"), ("face.jpg", "the_scream.jpg")]
STUDIES = (
    ("Content at each layer (relu1_2 … relu5_2), from noise", "content layers"),
    ("Style on growing sets of layers (relu1_1 … relu5_1), from noise", "style layers"),
    ("Content/style trade-off: one transfer per style weight β", "trade-off"),
)
BETAS = "1, 10, 100, 1000"   # the trade-off's style weights to start with


def explore(content, style, study="content layers", style_weights=BETAS, request: gr.Request | None = None,
            progress=gr.Progress(), **settings):
    """A labelled grid: the content reconstructed from each layer, the style from growing sets of layers,
    or one transfer per style weight β in ``style_weights`` (comma-separated); ``settings`` by name
    (``form.EXPLORE``)."""
    config = EXPLORE.config(EXPLORE.values(settings, "explore"))
    model, device = runtime.get_model(), runtime.device()
    if study == "content layers":
        sweep = make(content_reconstructions, model, content_image(content), config, device=device)
    elif study == "style layers":
        shape = None if content is None else content_image(content).size[::-1]
        sweep = make(style_reconstructions, model, style_image(style), config, shape=shape, device=device)
    elif study == "trade-off":
        betas = numbers(style_weights, "Style weights")
        sweep = make(tradeoff, model, content_image(content), style_image(style), betas, config, device=device)
    else:
        raise gr.Error(f"study must be 'content layers', 'style layers' or 'trade-off', got {study!r}")
    job = SweepJob(sweep, config, mode="explore",
                   settings={"study": study, "content": file_name(content), "styles": [file_name(style)]})
    yield from stream(job, request=request, progress=progress)


def build() -> None:
    """The tab: photo, painting, the study and the trade-off's style weights."""
    with gr.Tab("Explore", id="explore"):
        with gr.Row():
            with gr.Column():
                with gr.Row():
                    content = image_input("Content (photo)", height=240, elem_id="explore-content")
                    style = image_input("Style (painting)", height=240, elem_id="explore-style")
                study = gr.Radio(list(STUDIES), value="content layers", label="Study")
                betas = gr.Textbox(BETAS, label="Style weights β for the trade-off",
                                   info="comma-separated; the content weight α stays as set below")
                run = gr.Button("Run", variant="primary", elem_id="explore-run")
                estimate = Estimate("explore")
                shown = examples("explore", EXAMPLES, [content, style])
                settings = EXPLORE.build("explore")
                follow_settings(estimate, settings, what="each image of the grid")
            with gr.Column():
                out = OutputPanel("explore", result_label="Grid", can_continue=False)
    wire_run(explore, run, [content, style, study, betas], out, "explore", settings=settings, examples=shown)
    wire_stop(out)
