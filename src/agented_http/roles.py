"""Roles on API keys, and the one table of which role each route needs.

DESIGN's roles: ``viewer`` (read, stream, stream tokens, OpenAPI, accounts, the delivery list
without payloads), ``operator`` (the viewer's routes, and run, cancel, bulk cancel, pause, resume,
rerun, dry run, redeliver, clearing a cooldown), ``admin`` (everything) and
``metrics`` (``GET /metrics`` only). Each role's keys come from its own environment variable
(``[http] api_keys_env`` for admin, ``operator_keys_env``, ``viewer_keys_env``,
``metrics_keys_env``).

:data:`ROUTES` maps every route of the app to the role it needs, :data:`PUBLIC` for the routes
that go without a key and :data:`ANY_KEY` for those every key may use (``GET /whoami``). The auth
middleware enforces it, and :func:`agented_http.create_app` refuses to build an app with a route
that is missing from it, so no route can forget its role.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable, Mapping, Sequence

from attrs import frozen

VIEWER = "viewer"
OPERATOR = "operator"
ADMIN = "admin"
METRICS = "metrics"
ROLES = (ADMIN, OPERATOR, VIEWER, METRICS)
"""Every role, the strongest first (a key listed under several roles gets the first)."""

PUBLIC = "public"
"""Not a role: the route goes without a key (health, signature-checked webhooks)."""
ANY_KEY = "any"
"""Not a role: every valid key (and a stream token nowhere) may use the route."""

_GRANTS: Mapping[str, frozenset[str]] = {
    ADMIN: frozenset({ADMIN, OPERATOR, VIEWER, METRICS}),
    OPERATOR: frozenset({OPERATOR, VIEWER}),
    VIEWER: frozenset({VIEWER}),
    METRICS: frozenset({METRICS}),
}

ROUTES: Mapping[tuple[str, str], str] = {
    ("GET", "/health"): PUBLIC,
    ("GET", "/health/ready"): PUBLIC,
    ("POST", "/webhooks/github"): PUBLIC,
    ("POST", "/webhooks/{source}"): PUBLIC,
    ("GET", "/ui/"): PUBLIC,
    ("GET", "/ui/{view}"): PUBLIC,
    ("GET", "/ui/executions/{id}"): PUBLIC,
    ("GET", "/ui/static/{file}"): PUBLIC,
    ("GET", "/whoami"): ANY_KEY,
    ("GET", "/accounts"): VIEWER,
    ("GET", "/openapi.json"): VIEWER,
    ("GET", "/bots"): VIEWER,
    ("GET", "/bots/{name}"): VIEWER,
    ("GET", "/executions"): VIEWER,
    ("GET", "/executions/{id}"): VIEWER,
    ("GET", "/executions/{id}/events"): VIEWER,
    ("GET", "/executions/{id}/events.ndjson"): VIEWER,
    ("POST", "/executions/{id}/stream-token"): VIEWER,
    ("GET", "/deliveries"): VIEWER,
    ("POST", "/bots/{name}/runs"): OPERATOR,
    ("POST", "/executions/{id}/cancel"): OPERATOR,
    ("POST", "/executions/{id}/pause"): OPERATOR,
    ("POST", "/executions/{id}/resume"): OPERATOR,
    ("POST", "/executions/{id}/rerun"): OPERATOR,
    ("POST", "/webhooks/github/dry-run"): OPERATOR,
    ("POST", "/executions/cancel"): OPERATOR,
    ("POST", "/deliveries/{id}/redeliver"): OPERATOR,
    ("POST", "/accounts/{name}/clear"): OPERATOR,
    ("GET", "/audit"): ADMIN,
    ("GET", "/executions/{id}/audit"): ADMIN,
    ("GET", "/metrics"): METRICS,
    ("POST", "/config/reload"): ADMIN,
}
"""``(method, path template)`` to the role it needs (HEAD goes as GET)."""


def grants(role: str, needed: str) -> bool:
    """True when a key of ``role`` may use a route that needs ``needed``."""
    if needed in (PUBLIC, ANY_KEY):
        return True
    return needed in _GRANTS.get(role, frozenset())


def _pattern(template: str) -> re.Pattern[str]:
    parts = re.split(r"(\{[^}]+\})", template)
    return re.compile("".join("[^/]+" if p.startswith("{") else re.escape(p) for p in parts))


class RouteRoles:
    """The role a request needs, from a table of route templates (:data:`ROUTES`)."""

    def __init__(self, table: Mapping[tuple[str, str], str] = ROUTES) -> None:
        self.table = dict(table)
        self._patterns = [(m, _pattern(t), role) for (m, t), role in self.table.items()]

    def needed(self, method: str, path: str) -> str | None:
        """The role ``method path`` needs; ``None`` when no route has that path."""
        method = "GET" if method == "HEAD" else method
        for known, rx, role in self._patterns:
            if known == method and rx.fullmatch(path):
                return role
        return None

    def missing(self, routes: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
        """The ``(method, template)`` pairs of ``routes`` that have no role in the table."""
        return sorted(r for r in routes if r not in self.table and r[0] != "HEAD")


def key_id(key: str) -> str:
    """A short id of a key that tells keys apart in logs and the audit, and reveals nothing."""
    return "key-" + hashlib.sha256(key.encode()).hexdigest()[:12]


@frozen
class Principal:
    """Who a request is: the key's role and id (never the key)."""

    role: str
    id: str


class RoleKeys:
    """API keys with their roles, compared in constant time (every key compared)."""

    def __init__(self, keys: Mapping[str, Sequence[str]]) -> None:
        self._entries: list[tuple[bytes, Principal]] = []
        seen: set[str] = set()
        for role in ROLES:
            for key in keys.get(role, ()):
                if key and key not in seen:
                    seen.add(key)
                    digest = hashlib.sha256(key.encode()).digest()
                    self._entries.append((digest, Principal(role, key_id(key))))

    def __len__(self) -> int:
        return len(self._entries)

    def check(self, candidate: str) -> Principal | None:
        """The principal of ``candidate``, or ``None`` when it is no key."""
        digest = hashlib.sha256(candidate.encode()).digest()
        found: Principal | None = None
        for known, principal in self._entries:
            if hmac.compare_digest(digest, known) and found is None:
                found = principal
        return found
