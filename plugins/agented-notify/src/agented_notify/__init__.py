"""agented-notify: Slack and signed HTTP callback notifications of finished executions, and
health alerts (failures in a row, a run much slower than usual, a schedule fire that did not
start), per bot through its ``notify`` key. See the package README.

The module is the plugin the entry point registers (its hooks are those of one
:class:`NotifyPlugin`); receivers check a callback with :func:`verify`.
"""

from __future__ import annotations

from ._plugin import NotifyPlugin
from ._send import DELIVERY_HEADER, EVENT_HEADER, Message, NotifyError, send
from ._settings import DEFAULT_ON, BotNotify, Delivery
from ._signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign, verify

__all__ = [
    "DEFAULT_ON",
    "DELIVERY_HEADER",
    "EVENT_HEADER",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "BotNotify",
    "Delivery",
    "Message",
    "NotifyError",
    "NotifyPlugin",
    "agented_config_keys",
    "agented_configured",
    "agented_execution_finished",
    "agented_schedule_missed",
    "send",
    "sign",
    "verify",
]

_plugin = NotifyPlugin()
agented_config_keys = _plugin.agented_config_keys
agented_configured = _plugin.agented_configured
agented_execution_finished = _plugin.agented_execution_finished
agented_schedule_missed = _plugin.agented_schedule_missed
