"""One run, from a queued execution to its final status.

In flow order: :func:`render` (prompt templates), :class:`Admission` (concurrency limits and
groups), :class:`Cooldowns` and :class:`RetryPolicy` (the account chain: cooldowns, the
breaker, retries), :func:`prepare` (an attempt's command and environment), :class:`ProcessRun`
(the supervised process group), the attempt's output and outcome, and :class:`Executor` (the
one run path over all of them).

This package's ``__all__`` holds the parts the provider SDK may sit on (templates, the run tag,
the process supervision); the parts that sit on providers (``_executor``, ``_preparation``,
``_output``, ``_outcomes``) are imported by the facade from their modules, so the package and
``agented_core.providers`` never import each other in a circle.
"""

from ._admission import Admission, Skipped
from ._cooldowns import Cooldowns
from ._owners import Owner
from ._process import RUN_TAG
from ._prompts import render, render_argv
from ._retries import RetryPolicy
from ._runner import Limits, ProcessResult, ProcessRun, StopReason

__all__ = [
    "RUN_TAG",
    "Admission",
    "Cooldowns",
    "Limits",
    "Owner",
    "ProcessResult",
    "ProcessRun",
    "RetryPolicy",
    "Skipped",
    "StopReason",
    "render",
    "render_argv",
]
