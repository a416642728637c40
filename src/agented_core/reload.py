"""Reloading the configuration of a running agented: what changed, and what may not change.

:meth:`Agented.reload <agented_core.Agented.reload>` reads the file again, validates it as
``agented check`` does, and refuses it whole (keeping the old configuration) on any error, or
when it changes what only a restart can (the store, the broker). Otherwise the new bots,
accounts, prices, webhook sources and settings apply to every run started from then on; a
running execution finishes on the bot definition it started with; cron schedules are planned
again.
"""

from __future__ import annotations

from attrs import frozen

from .config import Config
from .errors import Problem

__all__ = ["RESTART_ONLY", "ReloadResult", "reload_problems", "reload_result"]

RESTART_ONLY = ("database", "broker")
"""``[agented]`` keys a reload cannot change: they name what the process is connected to."""


@frozen
class ReloadResult:
    """What a reload changed: bots added, removed and changed (by name), and the warnings of
    the new configuration (``agented check``'s, which do not stop a reload)."""

    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()
    warnings: tuple[Problem, ...] = ()

    def summary(self) -> str:
        """One line for a log or an answer."""
        parts = [
            f"{label}: {', '.join(names)}"
            for label, names in (
                ("added", self.added),
                ("removed", self.removed),
                ("changed", self.changed),
            )
            if names
        ]
        return "; ".join(parts) or "no bot changed"


def reload_problems(old: Config, new: Config) -> list[Problem]:
    """Why ``new`` cannot replace ``old`` without a restart (an empty list when it can)."""
    out = []
    for key in RESTART_ONLY:
        before, after = getattr(old.settings, key), getattr(new.settings, key)
        if before != after:
            out.append(
                Problem(
                    f"changing [agented] {key} ({before!r} -> {after!r}) needs a restart",
                    file=str(new.path) if new.path else None,
                    field=f"agented.{key}",
                )
            )
    return out


def reload_result(old: Config, new: Config, warnings: list[Problem]) -> ReloadResult:
    """The bots ``new`` adds, removes and changes against ``old``."""
    return ReloadResult(
        added=tuple(sorted(set(new.bots) - set(old.bots))),
        removed=tuple(sorted(set(old.bots) - set(new.bots))),
        changed=tuple(
            sorted(n for n in set(old.bots) & set(new.bots) if old.bots[n] != new.bots[n])
        ),
        warnings=tuple(warnings),
    )
