"""Jinja2 set-up, the filters the pages share, and the headers every page is sent with."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup
from starlette.templating import Jinja2Templates

from careroute.api.security import DEMO_COOKIE
from careroute.dispatcher import Dispatcher
from careroute.sla import type_name
from careroute.web.auth import principal

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"

#: Only careroute's own files may run or style the pages; htmx is told not to inject styles or eval code.
SECURITY_HEADERS = {
    "content-security-policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
    ),
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
    # Pages carry patient text: never kept by a browser or proxy cache.
    "cache-control": "no-store",
}

#: Demo identity: the staff member picked on /signin, who acts on the board and task pages.
#: Not authentication (no password; the security issue brings real sign-in with roles); every page says so.
ACTING_COOKIE = DEMO_COOKIE

URGENCY_LABEL = {"emergent": "Emergent", "urgent": "Urgent", "routine": "Routine"}


def duration(value: timedelta | None) -> str:
    """A span as staff say it: '45 s', '12 min', '3 h 05 min', '2 d 4 h'."""
    if value is None:
        return "–"
    seconds = int(abs(value.total_seconds()))
    if seconds < 60:
        return f"{seconds} s"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes:02d} min"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h"


def countdown(due: datetime | None, now: datetime) -> str:
    if due is None:
        return "paused"
    left = due - now
    return f"due in {duration(left)}" if left >= timedelta(0) else f"overdue by {duration(left)}"


def percent(value: float | None) -> str:
    return "–" if value is None else f"{value:.0%}"


class Pages:
    """Renders templates for one dispatcher: times shown in its practice's time zone."""

    def __init__(self, dispatcher: Dispatcher) -> None:
        self.dispatcher = dispatcher
        env = Environment(
            loader=FileSystemLoader(TEMPLATES),
            autoescape=select_autoescape(default=True, default_for_string=True),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        zone = dispatcher.zone
        env.filters["local"] = lambda at, fmt="%a %d %b %H:%M": at.astimezone(zone).strftime(fmt) if at else "–"
        env.filters["iso"] = lambda at: at.isoformat() if at else ""
        env.filters["duration"] = duration
        env.filters["percent"] = percent
        env.filters["type_name"] = type_name
        env.filters["urgency_label"] = lambda u: URGENCY_LABEL.get(u, u)
        env.globals["countdown"] = countdown
        env.globals["queue_names"] = dispatcher.pack.queue_names
        env.globals["pack_name"] = dispatcher.pack.spec.pack.name
        env.globals["zone_name"] = zone.key
        # The pack is fixed for this process, so its people's names are too: the header names who is signed in.
        self.staff_names = {p.id: p.name for p in dispatcher.pack.spec.staff}
        env.globals["staff_names"] = self.staff_names
        self.templates = Jinja2Templates(env=env)

    def signed_in(self, request: Request) -> str | None:
        """The staff member the signed-in person is (demo: the one picked), if they are one of the pack's staff."""
        who = principal(request)
        staff_id = who.staff_id if who is not None else None
        return staff_id if staff_id in self.staff_names else None

    def render(self, request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
        context.setdefault("now", self.dispatcher.clock())
        context.setdefault("acting", self.signed_in(request))
        context.setdefault("who", principal(request))
        # Every form and htmx request of the page sends this back; forms.read_form checks it.
        context.setdefault("csrf", getattr(request.state, "csrf", ""))
        security = getattr(request.app.state, "security", None)
        context.setdefault("demo", bool(security is not None and security.demo))
        response = self.templates.TemplateResponse(request, name, context, status_code=status)
        response.headers.update(SECURITY_HEADERS)
        return response

    def markup(self, name: str, **context: Any) -> Markup:
        """A template rendered to safe markup (for pieces put together in Python)."""
        return Markup(self.templates.env.get_template(name).render(**context))
