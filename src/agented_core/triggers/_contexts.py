"""Which prompt-context keys each trigger provides (DESIGN, "Prompt context").

A :class:`ContextShape` is the tree of keys a bot's templates may use; :func:`shape_for`
builds it from the bot's triggers so that :func:`agented_core.run._prompts.check` refuses a
typo when the bot loads.

Every bot's context has ``bot`` {name, provider, model, account, description}, ``execution``
{id, attempt}, ``trigger`` (the kind), ``now`` (ISO-8601, UTC) and ``params`` (the parameters
declared by its manual triggers, each a plain value of its declared type). Webhook triggers
add ``event``, ``action``, ``delivery`` and ``payload`` (the raw body: any sub-path is allowed);
generic sources also ``source``. GitHub triggers add ``repo`` and ``sender``, and the sections
of their event type (:data:`GITHUB_EVENT_SECTIONS`); an event type not listed there gets none.

A bot with a ``checkout`` also has ``workspace`` {path, repo, sha, ref} (:data:`WORKSPACE`): its
worktree, the repository, the exact commit and the ref it came from.

A bot with several triggers may use a key if *any* of its triggers provides it. At run time a
key the current trigger does not provide renders as the empty string (the runner renders with
``missing="empty"``), so ``{pr.number}`` in a bot fired by both ``pull_request`` and a schedule
is empty on scheduled runs.

Each plain value carries the name of its type (:attr:`Leaf.type`); ``docs/contexts.md`` lists
every key with its type, and a test holds the page and these shapes together.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping

from attrs import frozen

from agented_core.models import Bot, GitHubTrigger, ManualTrigger, Trigger, WebhookTrigger
from agented_core.params import Param

__all__ = [
    "BASE",
    "BOOLEAN",
    "GITHUB_EVENT_SECTIONS",
    "GITHUB_SECTIONS",
    "INTEGER",
    "LEAF",
    "NULLABLE",
    "OPEN",
    "WORKSPACE",
    "ContextShape",
    "Leaf",
    "ListOf",
    "Node",
    "Open",
    "Record",
    "params_shape",
    "shape_for",
    "trigger_shape",
]


@frozen
class Leaf:
    """A plain value (string, number, boolean or null): no keys below it.

    ``type`` names its JSON type as the docs show it: ``string``, ``integer``, ``number``,
    ``boolean``, optionally with `` or null``.
    """

    type: str = "string"


@frozen
class Open:
    """A value of unknown structure (a raw payload): every sub-path is allowed."""


@frozen
class ListOf:
    """A list whose elements (reached by numeric index) have the shape ``item``."""

    item: Node


@frozen
class Record:
    """A mapping with known keys."""

    fields: Mapping[str, Node]


Node = Leaf | Open | ListOf | Record
LEAF = Leaf()
NULLABLE = Leaf("string or null")
INTEGER = Leaf("integer")
BOOLEAN = Leaf("boolean")
OPEN = Open()


def _rec(*names: str, **nodes: Node) -> Record:
    return Record({**dict.fromkeys(names, LEAF), **nodes})


GITHUB_SECTIONS: Mapping[str, Record] = {
    "repo": _rec(
        "owner", "name", "full_name", "default_branch", "clone_url", "html_url", private=BOOLEAN
    ),
    "sender": _rec("login", "type"),
    "pr": _rec(
        "title",
        "author",
        "head_ref",
        "head_sha",
        "base_ref",
        "html_url",
        "diff_url",
        number=INTEGER,
        body=NULLABLE,
        draft=BOOLEAN,
        labels=ListOf(LEAF),
    ),
    "issue": _rec(
        "title", "author", "html_url", number=INTEGER, body=NULLABLE, labels=ListOf(LEAF)
    ),
    "comment": _rec("body", "author", "html_url", command=NULLABLE),
    "review": _rec("state", "author", body=NULLABLE),
    "push": _rec(
        "ref",
        "before",
        "after",
        branch=NULLABLE,
        commits=ListOf(_rec("id", "message", "author", "url")),
        paths=ListOf(LEAF),
    ),
    "release": _rec("tag", name=NULLABLE, body=NULLABLE),
    "workflow_run": _rec("name", "head_sha", "head_branch", "html_url", conclusion=NULLABLE),
}
"""The fields of each GitHub context section (DESIGN); labels and paths are lists of names.

Any field is ``None`` when the payload lacks it; the types are those of a complete payload.
"""

GITHUB_EVENT_SECTIONS: Mapping[str, tuple[str, ...]] = {
    "pull_request": ("pr",),
    "pull_request_target": ("pr",),
    "pull_request_review": ("pr", "review"),
    "pull_request_review_comment": ("pr", "comment"),
    "pull_request_review_thread": ("pr",),
    "issues": ("issue",),
    "issue_comment": ("issue", "comment", "pr"),
    "commit_comment": ("comment",),
    "discussion_comment": ("comment",),
    "push": ("push",),
    "release": ("release",),
    "workflow_run": ("workflow_run",),
}
"""The sections beyond ``repo`` and ``sender`` each GitHub event type provides.

