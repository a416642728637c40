"""Every example runs as written."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from agented_core import Agented
from agented_core.config import load_config
from agented_core.plugins import Plugins
from agented_core.validation import validate
from conftest import FIXTURES_DIR
from http_support import bind

EXAMPLES = Path(__file__).parent.parent / "examples"
AGENTED = str(Path(sys.executable).parent / "agented")


def copy_example(name: str, tmp_path: Path) -> Path:
    """An example copied away from the repo, so its database lands in a temporary folder."""
    for file in EXAMPLES.glob("*.toml"):
        shutil.copy(file, tmp_path / file.name)
    for file in EXAMPLES.glob("*.py"):
        shutil.copy(file, tmp_path / file.name)
    return tmp_path / name


def test_starlette_host_serves_its_routes_and_agented(tmp_path: Path) -> None:
    script = copy_example("starlette_host.py", tmp_path)
    with bind() as sock:
        port = sock.getsockname()[1]
    env = {**os.environ, "PORT": str(port), "AGENTED_API_KEYS": "host-key"}
    server = subprocess.Popen(
        [sys.executable, str(script)],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/bots-api/health").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline and server.poll() is None
        assert httpx.get(f"{base}/").json()["bots"] == ["count", "hello"]
        assert httpx.get(f"{base}/bots-api/bots").status_code == 401
        started = httpx.post(
            f"{base}/bots-api/bots/hello/runs",
            headers={"X-API-Key": "host-key"},
            json={"params": {"message": "from my app"}},
        )
        assert started.status_code == 202
        log = httpx.get(
            f"{base}/bots-api/executions/{started.json()['execution_id']}/events.ndjson",
            headers={"X-API-Key": "host-key"},
            params={"follow": "true"},
            timeout=30,
        )
        texts = [json.loads(line)["text"] for line in log.text.splitlines()]
        assert "hello from my app" in texts and texts[-1] == "succeeded"
    finally:
        server.terminate()
        code = server.wait(timeout=30)
        # uvicorn shuts down gracefully, then re-raises SIGTERM (exit -15) as its default
        assert code in (0, -15)
        assert server.stderr is not None
        assert "Application shutdown complete" in server.stderr.read()


def test_flask_app(tmp_path: Path) -> None:
    pytest.importorskip("flask")
    sys.path.insert(0, str(EXAMPLES))
    try:
        import flask_app
    finally:
        sys.path.remove(str(EXAMPLES))
    app, handle = flask_app.create_app(database=f"sqlite:///{tmp_path / 'flask.db'}")
    try:
        client = app.test_client()
        created = client.post("/hello?who=flask")
        assert created.status_code == 202
        shown = client.get(f"/runs/{created.get_json()['id']}").get_json()
        assert shown["status"] == "succeeded"
        assert "text: hello flask" in shown["log"]
        for wait in ("1", "0"):
            missing = client.get(f"/runs/01NOSUCHRUN?wait={wait}")
            assert missing.status_code == 404
            assert missing.get_json()["error"] == "not_found"
    finally:
        handle.__exit__(None, None, None)


def test_pr_review_config_checks_and_matches_a_pull_request(tmp_path: Path) -> None:
    config = copy_example("pr-review.toml", tmp_path)
    plugins = Plugins()
    if not {"claude", "codex"} <= set(plugins.providers) or "github" not in plugins.sources:
        pytest.skip("the claude, codex and github plugins are not installed")
    loaded = load_config(config, keys=plugins.config_keys())
    assert [p for p in validate(loaded, plugins) if not p.warning] == []
    payload = FIXTURES_DIR / "webhooks" / "pull_request.opened.json"
    body = json.loads(payload.read_text())
    body["pull_request"]["base"]["ref"] = "main"
    (tmp_path / "pr.json").write_text(json.dumps(body))
    result = subprocess.run(
        [
            AGENTED,
            "webhook",
            "test",
            str(tmp_path / "pr.json"),
            "--event",
            "pull_request",
            "--config",
            str(config),
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    matches = json.loads(result.stdout)["matches"]
    assert [m["bot"] for m in matches] == ["pr-review"]
    prompt = matches[0]["prompt"]
    assert f"Review pull request #{body['number']} in {body['repository']['full_name']}" in prompt
    assert "```untrusted" in prompt  # the author's text is fenced


@pytest.mark.anyio
async def test_nightly_schedule(tmp_path: Path) -> None:
    config = copy_example("nightly.toml", tmp_path)
    async with Agented.open(config=config, entry_points=False) as ag:
        after = datetime(2026, 3, 28, 12, 0, tzinfo=UTC)
        # 03:00 in Berlin: 02:00 UTC before the spring change, 01:00 UTC after it
        assert ag.scheduler.next_fire("disk-report", after) == datetime(
            2026, 3, 29, 1, 0, tzinfo=UTC
        )
        execution = await ag.run("disk-report")
        done = await ag.wait(execution.id, timeout=30)
    assert done.status.value == "succeeded"


def test_the_readme_lists_every_example() -> None:
    readme = (EXAMPLES / "README.md").read_text()
    for entry in EXAMPLES.iterdir():
        if entry.name in ("README.md", "__pycache__") or ".db" in entry.name:
            continue
        name = f"{entry.name}/" if entry.is_dir() else entry.name
        assert f"[`{name}`]" in readme, f"examples/README.md does not list {name}"
