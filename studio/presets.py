"""Presets on the page (``nst.presets``: a look kept as data - paintings, blend weights, credits, settings).

The Single style tab shows the built-in presets as a gallery and loads one from a Hub repo
``user/name``; choosing one fills its painting and settings into that tab, or, for a blend, into the
Multiple styles tab. A preset's settings without a control on the page (``preserve_color``,
``tv_kind``, ...) stay with the tab as its active preset and apply to its runs until another preset
is loaded or it is forgotten (a preset's settings are the base, the controls override them).
Dropping a result restores its settings (and its paintings, when the preset it came from is at
hand). **Save as preset** writes the tab's painting, settings and latest result (the thumbnail) as a
preset folder offered as a .zip, and **Push to Hub** uploads it. ``load_preset``,
``restore_settings``, ``save_preset`` and ``push_preset`` are API endpoints of the same names.

A visitor's request never acts with the host's Hub credentials: presets load from the Hub anonymously
(``token=False``, whatever ``HF_TOKEN`` or login the host has), and a push uses the token the visitor
types, unless the host chose otherwise (``limits.push_policy()``: ``NST_ALLOW_PUSH``). A dropped
result is untrusted data: its settings are checked like a preset's, and the preset it names is looked
up only as a built-in or a Hub repo at a commit (``origin_here``), never as a path on this machine.
What any preset brings is held to the form's caps (``studio.form``), its machine settings this host's.
A preset is a look, not a machine budget: a built-in or Hub preset runs at this device's default size,
steps and scales (``budget.for_this_device``: on a CPU, chosen by measuring it), whatever its file
says; a restored result keeps its own, so that it can be made again.

The fill handlers return the page's new values in ``FILL_OUTPUTS`` order (``gr.skip()`` leaves a
component as it is).
"""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path
from typing import Any, Sequence

import gradio as gr
from PIL import Image, ImageChops

import nst
import nst.presets
from nst.config import TransferConfig
from nst.presets import Preset, PresetError
from nst.settings import shown

from . import budget, hub, runtime
from .form import TRANSFER, for_this_host
from .inputs import read_image, style_image
from .storage import PRESETS, new_output

MAX_STYLES = 4   # paintings the Multiple styles tab blends
SAVED = TRANSFER.without(init_image=False)   # the settings Save as preset takes (the Single style tab's)
# What load_preset, choose_preset and restore_settings return, in this order: the Single style tab's painting
# and settings; the Multiple styles tab's paintings, weights and settings; each tab's active preset; the
# preset status line; the Save-as-preset fields.
FILL_OUTPUTS = (
    "single_style", *(f"single_{name}" for name in TRANSFER.names),
    *(f"multi_{kind}_{i}" for i in range(1, MAX_STYLES + 1) for kind in ("style", "weight")),
    *(f"multi_{name}" for name in TRANSFER.names),
    "single_preset", "multi_preset", "preset_status",
    "preset_name", "preset_description", "preset_credit", "preset_licence",
)
NO_PRESET = "No preset: runs use the settings below."


def as_used(preset: Preset | None, paintings: Sequence[Image.Image]) -> Preset | None:
    """``preset`` as a run with ``paintings`` uses it: whole when they are its own paintings pixel for pixel
    (the page holds them as PNG, so they come back unchanged), else its settings only, so that a result
    never names paintings it was not made with."""
    if preset is None or preset.folder is None:
        return preset
    try:
        own = preset.style_images()
    except PresetError:  # its folder is gone or changed since it was loaded
        own = []
    same = len(own) == len(paintings) and all(
        a.size == b.size and ImageChops.difference(a, b).getbbox() is None for a, b in zip(own, paintings))
    return preset if same else dataclasses.replace(preset, folder=None, origin=None)


def _describe(preset: Preset, note: str) -> str:
    """The preset status line: the preset, its paintings' credits, the settings it adds, then ``note``."""
    origin = f" (`{preset.origin}`)" if preset.origin and preset.origin != preset.name else ""
    lines = [f"**Preset {preset.name}**{origin}" + (f": {preset.description}" if preset.description else "")]
    if preset.credits:
        lines.append(f"Paintings: {preset.credits}.")
    defaults = TransferConfig()
    added = {k: v for k, v in TRANSFER.extras(preset).items() if v != getattr(defaults, k)}
    if added:
        listed = ", ".join(f"`{k} = {v}`" for k, v in added.items())
        lines.append(f"It also sets {listed}, which have no control here: its tab's runs use them until "
                     "another preset is loaded or you press **Forget preset**.")
    lines.append(note)
    return "\n\n".join(lines)


