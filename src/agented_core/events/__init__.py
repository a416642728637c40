"""Events: the per-execution log (numbering, live fan-out, batched persistence) and redaction.

- :class:`EventLog`: appends events with gapless seqs, fans them out to live followers, writes
  them to the store in batched transactions; :func:`status_event` builds a status event.
- :class:`Redactor`: takes secret values out of an event's text and data before it is stored.
"""

from ._log import EventLog, status_event
from ._redaction import Redactor, secret_values

__all__ = ["EventLog", "Redactor", "secret_values", "status_event"]
