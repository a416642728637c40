"""Tokens for the GitHub API: one from the environment, or a GitHub App's installation tokens.

An App signs a JWT (RS256, issued a minute in the past so a server clock running behind still
accepts it, valid nine minutes), finds the installation of a repository (the delivery's
``installation.id``, or looked up for manual and cron runs), and exchanges the JWT for an
installation token down-scoped to that one repository and the permissions asked for. Tokens are
cached until :data:`REFRESH_MARGIN` before they expire. Every token value made is kept in
:attr:`Credentials.secrets`, which the plugin gives the redactor.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Generator, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

import httpx
import jwt
from githubkit import GitHub
from githubkit.auth.base import BaseAuthStrategy
from githubkit.exception import RequestFailed

from ._keys import GitHubConfig

if TYPE_CHECKING:
    from githubkit import GitHubCore

JWT_BACKDATE = 60.0
"""Seconds the JWT's ``iat`` lies in the past (GitHub refuses a JWT issued in its future)."""
JWT_LIFETIME = 540.0
"""Seconds a JWT is valid (GitHub allows ten minutes at most)."""
REFRESH_MARGIN = 300.0
"""An installation token is replaced this many seconds before it expires."""
ANY_BOT = "[bot]"
"""The identity of a token without a user: any bot account is taken as its author."""


class GitHubAuthError(Exception):
    """No token could be had (nothing configured, no installation, the exchange refused)."""


class _BearerAuth(httpx.Auth):
    def __init__(self, token: str) -> None:
        self.token = token

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Bearer {self.token}"
        yield request


class BearerAuthStrategy(BaseAuthStrategy):
    """``Authorization: Bearer`` (an App's JWT, or any token)."""

    def __init__(self, token: str) -> None:
        self.token = token

    def get_auth_flow(self, github: GitHubCore[Any]) -> httpx.Auth:
        """The httpx auth setting the header."""
        return _BearerAuth(self.token)


def make_client(api_url: str, token: str, **options: Any) -> GitHub[Any]:
    """A githubkit client for ``api_url`` with ``token``; no cache, no retry of its own."""
    return GitHub(
        BearerAuthStrategy(token),
        base_url=api_url + "/",
        http_cache=False,
        auto_retry=False,
        timeout=options.pop("timeout", 15.0),
        **options,
    )


def app_jwt(app_id: int, private_key: str, now: float) -> str:
    """The App's JWT at ``now`` (seconds since the epoch)."""
    payload = {
        "iat": int(now - JWT_BACKDATE),
        "exp": int(now + JWT_LIFETIME),
        "iss": str(app_id),
    }
    return jwt.encode(payload, private_key, algorithm="RS256")


def _timestamp(value: Any) -> float:
    if isinstance(value, datetime):
        return value.timestamp()
    return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()


