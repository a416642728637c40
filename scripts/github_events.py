"""Regenerate ``src/agented_core/github_events.json``: GitHub's webhook events and their actions.

The source is the published webhook schema, the npm package ``@octokit/webhooks-schemas``
(``schema.json``, generated from GitHub's own documentation). Only event -> actions is kept::

    npm pack @octokit/webhooks-schemas --pack-destination /tmp/schemas
    tar xzf /tmp/schemas/octokit-webhooks-schemas-*.tgz -C /tmp/schemas
    python scripts/github_events.py /tmp/schemas/package   # writes the JSON file

Events whose payloads carry no ``action`` (``push``, ``ping``, ...) get an empty list; an event
whose ``action`` is free text (``repository_dispatch``) gets ``null``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

TARGET = Path(__file__).parent.parent / "src" / "agented_core" / "github_events.json"


def _actions(definitions: dict[str, Any], name: str) -> set[str] | None:
    """The ``action`` values of a definition, following ``oneOf`` references.

    ``None`` when the payload has an ``action`` that is free text (``repository_dispatch``:
    the sender's ``event_type``).
    """
    schema = definitions[name]
    found: set[str] = set()
    for ref in schema.get("oneOf", ()):
        if "$ref" in ref:  # an inline alternative is a payload part, not an action variant
            more = _actions(definitions, ref["$ref"].rsplit("/", 1)[1])
            if more is None:
                return None
            found |= more
    action = schema.get("properties", {}).get("action")
    if action is not None:
        if "enum" not in action and "const" not in action:
            return None
        found.update(action.get("enum", ()))
        if "const" in action:
            found.add(action["const"])
    return found


def extract(schema: dict[str, Any]) -> dict[str, list[str] | None]:
    """Every event of the schema's top-level ``oneOf`` with its sorted actions (``None``: any)."""
    definitions = schema["definitions"]
    events: dict[str, list[str] | None] = {}
    for ref in schema["oneOf"]:
        name = ref["$ref"].rsplit("/", 1)[1]
        event = name.removesuffix("_event").removesuffix("$event")
        actions = _actions(definitions, name)
        events[event] = None if actions is None else sorted(actions)
    return dict(sorted(events.items()))


def main(package: str) -> None:
    """Read ``package/schema.json`` and ``package/package.json``; write :data:`TARGET`."""
    folder = Path(package)
    schema = json.loads((folder / "schema.json").read_text())
    meta = json.loads((folder / "package.json").read_text())
    data = {
        "source": f"{meta['name']}@{meta['version']} (schema.json), by scripts/github_events.py",
        "events": extract(schema),
    }
    # one event a line, so a regenerated file diffs by event
    lines = [f"  {json.dumps(k)}: {json.dumps(v)}" for k, v in data["events"].items()]
    events = ",\n".join(lines)
    source = json.dumps(data["source"])
    TARGET.write_text(f'{{\n "source": {source},\n "events": {{\n{events}\n }}\n}}\n')
    print(f"{TARGET}: {len(data['events'])} events from {meta['name']}@{meta['version']}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "package")
