"""Templated values never reach an interpreter's code: each spelling, and generated ones.

Refused spellings are shown to be real (rendered and run, they execute the value); accepted
commands, generated from option clusters and orderings, are run for real with a value that is
code in that language, and must not execute it.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agented_core.run._prompts import check_command, render_argv

AGENTED = str(Path(sys.executable).parent / "agented")
PYTHON = sys.executable


def payload(language: str, marker: Path) -> str:
    """Code that creates ``marker`` when ``language`` runs it."""
    return {
        "sh": f"touch {marker}",
        "python": f"open({str(marker)!r}, 'w')",
        "perl": f"open(F, '>{marker}')",
    }[language]


def run_rendered(argv: list[str], value: str, cwd: Path, stdin: bytes = b"") -> None:
    rendered = render_argv(argv, {"v": value})
    try:
        subprocess.run(rendered, input=stdin, capture_output=True, timeout=10, cwd=cwd)
    except subprocess.TimeoutExpired:  # a nonsense command that waits: it ran nothing
        pass


# each spelling that once got through, with the language its value is run as
REFUSED = [
    (["sh", "-c", "--", "{v}"], "sh"),
    (["sh", "-ec", "{v}"], "sh"),
    (["bash", "-o", "pipefail", "-xc", "{v}"], "sh"),
    (["env", "-S", "sh -c", "{v}"], "sh"),
    (["env", "-S", "sh -c '{v}'"], "sh"),
    (["env", "FOO=1", "sh", "-c", "{v}"], "sh"),
    (["timeout", "5", "sh", "-c", "{v}"], "sh"),
    ([PYTHON, "-Ic", "{v}"], "python"),
    ([PYTHON, "-c{v}"], "python"),
    ([PYTHON, "-X", "dev", "-c", "{v}"], "python"),
    ([PYTHON, "-W", "ignore", "-Ic", "{v}"], "python"),
    (["perl", "-we", "{v}"], "perl"),
    (["perl", "-e", "1;", "-e", "{v}"], "perl"),
]


@pytest.mark.parametrize(("argv", "language"), REFUSED)
def test_each_spelling_is_refused_and_would_have_run(
    argv: list[str], language: str, tmp_path: Path
) -> None:
    if shutil.which(argv[0]) is None:
        pytest.skip(f"{argv[0]} is not installed")
    problems = check_command(argv)
    assert problems and all("{v}" in p for p in problems)
    marker = tmp_path / "ran"
    run_rendered(argv, payload(language, marker), tmp_path)
    assert marker.exists(), "the refusal guards a command that really runs its value"


def test_a_prompt_on_the_stdin_of_a_shell_is_refused(tmp_path: Path) -> None:
    problems = check_command(["sh"], "Review {pr.title}")
    assert problems and "stdin" in problems[0]
    assert check_command([PYTHON, "-"], "{pr.title}")
    assert check_command(["bash", "-s", "x"], "{pr.title}")
    assert check_command(["sh", "script.sh"], "{pr.title}") == []
    assert check_command(["sh"], "a prompt with no placeholder") == []
    marker = tmp_path / "ran"
    subprocess.run(["sh"], input=payload("sh", marker).encode(), timeout=10, check=True)
    assert marker.exists()


def test_agented_check_reports_every_spelling(tmp_path: Path) -> None:
    bots = "\n".join(
        f"[bots.b{i}]\ncommand = {json.dumps([a.replace('{v}', '{pr.title}') for a in argv])}\n"
        'on = [{ github = "pull_request" }]\n'
        for i, (argv, _) in enumerate(REFUSED)
    )
    bots += '\n[bots.stdin]\ncommand = ["bash"]\nprompt = "{pr.title}"\n'
    bots += 'on = [{ github = "pull_request" }]\n'
    config = tmp_path / "agented.toml"
    config.write_text(bots)
    result = subprocess.run(
        [AGENTED, "check", "-c", str(config)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 1, result.stdout + result.stderr
    for i in range(len(REFUSED)):
        assert f"b{i}" in result.stdout
    assert "stdin" in result.stdout


# generated commands: option clusters and orderings of real interpreters
SH_OPTIONS = ["-e", "-u", "-f", "-C", "+e", "-c", "-ec", "-ce", "-eu", "-s", "--", "-", "-x"]
PY_OPTIONS = ["-u", "-I", "-E", "-B", "-s", "-O", "-X", "dev", "-W", "ignore", "-Xdev", "-bb"]
PY_OPTIONS += ["-c", "-Ic", "-uc", "-m", "--", "-", "-cpass", "-Wignore"]
PERL_OPTIONS = ["-w", "-l", "-e", "-we", "-le", "-E", "-Mstrict", "-I", "/tmp", "--", "-"]
PERL_OPTIONS += ["-e1;", "-0", "-s"]
WORDS = ["true", "pass", "1;", "x", "script", "sh", "os", "-c", "-e", "--"]


@st.composite
def commands(draw: st.DrawFn, tmp: Path) -> tuple[list[str], str]:
    language = draw(st.sampled_from(["sh", "python", "perl"]))
    head, options = {
        "sh": (draw(st.sampled_from(["sh", "bash"])), SH_OPTIONS),
        "python": (PYTHON, PY_OPTIONS),
        "perl": ("perl", PERL_OPTIONS),
    }[language]
    script = str(tmp / f"noop.{language}")
    parts = draw(st.lists(st.sampled_from([*options, *WORDS, script]), max_size=7))
    where = draw(st.integers(0, len(parts)))
    element = draw(st.sampled_from(["{v}", "x;{v}", "{v};", "-c{v}", "-e{v}"]))
    argv = [head, *parts[:where], element, *parts[where:]]
    return argv, language


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_generated_commands_never_run_an_accepted_value(
    data: st.DataObject, tmp_path_factory: pytest.TempPathFactory
) -> None:
    tmp = tmp_path_factory.getbasetemp() / "generated"
    tmp.mkdir(exist_ok=True)
    for language, text in (("sh", "true\n"), ("python", "pass\n"), ("perl", "1;\n")):
        (tmp / f"noop.{language}").write_text(text)
    argv, language = data.draw(commands(tmp))
    if check_command(argv):
        return  # refused: nothing to run
    marker = tmp / "ran"
    marker.unlink(missing_ok=True)
    code = payload(language, marker)
    run_rendered(argv, code, tmp)
    assert not marker.exists(), f"accepted {argv} ran its templated value"
