"""The `agented` command, run as a real subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import FAKE_CLI

AGENTED = str(Path(sys.executable).parent / "agented")
EXAMPLE = Path(__file__).parent.parent / "examples" / "agented.toml"


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([AGENTED, *args], capture_output=True, text=True, timeout=60, cwd=cwd)


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "agented.toml"
    path.write_text(
        f"""
[agented]
database = "sqlite:///state/agented.db"

[bots.hello]
command = ["echo", "hello {{params.message}}"]
on = [{{ manual = true, params = [{{ name = "message", default = "" }}] }}]

[bots.fails]
command = ["{FAKE_CLI}", "exit", "9", "it broke"]
on = [{{ manual = true }}]

[bots.slow]
command = ["{FAKE_CLI}", "sleep", "60"]
timeout = "0.3s"
on = [{{ manual = true }}]

[bots.spender]
command = ["{FAKE_CLI}", "usage", "30", "0.5", "10"]
options = {{ format = "events" }}
max_cost_usd = 1.0
on = [{{ manual = true }}]
"""
    )
    (tmp_path / "state").mkdir()
    return path


def test_readme_main_job_runs_the_example(tmp_path: Path) -> None:
    result = run("run", "hello", "--config", str(EXAMPLE), "--param", "message=world")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert [line.split(None, 2)[1:] for line in lines] == [
        ["status", "queued"],
        ["status", "running"],
        ["text", "hello world"],
        ["status", "succeeded"],
    ]


@pytest.mark.parametrize(
    ("bot", "code", "status"),
    [
        ("hello", 0, "succeeded"),
        ("fails", 1, "failed"),
        ("slow", 3, "timed_out"),
        ("spender", 5, "budget_exceeded"),
    ],
)
def test_exit_codes_follow_the_status(config: Path, bot: str, code: int, status: str) -> None:
    result = run("run", bot, "--config", str(config), "--json")
    assert result.returncode == code, result.stderr
    events = [json.loads(line) for line in result.stdout.splitlines()]
    assert events[-1]["kind"] == "status"
    assert events[-1]["data"]["status"] == status
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))


def test_usage_errors_exit_2_and_write_nothing(config: Path, tmp_path: Path) -> None:
    for args in (
        ["run", "nope", "--config", str(config)],
        ["run", "hello", "--config", str(config), "--param", "oops"],
        ["run", "hello", "--config", str(config), "--param", "wrong=1"],
        ["run", "hello", "--config", str(tmp_path / "missing.toml")],
        ["run"],
        ["frobnicate"],
    ):
        result = run(*args)
        assert result.returncode == 2, (args, result.stdout, result.stderr)
    assert not (tmp_path / "state" / "agented.db").exists()


def test_check_reports_each_problem(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[bots.a]\ncommand = ["echo", "{params.x}"]\n[bots.b]\nprovider = "nope"\n')
    result = run("check", "--config", str(bad))
    assert result.returncode == 1
    assert "bot 'a': field 'command[1]'" in result.stdout
    assert "bot 'b': field 'provider': unknown provider 'nope'" in result.stdout
    ok = run("check", "--config", str(EXAMPLE))
    assert ok.returncode == 0 and ok.stdout.startswith("ok:")


def test_prune_and_version(config: Path) -> None:
    assert run("run", "hello", "--config", str(config)).returncode == 0
    result = run("prune", "--config", str(config))
    assert result.returncode == 0
    assert "pruned 0 execution(s)" in result.stdout
    version = run("version")
    assert version.returncode == 0 and version.stdout.startswith("agented ")


def test_config_defaults_to_the_working_directory(config: Path) -> None:
    result = run("run", "hello", "--param", "message=cwd", cwd=config.parent)
    assert result.returncode == 0
    assert "hello cwd" in result.stdout


def test_a_reader_that_goes_away_ends_the_command_quietly(tmp_path: Path) -> None:
    path = tmp_path / "agented.toml"
    path.write_text(
        f'[bots.chatty]\ncommand = ["{FAKE_CLI}", "flood", "20000"]\non = [{{ manual = true }}]\n'
    )
    # like `agented run chatty | head -1`
    process = subprocess.Popen(
        [AGENTED, "run", "chatty", "--config", str(path), "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None and process.stderr is not None
    assert json.loads(process.stdout.readline())["kind"] == "status"
    process.stdout.close()
    assert process.wait(timeout=60) == 1
    assert "Traceback" not in process.stderr.read()
