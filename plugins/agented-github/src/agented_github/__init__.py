"""agented-github: GitHub access and results for agented.

Installed, it registers :class:`GitHubPlugin` through the entry-point group ``agented`` (one
instance per :class:`agented_core.Agented`). In Python, pass an instance::

    async with Agented.open(config="agented.toml", plugins=[GitHubPlugin()]) as ag: ...

It declares ``[github] api_url, token_env, app_id, private_key_file, private_key_env`` and the
bot keys ``agent_token``, ``report`` and ``cancel_on_close``; gives tokens (environment, or a
GitHub App's installation tokens, cached and down-scoped), git credentials, a PR's changed files
for ``paths`` filters; and posts check runs, a sticky comment, reactions and validated reviews.
"""

from __future__ import annotations

from ._auth import Credentials, GitHubAuthError, app_jwt
from ._calls import Policy, WriteFailed
from ._keys import KEYS, GitHubConfig, Report
from ._plugin import GitHubPlugin
from ._report import Reporter
from ._review import Review, diff_lines, parse_review, validate_review
from ._target import Target, target_of

__version__ = "0.1.0"

__all__ = [
    "KEYS",
    "Credentials",
    "GitHubAuthError",
    "GitHubConfig",
    "GitHubPlugin",
    "Policy",
    "Report",
    "Reporter",
    "Review",
    "Target",
    "WriteFailed",
    "__version__",
    "app_jwt",
    "diff_lines",
    "parse_review",
    "target_of",
    "validate_review",
]
