"""The app under load: more jobs at once than its queue holds (``NST_QUEUE_SIZE=2``, one job running).

``python app.py`` runs in a subprocess on tiny weights (``app_server.serving_app``); the clients are
``gradio_client`` ones, each with its own session, as in ``bench/load.py`` (which reports the figures
for a bigger crowd). Checked: no job is lost, each one either completes or is refused with the queue's
"Queue is full" message; while the queue is full, the page's Stop (which bypasses the queue) still
reaches a running job, which then hands back its best image; and the server keeps serving after.
"""

from __future__ import annotations

import json
import time
import urllib.request

import pytest
from gradio_client import Client, handle_file
from gradio_client.utils import QueueError, Status

from app_server import serving_app
from bench.load import QUEUE_FULL, STATUS, answers, crowd, small_inputs

QUEUE_SIZE = 2


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("load")
    with serving_app(folder, NST_QUEUE_SIZE=str(QUEUE_SIZE)) as (url, process):
        yield url, process, small_inputs(folder, longest=64)


def new_client(url: str) -> Client:
    return Client(url, verbose=False, download_files=False, analytics_enabled=False)


def wait_for(condition, seconds: float = 60.0) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_every_job_of_a_crowd_completes_or_is_refused(server):
    url, process, (content, style) = server
    outcomes = crowd(url, 6, content, style, size=64, steps=8, timeout=120)
    kinds = [o.kind for o in outcomes]
    assert kinds.count("lost") == 0, [o.detail for o in outcomes if o.kind == "lost"]
    assert kinds.count("completed") + kinds.count("refused") == 6
    assert kinds.count("completed") >= QUEUE_SIZE  # the queue takes at least this many
    assert all(QUEUE_FULL in o.detail for o in outcomes if o.kind == "refused")
    assert all(o.detail.startswith("Done: 8 steps") for o in outcomes if o.kind == "completed")
    assert process.poll() is None and answers(url)


def test_a_full_queue_refuses_the_next_job_but_not_stop(server):
    url, process, (content, style) = server
    inputs = dict(content=handle_file(str(content)), style=handle_file(str(style)), scales=1, api_name="/stylize")
    running, waiting = new_client(url), [new_client(url) for _ in range(QUEUE_SIZE)]
    long_job = running.submit(**inputs, size=64, steps=1000)  # the most the page allows; stopped below
    assert wait_for(lambda: long_job.outputs() or long_job.done()) and not long_job.done(), "no long job running"
    queued = [client.submit(**inputs, size=64, steps=2) for client in waiting]
    assert wait_for(lambda: all(job.status().code == Status.IN_QUEUE for job in queued)), "the queue did not fill"

    with pytest.raises(QueueError, match=QUEUE_FULL):  # one more than the queue holds
        new_client(url).submit(**inputs, size=64, steps=2).result(timeout=60)

    # Stop is outside the queue (queue: false), so the page posts it to the endpoint directly, with its session.
    with urllib.request.urlopen(f"{url}config", timeout=30) as response:
        stops = [d for d in json.load(response)["dependencies"] if d.get("api_name") == "stop"]
    assert stops and all(d["queue"] is False for d in stops)
    request = urllib.request.Request(f"{url}{running.api_prefix}run/stop", method="POST",
                                     data=json.dumps({"data": [], "session_hash": running.session_hash}).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        assert json.load(response)["data"] == ["Stopping after this step; the best image so far will be kept."]
    final = long_job.result(timeout=60)
    assert final[STATUS].startswith("Stopped at step")
    assert all(job.result(timeout=60)[STATUS].startswith("Done: 2 steps") for job in queued)
    assert process.poll() is None and answers(url)
    after = new_client(url).predict(**inputs, size=64, steps=2)
    assert after[STATUS].startswith("Done: 2 steps")
    for client in (running, *waiting):
        client.close()
