"""`agented executions`, `show`, `logs`, `cancel`, `pause`, `resume`, `rerun` and `webhook test`:
locally and with --url."""

from __future__ import annotations

import getpass
import json
import os
import re
import sqlite3
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


def newest_id(listing: str) -> str:
    """The first id of an ``executions`` table (under its header row)."""
    header, first, *_ = listing.splitlines()
    assert header.split()[:2] == ["ID", "CREATED"]
    return first.split()[0]


def common_prefix(a: str, b: str) -> str:
    """The characters ``a`` and ``b`` start with alike."""
    same = 0
    while same < min(len(a), len(b)) and a[same] == b[same]:
        same += 1
    return a[:same]


def wait_for_status(execution_id: str, status: str, *source: str, **env: str) -> None:
    deadline = time.monotonic() + 30
    while f"status     {status}" not in agented("show", execution_id, *source, **env).stdout:
        assert time.monotonic() < deadline, f"{execution_id} never became {status}"


def test_executions_show_and_logs_locally(config: Path) -> None:
    ran = agented("run", "hello", "-c", str(config), "-p", "who=ada")
    assert ran.returncode == 0
    listed = agented("executions", "-c", str(config))
    assert listed.returncode == 0
    execution_id = newest_id(listed.stdout)
    assert f"execution {execution_id}" in ran.stderr  # printed as soon as it existed
    assert "hello" in listed.stdout and "succeeded" in listed.stdout
    as_json = [
        json.loads(line)
        for line in agented("executions", "-c", str(config), "--json").stdout.splitlines()
    ]
    assert as_json[0]["id"] == execution_id
    shown = agented("show", execution_id, "-c", str(config))
    assert shown.returncode == 0
    assert "status     succeeded" in shown.stdout
    assert "param      who = ada" in shown.stdout
    assert "command    echo 'hello ada'" in shown.stdout  # argv quoted as a shell would
    assert re.search(r"^duration   \d+(ms|\.\ds)$", shown.stdout, re.M)
    assert re.search(r"^attempt 1  shell: succeeded in \S+$", shown.stdout, re.M)
    logs = agented("logs", execution_id, "-c", str(config), "--json")
    kinds = [(e["kind"], e["text"]) for e in map(json.loads, logs.stdout.splitlines())]
    assert ("text", "hello ada") in kinds and kinds[-1] == ("status", "succeeded")
    missing = agented("show", "01NOPE", "-c", str(config))
    assert missing.returncode == 1 and "no execution" in missing.stderr
    filtered = agented("executions", "-c", str(config), "--status", "failed")
    assert filtered.stdout.strip() == "no executions"
    by_trigger = agented("executions", "-c", str(config), "--trigger", ran_as(execution_id, config))
    assert newest_id(by_trigger.stdout) == execution_id
    reruns = agented("executions", "-c", str(config), "--trigger", "rerun")
    assert reruns.stdout.strip() == "no executions"
    unknown = agented("executions", "-c", str(config), "--trigger", "cron")
    assert unknown.returncode == 2 and "invalid choice: 'cron'" in unknown.stderr


def ran_as(execution_id: str, config: Path) -> str:
    """The trigger of an execution, as ``show --json`` tells it."""
    shown = agented("show", execution_id, "-c", str(config), "--json")
    return str(json.loads(shown.stdout)["trigger"])


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
        execution_id = newest_id(agented("executions", "-c", str(config)).stdout)
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
        shown = agented("show", execution_id, "-c", str(config)).stdout
        assert re.search(r"^attempt 1  shell: cancelled in \S+$", shown, re.M), shown
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
        assert newest_id(listed.stdout) == execution_id
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

        # rerun prints the new id; the server runs it; a prefix names it
        rerun = agented("rerun", execution_id[:-2], "--url", url, AGENTED_API_KEY=key)
        assert rerun.returncode == 0, rerun.stderr
        new_id = rerun.stdout.strip()
        assert new_id != execution_id and len(new_id) == len(execution_id)
        short = new_id[: len(common_prefix(new_id, execution_id)) + 1]
        remote = ("--url", url)
        wait_for_status(short, "running", *remote, AGENTED_API_KEY=key)
        paused = agented("pause", short.lower(), *remote, AGENTED_API_KEY=key)
        assert paused.returncode == 0, paused.stderr
        wait_for_status(new_id, "paused", *remote, AGENTED_API_KEY=key)
        assert agented("resume", short, *remote, AGENTED_API_KEY=key).returncode == 0
        wait_for_status(new_id, "running", *remote, AGENTED_API_KEY=key)
        assert (
            f"rerun of   {execution_id}"
            in agented("show", short, *remote, AGENTED_API_KEY=key).stdout
        )
        ambiguous = agented("cancel", new_id[:2], *remote, AGENTED_API_KEY=key)
        assert ambiguous.returncode == 2
        assert new_id in ambiguous.stderr and execution_id in ambiguous.stderr
        assert agented("cancel", short, *remote, AGENTED_API_KEY=key).returncode == 0
        wait_for_status(new_id, "cancelled", *remote, AGENTED_API_KEY=key)
        missing = agented("show", "Z" + new_id[1:], *remote, AGENTED_API_KEY=key)
        assert missing.returncode == 1 and "no execution" in missing.stderr

        # the route behind it: ?prefix= combines with the other filters and pages
        def ids(**params: str | int) -> tuple[list[str], str | None]:
            page = httpx.get(f"{url}/executions", params=params, headers={"X-API-Key": key})
            assert page.status_code == 200, page.text
            return [e["id"] for e in page.json()["items"]], page.json()["next_cursor"]

        both = new_id[:2]
        assert ids(prefix=both) == ([new_id, execution_id], None)
        assert ids(prefix=both, limit=1) == ([new_id], new_id)
        assert ids(prefix=both, limit=1, cursor=new_id) == ([execution_id], None)
        assert ids(prefix=both, bot="hello") == ([], None)
        assert ids(prefix=short, status="cancelled") == ([new_id], None)


