"""A loopback receiver: a real HTTP server on 127.0.0.1 (a free port) that records each POST,
checks the callback's signature, and answers as scripted (e.g. 500 twice, then 200)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from agented_notify import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify
from attrs import define, field


@define
class Received:
    """One request as received."""

    path: str
    headers: dict[str, str]
    body: bytes
    signed: bool | None  # None: no signature header (Slack)


@define
class Receiver:
    """What the server got and what it answers next."""

    secret: str
    url: str = ""
    answers: list[int] = field(factory=list)
    """Statuses to answer, in order; 200 once they run out."""
    received: list[Received] = field(factory=list)
    lock: threading.Lock = field(factory=threading.Lock)
    arrived: threading.Condition = field(init=False)

    def __attrs_post_init__(self) -> None:
        self.arrived = threading.Condition(self.lock)

    def wait_for(self, count: int, timeout: float = 20.0) -> list[Received]:
        """Block until ``count`` requests arrived (or fail after ``timeout``)."""
        with self.arrived:
            if not self.arrived.wait_for(lambda: len(self.received) >= count, timeout):
                raise AssertionError(f"{len(self.received)} of {count} requests arrived")
            return list(self.received)


@contextmanager
def receiver(secret: str = "s3cret", answers: list[int] | None = None) -> Iterator[Receiver]:
    """A running receiver; its ``url`` is ``http://127.0.0.1:PORT``."""
    state = Receiver(secret, answers=list(answers or []))

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            signature = self.headers.get(SIGNATURE_HEADER)
            signed = (
                None
                if signature is None
                else verify(state.secret, self.headers.get(TIMESTAMP_HEADER, ""), body, signature)
            )
            with state.arrived:
                status = state.answers.pop(0) if state.answers else 200
                if signed is False:
                    status = 401
                state.received.append(Received(self.path, dict(self.headers), body, signed))
                state.arrived.notify_all()
            self.send_response(status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
