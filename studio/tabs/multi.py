"""The Multiple styles tab: a blend of up to four paintings, and an interpolation from one to another.

A blend matches the weighted mean of the paintings' Gram matrices, ``A_l = sum_i w_i A_l^(i) / sum_i w_i``;
the interpolation is a row of transfers whose target moves from style 1 to style 2,
``A_l(t) = (1 - t) A_l^(1) + t A_l^(2)``, shown as a grid and a GIF (``nst.interpolate``).
"""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

from nst.interpolate import interpolate as interpolation_sweep
from nst.presets import Preset

from .. import runtime
from ..estimate import Estimate, follow_settings
from ..form import TRANSFER
from ..inputs import checked_number, content_image, file_name, image_input, start_image, style_image, whole
from ..jobs import SingleJob, SweepJob, make
from ..outputs import OutputPanel
from ..presets import MAX_STYLES, as_used
from ..stream import stream
from ..wiring import examples, wire_run, wire_stop

EXAMPLES = [("tubingen.jpg", "starry_night.jpg", "the_scream.jpg"), ("face.jpg", "kandinsky.jpg", "starry_night.jpg")]
FRAMES = (2, 12, 5)   # the interpolation's outputs: fewest, most, default


def stylize_multi(content, style_1, weight_1, style_2, weight_2, style_3=None, weight_3=0.0, style_4=None,
                  weight_4=0.0, preset: Preset | None = None, request: gr.Request | None = None,
                  progress=gr.Progress(), *, init_image=None, **settings):
    """Restyle the content photo after a blend of up to four paintings (empty slots are skipped);
    ``settings`` by name (``form.TRANSFER``), over those of ``preset``, the tab's active preset;
    ``init_image``: where the run starts when ``init`` is "image"."""
    values = TRANSFER.values({**settings, "init_image": init_image}, "stylize_multi")
    photo = content_image(content)
    given = [(i, s, w) for i, (s, w) in enumerate(((style_1, weight_1), (style_2, weight_2),
                                                   (style_3, weight_3), (style_4, weight_4)), start=1)
             if s is not None]
    if not given:
        raise gr.Error("No style images: upload at least one painting, or click an example below")
    weights = [w for _, _, w in given]
    if any(isinstance(w, bool) or not isinstance(w, (int, float)) or not w >= 0 for w in weights):
        raise gr.Error(f"Blend weights must be numbers of 0 or more, got {weights}")
    if sum(weights) <= 0:
        raise gr.Error("All blend weights are zero: give at least one painting a weight above 0")
    paintings = [style_image(s, f"style image {i}") for i, s, _ in given]
    config = TRANSFER.config(values, preset, style_blend_weights=tuple(float(w) for w in weights))
    job = SingleJob(photo, paintings, config, mode="multi", preset=as_used(preset, paintings),
                    settings={"content": file_name(content), "styles": [file_name(s) for _, s, _ in given]},
                    init_image=start_image(values["init"], values["init_image"]))
    yield from stream(job, request=request, progress=progress)


def interpolate(content, style_1, style_2, frames=FRAMES[2], request: gr.Request | None = None,
                progress=gr.Progress(), *, init_image=None, **settings):
    """``frames`` transfers whose style moves from style 1 to style 2; the result is a grid, the last
    output a GIF. After the first, each frame starts from its neighbour and runs a third of the steps;
    ``settings`` by name (``form.TRANSFER``), ``init_image`` starting the first when ``init`` is "image"."""
    values = TRANSFER.values({**settings, "init_image": init_image}, "interpolate")
    photo = content_image(content)
    style_a, style_b = style_image(style_1, "style image 1"), style_image(style_2, "style image 2")
    frames = whole(frames)
    low, high, _ = FRAMES
    if isinstance(frames, bool) or not isinstance(frames, int) or not low <= frames <= high:
        raise gr.Error(f"Frames must be a whole number from {low} to {high}, got {frames!r}")
    config = TRANSFER.config(values)
    sweep = make(interpolation_sweep, runtime.get_model(), photo, style_a, style_b, frames, config,
                 device=runtime.device(), init_image=start_image(values["init"], values["init_image"]))
    job = SweepJob(sweep, config, mode="interpolate", gif=True,
                   settings={"content": file_name(content), "styles": [file_name(style_1), file_name(style_2)]})
    yield from stream(job, request=request, progress=progress)


@dataclass
class MultiTab:
    """What the page's preset wiring needs of this tab: the paintings, their weights and the settings."""

    styles: list[gr.Image]
    weights: list[gr.Slider]
    settings: dict[str, gr.Component]


def build(preset: gr.State) -> MultiTab:
    """The tab, its two runs (blend, interpolation), examples and Continue; ``preset``: its active preset."""
    with gr.Tab("Multiple styles", id="multi"):
        with gr.Row():
            with gr.Column():
                content = image_input("Content (photo)", height=220, elem_id="multi-content")
                styles, weights = [], []
                with gr.Row():
                    for i in range(1, MAX_STYLES + 1):
                        with gr.Column(min_width=120):
                            styles.append(image_input(f"Style {i}", height=140, elem_id=f"multi-style-{i}",
                                                      format="png"))
                            weights.append(checked_number(gr.Slider(0, 1, value=1.0 if i <= 2 else 0.0, step=0.05,
                                                                    label=f"Weight {i}")))
                run = gr.Button("Run blend", variant="primary", elem_id="multi-run")
                estimate = Estimate("multi")
                shown = examples("multi", EXAMPLES, [content, styles[0], styles[1]])
                with gr.Accordion("Interpolation: style 1 → style 2", open=False):
                    gr.Markdown("A row of transfers whose style moves from style 1 to style 2, "
                                "`A(t) = (1 - t) A1 + t A2`, shown as a grid and a GIF.")
                    frames = checked_number(gr.Slider(FRAMES[0], FRAMES[1], value=FRAMES[2], step=1, label="Frames"))
                    run_sweep = gr.Button("Run interpolation", elem_id="multi-interpolate")
                settings = TRANSFER.build("multi")
                follow_settings(estimate, settings)
            with gr.Column():
                out = OutputPanel("multi")
                animation = gr.Image(label="Interpolation (GIF)", type="filepath", interactive=False,
                                     height=240, elem_id="multi-gif")
    slots = [component for pair in zip(styles, weights) for component in pair]
    wire_run(stylize_multi, run, [content, *slots], out, "stylize_multi", settings={**settings, "preset": preset},
             examples=shown)
    wire_run(interpolate, run_sweep, [content, styles[0], styles[1], frames], out, "interpolate", settings=settings,
             outputs=[out.preview, out.plot, out.status, out.result, animation], continues=False)
    wire_stop(out)
    return MultiTab(styles, weights, settings)
