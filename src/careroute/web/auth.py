"""Who is behind a page request, and the guards pages use.

Routes ask for a principal with `Depends(require_role("admin"))` (or any role
with `signed_in`); a request without one is sent to the sign-in page, one with
the wrong role gets a 403 page.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import HTTPException, Request

from careroute.access import Principal, Role


class SignInRequired(Exception):
    """Raised by the guards; the app turns it into a redirect to /signin."""


def principal(request: Request) -> Principal | None:
    """The principal found for this request by the sign-in middleware (None: nobody signed in)."""
    found: Principal | None = getattr(request.state, "principal", None)
    return found


def signed_in(request: Request) -> Principal:
    who = principal(request)
    if who is None:
        raise SignInRequired()
    return who


def require_role(*roles: Role) -> Callable[[Request], Principal]:
    """A dependency: the principal, who must hold one of `roles` (admins hold every role)."""

    def guard(request: Request) -> Principal:
        who = signed_in(request)
        if not who.has_role(*roles):
            raise HTTPException(403, "your role does not allow this page")
        return who

    return guard


def may_act_for(request: Request, staff_id: str) -> bool:
    """Staff act only as themselves; supervisors and admins may cover anyone's desk."""
    who = principal(request)
    if who is None:
        return False
    return who.has_role("supervisor") or who.staff_id == staff_id
