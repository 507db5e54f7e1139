"""The Colour-preserving tab: the photo restyled, its colours kept (Gatys et al. 2016).

Luminance-only transfer optimises the luminance alone and puts the photo's chrominance back; a
colour swap stylises, then replaces the result's chrominance with the photo's in YUV, YCrCb, CIELAB
or CIELUV; histogram matching first gives the painting the photo's colour statistics. ``amount``
mixes: ``x = amount * x_kept + (1 - amount) * x_stylised`` (``nst.color``).
"""

from __future__ import annotations

import gradio as gr

from nst.config import SPEC

from ..estimate import Estimate, follow_settings
from ..form import TRANSFER
from ..inputs import checked_number, content_image, file_name, image_input, start_image, style_image
from ..jobs import SingleJob
from ..outputs import OutputPanel
from ..stream import stream
from ..wiring import examples, wire_run, wire_stop

EXAMPLES = [("tubingen.jpg", "the_scream.jpg"), ("face.jpg", "starry_night.jpg")]
COLOR_METHODS = (
    ("Luminance-only transfer", "luminance"),
    ("Colour swap in YUV", "yuv"),
    ("Colour swap in YCrCb", "ycrcb"),
    ("Colour swap in CIELAB", "lab"),
    ("Colour swap in CIELUV", "luv"),
    ("Histogram matching of the painting", "histogram"),
)
AMOUNT = SPEC["color_amount"]


def stylize_color(content, style, method="luminance", amount=AMOUNT.default, request: gr.Request | None = None,
                  progress=gr.Progress(), *, init_image=None, **settings):
    """Restyle the photo but keep its colours: ``method`` is luminance, yuv, ycrcb, lab, luv or
    histogram, ``amount`` (0 to 1) how much of the photo's colour is kept; ``settings`` by name
    (``form.TRANSFER``); ``init_image``: where the run starts when ``init`` is "image"."""
    values = TRANSFER.values({**settings, "init_image": init_image}, "stylize_color")
    photo, painting = content_image(content), style_image(style)
    config = TRANSFER.config(values, preserve_color=method, color_amount=amount)
    job = SingleJob(photo, [painting], config, mode="color",
                    settings={"content": file_name(content), "styles": [file_name(style)]},
                    init_image=start_image(values["init"], values["init_image"]))
    yield from stream(job, request=request, progress=progress)


def build() -> None:
    """The tab: photo, painting, how the colours are kept and how much."""
    with gr.Tab("Colour-preserving", id="color"):
        with gr.Row():
            with gr.Column():
                with gr.Row():
                    content = image_input("Content (photo)", height=240, elem_id="color-content")
                    style = image_input("Style (painting)", height=240, elem_id="color-style")
                method = gr.Radio(list(COLOR_METHODS), value="luminance", label="How the photo's colours are kept")
                low, high, step = AMOUNT.ui
                amount = checked_number(gr.Slider(low, high, value=AMOUNT.default, step=step, label="Amount",
                                                  info="0: the painting's colours, 1: the photo's"))
                run = gr.Button("Run", variant="primary", elem_id="color-run")
                estimate = Estimate("color")
                shown = examples("color", EXAMPLES, [content, style])
                settings = TRANSFER.build("color")
                follow_settings(estimate, settings)
            with gr.Column():
                out = OutputPanel("color")
    wire_run(stylize_color, run, [content, style, method, amount], out, "stylize_color", settings=settings,
             examples=shown)
    wire_stop(out)
