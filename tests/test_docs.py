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
