"""``agented check``: a test per rule, each on a real TOML file through the real command.

The provider CLIs are found (or not) on a PATH the test controls: an empty folder, or one with
a small script that answers ``--version`` like the genuine CLI.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

AGENTED = str(Path(sys.executable).parent / "agented")
SUMMARY = re.compile(r"^(\d+) problem\(s\), (\d+) warning\(s\) in ", re.M)


def check(
    tmp_path: Path,
    text: str,
    *args: str,
    path: Path | None = None,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """``agented check`` on ``text`` written to ``tmp_path/agented.toml``; PATH is ``path``."""
    config = tmp_path / "agented.toml"
    config.write_text(text)
    bare = tmp_path / "empty-bin"
    bare.mkdir(exist_ok=True)
    child_env = {"PATH": str(path or bare), "HOME": str(tmp_path), **(env or {})}
    return subprocess.run(
        [AGENTED, "check", "--config", str(config), *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=child_env,
    )


def fake_cli(folder: Path, name: str, version_line: str) -> Path:
    """A script ``name`` in ``folder`` that prints ``version_line`` for ``--version``."""
    folder.mkdir(exist_ok=True)
    script = folder / name
    script.write_text(f"#!/bin/sh\necho '{version_line}'\n")
    script.chmod(0o755)
    return script


def lines(result: subprocess.CompletedProcess[str]) -> list[str]:
    return result.stdout.splitlines()


# -- GitHub events and actions -----------------------------------------------------------------


def test_an_unknown_event_is_an_error_with_a_suggestion(tmp_path: Path) -> None:
    result = check(
        tmp_path,
        """
[bots.review]
command = ["echo", "hi"]
on = [{ github = "pull_requests" }]
""",
    )
    assert result.returncode == 1, result.stdout
    assert (
        "agented.toml:4: bot 'review': field 'on[0].github': event 'pull_requests' is not a "
        "GitHub event name (did you mean 'pull_request'?)"
    ) in result.stdout


def test_an_unknown_action_is_an_error_with_a_suggestion(tmp_path: Path) -> None:
    result = check(
        tmp_path,
        """
[bots.review]
command = ["echo", "hi"]
on = [
  { github = "pull_request", actions = ["closed"] },
  { github = "pull_request", actions = ["opend", "synchronize"] },
  { github = "push", actions = ["created"] },
]
""",
    )
    assert result.returncode == 1, result.stdout
    assert (
        "agented.toml:6: bot 'review': field 'on[1].actions': 'opend' is not an action of "
        "pull_request (did you mean 'opened'?)"
    ) in result.stdout
    assert (
        "agented.toml:7: bot 'review': field 'on[2].actions': push deliveries carry no "
        "action" in result.stdout
    )
    assert "'closed'" not in result.stdout and "'synchronize'" not in result.stdout
    assert SUMMARY.search(result.stdout).group(1) == "2"  # type: ignore[union-attr]


def test_known_events_and_actions_pass(tmp_path: Path) -> None:
    result = check(
        tmp_path,
        """
[bots.review]
command = ["echo", "hi"]
on = [
  { github = "pull_request", actions = ["opened", "ready_for_review"] },
  { github = "issue_comment", actions = "created", commands = ["/review"] },
  { github = "repository_dispatch", actions = ["my-own-event-type"] },
  { github = "workflow_run", actions = ["completed"] },
]
""",
    )
    assert result.returncode == 0, result.stdout
    assert lines(result) and lines(result)[-1].startswith("ok: ")


# -- every problem, located, one summary ---------------------------------------------------------


def test_every_problem_is_reported_in_one_run_with_its_line(tmp_path: Path) -> None:
    result = check(
        tmp_path,
        """[agented]
max_concurent_runs = 3

[bots.a]
promt = "typo first: must not hide what follows"
command = ["echo", "{params.x}"]
timeout = "soon"
fallback = ["shell:ghost"]
on = [{ github = "pull_request", actions = ["opend"] }]

