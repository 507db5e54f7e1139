"""The Video tab: a clip (GIF, MP4, WebM) stylised frame by frame without flicker (Ruder et al. 2016).

Each frame after the first starts from the previous output warped along the optical flow (or the
previous output, or the frame itself) and is held to it by a temporal loss of weight ``lambda``,
``L_t(x) = lambda (1 / D) sum_k c_k (x_k - omega_k)^2`` where the flow is trusted (``nst.video``).
The result is a GIF and an MP4, with the flicker measure (``nst.temporal``) in the status line. It
lasts at least ``MIN_SECONDS``: a clip with fewer frames than that at its own rate plays slower,
``fps_out = min(fps, frames / MIN_SECONDS)`` (the 8 frames of the example at 25 fps play at 4 fps).
Before a run the page says what a clip at the settings shown costs here (``studio.estimate``).
"""

from __future__ import annotations

from pathlib import Path

import gradio as gr

from nst.video import DEFAULT_TEMPORAL_WEIGHT, VideoTransfer
from nst.video_io import VIDEO_SUFFIXES, VideoError, read_clip

from .. import limits, runtime
from ..estimate import Estimate, follow_settings
from ..form import VIDEO
from ..inputs import checked_number, image_input, style_image, whole
from ..jobs import ClipJob, make
from ..outputs import OutputPanel
from ..stream import stream
from ..wiring import examples, wire_run, wire_stop

EXAMPLE = ("sintel_8f.gif", "starry_night.jpg")
EXAMPLE_LABEL = "Example (click it to see its result, then Run; clip from Sintel, © Blender Foundation, CC BY 3.0)"
FRAME_INITS = (("previous frame warped by optical flow", "flow"), ("previous frame", "previous"),
               ("the frame itself", "content"))
MIN_SECONDS = 2.0   # the shortest result, in seconds of playback


def playback_fps(frames: int, fps: float) -> float:
    """The result's frame rate: the clip's own, or slower so ``frames`` frames last ``MIN_SECONDS``."""
    return min(fps, frames / MIN_SECONDS)


def stylize_video(clip, style, max_frames=None, frame_init="flow", temporal_weight=DEFAULT_TEMPORAL_WEIGHT,
                  request: gr.Request | None = None, progress=gr.Progress(), **settings):
    """Stylise the first ``max_frames`` frames of a clip (GIF, MP4, WebM; None: the device's default) after
    one painting, without flicker: ``frame_init`` is flow, previous or content; ``temporal_weight`` the
    temporal loss's weight (0: none). The first frame takes ``steps``, each later one half as many;
    ``settings`` by name (``form.VIDEO``)."""
    values = VIDEO.values(settings, "stylize_video")
    if not clip:
        raise gr.Error("No clip: upload a GIF, MP4 or WebM, or click an example below")
    painting = style_image(style)
    default, most = runtime.video_frames()
    max_frames = default if max_frames is None else whole(max_frames)
    if isinstance(max_frames, bool) or not isinstance(max_frames, int) or not 1 <= max_frames <= most:
        raise gr.Error(f"Frames must be a whole number from 1 to {most} on this machine, got {max_frames!r}")
    config = VIDEO.config(values)
    try:
        source = read_clip(clip, max_frames=max_frames, max_side=config.size, max_frame_pixels=limits.max_pixels(),
                           max_clip_pixels=limits.max_clip_pixels())
    except VideoError as exc:
        raise gr.Error(f"The clip could not be used: {str(exc).replace(str(clip), Path(clip).name)}") from None
    video = make(VideoTransfer, runtime.get_model(), source.frames, [painting], config, frame_init=frame_init,
                 temporal_weight=temporal_weight, device=runtime.device())
    fps = playback_fps(len(source.frames), source.fps)
    yield from stream(ClipJob(video, fps, source.fps), request=request, progress=progress)


def build() -> None:
    """The tab: the clip, the painting, how many frames, how each frame starts and the temporal weight."""
    with gr.Tab("Video", id="video"):
        frames_default, frames_most = runtime.video_frames()
        with gr.Row():
            with gr.Column():
                with gr.Row():
                    clip = gr.File(label="Clip (GIF, MP4 or WebM)", file_types=[".gif", *VIDEO_SUFFIXES],
                                   type="filepath", height=240, elem_id="video-clip")
                    style = image_input("Style (painting)", height=240, elem_id="video-style")
                with gr.Row():
                    max_frames = checked_number(gr.Slider(1, frames_most, value=frames_default, step=1, label="Frames",
                                                          info="the first frames of the clip",
                                                          elem_id="video-max_frames"))
                    temporal_weight = checked_number(gr.Number(
                        DEFAULT_TEMPORAL_WEIGHT, minimum=0, label="Temporal weight λ",
                        info="holds each frame to the one before (0: none)", elem_id="video-temporal_weight"))
                frame_init = gr.Radio(list(FRAME_INITS), value="flow", label="Each frame after the first starts from",
                                      elem_id="video-frame_init")
                run = gr.Button("Run", variant="primary", elem_id="video-run")
                estimate = Estimate("video")
                shown = examples("video", [EXAMPLE], [clip, style], label=EXAMPLE_LABEL)
                settings = VIDEO.build("video")
                follow_settings(estimate, settings, "a clip of these frames at these settings", max_frames)
            with gr.Column():
                out = OutputPanel("video", result_label="Result (GIF)", can_continue=False,
                                  download_label="Download MP4")
                player = gr.Video(label="Result (MP4)", interactive=False, height=240, elem_id="video-player")
    wire_run(stylize_video, run, [clip, style, max_frames, frame_init, temporal_weight], out, "stylize_video",
             settings=settings, outputs=[*out.outputs, player], examples=shown)
    wire_stop(out)
