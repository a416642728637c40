"""Where a command's arguments become code: the rule that keeps templated values out of it.

The rule (docs/security.md, "Commands"): for a known interpreter (a shell, python, perl, ruby,
node ...), wherever it appears in the command, a templated argument may only come *after* its
program argument: the script path, the code string of ``-c``/``-e``, the module of ``-m``. It
may never be an option, an option's value, the program argument itself, or the command name.

The parser errs on the refusing side, so a spelling it does not know cannot smuggle a value
past it: option clusters are read letter by letter (``-xc``, ``-Ic``, ``-cCODE``, ``-we``); a
letter or long option it does not know is taken to consume the next argument as its value
(which moves the program argument later, never earlier); ``--`` and ``-`` end the options.
``env`` is read the same way: its options and ``NAME=value`` assignments take no templated
value, and after ``-S``/``--split-string`` (which splits a string into more arguments) no
argument may be templated at all. Any templated argument after ``ssh`` is refused (the remote
side runs it through a shell). An interpreter with no program argument reads its program from
stdin: a prompt with placeholders may not be given to it there.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from collections.abc import Set as AbstractSet

from attrs import frozen

__all__ = ["code_problems"]


@frozen
class Syntax:
    """How an interpreter reads its options (letters of short options, names of long ones)."""

    flags: str = ""
    """Letters that take no value."""
    valued: str = ""
    """Letters whose value is the rest of the cluster or the next argument (getopt style)."""
    attached: str = ""
    """Letters whose optional value can only be the rest of the cluster."""
    code: str = ""
    """Letters whose value is code (perl ``-e``, python ``-c``)."""
    code_mode: str = ""
    """Letters that make the first operand code (a shell's ``-c``)."""
    stdin_mode: str = ""
    """Letters that make the interpreter read its program from stdin (a shell's ``-s``)."""
    ends: str = ""
    """Letters whose value is the program and ends the options (python ``-c``, ``-m``)."""
    long_flags: AbstractSet[str] = frozenset()
    """Long options that take no value."""
    long_code: AbstractSet[str] = frozenset()
    """Long options whose value is code (``--eval``)."""
    plus: bool = False
    """``+o`` and the like are options too (shells)."""
    subcommand: bool = False
    """The first operand names a subcommand (``deno run``, ``deno eval``)."""
    stdin_program: bool = True
    """Without a program argument it reads its program from stdin (not so awk, sed)."""


_SH = Syntax(
    # o/O take an option name; mksh -T and ksh -R take a value; every other letter is a flag
    flags="abBCDefhHiklmnprtuvxEPT0123456789",
    valued="oORT",
    code_mode="c",
    stdin_mode="s",
    long_flags={
        "--norc", "--noprofile", "--posix", "--login", "--verbose", "--restricted",
        "--noediting", "--debugger", "--dump-strings", "--dump-po-strings", "--help",
        "--version", "--pretty-print", "--protected",
    },
    plus=True,
)  # fmt: skip
_FISH = Syntax(
    flags="ilnNPvh",
    valued="dofp",
    code="cC",
    long_flags={"--interactive", "--login", "--no-execute", "--private", "--version", "--help"},
    long_code={"--command", "--init-command"},
)
_PYTHON = Syntax(
    flags="bBdEhiIOPqsSuvVxR?3",
    valued="WXQ",
    code="c",
    ends="cm",
    long_flags={"--help", "--version", "--help-env", "--help-xoptions", "--help-all"},
)
_PERL = Syntax(
    flags="acfhnpsStTuUvwWX",
    valued="IMm",
    attached="0CDdilVxF",
    code="eE",
    long_flags={"--help", "--version"},
)
_RUBY = Syntax(
    flags="acdhlnpsSvwyU",
    valued="IrCE",
    attached="0WKTxFi",
    code="e",
    long_flags={"--help", "--version", "--verbose", "--copyright", "--yydebug"},
)
_NODE = Syntax(
    flags="hicv",
    valued="rC",
    code="ep",
    long_flags={"--help", "--version", "--check", "--interactive", "--no-warnings"},
    long_code={"--eval", "--print"},
)
_DENO = Syntax(flags="hAqV", code="e", long_code={"--eval", "--print"}, subcommand=True)
_PHP = Syntax(flags="ahilmnqsvwHe", valued="cdfzt", code="rBRE", long_flags={"--help"})
_LUA = Syntax(flags="ivEW", valued="l", code="e")
_AWK = Syntax(valued="fvF", long_flags={"--version", "--help"}, stdin_program=False)
_SED = Syntax(
    flags="nrEsuz",
    valued="fl",
    code="e",
    attached="i",
    long_flags={"--version", "--help"},
    stdin_program=False,
)
_OPAQUE = Syntax()  # every option unknown: nothing before the program may be templated

_BY_NAME: dict[str, Syntax] = {
    **dict.fromkeys(("sh", "bash", "dash", "zsh", "ksh", "mksh", "ash", "yash", "rbash"), _SH),
    "busybox": _OPAQUE,
    "fish": _FISH,
    **dict.fromkeys(("python", "pypy", "pythonw"), _PYTHON),
    "perl": _PERL,
    **dict.fromkeys(("ruby", "jruby"), _RUBY),
    **dict.fromkeys(("node", "nodejs"), _NODE),
    **dict.fromkeys(("deno", "bun"), _DENO),
    "php": _PHP,
    **dict.fromkeys(("lua", "luajit"), _LUA),
    **dict.fromkeys(("awk", "gawk", "mawk", "nawk"), _AWK),
    "sed": _SED,
    **dict.fromkeys(("pwsh", "powershell", "osascript", "rscript", "tclsh", "wish"), _OPAQUE),
    **dict.fromkeys(("jshell", "scala", "groovy", "elixir", "erl", "julia", "racket"), _OPAQUE),
}
_VERSIONED = re.compile(r"(?P<name>[a-z]+?)[0-9.]*(?:\.exe)?")
_ENV = Syntax(
    flags="i0v",
    valued="uCP",
    long_flags={"--ignore-environment", "--null", "--debug", "--help", "--version"},
)
_ENV_SPLIT = frozenset({"--split-string"})
_REMOTE = frozenset({"ssh"})


def interpreter(arg: str) -> Syntax | None:
    """The option syntax of the interpreter ``arg`` names (by basename), if it is one."""
    found = _VERSIONED.fullmatch(os.path.basename(arg).lower())
    return _BY_NAME.get(found["name"]) if found else None


@frozen
class _Scan:
    """An interpreter's arguments read: where its program argument is, and what it is."""

    last: int  # the last index where a templated value is refused
    program: int | None  # index of the program argument, if there is one
    code: bool  # the program argument is code (not a file or module name)
    stdin: bool  # the program is read from stdin
    dollar0: int | None = None  # the argument after a shell's code string ($0)
    code_at: frozenset[int] = frozenset()  # arguments that are (or hold) code


def _scan(argv: Sequence[str], i: int, syntax: Syntax) -> _Scan:
    """Read the options of the interpreter at ``argv[i]`` the refusing way (module docstring)."""
    n = len(argv)
    j = i + 1
    code_mode = stdin_mode = code_given = False
    code_at: set[int] = set()
    subcommand_seen = not syntax.subcommand
    while j < n:
        arg = argv[j]
        if arg == "--" or (arg == "-" and syntax.plus):
            j += 1
            break
        if arg == "-":
            return _Scan(j, j, False, True)
        if arg.startswith("--"):
            name, eq, _ = arg.partition("=")
            if name in syntax.long_code:
                code_given = True
                code_at.add(j if eq else j + 1)
                j += 1 if eq else 2
            elif name in syntax.long_flags:
                j += 1
            elif not eq and j + 1 < n and not argv[j + 1].startswith("-"):
                j += 2  # an unknown long option: assume it takes the next argument
            else:
                j += 1
            continue
        if len(arg) > 1 and (arg[0] == "-" or (syntax.plus and arg[0] == "+")):
            letters, k, step = arg[1:], 0, 1
            while k < len(letters):
                ch, rest = letters[k], letters[k + 1 :]
                if ch in syntax.code_mode:
                    code_mode = True
                elif ch in syntax.stdin_mode:
                    stdin_mode = True
                elif ch in syntax.attached:
                    break
                elif ch not in syntax.flags:
                    known = ch in syntax.valued or ch in syntax.code or ch in syntax.ends
                    takes_next = not rest and j + 1 < n
                    if takes_next and not known and argv[j + 1].startswith("-"):
                        takes_next = False  # read it as options: a code letter there counts
                    if ch in syntax.ends:
                        at = j + 1 if takes_next else j
                        return _Scan(at, at, ch in syntax.code, False)
                    if ch in syntax.code:
                        code_given = True
                        code_at.add(j + 1 if takes_next else j)
                    step = 2 if takes_next else 1
                    break
                k += 1
            j += step
            continue
        if not subcommand_seen:
            subcommand_seen = True
            j += 1
            continue
        break
    if code_given:  # perl -e CODE ARGS...: what follows the options are plain arguments
        return _Scan(j - 1, None, False, False, code_at=frozenset(code_at))
    if j < n:
        dollar0 = j + 1 if code_mode and j + 1 < n else None
        return _Scan(j, j, code_mode, stdin_mode, dollar0)
    reads_stdin = syntax.stdin_program and not code_mode
    return _Scan(n - 1, None, False, stdin_mode or reads_stdin)


def _env_command(argv: Sequence[str], i: int) -> tuple[int | None, bool]:
    """The index of the command ``env`` at ``argv[i]`` runs, and whether ``-S`` was given."""
    n, j, split = len(argv), i + 1, False
    while j < n:
        arg = argv[j]
        if arg == "--":
            j += 1
            break
        if arg.startswith("--"):
            name, eq, _ = arg.partition("=")
            split |= name in _ENV_SPLIT
            if name in _ENV.long_flags or eq:
                j += 1
            else:
                j += 2  # --unset NAME, --chdir DIR, --split-string S: a value follows
            continue
        if len(arg) > 1 and arg[0] == "-":
            letters, step = arg[1:], 1
            for k, ch in enumerate(letters):
                if ch == "S":
                    split = True
                if ch not in _ENV.flags:
                    step = 1 if letters[k + 1 :] else 2
                    break
            j += step
            continue
        if "=" in arg:
            j += 1
            continue
        break
    return (j if j < n else None), split


def code_problems(
    argv: Sequence[str], templated: Mapping[int, str], stdin_placeholder: str | None = None
) -> list[str]:
    """Problems of ``argv`` whose elements at the indices of ``templated`` hold placeholders.

    ``templated`` maps an index to the first placeholder of that element; ``stdin_placeholder``
    is the first placeholder of what the command gets on stdin (the prompt), if any.
    """
    problems: dict[str, None] = {}

    def refuse(index: int, why: str) -> None:
        problems.setdefault(f"placeholder {{{templated[index]}}} {why}")

    if 0 in templated:
        refuse(0, "is the command itself; name the program literally")
    skip: set[int] = set()
    for i, arg in enumerate(argv):
        if i in skip or i in templated:
            continue
        name = os.path.basename(arg)
        if name in _REMOTE:
            for k in (k for k in templated if k > i):
                refuse(k, f"goes to {name!r}, whose remote side runs it through a shell")
            continue
        if name == "env":
            command, split = _env_command(argv, i)
            end = len(argv) if command is None else command
            for k in (k for k in templated if i < k < end):
                refuse(k, "is an option or assignment of 'env'; pass values after its command")
            if split:
                for k in (k for k in templated if k > i):
                    refuse(k, "follows 'env -S', which splits its string into code arguments")
            elif command is not None and command in templated:
                refuse(command, "is the command 'env' runs; name the program literally")
            continue
        syntax = interpreter(arg)
        if syntax is None:
            continue
        scan = _scan(argv, i, syntax)
        for k in (k for k in templated if i < k <= scan.last):
            if (k == scan.program and scan.code) or k in scan.code_at:
                refuse(
                    k,
                    f"inside the code string of {arg!r} would run its value as code; pass it "
                    'as an argument after the script and use "$1"',
                )
            elif k == scan.program:
                refuse(k, f"is the program {arg!r} runs; only arguments after it may be templated")
            else:
                refuse(
                    k,
                    f"is in the options of {arg!r}, where it could become code; only arguments "
                    "after its script or code argument may be templated",
                )
        if scan.stdin and stdin_placeholder is not None:
            problems.setdefault(
                f"placeholder {{{stdin_placeholder}}} of the prompt goes to the stdin of {arg!r}, "
                "which runs it as code; give the interpreter a script file instead"
            )
        if scan.dollar0 is not None:
            skip.add(scan.dollar0)  # `sh -c CODE sh ARGS`: that `sh` is only $0
    return list(problems)
