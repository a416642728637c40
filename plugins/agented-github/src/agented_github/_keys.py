"""The config keys this plugin declares, and the settings read from them.

``[github]`` gains ``api_url``, ``token_env``, ``app_id``, ``private_key_file`` and
``private_key_env``; a bot gains ``agent_token`` (permissions for a token given to the agent),
``report`` (what is posted back) and ``cancel_on_close``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from attrs import field, frozen

from agented_core.config import boolean, strings
from agented_core.config_keys import PluginKeys, Table

DEFAULT_API_URL = "https://api.github.com"
REVIEW_EVENTS = ("COMMENT", "REQUEST_CHANGES", "APPROVE")
COMMENT_MODES = ("sticky", "new")
ACCESS = ("read", "write")


def _url(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError("expected a URL string")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(
            f"{value!r} is not an http(s) URL (GitHub Enterprise: https://HOST/api/v3)"
        )
    return value.rstrip("/")


def _str(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise TypeError("expected a non-empty string")
    return value


def _app_id(value: Any) -> int:
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError("expected a positive integer (the App's id)")
    return value


READ_PERMISSIONS = {"contents": "read", "metadata": "read", "pull_requests": "read"}
"""What ``agent_token = true`` gives the agent: reading the repository and its pull requests."""


def _permissions(value: Any) -> dict[str, str]:
    if value is True:
        return dict(READ_PERMISSIONS)
    if value is False:
        return {}
    if not isinstance(value, Mapping):
        raise TypeError('expected true (read-only) or a table of permission = "read" | "write"')
    out: dict[str, str] = {}
    for name, access in value.items():
        if access not in ACCESS:
            raise ValueError(f"permission {name!r}: {access!r} is not 'read' or 'write'")
        out[str(name)] = str(access)
    return out


def _comment(value: Any) -> str:
    if value not in COMMENT_MODES:
        raise ValueError(f"{value!r} is not one of {', '.join(map(repr, COMMENT_MODES))}")
    return str(value)


def _reaction(value: Any) -> bool:
    return boolean(value)


def _events(value: Any) -> tuple[str, ...]:
    events = tuple(e.upper() for e in strings(value))
    for event in events:
        if event not in REVIEW_EVENTS:
            raise ValueError(f"{event!r} is not one of {', '.join(REVIEW_EVENTS)}")
    return events


KEYS = PluginKeys(
    tables={
        "github": {
            "api_url": _url,
            "token_env": _str,
            "app_id": _app_id,
            "private_key_file": _str,
            "private_key_env": _str,
        }
    },
    bot={
        "agent_token": _permissions,
        "report": Table(
            {
                "check": boolean,
                "comment": _comment,
                "reaction": _reaction,
                "review": boolean,
                "review_events": _events,
            }
        ),
        "cancel_on_close": boolean,
    },
)
"""What :func:`agented_config_keys` returns."""


@frozen
class GitHubConfig:
    """The plugin's part of ``[github]``."""

    api_url: str = DEFAULT_API_URL
    token_env: str | None = None
    app_id: int | None = None
    private_key_file: Path | None = None
    private_key_env: str | None = None

    @property
    def is_app(self) -> bool:
        """True when a GitHub App is configured (id and a private key)."""
        return self.app_id is not None and bool(self.private_key_file or self.private_key_env)

    @property
    def configured(self) -> bool:
        """True when there is any way to get a token."""
        return self.is_app or bool(self.token_env)

    def private_key(self, env: Mapping[str, str] | None = None) -> str:
        """The App's private key (PEM), from its file or its environment variable."""
        if self.private_key_env:
            value = (os.environ if env is None else env).get(self.private_key_env)
            if not value:
                raise ValueError(f"environment variable {self.private_key_env} is not set")
            return value
        assert self.private_key_file is not None
        return self.private_key_file.read_text()

    @classmethod
    def from_table(cls, table: Mapping[str, Any], base_dir: Path) -> GitHubConfig:
        """Read ``Config.extra["github"]`` (relative key files against the config's folder)."""
        key_file = table.get("private_key_file")
        return cls(
            api_url=table.get("api_url", DEFAULT_API_URL),
            token_env=table.get("token_env"),
            app_id=table.get("app_id"),
            private_key_file=(base_dir / key_file) if key_file else None,
            private_key_env=table.get("private_key_env"),
        )


@frozen
class Report:
    """A bot's ``report`` table: what is posted back to GitHub."""

    check: bool = False
    comment: str | None = None
    reaction: bool = False
    review: bool = False
    review_events: tuple[str, ...] = field(default=("COMMENT",))

    @property
    def any(self) -> bool:
        """True when something is posted."""
        return self.check or self.comment is not None or self.reaction or self.review

    @classmethod
    def of(cls, extra: Mapping[str, Any]) -> Report:
        """The report settings in a bot's ``extra``."""
        table = extra.get("report") or {}
        return cls(
            check=bool(table.get("check", False)),
            comment=table.get("comment"),
            reaction=bool(table.get("reaction", False)),
            review=bool(table.get("review", False)),
            review_events=tuple(table.get("review_events", ("COMMENT",))),
        )
