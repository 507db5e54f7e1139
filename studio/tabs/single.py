"""The Single style tab: one photo restyled after one painting, with the presets and Save as preset.

``L(x) = alpha L_content(x, p) + beta L_style(x, a) + gamma L_tv(x)`` for the photo ``p`` and the
painting ``a``. The tab's active preset (a ``gr.State``) adds its settings that have no control.
"""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

from nst.presets import Preset

from ..estimate import Estimate, follow_settings
from ..form import TRANSFER
from ..inputs import content_image, file_name, image_input, start_image, style_image
from ..jobs import SingleJob
from ..outputs import OutputPanel
from ..presets import PresetPanel, SavePanel, as_used
from ..stream import stream
from ..wiring import examples, wire_run, wire_stop

EXAMPLES = [("tubingen.jpg", "starry_night.jpg"), ("tubingen.jpg", "the_scream.jpg"), ("face.jpg", "kandinsky.jpg")]


def stylize(content, style, preset: Preset | None = None, request: gr.Request | None = None, progress=gr.Progress(),
            *, init_image=None, **settings):
    """Restyle the content photo after one painting; ``settings`` by name (``form.TRANSFER``; those left out
    take the page's defaults), over those of ``preset``, the tab's active preset (see ``load_preset``);
    ``init_image``: where the run starts when ``init`` is "image"."""
    values = TRANSFER.values({**settings, "init_image": init_image}, "stylize")
    photo, painting = content_image(content), style_image(style)
    config = TRANSFER.config(values, preset)
    job = SingleJob(photo, [painting], config, mode="single", preset=as_used(preset, [painting]),
                    settings={"content": file_name(content), "styles": [file_name(style)]},
                    init_image=start_image(values["init"], values["init_image"]))
    yield from stream(job, request=request, progress=progress)


@dataclass
class SingleTab:
    """What the page's preset wiring needs of this tab."""

    style: gr.Image
    settings: dict[str, gr.Component]
    out: OutputPanel
    presets: PresetPanel
    saving: SavePanel


def build(preset: gr.State) -> SingleTab:
    """The tab, its Run, examples, Continue and the public Stop; ``preset``: the tab's active preset."""
    with gr.Tab("Single style", id="single"):
        with gr.Row():
            with gr.Column():
                with gr.Row():
                    content = image_input("Content (photo)", height=240, elem_id="single-content")
                    # PNG: a preset's painting comes back from the page unchanged (see presets.as_used)
                    style = image_input("Style (painting)", height=240, elem_id="single-style", format="png")
                run = gr.Button("Run", variant="primary", elem_id="single-run")
                estimate = Estimate("single")
                shown = examples("single", EXAMPLES, [content, style])
                presets = PresetPanel()
                settings = TRANSFER.build("single")
                follow_settings(estimate, settings)
            with gr.Column():
                out = OutputPanel("single")
                saving = SavePanel()
    wire_run(stylize, run, [content, style], out, "stylize", settings={**settings, "preset": preset}, examples=shown)
    wire_stop(out, public=True)
    return SingleTab(style, settings, out, presets, saving)
