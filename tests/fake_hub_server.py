"""A stand-in for the Hugging Face Hub's repo API on 127.0.0.1, for the preset upload and download tests.

It keeps model repos in memory as a list of commits and answers just the endpoints that
``huggingface_hub`` 2.4's ``create_repo``, ``upload_folder`` and ``snapshot_download`` call:

* ``POST /api/repos/create``                              -> ``{"url"}``; 409 (with the url) when it exists
* ``POST /api/models/{repo}/preupload/{revision}``        -> every file ``"uploadMode": "regular"``
* ``POST /api/models/{repo}/commit/{revision}``           <- NDJSON: a header, then base64 ``file`` and
  ``deletedFile`` lines; -> ``{"commitOid", "commitUrl"}``
* ``GET  /api/models/{repo}/revision/{revision}``         -> ``{"id", "sha", "siblings"}``
* ``GET  /api/models/{repo}/tree/{revision}``             -> ``[{"type", "path", "size", "oid"}]``
* ``HEAD``/``GET /{repo}/resolve/{revision}/{path}``       -> the file, with ``X-Repo-Commit`` and ``ETag``

Writes need ``Authorization: Bearer <token>`` (401 otherwise). Unknown repos, revisions and files
get 404 with the ``X-Error-Code`` the real Hub sends (``RepoNotFound``, ``RevisionNotFound``,
``EntryNotFound``). Every request is recorded as ``(method, path)`` in ``calls`` and, with the
``Authorization`` header it carried (None without one), as ``(method, path, authorization)`` in
``requests``; ``commits`` keeps each commit's summary and files.

    with FakeHubServer(token="hf_write") as hub:
        push_to_hub(preset, "alice/sunset", token="hf_write", endpoint=hub.endpoint)
        hub.files("alice/sunset")    # {path: bytes} at main
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from urllib.parse import unquote, urlsplit

from tests.local_http import LocalHTTPServer

_API = re.compile(r"^/api/models/(?P<repo>[^/]+/[^/]+)/(?P<verb>preupload|commit|revision|tree)/(?P<revision>[^/]+)"
                  r"(?P<rest>/.*)?$")
_RESOLVE = re.compile(r"^/(?P<repo>[^/]+/[^/]+)/resolve/(?P<revision>[^/]+)/(?P<path>.+)$")


def git_blob_id(data: bytes) -> str:
    """The git object id of a file's content: ``sha1("blob <size>\\0" + data)``."""
    return hashlib.sha1(b"blob %d\x00" % len(data) + data).hexdigest()


@dataclass
class Commit:
    """One commit of a repo: its id, summary and the whole tree of files after it."""

    oid: str
    summary: str
    files: dict[str, bytes]


@dataclass
class Repo:
    commits: list[Commit] = field(default_factory=list)
    branches: dict[str, str] = field(default_factory=dict)

    def resolve(self, revision: str) -> Commit | None:
        oid = self.branches.get(revision, revision)
        return next((c for c in self.commits if c.oid == oid), None)


class FakeHubServer(LocalHTTPServer):
    """A threaded HTTP server standing in for the Hub; use it as a context manager."""

    def __init__(self, token: str = "hf_test_write_token") -> None:
        self.token = token
        self.repos: dict[str, Repo] = {}
        self.calls: list[tuple[str, str]] = []
        self.requests: list[tuple[str, str, str | None]] = []   # (method, path, Authorization header)
        self.commits: list[tuple[str, Commit]] = []   # (repo_id, commit), in order
        self._lock = threading.Lock()
        super().__init__(_handler_for(self))

    def authorizations(self) -> set[str | None]:
        """Every ``Authorization`` header the server has seen (None: a request without one)."""
        with self._lock:
            return {auth for _, _, auth in self.requests}

    def files(self, repo_id: str, revision: str = "main") -> dict[str, bytes]:
        """The files of ``repo_id`` at ``revision``."""
        with self._lock:
            return dict(self.repos[repo_id].resolve(revision).files)

    def add_commit(self, repo_id: str, files: dict[str, bytes], summary: str = "seeded", branch: str = "main") -> str:
        """Make (or extend) a repo directly; returns the new commit id."""
        with self._lock:
            repo = self.repos.setdefault(repo_id, Repo())
            return self._commit(repo_id, repo, branch, summary, files)

    def _commit(self, repo_id: str, repo: Repo, branch: str, summary: str, files: dict[str, bytes]) -> str:
        parent = repo.resolve(branch)
        oid = hashlib.sha1(f"{repo_id}:{len(repo.commits)}:{summary}".encode()).hexdigest()
        commit = Commit(oid, summary, files if parent is None else {**parent.files, **files})
        repo.commits.append(commit)
        repo.branches[branch] = oid
        self.commits.append((repo_id, commit))
        return oid


