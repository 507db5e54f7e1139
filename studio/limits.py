"""What a public host holds every visitor to: the budgets of uploads, clips, results and Gradio's cache,
and who may push presets to the Hub.

Every budget is checked before the work it bounds: an image's pixels from its header, before it is
decoded; a clip's frame size from its header, and its frames as they are read; an upload's bytes by
Gradio as it arrives. The environment variables (read when used; ``check_environment`` reads them all
at start-up, so a bad value stops the app with one line):

* ``NST_MAX_PIXELS`` - width x height of one uploaded image, mask or clip frame (default ``MAX_PIXELS``);
* ``NST_MAX_CLIP_PIXELS`` - frames x width x height of a clip once its frames are shrunk to the run's
  size (default: the most frames the Video tab takes x ``NST_MAX_SIZE`` squared, what the tab can ask for);
* ``NST_MAX_UPLOAD_MB`` - megabytes one uploaded file may have (Gradio's ``max_file_size``);
* ``NST_MAX_OUTPUTS`` and ``NST_MAX_OUTPUT_MB`` - what the output folder keeps, in results and in
  megabytes; the oldest go first (``studio.storage``);
* ``NST_CACHE_TTL`` - seconds Gradio keeps uploads and the copies of results it serves (``delete_cache``;
  keep it above the longest a run may wait in the queue, or a waiting run loses its uploads);
* ``NST_ALLOW_PUSH`` - who pushes presets to the Hub: ``token`` (the default: only with the visitor's own
  token, typed on the page), ``off`` (never), ``host`` (an empty token field uses the host's
  ``HF_TOKEN`` or saved login: only for an app that its host alone can reach).

Nothing a visitor does uses the host's Hub credentials otherwise: presets load from the Hub anonymously.
"""

from __future__ import annotations

import gradio as gr

from . import batcher, env, runtime

MAX_PIXELS = 25_000_000          # one image or frame: a 6000 x 4000 photo fits
MAX_UPLOAD_MB = 50
MAX_OUTPUTS = 500
MAX_OUTPUT_MB = 2048
CACHE_TTL_S = 4 * 3600           # Gradio's cache: uploads and served results older than this are deleted
CACHE_SWEEP_S = 1800             # ...checked at least this often
PUSH_POLICIES = ("token", "off", "host")


def max_pixels() -> int:
    """Pixels one uploaded image, mask or clip frame may have (``NST_MAX_PIXELS``)."""
    return env.whole("NST_MAX_PIXELS", MAX_PIXELS, 64 * 64, "pixels (width x height of an uploaded image)",
                     MAX_PIXELS)


def max_clip_pixels() -> int:
    """Frames x pixels a clip may hold after its frames are shrunk (``NST_MAX_CLIP_PIXELS``)."""
    default = runtime.video_frames()[1] * runtime.size_limit() ** 2
    return env.whole("NST_MAX_CLIP_PIXELS", default, 64 * 64, "pixels (frames x width x height of a clip)", default)


def max_upload_bytes() -> int:
    """Bytes one uploaded file may have (``NST_MAX_UPLOAD_MB``; 1 MB = 10^6 bytes, as Gradio counts)."""
    return env.whole("NST_MAX_UPLOAD_MB", MAX_UPLOAD_MB, 1, "megabytes (one uploaded file)", MAX_UPLOAD_MB) * 10**6


def max_outputs() -> int:
    """Results the output folder keeps (``NST_MAX_OUTPUTS``)."""
    return env.whole("NST_MAX_OUTPUTS", MAX_OUTPUTS, 1, "results (kept in the output folder)", MAX_OUTPUTS)


def max_output_bytes() -> int:
    """Bytes the output folder keeps (``NST_MAX_OUTPUT_MB``; 1 MB = 2^20 bytes)."""
    return env.whole("NST_MAX_OUTPUT_MB", MAX_OUTPUT_MB, 1, "megabytes (kept in the output folder)",
                     MAX_OUTPUT_MB) * 2**20


def delete_cache() -> tuple[int, int]:
    """Gradio's ``delete_cache``: every ``min(ttl, CACHE_SWEEP_S)`` seconds, files older than ``ttl``
    (``NST_CACHE_TTL``) go."""
    ttl = env.whole("NST_CACHE_TTL", CACHE_TTL_S, 1, "seconds (how long Gradio's cache keeps a file)", CACHE_TTL_S)
    return min(ttl, CACHE_SWEEP_S), ttl


def push_policy() -> str:
    """``NST_ALLOW_PUSH``: token (the visitor's own only), off, or host (the host's credentials when none given)."""
    return env.choice("NST_ALLOW_PUSH", PUSH_POLICIES, "token")


def check_environment() -> None:
    """Read every variable the app uses; ``env.HostSettingError`` for the first that cannot be used."""
    runtime.size_limit()
    runtime.queue_size()
    batcher.batch_size()
    batcher.window()
    try:
        runtime.time_limit()
    except gr.Error as exc:  # read per run too, where a visitor gets it as a message
        raise env.HostSettingError(exc.message) from None
    for read in (max_pixels, max_clip_pixels, max_upload_bytes, max_outputs, max_output_bytes, delete_cache,
                 push_policy):
        read()
