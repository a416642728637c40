"""``agented init``: a starter ``agented.toml`` from the library of ready-made bots.

The library is package data (``agented_cli/bots/NAME.toml``), so an installed agented
writes the same files the repository's tests check. Each is a whole configuration: one bot with
a prompt worth using, its triggers, and a shell stand-in for the agent, so it runs as written.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from importlib.resources import files
from pathlib import Path
from typing import TextIO

from agented_core.config import DEFAULT_CONFIG
from agented_core.errors import AgentedError

DEFAULT_BOT = "nightly-maintenance"
_LIBRARY = files(__package__).joinpath("bots")


def bot_names() -> list[str]:
    """The names of the ready-made bots, sorted."""
    return sorted(
        entry.name.removesuffix(".toml")
        for entry in _LIBRARY.iterdir()
        if entry.name.endswith(".toml")
    )


def bot_text(name: str) -> str:
    """The configuration file of the ready-made bot ``name``."""
    if name not in bot_names():
        raise AgentedError(f"no ready-made bot {name!r} (there are: {', '.join(bot_names())})")
    return _LIBRARY.joinpath(f"{name}.toml").read_text(encoding="utf-8")


def description(name: str) -> str:
    """The first comment line of a ready-made bot, without its name."""
    first = bot_text(name).splitlines()[0]
    return first.removeprefix("#").strip().removeprefix(f"{name}:").strip()


def cmd_init(args: argparse.Namespace, out: TextIO) -> int:
    """Write the chosen bot's file; refuse (exit 1) when the target exists."""
    if args.list:
        width = max(map(len, bot_names()))
        for name in bot_names():
            print(f"{name:<{width}}  {description(name)}", file=out)
        return 0
    text = bot_text(args.bot)
    target = Path(args.config)
    if target.is_dir():
        target /= DEFAULT_CONFIG
    try:
        # "x": created here or not at all, so a file that appears meanwhile is never replaced
        with target.open("x", encoding="utf-8") as f:
            f.write(text)
    except FileExistsError:
        print(f"error: {target} exists; agented init never overwrites a file", file=sys.stderr)
        return 1
    except OSError as exc:
        raise AgentedError(f"cannot write {target}: {exc.strerror or exc}") from None
    default = os.path.normpath(target) == DEFAULT_CONFIG
    flag = "" if default else f" --config {shlex.quote(str(target))}"
    print(f"wrote {target}: the {args.bot} bot. Next:", file=out)
    print(f"  agented check{flag}", file=out)
    for line in text.splitlines():
        hint = line.removeprefix("#").strip()
        if hint.startswith("agented run "):
            print(f"  {hint.split('  #')[0].strip()}{flag}", file=out)
    return 0
