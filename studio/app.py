"""The page: ``build_demo()`` lays the tabs out, wires the presets across them and sets up the queue.

The page is built without loading the weights; its first visit loads them (the runtime line says
which) and measures this machine once (``studio.budget``), and every visit gets the measured defaults
and the estimate lines with the runtime line (``studio.estimate``), so they arrive together.

Every run shares the device's queue slots (one, or ``NST_BATCH_SIZE`` when visitors' runs are optimised
together, ``studio.batcher``); at most ``runtime.queue_size()`` runs wait for one, and
a run asked for beyond that is refused with Gradio's "queue is full" message rather than kept
waiting. Gradio's cache (uploads, and the copies of results it serves) is emptied of files older than
``limits.delete_cache()`` says. ``main()`` checks the host's environment variables (one line and exit
status 2 for a bad one), then serves the page (``GRADIO_SERVER_NAME`` / ``GRADIO_SERVER_PORT`` choose
host and port) with uploads capped at ``limits.max_upload_bytes()``; only the output folder and
``docs/examples`` are served as files.
"""

from __future__ import annotations

import logging
import sys

import gradio as gr

from . import estimate, limits, runtime
from .env import HostSettingError
from .form import TRANSFER
from .presets import FILL_OUTPUTS, MAX_STYLES, SAVED, wire_presets
from .tabs import colour, explore, masked, multi, single, texture, video

TITLE = "Neural style transfer studio"
INTRO = ("# Neural style transfer studio\n"
         "Gatys, Ecker & Bethge: an image is optimised until its VGG-19 features match a photo's "
         "content and a painting's style (Gram matrices).")


def build_demo() -> gr.Blocks:
    """The whole studio as a ``gr.Blocks`` with its queue set up (the device's runs: ``wiring.device_queue``)."""
    with gr.Blocks(title=TITLE, delete_cache=limits.delete_cache()) as demo, estimate.collecting() as measured:
        gr.Markdown(INTRO)
        line = gr.Markdown("**Device:** … · **Weights:** loading…", elem_id="runtime")
        single_preset, multi_preset = gr.State(None), gr.State(None)  # each tab's active preset
        one = single.build(single_preset)
        blend = multi.build(multi_preset)
        masked.build()
        colour.build()
        texture.build()
        explore.build()
        video.build()

        fill = {"single_style": one.style, **{f"single_{name}": one.settings[name] for name in TRANSFER.names},
                **{f"multi_{name}": blend.settings[name] for name in TRANSFER.names},
                "single_preset": single_preset, "multi_preset": multi_preset, "preset_status": one.presets.status,
                "preset_name": one.saving.name, "preset_description": one.saving.description,
                "preset_credit": one.saving.credit, "preset_licence": one.saving.licence}
        for i in range(MAX_STYLES):
            fill[f"multi_style_{i + 1}"], fill[f"multi_weight_{i + 1}"] = blend.styles[i], blend.weights[i]
        if set(fill) != set(FILL_OUTPUTS):
            raise RuntimeError(f"the preset fill misses {sorted(set(FILL_OUTPUTS) - set(fill))}")
        saving = one.saving
        wire_presets(one.presets, saving, fill,
                     [saving.name, saving.description, saving.credit, saving.licence, one.style, one.out.result],
                     {**{name: one.settings[name] for name in SAVED.keys}, "preset": single_preset})

        def page_load() -> list:
            return [runtime.describe_runtime(), *measured.refresh()]

        demo.load(page_load, None, [line, *measured.outputs], api_visibility="private", concurrency_limit=None,
                  concurrency_id="control", show_progress="hidden")
    demo.queue(default_concurrency_limit=1, max_size=runtime.queue_size())
    return demo


def main() -> None:
    """Serve the studio, once the environment variables are known to be usable."""
    logging.basicConfig()
    try:
        limits.check_environment()
    except HostSettingError as exc:
        print(f"app.py: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    folder = runtime.output_dir()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:  # results then go to a temporary folder, each run says so
        logging.getLogger("nst.app").warning("the output folder %s cannot be made (%s)", folder, exc.strerror)
    build_demo().launch(allowed_paths=[str(folder), str(runtime.EXAMPLES)], max_file_size=limits.max_upload_bytes())