On ``issue_comment``, ``pr`` is ``None`` unless the issue is a pull request, and then only its
issue-level fields are known (no ``head_*``/``base_ref``, which the payload does not carry).
"""

BASE = _rec(
    "trigger",
    "now",
    bot=_rec("name", "provider", model=NULLABLE, account=NULLABLE, description=NULLABLE),
    execution=_rec("id", attempt=INTEGER),
)
"""The keys every context has, ``params`` aside (see :func:`params_shape`)."""
WORKSPACE = _rec("path", "repo", "sha", "ref")
"""The ``workspace`` of a bot with a checkout: {path, repo, sha, ref}."""
_WEBHOOK = _rec("event", action=NULLABLE, delivery=NULLABLE, payload=OPEN)


def _merge(a: Node, b: Node) -> Node:
    if isinstance(a, Open) or isinstance(b, Open):
        return OPEN
    if isinstance(a, Record) and isinstance(b, Record):
        fields = dict(a.fields)
        for key, node in b.fields.items():
            fields[key] = _merge(fields[key], node) if key in fields else node
        return Record(fields)
    if isinstance(a, ListOf) and isinstance(b, ListOf):
        return ListOf(_merge(a.item, b.item))
    return a if isinstance(a, Record | ListOf) else b


def _where(key: str) -> str | None:
    """Which triggers provide a well-known top-level key, for the message about its absence."""
    events = [e for e, sections in GITHUB_EVENT_SECTIONS.items() if key in sections]
    if events:
        return "GitHub triggers on " + ", ".join(events)
    if key in ("repo", "sender"):
        return "GitHub triggers"
    if key in _WEBHOOK.fields:
        return "GitHub and webhook triggers"
    if key == "source":
        return "webhook triggers"
    if key == "workspace":
        return "a checkout (set the bot's checkout)"
    return None


@frozen
class ContextShape:
    """The keys a context provides, as a tree of :data:`Node` under a root :class:`Record`."""

    root: Record

    def merged(self, other: ContextShape) -> ContextShape:
        """A shape providing every key either shape provides."""
        merged = _merge(self.root, other.root)
        assert isinstance(merged, Record)
        return ContextShape(merged)

    def provides(self, path: str) -> bool:
        """True if a template may use the dotted ``path``."""
        return self.problem(path) is None

    def problem(self, path: str) -> str | None:
        """Why a template may not use the dotted ``path``, or ``None`` if it may."""
        node: Node = self.root
        walked: list[str] = []
        for segment in path.split("."):
            prefix = ".".join(walked)
            if isinstance(node, Open):
                return None
            if isinstance(node, Leaf):
                return f"'{prefix}' is a plain value without keys, so '{path}' does not exist"
            if isinstance(node, ListOf):
                if not (segment.isascii() and segment.isdigit()):
                    return f"'{prefix}' is a list; index it with a number, e.g. '{prefix}.0'"
                node = node.item
            elif segment in node.fields:
                node = node.fields[segment]
            else:
                return self._unknown(path, walked, segment, list(node.fields))
            walked.append(segment)
        return None

    @staticmethod
    def _unknown(path: str, walked: list[str], segment: str, keys: list[str]) -> str:
        where = _where(segment) if not walked else None
        if where and segment == "workspace":
            return f"key 'workspace' (in '{path}') comes with {where}; this bot has none"
        if where:
            return (
                f"key '{segment}' (in '{path}') comes with {where}, "
                "and no trigger of this bot is one"
            )
        head = ".".join([*walked, ""])
        close = difflib.get_close_matches(segment, keys, n=1, cutoff=0.6)
        message = f"unknown key '{head}{segment}'"
        if close:
            message += f" (did you mean '{head}{close[0]}'?)"
        if walked == ["params"]:
            message += "; declare it in the params of a manual trigger"
        level = f"'{'.'.join(walked)}'" if walked else "the top level"
        listed = ", ".join(sorted(keys)) if keys else "none"
        return f"{message}; keys at {level}: {listed}"

    def paths(self) -> list[str]:
        """Every dotted path down to a plain value (lists as ``.0``, open values as themselves)."""
        out: list[str] = []

        def walk(node: Node, prefix: str) -> None:
            if isinstance(node, Record) and node.fields:
                for key, child in node.fields.items():
                    walk(child, f"{prefix}.{key}" if prefix else key)
            elif isinstance(node, ListOf):
                walk(node.item, f"{prefix}.0")
            else:
                out.append(prefix)

        walk(self.root, "")
        return out


def params_shape(params: Iterable[Param]) -> Record:
    """The ``params`` of a context: each declared parameter, a plain value of its type."""
    return Record({p.name: Leaf(p.type.json_type) for p in params})


def trigger_shape(trigger: Trigger) -> ContextShape:
    """The keys ``trigger`` adds to the context every bot has (see :func:`shape_for`)."""
    if isinstance(trigger, GitHubTrigger):
        sections = ("repo", "sender", *GITHUB_EVENT_SECTIONS.get(trigger.event, ()))
        return ContextShape(
            Record({**_WEBHOOK.fields, **{s: GITHUB_SECTIONS[s] for s in sections}})
        )
    if isinstance(trigger, WebhookTrigger):
        return ContextShape(Record({**_WEBHOOK.fields, "source": LEAF}))
    if isinstance(trigger, ManualTrigger):
        return ContextShape(Record({"params": params_shape(trigger.params)}))
    return ContextShape(Record({}))


def shape_for(bot: Bot) -> ContextShape:
    """The keys ``bot``'s templates may use: the common ones plus any its triggers provide."""
    shape = ContextShape(Record({**BASE.fields, "params": params_shape(bot.param_specs)}))
    for trigger in bot.triggers:
        shape = shape.merged(trigger_shape(trigger))
    if bot.checkout.enabled:
        shape = shape.merged(ContextShape(Record({"workspace": WORKSPACE})))
    return shape