[bots.b]
provider = "nope"
on = [{ manual = true }]
""",
    )
    assert result.returncode == 1
    out = result.stdout
    expected = [
        "error: {f}:2: field 'agented.max_concurent_runs': unknown key (did you mean "
        "'max_concurrent_runs'?)",
        "error: {f}:5: bot 'a': field 'promt': unknown key (did you mean 'prompt'?)",
        "error: {f}:6: bot 'a': field 'command[1]': unknown key 'params.x'",
        "error: {f}:7: bot 'a': field 'timeout': cannot read 'soon' as a duration",
        "error: {f}:8: bot 'a': field 'fallback[0]': unknown account 'ghost'",
        "error: {f}:9: bot 'a': field 'on[0].actions': 'opend' is not an action of pull_request",
        "error: {f}:12: bot 'b': field 'provider': unknown provider 'nope'",
    ]
    config = str((tmp_path / "agented.toml").resolve())
    for needle in expected:
        assert needle.format(f=config) in out, (needle, out)
    summaries = SUMMARY.findall(out)
    assert summaries == [("7", "0")], out
    assert lines(result)[-1].startswith("7 problem(s), 0 warning(s) in ")


def test_exit_codes(tmp_path: Path) -> None:
    fine_with_a_warning = check(tmp_path, '[bots.a]\ncommand = ["echo"]\n')
    assert fine_with_a_warning.returncode == 0
    assert "warning: no triggers" in fine_with_a_warning.stdout
    assert fine_with_a_warning.stdout.splitlines()[-1].endswith(", 1 warning(s)")
    not_toml = check(tmp_path, "[bots.a\n")
    assert not_toml.returncode == 1 and "agented.toml:1: not valid TOML" in not_toml.stdout
    missing = subprocess.run(
        [AGENTED, "check", "--config", str(tmp_path / "nope.toml")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert missing.returncode == 1 and "config file not found" in missing.stdout
    usage = check(tmp_path, '[bots.a]\ncommand = ["echo"]\n', "--no-such-flag")
    assert usage.returncode == 2 and "usage:" in usage.stderr


# -- readiness -----------------------------------------------------------------------------------

CLAUDE_BOT = """
[bots.review]
provider = "claude"
prompt = "Review."
on = [{ manual = true }]
"""


def test_a_missing_cli_warns_with_the_install_command_and_fails_with_strict(
    tmp_path: Path,
) -> None:
    result = check(tmp_path, CLAUDE_BOT)
    warning = (
        "agented.toml:3: bot 'review': field 'provider': warning: the claude CLI 'claude' is not "
        "on PATH; install it with: npm install -g @anthropic-ai/claude-code@"
    )
    assert result.returncode == 0, result.stdout
    assert warning in result.stdout
    strict = check(tmp_path, CLAUDE_BOT, "--strict")
    assert strict.returncode == 1
    assert "error: " in strict.stdout and "is not on PATH" in strict.stdout


def test_a_found_cli_of_a_supported_version_passes_and_an_old_one_warns(tmp_path: Path) -> None:
    from agented_claude import TESTED_VERSION

    good = tmp_path / "good"
    fake_cli(good, "claude", f"{TESTED_VERSION} (Claude Code)")
    result = check(tmp_path, CLAUDE_BOT, "--strict", path=good)
    assert result.returncode == 0, result.stdout
    assert "warning" not in result.stdout
    old = tmp_path / "old"
    fake_cli(old, "claude", "1.0.3 (Claude Code)")
    result = check(tmp_path, CLAUDE_BOT, path=old)
    assert result.returncode == 0
    assert (
        f"the claude CLI at {old / 'claude'} is version 1.0.3; the plugin supports "
        f"{TESTED_VERSION} up to (not including) 3.0.0"
    ) in result.stdout


def test_an_unset_env_from_variable_warns(tmp_path: Path) -> None:
    text = """
[accounts.work]
provider = "shell"
env_from = { TOKEN = "AGENTED_TEST_HOST_TOKEN" }

[bots.a]
command = ["echo"]
account = "work"
on = [{ manual = true }]
"""
    unset = check(tmp_path, text)
    assert unset.returncode == 0
    assert (
        "agented.toml:4: field 'accounts.work.env_from.TOKEN': warning: host variable "
        "'AGENTED_TEST_HOST_TOKEN' is unset"
    ) in unset.stdout
    assert check(tmp_path, text, "--strict").returncode == 1
    set_ = check(tmp_path, text, "--strict", env={"AGENTED_TEST_HOST_TOKEN": "x"})
    assert set_.returncode == 0 and "warning" not in set_.stdout


def test_a_missing_workdir_warns(tmp_path: Path) -> None:
    text = '[bots.a]\ncommand = ["echo"]\nworkdir = "checkouts/repo"\non = [{ manual = true }]\n'
    result = check(tmp_path, text)
    assert result.returncode == 0
    assert (
        f"agented.toml:3: bot 'a': field 'workdir': warning: workdir does not exist: "
        f"{tmp_path.resolve() / 'checkouts' / 'repo'}"
    ) in result.stdout
    assert check(tmp_path, text, "--strict").returncode == 1
    (tmp_path / "checkouts" / "repo").mkdir(parents=True)
    assert check(tmp_path, text, "--strict").returncode == 0


def test_a_chain_in_which_no_entry_can_run_warns(tmp_path: Path) -> None:
    text = """
