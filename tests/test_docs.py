"""The docs cannot drift from the code: every config key is documented, and nothing else."""

from __future__ import annotations

import re
from pathlib import Path

from agented_core.config import SCHEMA
from agented_core.config_keys import PluginKeys
from agented_core.plugins import Plugins

DOCS = Path(__file__).parent.parent / "docs"
PLUGIN_HEADING = "plugin: "


def documented_tables(text: str | None = None) -> dict[str, set[str]]:
    """Each ``### TABLE`` heading of the configuration page with the keys of its rows."""
    tables: dict[str, set[str]] = {}
    current: str | None = None
    if text is None:
        text = (DOCS / "configuration.md").read_text()
    for line in text.splitlines():
        heading = re.match(r"^### (.+)$", line)
        if heading:
            current = heading.group(1).strip()
            tables[current] = set()
            continue
        row = re.match(r"^\| `([a-z_]+)` \|", line)
        if row and current is not None:
            tables[current].add(row.group(1))
    return tables


def plugin_tables(keys: PluginKeys) -> dict[str, set[str]]:
    """The tables of plugin keys as the page heads them: ``plugin: github``, ``plugin: bots.NAME``,
    ``plugin: on: github``."""
    out = {f"{PLUGIN_HEADING}{name}": set(table) for name, table in keys.tables.items()}
    if keys.bot:
        out[f"{PLUGIN_HEADING}bots.NAME"] = set(keys.bot)
    for kind, kind_keys in keys.triggers.items():
        out[f"{PLUGIN_HEADING}on: {kind}"] = set(kind_keys)
    return out


def test_configuration_reference_matches_the_code() -> None:
    documented = documented_tables()
    core = {k: v for k, v in documented.items() if not k.startswith(PLUGIN_HEADING)}
    assert set(core) == set(SCHEMA)
    for table, keys in SCHEMA.items():
        assert core[table] == set(keys), table


def test_configuration_reference_lists_the_keys_of_the_installed_plugins() -> None:
    """Keys plugins declare are documented under ``### plugin: TABLE`` headings, and only those."""
    documented = documented_tables()
    plugins = {k: v for k, v in documented.items() if k.startswith(PLUGIN_HEADING)}
    assert plugins == plugin_tables(Plugins().config_keys())


def test_plugin_keys_are_compared_with_their_headings() -> None:
    """The comparison above on the example plugin of the tests: a missing key would show."""
    import sys

    sys.path.insert(0, str(Path(__file__).parent / "fixtures" / "plugins"))
    import agtest_example

    keys = Plugins([agtest_example], entry_points=False).config_keys()
    page = """
### plugin: example

| key | default | meaning |
|---|---|---|
| `level` | | a number |
| `name` | | a name |

### plugin: bots.NAME

| key | default | meaning |
|---|---|---|
| `notes` | | what to note |

### plugin: on: github

| key | default | meaning |
|---|---|---|
| `forks` | | also forks |
"""
    assert documented_tables(page) == plugin_tables(keys)
    assert documented_tables(page.replace("| `name` | | a name |\n", "")) != plugin_tables(keys)


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
