"""Plugin config keys (``agented_config_keys``): checked like the core's, read into ``extra``.

The plugin is ``tests/fixtures/plugins/agtest_example.py``, installed as the entry point
``example`` of a distribution in a temporary site folder, and the command is the real
``agented check`` on a real TOML file.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agented_core import hookimpl
from agented_core.config import SCHEMA, boolean, load_config, parse_config
from agented_core.config_keys import PluginKeys, Table
from agented_core.converter import from_json, to_json
from agented_core.errors import ConfigError
from agented_core.models import Bot, GitHubTrigger
from agented_core.plugins import Plugins
from conftest import FIXTURES_DIR

AGENTED = str(Path(sys.executable).parent / "agented")
PLUGIN_DIR = FIXTURES_DIR / "plugins"

sys.path.insert(0, str(PLUGIN_DIR))
import agtest_example  # noqa: E402

GOOD = """\
[example]
level = 3
name = "demo"

[github]
webhook_secrets_env = "SECRETS"

[bots.review]
command = ["echo", "hi"]
notes = { check = true, comment = "sticky" }
on = [{ github = "pull_request", actions = ["opened"], forks = false }]
"""


@pytest.fixture
def site(tmp_path: Path) -> Path:
    """A site folder holding the distribution ``agtest-example`` (entry point ``example``)."""
    path = tmp_path / "site"
    info = path / "agtest_example-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: agtest-example\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[agented]\nexample = agtest_example\n")
    return path


def check(tmp_path: Path, text: str, site: Path | None) -> subprocess.CompletedProcess[str]:
    """``agented check`` on ``text``, with the example plugin installed when ``site`` is given."""
    config = tmp_path / "agented.toml"
    config.write_text(text)
    bare = tmp_path / "empty-bin"
    bare.mkdir(exist_ok=True)
    env = {"PATH": str(bare), "HOME": str(tmp_path)}
    if site is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(site), str(PLUGIN_DIR)])
    return subprocess.run(
        [AGENTED, "check", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )


def test_the_plugins_keys_pass_check(tmp_path: Path, site: Path) -> None:
    result = check(tmp_path, GOOD, site)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("ok: ")


def test_without_the_plugin_its_keys_are_unknown_as_before(tmp_path: Path) -> None:
    result = check(tmp_path, GOOD, None)
    assert result.returncode == 1
    out = result.stdout
    assert "agented.toml:1: field 'example': unknown key" in out
    assert "agented.toml:10: bot 'review': field 'notes': unknown key" in out
    assert "agented.toml:11: bot 'review': field 'on[0].forks': unknown key" in out


def test_an_unknown_key_of_the_plugins_table_has_its_line_and_a_suggestion(
    tmp_path: Path, site: Path
) -> None:
    result = check(tmp_path, GOOD.replace("level = 3", "levl = 3"), site)
    assert result.returncode == 1
    assert (
        "agented.toml:2: field 'example.levl': unknown key (did you mean 'level'?)" in result.stdout
    )


def test_a_wrong_type_in_the_plugins_table_is_an_error(tmp_path: Path, site: Path) -> None:
    result = check(tmp_path, GOOD.replace("level = 3", 'level = "high"'), site)
    assert result.returncode == 1
    assert (
        "agented.toml:2: field 'example.level': expected a whole number, got a string"
        in result.stdout
    )


def test_a_bot_keys_inner_key_is_checked_by_name_and_value(tmp_path: Path, site: Path) -> None:
    text = GOOD.replace('{ check = true, comment = "sticky" }', '{ chek = true, comment = "old" }')
    result = check(tmp_path, text, site)
    assert result.returncode == 1
    out = result.stdout
    assert (
        "agented.toml:10: bot 'review': field 'notes.chek': unknown key (did you mean 'check'?)"
    ) in out
    assert (
        "agented.toml:10: bot 'review': field 'notes.comment': expected 'sticky' or 'new', "
        "got 'old'"
    ) in out


def test_a_bot_key_near_a_plugin_key_suggests_it(tmp_path: Path, site: Path) -> None:
    result = check(tmp_path, GOOD.replace("notes =", "ntoes ="), site)
    assert "field 'ntoes': unknown key (did you mean 'notes'?)" in result.stdout


def test_a_trigger_keys_wrong_type_is_an_error(tmp_path: Path, site: Path) -> None:
    result = check(tmp_path, GOOD.replace("forks = false", 'forks = "no"'), site)
    assert result.returncode == 1
    assert (
        "agented.toml:11: bot 'review': field 'on[0].forks': expected true or false, got a string"
        in result.stdout
    )


def test_a_trigger_key_of_another_kind_is_unknown(tmp_path: Path, site: Path) -> None:
    text = (
        GOOD + '\n[bots.nightly]\ncommand = ["echo"]\non = [{ cron = "0 3 * * *", forks = true }]\n'
    )
    result = check(tmp_path, text, site)
    assert result.returncode == 1
    assert "bot 'nightly': field 'on[0].forks': unknown key" in result.stdout


def test_the_values_reach_the_plugin_through_extra(tmp_path: Path) -> None:
    file = tmp_path / "agented.toml"
    file.write_text(GOOD)
    keys = Plugins([agtest_example], entry_points=False).config_keys()
    config = load_config(file, keys=keys)
    assert config.extra == {"example": {"level": 3, "name": "demo"}}
    assert config.github.webhook_secrets_env == "SECRETS"
    bot = config.bots["review"]
    assert bot.extra == {"notes": {"check": True, "comment": "sticky"}}
    trigger = bot.triggers[0]
    assert isinstance(trigger, GitHubTrigger)
    assert trigger.extra == {"forks": False}
    assert trigger.actions == ("opened",)
    assert from_json(to_json(bot), Bot) == bot
    with pytest.raises(ConfigError):
        load_config(file)  # without the plugin's keys


def test_a_plugin_may_add_keys_to_a_core_table_but_not_take_core_keys() -> None:
    class GitHubLike:
        @hookimpl
        def agented_config_keys(self) -> PluginKeys:
            return PluginKeys(
                tables={"github": {"api_url": _str, "dedup_ttl": _str}, "bots": {"x": _str}},
                bot={"timeout": _str, "notes": _str},
                triggers={"github": {"labels": _str}, "email": {"to": _str}},
            )

    plugins = Plugins([agtest_example, GitHubLike()], entry_points=False)
    errors = sorted(str(e) for e in plugins.errors)
    assert errors == sorted(
        [
            "plugin 'GitHubLike' declares [github] key 'dedup_ttl', a core key",
            "plugin 'GitHubLike' declares table [bots], a core table",
            "plugin 'GitHubLike' declares bot key 'timeout', a core key",
            "bot key 'notes' is declared twice: by 'agtest_example' and by 'GitHubLike'; "
            "keeping the first",
            "plugin 'GitHubLike' declares trigger (github) key 'labels', a core key",
            "plugin 'GitHubLike' declares keys for triggers of kind 'email' "
            "(kinds: github, cron, manual, webhook)",
        ]
    )
    keys = plugins.config_keys()
    assert set(keys.tables["github"]) == {"api_url"}
    assert isinstance(keys.bot["notes"], Table)  # the first declaration kept
    config, problems = parse_config(
        {"github": {"api_url": "https://ghe.example/api/v3", "dedup_ttl": "1h"}}, keys=keys
    )
    assert problems == []
    assert config.extra == {"github": {"api_url": "https://ghe.example/api/v3"}}
    assert config.github.dedup_ttl == 3600.0


def _str(value: Any) -> str:
    return str(value)


def test_a_plugin_whose_declaration_fails_is_an_error_and_others_still_load() -> None:
    class Broken:
        @hookimpl
        def agented_config_keys(self) -> PluginKeys:
            raise RuntimeError("boom")

    plugins = Plugins([Broken(), agtest_example], entry_points=False)
    assert [str(e) for e in plugins.errors] == [
        "plugin 'Broken' failed to declare config keys: boom"
    ]
    assert "example" in plugins.config_keys().tables


def test_no_plugin_keys_reads_exactly_as_before() -> None:
    data = {"bots": {"b": {"command": ["x"], "on": [{"github": "push"}]}}}
    with_none, problems = parse_config(data)
    with_empty, problems_empty = parse_config(data, keys=PluginKeys())
    assert problems == problems_empty == []
    assert with_none == with_empty
    assert with_none.extra == {} and with_none.bots["b"].extra == {}


keys_st = st.text("abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=12)


@given(st.dictionaries(keys_st, st.booleans() | st.integers() | st.text(max_size=5), max_size=6))
def test_every_key_of_a_plugin_table_is_read_or_reported(table: dict[str, Any]) -> None:
    """A table of declared keys: each key is either read into ``extra`` or one problem."""
    keys = PluginKeys(tables={"t": {"on": boolean, "off": boolean}})
    config, problems = parse_config({"t": table}, keys=keys)
    read = config.extra.get("t", {})
    reported = {p.field for p in problems}
    for key, value in table.items():
        ok = key in ("on", "off") and isinstance(value, bool)
        assert (key in read) is ok
        assert (f"t.{key}" in reported) is not ok
    assert len(problems) == len(table) - len(read)


def test_the_core_schema_is_not_changed_by_plugins() -> None:
    before = {table: set(keys) for table, keys in SCHEMA.items()}
    Plugins([agtest_example], entry_points=False).config_keys()
    assert {table: set(keys) for table, keys in SCHEMA.items()} == before