class Credentials:
    """Where the plugin's tokens come from; thread-safe (git credentials are asked for in a
    worker thread while the event loop uses the same cache)."""

    def __init__(
        self,
        config: GitHubConfig,
        *,
        env: Mapping[str, str] | None = None,
        clock: Callable[[], float] = time.time,
        client_options: Mapping[str, Any] | None = None,
    ) -> None:
        import os

        self.config = config
        self.env = os.environ if env is None else env
        self.clock = clock
        self.client_options = dict(client_options or {})
        self._lock = threading.Lock()
        self._tokens: dict[tuple[int, str, tuple[tuple[str, str], ...]], tuple[str, float]] = {}
        self._installations: dict[str, int] = {}
        self._identity: str | None = None
        self._secrets: set[str] = set()
        self.exchanges = 0

    @property
    def secrets(self) -> list[str]:
        """Every token value this process has made or read (for the redactor)."""
        with self._lock:
            return sorted(self._secrets)

    def _remember(self, token: str) -> str:
        with self._lock:
            self._secrets.add(token)
        return token

    def env_token(self) -> str:
        """The token of ``token_env``."""
        name = self.config.token_env
        value = self.env.get(name) if name else None
        if not value:
            raise GitHubAuthError(
                f"no GitHub token: environment variable {name} is not set"
                if name
                else "no GitHub token: set [github] token_env, or app_id and a private key"
            )
        return self._remember(value)

    def jwt(self) -> str:
        """A fresh JWT of the App."""
        assert self.config.app_id is not None
        try:
            key = self.config.private_key(self.env)
        except (OSError, ValueError) as exc:
            raise GitHubAuthError(f"the GitHub App's private key cannot be read: {exc}") from None
        return self._remember(app_jwt(self.config.app_id, key, self.clock()))

    def app_client(self) -> GitHub[Any]:
        """A client authenticated as the App itself (its JWT)."""
        return make_client(self.config.api_url, self.jwt(), **self.client_options)

    def client(self, token: str) -> GitHub[Any]:
        """A client with ``token``."""
        return make_client(self.config.api_url, token, **self.client_options)

    # the cache
    def _cached(self, key: tuple[int, str, tuple[tuple[str, str], ...]]) -> str | None:
        with self._lock:
            found = self._tokens.get(key)
        if found and found[1] - REFRESH_MARGIN > self.clock():
            return found[0]
        return None

    def _store(
        self, key: tuple[int, str, tuple[tuple[str, str], ...]], token: str, expires_at: Any
    ) -> str:
        with self._lock:
            self._tokens[key] = (token, _timestamp(expires_at))
            self._secrets.add(token)
            self.exchanges += 1
        return token

    @staticmethod
    def _key(
        installation: int, repo: str, permissions: Mapping[str, str] | None
    ) -> tuple[int, str, tuple[tuple[str, str], ...]]:
        return installation, repo.lower(), tuple(sorted((permissions or {}).items()))

    @staticmethod
    def _body(repo: str, permissions: Mapping[str, str] | None) -> dict[str, Any]:
        body: dict[str, Any] = {"repositories": [repo.split("/", 1)[1]]}
        if permissions:
            body["permissions"] = dict(permissions)
        return body

    # async
    async def identity(self) -> str:
        """The login GitHub shows as the author of what the plugin writes: the App's bot
        (``<slug>[bot]``, asked of ``GET /app``) or the token's user (``GET /user``).

        :data:`ANY_BOT` for a token that has no user (an installation token given in
        ``token_env``, such as an Actions ``GITHUB_TOKEN``): what it writes is a bot's."""
        if self._identity is not None:
            return self._identity
        try:
            if self.config.is_app:
                async with self.app_client() as gh:
                    slug = (await gh.rest.apps.async_get_authenticated()).json()["slug"]
                login = f"{slug}[bot]"
            else:
                async with self.client(self.env_token()) as gh:
                    try:
                        answer = await gh.rest.users.async_get_authenticated()
                        login = answer.json()["login"]
                    except RequestFailed as exc:
                        if exc.response.status_code != 403:
                            raise
                        login = ANY_BOT
        except GitHubAuthError:
            raise
        except Exception as exc:
            raise GitHubAuthError(f"who the plugin writes as cannot be read: {exc}") from None
        self._identity = str(login)
        return self._identity

    async def installation_id(self, repo: str, given: int | None = None) -> int:
        """The App's installation for ``repo`` (``owner/name``): ``given``, or looked up."""
        if given:
            with self._lock:
                self._installations[repo.lower()] = given
            return given
        with self._lock:
            known = self._installations.get(repo.lower())
        if known:
            return known
        owner, name = repo.split("/", 1)
        try:
            async with self.app_client() as gh:
                response = await gh.rest.apps.async_get_repo_installation(owner, name)
        except Exception as exc:
            raise GitHubAuthError(f"the GitHub App is not installed on {repo}: {exc}") from None
        installation = int(response.parsed_data.id)
        with self._lock:
            self._installations[repo.lower()] = installation
        return installation

    async def token(
        self,
        repo: str,
        *,
        installation: int | None = None,
        permissions: Mapping[str, str] | None = None,
    ) -> str:
        """A token for ``repo``: the environment's, or an installation token scoped to it."""
        if not self.config.is_app:
            return self.env_token()
        installation_id = await self.installation_id(repo, installation)
        key = self._key(installation_id, repo, permissions)
        cached = self._cached(key)
        if cached:
            return cached
        try:
            async with self.app_client() as gh:
                response = await gh.rest.apps.async_create_installation_access_token(
                    installation_id,
                    data=self._body(repo, permissions),
                )
        except Exception as exc:
            raise GitHubAuthError(
                f"no installation token for {repo} (installation {installation_id}): {exc}"
            ) from None
        made = response.parsed_data
        return self._store(key, made.token, made.expires_at)

    # sync, for git credentials asked outside the event loop
    def token_sync(
        self,
        repo: str,
        *,
        installation: int | None = None,
        permissions: Mapping[str, str] | None = None,
    ) -> str:
        """:meth:`token` without an event loop (a cached token, or a blocking exchange)."""
        if not self.config.is_app:
            return self.env_token()
        with self._lock:
            installation_id = installation or self._installations.get(repo.lower())
        try:
            with self.app_client() as gh:
                if not installation_id:
                    owner, name = repo.split("/", 1)
                    installation_id = gh.rest.apps.get_repo_installation(owner, name).parsed_data.id
                    with self._lock:
                        self._installations[repo.lower()] = installation_id
                key = self._key(installation_id, repo, permissions)
                cached = self._cached(key)
                if cached:
                    return cached
                made = gh.rest.apps.create_installation_access_token(
                    installation_id,
                    data=self._body(repo, permissions),
                ).parsed_data
        except Exception as exc:
            raise GitHubAuthError(f"no installation token for {repo}: {exc}") from None
        return self._store(key, made.token, made.expires_at)
