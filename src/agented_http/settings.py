"""How the HTTP app behaves: :class:`Settings`.

Most settings default to the config's ``[http]`` table (``api_keys_env``, ``cors_origins``,
``max_body_bytes``); a host may override any of them in code.
"""

from __future__ import annotations

from attrs import field, frozen


def _opt_strs(value: object) -> tuple[str, ...] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return (value,)
    if not isinstance(value, list | tuple | set | frozenset):
        raise TypeError("expected a list of strings")
    return tuple(str(v) for v in value)


@frozen
class Settings:
    """Settings of :func:`agented_http.create_app`.

    ``api_keys``: the accepted API keys; ``None`` reads them (comma-separated, for rotation) from
    the environment variable the config names (``[http] api_keys_env``, by default
    ``AGENTED_API_KEYS``). With no key the app refuses to start, unless ``unauthenticated`` is
    set: a development mode in which every route is open to loopback clients only.

    ``operator_keys``, ``viewer_keys`` and ``metrics_keys`` are the keys of the other roles
    (:mod:`agented_http.roles`); ``None`` reads each from the environment variable the config
    names (``[http] operator_keys_env`` ...). ``api_keys`` are the admin keys.

    ``cors_origins`` and ``max_body_bytes`` default to the config's ``[http]`` values.
    ``heartbeat`` is the seconds between SSE keep-alive comments; a client that takes longer than
    ``send_timeout`` seconds to take one frame is dropped. ``retry_ms`` is the reconnection
    delay the SSE stream suggests to browsers, ``stream_token_ttl`` how long a stream token
    stays valid (seconds). ``token_secret`` signs stream tokens; ``None`` derives it from the API
    keys, so every process with the same keys accepts the same tokens.
    """

    api_keys: tuple[str, ...] | None = field(default=None, converter=_opt_strs)
    unauthenticated: bool = False
    operator_keys: tuple[str, ...] | None = field(default=None, converter=_opt_strs)
    viewer_keys: tuple[str, ...] | None = field(default=None, converter=_opt_strs)
    metrics_keys: tuple[str, ...] | None = field(default=None, converter=_opt_strs)
    cors_origins: tuple[str, ...] | None = field(default=None, converter=_opt_strs)
    max_body_bytes: int | None = None
    heartbeat: float = 15.0
    send_timeout: float = 30.0
    retry_ms: int = 2000
    stream_token_ttl: float = 300.0
    token_secret: bytes | None = None
    title: str = "agented"
