"""The repository stands alone: no file reads fixtures or code from outside the clone."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHECKED = ("tests", "src", "plugins", "examples", "bench", "docs", ".ci", "README.md", "noxfile.py")
# Spelled in pieces so that this file does not match itself.
OUTSIDE = re.compile(
    "|".join(
        [
            re.escape("../" + "shared"),
            re.escape("shared" + "/fixtures"),
            r"(?<![\w~.])" + re.escape("/work" + "/"),
            r"(?<![\w~.])" + re.escape(str(ROOT.parent) + "/")
            if str(ROOT.parent) != "/"
            else "(?!)",
        ]
    )
)


def tracked_files() -> list[Path]:
    try:
        out = subprocess.run(
            ["git", "ls-files", "-z", "--", *CHECKED],
            cwd=ROOT,
            capture_output=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout: the files to check are the ones git tracks")
    return [ROOT / name for name in out.decode().split("\0") if name]


def test_no_file_refers_outside_the_repository() -> None:
    found = []
    for path in tracked_files():
        if not path.is_file():
            continue
        try:
            text = path.read_text()
        except UnicodeDecodeError:
            continue
        for number, line in enumerate(text.splitlines(), 1):
            if OUTSIDE.search(line):
                found.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()[:120]}")
    assert not found, "files refer to paths outside the repository:\n" + "\n".join(found)


def test_every_fixture_folder_is_cited_in_sources() -> None:
    fixtures = ROOT / "tests" / "fixtures"
    sources = (fixtures / "SOURCES.md").read_text()
    folders = sorted(p.name for p in fixtures.iterdir() if p.is_dir() and p.name != "__pycache__")
    assert folders, "no fixture folders"
    missing = [name for name in folders if f"`{name}/`" not in sources]
    assert not missing, f"fixture folders not in SOURCES.md: {missing}"
    webhooks = sorted(p.name for p in (fixtures / "webhooks").glob("*.json"))
    assert [name for name in webhooks if f"`webhooks/{name}`" not in sources] == []
    streams = sorted(
        p.name for p in (fixtures / "streams").iterdir() if p.is_file() and p.suffix != ".md"
    )
    assert [name for name in streams if f"`streams/{name}`" not in sources] == []
