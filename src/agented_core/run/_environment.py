"""The child's environment: an allowlist of host variables plus the bot's and the account's.

The host's own secrets (its API keys, webhook secrets, database passwords) never reach an agent:
only the variables named in :data:`ALLOWED` are copied from the host, then the bot's ``env``, the
account's ``env`` and the account's ``env_from`` (child variable <- host variable).
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from attrs import frozen

from ..errors import ConfigError, Problem
from ..events._redaction import secret_values
from ..models import Account, Bot

ALLOWED = (
    "PATH",
    "HOME",
    "USER",
    "LOGNAME",
    "SHELL",
    "LANG",
    "LANGUAGE",
    "LC_ALL",
    "LC_CTYPE",
    "LC_MESSAGES",
    "TZ",
    "TERM",
    "TMPDIR",
    "TEMP",
    "TMP",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "REQUESTS_CA_BUNDLE",
    "NODE_EXTRA_CA_CERTS",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
    "http_proxy",
    "https_proxy",
    "no_proxy",
    "XDG_RUNTIME_DIR",
)
"""Host variables a child inherits."""


@frozen
class ChildEnvironment:
    """The environment of one attempt, and the values in it that are secrets."""

    env: Mapping[str, str]
    secrets: tuple[str, ...]


def child_environment(
    bot: Bot,
    account: Account | None,
    host: Mapping[str, str] | None = None,
) -> ChildEnvironment:
    """Build the child's environment. A missing ``env_from`` host variable is a ConfigError."""
    host_env = os.environ if host is None else host
    env = {name: host_env[name] for name in ALLOWED if name in host_env}
    env.update(bot.env)
    forced: list[str] = []
    if account is not None:
        env.update({k: os.path.expanduser(v) for k, v in account.env.items()})
        missing = []
        for child_name, host_name in account.env_from.items():
            value = host_env.get(host_name)
            if value is None:
                missing.append(host_name)
                continue
            env[child_name] = value
            forced.append(child_name)
        if missing:
            raise ConfigError(
                [
                    Problem(
                        f"account {account.name!r}: host variable(s) not set: "
                        + ", ".join(sorted(missing)),
                        bot=bot.name,
                        field="account",
                    )
                ]
            )
    return ChildEnvironment(env=env, secrets=tuple(secret_values(env, forced)))