[bots.review]
provider = "claude"
fallback = [{ provider = "codex", model = "gpt-5.5" }]
prompt = "Review."
on = [{ manual = true }]
"""
    none_runs = check(tmp_path, text)
    assert none_runs.returncode == 0
    assert (
        "agented.toml:4: bot 'review': field 'fallback': warning: no entry of the chain can run: "
        "claude: 'claude' is not on PATH; codex: 'codex' is not on PATH"
    ) in none_runs.stdout
    codex_only = tmp_path / "codex-bin"
    fake_cli(codex_only, "codex", "codex-cli 0.169.0")
    one_runs = check(tmp_path, text, path=codex_only)
    assert "no entry of the chain can run" not in one_runs.stdout
    assert "the claude CLI 'claude' is not on PATH" in one_runs.stdout


def test_an_entry_of_another_provider_without_a_model_warns(tmp_path: Path) -> None:
    template = """
[bots.review]
provider = "claude"
model = "sonnet"
fallback = [{fallback}]
prompt = "Review."
on = [{{ manual = true }}]
"""
    bare = check(tmp_path, template.format(fallback='"claude", "codex"'))
    assert bare.returncode == 0
    assert (
        "agented.toml:5: bot 'review': field 'fallback[1]': warning: this codex entry names no "
        "model, so it runs codex's default: the bot's model 'sonnet' is for claude"
    ) in bare.stdout
    assert "fallback[0]" not in bare.stdout  # the same provider: the bot's model is meant for it
    own = check(tmp_path, template.format(fallback='{ provider = "codex", model = "gpt-5.5" }'))
    assert "names no model" not in own.stdout
    wrong = check(tmp_path, template.format(fallback='{ provider = "codex", modle = "x" }'))
    assert wrong.returncode == 1
    assert "field 'fallback': entry 0: unknown key 'modle' (did you mean 'model'?)" in wrong.stdout


# -- the same facts in agented version ----------------------------------------------------------


def test_version_lists_each_providers_cli(tmp_path: Path) -> None:
    from agented_claude import TESTED_VERSION

    folder = tmp_path / "bin"
    claude = fake_cli(folder, "claude", f"{TESTED_VERSION} (Claude Code)")
    result = subprocess.run(
        [AGENTED, "version"],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": str(folder), "HOME": str(tmp_path)},
    )
    assert result.returncode == 0
    out = result.stdout
    assert f"provider claude (from claude): {claude}, version {TESTED_VERSION}" in out
    assert (
        "provider codex (from codex): missing ('codex' not on PATH); install: "
        "npm install -g @openai/codex@"
    ) in out
    assert re.search(r"^  provider shell \(from agented-builtins\)$", out, re.M)


@pytest.mark.skipif(not os.path.exists("/bin/sh"), reason="the fake CLIs are sh scripts")
def test_a_cli_that_hangs_on_version_is_given_up(tmp_path: Path) -> None:
    from agented_core.providers.base import probe_version

    script = tmp_path / "hangs"
    script.write_text("#!/bin/sh\nsleep 30 &\nwait\n")
    script.chmod(0o755)
    assert probe_version([str(script)], timeout=0.5) is None


def test_a_heartbeat_over_half_the_lease_is_an_error(tmp_path: Path) -> None:
    done = check(
        tmp_path,
        '[agented]\nlease = "4s"\nheartbeat = "3s"\n\n[bots.b]\ncommand = ["true"]\n'
        "on = [{ manual = true }]\n",
    )
    assert done.returncode == 1
    assert "agented.heartbeat" in done.stdout and "half the lease" in done.stdout


def test_retry_interrupted_with_one_attempt_is_a_warning(tmp_path: Path) -> None:
    done = check(
        tmp_path,
        '[bots.b]\ncommand = ["true"]\non = [{ manual = true }]\n'
        "retry_interrupted = true\nmax_attempts = 1\n",
    )
    assert done.returncode == 0, done.stdout
    assert "retry_interrupted does nothing with max_attempts = 1" in done.stdout
    bad = check(tmp_path, '[bots.b]\ncommand = ["true"]\nretry_interrupted = "yes"\n')
    assert bad.returncode == 1 and "retry_interrupted" in bad.stdout
