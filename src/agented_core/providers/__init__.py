"""The provider SDK and the built-in ``shell`` provider.

- :class:`Provider`, :class:`LineParser`, :class:`CommandRequest`, :class:`Outcome`,
  :class:`OptionSpec`: the interface every provider implements.
- :class:`CLIProvider`: a base for agent CLIs (argv, prompt on stdin, environment, classify).
- :class:`AgentParser`: what judging an attempt takes (its :class:`StderrTail`, its
  :class:`UsageTotals`, failures and their kind, the "exited without a result" error).
- :class:`JsonLinesParser`: an :class:`AgentParser` for CLIs that print one JSON object a
  line; ``as_*`` read fields defensively.
- the event builders :func:`session`, :func:`tool_call`, :func:`tool_result`, :func:`result`,
  :func:`retry`, :func:`warning`, :func:`error`, :func:`rate_limit`, :func:`raw`.
- :func:`classify_outcome`: an attempt's error kind from its evidence.
- :func:`deep_merge`: a bot's settings table over the ones a provider writes.
"""

from .attempt import AgentParser
from .base import (
    CommandRequest,
    LineParser,
    OptionSpec,
    Outcome,
    Provider,
    classify_outcome,
)
from .cli import CLIProvider
from .drafts import (
    TOOL_RESULT_TEXT,
    WARNING,
    error,
    rate_limit,
    raw,
    result,
    retry,
    session,
    tool_call,
    tool_result,
    warning,
)
from .json_lines import (
    JsonLinesParser,
    as_dict,
    as_float,
    as_int,
    as_list,
    as_str,
)
from .merge import deep_merge
from .shell import EventLineParser, ShellProvider
from .stderr import StderrTail
from .usage import UsageTotals

__all__ = [
    "TOOL_RESULT_TEXT",
    "WARNING",
    "AgentParser",
    "CLIProvider",
    "CommandRequest",
    "EventLineParser",
    "JsonLinesParser",
    "LineParser",
    "OptionSpec",
    "Outcome",
    "Provider",
    "ShellProvider",
    "StderrTail",
    "UsageTotals",
    "as_dict",
    "as_float",
    "as_int",
    "as_list",
    "as_str",
    "classify_outcome",
    "deep_merge",
    "error",
    "rate_limit",
    "raw",
    "result",
    "retry",
    "session",
    "tool_call",
    "tool_result",
    "warning",
]
