"""My work: the tasks pushed to or claimed by one person, and the commands they give on them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from careroute.dispatcher import Dispatcher, InvalidCommand
from careroute.model import Staff, Task
from careroute.web import data
from careroute.web.auth import may_act_for, signed_in
from careroute.web.forms import Form, attempt, is_htmx, read_form
from careroute.web.templating import Pages

Command = Literal["claim", "resolve", "reroute", "reopen", "hold", "release"]


def _staff(dispatcher: Dispatcher, staff_id: str) -> tuple[Staff, Any] | None:
    return next(((s, p) for s, p in dispatcher.people() if s.id == staff_id), None)


def router(dispatcher: Dispatcher, pages: Pages) -> APIRouter:
    r = APIRouter(include_in_schema=False)
    staff_ids = frozenset(p.id for p in dispatcher.pack.spec.staff)
    spec = dispatcher.pack.spec

    def list_context(staff_id: str, **extra: Any) -> dict[str, Any]:
        held, done = data.my_tasks(dispatcher, staff_id)
        now = dispatcher.clock()
        return {
            "staff_id": staff_id,
            "rows": data.work_rows(dispatcher, held, now),
            "resolved": data.work_rows(dispatcher, done, now),
            "queues": spec.queues,
            "reasons": spec.reroute_reasons,
            "now": now,
            "message": None,
            "list_error": None,
            # A row's own refusal or confirmation: none when the whole list is drawn.
            "error": None,
            "done": None,
            **extra,
        }

    def reroute(task_id: int, staff_id: str, form: Form) -> Task:
        # Say what is missing in the words of the form, before the dispatcher lists every code.
        if form.text("to_queue") is None:
            raise InvalidCommand("to_queue: choose the queue the task belongs in")
        if spec.reroute_reasons and form.text("reason_code") is None:
            raise InvalidCommand(
                "reason_code: choose why the task is moving, so the rule that misrouted it can be found"
            )
        return dispatcher.reroute(
            task_id, form.text("to_queue") or "", form.text("reason"), staff_id, form.text("reason_code")
        )

    def not_found(request: Request) -> HTMLResponse:
        return pages.render(request, "not_found.html", 404, what="No staff member has that id.")

    def not_yours(request: Request) -> HTMLResponse:
        return pages.render(request, "not_found.html", 403, what="You can open only your own work.")

    @r.get("/my/{staff_id}", response_class=HTMLResponse)
    def my_work(request: Request, staff_id: str) -> Response:
        found = _staff(dispatcher, staff_id)
        if found is None:
            return not_found(request)
        if not may_act_for(request, staff_id):
            return not_yours(request)
        staff, person = found
        # Opening a list no longer signs anyone in (a link must not change who you are): /signin does.
        # Commands on this page still act as its person, as a supervisor covering a desk would (demo).
        return pages.render(
            request,
            "my_work.html",
            active="my" if pages.signed_in(request) == staff_id else None,
            staff=staff,
            person=person,
            after=data.latest_event_id(dispatcher),
            **list_context(staff_id),
        )

    @r.get("/ui/my/{staff_id}/list", response_class=HTMLResponse)
    def my_list(request: Request, staff_id: str) -> Response:
        if _staff(dispatcher, staff_id) is None:
            return not_found(request)
        if not may_act_for(request, staff_id):
            return not_yours(request)
        return pages.render(request, "_my_list.html", **list_context(staff_id))

    @r.post("/ui/my/{staff_id}/next", response_class=HTMLResponse)
    def pull_next(request: Request, staff_id: str, _form: Annotated[Form, Depends(read_form)]) -> Response:
        """Pull: claim the best waiting task this person may take; the list comes back with it on top."""
        if not may_act_for(request, staff_id):
            return not_yours(request)
        outcome = attempt(lambda: dispatcher.next_task(staff_id), staff_ids)
        if not is_htmx(request):
            return RedirectResponse(f"/my/{staff_id}", status_code=303)
        if outcome.error is not None:
            return pages.render(
                request, "_my_list.html", outcome.status, **list_context(staff_id, list_error=outcome.error)
            )
        task = outcome.value
        message = f"You claimed task {task.id}." if task else "Nothing is waiting that you can take."
        return pages.render(request, "_my_list.html", **list_context(staff_id, message=message))

    @r.post("/ui/my/{staff_id}/tasks/{task_id}/{command}", response_class=HTMLResponse)
    def command(
        request: Request, staff_id: str, task_id: int, command: Command, form: Annotated[Form, Depends(read_form)]
    ) -> Response:
        """One command on one row; the row comes back updated, or unchanged with the refusal as a sentence."""
        actions: dict[str, Callable[[], Task]] = {
            "claim": lambda: dispatcher.claim(task_id, staff_id),
            "resolve": lambda: dispatcher.resolve(task_id, staff_id, form.text("reason")),
            "reroute": lambda: reroute(task_id, staff_id, form),
            "reopen": lambda: dispatcher.reopen(task_id, staff_id, form.text("reason")),
            "hold": lambda: dispatcher.hold(task_id, form.text("reason") or "", staff_id),
            "release": lambda: dispatcher.release(task_id, staff_id),
        }
        if _staff(dispatcher, staff_id) is None:
            return not_found(request)
        if not may_act_for(request, staff_id):
            return not_yours(request)
        existing = data.get_task(dispatcher, task_id)
        if existing is not None and not signed_in(request).sees_queue(existing.queue) and existing.assignee != staff_id:
            refusal = "That task is not in your queues."
            return pages.render(request, "_gone_row.html", 404, task_id=task_id, error=refusal)
        outcome = attempt(actions[command], staff_ids)
        if not is_htmx(request):
            return RedirectResponse(f"/my/{staff_id}", status_code=303)
        task = outcome.value or data.get_task(dispatcher, task_id)
        if task is None:
            return pages.render(request, "_gone_row.html", 404, task_id=task_id, error=outcome.error)
        now = dispatcher.clock()
        return pages.render(
            request,
            "_work_row.html",
            outcome.status,
            row=data.work_rows(dispatcher, [task], now)[0],
            staff_id=staff_id,
            queues=spec.queues,
            reasons=spec.reroute_reasons,
            error=outcome.error,
            done=command if outcome.error is None else None,
            now=now,
        )

    return r
