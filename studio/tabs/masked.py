"""The Masked tab: each painting confined to a region, painted over the photo or uploaded as a mask.

Guided Gram matrices (Gatys et al. 2017): style ``i`` is matched only where its mask ``m`` is white,
``G_l[m] = (F_l m_l)(F_l m_l)^T / sum(m_l)``; the area no mask covers keeps the photo or gets one of
the styles (``rest``).
"""

from __future__ import annotations

import gradio as gr

from ..estimate import Estimate, follow_settings
from ..form import TRANSFER
from ..inputs import (check_mask_shape, content_image, file_name, guard_pixels, image_input, painted_mask, read_mask,
                      start_image, style_image)
from ..jobs import SingleJob
from ..outputs import OutputPanel
from ..stream import stream
from ..wiring import examples, wire_run, wire_stop

EXAMPLES = [("face.jpg", "starry_night.jpg", "face_mask.png", "the_scream.jpg", "face_mask_inv.png")]
RESTS = (("keeps the photo", "content"), ("gets style 1", "style 1"), ("gets style 2", "style 2"))
BRUSH_COLOURS = ("#ff2d55", "#007aff")  # the strokes of style 1 and style 2


def stylize_masked(content, style_1, mask_1=None, paint_1=None, style_2=None, mask_2=None, paint_2=None,
                   rest="content", request: gr.Request | None = None, progress=gr.Progress(), *, init_image=None,
                   **settings):
    """Each painting only where its mask is white; ``rest`` says who gets the area no mask covers.

    A style's mask is what was painted over the photo (``paint_i``, a ``gr.ImageEditor`` value) or,
    when nothing was painted, the uploaded mask image ``mask_i``; a style without either is used
    everywhere. ``rest`` is "content" (the photo shows through), "style 1" or "style 2". ``settings``
    by name (``form.TRANSFER``); ``init_image``: where the run starts when ``init`` is "image".
    """
    values = TRANSFER.values({**settings, "init_image": init_image}, "stylize_masked")
    photo = content_image(content)
    styles, masks, names = [], [], []
    for i, (style, mask, paint) in enumerate(((style_1, mask_1, paint_1), (style_2, mask_2, paint_2)), start=1):
        region = painted_mask(paint)
        if region is None and mask is not None:
            region = read_mask(mask, f"Mask {i}")
        if style is None:
            if region is not None:
                raise gr.Error(f"Mask {i} has no painting to go with it: upload style {i}, or clear the mask")
            continue
        if region is not None:
            check_mask_shape(region, photo, f"Mask {i}")
        styles.append(style_image(style, f"style image {i}"))
        masks.append(region)
        names.append(file_name(style))
    if not styles:
        raise gr.Error("No style images: upload at least one painting, or click an example below")
    if rest not in ("content", "style 1", "style 2"):
        raise gr.Error(f"rest must be 'content', 'style 1' or 'style 2', got {rest!r}")
    default_style = None if rest == "content" else int(rest[-1]) - 1
    if default_style is not None and default_style >= len(styles):
        raise gr.Error(f"The rest of the image should get {rest}, but there is no {rest}: upload it or choose another")
    if all(m is None for m in masks):
        gr.Warning("No masks painted or uploaded: every painting applies everywhere")
        masks, default_style = None, None
    config = TRANSFER.config(values)
    job = SingleJob(photo, styles, config, mode="masked",
                    settings={"content": file_name(content), "styles": names, "rest": rest},
                    init_image=start_image(values["init"], values["init_image"]), style_masks=masks,
                    default_style=default_style)
    yield from stream(job, request=request, progress=progress)


def build() -> None:
    """The tab: the photo, two paintings each with an uploaded or painted region, and the rest's choice."""
    with gr.Tab("Masked", id="masked"):
        with gr.Row():
            with gr.Column():
                content = image_input("Content (photo)", height=220, elem_id="masked-content")
                masked = []  # style, mask, paint of style 1, then of style 2
                with gr.Tabs():
                    for i in (1, 2):
                        with gr.Tab(f"Style {i} and its region"):
                            with gr.Row():
                                masked.append(image_input(f"Style {i}", height=180, elem_id=f"masked-style-{i}"))
                                masked.append(image_input(f"Mask {i}: white where style {i} goes", height=180))
                            masked.append(guard_pixels(gr.ImageEditor(
                                label=f"…or paint where style {i} goes (pick the brush)", type="pil",
                                image_mode="RGBA", sources=(), transforms=(), layers=False, height=300,
                                brush=gr.Brush(colors=[BRUSH_COLOURS[i - 1]], color_mode="fixed", default_size=24),
                            )))
                rest = gr.Radio(list(RESTS), value="content", label="The area no mask covers")
                gr.Markdown("Painted strokes are used when there are any, otherwise the uploaded mask; "
                            "a style with neither applies everywhere.")
                run = gr.Button("Run", variant="primary", elem_id="masked-run")
                estimate = Estimate("masked")
                shown = examples("masked", EXAMPLES, [content, *masked[0:2], *masked[3:5]])
                settings = TRANSFER.build("masked")
                follow_settings(estimate, settings)
            with gr.Column():
                out = OutputPanel("masked")
    # The painting canvases show the photo, so strokes land where they are meant to.
    content.change(lambda photo: (photo, photo), content, [masked[2], masked[5]],
                   api_visibility="private", queue=False, show_progress="hidden")
    wire_run(stylize_masked, run, [content, *masked, rest], out, "stylize_masked", settings=settings, examples=shown)
    wire_stop(out)
