"""A loopback TCP proxy a test controls, to cut a client's connections to a real server.

``cut()`` closes every connection and refuses new ones (accepted, then closed at once), as a
network gone; ``restore()`` lets connections through again. Threads, so it works under any
event loop of the test.
"""

from __future__ import annotations

import socket
import threading
from types import TracebackType


class TcpProxy:
    """Forwards ``127.0.0.1:port`` to ``(host, target_port)``."""

    def __init__(self, host: str, target_port: int) -> None:
        self.target = (host, target_port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._open: list[socket.socket] = []
        self._refusing = False
        self._closed = False
        self.accepted = 0
        self.refused = 0
        """Connections refused while cut (a client's attempts to reconnect)."""
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def __enter__(self) -> TcpProxy:
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.close()

    def cut(self) -> None:
        """Close every connection now and refuse new ones until :meth:`restore`."""
        with self._lock:
            self._refusing = True
            sockets, self._open = self._open, []
        for sock in sockets:
            _shut(sock)

    def restore(self) -> None:
        """Let connections through again."""
        with self._lock:
            self._refusing = False

    def close(self) -> None:
        """Stop listening and close every connection."""
        self._closed = True
        self.cut()
        _shut(self._listener)
        self._thread.join(timeout=5)

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                refusing = self._refusing
            if refusing:
                _shut(client)
                with self._lock:
                    self.refused += 1
                continue
            try:
                server = socket.create_connection(self.target, timeout=5)
            except OSError:
                _shut(client)
                continue
            server.settimeout(None)
            with self._lock:
                refusing = self._refusing  # a cut while this one was being connected
                if not refusing:
                    self._open += [client, server]
                    self.accepted += 1
            if refusing:
                _shut(client)
                _shut(server)
                continue
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=_pump, args=(a, b), daemon=True).start()


def _pump(source: socket.socket, sink: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            sink.sendall(data)
    except OSError:
        pass
    _shut(source)
    _shut(sink)


def _shut(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    sock.close()
