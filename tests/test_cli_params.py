"""Typed run parameters through `agented run --param`, run as a real subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import FAKE_CLI

AGENTED = str(Path(sys.executable).parent / "agented")


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([AGENTED, *args], capture_output=True, text=True, timeout=60)


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "agented.toml"
    path.write_text(
        f"""
[agented]
database = "sqlite:///state/agented.db"

[bots.deploy]
command = ["{FAKE_CLI}", "say", "{{params.message}}|{{params.level}}|{{params.dry_run}}|{{params.count}}|{{params.ratio}}"]
on = [{{ manual = true, params = [
  "message",
  {{ name = "level", type = "choice", choices = ["low", "high"], default = "low" }},
  {{ name = "dry_run", type = "boolean", default = true, description = "print only" }},
  {{ name = "count", type = "integer", required = false }},
  {{ name = "ratio", type = "number", default = 0.5 }},
] }}]
"""
    )
    (tmp_path / "state").mkdir()
    return path


def said(result: subprocess.CompletedProcess[str]) -> list[str]:
    assert result.returncode == 0, result.stderr
    events = [json.loads(line) for line in result.stdout.splitlines()]
    return [e["text"] for e in events if e["kind"] == "text"]


@pytest.mark.parametrize(
    ("params", "text"),
    [
        (["message=hi"], "hi|low|true||0.5"),
        (
            ["message=", "level=high", "dry_run=no", "count=-3", "ratio=1e2"],
            "|high|false|-3|100.0",
        ),
        (["message=a=b", "dry_run=YES", "count=007", "ratio=2"], "a=b|low|true|7|2"),
    ],
)
def test_params_are_coerced_per_type_and_defaults_filled_in(
    config: Path, params: list[str], text: str
) -> None:
    args = [a for p in params for a in ("--param", p)]
    assert said(run("run", "deploy", "--config", str(config), "--json", *args)) == [text]


@pytest.mark.parametrize(
    ("params", "words"),
    [
        ([], ["missing required parameter 'message'"]),
        (["message=x", "level=mid"], ["parameter 'level': value must be one of 'low', 'high'"]),
        (["message=x", "dry_run=maybe"], ["'dry_run': value must be true or false; got 'maybe'"]),
        (["message=x", "count=1.5"], ["parameter 'count': value must be an integer; got '1.5'"]),
        (["message=x", "ratio=lots"], ["parameter 'ratio': value must be a number; got 'lots'"]),
        (["message=x", "lvl=high"], ["unknown parameter(s) lvl; declared: message, level,"]),
        (
            ["count=x", "ratio=y"],
            [
                "missing required parameter 'message'",
                "parameter 'count': value must be an integer; got 'x'",
                "parameter 'ratio': value must be a number; got 'y'",
            ],
        ),
    ],
)
def test_bad_params_exit_2_naming_them_and_write_nothing(
    config: Path, tmp_path: Path, params: list[str], words: list[str]
) -> None:
    args = [a for p in params for a in ("--param", p)]
    result = run("run", "deploy", "--config", str(config), *args)
    assert result.returncode == 2, (result.stdout, result.stderr)
    errors = result.stderr.splitlines()
    assert len(errors) == len(words)
    for line, part in zip(errors, words, strict=True):
        assert line.startswith("error: bot 'deploy': field 'params': ") and part in line
    assert result.stdout == ""
    assert not (tmp_path / "state" / "agented.db").exists()