def test_an_id_prefix_names_the_one_execution_it_starts(config: Path) -> None:
    for who in ("ada", "bob"):
        assert agented("run", "hello", "-c", str(config), "-p", f"who={who}").returncode == 0
    newer, older = (
        json.loads(line)["id"]
        for line in agented("executions", "-c", str(config), "--json").stdout.splitlines()
    )
    common = common_prefix(newer, older)
    short = older[: len(common) + 1]
    shown = agented("show", short, "-c", str(config))
    assert shown.returncode == 0, shown.stderr
    assert f"execution  {older}" in shown.stdout and "who = ada" in shown.stdout
    lower = agented("logs", short.lower(), "-c", str(config), "--json")
    assert "hello ada" in lower.stdout  # ULIDs are case-blind
    ambiguous = agented("show", common, "-c", str(config))
    assert ambiguous.returncode == 2  # a usage problem: say more
    assert newer in ambiguous.stderr and older in ambiguous.stderr
    unknown = agented("cancel", "Z" + newer[1:], "-c", str(config))
    assert unknown.returncode == 1 and "no execution" in unknown.stderr


def test_pause_resume_and_rerun_locally(config: Path) -> None:
    runner = subprocess.Popen(
        [AGENTED, "run", "long", "-c", str(config), "--plain"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert runner.stderr is not None and runner.stdout is not None
        # the id comes first, before any event
        execution_id = runner.stderr.readline().split()[-1]
        for line in runner.stdout:
            if "started" in line:
                break
        short = execution_id[:-4]
        paused = agented("pause", short, "-c", str(config))
        assert paused.returncode == 0, paused.stderr
        assert paused.stdout.startswith(f"{execution_id}: pause requested")
        wait_for_status(execution_id, "paused", "-c", str(config))
        again = agented("pause", short, "-c", str(config))
        assert again.returncode == 1 and "only a running execution" in again.stderr
        assert agented("resume", short, "-c", str(config)).returncode == 0
        wait_for_status(execution_id, "running", "-c", str(config))
        assert agented("cancel", short, "-c", str(config)).returncode == 0
        assert runner.wait(timeout=30) == 4
    finally:
        if runner.poll() is None:
            runner.kill()
            runner.wait()
    # a rerun here runs in the foreground, like `run`, and exits like it
    assert agented("run", "hello", "-c", str(config), "-p", "who=ada").returncode == 0
    first = newest_id(agented("executions", "-c", str(config)).stdout)
    rerun = agented("rerun", first[:-3], "-c", str(config), "--json")
    assert rerun.returncode == 0, rerun.stderr
    new_id = rerun.stderr.split()[1]
    assert new_id != first
    texts = [json.loads(line)["text"] for line in rerun.stdout.splitlines()]
    assert "hello ada" in texts and texts[-1] == "succeeded"
    shown = agented("show", new_id, "-c", str(config)).stdout
    assert f"rerun of   {first}" in shown and "(rerun)" in shown
    # each local action is in the audit log, by the user who ran the command
    with sqlite3.connect(config.parent / "agented.db") as db:
        audited = db.execute("SELECT actor, action, execution_id FROM audit ORDER BY id").fetchall()
    actor = f"cli:{getpass.getuser()}"
    assert audited == [
        (actor, "run", execution_id),
        (actor, "pause", execution_id),
        (actor, "resume", execution_id),
        (actor, "cancel", execution_id),
        (actor, "run", first),
        (actor, "rerun", new_id),
    ]


def test_executions_table_has_a_header_durations_costs_and_marks_cuts(tmp_path: Path) -> None:
    path = tmp_path / "agented.toml"
    path.write_text(
        f"""
[bots.a-bot-whose-name-is-far-too-long-for-its-column]
command = ["{FAKE_CLI}", "usage", "2", "0.25", "10"]
options = {{ format = "events" }}
on = [{{ manual = true }}]

[bots.broken]
command = ["{FAKE_CLI}", "exit", "3", "{"x" * 100}"]
on = [{{ manual = true }}]
"""
    )
    agented("run", "a-bot-whose-name-is-far-too-long-for-its-column", "-c", str(path))
    agented("run", "broken", "-c", str(path))
    header, broken, spender = agented("executions", "-c", str(path)).stdout.splitlines()
    assert header.split() == [
        "ID", "CREATED", "BOT", "STATUS", "WHERE", "DURATION", "COST", "ERROR"
    ]  # fmt: skip
    assert "a-bot-whose-name-is-far…" in spender.split()
    assert "$0.5000" in spender.split()
    assert broken.endswith("…") and "x" * 30 in broken
    start = header.index("DURATION")
    for row in (broken, spender):
        assert re.fullmatch(r"\d+(ms|\.\ds)", row[start:].split()[0])
