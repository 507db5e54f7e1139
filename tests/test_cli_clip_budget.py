"""Tiny clips that claim huge frames, through ``python -m nst video`` in a fresh process.

A GIF of thirty 1x1 frames is about a kilobyte, but every frame is decoded to the logical screen the
file declares. A screen over the frame budget (8000x8000, or a 60000x60000 header) is refused before
any frame is decoded, in one line; one within it (4096x4096) is read frame by frame, each shrunk as it
is decoded. The process's peak memory stays under 1.5 GB in every case.
"""

from __future__ import annotations

import struct
import sys
from pathlib import Path

import pytest
from PIL import Image

from measured import run_measured
from nst.weights import save_features

PEAK_LIMIT = 1.5 * 2**30


def tiny_gif(path: Path, screen: int, frames: int = 30) -> Path:
    """A GIF of ``frames`` 1x1 frames whose logical screen claims ``screen`` x ``screen`` pixels."""
    pictures = [Image.new("RGB", (1, 1), (8 * i, 255 - 8 * i, 37 * i % 256)) for i in range(frames)]
    pictures[0].save(path, save_all=True, append_images=pictures[1:], duration=100, loop=0)
    data = bytearray(path.read_bytes())
    data[6:10] = struct.pack("<HH", screen, screen)  # the logical screen descriptor's width and height
    path.write_bytes(bytes(data))
    return path


@pytest.fixture
def weights(tmp_path, tiny_weights) -> str:
    return str(save_features(tiny_weights, tmp_path / "tiny.safetensors"))


@pytest.fixture
def painting(tmp_path) -> str:
    path = tmp_path / "painting.png"
    Image.new("RGB", (48, 40), (200, 60, 30)).save(path)
    return str(path)


def video(clip: Path, painting: str, weights: str, output: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "nst", "video", str(clip), painting, "-o", str(output), "--weights", weights,
            "--device", "cpu", "--quiet", *extra]


@pytest.mark.parametrize("screen", [8000, 60000])
def test_a_tiny_gif_claiming_huge_frames_is_one_line_in_bounded_memory(tmp_path, painting, weights, screen):
    clip = tiny_gif(tmp_path / "tiny.gif", screen)
    assert clip.stat().st_size < 2000
    done = run_measured(video(clip, painting, weights, tmp_path / "out.gif"), tmp_path)
    assert done["status"] == 2, done["stderr"]
    lines = done["stderr"].strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done["stderr"], done["stderr"]
    assert lines[0].startswith(f"nst: error: {clip}: ") and "over the limit of 16,777,216 pixels" in lines[0]
    assert done["peak"] < PEAK_LIMIT, done["peak"]
    assert not (tmp_path / "out.gif").exists()


def test_a_tiny_gif_at_the_frame_budget_runs_in_bounded_memory(tmp_path, painting, weights):
    clip = tiny_gif(tmp_path / "tiny.gif", 4096)
    frames = tmp_path / "frames"  # a folder of PNG frames: a GIF would merge frames that came out alike
    done = run_measured(video(clip, painting, weights, frames, "--max-frames", "3", "--size", "32", "--steps", "1",
                              "--follow-steps", "1"), tmp_path)
    assert done["status"] == 0, done["stderr"]
    assert done["peak"] < PEAK_LIMIT, done["peak"]
    written = sorted(frames.glob("frame_*.png"))
    assert len(written) == 3 and all(Image.open(path).size == (32, 32) for path in written)
