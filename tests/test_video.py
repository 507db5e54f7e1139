"""Video style transfer: optical flow on a synthetic pan whose flow is known, the consistency weights,
the temporal loss and the flicker measure, clips in and out (GIF, MP4, WebM, folders), the command
line, the app's handler, and a few frames of the Sintel clip, all with the tiny random VGG-19.

The pan: frame ``k`` is the window of a photo at ``(k dx, k dy)``, so frame ``k + 1`` at pixel ``p``
shows what frame ``k`` shows at ``p + (dx, dy)``: the flow from each frame to the one before is the
constant ``(dx, dy)``, and the last ``dx`` columns and ``dy`` rows of each frame are new to the view.
"""

from __future__ import annotations

import io
import struct
from pathlib import Path

import gradio as gr
import numpy as np
import pytest
import torch
from PIL import Image

from nst.cli import main
from nst.config import TransferConfig
from nst.flow import consistency_weights, correspondence, estimate_flow, warp
from nst.image import load_image, resize_longest, to_tensor
from nst.optimize import StyleTransfer
from nst.temporal import TemporalLoss, flicker, long_term_weights, warping_error
from nst import video_io
from nst.video import VideoEvent, VideoTransfer
from nst.video_io import VideoError, read_clip, write_clip
from nst.weights import save_features
from studio import runtime
from studio.tabs.video import stylize_video

pytestmark = pytest.mark.usefixtures("one_thread")

DX, DY = 3, 2
SMALL = dict(size=48, steps=8, scales=1, preview_every=0)


@pytest.fixture(scope="module")
def scene(assets) -> Image.Image:
    return resize_longest(load_image(assets / "tubingen.jpg"), 320)


def pan(scene: Image.Image, count: int, width: int = 64, height: int = 48, scale: int = 2) -> list[Image.Image]:
    """``count`` windows of ``scene`` moving ``(DX, DY)`` px a frame (cut ``scale`` times larger and
    shrunk, so each frame has the detail of a real one of its size)."""
    frames = []
    for k in range(count):
        x, y = 8 + scale * k * DX, 8 + scale * k * DY
        frames.append(scene.crop((x, y, x + scale * width, y + scale * height)).resize((width, height), Image.BOX))
    return frames


def true_flow(width: int, height: int) -> torch.Tensor:
    flow = torch.zeros(1, 2, height, width)
    flow[0, 0], flow[0, 1] = DX, DY
    return flow


@pytest.fixture
def weights_file(tmp_path, tiny_weights):
    return save_features(tiny_weights, tmp_path / "tiny.safetensors")


# -- Optical flow on the pan --------------------------------------------------------------------------------