def _fill(preset: Preset, paintings: list[Image.Image] | None, note: str, this_device: bool = False) -> tuple:
    """The page's new values for ``preset``, in ``FILL_OUTPUTS`` order (``gr.skip()`` leaves a component be).

    ``this_device``: the preset is a look, so its budget (size, steps, scales, early stopping) is this
    device's defaults (``budget.for_this_device``), for the form and for the settings without a control;
    a restored result keeps its own, so that it can be made again.

    One painting goes to the Single style tab; a blend to the Multiple styles tab, its weights scaled
    down to the sliders' 0 to 1 when one is larger (the blend ``A = sum_i w_i A^(i) / sum_i w_i`` depends
    only on their ratios). ``paintings`` None keeps the paintings on the page (a result that carries
    settings only); the unused slots of a blend are then set to weight 0.
    """
    config = for_this_host(preset.config)
    preset = dataclasses.replace(preset, config=budget.for_this_device(config) if this_device else config)
    count = len(preset.styles)
    if count > MAX_STYLES:
        raise gr.Error(f"Preset {preset.name} blends {count} paintings; this page blends at most {MAX_STYLES}")
    values: dict[str, Any] = dict.fromkeys(FILL_OUTPUTS, gr.skip())
    tab = "single" if count == 1 else "multi"
    values.update({f"{tab}_{name}": value for name, value in TRANSFER.show(preset.config).items()})
    values[f"{tab}_preset"] = preset
    if tab == "single":
        style = preset.styles[0]
        if paintings is not None:
            values["single_style"] = paintings[0]
        values.update(preset_name=preset.name, preset_description=preset.description, preset_credit=style.credit,
                      preset_licence=style.licence)
        where = "It is in the **Single style** tab: add a photo and press **Run**."
    else:
        scale = max(1.0, max(s.weight for s in preset.styles))
        for i in range(MAX_STYLES):
            values[f"multi_weight_{i + 1}"] = preset.styles[i].weight / scale if i < count else 0.0
            if paintings is not None:
                values[f"multi_style_{i + 1}"] = paintings[i] if i < count else None
        where = f"A blend of {count} paintings: it is in the **Multiple styles** tab."
        gr.Info(f"Preset {preset.name} blends {count} paintings: it is in the Multiple styles tab")
    values["preset_status"] = _describe(preset, f"{note} {where}")
    return tuple(values[name] for name in FILL_OUTPUTS)


def preset_gallery() -> list[tuple[str, str]]:
    """The built-in presets as gallery items, in ``builtin_names()`` order: the thumbnail (else the first
    painting) captioned "name: description"."""
    return [(str(p.thumbnail or p.style_files[0]), f"{p.name}: {p.description}" if p.description else p.name)
            for p in nst.presets.list_presets()]


def load_preset(spec, revision=""):
    """Fill the page from a preset: a built-in name, or a Hub repo ``user/name`` at ``revision`` (a branch,
    tag or commit; empty: main). Returns the new values in ``FILL_OUTPUTS`` order."""
    spec, revision = str(spec or "").strip(), str(revision or "").strip() or None
    if not spec:
        raise gr.Error("No preset: click one in the gallery, or type a Hub repo as user/name")
    builtins = nst.presets.builtin_names()
    if spec in builtins and revision:
        raise gr.Error(f"{spec} is a built-in preset: a revision applies to Hub presets only, so clear it")
    if spec not in builtins and not nst.presets.REPO_PATTERN.fullmatch(spec):
        raise gr.Error(f"No preset {shown(spec)}: give a built-in one ({', '.join(builtins)}) or a Hub repo as "
                       "user/name")
    try:
        if spec in builtins:
            preset = nst.presets.read(nst.presets.BUILTIN_DIR / spec, origin=spec)
        else:
            preset = hub.load(hub.repo_id(spec, "Preset"), revision)
        paintings = preset.style_images()
    except (PresetError, OSError) as exc:
        raise gr.Error(f"The preset could not be loaded: {exc}") from None
    return _fill(preset, paintings, "Loaded: its painting(s) and settings, at this machine's size and steps.",
                 this_device=True)


def choose_preset(evt: gr.SelectData):
    """Load the built-in preset clicked in the gallery (which lists them in ``builtin_names()`` order)."""
    names = nst.presets.builtin_names()
    if not isinstance(evt.index, int) or not 0 <= evt.index < len(names):
        raise gr.Error("That preset is no longer installed: reload the page")
    return load_preset(names[evt.index])


