"""Workspaces: a checkout of the right commit for every run, in a worktree of its own.

One cached bare mirror per repository (``mirrors/``), fetched into only as far as a run needs,
under a lock shared by the processes of a machine; one ``git worktree add --detach`` per
execution at its exact commit (``runs/<execution id>``); credentials from the plugins'
``agented_workspace_credentials`` hook, given to the one git command that needs them; the
worktree removed when the execution ends (``keep_workspace``) or, after a crash, by recovery;
mirrors unused for ``mirror_ttl_days`` deleted. Git subprocesses only: no GitHub client.
"""

from ._credentials import Credentials, CredentialSource, credentials_for
from ._errors import WorkspaceError
from ._manager import CheckedOut, Swept, Workspaces, workspaces_dir
from ._mirrors import Mirror, mirror_name
from ._targets import UNTRUSTED_EVENTS, Plan, plan, web_base

__all__ = [
    "UNTRUSTED_EVENTS",
    "CheckedOut",
    "CredentialSource",
    "Credentials",
    "Mirror",
    "Plan",
    "Swept",
    "WorkspaceError",
    "Workspaces",
    "credentials_for",
    "mirror_name",
    "plan",
    "web_base",
    "workspaces_dir",
]
