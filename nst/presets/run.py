"""The preset that describes one run, and the form an output image records it in.

An output records the preset it was made with (``png_metadata``, merged into its record by
``nst.record``), so ``nst.presets.load("result.png")`` runs the same look again.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Iterable

from .. import __version__
from ..config import TransferConfig
from .preset import FORMAT_VERSION, Preset, StyleImage, WeightsRecord, safe_name, style_file_name


def png_metadata(preset: Preset) -> dict[str, Any]:
    """What an output image records about the preset that made it (merged into its settings chunk)."""
    return {"preset": preset.to_dict(), "preset_origin": preset.origin}


def run_preset(preset: Preset | None, config: TransferConfig, style_paths: Iterable[str | Path] = (),
               model_source: str = "", name: str = "preset") -> Preset:
    """The preset that describes one run, to embed in its output (``png_metadata``).

    With ``preset`` and no ``style_paths``: that preset with the run's settings (and the run's blend
    weights as the styles' weights). Otherwise a settings-only preset naming the style files used.
    """
    record = WeightsRecord.from_model_source(model_source) if model_source else WeightsRecord("file")
    paths = list(style_paths)
    blend = config.style_blend_weights
    if preset is not None and not paths:
        styles = preset.styles
        if blend is not None and len(blend) == len(styles):
            styles = tuple(dataclasses.replace(s, weight=float(w)) for s, w in zip(styles, blend))
        return preset.replace(styles=styles, config=config.replace(style_blend_weights=None), weights=record,
                              nst_version=__version__, format_version=FORMAT_VERSION)
    files = [style_file_name(Path(p).name, i) for i, p in enumerate(paths)]
    if len(set(files)) != len(files):
        files = [f"style{i + 1}{Path(f).suffix}" for i, f in enumerate(files)]
    weights = blend if blend is not None and len(blend) == len(files) else (1.0,) * len(files)
    styles = tuple(StyleImage(file=f, weight=float(w)) for f, w in zip(files, weights))
    return Preset(name=preset.name if preset is not None else safe_name(name), styles=styles,
                  config=config.replace(style_blend_weights=None),
                  description=preset.description if preset is not None else "", weights=record)
