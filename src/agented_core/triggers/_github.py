"""GitHub deliveries, store-free: signature, body, prompt context and trigger matching.

Order for a delivery (DESIGN): size limit, then :func:`verify_signature` on the raw body, then
:func:`parse_body`, then :func:`build_context`, then :func:`match` for each GitHub trigger.
Deduplication and the delivery log need the store and live elsewhere.

Globs (``repos``, ``branches``, ``paths``): ``*`` and ``?`` stop at ``/``, ``**`` crosses it
(``src/**``, ``**.md``, ``feature/*``); repository names compare case-insensitively.
Labels and authors compare exactly, case-insensitively. Branch filters look at the base branch
of a pull request, the pushed branch of a push and the head branch of a workflow run.

Comment commands: a command ``/review`` matches a line of the text that starts with it (after
blanks, followed by a blank or the line's end); a mention ``@name`` matches anywhere. Quoted lines
(``>``) and fenced code blocks are ignored, so quoting a command does not fire it again. The text
is the comment's body on comment events, the review's on ``pull_request_review``, the issue's on
``issues`` and the pull request's on ``pull_request``.

``paths`` on a pull request event needs the PR's changed files, which its payload does not list:
the caller fetches them once per delivery (only when a trigger's filter needs them, see
:func:`needs_changed_files`) through the plugins' ``agented_changed_files`` hook and passes them
to :func:`match` as ``changed_files``; without them the trigger does not fire, saying why.
``drafts = false`` skips draft pull requests; ``author_associations`` compares the
``author_association`` GitHub gives the comment's, review's, PR's or issue's author.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import parse_qs

from agented_core.errors import BadPayload, PayloadTooLarge, UnsupportedMediaType
from agented_core.models import GitHubTrigger
from agented_core.storable import require_storable_json
from agented_core.triggers import _github_events as github_events
from agented_core.triggers._contexts import GITHUB_EVENT_SECTIONS
from agented_core.triggers._signatures import SIGNATURE_HEADER, verify_signature

__all__ = [
    "SIGNATURE_HEADER",
    "build_context",
    "check_trigger",
    "match",
    "matched_command",
    "needs_changed_files",
    "parse_body",
    "read_body",
    "trigger_problems",
    "verify_signature",
    "with_command",
]


_PR_EVENTS = (
    "pull_request",
    "pull_request_target",
    "pull_request_review",
    "pull_request_review_comment",
    "pull_request_review_thread",
)
_BRANCH_OF: Mapping[str, tuple[str, str]] = {
    **{e: ("pr", "base_ref") for e in _PR_EVENTS},
    "push": ("push", "branch"),
    "workflow_run": ("workflow_run", "head_branch"),
}
_LABELS_OF: Mapping[str, str] = {
    **{e: "pr" for e in _PR_EVENTS},
    "issues": "issue",
    "issue_comment": "issue",
}
_COMMAND_TEXT: Mapping[str, str] = {
    "issue_comment": "comment",
    "pull_request_review_comment": "comment",
    "commit_comment": "comment",
    "discussion_comment": "comment",
    "pull_request_review": "review",
    "issues": "issue",
    "pull_request": "pr",
    "pull_request_target": "pr",
}
_ASSOCIATED = (*_PR_EVENTS, "issues", "issue_comment", "commit_comment", "discussion_comment")
ASSOCIATIONS = (
    "OWNER",
    "MEMBER",
    "COLLABORATOR",
    "CONTRIBUTOR",
    "FIRST_TIME_CONTRIBUTOR",
    "FIRST_TIMER",
    "MANNEQUIN",
    "NONE",
)
"""GitHub's ``author_association`` values."""
_SLASH = re.compile(r"/[A-Za-z][\w-]*")
_MENTION = re.compile(r"@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\[bot\])?")
_LINE_COMMAND = re.compile(r"[ \t]*(/[A-Za-z][\w-]*)(?=\s|$)")
_MENTIONS_IN = re.compile(r"(?<![\w@/.`-])@([A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\[bot\])?)")
_FENCE = re.compile(r"[ \t]*(`{3,}|~{3,})")


