"""Style presets: a look, kept as data, that can be saved, shared and reproduced.

The package, one concern a module, each depending only on those above it:

* ``preset``: the ``Preset`` type (style images with blend weights and credits, every setting, the
  VGG-19 weights that made it), its ``preset.json`` form and the checks every preset passes;
* ``store``: presets in local folders (``read``, ``list_presets``, ``save``, ``create``; the built-ins);
* ``hub``: presets on the Hugging Face Hub (``load_from_hub``, ``push_to_hub``);
* ``sources``: ``load`` a preset from a folder, its ``preset.json``, an image written by this project
  (``from_image``), a built-in name or a Hub repo ``user/name``;
* ``run``: the preset that describes one run (``run_preset``) and how an output records it (``png_metadata``).
"""

from __future__ import annotations

from .hub import load_from_hub, model_card, push_to_hub
from .preset import (
    FORMAT_VERSION, IMAGE_SUFFIXES, MAX_FILE_BYTES, MAX_IMAGE_PIXELS, MAX_JSON_BYTES, NAME_PATTERN, PRESET_FILE,
    REPO_PATTERN, THUMBNAIL_FILE, Preset, PresetError, StyleImage, WeightsRecord, check_relative_path, parse_json,
    safe_name,
)
from .run import png_metadata, run_preset
from .sources import from_image, load
from .store import BUILTIN_DIR, THUMBNAIL_SIDE, builtin_names, create, list_presets, read, read_json, save

__all__ = [
    "BUILTIN_DIR", "FORMAT_VERSION", "IMAGE_SUFFIXES", "MAX_FILE_BYTES", "MAX_IMAGE_PIXELS", "MAX_JSON_BYTES",
    "NAME_PATTERN", "PRESET_FILE", "REPO_PATTERN", "THUMBNAIL_FILE", "THUMBNAIL_SIDE", "Preset", "PresetError",
    "StyleImage", "WeightsRecord", "builtin_names", "check_relative_path", "create", "from_image", "list_presets",
    "load", "load_from_hub", "model_card", "parse_json", "png_metadata", "push_to_hub", "read", "read_json",
    "run_preset", "safe_name", "save",
]
