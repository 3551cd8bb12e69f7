"""Who is calling, what they may do, and how often: one ASGI layer in front of the API and the pages.

For each request it finds the principal — an API token (`Authorization: Bearer crt_…`),
a signed-in browser session (cookie), or in demo mode the demo identity — and checks
the path's scope before any route runs:

    intake    POST /v1/items, /v1/items:batch, and the integration doors when no
              sources file gives them credentials of their own
    read      GET /v1/..., /metrics
    commands  POST /v1/tasks/..., /v1/items/{id}/unmerge, /v1/staff/...
    admin     /v1/users, /v1/tokens (and any /v1 path not listed: closed by default)
    open      /healthz, /signin, /static, the API docs

A JSON caller without credentials gets 401, without the scope 403. A page
without a session is sent to /signin. Which tasks a principal may see (its
queues) is checked by the routes, which know the task. Rate limits apply per
token or address to intake and to sign-in. Every response carries the basic
security headers.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from anyio import to_thread

from careroute.access import Principal
from careroute.ratelimit import Buckets, Limit
from careroute.store import accounts
from careroute.store.repository import Store

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

SESSION_COOKIE = "careroute_session"
DEMO_COOKIE = "careroute_demo_staff"
INTEGRATION_PATHS = ("/webhooks/", "/fhir/r4", "/hl7/v2", "/voicemail", "/fax")
OPEN_PATHS = ("/healthz", "/signin", "/static/", "/docs", "/openapi.json", "/redoc", "/favicon.ico")
API_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"cache-control", b"no-store"),
    (b"referrer-policy", b"no-referrer"),
]


@dataclass(frozen=True)
class Security:
    """How the app lets people and systems in. `demo=True` is the quick start's open mode: no passwords."""

    demo: bool = False
    #: Mark the session cookie Secure (only sent over https): on whenever careroute is reached by https.
    secure_cookies: bool = False
    #: Per token (or per address without one): items per second sustained, and the burst allowed.
    intake_limit: Limit = field(default_factory=lambda: Limit(rate=1000.0, burst=2000))
    #: Per address: sign-in attempts (a person mistyping is never slowed; a script guessing is).
    signin_limit: Limit = field(default_factory=lambda: Limit(rate=0.2, burst=10))
    #: Integration doors have credentials of their own when a sources file is set.
    integrations_have_own_credentials: bool = False


def scope_needed(method: str, path: str, security: Security) -> str | None:
    """The scope a request needs; None for open paths and for pages (which need a session instead)."""
    if path.startswith(INTEGRATION_PATHS):
        return None if security.integrations_have_own_credentials else "intake"
    if path == "/metrics":
        return "read"
    if not path.startswith("/v1/"):
        return None
    if method in ("GET", "HEAD"):
        return "admin" if path.startswith(("/v1/users", "/v1/tokens")) else "read"
    if path in ("/v1/items", "/v1/items:batch"):
        return "intake"
    if path.startswith(("/v1/tasks/", "/v1/staff/")) or (path.startswith("/v1/items/") and path.endswith("/unmerge")):
        return "commands"
    return "admin"


def _cookie(scope: Scope, name: str) -> str | None:
    """The cookie's value; the last one when a browser sends two (as Starlette's own parsing reads it)."""
    found: str | None = None
    for key, value in scope.get("headers", []):
        if key == b"cookie":
            for part in value.decode("latin-1").split(";"):
                k, _, v = part.strip().partition("=")
                if k == name:
                    found = v
    return found


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return str(value.decode("latin-1"))
    return None


def client_address(scope: Scope) -> str:
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


