"""Video frames in and out: GIF, MP4 / WebM (and other containers FFmpeg reads), and folders of frames.

* Reading gives a ``Clip``: 8-bit RGB PIL frames and the frame rate. GIFs take their rate from the
  frames' durations (a duration under 20 ms plays as 100 ms in browsers, and is read so); videos
  from the container, through OpenCV's FFmpeg; a folder of images (sorted by name, numbers in
  numeric order) from the ``fps`` given. ``max_frames`` stops reading early; ``max_side`` shrinks
  larger frames so their longest side fits, each as soon as it is decoded.
* Reading is budgeted, whatever the file claims: a frame's size is checked against ``max_frame_pixels``
  before any frame is decoded (a GIF's logical screen, a video's declared size), and the frames kept
  (after shrinking) against ``max_clip_pixels`` in all, so a small file cannot fill the memory.
* Writing picks the format by the path: ``.mp4`` is H.264 (libx264, yuv420p, through the FFmpeg
  binary that the ``imageio-ffmpeg`` wheel ships) and falls back to OpenCV's MPEG-4 part 2
  (``mp4v``) where that is missing; both store colour at half resolution, so odd sides are padded
  by one repeated row or column; ``.gif`` is an animated GIF with one palette for all frames (so
  colours do not jump between frames) at the nearest rate GIF can store (its durations are in 10 ms
  steps); a path without a suffix is a folder of numbered PNG frames.
"""

from __future__ import annotations

import functools
import os
import re
import statistics
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
from PIL import Image, ImageSequence

from .image import ImageError, load_image, resize_longest, to_rgb

VIDEO_SUFFIXES = (".mp4", ".webm", ".mov", ".mkv", ".avi", ".m4v")
FRAME_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff")
OUTPUT_SUFFIXES = (".mp4", ".gif", "")       # "" is a folder of PNG frames
DEFAULT_FOLDER_FPS = 24.0
GIF_SHORTEST_MS = 20                         # browsers play shorter GIF durations as 100 ms
GIF_BROWSER_MS = 100
GIF_LONGEST_MS = 655_350                     # a GIF duration is 16 bits of hundredths of a second
H264_ENCODERS = ("libx264", "libopenh264")  # FFmpeg's software H.264 encoders, preferred first
MAX_FRAME_PIXELS = 4096 * 4096               # a larger frame is refused before it is decoded
MAX_CLIP_PIXELS = 256_000_000                # frames x pixels kept (after shrinking): 768 MB as 8-bit RGB


class VideoError(ValueError):
    """A clip that cannot be read or written; the message says what to do."""


@dataclass(frozen=True)
class Clip:
    """The frames of a clip (8-bit RGB, all one size) and its frame rate."""

    frames: list[Image.Image]
    fps: float

    @property
    def size(self) -> tuple[int, int]:
        """``(width, height)`` of the frames."""
        return self.frames[0].size


def read_clip(source: str | os.PathLike, *, max_frames: int | None = None, max_side: int | None = None,
              fps: float | None = None, max_frame_pixels: int = MAX_FRAME_PIXELS,
              max_clip_pixels: int = MAX_CLIP_PIXELS) -> Clip:
    """The frames of a GIF, a video file or a folder of images; ``fps`` sets (folders) or overrides the rate."""
    path = Path(source)
    budget = _Budget(path, max_side, max_frame_pixels, max_clip_pixels)
    if max_frames is not None and (isinstance(max_frames, bool) or not isinstance(max_frames, int) or max_frames < 1):
        raise VideoError(f"max_frames must be a whole number of at least 1, got {max_frames!r}")
    if fps is not None and not (isinstance(fps, (int, float)) and 0 < fps <= 1000):
        raise VideoError(f"fps must be a number above 0 and at most 1000, got {fps!r}")
    if path.is_dir():
        frames, rate = _read_folder(path, max_frames, budget), DEFAULT_FOLDER_FPS
    elif not path.is_file():
        raise VideoError(f"{path}: no such file or folder")
    elif path.suffix.lower() == ".gif":
        frames, rate = _read_gif(path, max_frames, budget)
    elif path.suffix.lower() in VIDEO_SUFFIXES:
        frames, rate = _read_video(path, max_frames, budget)
    else:
        raise VideoError(f"{path}: not a clip this reads; give a GIF, a video ({', '.join(VIDEO_SUFFIXES)}) "
                         f"or a folder of frames")
    return Clip(frames, float(fps or rate))


