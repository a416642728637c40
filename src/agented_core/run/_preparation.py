"""Preparing an attempt: everything that happens before its process starts.

The provider and account of the chain entry, the context (trigger context, the keys every run
has, the ``workspace`` of a bot with a checkout, plugin additions), the rendered prompt, the
working directory (the workspace, a bot's ``workdir`` relative to it; else the config's folder)
and the child's environment. A failure here is recorded on the execution with its reason and
error kind (``launch``).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from attrs import evolve, frozen

from ..config import Config
from ..errors import AgentedError, ConfigError, TemplateError
from ..events._redaction import Redactor
from ..models import Account, Bot, ChainEntry, Command, ErrorKind, Execution, Workspace
from ..plugins import Plugins
from ..providers.base import CommandRequest, Provider
from ._environment import ChildEnvironment, child_environment
from ._prompts import render, render_workdir


class PrepareError(AgentedError):
    """A step before the process started failed; carries the error kind to record."""

    def __init__(self, message: str, kind: ErrorKind = ErrorKind.LAUNCH) -> None:
        super().__init__(message)
        self.kind = kind


@frozen
class Prepared:
    """What an attempt needs to start: the provider's request, the provider, the redactor, and
    the command the provider built (once per attempt: building it may write files)."""

    request: CommandRequest
    provider: Provider
    redactor: Redactor
    command: Command


def base_context(bot: Bot, execution: Execution, now: datetime) -> dict[str, Any]:
    """The context keys every run has: ``bot``, ``execution``, ``trigger``, ``now``, ``params``."""
    return {
        "bot": {
            "name": bot.name,
            "provider": bot.provider,
            "model": bot.model,
            "account": bot.account,
            "description": bot.description,
        },
        "execution": {"id": execution.id, "attempt": execution.attempt},
        "trigger": execution.trigger.value,
        "now": now.isoformat(),
        "params": dict(execution.params),
    }


def workspace_context(workspace: Workspace) -> dict[str, str]:
    """The context's ``workspace`` {path, repo, sha, ref}."""
    return {
        "path": workspace.path,
        "repo": workspace.repo,
        "sha": workspace.sha,
        "ref": workspace.ref,
    }


def prepare(
    execution: Execution,
    bot: Bot,
    entry: ChainEntry,
    *,
    config: Config,
    plugins: Plugins,
    now: datetime,
    host_env: Mapping[str, str] | None = None,
    plugin_env: Mapping[str, str] | None = None,
) -> Prepared:
    """Everything before the process starts: provider, account, prompt, workdir, environment.

    ``plugin_env``: what plugins add to the agent's environment (``agented_agent_env``), set
    last and redacted whatever the names. The execution's ``workspace`` (made before, by the
    executor) is its working directory.

    Raises :class:`PrepareError` with the reason and error kind to record on the execution.
    """
    try:
        provider = plugins.provider(entry.provider)
    except AgentedError as exc:
        raise PrepareError(str(exc)) from None
    account: Account | None = None
    if entry.account:
        account = config.accounts.get(entry.account)
        if account is None:
            raise PrepareError(f"unknown account {entry.account!r}")
    context = dict(execution.context)
    context.update(base_context(bot, execution, now))
    workspace = execution.workspace if bot.checkout.enabled else None
    if workspace is not None:
        context["workspace"] = workspace_context(workspace)
    context.update(plugins.prompt_context(bot, context))
    try:
        prompt = render(bot.prompt, context, missing="empty") if bot.prompt else None
    except TemplateError as exc:
        raise PrepareError(f"prompt: {exc}") from None
    execution.prompt = prompt
    cwd: str | None = None
    base = Path(workspace.path) if workspace is not None else config.base_dir
    if bot.workdir:
        try:
            path = render_workdir(bot.workdir, context, base, missing="empty")
        except TemplateError as exc:
            raise PrepareError(f"workdir: {exc}") from None
        if not path.is_dir():
            raise PrepareError(f"workdir does not exist: {path}")
        cwd = str(path)
    else:
        cwd = str(Path(base))
    try:
        child = child_environment(bot, account, host_env)
    except ConfigError as exc:
        raise PrepareError(str(exc)) from None
    if plugin_env:
        child = ChildEnvironment(
            env={**child.env, **plugin_env}, secrets=(*child.secrets, *plugin_env.values())
        )
    # the provider sees the entry's model as the bot's: a model meant for another provider
    # never reaches it (plugins read ``request.model or bot.model``)
    model = bot.model_for(entry)
    request = CommandRequest(
        bot=bot if model == bot.model else evolve(bot, model=model),
        prompt=prompt,
        context=context,
        env=child.env,
        cwd=cwd,
        account=account,
        attempt=execution.attempt,
        session_id=execution.session_id,
        model=model,
        spent_usd=execution.usage.cost_usd,
        session_account=_session_account(execution),
        ratelimit_patterns=plugins.ratelimit_patterns(),
        prices=config.prices,
    )
    try:
        command = provider.build_command(request)
    except TemplateError as exc:
        raise PrepareError(f"command: {exc}") from None
    except AgentedError as exc:
        raise PrepareError(str(exc)) from None
    return Prepared(request, provider, Redactor((*child.secrets, *plugins.secrets())), command)


def _session_account(execution: Execution) -> str | None:
    """The account of the last attempt (the one that made the execution's session, if any)."""
    return execution.attempts[-1].account if execution.attempts else None
