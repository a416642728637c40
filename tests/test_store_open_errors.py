"""A locked or damaged database: one line naming the file, exit 2, nothing changed."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

AGENTED = str(Path(sys.executable).parent / "agented")
# holds an exclusive lock on the database until stdin closes
HOLD_LOCK = """
import sqlite3, sys
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
sys.stdin.read()
"""


def agented(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "AGENTED_API_KEYS": "k"}
    return subprocess.run(
        [AGENTED, *args], capture_output=True, text=True, timeout=60, cwd=cwd, env=env
    )


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "agented.toml"
    path.write_text('[bots.hello]\ncommand = ["echo", "hi"]\non = [{ manual = true }]\n')
    return path


def files(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.iterdir()}


def test_a_damaged_database_is_one_line_and_exit_2_in_every_command(
    config: Path, tmp_path: Path
) -> None:
    (tmp_path / "agented.db").write_bytes(b"this is not a database " * 200)
    before = files(tmp_path)
    for args in (["run", "hello"], ["serve", "--port", "0"], ["executions"], ["prune"]):
        result = agented(*args, "-c", str(config), cwd=tmp_path)
        assert result.returncode == 2, (args, result.stderr)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, (args, result.stderr)
        assert str(tmp_path / "agented.db") in lines[0] and "backup" in lines[0]
        assert "Traceback" not in result.stderr + result.stdout
    assert files(tmp_path) == before


def test_a_locked_database_is_waited_for_then_one_line_and_exit_2(
    config: Path, tmp_path: Path
) -> None:
    assert agented("run", "hello", "-c", str(config), cwd=tmp_path).returncode == 0
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(tmp_path / "agented.db")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "locked\n"
        result = agented("run", "hello", "-c", str(config), cwd=tmp_path)
    finally:
        holder.communicate("", timeout=30)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "locked" in lines[0] and "agented.db" in lines[0]
    assert "Traceback" not in result.stderr
    listed = agented("executions", "-c", str(config), cwd=tmp_path)
    # the header row and the one execution: nothing was added
    assert listed.returncode == 0 and len(listed.stdout.splitlines()) == 2