@pytest.mark.parametrize("method, width, within", [("dis", 64, 0.95), ("farneback", 256, 0.6)])
def test_flow_estimates_the_known_shift(scene, method, width, within):
    """DIS gets the shift nearly everywhere; Farneback's window fails on the flat sky, so less of it."""
    a, b = pan(scene, 2, width, width * 3 // 4, scale=1)
    flow = estimate_flow(b, a, method)[0, :, 8:-8, 8:-8]  # away from the entering border
    assert flow.shape[0] == 2
    assert abs(float(flow[0].median()) - DX) < 0.25 and abs(float(flow[1].median()) - DY) < 0.25
    close = ((flow[0] - DX).abs() < 0.5) & ((flow[1] - DY).abs() < 0.5)
    assert float(close.float().mean()) > within


def test_warping_along_the_true_flow_reproduces_the_next_frame(scene):
    a, b = pan(scene, 2, scale=1)
    warped = warp(to_tensor(a), true_flow(*a.size))
    inside = (slice(None), slice(None), slice(0, -DY), slice(0, -DX))  # pixels whose source is in view
    assert torch.allclose(warped[inside], to_tensor(b)[inside], atol=1e-5)


def test_warped_previous_frame_lines_up_over_reliable_pixels(scene):
    a, b = pan(scene, 2)
    link = correspondence(b, a)
    aligned = warping_error(to_tensor(b), to_tensor(a), link)
    unaligned = float((to_tensor(b) - to_tensor(a)).pow(2).mean())
    assert aligned < 1e-3 * unaligned, (aligned, unaligned)


def test_consistency_weights_mark_the_border_entering_the_view(scene):
    a, b = pan(scene, 2)
    c = correspondence(b, a).weights[0, 0]
    assert c.shape == (48, 64) and set(c.unique().tolist()) <= {0.0, 1.0}
    assert float(c[:, -DX:].max()) == 0 and float(c[-DY:, :].max()) == 0
    assert float(c[2:-DY - 2, 2:-DX - 2].mean()) > 0.97


def test_consistency_weights_drop_disocclusions_and_motion_boundaries():
    """An object at columns 12..27 of the earlier frame moves 4 px right, over a still background."""
    h, w = 16, 32
    backward = torch.zeros(1, 2, h, w)
    backward[0, 0, :, 16:] = -4.0                    # the object's pixels now, and where they were
    forward = torch.zeros(1, 2, h, w)
    forward[0, 0, :, 12:28] = 4.0                    # the object's pixels then, and where they went
    forward[0, 0, :, 20:24] = 0.0                    # a flow error: these do not go where the backward flow says
    c = consistency_weights(backward, forward)[0, 0]
    assert float(c[:, :12].min()) == 1, "still background, seen in both frames"
    assert float(c[:, 12:16].max()) == 0, "background the object uncovered is disoccluded"
    assert float(c[:, 15:17].max()) == 0, "the motion boundary"
    assert float(c[:, 17:24].min()) == 1 and float(c[:, 28:].min()) == 1, "the object, where both flows agree"
    assert float(c[:, 24:28].max()) == 0, "forward and backward flow disagree"


# -- The temporal loss and the flicker measure --------------------------------------------------------------


def test_long_term_weights_count_each_pixel_for_the_nearest_reliable_frame():
    c1, c2, c4 = (torch.tensor(v, dtype=torch.float32) for v in ([1, 0, 1, 0], [1, 1, 0, 0], [1, 1, 1, 1]))
    got = long_term_weights([c1, c2, c4])
    assert [g.tolist() for g in got] == [[1, 0, 1, 0], [0, 1, 0, 0], [0, 0, 0, 1]]


def test_temporal_loss_is_the_weighted_mean_squared_difference():
    x = torch.zeros(1, 3, 2, 2)
    omega = torch.full((1, 3, 2, 2), 0.5)
    c = torch.tensor([[[[1.0, 0.0], [1.0, 1.0]]]])
    loss = TemporalLoss(10.0, [(omega, c), (omega, torch.ones_like(c))])
    # lambda (1/D) sum c (x - omega)^2 with D = 12: (3 * 3 + 3 * 4) * 0.25 / 12 * 10
    assert float(loss(x)) == pytest.approx(10 * (9 + 12) * 0.25 / 12)
    assert float(loss(torch.zeros(1, 3, 4, 4))) == pytest.approx(float(loss(x)), rel=0.35), "another scale"


def test_an_extra_loss_term_joins_the_total_under_its_name(tiny_model, scene, style):
    frame = pan(scene, 1)[0]
    target = torch.zeros(1, 3, 36, 48)
    config = TransferConfig(**SMALL)
    run = StyleTransfer(tiny_model, frame, [style], config, device="cpu",
                        extra_terms={"pull": lambda x: 100 * (x - target).pow(2).mean()})
    events = list(run)
    first = events[0].losses
    assert set(first) == {"content", "style", "tv", "pull", "total"}
    assert first["total"] == pytest.approx(first["content"] + first["style"] + first["tv"] + first["pull"], rel=1e-5)
    free = StyleTransfer(tiny_model, frame, [style], config, device="cpu").run()
    assert np.asarray(run.result(), np.float64).mean() < np.asarray(free, np.float64).mean() - 5
    with pytest.raises(ValueError, match="taken"):
        StyleTransfer(tiny_model, frame, [style], config, device="cpu", extra_terms={"style": lambda x: x.sum()})


def test_temporal_consistency_lowers_flicker_far_below_independent_frames(tiny_model, scene, style):
    frames = pan(scene, 3)
    config = TransferConfig(**SMALL)
    independent = VideoTransfer(tiny_model, frames, [style], config, independent=True, device="cpu")
    consistent = VideoTransfer(tiny_model, frames, [style], config, device="cpu")
    independent.run(), consistent.run()
    assert consistent.flicker() < 0.2 * independent.flicker(), (consistent.flicker(), independent.flicker())
    # The same measure from scratch, on the outputs and frames alone, agrees with the run's own.
    assert flicker(consistent.results(), frames) == pytest.approx(consistent.flicker(), rel=1e-4)


def test_the_temporal_loss_alone_lowers_flicker(tiny_model, scene, style):
    """Every frame starts from itself with the same steps, with and without the temporal loss."""
    frames = pan(scene, 3)
    config = TransferConfig(**{**SMALL, "steps": 15})
    runs = {weight: VideoTransfer(tiny_model, frames, [style], config, frame_init="content", temporal_weight=weight,
                                  follow_steps=15, device="cpu") for weight in (0.0, 3000.0)}
    for run in runs.values():
        run.run()
    assert runs[3000.0].flicker() < 0.6 * runs[0.0].flicker(), {w: r.flicker() for w, r in runs.items()}


# -- The frame loop ------------------------------------------------------------------------------------------


def test_events_cover_every_frame_and_later_frames_take_fewer_steps(tiny_model, scene, style):
    frames = pan(scene, 3)
    config = TransferConfig(**{**SMALL, "size": 64, "scales": 2, "min_scale_size": 32})
    video = VideoTransfer(tiny_model, frames, [style], config, follow_steps=3,
                          long_term=(1, 2), device="cpu")
    events = list(video)
    assert all(isinstance(e, VideoEvent) and e.frames == 3 and e.total == 8 + 2 * 3 for e in events)
    closing = [e for e in events if e.result is not None]
    assert [e.frame for e in closing] == [0, 1, 2] and events[-1] is closing[-1]
    assert [e.step for e in closing] == [8, 11, 14]
    steps = [e.step for e in events if e.result is None]
    assert steps == list(range(1, 15)), "overall steps count up one by one"
    per_frame = [(e.frame, e.event.step, e.event.total, e.event.scales) for e in events if e.result is None]
    assert per_frame[7] == (0, 8, 8, 2) and per_frame[8] == (1, 1, 3, 1) and per_frame[-1] == (2, 3, 3, 1)
    assert "temporal" in events[-2].event.losses and "temporal" not in events[0].event.losses
    assert video.stop_reason == "finished" and len(video.results()) == 3
    assert all(im.size == (64, 48) for im in video.results())
    assert video.plan() == [(4, 32), (4, 64), (3, 64), (3, 64)], "the first frame's scales, then the output size"
    assert [e.label for e in closing] == ["frame 1/3", "frame 2/3", "frame 3/3"]


@pytest.mark.parametrize("frame_init", ["flow", "previous", "content"])
def test_each_frame_init_runs(tiny_model, scene, style, frame_init):
    video = VideoTransfer(tiny_model, pan(scene, 2), [style], TransferConfig(**SMALL), frame_init=frame_init,
                          follow_steps=2, device="cpu")
    assert len(video.run()) == 2 and video.stop_reason == "finished"


def test_cancelling_keeps_the_frames_done_and_the_current_best(tiny_model, scene, style):
    video = VideoTransfer(tiny_model, pan(scene, 4), [style], TransferConfig(**SMALL), device="cpu")
    for event in video:
        if event.frame == 1 and event.result is None and event.event.step == 2:
            video.close()
            break
    assert video.stop_reason == "cancelled"
    assert len(video.results()) == 2 and video.flicker() is None


@pytest.mark.parametrize("options, message", [
    (dict(frame_init="noise"), "frame_init"),
    (dict(temporal_weight=-1), "temporal_weight"),
    (dict(long_term=(0, 1)), "long_term"),
    (dict(flow_method="horn"), "flow method"),
])
def test_bad_video_settings_are_refused(tiny_model, scene, style, options, message):
    with pytest.raises(ValueError, match=message):
        VideoTransfer(tiny_model, pan(scene, 2), [style], TransferConfig(**SMALL), device="cpu", **options)


# -- Clips in and out ----------------------------------------------------------------------------------------


def test_gif_round_trip_keeps_frames_and_rate(scene, tmp_path):
    frames = pan(scene, 5)
    path = write_clip(frames, tmp_path / "clip.gif", fps=20)
    clip = read_clip(path)
    assert len(clip.frames) == 5 and clip.fps == 20 and clip.size == (64, 48)
    assert np.abs(np.asarray(clip.frames[2], np.int16) - np.asarray(frames[2], np.int16)).mean() < 6
    assert len(read_clip(path, max_frames=2).frames) == 2
    assert read_clip(path, max_side=32).size == (32, 24)


def test_mp4_is_h264_and_keeps_frames_and_rate(scene, tmp_path):
    import cv2

    frames = pan(scene, 6)
    path = write_clip(frames, tmp_path / "clip.mp4", fps=12)
    capture = cv2.VideoCapture(str(path))
    fourcc = int(capture.get(cv2.CAP_PROP_FOURCC)).to_bytes(4, "little").decode().lower()
    capture.release()
    assert video_io.mp4_codec() == "h264" and fourcc in ("avc1", "h264")
    clip = read_clip(path)
    assert len(clip.frames) == 6 and clip.fps == pytest.approx(12) and clip.size == (64, 48)
    assert np.abs(np.asarray(clip.frames[3], np.int16) - np.asarray(frames[3], np.int16)).mean() < 8


def test_mp4_falls_back_to_mpeg4_without_h264(scene, tmp_path, monkeypatch):
    import cv2

    monkeypatch.setattr(video_io, "h264_encoder", lambda: None)
    path = write_clip(pan(scene, 3, width=63, height=47), tmp_path / "clip.mp4", fps=10)
    capture = cv2.VideoCapture(str(path))
    assert int(capture.get(cv2.CAP_PROP_FOURCC)).to_bytes(4, "little") in (b"mp4v", b"FMP4")  # MPEG-4 part 2
    capture.release()
    clip = read_clip(path)
    assert len(clip.frames) == 3 and clip.fps == pytest.approx(10) and clip.size == (64, 48), "odd sides padded"


def test_odd_sizes_are_padded_for_h264(scene, tmp_path):
    clip = read_clip(write_clip(pan(scene, 2, width=63, height=47), tmp_path / "odd.mp4", fps=10))
    assert len(clip.frames) == 2 and clip.size == (64, 48)


def test_webm_is_read(scene, tmp_path):
    import imageio_ffmpeg

    path = tmp_path / "clip.webm"
    writer = imageio_ffmpeg.write_frames(str(path), (64, 48), fps=15, codec="libvpx-vp9", macro_block_size=1,
                                         ffmpeg_log_level="error")
    writer.send(None)
    for frame in pan(scene, 4):
        writer.send(np.ascontiguousarray(np.asarray(frame)))
    writer.close()
    clip = read_clip(path)
    assert len(clip.frames) == 4 and clip.fps == pytest.approx(15) and clip.size == (64, 48)


def test_folder_round_trip_in_numeric_order(scene, tmp_path):
    frames = pan(scene, 3)
    folder = write_clip(frames, tmp_path / "frames", fps=10)
    assert sorted(p.name for p in folder.iterdir()) == ["frame_00001.png", "frame_00002.png", "frame_00003.png"]
    clip = read_clip(folder, fps=10)
    assert len(clip.frames) == 3 and clip.fps == 10
    assert np.array_equal(np.asarray(clip.frames[1]), np.asarray(frames[1]))
    shuffled = tmp_path / "numbered"
    shuffled.mkdir()
    for number, frame in zip((1, 2, 10), frames):  # by name, f10 would come before f2
        frame.save(shuffled / f"f{number}.png")
    got = read_clip(shuffled).frames
    assert all(np.array_equal(np.asarray(g), np.asarray(f)) for g, f in zip(got, frames))


@pytest.mark.parametrize("make, message", [
    (lambda p: p / "missing.mp4", "no such file"),
    (lambda p: (p / "notes.txt").write_text("x") and p / "notes.txt", "not a clip"),
    (lambda p: (p / "broken.mp4").write_bytes(b"not a video") and p / "broken.mp4", "re-encode"),
    (lambda p: (p / "empty").mkdir() or p / "empty", "no frames"),
])
def test_unreadable_clips_are_clear_errors(tmp_path, make, message):
    with pytest.raises(VideoError, match=message):
        read_clip(make(tmp_path))


def gif_claiming(tmp_path, width: int, height: int, frames: int = 30) -> Path:
    """A tiny GIF of 1x1 frames whose logical screen (the size every frame is decoded to) claims width x height."""
    tiles = [Image.new("RGB", (1, 1), (8 * i, 255 - 8 * i, 0)) for i in range(frames)]  # all differ
    buffer = io.BytesIO()
    tiles[0].save(buffer, format="GIF", save_all=True, append_images=tiles[1:], duration=40, disposal=1)
    data = bytearray(buffer.getvalue())
    data[6:10] = struct.pack("<HH", width, height)  # the logical screen descriptor
    path = tmp_path / f"claims_{width}x{height}.gif"
    path.write_bytes(bytes(data))
    return path


@pytest.mark.parametrize("width, height", [(8000, 8000), (60000, 60000), (65535, 65535)])
def test_a_tiny_gif_claiming_a_huge_screen_is_refused_before_it_is_decoded(tmp_path, width, height):
    path = gif_claiming(tmp_path, width, height)
    assert path.stat().st_size < 2000
    with pytest.raises(VideoError, match=r"over the limit of 16,777,216 pixels; give a smaller clip"):
        read_clip(path, max_frames=30, max_side=128)


def test_frames_are_shrunk_as_they_are_read_and_the_clip_has_a_pixel_budget(tmp_path):
    path = gif_claiming(tmp_path, 400, 300, frames=6)
    clip = read_clip(path, max_side=40)
    assert len(clip.frames) == 6 and clip.size == (40, 30)
    read_clip(path, max_side=40, max_clip_pixels=6 * 40 * 30)  # exactly the budget
    with pytest.raises(VideoError, match="over the limit of 7,199 pixels in all .*fewer frames or a smaller size"):
        read_clip(path, max_side=40, max_clip_pixels=6 * 40 * 30 - 1)
    assert len(read_clip(path, max_side=40, max_frames=2, max_clip_pixels=2 * 40 * 30).frames) == 2


def test_videos_and_folders_keep_the_frame_budget(scene, tmp_path):
    mp4 = write_clip(pan(scene, 3, width=64, height=48), tmp_path / "clip.mp4", fps=10)
    with pytest.raises(VideoError, match="frames of 64x48 are over the limit of 3,000 pixels"):
        read_clip(mp4, max_frame_pixels=3000)
    folder = write_clip(pan(scene, 3, width=64, height=48), tmp_path / "frames", fps=10)
    with pytest.raises(VideoError, match="over the limit of 3,000 pixels"):
        read_clip(folder, fps=10, max_frame_pixels=3000)
    with pytest.raises(VideoError, match="in all"):
        read_clip(folder, fps=10, max_side=32, max_clip_pixels=2 * 32 * 24)


def test_the_command_line_refuses_a_gif_bomb_in_one_line(tmp_path, weights_file, assets, capsys):
    argv = ["video", str(gif_claiming(tmp_path, 60000, 60000)), str(assets / "starry_night.jpg"),
            "-o", str(tmp_path / "out.mp4"), "--weights", str(weights_file), "--quiet"]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("nst: error:") and "over the limit" in err and "\n" not in err


def test_outputs_other_than_mp4_gif_or_folder_are_refused(scene, tmp_path):
    with pytest.raises(VideoError, match=r"\.mp4 or \.gif"):
        write_clip(pan(scene, 2), tmp_path / "clip.avi", fps=10)


# -- The Sintel clip, the command line and the app ------------------------------------------------------------


def test_a_few_frames_of_sintel(tiny_model, assets, style, tmp_path):
    clip = read_clip(assets / "sintel_8f.gif", max_frames=3, max_side=96)
    assert len(clip.frames) == 3 and clip.fps == 25 and clip.size == (96, 41)
    video = VideoTransfer(tiny_model, clip.frames, [style], TransferConfig(**{**SMALL, "size": 64}), device="cpu")
    outputs = video.run()
    assert [im.size for im in outputs] == [(64, 27)] * 3
    assert 0 < video.flicker() < video.input_flicker(), "held to the warped previous output, steadier than the input"
    for name in ("sintel.mp4", "sintel.gif"):
        back = read_clip(write_clip(outputs, tmp_path / name, clip.fps))
        assert len(back.frames) == 3 and back.fps == pytest.approx(25)


def test_command_line_writes_every_output_and_reports_flicker(assets, weights_file, tmp_path, capsys):
    argv = ["video", str(assets / "sintel_8f.gif"), str(assets / "starry_night.jpg"),
            "-o", str(tmp_path / "out.mp4"), "-o", str(tmp_path / "out.gif"), "--size", "48", "--steps", "4",
            "--scales", "1", "--max-frames", "3", "--weights", str(weights_file), "--quiet", "--compare"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    for name in ("out.mp4", "out.gif", "out_independent.mp4", "out_independent.gif"):
        clip = read_clip(tmp_path / name)
        assert len(clip.frames) == 3 and clip.fps == pytest.approx(25)
    values = {line.split(":")[0]: line.split(":")[-1].strip() for line in out.splitlines() if ":" in line}
    ours = float(values["flicker (mean warping error over reliable pixels, lower is steadier)"])
    theirs = float(values["flicker of independently stylised frames"])
    assert 0 <= ours < theirs and "the independent frames flicker" in out


@pytest.mark.parametrize("extra, message", [
    (["-o", "out.avi"], ".mp4 or .gif"),
    (["-o", "out.mp4", "--max-frames", "0"], "--max-frames"),
    (["-o", "out.mp4", "--frame-init", "noise"], "invalid choice"),
    (["-o", "out.mp4", "--long-term", "1,x"], "frame offsets"),
])
def test_command_line_refuses_bad_input_in_one_line(assets, weights_file, tmp_path, capsys, monkeypatch, extra,
                                                    message):
    monkeypatch.chdir(tmp_path)
    argv = ["video", str(assets / "sintel_8f.gif"), str(assets / "starry_night.jpg"),
            "--weights", str(weights_file), "--quiet", *extra]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("nst: error:") and message in err and "\n" not in err


def test_command_line_names_a_missing_clip(assets, weights_file, tmp_path, capsys):
    argv = ["video", str(tmp_path / "nope.gif"), str(assets / "starry_night.jpg"), "-o",
            str(tmp_path / "out.mp4"), "--weights", str(weights_file)]
    assert main(argv) == 2 and "nope.gif: no such file" in capsys.readouterr().err


@pytest.fixture
def tiny_app(tmp_path, weights_file, monkeypatch):
    monkeypatch.setenv("NST_WEIGHTS", str(weights_file))
    monkeypatch.setenv("NST_OUTPUT_DIR", str(tmp_path / "outputs"))
    monkeypatch.delenv("NST_MAX_SIZE", raising=False)


def test_app_streams_frames_and_ends_with_gif_and_mp4(tiny_app):
    clip = str(runtime.EXAMPLES / "sintel_8f.gif")
    style = str(runtime.EXAMPLES / "starry_night.jpg")
    outputs = list(stylize_video(clip, style, max_frames=3, size=64, steps=6, scales=1))
    previews = [o[0] for o in outputs[:-1] if isinstance(o[0], Image.Image)]
    assert len(previews) >= 3, "each finished frame at least is shown"
    *_, status, gif, mp4, player = outputs[-1]
    shown = read_clip(gif)  # 3 frames of a 25 fps clip last 0.12 s: slowed to last 2 s (GIF keeps 10 ms steps)
    assert len(shown.frames) == 3 and len(shown.frames) / shown.fps == pytest.approx(2.0, abs=0.05)
    assert mp4 == player and len(read_clip(mp4).frames) == 3
    assert "Done" in status and "Flicker" in status


@pytest.mark.parametrize("clip, max_frames, message", [
    (None, 3, "No clip"),
    ("notes.mp4", 3, "notes.mp4"),
    ("sintel", 0, "Frames must be"),
])
def test_app_refuses_bad_clips_in_one_line(tiny_app, tmp_path, clip, max_frames, message):
    if clip == "notes.mp4":
        (tmp_path / clip).write_text("not a video")
        clip = str(tmp_path / clip)
    elif clip == "sintel":
        clip = str(runtime.EXAMPLES / "sintel_8f.gif")
    with pytest.raises(gr.Error, match=message):
        list(stylize_video(clip, str(runtime.EXAMPLES / "starry_night.jpg"), max_frames=max_frames, size=64,
                               steps=2))


def test_the_served_app_answers_stylize_video(tmp_path_factory, assets, tmp_path):
    """``python app.py`` on tiny weights, driven through the public ``/stylize_video`` endpoint."""
    from gradio_client import Client, handle_file

    from app_server import running_app

    with running_app(tmp_path_factory.mktemp("server")) as url:
        client = Client(url, verbose=False, analytics_enabled=False, download_files=str(tmp_path))
        final = client.predict(clip=handle_file(str(runtime.EXAMPLES / "sintel_8f.gif")),
                               style=handle_file(str(assets / "starry_night.jpg")), max_frames=2,
                               size=64, steps=4, scales=1, api_name="/stylize_video")
    _, _, status, gif, mp4, player = final
    assert status.startswith("Done") and "Flicker" in status
    assert len(read_clip(gif).frames) == 2 and Path(mp4).suffix == ".mp4"
    assert len(read_clip(player["video"] if isinstance(player, dict) else player).frames) == 2
