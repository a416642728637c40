"""`agented logs ID --grep TEXT` and `agented logs --grep TEXT` (every execution): locally and
with --url; `agented show` with the spend against the caps."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import FAKE_CLI
from test_cli_inspect import agented
from test_http_server import serve


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "agented.toml"
    path.write_text(
        f"""
[bots.say]
command = ["{FAKE_CLI}", "say", "{{params.first}}", "{{params.second}}"]
on = [{{ manual = true, params = ["first", "second"] }}]
max_cost_usd_per_day = 3.0
"""
    )
    return path


def ran(config: Path, first: str, second: str) -> str:
    done = agented(
        "run", "say", "-c", str(config), "-p", f"first={first}", "-p", f"second={second}"
    )
    assert done.returncode == 0, done.stderr
    return done.stderr.split()[0] if done.stderr.split() else ""


def newest(config: Path) -> list[str]:
    listed = agented("executions", "-c", str(config), "--json")
    return [json.loads(line)["id"] for line in listed.stdout.splitlines()]


def test_grep_in_one_execution_and_across_them(config: Path, tmp_path: Path) -> None:
    ran(config, "fatal: Connection refused", "retrying")
    ran(config, "all good", "bye")
    later, first = newest(config)
    one = agented("logs", first[:8], "-c", str(config), "--grep", "connection")
    assert one.returncode == 0
    assert [line for line in one.stdout.splitlines()] == [
        line for line in one.stdout.splitlines() if "Connection refused" in line
    ] and one.stdout.count("\n") == 1
    none = agented("logs", later, "-c", str(config), "--grep", "refused")
    assert none.returncode == 1 and "no event" in none.stderr
    every = agented("logs", "-c", str(config), "--grep", '"connection refused"')
    assert every.returncode == 0, every.stderr
    lines = every.stdout.splitlines()
    assert (
        lines[0].startswith(f"{first}  say  succeeded") and "fatal: Connection refused" in lines[1]
    )
    assert len(lines) == 2
    nothing = agented("logs", "-c", str(config), "--grep", "'; DROP TABLE events; --")
    assert nothing.returncode == 1 and "match" in nothing.stderr
    assert agented("logs", "-c", str(config)).returncode == 2  # neither an ID nor --grep
    assert agented("logs", "-c", str(config), "--grep", "***").returncode == 2
    with serve(config, cwd=tmp_path, AGENTED_API_KEYS="k") as served:
        url = f"{served.url}/agented"
        remote = agented("logs", "--url", url, "--grep", "refused", "--json", AGENTED_API_KEY="k")
        assert remote.returncode == 0, remote.stderr
        [record] = [json.loads(line) for line in remote.stdout.splitlines()]
        assert record["execution"]["id"] == first and record["matches"][0]["seq"] > 0
        grep = agented("logs", first, "--url", url, "--grep", "retrying", AGENTED_API_KEY="k")
        assert grep.returncode == 0 and grep.stdout.count("\n") == 1 and "retrying" in grep.stdout
        remote_show = agented("show", first, "--url", url, AGENTED_API_KEY="k")
    shown = agented("show", first, "-c", str(config))
    assert "spend" in shown.stdout and "max_cost_usd_per_day" in shown.stdout

    def spend(out: str) -> list[str]:
        return [line for line in out.splitlines() if "max_cost_usd_per_day" in line]

    # the server's GET /bots/{name} gives the same spend against the caps
    assert remote_show.returncode == 0, remote_show.stderr
    assert spend(remote_show.stdout) == spend(shown.stdout) != []
