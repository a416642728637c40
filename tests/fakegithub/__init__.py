"""A fake GitHub REST API for tests: a real HTTP server on 127.0.0.1 (a free port) in a thread.

::

    with FakeGitHub(public_key=pem) as gh:
        gh.add_pull(payload["pull_request"], repo="Codertocat/Hello-World", files=[...])
        ... GitHubPlugin with [github] api_url = gh.url ...
        assert gh.comments("Codertocat/Hello-World", 2)

It records every call (:attr:`FakeGitHub.calls`), answers with bodies shaped like GitHub's (so
githubkit's models parse them), checks the token of every request (an installation token it
issued and that has not expired, or the one plain token it was given), verifies the App's JWT
with the public key for the token exchange, and can inject faults (:meth:`FakeGitHub.fault`):
an HTTP status (with headers, e.g. a secondary rate limit's ``retry-after``) for the next N
matching calls, or a write applied whose response is then lost (a 502 after the change).
"""

from __future__ import annotations

import asyncio
import itertools
import re
import secrets
import socket
import threading
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import jwt
import uvicorn
from attrs import define, field
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

__all__ = ["Call", "FakeGitHub", "Fault"]


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def user(login: str = "agented[bot]", id: int = 41898282, type: str = "Bot") -> dict[str, Any]:
    """A SimpleUser."""
    base = f"https://api.github.com/users/{login}"
    return {
        "login": login,
        "id": id,
        "node_id": "MDQ6VXNlcjE=",
        "avatar_url": "https://avatars.githubusercontent.com/u/1",
        "gravatar_id": "",
        "url": base,
        "html_url": f"https://github.com/{login}",
        "followers_url": f"{base}/followers",
        "following_url": f"{base}/following{{/other_user}}",
        "gists_url": f"{base}/gists{{/gist_id}}",
        "starred_url": f"{base}/starred{{/owner}}{{/repo}}",
        "subscriptions_url": f"{base}/subscriptions",
        "organizations_url": f"{base}/orgs",
        "repos_url": f"{base}/repos",
        "events_url": f"{base}/events{{/privacy}}",
        "received_events_url": f"{base}/received_events",
        "type": type,
        "site_admin": False,
    }


@define
class Call:
    """One request the fake received."""

    method: str
    path: str
    query: dict[str, str]
    body: Any
    authorization: str | None
    status: int = 0


@define
class Fault:
    """Answer the next ``times`` calls matching ``method`` and ``path`` (a regex) with
    ``status`` (and ``headers``); ``apply`` first performs the call, then loses its answer."""

    method: str
    path: str
    status: int
    times: int = 1
    headers: dict[str, str] = field(factory=dict)
    apply: bool = False
    message: str = "Server Error"