def parse_body(body: bytes, content_type: str | None, *, max_bytes: int) -> Any:
    """Parse a delivery body: JSON, or form-encoded with the JSON in its ``payload`` field.

    An empty body (or empty ``payload``) gives ``None``, as does JSON ``null``. Raises
    :class:`PayloadTooLarge` over ``max_bytes``, :class:`UnsupportedMediaType` for another
    content type and :class:`BadPayload` for a body that does not parse or holds a string
    that cannot be stored (a lone surrogate).
    """
    return read_body(body, content_type, max_bytes=max_bytes)[0]


def read_body(body: bytes, content_type: str | None, *, max_bytes: int) -> tuple[Any, bytes | None]:
    """:func:`parse_body`, and the JSON text the payload was parsed from (``None`` for none)."""
    if len(body) > max_bytes:
        raise PayloadTooLarge(f"the body has {len(body)} bytes, over the limit of {max_bytes}")
    media = (content_type or "").split(";", 1)[0].strip().lower()
    is_json = media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )
    if is_json:
        raw = body
    elif media == "application/x-www-form-urlencoded":
        try:
            fields = parse_qs(body.decode("utf-8"), keep_blank_values=True)
        except (UnicodeDecodeError, ValueError) as exc:
            raise BadPayload(f"the form-encoded body does not parse: {exc}") from None
        values = fields.get("payload", [])
        if len(values) != 1:
            raise BadPayload("a form-encoded body needs exactly one 'payload' field")
        raw = values[0].encode()
    else:
        raise UnsupportedMediaType(
            f"content type {media or '(none)'!r} is neither application/json "
            "nor application/x-www-form-urlencoded"
        )
    if not raw.strip():
        return None, None
    try:
        payload = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise BadPayload(f"the body is not valid JSON: {exc}") from None
    require_storable_json(raw, payload, "the body")
    return payload, raw


