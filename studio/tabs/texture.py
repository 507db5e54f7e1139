"""The Texture tab: a painting's texture alone, synthesised from seeded noise (Gatys, Ecker & Bethge 2015).

No content term (``alpha = 0``): ``L(x) = beta L_style(x, a) + gamma L_tv(x)``, from noise, at the
asked width and height (``nst.texture``).
"""

from __future__ import annotations

import gradio as gr

from nst.config import SPEC
from nst.texture import texture_config

from .. import budget
from ..estimate import Estimate, device_default, sketch
from ..form import TEXTURE, capped, control_range
from ..inputs import checked_number, file_name, image_input, read_image
from ..jobs import SingleJob
from ..outputs import OutputPanel
from ..stream import stream
from ..wiring import examples, wire_run, wire_stop

EXAMPLES = [("starry_night.jpg",), ("kandinsky.jpg",)]
MIN_SIDE = 16   # px: the smallest width or height asked for


def texture(style, width=None, height=None, request: gr.Request | None = None, progress=gr.Progress(), **settings):
    """Synthesise the painting's texture from seeded noise at ``width`` x ``height`` (None: the page's default
    size); ``settings`` by name (``form.TEXTURE``)."""
    values = TEXTURE.values(settings, "texture")
    painting = read_image(style, "style image", "upload a painting or a texture, or click an example below")
    width = capped(budget.default_size() if width is None else width, "Width")
    height = capped(budget.default_size() if height is None else height, "Height")
    if not all(isinstance(v, int) and not isinstance(v, bool) and v >= MIN_SIDE for v in (width, height)):
        raise gr.Error(f"Width and height must be whole numbers of at least {MIN_SIDE} px, got {width}x{height}")
    config = TEXTURE.config(values, size=max(width, height), content_weight=0.0, init="noise")
    job = SingleJob(None, [painting], texture_config(config), mode="texture",
                    settings={"content": None, "styles": [file_name(style)]}, content_size=(height, width))
    yield from stream(job, request=request, progress=progress)


def build() -> None:
    """The tab: a painting or texture and the canvas's width and height."""
    with gr.Tab("Texture", id="texture"):
        with gr.Row():
            with gr.Column():
                style = image_input("Style (painting or texture)", height=240, elem_id="texture-style")
                low, high = control_range("size")  # as the Size slider of the other tabs
                with gr.Row():
                    width, height = (device_default(checked_number(gr.Slider(
                        low, high, value=budget.default_size(), step=SPEC["size"].ui[2], label=f"{side} (px)",
                        elem_id=f"texture-{side.lower()}")), budget.default_size) for side in ("Width", "Height"))
                run = gr.Button("Run", variant="primary", elem_id="texture-run")
                estimate = Estimate("texture")
                shown = examples("texture", EXAMPLES, [style])
                settings = TEXTURE.build("texture")
                estimate.follow([width, height, settings["steps"], settings["scales"]],
                                lambda w, h, steps, scales: sketch(max(w, h), steps, scales))
            with gr.Column():
                out = OutputPanel("texture", can_continue=False)
    wire_run(texture, run, [style, width, height], out, "texture", settings=settings, examples=shown)
    wire_stop(out)
