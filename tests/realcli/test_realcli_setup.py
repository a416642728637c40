"""The realcli installer's rules, checked without npm (fast; part of the default run)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import clis
import pytest

HERE = Path(__file__).parent


def test_the_cache_is_outside_the_source_tree(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("AGENTED_REALCLI_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert clis.cache_root() == tmp_path / "agented-realcli"
    monkeypatch.setenv("AGENTED_REALCLI_CACHE", str(tmp_path / "elsewhere"))
    assert clis.cache_root() == tmp_path / "elsewhere"
    repo = HERE.parent.parent.resolve()
    monkeypatch.delenv("AGENTED_REALCLI_CACHE")
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert repo not in clis.cache_root().resolve().parents


def test_without_node_the_reason_says_what_is_missing(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("AGENTED_REALCLI_CACHE", str(tmp_path / "cache"))
    with pytest.raises(clis.Unavailable, match="node and npm not found on PATH"):
        clis.ensure("claude")


def run_realcli(tmp_path: Path, ci: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "PATH": str(Path(sys.executable).parent),  # python, but no node / npm
        "AGENTED_REALCLI_CACHE": str(tmp_path / "empty-cache"),
        "CI": ci,
    }
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-m", "realcli", "-q", "-p", "no:cacheprovider",
         str(HERE / "test_claude_realcli.py"), "-k", "text_tokens"],
        capture_output=True, text=True, env=env, cwd=HERE.parent.parent, timeout=120,
    )  # fmt: skip


def test_without_node_realcli_is_skipped_with_the_reason(tmp_path: Path) -> None:
    done = run_realcli(tmp_path, ci="")
    assert done.returncode == 0, done.stdout
    assert "1 skipped" in done.stdout and "node and npm not found on PATH" in done.stdout


def test_under_ci_a_missing_node_is_a_failure(tmp_path: Path) -> None:
    done = run_realcli(tmp_path, ci="true")
    assert done.returncode == 1, done.stdout
    assert "realcli cannot run under CI" in done.stdout
