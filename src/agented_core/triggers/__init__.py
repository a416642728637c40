"""Triggers: what starts a run. Deliveries (GitHub and generic webhooks), schedules, contexts.

- :class:`Deliveries`: a raw webhook request to the runs it starts (size, signature, format,
  dedup, matching), written to the delivery log; :class:`DeliveryResult`, :class:`DryRun`.
- :class:`Scheduler`: cron triggers that start runs once per fire across processes;
  :class:`CronSchedule` reads an expression in a timezone.
- :func:`shape_for`: the prompt-context keys a bot's triggers provide.
"""

from ._contexts import ContextShape, shape_for
from ._cron import CronSchedule
from ._deliveries import Deliveries, DeliveryResult, DryRun, secrets_from_env
from ._schedules import Schedule, Scheduler
from ._start import StartRun

__all__ = [
    "ContextShape",
    "CronSchedule",
    "Deliveries",
    "DeliveryResult",
    "DryRun",
    "Schedule",
    "Scheduler",
    "StartRun",
    "secrets_from_env",
    "shape_for",
]
