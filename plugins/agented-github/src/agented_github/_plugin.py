"""The plugin object: hooks that read the config, hand out tokens and report results.

One :class:`GitHubPlugin` per :class:`Agented` (the entry point names the class, so the core
makes one per instance). ``agented_opened`` gives it the facade; the lifecycle hooks then post
through :class:`agented_github._report.Reporter`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from agented_core import Problem, hookimpl
from agented_core.config_keys import PluginKeys

from ._auth import Credentials, GitHubAuthError
from ._calls import Policy
from ._keys import KEYS, GitHubConfig, Report
from ._target import repo_of_url, target_of

if TYPE_CHECKING:
    from agented_core import Agented, Bot, Config, Execution

    from ._report import Reporter

log = logging.getLogger("agented.github")


class GitHubPlugin:
    """agented's GitHub plugin (entry point ``github``).

    ``env`` (default ``os.environ``), ``clock`` (seconds since the epoch, for token expiry),
    ``policy`` (retries) and ``client_options`` (passed to githubkit, e.g. a transport) are for
    hosts and tests; ``sweep_interval`` is how often checks of ended executions are completed.
    """

    def __init__(
        self,
        *,
        env: Mapping[str, str] | None = None,
        clock: Any = None,
        policy: Policy | None = None,
        client_options: Mapping[str, Any] | None = None,
        sweep_interval: float = 30.0,
        comment_interval: float = 10.0,
    ) -> None:
        self.env = env
        self.clock = clock
        self.policy = policy or Policy()
        self.client_options = client_options
        self.sweep_interval = sweep_interval
        self.comment_interval = comment_interval
        self.agented: Agented | None = None
        self.credentials: Credentials | None = None
        self.reporter: Reporter | None = None

    # configuration
    @hookimpl
    def agented_config_keys(self) -> PluginKeys:
        """The ``[github]`` keys; the bot keys ``agent_token``, ``report``, ``cancel_on_close``."""
        return KEYS

    @hookimpl
    def agented_config_problems(self, config: Config) -> Iterable[Problem]:
        """``agent_token`` needs a GitHub App; reporting needs some token; an App needs its key."""
        file = str(config.path) if config.path else None
        github = GitHubConfig.from_table(config.extra.get("github", {}), config.base_dir)
        problems: list[Problem] = []
        if github.app_id is not None and not (github.private_key_file or github.private_key_env):
            problems.append(
                Problem(
                    "app_id needs private_key_file or private_key_env",
                    file=file,
                    field="github.app_id",
                )
            )
        if github.private_key_file and not github.private_key_file.is_file():
            problems.append(
                Problem(
                    f"private_key_file {str(github.private_key_file)!r} does not exist",
                    file=file,
                    field="github.private_key_file",
                )
            )
        for bot in config.bots.values():
            if bot.extra.get("agent_token") and not github.is_app:
                problems.append(
                    Problem(
                        "agent_token needs a GitHub App ([github] app_id and a private key): "
                        "a plain token cannot be down-scoped",
                        file=file,
                        bot=bot.name,
                        field="agent_token",
                    )
                )
            writes = sorted(
                name
                for name, access in (bot.extra.get("agent_token") or {}).items()
                if access == "write"
            )
            if writes:
                problems.append(
                    Problem(
                        f"agent_token gives the agent write access ({', '.join(writes)}): "
                        "agented posts results itself (report), so the agent rarely needs it",
                        file=file,
                        bot=bot.name,
                        field="agent_token",
                        warning=True,
                    )
                )
            if Report.of(bot.extra).any and not github.configured:
                problems.append(
                    Problem(
                        "report needs GitHub access: set [github] token_env, or app_id and a "
                        "private key",
                        file=file,
                        bot=bot.name,
                        field="report",
                    )
                )
        return problems

    # opening
    @hookimpl
    def agented_opened(self, agented: Agented) -> Any:
        """Keep the facade; complete checks that ended while nobody watched, then every while."""
        from ._report import Reporter

        self.agented = agented
        config = GitHubConfig.from_table(
            agented.config.extra.get("github", {}), agented.config.base_dir
        )
        if not config.configured:
            return None
        kwargs: dict[str, Any] = {"env": self.env, "client_options": self.client_options}
        if self.clock is not None:
            kwargs["clock"] = self.clock
        self.credentials = Credentials(config, **kwargs)
        self.reporter = Reporter(
            agented,
            self.credentials,
            policy=self.policy,
            comment_interval=self.comment_interval,
        )
        return self.reporter.sweep_loop(self.sweep_interval)

    # secrets and tokens
    @hookimpl
    def agented_secrets(self) -> Iterable[str]:
        """Every token this plugin made or read."""
        return self.credentials.secrets if self.credentials else ()

    @hookimpl
    async def agented_agent_env(self, bot: Bot, execution: Execution) -> Mapping[str, str] | None:
        """``GITHUB_TOKEN`` / ``GH_TOKEN`` for a bot with ``agent_token`` (down-scoped)."""
        permissions = bot.extra.get("agent_token")
        if not permissions:
            return None
        if self.credentials is None or not self.credentials.config.is_app:
            raise GitHubAuthError("agent_token needs a GitHub App")
        target = target_of(execution.context)
        if target is None:
            raise GitHubAuthError("agent_token: the run names no repository")
        token = await self.credentials.token(
            target.repo, installation=target.installation, permissions=permissions
        )
        return {"GITHUB_TOKEN": token, "GH_TOKEN": token}

    @hookimpl
    def agented_workspace_credentials(self, url: str) -> Mapping[str, str] | None:
        """Git credentials for a repository on the configured GitHub (``x-access-token``)."""
        if self.credentials is None:
            return None
        repo = repo_of_url(url, self.credentials.config.api_url)
        if repo is None:
            return None
        try:
            token = self.credentials.token_sync(repo, permissions={"contents": "read"})
        except GitHubAuthError:
            log.warning("no git credentials for %s", repo)
            return None
        return {"username": "x-access-token", "password": token}

    @hookimpl
    async def agented_changed_files(self, context: Mapping[str, Any]) -> Sequence[str] | None:
        """The pull request's changed paths (paginated; both names of a renamed file)."""
        if self.reporter is None:
            return None
        target = target_of(context)
        if target is None or target.number is None:
            return None
        files = await self.reporter.pr_files(target)
        paths: list[str] = []
        for entry in files:
            paths.append(entry["filename"])
            if entry.get("previous_filename"):
                paths.append(entry["previous_filename"])
        return paths

    # lifecycle
    @hookimpl
    async def agented_execution_queued(self, execution: Execution) -> None:
        """Queue the check run; react 👀 to the comment that started the run."""
        if self.reporter is not None:
            await self.reporter.queued(execution)

    @hookimpl
    async def agented_execution_started(self, execution: Execution) -> None:
        """Check run in progress; the sticky comment says "running"."""
        if self.reporter is not None:
            await self.reporter.started(execution)

    @hookimpl
    async def agented_execution_progress(self, execution: Execution, progress: Any) -> None:
        """Edit the sticky comment with the elapsed time and cost (throttled)."""
        if self.reporter is not None:
            await self.reporter.progress(execution, progress.usage)

    @hookimpl
    async def agented_execution_finished(self, execution: Execution) -> None:
        """Complete the check, post the result, react 🚀 / 😕, post a validated review."""
        if self.reporter is not None:
            await self.reporter.finished(execution)

    @hookimpl
    async def agented_delivery_received(
        self, delivery: Any, context: Mapping[str, Any] | None
    ) -> None:
        """A pull request closed or merged cancels its runs (``cancel_on_close``)."""
        if self.reporter is not None and context is not None:
            await self.reporter.delivery(context)
