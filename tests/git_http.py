"""A loopback smart-HTTP git server that requires a token: ``git http-backend`` behind a check.

:class:`GitServer` serves the bare repositories of a folder at ``http://127.0.0.1:PORT/NAME.git``
(a free port), answering 401 with a ``WWW-Authenticate`` challenge unless the request carries
HTTP Basic credentials with the right password, as GitHub does for a private repository. It
records each request (path, whether it was authorized, the ``Authorization`` header's user) so
tests can count fetches.
"""

from __future__ import annotations

import base64
import os
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

BACKEND = os.path.join(
    subprocess.run(
        ["git", "--exec-path"], capture_output=True, text=True, check=True
    ).stdout.strip(),
    "git-http-backend",
)


class GitServer:
    """``git http-backend`` over real HTTP on 127.0.0.1, for the repositories under ``root``."""

    def __init__(self, root: Path, *, username: str, password: str) -> None:
        self.root = root
        self.username = username
        self.password = password
        self.requests: list[tuple[str, str, bool]] = []
        self.hang = threading.Event()  # set: every request waits for ``release``
        self.release = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                server._serve(self)

            def do_POST(self) -> None:
                server._serve(self)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        """The server's base URL."""
        host, port = self.httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> GitServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)

    def fetches(self) -> int:
        """How many authorized fetches the server answered (each opens with ``info/refs``)."""
        return sum(1 for method, path, ok in self.requests if ok and path.endswith("/info/refs"))

    def _authorized(self, header: str | None) -> bool:
        if not header or not header.startswith("Basic "):
            return False
        try:
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        except ValueError:
            return False
        return user == self.username and password == self.password

    def _serve(self, handler: BaseHTTPRequestHandler) -> None:
        if self.hang.is_set():
            self.requests.append((handler.command, "(hung)", False))
            self.release.wait(30)
            return
        parts = urlsplit(handler.path)
        ok = self._authorized(handler.headers.get("Authorization"))
        self.requests.append((handler.command, parts.path, ok))
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        if not ok:
            handler.send_response(401)
            handler.send_header("WWW-Authenticate", 'Basic realm="test"')
            handler.send_header("Content-Length", "0")
            handler.end_headers()
            return
        env = {
            "PATH": os.environ.get("PATH", ""),
            "GIT_PROJECT_ROOT": str(self.root),
            "GIT_HTTP_EXPORT_ALL": "1",
            "REQUEST_METHOD": handler.command,
            "PATH_INFO": parts.path,
            "QUERY_STRING": parts.query,
            "CONTENT_TYPE": handler.headers.get("Content-Type", ""),
            "CONTENT_LENGTH": str(len(body)),
            "REMOTE_USER": self.username,
            "REMOTE_ADDR": "127.0.0.1",
        }
        for name in ("Content-Encoding", "Git-Protocol"):
            if handler.headers.get(name):
                env["HTTP_" + name.upper().replace("-", "_")] = handler.headers[name]
        result = subprocess.run([BACKEND], input=body, env=env, capture_output=True, check=False)
        head, _, payload = result.stdout.partition(b"\r\n\r\n")
        status = 200
        headers: list[tuple[str, str]] = []
        for line in head.decode("latin-1").split("\r\n"):
            name, _, value = line.partition(":")
            if name.lower() == "status":
                status = int(value.strip().split()[0])
            elif name:
                headers.append((name, value.strip()))
        handler.send_response(status)
        for name, value in headers:
            handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(payload)))
        handler.end_headers()
        handler.wfile.write(payload)