class _Budget:
    """The pixel budget of one clip being read: ``check_size`` before decoding, ``keep`` after each frame."""

    def __init__(self, path: Path, max_side: int | None, frame_pixels: int, clip_pixels: int):
        self.path, self.max_side = path, max_side
        self.frame_pixels, self.clip_pixels, self.kept = frame_pixels, clip_pixels, 0

    def check_size(self, width: int, height: int) -> None:
        """Refuse frames of ``width`` x ``height`` (as the file declares them) over the per-frame budget."""
        if width < 1 or height < 1:
            raise VideoError(f"{self.path}: the frames are empty ({width}x{height})")
        if width * height > self.frame_pixels:
            raise VideoError(f"{self.path}: frames of {width}x{height} are over the limit of {self.frame_pixels:,} "
                             f"pixels; give a smaller clip")

    def keep(self, frame: Image.Image) -> Image.Image:
        """``frame`` shrunk to ``max_side``, counted against the clip's budget."""
        if self.max_side is not None and max(frame.size) > self.max_side:
            frame = resize_longest(frame, self.max_side)
        self.kept += frame.width * frame.height
        if self.kept > self.clip_pixels:
            raise VideoError(f"{self.path}: the clip is over the limit of {self.clip_pixels:,} pixels in all "
                             f"(frames x width x height); take fewer frames or a smaller size")
        return frame


def _read_gif(path: Path, max_frames: int | None, budget: _Budget) -> tuple[list[Image.Image], float]:
    try:
        with Image.open(path) as gif:
            budget.check_size(*gif.size)  # the logical screen every frame is decoded to
            frames, durations = [], []
            for frame in ImageSequence.Iterator(gif):
                durations.append(frame.info.get("duration") or 0)
                frames.append(budget.keep(to_rgb(frame.copy())))
                if max_frames is not None and len(frames) >= max_frames:
                    break
    except Image.DecompressionBombError:
        raise VideoError(f"{path}: the GIF's frames are over the limit of {budget.frame_pixels:,} pixels; "
                         f"give a smaller clip") from None
    except (OSError, SyntaxError, ValueError) as exc:
        if isinstance(exc, VideoError):
            raise
        raise VideoError(f"{path}: not a readable GIF ({exc})") from None
    if not frames:
        raise VideoError(f"{path}: the GIF has no frames")
    duration = statistics.median(durations)
    return frames, 1000.0 / (duration if duration >= GIF_SHORTEST_MS else GIF_BROWSER_MS)


def _read_video(path: Path, max_frames: int | None, budget: _Budget) -> tuple[list[Image.Image], float]:
    import cv2

    capture = cv2.VideoCapture(str(path))
    try:
        if not capture.isOpened():
            raise VideoError(f"{path}: could not be opened as a video; re-encode it as MP4 (H.264) or give a GIF")
        budget.check_size(int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)), int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)))
        rate = capture.get(cv2.CAP_PROP_FPS)
        frames = []
        while max_frames is None or len(frames) < max_frames:
            ok, bgr = capture.read()
            if not ok:
                break
            budget.check_size(bgr.shape[1], bgr.shape[0])  # as decoded, whatever the container declared
            frames.append(budget.keep(Image.fromarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))))
    finally:
        capture.release()
    if not frames:
        raise VideoError(f"{path}: no frames could be decoded; re-encode it as MP4 (H.264) or give a GIF")
    return frames, rate if rate and np.isfinite(rate) and rate > 0 else DEFAULT_FOLDER_FPS


def _natural_key(path: Path) -> list:
    """``frame2`` before ``frame10``: runs of digits compare as numbers."""
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", path.name)]


def _read_folder(path: Path, max_frames: int | None, budget: _Budget) -> list[Image.Image]:
    files = sorted((p for p in path.iterdir() if p.suffix.lower() in FRAME_SUFFIXES and p.is_file()),
                   key=_natural_key)
    if not files:
        raise VideoError(f"{path}: the folder has no frames ({', '.join(FRAME_SUFFIXES)})")
    files = files[:max_frames] if max_frames is not None else files
    sizes = set()
    frames = []
    try:
        for file in files:
            frame = load_image(file, max_pixels=budget.frame_pixels)
            sizes.add(frame.size)
            frames.append(budget.keep(frame))
    except ImageError as exc:
        raise VideoError(str(exc)) from None
    if len(sizes) > 1:
        raise VideoError(f"{path}: the frames differ in size ({', '.join(f'{w}x{h}' for w, h in sorted(sizes))}); "
                         f"give frames of one size")
    return frames


def check_output(path: str | os.PathLike) -> Path:
    """``path`` if this writes it (``.mp4``, ``.gif`` or a folder without a suffix), else ``VideoError``."""
    path = Path(path)
    if path.suffix.lower() not in OUTPUT_SUFFIXES:
        raise VideoError(f"output {str(path)!r} must end in .mp4 or .gif, or be a folder (no suffix) for PNG frames")
    return path


