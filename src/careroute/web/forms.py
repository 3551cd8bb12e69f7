"""Form posts from the pages: reading them, refusing cross-site ones, and turning refusals into sentences.

Forms are read here rather than through FastAPI's `Form` so that no multipart
parser is needed and a missing field comes back to the person as a sentence in
the page, not as the JSON API's 422 body.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Generic, TypeVar
from urllib.parse import parse_qs

from fastapi import HTTPException, Request

from careroute.dispatcher import InvalidCommand, NotFound
from careroute.lifecycle import TransitionRefused

T = TypeVar("T")

#: Form bodies are a few short fields; anything longer is not from our pages.
MAX_FORM_BYTES = 16_384


class Form(dict[str, str]):
    """A posted form's fields (the first value of each), stripped of surrounding space."""

    def text(self, name: str) -> str | None:
        value = self.get(name, "").strip()
        return value or None


async def read_form(request: Request) -> Form:
    """FastAPI dependency: the urlencoded body of a post from one of careroute's own pages."""
    # Browsers say where a request comes from; a post from another site is never a person working here.
    if request.headers.get("sec-fetch-site") == "cross-site":
        raise HTTPException(403, "posts from other sites are refused")
    origin = request.headers.get("origin")
    if origin and origin != "null" and origin.split("://", 1)[-1] != request.headers.get("host", ""):
        raise HTTPException(403, "posts from other sites are refused")
    body = await request.body()
    # A page that posts a whole document (the rule pack's text view) raises the limit for its own route.
    if len(body) > getattr(request.state, "max_form_bytes", MAX_FORM_BYTES):
        raise HTTPException(413, "the form is too large")
    try:
        fields = parse_qs(body.decode(), keep_blank_values=True, max_num_fields=50)
    except (UnicodeDecodeError, ValueError):
        raise HTTPException(400, "the form could not be read") from None
    form = Form({k: v[0] for k, v in fields.items() if v})
    # A signed-in session has a CSRF token: every post of its pages must carry it (a hidden field, or
    # htmx's header). The origin checks above stop most forgeries; this stops the rest.
    expected = getattr(request.state, "csrf", None)
    if expected:
        given = form.get("csrf") or request.headers.get("x-csrf-token") or ""
        if not hmac.compare_digest(given.encode(), expected.encode()):
            raise HTTPException(403, "this form has expired or did not come from careroute: reload the page")
    return form


def sentence(message: str, names: Collection[str] = ()) -> str:
    """'the task is already resolved' -> 'The task is already resolved.'; ids in `names` keep their case."""
    message = message.strip()
    if not message:
        return "That could not be done."
    if message.split(" ", 1)[0] not in names:
        message = message[0].upper() + message[1:]
    return message if message.endswith((".", "!", "?")) else message + "."


@dataclass(frozen=True)
class Outcome(Generic[T]):
    value: T | None
    error: str | None = None
    status: int = 200


def attempt(action: Callable[[], T], names: Collection[str] = ()) -> Outcome[T]:
    """Run a dispatcher command; a refusal becomes a sentence and the status the API would give.

    The dispatcher's messages name states, queues and staff, never message text,
    so they can be shown as they are; `names` are staff ids, not capitalised.
    """
    try:
        return Outcome(action())
    except TransitionRefused as exc:
        return Outcome(None, sentence(str(exc), names), 409)
    except InvalidCommand as exc:
        _field, _, message = str(exc).partition(": ")
        return Outcome(None, sentence(message or str(exc), names), 422)
    except NotFound as exc:
        return Outcome(None, sentence(str(exc), names), 404)


def is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"
