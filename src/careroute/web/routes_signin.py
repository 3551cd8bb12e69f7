"""Demo sign-in: pick one of the pack's staff, no password; and sign out.

This stands in for real sign-in until the security issue brings passwords and
roles. It only sets which staff member the pages act as (the demo cookie); it
proves nothing about who is at the keyboard, and every page header says so.
Posts go through `read_form`, so a form on another site cannot sign a browser
in as someone else or out.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from careroute.dispatcher import Dispatcher
from careroute.web.forms import Form, read_form
from careroute.web.templating import ACTING_COOKIE, Pages


def router(dispatcher: Dispatcher, pages: Pages) -> APIRouter:
    r = APIRouter(include_in_schema=False)

    def page(request: Request, status: int = 200, error: str | None = None) -> HTMLResponse:
        return pages.render(request, "signin.html", status, active="signin", people=dispatcher.people(), error=error)

    @r.get("/signin", response_class=HTMLResponse)
    def signin_page(request: Request) -> Response:
        return page(request)

    @r.post("/signin", response_class=HTMLResponse)
    def signin(request: Request, form: Annotated[Form, Depends(read_form)]) -> Response:
        """Sign in as the chosen person and go to their work; an unknown choice is refused without echoing it."""
        staff_id = form.text("staff")
        if staff_id is None or staff_id not in {s.id for s, _ in dispatcher.people()}:
            return page(request, 422, "Choose a person from the list.")
        response = RedirectResponse(f"/my/{staff_id}", status_code=303)
        # No max-age: a demo identity lasts as long as the browser session, never longer.
        response.set_cookie(ACTING_COOKIE, staff_id, path="/", httponly=True, samesite="strict")
        return response

    @r.post("/signout")
    def signout(_form: Annotated[Form, Depends(read_form)]) -> Response:
        response = RedirectResponse("/signin", status_code=303)
        response.delete_cookie(ACTING_COOKIE, path="/", httponly=True, samesite="strict")
        return response

    return r