def restore_settings(result):
    """Fill the page from a result this project wrote (PNG or JPEG): its settings, and its paintings when
    the preset it came from is at hand (a built-in, or a Hub preset at its commit: ``hub.origin_here``);
    otherwise the paintings on the page are kept. Returns the new values in ``FILL_OUTPUTS`` order."""
    if not result:
        raise gr.Error("No file: drop a PNG made by this app or by python -m nst")
    path = Path(result)
    try:
        preset = nst.presets.from_image(path, find=hub.origin_here)
        paintings = preset.style_images() if preset.folder is not None else None
    except PresetError as exc:
        raise gr.Error(f"Nothing to restore: {str(exc).replace(str(path), path.name)}") from None
    except RecursionError:  # JSON nested deeper than Python parses
        raise gr.Error(f"Nothing to restore: the settings in {path.name} are nested too deeply to be settings; "
                       "drop a PNG made by this app or by python -m nst") from None
    if paintings is None:
        files = ", ".join(s.file for s in preset.styles)
        note = (f"Settings restored from {path.name}. It names its painting(s) ({files}) but does not hold them, "
                "so the style image(s) on the page are kept.")
    else:
        note = f"Restored from {path.name}: its painting(s) and settings."
    return _fill(preset, paintings, note)


def forget_preset():
    """Drop both tabs' active presets: their runs use the controls alone again."""
    return None, None, NO_PRESET


def _weights_source(result) -> str:
    """The VGG-19 that made ``result`` (its PNG records it), else the one this app uses."""
    try:
        recorded = nst.read_settings(result) if result else None
    except (OSError, ValueError, RecursionError):
        recorded = None
    source = (recorded or {}).get("weights")
    return source if isinstance(source, str) else runtime.get_model().source


def _write_preset(name, description, credit, licence, style, result, config: TransferConfig) -> tuple[Preset, Path]:
    """A new preset folder ``<output>/presets/<zip name>/<name>/`` and its .zip among the results."""
    name = str(name or "").strip()
    if not name:
        raise gr.Error("Name the preset first, like my-look")
    if not nst.presets.NAME_PATTERN.fullmatch(name):
        raise gr.Error(f"Preset name {name!r}: use only letters, digits, '.', '_' and '-', starting with a letter "
                       "or digit")
    painting = style_image(style)
    folder = None
    try:
        archive = new_output("preset", ".zip")
        folder = runtime.output_dir() / PRESETS / archive.stem / name
        saved = nst.presets.create(folder, name, config, [painting], credits=[str(credit or "")],
                                   licences=[str(licence or "")], description=str(description or ""),
                                   model_source=_weights_source(result), thumbnail=_thumbnail(result))
        shutil.make_archive(str(archive.with_suffix("")), "zip", root_dir=folder.parent, base_dir=name)
    except (PresetError, nst.ImageError) as exc:
        _remove(folder)
        raise gr.Error(f"The preset could not be saved: {exc}") from None
    except OSError as exc:  # a full or read-only disk
        _remove(folder)
        raise gr.Error(f"The preset could not be saved: the output folder refused it ({exc.strerror or exc}); "
                       "try again later") from None
    return saved, archive


def _thumbnail(result) -> Image.Image | None:
    """The latest result as the thumbnail, read like any upload (the API takes any image as it)."""
    return read_image(result, "result", "run a transfer first, or leave it out") if result else None


def _remove(folder: Path | None) -> None:
    """A preset folder left half written (its parent, named after the .zip)."""
    if folder is not None:
        shutil.rmtree(folder.parent, ignore_errors=True)


def save_preset(name, description="", credit="", licence="", style=None, result=None, preset: Preset | None = None,
                **settings):
    """Save the Single style tab as a preset: its painting with ``credit`` and ``licence``, every setting (the
    ``settings`` by name, see ``form.TRANSFER``, over those of the active ``preset``) and the latest
    ``result`` as the thumbnail. Returns the preset folder as a .zip and a status line."""
    config = SAVED.config(SAVED.values(settings, "save_preset"), preset)
    saved, archive = _write_preset(name, description, credit, licence, style, result, config)
    thumbnail = "" if saved.thumbnail else " It has no thumbnail: run a transfer first to include one."
    return str(archive), (f"Saved preset **{saved.name}** as {archive.name}: unzip it and give the folder to "
                          f"`python -m nst photo.jpg --preset FOLDER`, or push it to the Hub.{thumbnail}")