class Authenticate:
    """The ASGI layer: finds the principal, enforces scopes and rate limits, adds security headers."""

    def __init__(
        self,
        app: ASGIApp,
        store: Store,
        security: Security,
        staff_queues: Callable[[str], tuple[str, ...] | None],
        clock: Callable[[], Any],
    ) -> None:
        self.app = app
        self.store = store
        self.security = security
        self.staff_queues = staff_queues
        self.clock = clock
        self.intake_buckets = Buckets(security.intake_limit)
        self.signin_buckets = Buckets(security.signin_limit)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method, path = scope["method"], scope["path"]
        needed = scope_needed(method, path, self.security)
        state = scope.setdefault("state", {})
        bearer = _header(scope, b"authorization")
        who: Principal | None = None
        if bearer is not None:
            kind, _, token = bearer.partition(" ")
            who = await to_thread.run_sync(self._from_token, token.strip()) if kind.lower() == "bearer" else None
            if who is None:
                await self._json(send, 401, "unauthorized", "the API token is unknown, malformed or revoked")
                return
        elif self.security.demo:
            who = self._demo(scope)  # no database read: no need to leave the event loop
        elif _cookie(scope, SESSION_COOKIE):
            who = await to_thread.run_sync(self._from_session, scope, state)
        else:
            who = None
        state["principal"] = who

        if needed == "intake" or (path == "/signin" and method == "POST"):
            buckets = self.intake_buckets if needed == "intake" else self.signin_buckets
            key = who.id if who is not None and who.kind == "token" else client_address(scope)
            wait = buckets.allow(key, time.monotonic())
            if wait > 0:
                await self._json(
                    send, 429, "rate_limited", "too many requests; try again shortly", retry_after=max(1, round(wait))
                )
                return

        if needed is not None:
            if who is None:
                await self._json(send, 401, "unauthorized", "sign in or send an API token (Authorization: Bearer …)")
                return
            if not who.may(needed):
                await self._json(send, 403, "forbidden", f"this needs the {needed!r} scope")
                return
        elif who is None and not path.startswith(OPEN_PATHS) and not path.startswith(INTEGRATION_PATHS):
            if method in ("GET", "HEAD"):
                target = path + (("?" + scope["query_string"].decode("latin-1")) if scope.get("query_string") else "")
                await self._redirect(send, "/signin?next=" + quote(target, safe=""))
            else:
                await self._json(send, 401, "unauthorized", "sign in first")
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {k.lower() for k, _ in message.get("headers", [])}
                message["headers"] = list(message.get("headers", [])) + [h for h in API_HEADERS if h[0] not in names]
            await send(message)

        await self.app(scope, receive, with_headers)

    def _from_token(self, token: str) -> Principal | None:
        return accounts.token_principal(self.store, token)

    def _demo(self, scope: Scope) -> Principal:
        staff_id = _cookie(scope, DEMO_COOKIE)
        queues = self.staff_queues(staff_id) if staff_id else None
        # Demo mode lets everyone do everything: it is the quick start, on one machine, with made-up data.
        return Principal(
            id=staff_id if staff_id and queues is not None else "demo",
            kind="demo",
            role="admin",
            name="demo",
            staff_id=staff_id if staff_id and queues is not None else None,
            clinical=True,
        )

    def _from_session(self, scope: Scope, state: dict[str, Any]) -> Principal | None:
        session_id = _cookie(scope, SESSION_COOKIE)
        if not session_id:
            return None
        session = accounts.find_session(self.store, session_id, self.clock())
        if session is None:
            return None
        state["csrf"] = session.csrf
        state["session_id"] = session_id
        staff = self.staff_queues(session.user.staff_id) if session.user.staff_id else None
        return accounts.user_principal(session.user, staff)

    async def _json(self, send: Send, status: int, error: str, message: str, retry_after: int | None = None) -> None:
        body = json.dumps({"error": error, "message": message}).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), *API_HEADERS]
        if status == 401:
            headers.append((b"www-authenticate", b'Bearer realm="careroute"'))
        if retry_after is not None:
            headers.append((b"retry-after", str(retry_after).encode()))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def _redirect(self, send: Send, location: str) -> None:
        headers = [(b"location", location.encode("latin-1")), (b"content-length", b"0"), *API_HEADERS]
        await send({"type": "http.response.start", "status": 303, "headers": headers})
        await send({"type": "http.response.body", "body": b""})
