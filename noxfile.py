"""Development sessions: ``nox -s tests lint typecheck`` (the default) and ``nox -s realcli``."""

from __future__ import annotations

import nox

nox.options.sessions = ["tests", "lint", "typecheck"]
nox.options.reuse_existing_virtualenvs = True

SOURCES = ["src", "tests", "bench", "examples", "plugins", "noxfile.py"]
INSTALL = [
    "-e", ".[dev]",
    "-e", "plugins/agented-claude",
    "-e", "plugins/agented-codex",
    "-e", "plugins/agented-gemini",
    "-e", "plugins/agented-opencode",
    "-e", "plugins/agented-qwen",
    "-e", "plugins/agented-pi",
    "-e", "plugins/agented-kilo",
    "-e", "plugins/agented-github",
    "-e", "plugins/agented-redis",
    "-e", "plugins/agented-postgres",
    "-e", "plugins/agented-notify",
]  # fmt: skip
PLUGIN_PACKAGES = [
    "plugins/agented-claude/src/agented_claude",
    "plugins/agented-codex/src/agented_codex",
    "plugins/agented-gemini/src/agented_gemini",
    "plugins/agented-opencode/src/agented_opencode",
    "plugins/agented-qwen/src/agented_qwen",
    "plugins/agented-pi/src/agented_pi",
    "plugins/agented-kilo/src/agented_kilo",
    "plugins/agented-github/src/agented_github",
    "plugins/agented-redis/src/agented_redis",
    "plugins/agented-postgres/src/agented_postgres",
    "plugins/agented-notify/src/agented_notify",
    "examples/toy_provider/src/agented_toy",
]


@nox.session
def tests(session: nox.Session) -> None:
    """The test suite (pytest + hypothesis), real subprocesses and real SQLite files."""
    session.install(*INSTALL)
    session.run("pytest", *session.posargs)


@nox.session
def realcli(session: nox.Session) -> None:
    """Contract tests: the genuine agent CLIs against the fake model API (tests/fakeapi).

    The pinned CLIs are installed from npm into ~/.cache/agented-realcli (reused when there);
    without node/npm the tests are skipped with the reason (a failure under CI=true).
    """
    session.install(*INSTALL)
    session.run("pytest", "-m", "realcli", "tests/realcli", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff: lint and formatting."""
    session.install("ruff")
    session.run("ruff", "check", *SOURCES)
    session.run("ruff", "format", "--check", *SOURCES)


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy --strict over the packages and the plugins."""
    session.install(*INSTALL)
    session.run("mypy")
    session.run("mypy", *PLUGIN_PACKAGES)


@nox.session
def docs(session: nox.Session) -> None:
    """The docs site, strict: a broken link or a page missing from the nav fails the build."""
    session.install("-e", ".[docs]")
    session.run("mkdocs", "build", "--strict", "--site-dir", "site")
