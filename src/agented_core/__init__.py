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
    LeaseLost,
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
    Checkout,
    CheckoutKind,
    Command,
    Concurrency,
    ErrorKind,
    Event,
    EventDraft,
    EventKind,
    Execution,
    GitHubTrigger,
    KeepWorkspace,
    ManualTrigger,
    ScheduleTrigger,
    Status,
    TriggerKind,
    Usage,
    WebhookTrigger,
    Workspace,
)
from .params import Param, ParamType
from .providers import CommandRequest, LineParser, OptionSpec, Outcome, Provider
from .reload import ReloadResult
from .run._spend import SpendTotals, spend_totals
from .store import SearchMatch, Store
from .sync import SyncAgented

__version__ = "0.1.0"

__all__ = [
    "Account",
    "Agented",
    "AgentedError",
    "Bot",
    "ChainEntry",
    "Checkout",
    "CheckoutKind",
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
    "KeepWorkspace",
    "LeaseLost",
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
    "ReloadResult",
    "ScheduleTrigger",
    "SearchMatch",
    "SpendTotals",
    "Status",
    "Store",
    "StoreError",
    "SyncAgented",
    "TemplateError",
    "TriggerKind",
    "Usage",
    "WebhookError",
    "WebhookTrigger",
    "Workspace",
    "__version__",
    "converter",
    "from_data",
    "from_json",
    "hookimpl",
    "load_config",
    "spend_totals",
    "to_data",
    "to_json",
]
