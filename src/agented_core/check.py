"""``agented check``: every problem of a config file in one run, each with its place.

The file is read leniently (:func:`agented_core.config.parse_config`), so an unknown key or a bad
value does not hide the problems after it; what could be read is then validated with the plugins
(:mod:`agented_core.validation`) and checked for readiness on this machine
(:mod:`agented_core.readiness`, warnings unless ``strict``). Each problem gets its line where the
TOML text shows it (:mod:`agented_core.config_lines`). Nothing is run or written.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from pathlib import Path

import attrs
from attrs import frozen

from .config import Config, parse_config
from .config_lines import locate
from .errors import Problem
from .plugins import Plugins
from .readiness import readiness
from .validation import validate

__all__ = ["CheckReport", "check_file"]

_TOML_LINE = re.compile(r"at line (\d+)")


@frozen
class CheckReport:
    """What :func:`check_file` found: the config as read (``None`` if unreadable) and problems."""

    file: str
    config: Config | None
    problems: list[Problem]

    @property
    def errors(self) -> list[Problem]:
        """The problems that fail the check."""
        return [p for p in self.problems if not p.warning]

    @property
    def warnings(self) -> list[Problem]:
        """The problems that do not fail it (unless ``strict``)."""
        return [p for p in self.problems if p.warning]


def check_file(
    path: str | Path,
    plugins: Plugins,
    *,
    strict: bool = False,
    environ: Mapping[str, str] | None = None,
) -> CheckReport:
    """Every problem of the config file at ``path``; readiness warnings are errors if ``strict``."""
    file = Path(path).expanduser()
    name = str(file)
    try:
        text = file.read_bytes().decode("utf-8")
    except FileNotFoundError:
        return CheckReport(name, None, [Problem("config file not found", file=name)])
    except OSError as exc:
        return CheckReport(name, None, [Problem(f"cannot read: {exc.strerror}", file=name)])
    except UnicodeDecodeError as exc:
        return CheckReport(name, None, [Problem(f"not valid UTF-8: {exc}", file=name)])
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        found = _TOML_LINE.search(str(exc))
        line = int(found.group(1)) if found else None
        return CheckReport(name, None, [Problem(f"not valid TOML: {exc}", file=name, line=line)])
    config, problems = parse_config(data, path=file.resolve(), keys=plugins.config_keys())
    flagged = {(p.bot, p.field) for p in problems}
    # a value the reader refused was left out; what validation says about its default is noise
    problems += [p for p in validate(config, plugins) if (p.bot, p.field) not in flagged]
    for problem in readiness(config, plugins, environ):
        problems.append(attrs.evolve(problem, warning=False) if strict else problem)
    located = locate(problems, text)
    located.sort(key=lambda p: p.line if p.line is not None else float("inf"))
    return CheckReport(str(config.path), config, located)
