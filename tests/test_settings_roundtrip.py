"""One settings spec everywhere: every field walks CLI -> preset -> PNG -> app restore -> app run -> PNG ->
CLI and comes back unchanged (only what a user typed on the way differs).

The machine settings (``role="machine"`` in the spec: precision, memory budget, tiles, how often a preview
comes) are the host's in the app, whatever a preset or PNG says (a visitor's file does not choose how the
host computes), and the app records them as it ran; every setting of the look and the budget survives.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from nst import presets
from nst.cli import main
from nst.config import SPEC, TransferConfig
from nst.image import read_settings
from nst.weights import save_features
from studio.form import TRANSFER
from studio.presets import FILL_OUTPUTS, restore_settings
from studio.tabs.multi import stylize_multi

from tests.test_cli_options import EVERY_FIELD_CHANGED, _picture

EVERY = EVERY_FIELD_CHANGED.replace(size=64)  # within the page's Size slider (64 px and up)


MACHINE = [name for name, setting in SPEC.items() if setting.role == "machine"]


def same_look(a: TransferConfig, b: TransferConfig) -> bool:
    """Equal but for the machine settings."""
    return all(getattr(a, name) == getattr(b, name) for name in SPEC if name not in MACHINE)

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture
def weights(tmp_path, tiny_weights, monkeypatch) -> Path:
    """Tiny weights, for the command line and the app alike; the app writes to a temporary folder."""
    path = save_features(tiny_weights, tmp_path / "tiny.safetensors")
    monkeypatch.setenv("NST_WEIGHTS", str(path))
    monkeypatch.setenv("NST_OUTPUT_DIR", str(tmp_path / "outputs"))
    monkeypatch.delenv("NST_MAX_SIZE", raising=False)
    return path


def test_every_field_survives_cli_preset_png_app_and_back(tmp_path, weights, capsys):
    assert [n for n in SPEC if getattr(EVERY, n) == getattr(TransferConfig(), n)] == []
    paintings = [_picture((200, 40, 40)), _picture((30, 60, 220), (40, 40))]
    look = presets.create(tmp_path / "every", "every", EVERY, paintings)
    photo = tmp_path / "photo.png"
    _picture((10, 150, 60)).save(photo)

    # The command line runs the preset; typed options win over it.
    from_cli = tmp_path / "cli.png"
    assert main([str(photo), "--preset", str(look.folder), "-o", str(from_cli), "--weights", str(weights),
                 "--device", "cpu", "--steps", "3", "--seed", "9", "--quiet"]) == 0
    expected = EVERY.replace(steps=3, seed=9)
    assert TransferConfig.from_dict(read_settings(from_cli)["config"]) == expected

    # The app restores that PNG into its form (a blend of two paintings: the Multiple styles tab) ...
    page = dict(zip(FILL_OUTPUTS, restore_settings(str(from_cli))))
    form = {name: page[f"multi_{name}"] for name in TRANSFER.names}
    restored = TRANSFER.config(form, page["multi_preset"])  # the blend weights come from the tab's sliders
    assert same_look(restored.replace(style_blend_weights=expected.style_blend_weights), expected)
    # ... and a run from the page, with the paintings on it, records the same settings.
    files = []
    for i, painting in enumerate(paintings):
        files.append(str(tmp_path / f"painting{i}.png"))
        painting.save(files[-1])
    weights_on_page = [page["multi_weight_1"], page["multi_weight_2"]]
    outputs = list(stylize_multi(str(photo), files[0], weights_on_page[0], files[1], weights_on_page[1], None, 0.0,
                                 None, 0.0, preset=page["multi_preset"], **form))
    from_app = Path(outputs[-1][3])
    made = TransferConfig.from_dict(read_settings(from_app)["config"])
    assert same_look(made, expected)
    assert {name: getattr(made, name) for name in MACHINE if name != "preview_every"} == \
        {name: SPEC[name].default for name in MACHINE if name != "preview_every"}  # the host's own

    # Back to the command line: the app's PNG as a preset gives the same settings again.
    again = tmp_path / "again.png"
    assert main([str(photo), *files, "--preset", str(from_app), "-o", str(again), "--weights", str(weights),
                 "--device", "cpu", "--quiet"]) == 0
    assert same_look(TransferConfig.from_dict(read_settings(again)["config"]), expected)
    assert Image.open(again).size == Image.open(from_cli).size