def _get(obj: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(obj, Mapping):
            return None
        obj = obj.get(key)
    return obj


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _labels(obj: Any) -> list[str]:
    labels = _get(obj, "labels")
    if not isinstance(labels, list):
        return []
    names = [_get(label, "name") if isinstance(label, Mapping) else label for label in labels]
    return [name for name in names if isinstance(name, str)]


def _live_lines(text: str) -> list[str]:
    """The lines of Markdown ``text`` outside fenced code blocks and block quotes."""
    lines: list[str] = []
    fence: str | None = None
    for line in text.splitlines():
        opener = _FENCE.match(line)
        if fence is not None:
            if opener and opener.group(1)[0] == fence[0] and len(opener.group(1)) >= len(fence):
                fence = None
        elif opener:
            fence = opener.group(1)
        elif not line.lstrip().startswith(">"):
            lines.append(line)
    return lines


def _slash_commands(text: Any) -> list[str]:
    if not isinstance(text, str):
        return []
    found = (_LINE_COMMAND.match(line) for line in _live_lines(text))
    return [m.group(1) for m in found if m]


def _mentions(text: Any) -> set[str]:
    if not isinstance(text, str):
        return set()
    return {m.group(1).lower() for line in _live_lines(text) for m in _MENTIONS_IN.finditer(line)}


def _pr(body: Mapping[str, Any], event: str) -> dict[str, Any] | None:
    if event == "issue_comment":
        issue = _get(body, "issue")
        links = _get(issue, "pull_request")
        if not isinstance(links, Mapping):
            return None
        return {
            "number": _get(issue, "number"),
            "title": _get(issue, "title"),
            "body": _get(issue, "body"),
            "author": _get(issue, "user", "login"),
            "head_ref": None,
            "head_sha": None,
            "base_ref": None,
            "draft": _get(issue, "draft"),
            "labels": _labels(issue),
            "html_url": _get(links, "html_url") or _get(issue, "html_url"),
            "diff_url": _get(links, "diff_url"),
        }
    pr = _get(body, "pull_request")
    return {
        "number": _get(pr, "number"),
        "title": _get(pr, "title"),
        "body": _get(pr, "body"),
        "author": _get(pr, "user", "login"),
        "head_ref": _get(pr, "head", "ref"),
        "head_sha": _get(pr, "head", "sha"),
        "base_ref": _get(pr, "base", "ref"),
        "draft": _get(pr, "draft"),
        "labels": _labels(pr),
        "html_url": _get(pr, "html_url"),
        "diff_url": _get(pr, "diff_url"),
    }


def _push(body: Mapping[str, Any]) -> dict[str, Any]:
    ref = _text(body.get("ref"))
    branch = ref.removeprefix("refs/heads/") if ref and ref.startswith("refs/heads/") else None
    listed = body.get("commits")
    commits: list[Any] = listed if isinstance(listed, list) else []
    paths: set[str] = set()
    for commit in commits:
        for kind in ("added", "removed", "modified"):
            changed = _get(commit, kind)
            if isinstance(changed, list):
                paths.update(p for p in changed if isinstance(p, str))
    return {
        "ref": ref,
        "branch": branch,
        "before": body.get("before"),
        "after": body.get("after"),
        "commits": [
            {
                "id": _get(c, "id"),
                "message": _get(c, "message"),
                "author": _get(c, "author", "username") or _get(c, "author", "name"),
                "url": _get(c, "url"),
            }
            for c in commits
            if isinstance(c, Mapping)
        ],
        "paths": sorted(paths),
    }


def _section(name: str, body: Mapping[str, Any], event: str) -> dict[str, Any] | None:
    if name == "pr":
        return _pr(body, event)
    if name == "push":
        return _push(body)
    if name == "issue":
        issue = body.get("issue")
        return {
            "number": _get(issue, "number"),
            "title": _get(issue, "title"),
            "body": _get(issue, "body"),
            "author": _get(issue, "user", "login"),
            "labels": _labels(issue),
            "html_url": _get(issue, "html_url"),
        }
    if name == "comment":
        text = _get(body, "comment", "body")
        commands = _slash_commands(text)
        return {
            "body": text,
            "author": _get(body, "comment", "user", "login"),
            "html_url": _get(body, "comment", "html_url"),
            "command": commands[0] if commands else None,
        }
    if name == "review":
        review = body.get("review")
        return {
            "state": _get(review, "state"),
            "body": _get(review, "body"),
            "author": _get(review, "user", "login"),
        }
    if name == "release":
        release = body.get("release")
        return {
            "tag": _get(release, "tag_name"),
            "name": _get(release, "name"),
            "body": _get(release, "body"),
        }
    run = body.get("workflow_run")
    return {k: _get(run, k) for k in ("name", "conclusion", "head_sha", "head_branch", "html_url")}


def build_context(event: str, payload: Any, delivery: str | None) -> dict[str, Any]:
    """The prompt context of a delivery (DESIGN keys; see :mod:`agented_core.triggers._contexts`).

    Always ``trigger``, ``event``, ``action``, ``delivery``, ``payload``, ``repo`` and
    ``sender``; plus the sections of ``event``. Fields the payload lacks are ``None``, so a
    ``null``, empty or non-object payload still gives every key. ``comment.command`` is the
    first slash command in the comment; :func:`with_command` sets the one a trigger matched.
    """
    body: Mapping[str, Any] = payload if isinstance(payload, Mapping) else {}
    repo = body.get("repository")
    context: dict[str, Any] = {
        "trigger": "github",
        "event": event,
        "action": _text(body.get("action")),
        "delivery": delivery,
        "payload": payload,
        "repo": {
            "owner": _get(repo, "owner", "login") or _get(repo, "owner", "name"),
            "name": _get(repo, "name"),
            "full_name": _get(repo, "full_name"),
            "default_branch": _get(repo, "default_branch"),
            "clone_url": _get(repo, "clone_url"),
            "html_url": _get(repo, "html_url"),
            "private": _get(repo, "private"),
        },
        "sender": {"login": _get(body, "sender", "login"), "type": _get(body, "sender", "type")},
    }
    for name in GITHUB_EVENT_SECTIONS.get(event, ()):
        context[name] = _section(name, body, event)
    return context


def matched_command(trigger: GitHubTrigger, context: Mapping[str, Any]) -> str | None:
    """The first of ``trigger.commands`` found in the delivery's text (case-insensitive)."""
    text = _get(context, _COMMAND_TEXT.get(str(context.get("event")), ""), "body")
    slashes = {c.lower() for c in _slash_commands(text)}
    mentions = _mentions(text)
    for command in trigger.commands:
        wanted = command.lower()
        if wanted in slashes or (wanted.startswith("@") and wanted[1:] in mentions):
            return command
    return None


def with_command(trigger: GitHubTrigger, context: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``context`` whose ``comment.command`` is the command ``trigger`` matched."""
    result = dict(context)
    comment = context.get("comment")
    if trigger.commands and isinstance(comment, Mapping):
        result["comment"] = {**comment, "command": matched_command(trigger, context)}
    return result


@functools.lru_cache(maxsize=512)
def _glob(pattern: str) -> re.Pattern[str]:
    out: list[str] = []
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        else:
            out.append({"*": "[^/]*", "?": "[^/]"}.get(pattern[i], re.escape(pattern[i])))
            i += 1
    return re.compile("".join(out), re.DOTALL)


def _globbed(value: str, patterns: Sequence[str], fold: bool = False) -> bool:
    if fold:
        value, patterns = value.lower(), [p.lower() for p in patterns]
    return any(_glob(p).fullmatch(value) for p in patterns)


def _is_bot(context: Mapping[str, Any]) -> bool:
    login = _text(_get(context, "sender", "login")) or ""
    return _get(context, "sender", "type") == "Bot" or login.endswith("[bot]")


def _author(context: Mapping[str, Any]) -> str | None:
    for section in ("comment", "review", "pr", "issue"):
        author = _text(_get(context, section, "author"))
        if author:
            return author
    return _text(_get(context, "sender", "login"))


_PAYLOAD_OF: Mapping[str, str] = {
    "comment": "comment",
    "review": "review",
    "pr": "pull_request",
    "issue": "issue",
}


def _association(context: Mapping[str, Any]) -> str | None:
    """The ``author_association`` of the author :func:`_author` picks (comment, review, PR)."""
    payload = context.get("payload")
    for section, key in _PAYLOAD_OF.items():
        if _text(_get(context, section, "author")):
            value = _get(payload, key, "author_association")
            if key == "pull_request" and value is None:
                value = _get(payload, "issue", "author_association")
            return _text(value)
    return None


def needs_changed_files(trigger: GitHubTrigger, context: Mapping[str, Any]) -> bool:
    """True when ``trigger`` filters ``paths`` of a pull request event and the delivery passes
    every other filter: only then are the PR's changed files worth fetching."""
    if not trigger.paths or trigger.event not in _PR_EVENTS:
        return False
    import attrs

    return match(attrs.evolve(trigger, paths=()), context) is None


def match(
    trigger: GitHubTrigger,
    context: Mapping[str, Any],
    *,
    changed_files: Sequence[str] | None = None,
) -> str | None:
    """``None`` if the delivery in ``context`` fires ``trigger``, else the first reason it does
    not, e.g. ``action 'closed' not in ['opened', 'synchronize']``. ``ping`` never fires.

    ``changed_files``: the pull request's changed paths, for a ``paths`` filter on a pull
    request event (``None``: not fetched, so such a trigger does not fire).
    """
    event = context.get("event")
    if event == "ping":
        return "ping deliveries start nothing"
    if event != trigger.event:
        return f"event {event!r} is not {trigger.event!r}"
    if trigger.ignore_bots and _is_bot(context):
        login = _get(context, "sender", "login")
        return f"sender {login!r} is a bot (set ignore_bots = false to accept bots)"
    action = context.get("action")
    if trigger.actions and action not in trigger.actions:
        return f"action {action!r} not in {list(trigger.actions)}"
    if trigger.repos:
        full_name = _text(_get(context, "repo", "full_name"))
        if full_name is None or not _globbed(full_name, trigger.repos, fold=True):
            return f"repository {full_name!r} matches none of {list(trigger.repos)}"
    if trigger.branches:
        branch = _text(_get(context, *_BRANCH_OF.get(trigger.event, ("", ""))))
        if branch is None:
            return f"the delivery names no branch, so none of {list(trigger.branches)}"
        if not _globbed(branch, trigger.branches):
            return f"branch {branch!r} matches none of {list(trigger.branches)}"
    if trigger.labels:
        labels = _get(context, _LABELS_OF.get(trigger.event, ""), "labels")
        have = [x for x in labels if isinstance(x, str)] if isinstance(labels, list) else []
        wanted = {w.lower() for w in trigger.labels}
        if not any(label.lower() in wanted for label in have):
            return f"labels {have} include none of {list(trigger.labels)}"
    if trigger.authors:
        author = _author(context)
        if author is None or author.lower() not in {a.lower() for a in trigger.authors}:
            return f"author {author!r} is not one of {list(trigger.authors)}"
    if trigger.author_associations:
        association = _association(context)
        wanted = {a.upper() for a in trigger.author_associations}
        if association is None or association.upper() not in wanted:
            return (
                f"author association {association!r} is not one of "
                f"{list(trigger.author_associations)}"
            )
    if not trigger.drafts and _get(context, "pr", "draft") is True:
        return "the pull request is a draft (drafts = false)"
    if trigger.paths:
        if trigger.event in _PR_EVENTS:
            if changed_files is None:
                return (
                    "the pull request's changed files are unknown (no plugin lists them; "
                    "install agented-github), so 'paths' cannot match"
                )
            paths: Any = list(changed_files)
        else:
            paths = _get(context, "push", "paths")
        changed = [p for p in paths if isinstance(p, str)] if isinstance(paths, list) else []
        if not any(_globbed(p, trigger.paths) for p in changed):
            return f"none of {len(changed)} changed paths matches {list(trigger.paths)}"
    if trigger.commands and matched_command(trigger, context) is None:
        return f"no command {list(trigger.commands)} in the {_COMMAND_TEXT.get(event, 'text')}"
    return None


def check_trigger(trigger: GitHubTrigger) -> list[str]:
    """Load-time problems of a GitHub trigger: filters its event cannot carry, bad commands."""
    return [message for _, message in trigger_problems(trigger)]


def trigger_problems(trigger: GitHubTrigger) -> list[tuple[str, str]]:
    """:func:`check_trigger`'s problems as ``(key, message)``: the trigger key each is about.

    The event and its actions are checked against GitHub's list
    (:mod:`agented_core.triggers._github_events`): a name GitHub never sends would never fire,
    so it is a problem with a "did you mean".
    """
    event = trigger.event
    problems: list[tuple[str, str]] = []
    known = github_events.EVENTS
    if event not in known:
        hint = github_events.suggest(event, known) or " such as 'pull_request'"
        problems.append(("github", f"event {event!r} is not a GitHub event name{hint}"))
    else:
        problems.extend(("actions", m) for m in github_events.check_actions(event, trigger.actions))
    if event == "ping":
        problems.append(("github", "ping deliveries start nothing; choose another event"))
    if trigger.paths and event != "push" and event not in _PR_EVENTS:
        problems.append(
            (
                "paths",
                f"'paths' works with push and pull request events only; {event} deliveries "
                "name no files",
            )
        )
    if not trigger.drafts and event not in _PR_EVENTS and event != "issue_comment":
        problems.append(
            (
                "drafts",
                f"{event} deliveries carry no pull request; 'drafts' works with "
                f"{sorted((*_PR_EVENTS, 'issue_comment'))}",
            )
        )
    if trigger.author_associations and event not in _ASSOCIATED:
        problems.append(
            (
                "author_associations",
                f"{event} deliveries carry no author association; 'author_associations' works "
                f"with {sorted(_ASSOCIATED)}",
            )
        )
    for association in trigger.author_associations:
        if association.upper() not in ASSOCIATIONS:
            hint = github_events.suggest(association.upper(), ASSOCIATIONS)
            problems.append(
                (
                    "author_associations",
                    f"{association!r} is not a GitHub author association{hint} "
                    f"(one of {', '.join(ASSOCIATIONS)})",
                )
            )
    if trigger.branches and event not in _BRANCH_OF:
        problems.append(
            (
                "branches",
                f"{event} deliveries name no branch; 'branches' works with {sorted(_BRANCH_OF)}",
            )
        )
    if trigger.labels and event not in _LABELS_OF:
        problems.append(
            (
                "labels",
                f"{event} deliveries carry no labels; 'labels' works with {sorted(_LABELS_OF)}",
            )
        )
    if trigger.commands and event not in _COMMAND_TEXT:
        problems.append(
            (
                "commands",
                f"{event} deliveries carry no comment text; 'commands' works with "
                f"{sorted(_COMMAND_TEXT)}",
            )
        )
    for command in trigger.commands:
        if not (_SLASH.fullmatch(command) or _MENTION.fullmatch(command)):
            problems.append(
                (
                    "commands",
                    f"command {command!r} is neither a slash command such as '/review' "
                    "nor a mention such as '@agented'",
                )
            )
    for name in (
        "actions",
        "repos",
        "branches",
        "labels",
        "paths",
        "authors",
        "author_associations",
    ):
        if any(not value for value in getattr(trigger, name)):
            problems.append((name, f"'{name}' contains an empty string"))
    return problems
