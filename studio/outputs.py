"""A tab's results: the output panel, the files a run writes, and the record each result carries.

Results go to the output folder (``studio.storage``: bounded in count and bytes, and a result the folder
refuses is kept elsewhere or handed back as it is). A result PNG carries its run's settings as a record
(``result_record``, over the engine's ``nst.record``; ``nst.read_settings`` reads it back): the mode,
the file names of the inputs, the config, the weights, the version, why the run ended, the steps
done, the style strength (``nst.strength.strength_of(config.style_weight)``, what the page's slider
showed) and for a single image the preset that describes it. A sweep's grid is laid out for the
panel (``panel_columns``).
"""

from __future__ import annotations

from typing import Any, Sequence

import gradio as gr
from PIL import Image

import nst
import nst.record
from nst.config import TransferConfig
from nst.presets import Preset
from nst.strength import strength_of

from .storage import keep

LOSS_COLORS = {"content": "#2563eb", "style": "#ea580c", "TV": "#16a34a"}  # the loss plot's lines
PANEL_ASPECT = 0.9  # width / height of the result panel on a wide page (about 290 x 320 px)
OUTPUTS = ("preview", "plot", "status", "result", "download")  # what every run's handler yields, in order


def panel_columns(count: int, aspect: float, panel_aspect: float = PANEL_ASPECT) -> int:
    """Columns for a grid of ``count`` images of width/height ``aspect`` that shows each image largest in
    the result panel: the ``c`` that maximises the cell's scale ``min(panel_aspect / (c * aspect), 1 / r)``,
    ``r = ceil(count / c)`` rows (the fewest columns on a tie). Five 4:3 images in one row would be a
    strip; in two columns each shows about 2.5 times as large."""
    if count < 1 or aspect <= 0:
        raise ValueError(f"a grid needs at least one image of positive aspect, got {count} of {aspect}")
    return max(range(1, count + 1), key=lambda c: (min(panel_aspect / (c * aspect), 1 / -(-count // c)), -c))


class OutputPanel:
    """A tab's results: live preview, result, status, Stop / Download / Continue, and the loss plot.

    Each component's ``elem_id`` is ``"{tab}-{attribute}"`` (``"single-preview"``, ...).
    """

    def __init__(self, tab: str, result_label: str = "Result", can_continue: bool = True,
                 download_label: str = "Download PNG") -> None:
        with gr.Row():
            self.preview = gr.Image(label="Preview (live)", type="pil", interactive=False, format="jpeg",
                                    buttons=[], height=320)
            self.result = gr.Image(label=result_label, type="filepath", interactive=False, format="png",
                                   buttons=["download", "fullscreen"], height=320)
        self.status = gr.Markdown("Press **Run**, or click an example.")
        with gr.Row():
            self.stop = gr.Button("Stop", variant="stop")
            self.download = gr.DownloadButton(download_label, value=None)
            self.continue_ = gr.Button("Continue from this") if can_continue else None
        self.stop_reply = gr.Textbox(visible=False)  # what a stop request answers (the API's /stop)
        self.plot = gr.LinePlot(x="step", y="log10 loss", color="term", label="Weighted losses (log10)",
                                x_title="step", y_title="log10 loss", color_map=LOSS_COLORS)
        for name in ("preview", "result", "status", "stop", "stop_reply", "download", "continue_", "plot"):
            if getattr(self, name) is not None:
                getattr(self, name).elem_id = f"{tab}-{name.rstrip('_')}"

    @property
    def outputs(self) -> list[gr.Component]:
        """The components a run updates, in ``OUTPUTS`` order."""
        return [getattr(self, name) for name in OUTPUTS]


def result_record(mode: str, settings: dict[str, Any], config: TransferConfig, weights: str, *,
                  stop_reason: str | None, steps_done: int, labels: Sequence[str] | None = None,
                  preset: Preset | None = None, with_preset: bool = False) -> dict[str, Any]:
    """What a result's PNG records (``nst.record.result_record``): ``settings`` (the input files' names,
    and what the tab adds), the ``mode``, the ``config`` it ran with, the ``weights``, why it ended, the
    steps done, the style strength and a sweep's ``labels``. ``with_preset``: also the preset that
    describes the run (a single image): the tab's preset with its own paintings, so restoring the PNG
    brings them back, or a settings-only preset naming the files used."""
    extra = {key: value for key, value in settings.items() if key not in ("content", "styles")}
    extra.update(mode=mode, stop_reason=stop_reason, steps_done=steps_done,
                 style_strength=strength_of(config.style_weight))
    if labels is not None:
        extra["labels"] = list(labels)
    return nst.record.result_record(
        config, weights=weights, content=settings.get("content"), styles=settings.get("styles") or [],
        preset=preset, preset_styles=preset is not None and preset.folder is not None, name=mode,
        describe=with_preset, extra=extra)


def save_result(image: Image.Image, mode: str, record: dict[str, Any]) -> tuple[str | Image.Image, str]:
    """``image`` as a new PNG with ``record`` embedded (``storage.keep``): its path, or ``image`` itself when
    no folder took it, and the note for the status line ("" when it is in the output folder)."""
    kept = keep(lambda path: nst.save_image(image, path, record), mode, ".png")
    return (kept.path if kept.path is not None else image), kept.note


def continue_from(result):
    """The last result as the init image of the next run."""
    if not result:
        raise gr.Error("No result yet: run a transfer first")
    return result, "image"
