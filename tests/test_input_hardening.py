"""Bad input over a real server: refused before anything is recorded; bounds and shapes.

``agented serve`` runs as a real process on 127.0.0.1; requests go over a real socket.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import socket
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from conftest import FAKE_CLI
from test_http_server import AUTH, KEY, Served, serve

SECRET = "webhook-secret-42"
SURROGATE = b'"lone \\ud800 surrogate"'


def sign(body: bytes) -> str:
    return hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Served]:
    config = tmp_path / "agented.toml"
    config.write_text(
        f"""
[http]
cors_origins = ["https://ok.example"]
max_body_bytes = 65536

[webhooks.alerts]
secret_env = "ALERT_SECRET"
delivery_header = "X-Delivery"

[bots.review]
prompt = "Review {{pr.title}}"
command = ["{FAKE_CLI}", "echo-stdin"]
on = [{{ github = "pull_request" }}]

[bots.alert]
command = ["{FAKE_CLI}", "say", "{{payload.name}}"]
on = [{{ webhook = "alerts" }}]

[bots.hello]
command = ["echo", "{{params.who}}"]
on = [{{ manual = true, params = ["who"] }}]
"""
    )
    with serve(
        config,
        cwd=tmp_path,
        AGENTED_API_KEYS=KEY,
        GITHUB_WEBHOOK_SECRETS=SECRET,
        ALERT_SECRET=SECRET,
    ) as served:
        yield served
    assert served.process.returncode == 0, served.stderr
    assert "Traceback" not in served.stderr and "shutdown failed" not in served.stderr


def counts(tmp_path: Path) -> tuple[int, int, int]:
    """Executions, deliveries and claims; not the run slots, which come and go with runs."""
    with sqlite3.connect(tmp_path / "agented.db") as db:
        return tuple(  # type: ignore[return-value]
            db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            for table in ("executions", "deliveries", "claims WHERE key NOT LIKE 'slot:%'")
        )


def pr_body(title: bytes) -> bytes:
    return (
        b'{"action": "opened", "number": 1, "pull_request": {"number": 1, "title": '
        + title
        + b', "user": {"login": "ada"}, "head": {"ref": "x", "sha": "abc"}, "base": {"ref":'
        b' "main"}}, "repository": {"full_name": "o/r", "name": "r", "owner": {"login": "o"}},'
        b' "sender": {"login": "ada"}}'
    )


def test_a_surrogate_is_refused_everywhere_and_the_clean_redelivery_runs(
    server: Served, tmp_path: Path
) -> None:
    with httpx.Client(base_url=server.url, headers=AUTH, timeout=30) as client:
        before = counts(tmp_path)
        for title in (SURROGATE, b'"a clean title"'):
            body = pr_body(title)
            answer = client.post(
                "/agented/webhooks/github",
                content=body,
                headers={
                    "Content-Type": "application/json",
                    "X-GitHub-Event": "pull_request",
                    "X-GitHub-Delivery": "delivery-1",
                    "X-Hub-Signature-256": "sha256=" + sign(body),
                },
            )
            if title is SURROGATE:
                assert answer.status_code == 400, answer.text
                assert answer.json()["error"] == "bad_request"
                assert counts(tmp_path) == before
        assert answer.status_code == 202, answer.text
        assert answer.json()["duplicate"] is False

        for name in (SURROGATE, b'"disk"'):
            body = b'{"name": ' + name + b"}"
            answer = client.post(
                "/agented/webhooks/alerts",
                content=body,
                headers={
                    "Content-Type": "application/json",
                    "X-Delivery": "alert-1",
                    "X-Signature-256": sign(body),
                },
            )
            if name is SURROGATE:
                assert answer.status_code == 400 and answer.json()["error"] == "bad_request"
        assert answer.status_code == 202, answer.text

        middle = counts(tmp_path)
        refused = client.post(
            "/agented/bots/hello/runs",
            content=b'{"params": {"who": ' + SURROGATE + b"}}",
            headers={"Content-Type": "application/json"},
        )
        assert refused.status_code == 400 and refused.json()["error"] == "bad_request"
        dry = client.post(
            "/agented/webhooks/github/dry-run",
            content=pr_body(SURROGATE),
            headers={"Content-Type": "application/json", "X-GitHub-Event": "pull_request"},
        )
        assert dry.status_code == 400 and dry.json()["error"] == "bad_request"
        assert counts(tmp_path) == middle
        ran = client.post("/agented/bots/hello/runs", json={"params": {"who": "ada"}})
        assert ran.status_code == 202


def test_cursors_past_any_seq_are_400_before_the_response(server: Served) -> None:
    with httpx.Client(base_url=server.url, headers=AUTH, timeout=30) as client:
        execution = client.post("/agented/bots/hello/runs", json={"params": {"who": "x"}})
        url = execution.json()["url"].removeprefix(server.url)
        huge = "100000000000000000000"
        for path, headers in (
            (f"{url}/events.ndjson?after={huge}", {}),
            (f"{url}/events?after={huge}", {}),
            (f"{url}/events", {"Last-Event-ID": huge}),
        ):
            answer = client.get(path, headers=headers)
            assert answer.status_code == 400, (path, answer.text)
            assert answer.json()["error"] == "bad_request"
        largest = client.get(f"{url}/events.ndjson?after={2**63 - 1}")
        assert largest.status_code == 200 and largest.text == ""
    assert "Traceback" not in server.stderr


def test_a_chunked_body_over_the_limit_closes_the_connection(server: Served) -> None:
    host, port = server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(
            b"POST /agented/webhooks/github HTTP/1.1\r\nHost: x\r\n"
            b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
        )
        chunk = b"x" * 65536
        sent, answer = 0, b""
        sock.settimeout(0.05)
        # keep sending until the server answers; it must answer long before 100 MB
        while sent < 100 * 1024 * 1024 and b"\r\n\r\n" not in answer:
            try:
                sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                sent += len(chunk)
                answer += sock.recv(65536)
            except TimeoutError:
                continue
            except (BrokenPipeError, ConnectionResetError):
                break
        sock.settimeout(10)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                data = sock.recv(65536)
            except (ConnectionResetError, TimeoutError):
                break
            if not data:
                break  # closed by the server
            answer += data
        else:
            pytest.fail("the server kept the connection open after its 413")
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert b"connection: close" in answer.lower()
    assert sent < 10 * 1024 * 1024


def test_a_refused_cors_preflight_has_the_json_error_shape(server: Served) -> None:
    headers = {"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"}
    answer = httpx.options(f"{server.url}/agented/bots", headers=headers, timeout=10)
    assert answer.status_code == 400
    assert answer.headers["content-type"].startswith("application/json")
    assert answer.json() == {"error": "bad_request", "message": "Disallowed CORS origin"}
    allowed = {"Origin": "https://ok.example", "Access-Control-Request-Method": "GET"}
    ok = httpx.options(f"{server.url}/agented/bots", headers=allowed, timeout=10)
    assert ok.status_code == 200


def test_a_stream_token_has_one_spelling(server: Served) -> None:
    with httpx.Client(base_url=server.url, headers=AUTH, timeout=30) as client:
        execution = client.post("/agented/bots/hello/runs", json={"params": {"who": "x"}})
        url = execution.json()["url"].removeprefix(server.url)
        token = client.post(f"{url}/stream-token").json()["token"]
    encoded, _, signature = token.partition(".")
    mac = base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4))
    # the same bytes, spelled otherwise: another last character (unused bits), or padding
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    variants = [
        f"{encoded}.{signature[:-1]}{c}"
        for c in alphabet
        if c != signature[-1]
        and base64.urlsafe_b64decode(signature[:-1] + c + "=" * (-len(signature) % 4)) == mac
    ]
    variants.append(f"{encoded}.{signature}=")
    assert len(variants) >= 2
    with httpx.Client(base_url=server.url, timeout=30) as anonymous:
        genuine = anonymous.get(f"{url}/events", params={"token": token})
        assert genuine.status_code in (200, 204)
        for variant in variants:
            answer = anonymous.get(f"{url}/events", params={"token": variant})
            assert answer.status_code == 401, variant
