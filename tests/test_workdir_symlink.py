"""A templated workdir is checked by its real path: a symlink below the base cannot lead out."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from agented_core.errors import TemplateError
from agented_core.run._prompts import render_workdir

AGENTED = str(Path(sys.executable).parent / "agented")


@pytest.fixture
def base(tmp_path: Path) -> Path:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "marker").write_text("outside")
    base = tmp_path / "base"
    (base / "wd" / "inner").mkdir(parents=True)
    (base / "wd" / "link").symlink_to(outside)
    (base / "wd" / "etc").symlink_to("/etc")
    (base / "wd" / "ok").symlink_to(base / "wd" / "inner")  # stays inside: fine
    return base


@pytest.mark.parametrize("value", ["link", "etc", "link/sub", "ok/../../link"])
def test_a_symlink_out_of_the_root_is_refused(base: Path, value: str) -> None:
    with pytest.raises(TemplateError, match=r"leaves|outside"):
        render_workdir("wd/{params.dir}", {"params": {"dir": value}}, base)


def test_a_symlink_inside_the_root_resolves_to_its_real_path(base: Path) -> None:
    got = render_workdir("wd/{params.dir}", {"params": {"dir": "ok"}}, base)
    assert got == (base / "wd" / "inner").resolve()


def test_a_run_never_starts_in_the_symlinked_directory(base: Path) -> None:
    config = base / "agented.toml"
    config.write_text(
        '[bots.where]\ncommand = ["cat", "marker"]\nworkdir = "wd/{params.dir}"\n'
        'on = [{ manual = true, params = ["dir"] }]\n'
    )
    result = subprocess.run(
        [AGENTED, "run", "where", "-c", str(config), "-p", "dir=link", "--plain"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "symbolic link" in result.stderr and str(base.parent / "outside") in result.stderr
    assert "running" not in result.stdout  # refused before a process started
