"""agented: run AI coding agents as bots.

The public API of the core. Everything not listed in ``__all__`` is internal.
"""

from .agented import Agented
from .config import Config, load_config
from .converter import converter, from_data, from_json, to_data, to_json
from .errors import (
    AgentedError,
    ConfigError,
    ConflictError,
    NotFoundError,
    PluginError,
    Problem,
    StoreError,
    TemplateError,
    WebhookError,
)
from .hookspecs import hookimpl
from .models import (
    Account,
    Bot,
    ChainEntry,
    Command,
    Concurrency,
    ErrorKind,
    Event,
    EventDraft,
    EventKind,
    Execution,
    GitHubTrigger,
    ManualTrigger,
    ScheduleTrigger,
    Status,
    TriggerKind,
    Usage,
    WebhookTrigger,
)
from .params import Param, ParamType
from .providers import CommandRequest, LineParser, OptionSpec, Outcome, Provider
from .store import Store
from .sync import SyncAgented

__version__ = "0.1.0"

__all__ = [
    "Account",
    "Agented",
    "AgentedError",
    "Bot",
    "ChainEntry",
    "Command",
    "CommandRequest",
    "Concurrency",
    "Config",
    "ConfigError",
    "ConflictError",
    "ErrorKind",
    "Event",
    "EventDraft",
    "EventKind",
    "Execution",
    "GitHubTrigger",
    "LineParser",
    "ManualTrigger",
    "NotFoundError",
    "OptionSpec",
    "Outcome",
    "Param",
    "ParamType",
    "PluginError",
    "Problem",
    "Provider",
    "ScheduleTrigger",
    "Status",
    "Store",
    "StoreError",
    "SyncAgented",
    "TemplateError",
    "TriggerKind",
    "Usage",
    "WebhookError",
    "WebhookTrigger",
    "__version__",
    "converter",
    "from_data",
    "from_json",
    "hookimpl",
    "load_config",
    "to_data",
    "to_json",
]
