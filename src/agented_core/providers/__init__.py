"""The provider SDK and the built-in ``shell`` provider.

- :class:`Provider`, :class:`LineParser`, :class:`CommandRequest`, :class:`Outcome`,
  :class:`OptionSpec`: the interface every provider implements.
- :class:`CLIProvider`: a base for agent CLIs (argv, prompt on stdin, environment, classify).
- :class:`AgentParser`: what judging an attempt takes (its :class:`StderrTail`, its
  :class:`UsageTotals`, failures and their kind, the "exited without a result" error).
- :class:`JsonLinesParser`: an :class:`AgentParser` for CLIs that print one JSON object a
  line; ``as_*`` read fields defensively.
- the event builders :func:`session`, :func:`tool_call`, :func:`tool_result`, :func:`result`,
  :func:`retry`, :func:`warning`, :func:`error`, :func:`rate_limit`, :func:`headroom`,
  :func:`raw`.
- :func:`classify_outcome`: an attempt's error kind from its evidence.
- :func:`deep_merge`: a bot's settings table over the ones a provider writes.
- :func:`find_price`, :func:`price_tokens`, :func:`cost_of`, :func:`cost_of_models`: cost from
  ``[prices]`` for CLIs that report none.
- :func:`mcp_servers`, :func:`check_mcp_config`, :class:`McpServer`: a bot's MCP config, read
  once for every CLI's own format; :func:`settings_mcp_servers`: them as Gemini-style settings.
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
    HEADROOM,
    TOOL_RESULT_TEXT,
    WARNING,
    error,
    headroom,
    rate_limit,
    raw,
    result,
    retry,
    session,
    tool_call,
    tool_result,
    warning,
)
from .folders import managed_folder, write_private_json
from .json_lines import (
    JsonLinesParser,
    as_dict,
    as_float,
    as_int,
    as_list,
    as_str,
)
from .mcp import McpServer, check_mcp_config, mcp_servers, settings_mcp_servers
from .merge import deep_merge
from .pricing import cost_of, cost_of_models, find_price, price_tokens
from .shell import EventLineParser, ShellProvider
from .stderr import StderrTail
from .usage import UsageTotals

__all__ = [
    "HEADROOM",
    "TOOL_RESULT_TEXT",
    "WARNING",
    "AgentParser",
    "CLIProvider",
    "CommandRequest",
    "EventLineParser",
    "JsonLinesParser",
    "LineParser",
    "McpServer",
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
    "check_mcp_config",
    "classify_outcome",
    "cost_of",
    "cost_of_models",
    "deep_merge",
    "error",
    "find_price",
    "headroom",
    "managed_folder",
    "mcp_servers",
    "price_tokens",
    "rate_limit",
    "raw",
    "result",
    "retry",
    "session",
    "settings_mcp_servers",
    "tool_call",
    "tool_result",
    "warning",
    "write_private_json",
]
