"""Git credentials for one command, fed from memory: never in a config, a URL or a command line.

A plugin's ``agented_workspace_credentials(url)`` gives a ``username`` and ``password``; they
reach git only through the environment of the one command that needs them, read by a
credential helper that is itself given through the environment (``GIT_CONFIG_COUNT``), so
neither the token nor the helper appears in ``ps``, in a mirror's or worktree's config, or on
disk. The helper is scoped to the URL's scheme and host, every other helper (a user's
``store``, which would write the token to ``~/.git-credentials``) is reset for that command, and
it answers ``get`` only (``store`` and ``erase`` do nothing).
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

from attrs import frozen

USERNAME_VAR = "AGENTED_GIT_USERNAME"
PASSWORD_VAR = "AGENTED_GIT_PASSWORD"

# a shell function (git runs "!..." helpers with sh): printf is a builtin, so the values never
# appear on any command line
_HELPER = (
    '!f() { test "$1" = get || return 0; '
    f'printf \'username=%s\\npassword=%s\\n\' "${USERNAME_VAR}" "${PASSWORD_VAR}"; }}; f'
)

CredentialSource = Callable[[str], "Mapping[str, str] | Awaitable[Mapping[str, str] | None] | None"]
"""Gives credentials for a URL (``Plugins.workspace_credentials``); may be async."""


@frozen(repr=False)
class Credentials:
    """A username and password (a token) for one repository URL; its repr shows neither."""

    username: str
    password: str

    def __repr__(self) -> str:
        return "Credentials(...)"

    @property
    def secrets(self) -> tuple[str, ...]:
        """The values to redact wherever git's output is shown."""
        return (self.password,)

    def env(self, url: str) -> dict[str, str]:
        """The environment that lets the one git command that gets it use these for ``url``.

        Its config entries are given as ``GIT_CONFIG_*`` pairs; :func:`~._git.git_env` adds its
        own after them.
        """
        parts = urlsplit(url)
        scope = f"{parts.scheme}://{parts.hostname or ''}"
        if parts.port:
            scope += f":{parts.port}"
        return {
            **config_env([("credential.helper", ""), (f"credential.{scope}.helper", _HELPER)]),
            USERNAME_VAR: self.username,
            PASSWORD_VAR: self.password,
        }


def config_env(entries: list[tuple[str, str]]) -> dict[str, str]:
    """Config entries as the ``GIT_CONFIG_COUNT``/``KEY_n``/``VALUE_n`` variables."""
    env = {"GIT_CONFIG_COUNT": str(len(entries))}
    for index, (key, value) in enumerate(entries):
        env[f"GIT_CONFIG_KEY_{index}"] = key
        env[f"GIT_CONFIG_VALUE_{index}"] = value
    return env


async def credentials_for(source: CredentialSource | None, url: str) -> Credentials | None:
    """The credentials ``source`` gives for ``url`` (awaited if it is async), or ``None``.

    Only http(s) URLs get any: ssh and local remotes authenticate otherwise. A mapping with a
    ``password`` (or ``token``) counts; the username defaults to ``x-access-token`` (GitHub's
    name for a token's user).
    """
    if source is None or urlsplit(url).scheme not in ("http", "https"):
        return None
    given: Any = source(url)
    if inspect.isawaitable(given):
        given = await given
    if not given:
        return None
    password = given.get("password") or given.get("token")
    if not password:
        return None
    return Credentials(str(given.get("username") or "x-access-token"), str(password))
