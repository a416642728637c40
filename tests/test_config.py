"""Reading agented.toml: every problem reported with file, bot and field; nothing written."""

from __future__ import annotations

from pathlib import Path

import pytest

from agented_core import ConfigError, ManualTrigger
from agented_core.config import load_config
from agented_core.models import ChainEntry, ConcurrencyPolicy, GitHubTrigger, ScheduleTrigger
from agented_core.plugins import Plugins
from agented_core.readiness import readiness
from agented_core.validation import validate

EXAMPLE = Path(__file__).parent.parent / "examples" / "agented.toml"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "agented.toml"
    path.write_text(text)
    return path


def problems_of(tmp_path: Path, text: str) -> list[str]:
    path = write(tmp_path, text)
    try:
        config = load_config(path)
    except ConfigError as exc:
        return [str(p) for p in exc.problems]
    return [str(p) for p in validate(config, Plugins(entry_points=False)) if not p.warning]


def test_the_example_config_is_valid() -> None:
    config = load_config(EXAMPLE)
    assert "hello" in config.bots
    assert validate(config, Plugins(entry_points=False)) == []


def test_full_design_sketch_reads_into_models(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
[agented]
database = "sqlite:///data/agented.db"
max_concurrent_runs = 2
timezone = "Europe/Berlin"

[prices]
"gpt-5.5" = { input = 1.25, output = 10.0 }

[accounts.claude-work]
provider = "shell"
env = { CLAUDE_CONFIG_DIR = "~/.claude-work" }
env_from = { ANTHROPIC_API_KEY = "WORK_ANTHROPIC_KEY" }

[bots.pr-review]
provider = "shell"
command = ["echo", "{pr.title}"]
account = "claude-work"
fallback = ["shell:claude-work", "shell"]
timeout = "20m"
idle_timeout = "5m"
max_cost_usd = 2.0
max_attempts = 4
concurrency = { limit = 2, group = "{repo.full_name}#{pr.number}", policy = "cancel-in-progress" }
on = [{ github = "pull_request", actions = ["opened", "synchronize"], branches = ["main"] }]

[bots.nightly]
command = ["sh", "-c", "date"]
on = [{ cron = "0 3 * * *", timezone = "Europe/Berlin", catch_up = "once" }]
""",
    )
    config = load_config(path)
    bot = config.bots["pr-review"]
    assert bot.timeout == 1200 and bot.idle_timeout == 300
    assert bot.fallback == (ChainEntry("shell", "claude-work"), ChainEntry("shell"))
    assert bot.concurrency.policy is ConcurrencyPolicy.CANCEL_IN_PROGRESS
    assert bot.triggers == (
        GitHubTrigger(event="pull_request", actions=("opened", "synchronize"), branches=("main",)),
    )
    nightly = config.bots["nightly"]
    assert isinstance(nightly.triggers[0], ScheduleTrigger)
    assert nightly.provider == "shell"
    assert config.prices["gpt-5.5"].output == 10.0
    assert config.base_dir == tmp_path
    assert config.settings.max_concurrent_runs == 2


def test_every_problem_names_file_bot_and_field(tmp_path: Path) -> None:
    problems = problems_of(
        tmp_path,
        """
[agented]
max_concurent_runs = 3

[bots.a]
command = ["echo"]
timeout = "soon"
on = [{ manual = true, parms = ["x"] }]

[bots.b]
command = "echo"
max_attempts = 0
""",
    )
    text = "\n".join(problems)
    assert len(problems) == 4, text
    assert (
        "agented.toml:3: field 'agented.max_concurent_runs': unknown key (did you mean 'max_concurrent_runs'?)"
        in text
    )
    assert "agented.toml:7: bot 'a': field 'timeout': cannot read 'soon' as a duration" in text
    assert "agented.toml:8: bot 'a': field 'on[0].parms': unknown key" in text
    assert "agented.toml:12: bot 'b': field 'max_attempts': must be at least 1" in text


def test_unknown_provider_account_and_option(tmp_path: Path) -> None:
    problems = problems_of(
        tmp_path,
        """
[bots.x]
provider = "klaude"
account = "nobody"

[bots.y]
command = ["echo"]
options = { colour = "red" }
fallback = ["shell:ghost"]
""",
    )
    text = "\n".join(problems)
    assert "bot 'x': field 'provider': unknown provider 'klaude' (known: shell)" in text
    assert "bot 'x': field 'account': unknown account 'nobody'" in text
    assert "bot 'y': field 'options.colour': unknown option for provider 'shell'" in text
    assert "bot 'y': field 'fallback[0]': unknown account 'ghost'" in text


def test_missing_workdir_is_a_readiness_warning_not_a_load_error(tmp_path: Path) -> None:
    text = """
[bots.x]
command = ["echo"]
workdir = "checkouts/repo"
"""
    assert not any("workdir" in p for p in problems_of(tmp_path, text))
    config = load_config(write(tmp_path, text))
    warnings = [str(p) for p in readiness(config, Plugins(entry_points=False))]
    assert any("workdir does not exist" in p and "checkouts/repo" in p for p in warnings)


def test_bad_toml_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(write(tmp_path, "[bots\n"))
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "nope.toml")


def test_manual_params_are_collected(tmp_path: Path) -> None:
    config = load_config(
        write(
            tmp_path,
            """
[bots.x]
command = ["echo", "{params.a}", "{params.b}"]
on = [{ manual = true, params = ["a"] }, { manual = true, params = ["b", "a"] }]
""",
        )
    )
    bot = config.bots["x"]
    assert bot.manual_params == ("a", "b")
    assert bot.triggers[0] == ManualTrigger(params=("a",))


def test_template_typo_fails_at_load(tmp_path: Path) -> None:
    problems = problems_of(
        tmp_path,
        """
[bots.x]
command = ["echo", "{params.mesage}"]
on = [{ manual = true, params = ["message"] }]
""",
    )
    assert len(problems) == 1
    assert "bot 'x': field 'command[1]'" in problems[0]
    assert "mesage" in problems[0]


def test_reserved_webhook_source(tmp_path: Path) -> None:
    problems = problems_of(tmp_path, "[webhooks.github]\nsecret_env = 'X'\n")
    assert "reserved" in problems[0]


def test_trigger_problems_at_load(tmp_path: Path) -> None:
    problems = problems_of(
        tmp_path,
        """
[bots.x]
command = ["echo"]
on = [
  { cron = "61 * * * *" },
  { cron = "0 3 * * *", timezone = "Mars/Olympus" },
  { github = "pull_request", actions = ["openned"] },
  { webhook = "alerts" },
]
""",
    )
    text = "\n".join(problems)
    assert len(problems) == 4, text
    assert "field 'on[0]'" in text and "field 'on[1]'" in text
    assert "Mars/Olympus" in text
    assert "field 'on[2].actions'" in text
    assert "unknown webhook source 'alerts'" in text