def _handler_for(hub: FakeHubServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format, *args):  # keep test output clean
            pass

        # -- plumbing ----------------------------------------------------------------------------

        def _reply(self, status: int, body: bytes | dict | list = b"", headers: dict[str, str] | None = None,
                   send_body: bool = True) -> None:
            if isinstance(body, (dict, list)):
                body = json.dumps(body).encode()
                headers = {"Content-Type": "application/json", **(headers or {})}
            self.send_response(status)
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if send_body:
                self.wfile.write(body)

        def _error(self, status: int, code: str | None, message: str, send_body: bool = True) -> None:
            self._reply(status, {"error": message}, {"X-Error-Code": code} if code else {}, send_body)

        def _body(self) -> bytes:
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))

        def _authorised(self) -> bool:
            return self.headers.get("Authorization") == f"Bearer {hub.token}"

        def _path(self) -> str:
            path = urlsplit(self.path).path
            with hub._lock:
                hub.calls.append((self.command, path))
                hub.requests.append((self.command, path, self.headers.get("Authorization")))
            return path

        # -- verbs ---------------------------------------------------------------------------------

        def do_POST(self):
            path = self._path()
            body = self._body()
            if path == "/api/validate-yaml":
                self._reply(200, {"errors": [], "warnings": []})
                return
            if not self._authorised():
                self._error(401, None, "Invalid credentials in Authorization header")
                return
            if path == "/api/repos/create":
                payload = json.loads(body)
                repo_id = f"{payload['organization']}/{payload['name']}"
                with hub._lock:
                    if repo_id in hub.repos:  # the Hub's 409 carries the url, which create_repo(exist_ok) reads
                        self._reply(409, {"error": "You already created this model repo",
                                          "url": f"{hub.endpoint}/{repo_id}"})
                        return
                    repo = hub.repos[repo_id] = Repo()
                    hub._commit(repo_id, repo, "main", "initial commit", {".gitattributes": b"*.bin filter=lfs\n"})
                self._reply(200, {"url": f"{hub.endpoint}/{repo_id}", "name": repo_id})
                return
            match = _API.match(path)
            if not match or match["verb"] not in ("preupload", "commit"):
                self._error(404, None, f"no route {path}")
                return
            repo_id, revision = match["repo"], unquote(match["revision"])
            with hub._lock:
                repo = hub.repos.get(repo_id)
                if repo is None:
                    self._error(404, "RepoNotFound", f"Repository {repo_id} not found")
                    return
                if match["verb"] == "preupload":
                    files = json.loads(body)["files"]
                    self._reply(200, {"files": [{"path": f["path"], "uploadMode": "regular", "shouldIgnore": False}
                                                for f in files]})
                    return
                summary, added, deleted = "", {}, []
                for line in body.decode().splitlines():
                    item = json.loads(line)
                    if item["key"] == "header":
                        summary = item["value"]["summary"]
                    elif item["key"] == "file":
                        added[item["value"]["path"]] = base64.b64decode(item["value"]["content"])
                    elif item["key"] == "deletedFile":
                        deleted.append(item["value"]["path"])
                    else:
                        self._error(400, None, f"this stand-in does not take {item['key']!r} lines")
                        return
                oid = hub._commit(repo_id, repo, revision, summary, added)
                for name in deleted:
                    repo.resolve(oid).files.pop(name, None)
            self._reply(200, {"commitOid": oid, "commitUrl": f"{hub.endpoint}/{repo_id}/commit/{oid}",
                              "success": True})

        def do_GET(self):
            self._serve(send_body=True)

        def do_HEAD(self):
            self._serve(send_body=False)

        def _serve(self, send_body: bool) -> None:
            path = self._path()
            api, resolve = _API.match(path), _RESOLVE.match(path)
            match = api or resolve
            if match is None or (api and api["verb"] not in ("revision", "tree")):
                self._error(404, None, f"no route {path}", send_body)
                return
            repo_id, revision = match["repo"], unquote(match["revision"])
            with hub._lock:
                repo = hub.repos.get(repo_id)
                commit = repo.resolve(revision) if repo is not None else None
            if repo is None:
                self._error(404, "RepoNotFound", f"Repository {repo_id} not found", send_body)
            elif commit is None:
                self._error(404, "RevisionNotFound", f"Invalid rev id: {revision}", send_body)
            elif api and api["verb"] == "revision":
                self._reply(200, {"id": repo_id, "modelId": repo_id, "sha": commit.oid, "private": False,
                                  "siblings": [{"rfilename": p} for p in sorted(commit.files)]}, send_body=send_body)
            elif api:
                self._reply(200, [{"type": "file", "path": p, "size": len(d), "oid": git_blob_id(d)}
                                  for p, d in sorted(commit.files.items())], send_body=send_body)
            else:
                data = commit.files.get(unquote(match["path"]))
                if data is None:
                    self._error(404, "EntryNotFound", f"{match['path']} does not exist", send_body)
                    return
                self._reply(200, data, {"X-Repo-Commit": commit.oid, "ETag": f'"{git_blob_id(data)}"',
                                        "Content-Type": "application/octet-stream"}, send_body)

    return Handler
