"""The parts of running on a cluster that need no Ray: cutting a clip into chunks and joining them,
carrying the first frame along the flow, one image as a worker styles it, and the ``--ray`` option's
one-line errors (tiny weights, CPU). The runs on a local Ray are in ``test_ray``."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import asset_at
from memory_limited import MemoryLimited
from nst.cli import main
from nst.config import TransferConfig
from nst.distributed.chunks import (
    Chunk, carry_along, fade_weight, flows_to_first, join_chunks, plan_chunks, seam_flicker, seam_pairs,
)
from nst.distributed.cluster import check_address
from nst.distributed.pool import TaskPool
from nst.distributed.worker import style_image
from nst.temporal import flicker, pair_errors

pytestmark = pytest.mark.usefixtures("one_thread")


def _flat(value: int, size=(8, 6)) -> Image.Image:
    return Image.new("RGB", size, (value, value, value))


def test_chunks_own_every_frame_once_and_start_early_by_the_overlap():
    plan = plan_chunks(20, 4, 2)
    assert plan == [Chunk(0, 0, 0, 5), Chunk(1, 3, 5, 10), Chunk(2, 8, 10, 15), Chunk(3, 13, 15, 20)]
    owned = [t for chunk in plan for t in range(chunk.own, chunk.stop)]
    assert owned == list(range(20))
    assert [len(c.frames) for c in plan] == [5, 7, 7, 7]


def test_a_short_clip_gets_fewer_chunks_each_longer_than_its_fade():
    assert len(plan_chunks(8, 4, 3)) == 2                    # 8 frames: chunks of at least 4
    assert plan_chunks(1, 4, 2) == [Chunk(0, 0, 0, 1)]
    assert plan_chunks(5, 1, 2) == [Chunk(0, 0, 0, 5)]
    for bad in [(0, 2, 1), (5, 0, 1), (5, 2, -1), (5, True, 1)]:
        with pytest.raises(ValueError):
            plan_chunks(*bad)


def test_the_join_cross_fades_each_overlap_linearly():
    plan = plan_chunks(8, 2, 2)                               # chunk 1 styles frames 2..7 and owns 4..7
    assert plan[1] == Chunk(1, 2, 4, 8)
    earlier = [_flat(30)] * 4
    later = [_flat(240)] * 6
    joined = join_chunks(plan, [earlier, later])
    levels = [np.asarray(image)[0, 0, 0] for image in joined]
    assert levels == [30, 30, 100, 170, 240, 240, 240, 240]  # 30 + (240 - 30) * w, w = 1/3, 2/3
    assert fade_weight(0, 2) == pytest.approx(1 / 3) and fade_weight(1, 2) == pytest.approx(2 / 3)
    assert seam_pairs(plan) == {2, 3, 4}                     # pairs (1,2), (2,3), (3,4): into, through, out of the fade
    with pytest.raises(ValueError, match="chunk 1 has 5 frame"):
        join_chunks(plan, [earlier, later[:5]])


def test_seam_flicker_splits_the_pairs():
    errors = [1.0, 2.0, 9.0, 3.0]                             # E_1 .. E_4
    assert seam_flicker(errors, {3}) == (9.0, 2.0)
    assert seam_flicker(errors, set()) == (None, 3.75)


def _panning(assets, frames: int, speed: int) -> list[Image.Image]:
    """A photo seen through a 64x48 window moving left ``speed`` px a frame: the picture moves right."""
    photo = asset_at(assets, "tubingen.jpg", 160)
    return [photo.crop((40 - speed * t, 20, 104 - speed * t, 68)) for t in range(frames)]


def test_the_first_frame_is_carried_along_the_flow_to_a_chunks_start(assets):
    frames = _panning(assets, 4, 2)
    flows = flows_to_first(frames, [0, 3])
    assert set(flows) == {0, 3} and torch.equal(flows[0], torch.zeros(1, 2, 48, 64))
    inner = (slice(12, 36), slice(16, 48))
    assert float(flows[3][0, 0][inner].mean()) == pytest.approx(-6, abs=0.5)   # 6 px back to frame 0
    assert float(flows[3][0, 1][inner].abs().mean()) < 0.5
    painted = Image.fromarray((255 - np.asarray(frames[0])).astype(np.uint8))   # frame 0's "output"
    carried = carry_along(painted, flows)
    assert carried[0] is painted
    expected = 255 - np.asarray(frames[3], dtype=float)[inner]
    moved = np.abs(np.asarray(carried[3], dtype=float)[inner] - expected).mean()
    unmoved = np.abs(np.asarray(painted, dtype=float)[inner] - expected).mean()
    assert moved < unmoved / 3                                                   # it moved with the picture


def test_pair_errors_average_to_the_flicker_measure(assets):
    frames = _panning(assets, 4, 2)
    still = [frames[0]] * 3
    assert pair_errors(still, still) == pytest.approx([0, 0], abs=1e-9)
    outputs = [Image.fromarray((255 - np.asarray(f)).astype(np.uint8)) for f in frames]
    outputs[2] = _flat(128, (64, 48))                          # one frame that jumps
    errors = pair_errors(outputs, frames)
    assert errors[1] > 10 * errors[0] and errors[2] > 10 * errors[0]
    assert sum(errors) / 3 == pytest.approx(flicker(outputs, frames))


def test_a_worker_styles_an_image_lighter_when_out_of_memory(tiny_weights, content, style, monkeypatch):
    monkeypatch.setattr("nst.recovery.DEFAULT_FLOOR", 16)
    data = _png_bytes(content)
    outcome = style_image(MemoryLimited(tiny_weights, most=26), [style], TransferConfig(size=32, steps=3, scales=1),
                          data, "photo.png", device="cpu")
    assert outcome.error is None and outcome.notices == ("out of memory at 32 px; retrying at 24 px",)
    assert outcome.config.size == 24 and outcome.image.size == (24, 18) and outcome.stop_reason == "finished"


def test_a_worker_reports_a_file_that_is_not_an_image_by_its_name(tiny_model, style):
    outcome = style_image(tiny_model, [style], TransferConfig(size=32, steps=2), b"not an image", "broken.jpg")
    assert outcome.image is None and outcome.error.startswith("broken.jpg: not an image file")


def _png_bytes(image: Image.Image) -> bytes:
    import io

    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def test_ray_addresses():
    for good in ("auto", "ray://head.example:10001", "10.0.0.5:6379"):
        assert check_address(good) == good
    for bad in ("", "head", "http://head:10001", "ray://head"):
        with pytest.raises(ValueError, match="auto, ray://HOST:PORT"):
            check_address(bad)


@pytest.mark.parametrize("command", [["batch", "photos", "--preset", "look", "-o", "out"],
                                     ["video", "clip.gif", "style.png", "-o", "out.gif"]])
def test_ray_asked_without_ray_installed_is_one_line(command, monkeypatch, capsys):
    monkeypatch.setattr("nst.cli.cluster.ray_installed", lambda: False)
    assert main([*command, "--ray"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("nst: error: --ray needs Ray, which is not installed: pip install") and "\n" not in err
    monkeypatch.undo()
    assert main([*command, "--ray", "somewhere"]) == 2
    assert "a Ray address is auto, ray://HOST:PORT" in capsys.readouterr().err


class _FakeRay:
    """Just enough of Ray for the pool: tasks finish at once, with a value or an error."""

    class exceptions:
        class WorkerCrashedError(Exception):
            pass

    def __init__(self, outcomes):
        self.outcomes, self.cancelled = outcomes, []

    def wait(self, refs, num_returns=1, timeout=None):
        return refs[:num_returns], refs[num_returns:]

    def get(self, ref):
        result = self.outcomes[ref].pop(0)
        if isinstance(result, Exception):
            raise result
        return result

    def cancel(self, ref, force=False):
        self.cancelled.append(ref)


def test_the_pool_resubmits_what_a_lost_worker_took_and_hands_back_a_tasks_own_error():
    lost = _FakeRay.exceptions.WorkerCrashedError
    ray = _FakeRay({"a": ["A"], "b": [lost("killed"), "B"], "c": [ValueError("bad input")],
                    "d": [lost("1"), lost("2"), lost("3")]})
    pool = TaskPool(ray, lambda key: key, "abcd", window=2, retries=2)
    done = {c.key: c for c in pool}
    assert done["a"].value == "A" and done["b"].value == "B" and done["b"].attempts == 2
    assert isinstance(done["c"].error, ValueError) and done["c"].attempts == 1
    assert isinstance(done["d"].error, lost) and done["d"].attempts == 3
    assert pool.retried == 3 and pool.left == 0
