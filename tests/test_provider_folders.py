"""The provider SDK's folders: one per account and bot, and settings written atomically."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agented_core import PluginError
from agented_core.providers import managed_folder, write_private_json


@given(account=st.text(max_size=20), bot=st.text(min_size=1, max_size=20))
def test_a_managed_folder_stays_under_the_state_folder(account: str, bot: str) -> None:
    base = Path("/state")
    folder = managed_folder({"XDG_STATE_HOME": str(base)}, "qwen", account or None, bot)
    parts = folder.relative_to(base / "agented" / "qwen").parts
    assert len(parts) == 2 and all(p not in ("", ".", "..") and "/" not in p for p in parts)


def test_two_accounts_and_two_bots_get_four_folders() -> None:
    env = {"HOME": "/home/u"}
    folders = {managed_folder(env, "gemini", a, b) for a in ("a", "b") for b in ("x", "y")}
    assert len(folders) == 4
    assert managed_folder(env, "gemini", None, "x") == Path(
        "/home/u/.local/state/agented/gemini/default/x"
    )


def test_without_home_the_error_says_what_is_missing() -> None:
    with pytest.raises(PluginError, match="the pi provider needs HOME"):
        managed_folder({}, "pi", "work", "bot")


def test_settings_are_private_and_rewritten_only_when_they_change(tmp_path: Path) -> None:
    path = tmp_path / "home" / "settings.json"
    write_private_json(path, {"b": 1, "a": [1, 2]})
    assert json.loads(path.read_text()) == {"a": [1, 2], "b": 1}
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    before = path.stat().st_mtime_ns, path.stat().st_ino
    write_private_json(path, {"a": [1, 2], "b": 1})
    assert (path.stat().st_mtime_ns, path.stat().st_ino) == before  # the same file, untouched
    write_private_json(path, {"a": 2})
    assert json.loads(path.read_text()) == {"a": 2}
    assert [p.name for p in path.parent.iterdir()] == ["settings.json"]  # no temporary left
