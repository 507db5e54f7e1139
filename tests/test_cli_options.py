"""The command line's settings options come from ``nst.config.SPEC``; a preset is the base of what is typed;
the command line names its weights and its result, and keeps a log readable (tiny weights, CPU)."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from nst import presets
from nst.cli import main
from nst.cli.options import CLI_DEFAULTS, config_from_args, typed_settings
from nst.cli.presets import build_batch_parser
from nst.cli.progress import Progress
from nst.cli.transfer import build_interpolate_parser, build_parser
from nst.cli.video import VIDEO_DEFAULTS, build_video_parser
from nst.config import SPEC, TransferConfig
from nst.image import read_settings
from nst.weights import save_features

pytestmark = pytest.mark.usefixtures("one_thread")

REPO_ROOT = Path(__file__).resolve().parents[1]
FLAGGED = [name for name, s in SPEC.items() if s.flag is not None]
# command: (its parser, the arguments it needs, the settings it starts from, settings it has no option for)
COMMANDS = {
    "transfer": (build_parser, ["c.png", "s.png", "-o", "o.png"], CLI_DEFAULTS, ()),
    "interpolate": (build_interpolate_parser, ["c.png", "a.png", "b.png", "-o", "g.png"], CLI_DEFAULTS,
                    ("style_blend_weights",)),
    "batch": (build_batch_parser, ["photos", "--preset", "p", "-o", "out"], CLI_DEFAULTS, ()),
    "video": (build_video_parser, ["clip.gif", "s.png", "-o", "o.mp4"], VIDEO_DEFAULTS, ()),
}


def _text(value) -> str:
    """A value as typed on the command line."""
    return ",".join(map(str, value)) if isinstance(value, tuple) else str(value)


# -- (a) the options are SPEC's ------------------------------------------------------------------------------


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_flagged_setting_is_an_option_with_specs_default(command):
    build, needed, defaults, left_out = COMMANDS[command]
    parser = build()
    args = parser.parse_args(needed)
    assert typed_settings(args) == {}                        # nothing typed, nothing in the namespace
    assert config_from_args(args) == defaults
    assert defaults == TransferConfig().replace(preview_every=0, size=defaults.size)
    help_text = " ".join(parser.format_help().split())
    for name in FLAGGED:
        if name in left_out:
            assert SPEC[name].flag not in help_text
            continue
        setting = SPEC[name]
        shown = getattr(defaults, name)
        assert setting.flag in help_text
        if shown is not None:
            assert f"(default: {_text(shown)})" in help_text, name
        typed = shown if shown is not None else (0.5 if setting.kind == "optional_float" else (0.5,) * 5)
        if name == "style_blend_weights" or name == "style_scales":
            typed = (0.5, 0.5)
        args = parser.parse_args([*needed, f"{setting.flag}={_text(typed)}"])
        assert typed_settings(args) == {name: typed}, name


def _out_of_bounds(name: str) -> str:
    s = SPEC[name]
    if s.kind == "numbers":
        return "9" if s.high is not None else "-1"
    if s.high is not None:
        return str(s.high * 2)
    return str(s.low - 1)


@pytest.mark.parametrize("name", [n for n in FLAGGED if SPEC[n].kind in ("int", "float", "optional_float", "numbers")])
def test_a_value_out_of_specs_bounds_is_refused_naming_the_flag(name, capsys, tmp_path):
    flag = SPEC[name].flag
    out = tmp_path / "o.png"
    assert main(["c.png", "s.png", "-o", str(out), f"{flag}={_out_of_bounds(name)}"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"nst: error: {flag} must be between {SPEC[name].low} and ") and err.count("\n") == 1, err
    assert not out.exists()


def test_bad_text_and_rules_between_settings_name_the_flag(capsys):
    for extra, message in ((["--min-scale-size", "big"], "--min-scale-size must be an integer, got 'big'"),
                           (["--max-memory", "lots"], "--max-memory must be a size such as 6GB"),
                           (["--style-scales", "1,x"], "--style-scales must be comma-separated numbers"),
                           (["--size=--"], "argument --size: expected one value"),
                           (["--style-layers", ""], "--style-layers is empty: give at least one layer, or set "
                                                    "--style-weight to 0")):
        assert main(["c.png", "s.png", "-o", "o.png", *extra]) == 2
        assert capsys.readouterr().err.startswith(f"nst: error: {message}"), extra


# -- (b) a preset's every setting survives the command line ---------------------------------------------------

EVERY_FIELD_CHANGED = TransferConfig(
    size=40, steps=4, content_weight=2.0, style_weight=7.5, tv_weight=0.5, tv_kind="squared",
    content_layers=("relu3_2",), style_layers=("relu1_1", "relu2_1"), content_layer_weights=(2.0,),
    style_layer_weights=(0.6, 0.4), style_blend_weights=(0.7, 0.3), style_scale=0.8, style_scales=(1.0, 0.9),
    optimizer="adam", lr=0.05, init="noise", pooling="avg", scales=2, min_scale_size=24, early_stop_tol=0.001,
    early_stop_patience=7, seed=5, precision="fp32", preview_every=2, preserve_color="yuv", color_amount=0.5,
    min_gram_positions=0.5,
    photo_smoothing=2, max_memory=2**30, tile_size=32,
)


def _picture(color: tuple[int, int, int], size: tuple[int, int] = (48, 36)) -> Image.Image:
    w, h = size
    ramp = np.linspace(0, 120, w, dtype=np.float32)[None, :, None]
    array = np.clip(np.array(color, np.float32)[None, None, :] * 0.5 + ramp + np.zeros((h, 1, 1)), 0, 255)
    return Image.fromarray(array.astype(np.uint8), "RGB")


def test_every_setting_of_a_preset_survives_the_command_line_but_those_typed(tmp_path, tiny_weights):
    defaults = TransferConfig()
    assert [n for n in SPEC if getattr(EVERY_FIELD_CHANGED, n) == getattr(defaults, n)] == []  # a new field? change it
    look = presets.create(tmp_path / "every", "every", EVERY_FIELD_CHANGED,
                          [_picture((200, 40, 40)), _picture((30, 60, 220), (40, 40))])
    assert look.config == EVERY_FIELD_CHANGED
    weights = save_features(tiny_weights, tmp_path / "tiny.safetensors")
    _picture((10, 150, 60)).save(tmp_path / "photo.png")
    output = tmp_path / "out.png"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])),
           "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "nst", str(tmp_path / "photo.png"), "--preset", str(look.folder), "-o", str(output),
         "--weights", str(weights), "--device", "cpu", "--steps", "3", "--seed", "9", "--quiet"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    expected = EVERY_FIELD_CHANGED.replace(steps=3, seed=9)   # the preset's, but what was typed
    assert TransferConfig.from_dict(read_settings(output)["config"]) == expected
    assert presets.load(output).config == expected
    assert sorted(p.name for p in tmp_path.glob("out*")) == ["out.png"]  # preview_every writes no files


# -- first contact: what the command line says ----------------------------------------------------------------


@pytest.fixture
def run_args(tmp_path, tiny_weights):
    weights = save_features(tiny_weights, tmp_path / "tiny.safetensors")
    _picture((10, 150, 60)).save(tmp_path / "photo.png")
    _picture((200, 40, 40)).save(tmp_path / "painting.png")
    return [str(tmp_path / "photo.png"), str(tmp_path / "painting.png"), "--size", "32", "--steps", "12",
            "--scales", "1", "--weights", str(weights), "--device", "cpu"], weights


def test_the_command_line_names_its_weights_once_and_its_result(tmp_path, run_args, capsys):
    argv, weights = run_args
    output = tmp_path / "out.png"
    started = time.monotonic()
    assert main([*argv, "-o", str(output)]) == 0
    elapsed = time.monotonic() - started
    captured = capsys.readouterr()
    assert captured.out == f"wrote {output}\n"
    lines = captured.err.splitlines()
    assert [line for line in lines if line.startswith("nst: weights:")] == [f"nst: weights: {weights} (tiny random)"]
    # Not a terminal: plain progress lines, one every few seconds at most and one at the end, no redraws.
    progress = [line for line in lines if re.match(r"nst: \d+/12 steps", line)]
    assert 1 <= len(progress) <= 2 + elapsed / 5 and progress[-1].startswith("nst: 12/12 steps, ")
    assert "\r" not in captured.err


def test_quiet_leaves_stderr_to_errors(tmp_path, run_args, capsys):
    argv, _ = run_args
    output = tmp_path / "out.png"
    assert main([*argv, "-o", str(output), "--quiet"]) == 0
    captured = capsys.readouterr()
    assert captured.err == "" and captured.out == f"wrote {output}\n"
    assert main([*argv, "-o", str(tmp_path / "out.gif"), "--quiet"]) == 2
    assert capsys.readouterr().err.startswith("nst: error: output")


def test_progress_off_a_terminal_is_a_line_every_few_seconds():
    now = [0.0]
    stream = io.StringIO()
    progress = Progress(1000, stream=stream, interval=5.0, clock=lambda: now[0])
    for i in range(1000):            # 1000 steps over 20 s
        now[0] = (i + 1) * 0.02
        progress.advance(1, f"loss {i}")
    progress.close()
    lines = stream.getvalue().splitlines()
    assert 4 <= len(lines) <= 5 and "\r" not in stream.getvalue()
    assert lines[0].startswith("nst: 250/1000 steps, 5 s, loss ") and lines[-1].startswith("nst: 1000/1000 steps, 20 s")


def test_progress_on_a_terminal_is_a_bar_and_quiet_is_silent():
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    terminal = Terminal()
    progress = Progress(3, stream=terminal)
    for _ in range(3):
        progress.advance(1, "loss 1")
    progress.close()
    assert "\r" in terminal.getvalue() and "3/3" in terminal.getvalue()
    for stream in (io.StringIO(), Terminal()):
        quiet = Progress(3, stream=stream, quiet=True)
        quiet.advance(3)
        quiet.close()
        assert stream.getvalue() == ""
