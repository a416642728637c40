"""Safe outputs: the ``agented-review`` block of a result, checked before it becomes a PR review.

The agent holds no write token; it ends its result with one fenced block::

    ```agented-review
    {"event": "COMMENT", "body": "...", "comments": [{"path": "a.py", "line": 3, "side": "RIGHT",
      "body": "..."}]}
    ```

:func:`parse_review` finds it; :func:`validate_review` keeps what GitHub would accept and the
bot allows (paths and lines in the PR's diff, sizes, counts, the event), and lists the rest.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

from attrs import field, frozen

MAX_COMMENTS = 50
MAX_BODY = 65536
MAX_COMMENT_BODY = 16384
_BLOCK = re.compile(r"^([`~]{3,})[ \t]*agented-review[ \t]*\n(.*?)^\1[ \t]*$", re.M | re.S)
_HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")


@frozen
class Review:
    """A review as it will be posted, and what was dropped from it (with reasons)."""

    event: str
    body: str
    comments: tuple[dict[str, Any], ...] = ()
    dropped: tuple[str, ...] = field(default=())


def parse_review(result: str | None) -> tuple[Any, str | None]:
    """The JSON of the result's ``agented-review`` block, or ``(None, why)``.

    ``(None, None)``: there is no block.
    """
    if not result:
        return None, None
    blocks = _BLOCK.findall(result)
    if not blocks:
        return None, None
    if len(blocks) > 1:
        return None, f"{len(blocks)} agented-review blocks; exactly one is accepted"
    try:
        return json.loads(blocks[0][1]), None
    except ValueError as exc:
        return None, f"the agented-review block is not JSON: {exc}"


def diff_lines(patch: str | None) -> dict[str, set[int]]:
    """The lines a review comment may be on, by side, from a file's unified-diff ``patch``."""
    sides: dict[str, set[int]] = {"LEFT": set(), "RIGHT": set()}
    if not patch:
        return sides
    old = new = 0
    for line in patch.splitlines():
        hunk = _HUNK.match(line)
        if hunk:
            old, new = int(hunk.group(1)), int(hunk.group(3))
            continue
        if line.startswith("+"):
            sides["RIGHT"].add(new)
            new += 1
        elif line.startswith("-"):
            sides["LEFT"].add(old)
            old += 1
        elif line.startswith("\\"):
            continue
        else:
            sides["LEFT"].add(old)
            sides["RIGHT"].add(new)
            old += 1
            new += 1
    return sides


def validate_review(
    data: Any, files: Iterable[Mapping[str, Any]], allowed_events: Iterable[str]
) -> Review | str:
    """The review to post from the block's ``data``, or why nothing can be posted.

    ``files``: the PR's changed files (``filename``, ``patch``); ``allowed_events``: the bot's
    ``report.review_events``. An event not allowed becomes ``COMMENT`` (reported); a comment on
    a path or line outside the diff, or too long, is dropped (reported).
    """
    if not isinstance(data, Mapping):
        return "the agented-review block is not a JSON object"
    allowed = {e.upper() for e in allowed_events} | {"COMMENT"}
    dropped: list[str] = []
    event = str(data.get("event", "COMMENT")).upper()
    if event not in ("COMMENT", "REQUEST_CHANGES", "APPROVE"):
        dropped.append(f"event {event!r} is not COMMENT, REQUEST_CHANGES or APPROVE")
        event = "COMMENT"
    elif event not in allowed:
        dropped.append(f"event {event} is not allowed for this bot (report.review_events)")
        event = "COMMENT"
    body = data.get("body", "")
    if not isinstance(body, str):
        dropped.append("body is not a string")
        body = ""
    if len(body) > MAX_BODY:
        dropped.append(f"body cut from {len(body)} to {MAX_BODY} characters")
        body = body[: MAX_BODY - 1] + "…"
    lines = {f["filename"]: diff_lines(f.get("patch")) for f in files if "filename" in f}
    given = data.get("comments", [])
    if not isinstance(given, list):
        dropped.append("comments is not a list")
        given = []
    comments: list[dict[str, Any]] = []
    for index, comment in enumerate(given):
        where = f"comment {index + 1}"
        if len(comments) >= MAX_COMMENTS:
            dropped.append(f"{where}: over {MAX_COMMENTS} comments")
            continue
        if not isinstance(comment, Mapping):
            dropped.append(f"{where}: not an object")
            continue
        path, line = comment.get("path"), comment.get("line")
        side = str(comment.get("side", "RIGHT")).upper()
        text = comment.get("body")
        if not isinstance(text, str) or not text.strip():
            dropped.append(f"{where}: no body")
        elif len(text) > MAX_COMMENT_BODY:
            dropped.append(f"{where}: body over {MAX_COMMENT_BODY} characters")
        elif not isinstance(path, str) or path not in lines:
            dropped.append(f"{where}: path {path!r} is not changed in this pull request")
        elif side not in ("LEFT", "RIGHT"):
            dropped.append(f"{where}: side {side!r} is not LEFT or RIGHT")
        elif isinstance(line, bool) or not isinstance(line, int) or line not in lines[path][side]:
            dropped.append(f"{where}: line {line!r} ({side}) of {path} is not in the diff")
        else:
            comments.append({"path": path, "line": line, "side": side, "body": text})
    if not body.strip() and not comments and event == "COMMENT":
        return "the review is empty: no body and no valid comment"
    return Review(event=event, body=body, comments=tuple(comments), dropped=tuple(dropped))
