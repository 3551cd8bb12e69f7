"""The web app staff work in: server-rendered pages over the dispatcher, with live updates.

`mount_web(app, dispatcher)` adds the pages, the demo sign-in, their small form endpoints under
`/ui/`, the live event stream and the static files (htmx and careroute's own
CSS and JS, served locally: the pages need no internet access).
"""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from careroute.dispatcher import Dispatcher
from careroute.web import (
    data,
    routes_board,
    routes_rules,
    routes_rules_edit,
    routes_scoreboard,
    routes_signin,
    routes_task,
    routes_work,
    sse,
)
from careroute.web.auth import SignInRequired
from careroute.web.templating import STATIC, Pages

__all__ = ["mount_web"]


def _home(pages: Pages) -> APIRouter:
    r = APIRouter(include_in_schema=False)

    @r.get("/", response_class=HTMLResponse)
    def home(request: Request) -> Response:
        return pages.render(request, "home.html")

    return r


def mount_web(app: FastAPI, dispatcher: Dispatcher) -> None:
    """Add the staff pages to careroute's FastAPI app (the JSON API stays as it is)."""
    pages = Pages(dispatcher)

    @app.exception_handler(SignInRequired)
    async def _sign_in_first(request: Request, _exc: SignInRequired) -> Response:
        return RedirectResponse("/signin?next=" + quote(request.url.path, safe=""), status_code=303)

    streams = sse.Streams()
    app.state.web_streams = streams
    app.include_router(_home(pages))
    app.include_router(routes_signin.router(dispatcher, pages, app.state.security))
    app.include_router(routes_work.router(dispatcher, pages))
    app.include_router(routes_board.router(dispatcher, pages))
    app.include_router(routes_task.router(dispatcher, pages))
    app.include_router(routes_rules.router(dispatcher, pages))
    routes_rules_edit.mount(app, dispatcher, pages)  # drafts, preview, publish, rollback, pilot (admins)
    # The scoreboard reads its numbers through one function, so a summary table can replace the fold later.
    app.include_router(routes_scoreboard.router(dispatcher, pages, data.scoreboard_data))
    app.include_router(sse.router(dispatcher, streams))
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
