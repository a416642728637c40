"""What a run checks out: from a bot's ``checkout`` and the run's context to a :class:`Plan`.

Pure: no git, no disk. ``"head"`` is the delivery's commit (a pull request's head sha, through
``refs/pull/N/head`` so a fork's code comes through the base repository; a push's ``after``; a
release's tag; a workflow run's ``head_sha``; the default branch for other events),
``"merge"`` a pull request's merge ref (``refs/pull/N/merge``), and ``{ repo, ref }`` a named
repository and ref, both templates. The remote is the delivery's ``repository.clone_url``.

On ``pull_request_target`` and ``issue_comment`` a fork's code is never checked out unless the
bot sets ``checkout_untrusted``: a fork's pull request is refused at once on
``pull_request_target``; on ``issue_comment`` the payload does not say where the head comes
from, so the head must be the tip of a branch of the base repository.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from attrs import frozen

from ..models import Bot, CheckoutKind
from ..run._prompts import render
from ._errors import WorkspaceError

_SHA = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")
_OWNER_NAME = re.compile(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+")
_ZERO = re.compile(r"0{40}|0{64}")
_PR_EVENTS = (
    "pull_request",
    "pull_request_target",
    "pull_request_review",
    "pull_request_review_comment",
    "pull_request_review_thread",
)
UNTRUSTED_EVENTS = ("pull_request_target", "issue_comment")
"""Deliveries whose runs never check out a fork's code unless the bot allows it."""


@frozen
class Plan:
    """How to get a run's commit: the remote, what to fetch, and the commit if it is known.

    ``sha`` ``None``: the commit is whatever ``ref`` points to once ``refspecs`` are fetched.
    ``fallbacks`` are refspecs tried in turn when the first fetch finds no such ref (a short
    name that is a tag, not a branch). ``extras`` are fetched along when the remote has them
    (a pull request's base branch, for diffs against it). ``trust_ref`` names a ref (a pull
    request's head) whose commit must be the tip of a branch of the remote: the trust check of
    ``issue_comment``, whose payload does not say whether the head comes from a fork.
    """

    url: str
    repo: str
    ref: str
    sha: str | None
    refspecs: tuple[str, ...]
    fallbacks: tuple[tuple[str, tuple[str, ...]], ...] = ()
    extras: tuple[str, ...] = ()
    trust_ref: str | None = None


def is_sha(value: str) -> bool:
    """True for a full commit id (40 hex digits, or 64 for SHA-256 repositories)."""
    return bool(_SHA.fullmatch(value))


def safe_ref(name: str, what: str) -> str:
    """``name`` if it can be a git ref name in a refspec; :class:`WorkspaceError` otherwise."""
    bad = (
        not name
        or name.startswith(("-", "/", "."))
        or name.endswith(("/", ".", ".lock"))
        or any(part in name for part in ("..", "//", "@{", ":"))
        or any(c in name for c in "~^?*[\\\x7f")
        or any(ord(c) < 32 or c.isspace() for c in name)
    )
    if bad:
        raise WorkspaceError(f"{what} {name!r} is not a valid git ref name")
    return name


def strip_userinfo(url: str) -> str:
    """``url`` without a ``user:password@`` part (credentials come from plugins, never a URL)."""
    parts = urlsplit(url)
    if parts.scheme and "@" in parts.netloc:
        host = parts.netloc.rsplit("@", 1)[1]
        return urlunsplit(parts._replace(netloc=host))
    return url


def web_base(api_url: str | None) -> str:
    """The web host of a GitHub API URL: ``https://api.github.com`` -> ``https://github.com``,
    ``https://HOST/api/v3`` -> ``https://HOST`` (GitHub Enterprise Server)."""
    if not api_url:
        return "https://github.com"
    parts = urlsplit(api_url.rstrip("/"))
    host = parts.netloc
    if host == "api.github.com":
        host = "github.com"
    return f"{parts.scheme or 'https'}://{host}"