def push_preset(repo_id, token, name, description="", credit="", licence="", style=None, result=None,
                preset: Preset | None = None, **settings):
    """Save the Single style tab as a preset (see ``save_preset``) and upload it, with a model card, to the
    Hub repo ``repo_id`` (created if needed) with the visitor's ``token`` (see ``hub.push_token``: the
    host's credentials only where ``NST_ALLOW_PUSH=host``). Returns the .zip and a status line with the
    commit's URL."""
    repo_id = hub.repo_id(str(repo_id or "").strip())
    token = hub.push_token(token)
    config = SAVED.config(SAVED.values(settings, "push_preset"), preset)
    saved, archive = _write_preset(name, description, credit, licence, style, result, config)
    try:
        url = nst.presets.push_to_hub(saved, repo_id, token=token, endpoint=runtime.hub_endpoint())
    except PresetError as exc:
        raise gr.Error(str(exc)) from None
    return str(archive), (f"Pushed preset **{saved.name}** to {repo_id}: [{url}]({url}). Anyone can use it with "
                          f"`python -m nst photo.jpg --preset {repo_id}` or load it here.")


class PresetPanel:
    """Loading presets: the built-ins as a gallery, a Hub repo, a result to restore, the status and Forget.

    Each component's ``elem_id`` is ``"presets-{attribute}"`` (``"presets-gallery"``, ...).
    """

    def __init__(self) -> None:
        with gr.Accordion("Presets", open=True):
            self.gallery = gr.Gallery(preset_gallery(), label="Built-in presets (click one to load it)", columns=4,
                                      height=320, allow_preview=False, object_fit="cover", interactive=False)
            with gr.Row():
                self.repo = gr.Textbox(label="…or a preset on the Hugging Face Hub", placeholder="user/name",
                                       scale=3)
                self.revision = gr.Textbox(label="Revision (optional)", placeholder="main",
                                           info="branch, tag or commit", scale=1)
            self.load = gr.Button("Load from the Hub")
            self.restore = gr.File(label="…or drop a result made here or with python -m nst to restore its settings",
                                   file_types=[".png", ".jpg", ".jpeg"], type="filepath", height=130)
            self.status = gr.Markdown(NO_PRESET)
            self.forget = gr.Button("Forget preset", size="sm")
        for name in ("gallery", "repo", "revision", "load", "restore", "status", "forget"):
            getattr(self, name).elem_id = f"presets-{name}"


class SavePanel:
    """Saving the Single style tab as a preset (.zip) and pushing it to the Hub.

    Each component's ``elem_id`` is ``"save-{attribute}"`` (``"save-name"``, ...).
    """

    def __init__(self) -> None:
        with gr.Accordion("Save as preset", open=False):
            with gr.Row():
                self.name = gr.Textbox(label="Name", placeholder="my-look", info="letters, digits, '.', '_', '-'")
                self.credit = gr.Textbox(label="Painting", placeholder="Painter, Title (year)")
                self.licence = gr.Textbox(label="Licence", placeholder="public domain")
            self.description = gr.Textbox(label="Description", lines=2)
            self.save = gr.Button("Save as preset (.zip)")
            with gr.Row():
                self.repo = gr.Textbox(label="Hub repo", placeholder="user/name")
                self.token = gr.Textbox(label="Hub token with write access", type="password",
                                        placeholder=hub.token_hint())
            self.push = gr.Button("Push to Hub")
            self.file = gr.File(label="Preset (.zip)", interactive=False)
            self.status = gr.Markdown("")
        for name in ("name", "credit", "licence", "description", "save", "repo", "token", "push", "file", "status"):
            getattr(self, name).elem_id = f"save-{name}"


def wire_presets(panel: PresetPanel, saving: SavePanel, fill: dict[str, gr.Component],
                 save_inputs: list[gr.Component], save_settings: dict[str, gr.Component]) -> None:
    """The preset panel's gallery, Hub loader, restore and Forget to the components ``fill`` names
    (``FILL_OUTPUTS``); Save and Push to their .zip and status. ``save_inputs``: what ``save_preset``
    takes in order (name ... result), ``save_settings``: its settings and ``preset`` by name."""
    outputs = [fill[name] for name in FILL_OUTPUTS]
    panel.gallery.select(choose_preset, None, outputs, api_visibility="private")
    panel.load.click(load_preset, [panel.repo, panel.revision], outputs, api_name="load_preset")
    panel.repo.submit(load_preset, [panel.repo, panel.revision], outputs, api_visibility="private")
    panel.restore.upload(restore_settings, panel.restore, outputs, api_name="restore_settings")
    panel.forget.click(forget_preset, None, [fill["single_preset"], fill["multi_preset"], panel.status],
                       api_visibility="private", queue=False, show_progress="hidden")
    saving.save.click(save_preset, save_inputs, [saving.file, saving.status], inputs_kwargs=save_settings,
                      api_name="save_preset")
    saving.push.click(push_preset, [saving.repo, saving.token, *save_inputs], [saving.file, saving.status],
                      inputs_kwargs=save_settings, api_name="push_preset")
