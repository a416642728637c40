"""The real servers some tests need (PostgreSQL, Redis), and what to do when one is missing.

A test that needs a server calls :func:`unavailable` when it does not answer: on a laptop that
is a skip with the reason; under ``CI=true`` it is a failure, because CI always has the servers.
"""

from __future__ import annotations

import os
import socket
from typing import NoReturn

import pytest

POSTGRES_HOST, POSTGRES_PORT = "127.0.0.1", 5432
REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379


def unavailable(reason: str) -> NoReturn:
    """Skip the test with ``reason``, or fail it under ``CI=true`` (where a skip is a failure)."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (under CI=true a missing server fails the test)", pytrace=False)
    pytest.skip(reason)


def answers(host: str, port: int, timeout: float = 1.0) -> bool:
    """True when something accepts a TCP connection at ``host:port``."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False