class FakeGitHub:
    """The fake server (a context manager)."""

    def __init__(
        self,
        *,
        public_key: str | None = None,
        app_id: int = 12345,
        plain_token: str | None = None,
        token_ttl: float = 3600.0,
        prefix: str = "",
    ) -> None:
        self.prefix = prefix
        """A path prefix the API lives under (GitHub Enterprise Server: ``/api/v3``)."""
        self.public_key = public_key
        self.app_id = app_id
        self.plain_token = plain_token
        self.token_ttl = token_ttl
        self.app_slug = "agented"
        self.app_user = user(f"{self.app_slug}[bot]", 41898282, "Bot")
        """Who an installation token writes as."""
        self.token_user = user("octo-maintainer", 583231, "User")
        """Who the plain token writes as."""
        self.calls: list[Call] = []
        self.faults: list[Fault] = []
        self.tokens: dict[str, dict[str, Any]] = {}
        self.installations: dict[str, int] = {}
        self.pulls: dict[tuple[str, int], dict[str, Any]] = {}
        self.files: dict[tuple[str, int], list[dict[str, Any]]] = {}
        self.issue_comments: dict[tuple[str, int], list[dict[str, Any]]] = {}
        self.checks: dict[int, dict[str, Any]] = {}
        self.reactions: dict[int, list[dict[str, Any]]] = {}
        self.reviews: dict[tuple[str, int], list[dict[str, Any]]] = {}
        self._ids = itertools.count(1000)
        self._lock = threading.Lock()
        self.port = 0
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    # setup
    @property
    def url(self) -> str:
        """The API's base URL (what ``[github] api_url`` is set to)."""
        return f"http://127.0.0.1:{self.port}{self.prefix}"

    def add_installation(self, repo: str, installation_id: int) -> None:
        """The App is installed on ``repo`` as ``installation_id``."""
        self.installations[repo.lower()] = installation_id

    def add_pull(
        self, pull: Mapping[str, Any], repo: str, files: list[dict[str, Any]] | None = None
    ) -> None:
        """A pull request (a webhook payload's ``pull_request``) and its changed files."""
        number = int(pull["number"])
        shaped = dict(pull)
        # the REST API's labels carry fields a webhook's lack
        shaped["labels"] = [{"archived_by": None, **label} for label in pull.get("labels", [])]
        self.pulls[repo.lower(), number] = shaped
        self.files[repo.lower(), number] = [self._file(f) for f in files or []]

    def add_comments(self, repo: str, number: int, bodies: list[str]) -> None:
        """Comments by other users on the PR or issue."""
        for body in bodies:
            self._new_comment(repo, number, body, user("someone", 2, "User"))

    def fault(self, method: str, path: str, status: int, **options: Any) -> Fault:
        """Inject a :class:`Fault`."""
        made = Fault(method.upper(), path, status, **options)
        with self._lock:
            self.faults.append(made)
        return made

    def expire_tokens(self) -> None:
        """Every installation token issued so far expires now."""
        with self._lock:
            for info in self.tokens.values():
                info["expires"] = time.time() - 1

    # reading
    def comments(self, repo: str, number: int) -> list[dict[str, Any]]:
        """The comments of a PR or issue, oldest first."""
        return list(self.issue_comments.get((repo.lower(), number), []))

    def writes(self, method: str | None = None, path: str = "") -> list[Call]:
        """Calls that are not GETs (of ``method``, whose path contains ``path``)."""
        return [
            c
            for c in self.calls
            if c.method != "GET" and (method is None or c.method == method) and path in c.path
        ]

    # objects
    def _file(self, f: Mapping[str, Any]) -> dict[str, Any]:
        name = f["filename"]
        return {
            "sha": "0" * 40,
            "filename": name,
            "status": f.get("status", "modified"),
            "additions": 1,
            "deletions": 0,
            "changes": 1,
            "blob_url": f"https://github.com/o/r/blob/x/{name}",
            "raw_url": f"https://github.com/o/r/raw/x/{name}",
            "contents_url": f"https://api.github.com/repos/o/r/contents/{name}",
            **({"patch": f["patch"]} if "patch" in f else {}),
            **({"previous_filename": f["previous_filename"]} if "previous_filename" in f else {}),
        }

    def _new_comment(self, repo: str, number: int, body: str, by: dict[str, Any]) -> dict[str, Any]:
        cid = next(self._ids)
        base = f"https://api.github.com/repos/{repo}/issues"
        comment = {
            "id": cid,
            "node_id": f"IC_{cid}",
            "url": f"{base}/comments/{cid}",
            "html_url": f"https://github.com/{repo}/pull/{number}#issuecomment-{cid}",
            "body": body,
            "user": by,
            "created_at": _now(),
            "updated_at": _now(),
            "issue_url": f"{base}/{number}",
            "author_association": "NONE",
        }
        self.issue_comments.setdefault((repo.lower(), number), []).append(comment)
        return comment

    def _check(self, cid: int, repo: str, body: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "id": cid,
            "head_sha": body["head_sha"],
            "node_id": f"CR_{cid}",
            "external_id": body.get("external_id"),
            "url": f"https://api.github.com/repos/{repo}/check-runs/{cid}",
            "html_url": f"https://github.com/{repo}/runs/{cid}",
            "details_url": body.get("details_url"),
            "status": body.get("status", "queued"),
            "conclusion": body.get("conclusion"),
            "started_at": body.get("started_at"),
            "completed_at": body.get("completed_at"),
            "output": {
                "title": None,
                "summary": None,
                "text": None,
                "annotations_count": 0,
                "annotations_url": f"https://api.github.com/repos/{repo}/check-runs/{cid}/annotations",
            },
            "name": body["name"],
            "check_suite": {"id": 1},
            "app": None,
            "pull_requests": [],
            "repo": repo.lower(),
        }

    # serving
    def __enter__(self) -> FakeGitHub:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        app = Starlette(
            routes=[
                Route(
                    "/{path:path}", self._handle, methods=["GET", "POST", "PATCH", "PUT", "DELETE"]
                )
            ]
        )
        config = uvicorn.Config(app, log_level="warning", lifespan="off")
        self._server = uvicorn.Server(config)
        ready = threading.Event()

        def run() -> None:
            async def serve() -> None:
                sock.listen(64)
                task = asyncio.ensure_future(self._server.serve(sockets=[sock]))  # type: ignore[union-attr]
                while not self._server.started:  # type: ignore[union-attr]
                    await asyncio.sleep(0.01)
                ready.set()
                await task

            asyncio.run(serve())

        self._thread = threading.Thread(target=run, name=f"fakegithub-{self.port}", daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("the fake GitHub did not start")
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(10)

    async def _handle(self, request: Request) -> Response:
        raw = await request.body()
        import json

        body = json.loads(raw) if raw else None
        path = "/" + request.path_params["path"]
        if self.prefix:
            if not path.startswith(self.prefix + "/"):
                return JSONResponse({"message": "Not Found"}, 404)
            path = path.removeprefix(self.prefix)
        call = Call(
            request.method,
            path,
            dict(request.query_params),
            body,
            request.headers.get("authorization"),
        )
        with self._lock:
            self.calls.append(call)
            fault = next(
                (
                    f
                    for f in self.faults
                    if f.times > 0 and f.method == request.method and re.search(f.path, path)
                ),
                None,
            )
            if fault is not None:
                fault.times -= 1
        if fault is not None and not fault.apply:
            call.status = fault.status
            return JSONResponse({"message": fault.message}, fault.status, headers=fault.headers)
        status, answer = self._answer(request.method, path, call)
        if fault is not None:  # applied, then the answer is lost
            call.status = fault.status
            return JSONResponse({"message": fault.message}, fault.status, headers=fault.headers)
        call.status = status
        if status == 204:
            return Response(status_code=204)
        return JSONResponse(answer, status)

    def _authorized(self, call: Call, *, jwt_only: bool = False) -> str | None:
        """``None`` when the call's credentials are good; else the reason."""
        auth = call.authorization or ""
        scheme, _, token = auth.partition(" ")
        if jwt_only:
            if scheme.lower() != "bearer" or self.public_key is None:
                return "a JWT is needed"
            try:
                claims = jwt.decode(token, self.public_key, algorithms=["RS256"])
            except jwt.PyJWTError as exc:
                return f"bad JWT: {exc}"
            if claims.get("iss") != str(self.app_id) or claims["iat"] > time.time():
                return "bad JWT claims"
            return None
        if self.plain_token is not None and token == self.plain_token:
            return None
        info = self.tokens.get(token)
        if info is None:
            return "Bad credentials"
        if info["expires"] < time.time():
            return "token expired"
        return None

    def _answer(self, method: str, path: str, call: Call) -> tuple[int, Any]:
        parts = path.strip("/").split("/")
        # App endpoints
        if parts[:2] == ["app", "installations"] and parts[-1] == "access_tokens":
            why = self._authorized(call, jwt_only=True)
            if why:
                return 401, {"message": why}
            token = "ghs_" + secrets.token_hex(18)
            expires = time.time() + self.token_ttl
            self.tokens[token] = {
                "installation": int(parts[2]),
                "expires": expires,
                "body": call.body or {},
            }
            return 201, {
                "token": token,
                "expires_at": datetime.fromtimestamp(expires, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "permissions": (call.body or {}).get("permissions", {}),
                "repository_selection": "selected",
            }
        if parts == ["app"]:
            why = self._authorized(call, jwt_only=True)
            if why:
                return 401, {"message": why}
            return 200, {"id": self.app_id, "slug": self.app_slug, "name": "agented"}
        if parts == ["user"]:
            why = self._authorized(call)
            if why:
                return 401, {"message": why}
            if self._author(call) is not self.token_user:
                return 403, {"message": "Resource not accessible by integration"}
            return 200, self.token_user
        if parts[0] != "repos" or len(parts) < 4:
            return 404, {"message": "Not Found"}
        repo = f"{parts[1]}/{parts[2]}".lower()
        rest = parts[3:]
        if rest == ["installation"]:
            why = self._authorized(call, jwt_only=True)
            if why:
                return 401, {"message": why}
            if repo not in self.installations:
                return 404, {"message": "Not Found"}
            return 200, self._installation(self.installations[repo])
        why = self._authorized(call)
        if why:
            return 401, {"message": why}
        q = call.query
        page, per_page = int(q.get("page", 1)), int(q.get("per_page", 30))

        def paged(items: list[Any]) -> list[Any]:
            return items[(page - 1) * per_page : page * per_page]

        if rest[0] == "pulls" and len(rest) >= 2:
            key = (repo, int(rest[1]))
            if key not in self.pulls:
                return 404, {"message": "Not Found"}
            if len(rest) == 2:
                return 200, self.pulls[key]
            if rest[2] == "files":
                return 200, paged(self.files.get(key, []))
            if rest[2] == "reviews" and method == "GET":
                return 200, paged(self.reviews.get(key, []))
            if rest[2] == "reviews" and method == "POST":
                rid = next(self._ids)
                review = {
                    "id": rid,
                    "node_id": f"PRR_{rid}",
                    "user": self._author(call),
                    "body": call.body.get("body", ""),
                    "state": {"APPROVE": "APPROVED", "REQUEST_CHANGES": "CHANGES_REQUESTED"}.get(
                        call.body.get("event", "COMMENT"), "COMMENTED"
                    ),
                    "html_url": f"https://github.com/{repo}/pull/{key[1]}#pullrequestreview-{rid}",
                    "pull_request_url": f"https://api.github.com/repos/{repo}/pulls/{key[1]}",
                    "_links": {"html": {"href": "h"}, "pull_request": {"href": "p"}},
                    "commit_id": call.body.get("commit_id"),
                    "author_association": "NONE",
                    "comments": call.body.get("comments", []),
                }
                self.reviews.setdefault(key, []).append(review)
                return 200, review
        if rest[0] == "issues" and len(rest) == 3 and rest[2] == "comments":
            key = (repo, int(rest[1]))
            if method == "GET":
                return 200, paged(self.issue_comments.get(key, []))
            return 201, self._new_comment(repo, key[1], call.body["body"], self._author(call))
        if rest[:2] == ["issues", "comments"] and len(rest) == 3:
            cid = int(rest[2])
            for comments in self.issue_comments.values():
                for comment in comments:
                    if comment["id"] == cid:
                        comment["body"] = call.body["body"]
                        comment["updated_at"] = _now()
                        return 200, comment
            return 404, {"message": "Not Found"}
        if rest[:2] == ["issues", "comments"] and rest[-1] == "reactions":
            cid = int(rest[2])
            content = call.body["content"]
            listed = self.reactions.setdefault(cid, [])
            for reaction in listed:
                if reaction["content"] == content:
                    return 200, reaction
            rid = next(self._ids)
            reaction = {
                "id": rid,
                "node_id": f"R_{rid}",
                "user": user(),
                "content": content,
                "created_at": _now(),
            }
            listed.append(reaction)
            return 201, reaction
        if rest == ["check-runs"] and method == "POST":
            cid = next(self._ids)
            self.checks[cid] = self._check(cid, repo, call.body)
            return 201, self.checks[cid]
        if rest[0] == "check-runs" and len(rest) == 2:
            check = self.checks.get(int(rest[1]))
            if check is None:
                return 404, {"message": "Not Found"}
            if method == "PATCH":
                for k, v in call.body.items():
                    if k == "output":
                        check["output"].update(v)
                    else:
                        check[k] = v
            return 200, check
        if rest[0] == "commits" and rest[-1] == "check-runs":
            sha = rest[1]
            runs = [
                c
                for c in self.checks.values()
                if c["repo"] == repo
                and c["head_sha"] == sha
                and ("check_name" not in q or c["name"] == q["check_name"])
            ]
            return 200, {"total_count": len(runs), "check_runs": paged(runs)}
        return 404, {"message": "Not Found"}

    def _author(self, call: Call) -> dict[str, Any]:
        """Who GitHub shows as the author of what ``call`` writes."""
        token = (call.authorization or "").partition(" ")[2]
        plain = self.plain_token is not None and token == self.plain_token
        return self.token_user if plain else self.app_user

    def _installation(self, iid: int) -> dict[str, Any]:
        return {
            "id": iid,
            "account": user("Codertocat", 21031067, "User"),
            "repository_selection": "selected",
            "access_tokens_url": f"https://api.github.com/app/installations/{iid}/access_tokens",
            "repositories_url": "https://api.github.com/installation/repositories",
            "html_url": f"https://github.com/settings/installations/{iid}",
            "app_id": self.app_id,
            "target_id": 1,
            "target_type": "User",
            "permissions": {"checks": "write"},
            "events": [],
            "created_at": _now(),
            "updated_at": _now(),
            "single_file_name": None,
            "app_slug": "agented",
            "suspended_by": None,
            "suspended_at": None,
        }
