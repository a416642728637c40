"""Folders a provider keeps for a CLI: one per account and bot, with settings written there.

Some CLIs read their settings from a folder of their own (Qwen Code's ``QWEN_HOME``, Gemini
CLI's ``GEMINI_CLI_HOME``). For an account that names none, the provider keeps one under the
bot's state folder, so two accounts or two bots never share a CLI's sessions or settings.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..errors import PluginError


def _slug(name: str) -> str:
    cleaned = "".join(c if c.isalnum() or c in "-_." else "_" for c in name).strip(".")
    return cleaned or "_"


def managed_folder(env: Mapping[str, str], provider: str, account: str | None, bot: str) -> Path:
    """``$XDG_STATE_HOME/agented/<provider>/<account>/<bot>`` (``~/.local/state`` without it),
    from the run's environment ``env``; names are made safe as path parts."""
    state = env.get("XDG_STATE_HOME") or (
        str(Path(env["HOME"]) / ".local" / "state") if env.get("HOME") else None
    )
    if not state:
        raise PluginError(f"the {provider} provider needs HOME (or XDG_STATE_HOME) for its folder")
    base = Path(state).expanduser() / "agented" / provider
    return base / _slug(account or "default") / _slug(bot)


def write_private_json(path: Path, content: Mapping[str, Any]) -> Path:
    """Write ``content`` as JSON to ``path`` (mode 0600, in a folder made 0700), atomically and
    only when it changed, so runs starting together never read half a file."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    text = json.dumps(content, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    try:
        if path.read_text(encoding="utf-8") == text:
            return path
    except OSError:
        pass
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(temporary, path)
    return path
