"""A threaded HTTP server on a free port of 127.0.0.1, run in a background thread while used as a context
manager: the plumbing the suite's stand-ins for remote services (``fake_hub``, ``fake_hub_server``) share.

    class Stand_in(LocalHTTPServer):
        def __init__(self):
            super().__init__(handler_class)    # a BaseHTTPRequestHandler subclass
    with Stand_in() as server:
        server.endpoint                        # "http://127.0.0.1:<port>"
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class LocalHTTPServer:
    """Serves ``handler`` on 127.0.0.1 from ``__enter__`` until ``__exit__``; each request in its own thread."""

    def __init__(self, handler: type[BaseHTTPRequestHandler]) -> None:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def endpoint(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
