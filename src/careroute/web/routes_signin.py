"""Sign-in and sign-out.

With users (the normal case) a person signs in with their user name and password:
failures are counted and lock the account for a while (careroute.credentials), the
answer never says whether the name or the password was wrong, and a new session
(HttpOnly, SameSite=Strict, Secure behind https) is started with its own CSRF token.

In demo mode (`careroute serve --demo`, the quick start) there are no passwords:
pick one of the pack's staff. It proves nothing about who is at the keyboard, and
every page header says so.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from careroute.api.security import SESSION_COOKIE, Security, client_address
from careroute.dispatcher import Dispatcher
from careroute.store import accounts
from careroute.web.forms import Form, read_form
from careroute.web.templating import ACTING_COOKIE, Pages

MESSAGES = {
    "wrong": "That user name and password do not match.",
    "locked": "Too many failed attempts: this account is locked for a while. Ask an administrator if it is urgent.",
    "disabled": "This account is disabled. Ask an administrator.",
}


def _safe_next(target: str | None) -> str | None:
    """Only a path on this site: a sign-in link must not send anyone elsewhere."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or "\\" in target:
        return None
    return target


def router(dispatcher: Dispatcher, pages: Pages, security: Security) -> APIRouter:
    r = APIRouter(include_in_schema=False)
    store = dispatcher.store

    def page(request: Request, status: int = 200, error: str | None = None) -> HTMLResponse:
        return pages.render(
            request,
            "signin.html",
            status,
            active="signin",
            people=dispatcher.people() if security.demo else [],
            error=error,
            next=_safe_next(request.query_params.get("next")) or "",
        )

    @r.get("/signin", response_class=HTMLResponse)
    def signin_page(request: Request) -> Response:
        return page(request)

    @r.post("/signin", response_class=HTMLResponse)
    def signin(request: Request, form: Annotated[Form, Depends(read_form)]) -> Response:
        """Demo: sign in as the chosen person. Otherwise: check the password and start a session."""
        if security.demo:
            staff_id = form.text("staff")
            if staff_id is None or staff_id not in {s.id for s, _ in dispatcher.people()}:
                return page(request, 422, "Choose a person from the list.")
            response = RedirectResponse(f"/my/{staff_id}", status_code=303)
            # No max-age: a demo identity lasts as long as the browser session, never longer.
            response.set_cookie(ACTING_COOKIE, staff_id, path="/", httponly=True, samesite="strict")
            return response
        user_id, password = form.text("user"), form.get("password", "")
        if user_id is None or not password:
            return page(request, 422, "Enter your user name and password.")
        now = dispatcher.clock()
        result = accounts.check_password(store, user_id, password, now)
        if result.outcome != "ok" or result.user is None:
            return page(request, 401 if result.outcome == "wrong" else 403, MESSAGES[result.outcome])
        session_id, _csrf = accounts.start_session(store, result.user.id, now, client_address(request.scope))
        target = _safe_next(form.text("next"))
        if target is None:
            target = f"/my/{result.user.staff_id}" if result.user.staff_id else "/board"
        response = RedirectResponse(target, status_code=303)
        response.set_cookie(
            SESSION_COOKIE, session_id, path="/", httponly=True, samesite="strict", secure=security.secure_cookies
        )
        return response

    @r.post("/signout")
    def signout(request: Request, _form: Annotated[Form, Depends(read_form)]) -> Response:
        session_id = getattr(request.state, "session_id", None)
        if session_id:
            accounts.end_session(store, session_id)
        response = RedirectResponse("/signin", status_code=303)
        response.delete_cookie(ACTING_COOKIE, path="/", httponly=True, samesite="strict")
        response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")
        return response

    return r
