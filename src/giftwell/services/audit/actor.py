"""Who is acting: read from the request's context, else the process's default actor.

The HTTP layer puts the caller in the request context it opens for logging
(`telemetry.logs.annotate`): `account_id`, `token_id` (or `user_id` for a dashboard user), and
the address as `_ip` (underscored: kept out of log lines). A `giftwell` command names its
operator once with `set_process_actor`; anything else (the worker, the sweeper, a test calling a
service) is `system`.
"""

from __future__ import annotations

import getpass
import socket
from dataclasses import dataclass

from giftwell.telemetry import logs


@dataclass(frozen=True, slots=True)
class Actor:
    type: str  # token, user, cli, system
    id: str | None
    account_id: str | None
    ip: str | None
    request_id: str | None


_process_actor = Actor("system", None, None, None, None)


def set_process_actor(type_: str, id_: str | None) -> None:
    global _process_actor
    _process_actor = Actor(type_, id_, None, None, None)


def cli_operator() -> str:
    """`user@host` of the shell running a `giftwell` command."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # pragma: no cover - no user name in a bare container
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


def current() -> Actor:
    ctx = logs.current_request()
    if not ctx:
        return _process_actor
    ip = ctx.get("_ip")
    rid = ctx.get("request_id")
    account = ctx.get("account_id")
    if ctx.get("user_id"):
        return Actor("user", str(ctx["user_id"]), account, ip, rid)
    if ctx.get("token_id"):
        return Actor("token", str(ctx["token_id"]), account, ip, rid)
    return Actor("anonymous", None, None, ip, rid)