def write_clip(frames: Sequence[Image.Image], path: str | os.PathLike, fps: float) -> Path:
    """Write ``frames`` at ``fps`` as MP4, GIF or a folder of PNGs, by ``path`` (see ``check_output``)."""
    path = check_output(path)
    if not frames:
        raise VideoError("no frames to write")
    if not (isinstance(fps, (int, float)) and 0 < fps <= 1000):
        raise VideoError(f"fps must be a number above 0 and at most 1000, got {fps!r}")
    size = frames[0].size
    frames = [to_rgb(f) if f.size == size else to_rgb(f).resize(size, Image.LANCZOS) for f in frames]
    suffix = path.suffix.lower()
    if suffix == "":
        path.mkdir(parents=True, exist_ok=True)
        for i, frame in enumerate(frames, start=1):
            frame.save(path / f"frame_{i:05d}.png")
        return path
    if path.parent != Path(""):
        path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp{path.suffix}")
    try:
        if suffix == ".gif":
            _write_gif(frames, tmp, fps)
        else:
            _write_mp4(frames, tmp, fps)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def _write_gif(frames: list[Image.Image], path: Path, fps: float) -> None:
    """One adaptive palette from all frames side by side, every frame mapped to it."""
    sample = [f if max(f.size) <= 128 else resize_longest(f, 128) for f in frames[:: max(1, len(frames) // 16)]]
    strip = Image.new("RGB", (sum(f.width for f in sample), max(f.height for f in sample)))
    x = 0
    for f in sample:
        strip.paste(f, (x, 0))
        x += f.width
    palette = strip.quantize(colors=256, method=Image.Quantize.MEDIANCUT)
    indexed = [f.quantize(palette=palette, dither=Image.Dither.FLOYDSTEINBERG) for f in frames]
    duration = min(max(GIF_SHORTEST_MS, round(100.0 / fps) * 10), GIF_LONGEST_MS)  # in hundredths of a second
    indexed[0].save(path, format="GIF", save_all=True, append_images=indexed[1:], duration=duration, loop=0,
                    optimize=False)


@functools.lru_cache(maxsize=1)
def h264_encoder() -> str | None:
    """The FFmpeg H.264 encoder that works here (libx264 first), or None (imageio-ffmpeg missing or without one)."""
    try:
        import imageio_ffmpeg

        listing = subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-encoders"], capture_output=True,
                                 text=True, timeout=30, check=True).stdout
    except (ImportError, RuntimeError, OSError, subprocess.SubprocessError):
        return None
    names = {line.split()[1] for line in listing.splitlines() if len(line.split()) > 1}
    return next((name for name in H264_ENCODERS if name in names), None)


def mp4_codec() -> str:
    """The video codec ``.mp4`` files are written with here: "h264", or "mp4v" where H.264 is unavailable."""
    return "h264" if h264_encoder() is not None else "mp4v"


def _write_mp4(frames: list[Image.Image], path: Path, fps: float) -> None:
    """Both codecs store 4:2:0 colour, which needs even sides: odd ones get the last row or column repeated."""
    width, height = frames[0].size
    if width % 2 or height % 2:
        frames = [_pad_to_even(frame) for frame in frames]
    encoder = h264_encoder()
    if encoder is not None:
        _write_h264(frames, path, fps, encoder)
    else:
        _write_mp4v(frames, path, fps)


def _pad_to_even(frame: Image.Image) -> Image.Image:
    array = np.asarray(frame)
    h, w = array.shape[:2]
    return Image.fromarray(np.pad(array, ((0, h % 2), (0, w % 2), (0, 0)), mode="edge"))


def _write_h264(frames: list[Image.Image], path: Path, fps: float, encoder: str) -> None:
    import imageio_ffmpeg

    quality = ["-crf", "18"] if encoder == "libx264" else []
    writer = imageio_ffmpeg.write_frames(
        str(path), frames[0].size, fps=fps, codec=encoder, pix_fmt_in="rgb24", pix_fmt_out="yuv420p", quality=None,
        macro_block_size=1, ffmpeg_log_level="error", output_params=[*quality, "-movflags", "+faststart"],
    )
    writer.send(None)
    try:
        for frame in frames:
            writer.send(np.ascontiguousarray(np.asarray(frame)))
    finally:
        writer.close()


def _write_mp4v(frames: list[Image.Image], path: Path, fps: float) -> None:
    import cv2

    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), float(fps), frames[0].size)
    if not writer.isOpened():
        raise VideoError(f"{path}: OpenCV could not write an MP4 here; write a .gif or a folder of frames instead")
    try:
        for frame in frames:
            writer.write(cv2.cvtColor(np.asarray(frame), cv2.COLOR_RGB2BGR))
    finally:
        writer.release()