def _get(obj: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(obj, Mapping):
            return None
        obj = obj.get(key)
    return obj


def plan(
    bot: Bot, context: Mapping[str, Any], *, base_dir: Path, github_web: str = "https://github.com"
) -> Plan:
    """The :class:`Plan` of ``bot``'s checkout for a run with ``context``.

    Raises :class:`WorkspaceError` when the run names no commit the checkout could take, or
    when it would take a fork's code it must not.
    """
    checkout = bot.checkout
    if checkout.kind is CheckoutKind.REF:
        return _named(bot, context, base_dir, github_web)
    event = context.get("event")
    if context.get("trigger") != "github" or not isinstance(event, str):
        trigger = context.get("trigger") or "manual"
        raise WorkspaceError(
            f"checkout = {checkout.kind.value!r} takes the commit of a GitHub delivery, and this "
            f'{trigger} run has none: give the bot checkout = {{ repo = "owner/name", ref = '
            '"main" }} for runs without a delivery'
        )
    url = _get(context, "repo", "clone_url")
    repo = _get(context, "repo", "full_name") or url
    if not isinstance(url, str) or not url:
        raise WorkspaceError(f"the {event} delivery names no repository.clone_url to check out")
    url = strip_userinfo(url)
    repo = str(repo)
    pr = context.get("pr")
    is_pr = isinstance(pr, Mapping) and (event in _PR_EVENTS or event == "issue_comment")
    if checkout.kind is CheckoutKind.MERGE and not is_pr:
        raise WorkspaceError(
            f"checkout = 'merge' takes a pull request's merge ref, and this {event} delivery "
            f"of {repo} is not about a pull request"
        )
    if is_pr:
        assert isinstance(pr, Mapping)
        return _pull_request(bot, context, pr, url, repo, event)
    if event == "push":
        after, ref = _get(context, "push", "after"), _get(context, "push", "ref")
        if not isinstance(after, str) or not isinstance(ref, str) or _ZERO.fullmatch(after):
            raise WorkspaceError(f"the push to {repo} ({ref}) deleted it: nothing to check out")
        ref = safe_ref(ref, "ref")
        return Plan(url, repo, ref, _sha(after, repo), (f"+{ref}:{ref}",))
    if event == "release":
        tag = _get(context, "release", "tag")
        if not isinstance(tag, str):
            raise WorkspaceError(f"the release of {repo} names no tag to check out")
        ref = f"refs/tags/{safe_ref(tag, 'tag')}"
        return Plan(url, repo, ref, None, (f"+{ref}:{ref}",))
    if event == "workflow_run":
        sha, branch = (
            _get(context, "workflow_run", "head_sha"),
            _get(context, "workflow_run", "head_branch"),
        )
        if isinstance(sha, str) and isinstance(branch, str):
            ref = f"refs/heads/{safe_ref(branch, 'branch')}"
            return Plan(url, repo, ref, _sha(sha, repo), (f"+{ref}:{ref}",))
    default = _get(context, "repo", "default_branch")
    ref = f"refs/heads/{safe_ref(default, 'branch')}" if isinstance(default, str) else "HEAD"
    dst = ref if ref != "HEAD" else "refs/agented/HEAD"
    return Plan(url, repo, ref if ref != "HEAD" else dst, None, (f"+{ref}:{dst}",))


def _sha(value: str, repo: str) -> str:
    if not is_sha(value):
        raise WorkspaceError(f"{value!r} is not a commit id of {repo}")
    return value


def _pull_request(
    bot: Bot, context: Mapping[str, Any], pr: Mapping[str, Any], url: str, repo: str, event: str
) -> Plan:
    number = pr.get("number")
    if not isinstance(number, int) or isinstance(number, bool):
        raise WorkspaceError(f"the {event} delivery of {repo} names no pull request number")
    merge = bot.checkout.kind is CheckoutKind.MERGE
    ref = f"refs/pull/{number}/{'merge' if merge else 'head'}"
    refspecs: tuple[str, ...] = (f"+{ref}:{ref}",)
    extras: tuple[str, ...] = ()
    base = pr.get("base_ref")
    if isinstance(base, str) and base:
        extras = (f"+refs/heads/{safe_ref(base, 'branch')}:refs/heads/{base}",)
    head_sha = pr.get("head_sha")
    sha = _sha(head_sha, repo) if isinstance(head_sha, str) and not merge else None
    trust_ref = None
    if event in UNTRUSTED_EVENTS and not bot.checkout_untrusted:
        payload = context.get("payload")
        if event == "pull_request_target":
            head_repo = _get(payload, "pull_request", "head", "repo", "full_name")
            base_repo = _get(payload, "pull_request", "base", "repo", "full_name") or repo
            if not isinstance(head_repo, str) or head_repo.lower() != str(base_repo).lower():
                source = head_repo or "a deleted fork"
                raise WorkspaceError(
                    f"pull request #{number} of {repo} comes from {source}: a "
                    "pull_request_target run never checks out a fork's code unless the bot "
                    "sets checkout_untrusted = true"
                )
        else:
            trust_ref = f"refs/pull/{number}/head"
            if merge:  # the merge holds the head's code: the head is what must be trusted
                refspecs = (*refspecs, f"+{trust_ref}:{trust_ref}")
    return Plan(url, repo, ref, sha, refspecs, extras=extras, trust_ref=trust_ref)


def _named(bot: Bot, context: Mapping[str, Any], base_dir: Path, github_web: str) -> Plan:
    checkout = bot.checkout
    try:
        repo = render(checkout.repo or "", context, missing="empty").strip()
        ref = render(checkout.ref, context, missing="empty").strip() if checkout.ref else ""
    except Exception as exc:
        raise WorkspaceError(f"checkout: {exc}") from None
    if not repo:
        raise WorkspaceError("checkout.repo renders empty: no repository to check out")
    url = _url_of(repo, context, base_dir, github_web)
    shown = repo if _OWNER_NAME.fullmatch(repo) else strip_userinfo(url)
    if not ref:
        return Plan(url, shown, "refs/agented/HEAD", None, ("+HEAD:refs/agented/HEAD",))
    if is_sha(ref):
        return Plan(url, shown, ref, ref, ())
    safe_ref(ref, "ref")
    if ref.startswith("refs/"):
        return Plan(url, shown, ref, None, (f"+{ref}:{ref}",))
    branch, tag = f"refs/heads/{ref}", f"refs/tags/{ref}"
    return Plan(
        url,
        shown,
        branch,
        None,
        (f"+{branch}:{branch}",),
        fallbacks=((tag, (f"+{tag}:{tag}",)),),
    )


def _url_of(repo: str, context: Mapping[str, Any], base_dir: Path, github_web: str) -> str:
    if "://" in repo or repo.startswith("git@"):
        return strip_userinfo(repo)
    if repo.startswith(("/", "./", "../", "~")):
        return str((base_dir / Path(repo).expanduser()).resolve())
    if not _OWNER_NAME.fullmatch(repo):
        raise WorkspaceError(
            f"checkout.repo {repo!r} is neither owner/name, a clone URL nor a path"
        )
    full_name, clone_url = _get(context, "repo", "full_name"), _get(context, "repo", "clone_url")
    if isinstance(full_name, str) and full_name.lower() == repo.lower() and clone_url:
        return strip_userinfo(str(clone_url))
    return f"{github_web.rstrip('/')}/{repo}.git"
