"""Structured logs: the JSON format, redaction, and ``agented serve --log-format json``."""

from __future__ import annotations

import io
import json
import logging
import time
from pathlib import Path

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from agented_core import load_config
from agented_core.config import ConfigError
from agented_core.logs import FIELDS, RedactFilter, configure, redact_query
from conftest import FAKE_CLI
from test_http_server import AUTH, KEY, serve


def record(msg: str, *args: object, **extra: object) -> logging.LogRecord:
    rec = logging.LogRecord("agented.test", logging.INFO, __file__, 1, msg, args, None)
    for key, value in extra.items():
        setattr(rec, key, value)
    return rec


def test_json_records_carry_context_fields_and_redact_query_tokens() -> None:
    stream = io.StringIO()
    handler = configure("json", stream=stream)
    try:
        handler.handle(record("plain"))
        handler.handle(record("GET %s", "/x/events?after=3&token=abc.def", execution_id="E1"))
        token = FIELDS.set({"execution_id": "E2", "bot": "b", "delivery_id": None})
        try:
            handler.handle(record("in a run", attempt=2))
        finally:
            FIELDS.reset(token)
    finally:
        logging.getLogger().removeHandler(handler)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [line["message"] for line in lines] == [
        "plain",
        "GET /x/events?after=3&token=[redacted]",
        "in a run",
    ]
    assert "execution_id" not in lines[0] and lines[1]["execution_id"] == "E1"
    assert lines[2]["execution_id"] == "E2" and lines[2]["bot"] == "b"
    assert lines[2]["attempt"] == 2 and "delivery_id" not in lines[2]
    assert {"time", "level", "logger"} <= set(lines[0])


@given(
    st.text(
        alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.", min_size=8
    )
)
def test_no_secret_query_value_survives(value: str) -> None:
    for name in ("token", "api_key", "key", "TOKEN"):
        text = f"GET /a/b?x=1&{name}={value}&after=2 HTTP/1.1"
        out = redact_query(text)
        assert value not in out and "after=2" in out and "x=1" in out


def test_the_filter_redacts_uvicorn_access_arguments() -> None:
    rec = record('%s - "%s %s HTTP/%s" %d', "127.0.0.1:1", "GET", "/e?token=s3cr3t", "1.1", 200)
    RedactFilter().filter(rec)
    assert "s3cr3t" not in rec.getMessage() and "token=[redacted]" in rec.getMessage()


def test_log_format_is_checked_in_the_config(tmp_path: Path) -> None:
    path = tmp_path / "agented.toml"
    path.write_text('[agented]\nlog_format = "json"\n')
    assert load_config(path).settings.log_format == "json"
    path.write_text('[agented]\nlog_format = "yaml"\n')
    with pytest.raises(ConfigError, match="log_format"):
        load_config(path)


@pytest.mark.parametrize("how", ["flag", "config"])
def test_serve_writes_one_json_object_a_line_without_secrets(tmp_path: Path, how: str) -> None:
    config = tmp_path / "agented.toml"
    setting = 'log_format = "json"' if how == "config" else ""
    config.write_text(
        f"""
[agented]
database = "sqlite:///agented.db"
{setting}

[bots.hello]
command = ["{FAKE_CLI}", "say", "hello"]
on = [{{ manual = true }}]
"""
    )
    args = ("--log-format", "json") if how == "flag" else ()
    with (
        serve(config, *args, cwd=tmp_path, AGENTED_API_KEYS=KEY) as served,
        httpx.Client(base_url=served.url, timeout=20) as client,
    ):
        started = client.post("/agented/bots/hello/runs", headers=AUTH).json()
        execution_id = started["execution_id"]
        url = f"/agented/executions/{execution_id}"
        deadline = time.monotonic() + 20
        while client.get(url, headers=AUTH).json()["status"] != "succeeded":
            assert time.monotonic() < deadline, "the run did not finish"
            time.sleep(0.05)
        issued = client.post(f"{url}/stream-token", headers=AUTH).json()
        streamed = client.get(f"/agented/executions/{execution_id}/events.ndjson", headers=AUTH)
        assert streamed.status_code == 200
        by_token = client.get(issued["url"])
        assert by_token.status_code == 200
    lines = [line for line in served.stderr.splitlines() if line.strip()]
    assert lines, "nothing was logged"
    records = [json.loads(line) for line in lines]  # every line one JSON object
    finished = [r for r in records if r.get("execution_id") == execution_id]
    assert any("ended succeeded" in r["message"] and r["bot"] == "hello" for r in finished)
    access = [r for r in records if r["logger"] == "uvicorn.access"]
    assert any("stream-token" in r["message"] for r in access)
    assert any("token=[redacted]" in r["message"] for r in access)
    assert KEY not in served.stderr and issued["token"] not in served.stderr
