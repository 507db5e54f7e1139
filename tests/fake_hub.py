"""A tiny stand-in for the Hugging Face Hub's file endpoint, served on 127.0.0.1 for the weights tests.

It answers ``HEAD`` and ``GET /{repo_id}/resolve/{revision}/{filename}`` the way ``huggingface_hub``'s
downloads expect: ``X-Repo-Commit`` (the commit a branch name resolves to), ``ETag`` (the file's
sha256, quoted), ``Content-Length`` and ``Accept-Ranges``. ``GET`` honours ``Range: bytes=a-b`` (and
``bytes=a-``) with ``206 Partial Content`` and ``Content-Range: bytes a-b/size``, unless the server
was made with ``honour_ranges=False``, in which case every ``GET`` sends the whole file with ``200``
as some proxies do. Every request is recorded, with the body bytes actually sent. Each file's sha256
is computed once, when the server is made. Besides the weights tests, ``bench/first_start.py`` imports
it from here to count the bytes a first start of the app downloads.

    with FakeHub({("timm/vgg19.tv_in1k", "model.safetensors"): data}) as hub:
        load_hub(endpoint=hub.endpoint, ...)
        hub.bytes_sent, hub.requests
"""

from __future__ import annotations

import hashlib
import re
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Mapping

from tests.local_http import LocalHTTPServer

_PATH = re.compile(r"^/(?P<repo>[^/]+/[^/]+)/resolve/(?P<revision>[^/]+)/(?P<filename>.+)$")
_RANGE = re.compile(r"^bytes=(?P<start>\d+)-(?P<end>\d*)$")
DEFAULT_COMMIT = "0123456789abcdef0123456789abcdef01234567"


@dataclass
class Request:
    """One request as the server saw it."""

    method: str
    path: str
    range: str | None   # the Range header, if any
    status: int
    sent: int           # body bytes handed to the socket


class FakeHub(LocalHTTPServer):
    """A threaded HTTP server holding ``files[(repo_id, filename)] = bytes`` at one commit."""

    def __init__(self, files: Mapping[tuple[str, str], bytes], *, commit: str = DEFAULT_COMMIT,
                 honour_ranges: bool = True) -> None:
        self.files = dict(files)
        self.etags = {key: hashlib.sha256(data).hexdigest() for key, data in self.files.items()}  # once, not per request
        self.commit = commit
        self.honour_ranges = honour_ranges
        self.requests: list[Request] = []
        self._lock = threading.Lock()
        super().__init__(_handler_for(self))

    @property
    def bytes_sent(self) -> int:
        """Body bytes sent over all requests."""
        with self._lock:
            return sum(r.sent for r in self.requests)

    def gets(self) -> list[Request]:
        with self._lock:
            return [r for r in self.requests if r.method == "GET"]

    def record(self, request: Request) -> None:
        with self._lock:
            self.requests.append(request)


def _handler_for(hub: FakeHub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format, *args):  # keep test output clean
            pass

        def do_HEAD(self):
            self._serve(body=False)

        def do_GET(self):
            self._serve(body=True)

        def _serve(self, body: bool) -> None:
            match = _PATH.match(self.path)
            data = key = None
            if match and match["revision"] in ("main", hub.commit):
                key = (match["repo"], match["filename"])
                data = hub.files.get(key)
            if data is None:
                self._reply(404, b"", {"X-Error-Code": "EntryNotFound"}, body)
                return
            headers = {
                "X-Repo-Commit": hub.commit,
                "ETag": f'"{hub.etags[key]}"',
                "Accept-Ranges": "bytes",
                "Content-Type": "application/octet-stream",
            }
            requested = self.headers.get("Range")
            wanted = _RANGE.match(requested) if (requested and body and hub.honour_ranges) else None
            if wanted:
                start = int(wanted["start"])
                end = min(int(wanted["end"]) if wanted["end"] else len(data) - 1, len(data) - 1)
                if start > end:
                    self._reply(416, b"", {"Content-Range": f"bytes */{len(data)}"}, body)
                    return
                headers["Content-Range"] = f"bytes {start}-{end}/{len(data)}"
                self._reply(206, data[start:end + 1], headers, body)
            else:
                self._reply(200, data, headers, body)

        def _reply(self, status: int, payload: bytes, headers: dict[str, str], body: bool) -> None:
            # Recorded before answering, so a client that has its answer always finds it in the log.
            request = Request(self.command, self.path, self.headers.get("Range"), status, 0)
            hub.record(request)
            try:
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                if body:
                    view = memoryview(payload)
                    for offset in range(0, len(payload), 65536):
                        chunk = view[offset:offset + 65536]
                        request.sent += len(chunk)
                        self.wfile.write(chunk)
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True  # the client stopped reading (it wanted only a range)

    return Handler
