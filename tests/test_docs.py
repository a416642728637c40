"""The docs cannot drift from the code: every config key is documented, and nothing else."""

from __future__ import annotations

import re
from pathlib import Path

from agented_core.config import SCHEMA

DOCS = Path(__file__).parent.parent / "docs"


def documented_tables() -> dict[str, set[str]]:
    tables: dict[str, set[str]] = {}
    current: str | None = None
    for line in (DOCS / "configuration.md").read_text().splitlines():
        heading = re.match(r"^### (.+)$", line)
        if heading:
            current = heading.group(1).strip()
            tables[current] = set()
            continue
        row = re.match(r"^\| `([a-z_]+)` \|", line)
        if row and current is not None:
            tables[current].add(row.group(1))
    return tables


def test_configuration_reference_matches_the_code() -> None:
    documented = documented_tables()
    assert set(documented) == set(SCHEMA)
    for table, keys in SCHEMA.items():
        assert documented[table] == set(keys), table


def test_http_api_page_lists_every_route_of_the_schema() -> None:
    """docs/http-api.md documents every (method, path) of the OpenAPI schema, and no others."""
    from agented_http.openapi import document

    schema = document("agented", "/agented")
    documented: set[tuple[str, str]] = set()
    for line in (DOCS / "http-api.md").read_text().splitlines():
        row = re.match(r"^\| `([A-Z]+) ([^`?]+)[^`]*`(?: · (.*?))? \|", line)
        if not row:
            continue
        method, path = row.group(1), row.group(2)
        documented.add((method, path))
        for extra in re.findall(r"`(/[a-z-]+)`", row.group(3) or ""):
            documented.add((method, path.rsplit("/", 1)[0] + extra))
    in_schema = {
        (method.upper(), path)
        for path, operations in schema["paths"].items()
        for method in operations
        if method in ("get", "post", "put", "delete", "patch")
    }
    assert in_schema - documented == set(), "routes missing from docs/http-api.md"
    assert documented - in_schema == set(), "docs/http-api.md lists routes the API does not have"
