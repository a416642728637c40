"""The provider SDK and the built-in ``shell`` provider.

- :class:`Provider`, :class:`LineParser`, :class:`CommandRequest`, :class:`Outcome`,
  :class:`OptionSpec`: the interface every provider implements.
- :class:`CLIProvider`: a base for agent CLIs (argv, prompt on stdin, environment, classify).
- :class:`JsonLinesParser`, :class:`UsageTotals` and the event helpers :func:`raw`,
  :func:`error`, :func:`rate_limit`: for CLIs that print one JSON object a line.
- :func:`classify_outcome`: an attempt's error kind from its evidence.
"""

from .base import (
    CommandRequest,
    LineParser,
    OptionSpec,
    Outcome,
    Provider,
    classify_outcome,
)
from .cli import CLIProvider
from .json_lines import (
    JsonLinesParser,
    UsageTotals,
    as_dict,
    as_float,
    as_int,
    as_list,
    as_str,
    error,
    rate_limit,
    raw,
)
from .shell import EventLineParser, ShellProvider

__all__ = [
    "CLIProvider",
    "CommandRequest",
    "EventLineParser",
    "JsonLinesParser",
    "LineParser",
    "OptionSpec",
    "Outcome",
    "Provider",
    "ShellProvider",
    "UsageTotals",
    "as_dict",
    "as_float",
    "as_int",
    "as_list",
    "as_str",
    "classify_outcome",
    "error",
    "rate_limit",
    "raw",
]
