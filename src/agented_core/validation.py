"""Checks of a configuration that need the plugins: providers, options, accounts, templates.

:func:`validate` returns every problem (and warning) found; nothing is run or written.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from attrs import evolve

from .config import Config
from .errors import Problem
from .models import (
    Bot,
    CheckoutKind,
    GitHubTrigger,
    KeepWorkspace,
    ManualTrigger,
    ScheduleTrigger,
    WebhookTrigger,
)
from .plugins import Plugins
from .run._prompts import check
from .triggers._contexts import OPEN, ContextShape, Record, shape_for
from .triggers._cron import CronSchedule
from .triggers._generic import check_filters
from .triggers._github import trigger_problems


def validate(config: Config, plugins: Plugins) -> list[Problem]:
    """Every problem with ``config`` given the registered ``plugins``."""
    file = str(config.path) if config.path else None
    problems: list[Problem] = []
    for error in plugins.errors:
        problems.append(Problem(str(error), file=file, warning=True))
    for name, account in config.accounts.items():
        if account.provider not in plugins.providers:
            problems.append(
                Problem(
                    f"unknown provider {account.provider!r}{_known(plugins.providers)}",
                    file=file,
                    field=f"accounts.{name}.provider",
                )
            )
    settings = config.settings
    if settings.heartbeat * 2 > settings.lease:
        problems.append(
            Problem(
                f"heartbeat ({settings.heartbeat:g}s) must be at most half the lease "
                f"({settings.lease:g}s): a live owner would lose its executions between beats",
                file=file,
                field="agented.heartbeat",
            )
        )
    for bot in config.bots.values():
        problems.extend(validate_bot(bot, config, plugins))
    problems.extend(_account_cap_problems(config, plugins))
    problems.extend(plugins.config_problems(config))
    return problems


def _account_cap_problems(config: Config, plugins: Plugins) -> list[Problem]:
    """A warning for each capped account some bot runs on without a known cost: what those
    runs spend is not counted against the cap."""
    file = str(config.path) if config.path else None
    out: list[Problem] = []
    for name, account in config.accounts.items():
        caps = [
            key
            for key in ("max_cost_usd_per_day", "max_cost_usd_per_month")
            if getattr(account, key) is not None
        ]
        provider = plugins.providers.get(account.provider)
        if not caps or provider is None:
            continue
        unpriced = sorted(
            bot.name
            for bot in config.bots.values()
            for entry in bot.chain
            if entry.account == name
            and entry.provider == account.provider
            and not provider.can_price(evolve(bot, model=bot.model_for(entry)), config.prices)
        )
        if unpriced:
            out.append(
                Problem(
                    f"{caps[0]} is set but the runs of {', '.join(dict.fromkeys(unpriced))} on "
                    f"it report no cost and have no [prices] entry: the cap cannot count them",
                    file=file,
                    field=f"accounts.{name}.{caps[0]}",
                    warning=True,
                )
            )
    return out


def _known(names: Iterable[str]) -> str:
    listed = ", ".join(sorted(names))
    return f" (known: {listed})" if listed else ""


def validate_bot(bot: Bot, config: Config, plugins: Plugins) -> list[Problem]:
    """Every problem with one bot."""
    file = str(config.path) if config.path else None

    def problem(message: str, field: str, *, warning: bool = False) -> Problem:
        return Problem(message, file=file, bot=bot.name, field=field, warning=warning)

    out: list[Problem] = []
    provider = plugins.providers.get(bot.provider)
    if provider is None:
        out.append(
            problem(f"unknown provider {bot.provider!r}{_known(plugins.providers)}", "provider")
        )
    else:
        for text in provider.check_bot(bot):
            field, _, message = text.partition(": ")
            out.append(problem(message or text, field if message else "options"))
    for index, entry in enumerate(bot.chain):
        where = "account" if index == 0 else f"fallback[{index - 1}]"
        if index > 0 and entry.provider not in plugins.providers:
            out.append(problem(f"unknown provider {entry.provider!r}", where))
        if index > 0 and entry.provider != bot.provider and entry.model is None and bot.model:
            out.append(
                problem(
                    f"this {entry.provider} entry names no model, so it runs {entry.provider}'s "
                    f"default: the bot's model {bot.model!r} is for {bot.provider} (give the "
                    f'entry its own: {{ provider = "{entry.provider}", model = "..." }})',
                    where,
                    warning=True,
                )
            )
        if entry.account is None:
            continue
        account = config.accounts.get(entry.account)
        if account is None:
            out.append(
                problem(f"unknown account {entry.account!r}{_known(config.accounts)}", where)
            )
        elif account.provider != entry.provider:
            out.append(
                problem(
                    f"account {entry.account!r} is for provider {account.provider!r}, "
                    f"not {entry.provider!r}",
                    where,
                )
            )
    shape = shape_for(bot)
    extra = plugins.context_keys(bot)
    if extra:
        shape = shape.merged(ContextShape(Record(dict.fromkeys(extra, OPEN))))
    if bot.prompt:
        out.extend(problem(p, "prompt") for p in check(bot.prompt, shape))
    for index, arg in enumerate(bot.command):
        out.extend(problem(p, f"command[{index}]") for p in check(arg, shape))
    if bot.concurrency.group:
        out.extend(problem(p, "concurrency.group") for p in check(bot.concurrency.group, shape))
    if bot.workdir:
        # whether it exists is a fact of the machine: agented_core.readiness
        out.extend(problem(p, "workdir") for p in check(bot.workdir, shape))
    out.extend(_checkout_problems(bot, shape, problem))
    out.extend(_trigger_problems(bot, config, problem))
    if not bot.triggers:
        out.append(
            problem(
                "no triggers: the bot can only be run by name ('on' is empty)", "on", warning=True
            )
        )
    for key in ("max_cost_usd", "max_cost_usd_per_day", "max_cost_usd_per_month"):
        if getattr(bot, key) is not None:
            out.extend(_budget_problems(bot, config, plugins, problem, key))
    if bot.retry_interrupted and bot.max_attempts < 2:
        out.append(
            problem(
                "retry_interrupted does nothing with max_attempts = 1: an interrupted attempt "
                "is the last one",
                "retry_interrupted",
                warning=True,
            )
        )
    return out


_PR_EVENTS = (
    "pull_request",
    "pull_request_target",
    "pull_request_review",
    "pull_request_review_comment",
    "pull_request_review_thread",
    "issue_comment",
)


def _checkout_problems(
    bot: Bot, shape: ContextShape, problem: Callable[..., Problem]
) -> list[Problem]:
    """A checkout its triggers cannot give, templates of a named one, keys without effect."""
    out: list[Problem] = []
    checkout = bot.checkout
    if not checkout.enabled:
        if bot.keep_workspace is not KeepWorkspace.NEVER:
            out.append(problem("has no effect without a checkout", "keep_workspace", warning=True))
        if bot.checkout_untrusted:
            out.append(
                problem("has no effect without a checkout", "checkout_untrusted", warning=True)
            )
        return out
    if checkout.kind is CheckoutKind.REF:
        for key in ("repo", "ref"):
            value = getattr(checkout, key)
            if value:
                out.extend(problem(p, f"checkout.{key}") for p in check(value, shape))
    else:
        github = [t for t in bot.triggers if isinstance(t, GitHubTrigger)]
        others = [t for t in bot.triggers if not isinstance(t, GitHubTrigger)]
        what = f"checkout = {checkout.kind.value!r} takes the commit of a GitHub delivery"
        if not github:
            out.append(
                problem(
                    f"{what}, and this bot has no GitHub trigger: name the repository and ref, "
                    'checkout = { repo = "owner/name", ref = "main" }',
                    "checkout",
                )
            )
        elif others:
            out.append(
                problem(
                    f"{what}: runs from the bot's other triggers have none and fail",
                    "checkout",
                    warning=True,
                )
            )
        if checkout.kind is CheckoutKind.MERGE:
            for index, trigger in enumerate(bot.triggers):
                if isinstance(trigger, GitHubTrigger) and trigger.event not in _PR_EVENTS:
                    out.append(
                        problem(
                            f"checkout = 'merge' takes a pull request's merge ref, and "
                            f"{trigger.event} deliveries are not about a pull request",
                            f"on[{index}]",
                        )
                    )
    if bot.workdir and bot.workdir.startswith(("/", "~")):
        out.append(
            problem(
                "with a checkout, workdir is a folder inside the checkout: make it relative",
                "workdir",
            )
        )
    if bot.checkout_untrusted:
        out.append(
            problem(
                "checkout_untrusted = true: pull_request_target and issue_comment runs check out "
                "code from forks, which anyone can write, and run the agent on it with this "
                "bot's tools and accounts",
                "checkout_untrusted",
                warning=True,
            )
        )
    return out


def _budget_problems(
    bot: Bot,
    config: Config,
    plugins: Plugins,
    problem: Callable[..., Problem],
    key: str = "max_cost_usd",
) -> list[Problem]:
    """A warning for each provider of the chain whose runs' cost cannot be known."""
    out: list[Problem] = []
    seen: set[tuple[str, str | None]] = set()
    for entry in bot.chain:
        name, model_name = entry.provider, bot.model_for(entry)
        provider = plugins.providers.get(name)
        if (name, model_name) in seen or provider is None:
            continue
        seen.add((name, model_name))
        if provider.can_price(evolve(bot, model=model_name), config.prices):
            continue
        model = f"model {model_name!r}" if model_name else "the entry (it names no model)"
        out.append(
            problem(
                f"{key} is set but provider {name!r} reports no cost and there is no "
                f"[prices] entry for {model}: the budget cannot be enforced",
                key,
                warning=True,
            )
        )
    return out


def _trigger_problems(
    bot: Bot, config: Config, problem: Callable[[str, str], Problem]
) -> list[Problem]:
    out: list[Problem] = []
    for index, trigger in enumerate(bot.triggers):
        where = f"on[{index}]"
        if isinstance(trigger, GitHubTrigger):
            for key, message in trigger_problems(trigger):
                out.append(problem(message, f"{where}.{key}"))
        elif isinstance(trigger, ScheduleTrigger):
            try:
                CronSchedule(trigger.cron, trigger.timezone or config.settings.timezone)
            except ValueError as exc:
                out.append(problem(str(exc), where))
        elif isinstance(trigger, WebhookTrigger):
            out.extend(problem(p, where) for p in check_filters(trigger))
            if trigger.source not in config.webhooks:
                known = ", ".join(sorted(config.webhooks)) or "none"
                out.append(
                    problem(
                        f"unknown webhook source {trigger.source!r}: add a [webhooks."
                        f"{trigger.source}] table (sources: {known})",
                        where,
                    )
                )
    return out


def declared_params(bot: Bot) -> tuple[str, ...]:
    """The params a manual run of ``bot`` may pass."""
    return tuple(p for t in bot.triggers if isinstance(t, ManualTrigger) for p in t.names)
