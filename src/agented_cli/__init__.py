"""The ``agented`` command: run, serve, check, inspect and control bots and executions.

Exit codes of ``run`` (and of ``rerun`` without ``--url``, which runs in the foreground too)
follow the execution's status: 0 succeeded, 1 failed, 2 usage or config error, 3 timed_out,
4 cancelled, 5 budget_exceeded, 6 waiting, 7 interrupted, 8 skipped. The other commands exit
0 on success, 1 when what they ask about is missing or refused (an unknown execution, a cancel
of a finished run, problems found by ``check``, ``init`` onto an existing file) and 2 on a
usage or config error. An id may be given by its start; one that several ids start with is a
usage error (2), its message listing them.
"""

from ._main import EXIT_CODES, EXIT_USAGE, exit_code, main, run_cli

__all__ = ["EXIT_CODES", "EXIT_USAGE", "exit_code", "main", "run_cli"]
