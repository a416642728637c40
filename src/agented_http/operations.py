"""What the OpenAPI document says of a route, declared beside the route.

Each route module has an ``OPERATIONS`` tuple next to its ``routes()``: one :class:`Operation`
per (method, path) it serves, with its summary, parameters, body and answers.
:func:`agented_http.openapi.document` builds its paths from them, and
:func:`agented_http.create_app` refuses an app whose routes and operations differ
(:func:`mismatch`), so no route goes undocumented and the schema lists no route that is not
there. The role each route needs stays in :data:`agented_http.roles.ROUTES`, the table the auth
middleware enforces.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from attrs import frozen

Schema = dict[str, Any]

STRING: Schema = {"type": "string"}
NULLABLE_STRING: Schema = {"type": ["string", "null"]}
PUBLIC: list[Any] = []
"""The security of a route that goes without a key."""
TOKEN_OR_KEY: list[dict[str, list[str]]] = [{"ApiKey": []}, {"Bearer": []}, {"StreamToken": []}]
"""The security of the SSE route: a key, or a stream token."""


def ref(name: str) -> Schema:
    """A reference to the component ``name``."""
    return {"$ref": f"#/components/schemas/{name}"}


def json_answer(schema: Schema, description: str) -> Schema:
    """An answer with a JSON body of ``schema``."""
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def error(description: str) -> Schema:
    """An error answer (the ``Error`` body)."""
    return json_answer(ref("Error"), description)


E400 = error("bad request: a parameter or the body is not valid")
E401 = error("no valid API key")
E404 = error("no such object")
E409 = error("not possible in the object's current state")
E413 = error("the body is over the size limit")
E415 = error("the body's content type is not accepted")


def path_param(name: str, description: str) -> Schema:
    """A path parameter (a string)."""
    return {
        "name": name,
        "in": "path",
        "required": True,
        "description": description,
        "schema": STRING,
    }


def query(name: str, schema: Schema, description: str) -> Schema:
    """An optional query parameter."""
    return {"name": name, "in": "query", "required": False, "description": description,
            "schema": schema}  # fmt: skip


def header(
    name: str, description: str, required: bool = False, pattern: str | None = None
) -> Schema:
    """A header parameter (a string, of ``pattern`` when given)."""
    schema = {"type": "string", "pattern": pattern} if pattern else STRING
    return {"name": name, "in": "header", "required": required, "description": description,
            "schema": schema}  # fmt: skip


EXECUTION_ID = path_param("id", "the execution's id")
BOT_NAME = path_param("name", "the bot's name")
LIMIT: Schema = {"type": "integer", "minimum": 1, "maximum": 500, "default": 50}


@frozen
class Operation:
    """One route as the OpenAPI document shows it."""

    method: str
    path: str
    id: str
    summary: str
    responses: Mapping[str, Schema]
    description: str | None = None
    parameters: Sequence[Schema] = ()
    request_body: Schema | None = None
    security: list[Any] | None = None
    """``None``: the document's (an API key)."""

    def spec(self) -> Schema:
        """The operation object (a fresh one: callers may add to it)."""
        out: Schema = {"operationId": self.id, "summary": self.summary}
        if self.description is not None:
            out["description"] = self.description
        if self.security is not None:
            out["security"] = list(self.security)
        if self.parameters:
            out["parameters"] = [dict(p) for p in self.parameters]
        if self.request_body is not None:
            out["requestBody"] = self.request_body
        out["responses"] = dict(self.responses)
        return out


def paths(operations: Iterable[Operation]) -> dict[str, Schema]:
    """The OpenAPI paths of ``operations``, by path and method."""
    out: dict[str, Schema] = {}
    for operation in operations:
        methods = out.setdefault(operation.path, {})
        method = operation.method.lower()
        if method in methods:
            raise ValueError(f"two operations for {operation.method} {operation.path}")
        methods[method] = operation.spec()
    return out


def mismatch(
    routes: Iterable[tuple[str, str]], operations: Iterable[Operation]
) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """The (method, path) pairs of ``routes`` without an operation, and of ``operations``
    without a route (HEAD goes with GET)."""
    served = {r for r in routes if r[0] != "HEAD"}
    declared = {(o.method, o.path) for o in operations}
    return sorted(served - declared), sorted(declared - served)
