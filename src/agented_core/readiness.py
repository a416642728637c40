"""Can the configured bots run here: CLIs on PATH at supported versions, host variables, workdirs.

These are facts of the machine, not of the configuration, so they are warnings (``agented check
--strict`` makes them errors): a provider's CLI missing from PATH (with the plugin's pinned
install command) or of a version the plugin does not support; host variables named in an
account's ``env_from`` that are unset; a workdir that does not exist; a fallback chain in which
no entry can run; git missing while a bot checks out code. :func:`cli_statuses` gives the CLI
facts alone, for ``agented version`` and ``GET /health/ready``.
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from attrs import frozen

from .config import Config
from .errors import Problem
from .models import Account, Bot, ChainEntry
from .plugins import Plugins
from .providers.base import Provider, version_tuple
from .run._prompts import placeholders

__all__ = ["CLIStatus", "cli_status", "cli_statuses", "readiness"]


@frozen
class CLIStatus:
    """A provider's CLI as found here: where, which version, and what is wrong with it."""

    provider: str
    executable: str
    path: str | None = None
    version: str | None = None
    supported: tuple[str, str] | None = None
    install: str | None = None

    @property
    def found(self) -> bool:
        """True when the executable exists (on PATH, or at the path given)."""
        return self.path is not None

    @property
    def problem(self) -> str | None:
        """Why the CLI cannot be used as is: missing, or a version the plugin does not support."""
        if self.path is None:
            how = f"; install it with: {self.install}" if self.install else ""
            return f"the {self.provider} CLI {self.executable!r} is not on PATH{how}"
        if self.supported and self.version:
            low, high = self.supported
            if not version_tuple(low) <= version_tuple(self.version) < version_tuple(high):
                pin = f" ({self.install})" if self.install else ""
                return (
                    f"the {self.provider} CLI at {self.path} is version {self.version}; the "
                    f"plugin supports {low} up to (not including) {high}{pin}"
                )
        return None

    def data(self) -> dict[str, Any]:
        """JSON-ready: for ``GET /health/ready``."""
        return {
            "executable": self.executable,
            "path": self.path,
            "version": self.version,
            "supported": list(self.supported) if self.supported else None,
            "problem": self.problem,
        }

    def describe(self) -> str:
        """One line for ``agented version``."""
        if self.path is None:
            return f"missing ({self.executable!r} not on PATH)" + (
                f"; install: {self.install}" if self.install else ""
            )
        text = f"{self.path}, version {self.version or 'unknown'}"
        if self.problem and self.supported:
            low, high = self.supported
            text += f" (unsupported: the plugin supports {low} up to {high})"
        return text


_versions: dict[tuple[str, int, int], str | None] = {}
_versions_lock = threading.Lock()


def _version(provider: Provider, path: str) -> str | None:
    """The CLI's version, probed once per file (path, size and modification time)."""
    try:
        stat = os.stat(path)
    except OSError:
        return None
    key = (path, stat.st_size, stat.st_mtime_ns)
    with _versions_lock:
        if key in _versions:
            return _versions[key]
    version = provider.cli_version(path)
    with _versions_lock:
        _versions[key] = version
    return version


def cli_status(
    provider: Provider, bot: Bot | None = None, *, search_path: str | None = None
) -> CLIStatus | None:
    """The CLI ``provider`` runs for ``bot`` (or by default); ``None`` when it runs none."""
    executable = provider.cli_executable(bot)
    if not executable:
        return None
    if search_path is None:
        search_path = (bot.env.get("PATH") if bot else None) or os.environ.get("PATH", "")
    found = shutil.which(os.path.expanduser(executable), path=search_path)
    path = os.path.abspath(found) if found else None
    return CLIStatus(
        provider=provider.name,
        executable=executable,
        path=path,
        version=_version(provider, path) if path else None,
        supported=provider.supported_versions,
        install=provider.install_command,
    )


def cli_statuses(plugins: Plugins) -> dict[str, CLIStatus | None]:
    """Each registered provider's default CLI, by provider name (``None``: it runs no CLI)."""
    return {name: cli_status(plugins.providers[name]) for name in sorted(plugins.providers)}


def readiness(
    config: Config, plugins: Plugins, environ: Mapping[str, str] | None = None
) -> list[Problem]:
    """Every readiness warning of ``config`` on this machine (see the module docstring)."""
    environ = os.environ if environ is None else environ
    file = str(config.path) if config.path else None
    out: list[Problem] = []
    unset: dict[str, list[str]] = {}
    for name, account in config.accounts.items():
        missing = _unset(account, environ)
        unset[name] = missing
        for child in missing:
            out.append(
                Problem(
                    f"host variable {account.env_from[child]!r} is unset, so {child} cannot be "
                    f"set for account {name!r}",
                    file=file,
                    field=f"accounts.{name}.env_from.{child}",
                    warning=True,
                )
            )
    for bot in config.bots.values():
        out.extend(_bot_readiness(bot, config, plugins, unset, file))
    checkouts = [bot.name for bot in config.bots.values() if bot.checkout.enabled]
    if checkouts and shutil.which("git", path=environ.get("PATH", "")) is None:
        out.append(
            Problem(
                "git is not on PATH, and bot(s) " + ", ".join(checkouts) + " check out code",
                file=file,
                field="checkout",
                warning=True,
            )
        )
    return out


def _unset(account: Account, environ: Mapping[str, str]) -> list[str]:
    return [child for child, host in account.env_from.items() if host not in environ]


def _bot_readiness(
    bot: Bot,
    config: Config,
    plugins: Plugins,
    unset: Mapping[str, list[str]],
    file: str | None,
) -> list[Problem]:
    def warning(message: str, field: str) -> Problem:
        return Problem(message, file=file, bot=bot.name, field=field, warning=True)

    out: list[Problem] = []
    if bot.workdir and not placeholders(bot.workdir):
        path = Path(bot.workdir).expanduser()
        if not path.is_absolute():
            path = config.base_dir / path
        if not path.is_dir():
            out.append(warning(f"workdir does not exist: {path}", "workdir"))
    reasons: list[str] = []
    reported: set[str] = set()
    for index, entry in enumerate(bot.chain):
        where = "provider" if index == 0 else f"fallback[{index - 1}]"
        provider = plugins.providers.get(entry.provider)
        status = cli_status(provider, bot) if provider is not None else None
        if status is not None and status.problem and status.executable not in reported:
            reported.add(status.executable)
            out.append(warning(status.problem, where))
        why = _cannot_run(entry, provider, status, unset)
        if why is None:
            reasons.clear()
            break
        reasons.append(f"{entry}: {why}")
    else:
        if len(bot.chain) > 1:
            field = "fallback" if bot.fallback else "provider"
            out.append(warning("no entry of the chain can run: " + "; ".join(reasons), field))
    return out


def _cannot_run(
    entry: ChainEntry,
    provider: Provider | None,
    status: CLIStatus | None,
    unset: Mapping[str, list[str]],
) -> str | None:
    """Why ``entry`` cannot run here; ``None`` when it can (an unsupported version still runs).

    An unknown provider or account is an error of the configuration, reported by validation;
    here it only counts as an entry that cannot run.
    """
    if provider is None:
        return f"unknown provider {entry.provider!r}"
    if status is not None and not status.found:
        return f"{status.executable!r} is not on PATH"
    if entry.account is not None:
        if entry.account not in unset:
            return f"unknown account {entry.account!r}"
        if unset[entry.account]:
            return f"account {entry.account!r} lacks {', '.join(unset[entry.account])}"
    return None
