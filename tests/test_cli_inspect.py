"""`agented executions`, `show`, `logs`, `cancel` and `webhook test`: locally and with --url."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import FAKE_CLI, FIXTURES_DIR
from test_http_server import serve

AGENTED = str(Path(sys.executable).parent / "agented")


def agented(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [AGENTED, *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **env},
    )


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "agented.toml"
    path.write_text(
        f"""
[bots.hello]
command = ["echo", "hello {{params.who}}"]
on = [{{ manual = true, params = ["who"] }}]

[bots.long]
command = ["{FAKE_CLI}", "sleep", "60"]
on = [{{ manual = true }}]

[bots.review]
prompt = "Review PR #{{pr.number}}: {{pr.title}}"
command = ["{FAKE_CLI}", "echo-stdin"]
on = [{{ github = "pull_request", actions = ["opened"] }}]
"""
    )
    return path


def test_executions_show_and_logs_locally(config: Path) -> None:
    assert agented("run", "hello", "-c", str(config), "-p", "who=ada").returncode == 0
    listed = agented("executions", "-c", str(config))
    assert listed.returncode == 0
    execution_id = listed.stdout.split()[0]
    assert "hello" in listed.stdout and "succeeded" in listed.stdout
    as_json = [
        json.loads(line)
        for line in agented("executions", "-c", str(config), "--json").stdout.splitlines()
    ]
    assert as_json[0]["id"] == execution_id
    shown = agented("show", execution_id, "-c", str(config))
    assert shown.returncode == 0
    assert "status     succeeded" in shown.stdout
    assert "attempt 1  shell: ok -> done" in shown.stdout
    logs = agented("logs", execution_id, "-c", str(config), "--json")
    kinds = [(e["kind"], e["text"]) for e in map(json.loads, logs.stdout.splitlines())]
    assert ("text", "hello ada") in kinds and kinds[-1] == ("status", "succeeded")
    missing = agented("show", "01NOPE", "-c", str(config))
    assert missing.returncode == 1 and "no execution" in missing.stderr
    filtered = agented("executions", "-c", str(config), "--status", "failed")
    assert filtered.stdout.strip() == "no executions"


def test_logs_follow_and_cancel_a_run_of_another_process(config: Path) -> None:
    runner = subprocess.Popen(
        [AGENTED, "run", "long", "-c", str(config), "--plain"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert runner.stdout is not None
        for line in runner.stdout:
            if "started" in line:
                break
        execution_id = agented("executions", "-c", str(config)).stdout.split()[0]
        follower = subprocess.Popen(
            [AGENTED, "logs", execution_id, "-c", str(config), "--follow"],
            stdout=subprocess.PIPE,
            text=True,
        )
        cancelled = agented("cancel", execution_id, "-c", str(config))
        assert cancelled.returncode == 0, cancelled.stderr
        out, _ = follower.communicate(timeout=30)
        assert out.splitlines()[-1].split()[1:] == ["status", "cancelled"]
        assert runner.wait(timeout=30) == 4
        again = agented("cancel", execution_id, "-c", str(config))
        assert again.returncode == 1 and "already cancelled" in again.stderr
    finally:
        if runner.poll() is None:
            runner.kill()


def test_webhook_test_is_a_dry_run(config: Path) -> None:
    payload = FIXTURES_DIR / "webhooks" / "pull_request.opened.json"
    body = json.loads(payload.read_text())
    result = agented("webhook", "test", str(payload), "--event", "pull_request", "-c", str(config))
    assert result.returncode == 0, result.stderr
    assert "would start review:" in result.stdout
    assert f"Review PR #{body['number']}: {body['pull_request']['title']}" in result.stdout
    as_json = agented(
        "webhook", "test", str(payload), "--event", "issues", "-c", str(config), "--json"
    )
    assert json.loads(as_json.stdout)["matches"] == []
    assert not (config.parent / "agented.db").exists()  # nothing was opened or written


def test_the_same_commands_against_a_server(config: Path, tmp_path: Path) -> None:
    key = "cli-remote-key"
    with serve(config, cwd=tmp_path, AGENTED_API_KEYS=key) as served:
        url = f"{served.url}/agented"
        import httpx

        started = httpx.post(f"{url}/bots/long/runs", headers={"X-API-Key": key}, json={})
        execution_id = started.json()["execution_id"]
        listed = agented("executions", "--url", url, AGENTED_API_KEY=key)
        assert listed.returncode == 0, listed.stderr
        assert listed.stdout.split()[0] == execution_id
        unauthorized = agented("executions", "--url", url, AGENTED_API_KEY="wrong")
        assert unauthorized.returncode == 2 and "AGENTED_API_KEY" in unauthorized.stderr
        follower = subprocess.Popen(
            [AGENTED, "logs", execution_id, "--url", url, "--follow", "--json"],
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "AGENTED_API_KEY": key},
        )
        deadline = time.monotonic() + 20
        while (
            agented("show", execution_id, "--url", url, "--json", AGENTED_API_KEY=key).stdout.count(
                '"running"'
            )
            == 0
        ):
            assert time.monotonic() < deadline
        assert agented("cancel", execution_id, "--url", url, AGENTED_API_KEY=key).returncode == 0
        out, _ = follower.communicate(timeout=30)
        events = [json.loads(line) for line in out.splitlines()]
        assert events[-1]["data"]["status"] == "cancelled"
        assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
        shown = agented("show", execution_id, "--url", url, AGENTED_API_KEY=key)
        assert "status     cancelled" in shown.stdout
