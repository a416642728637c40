"""The audit log's entries: who (an actor id, never a secret) did what to which execution, when.

The HTTP API writes them with the key's id as the actor; the command line, acting on the local
store, as ``cli:<user>`` (the operating-system user).
"""

from __future__ import annotations

import getpass
from datetime import UTC, datetime
from typing import Any

from .models import Execution
from .store import Store

__all__ = ["cli_actor", "record"]


def cli_actor() -> str:
    """The actor of the local command line: ``cli:<user>``."""
    try:
        user = getpass.getuser()
    except Exception:  # no user name in the environment or the password database
        user = "unknown"
    return f"cli:{user}"


async def record(
    store: Store, action: str, execution: Execution, actor: str, role: str | None = None,
    **detail: Any,
) -> None:  # fmt: skip
    """Append that ``actor`` did ``action`` (``run``, ``cancel`` ...) to ``execution`` now."""
    entry: dict[str, Any] = {
        "at": datetime.now(UTC).isoformat(),
        "actor": actor,
        "action": action,
        "execution_id": execution.id,
        "bot": execution.bot,
        **detail,
    }
    if role is not None:
        entry["role"] = role
    await store.record_audit(entry)
