"""The queues board: every queue's load and breaches, every person's load and presence, reassignment."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from careroute.assignment import Person
from careroute.dispatcher import Dispatcher, InvalidCommand
from careroute.model import Staff, Task
from careroute.presence import LIVE_STATES
from careroute.web import data
from careroute.web.auth import may_act_for, signed_in
from careroute.web.forms import Form, attempt, is_htmx, read_form
from careroute.web.templating import Pages


def router(dispatcher: Dispatcher, pages: Pages) -> APIRouter:
    r = APIRouter(include_in_schema=False)
    staff_ids = frozenset(p.id for p in dispatcher.pack.spec.staff)

    def queues_context(request: Request) -> dict[str, Any]:
        now = dispatcher.clock()
        who = signed_in(request)
        shown = [q for q in dispatcher.pack.spec.queues if who.sees_queue(q.id)]
        with dispatcher.store.read() as conn:
            summaries = dispatcher.store.queue_summaries(conn, shown)
        breaches = {q: n for q, n in data.claim_breaches(dispatcher, now).items() if who.sees_queue(q)}
        return {"summaries": summaries, "breaches": breaches, "now": now}

    def people_context() -> dict[str, Any]:
        return {"people": dispatcher.people(), "states": LIVE_STATES, "error": None, "error_for": None}

    def tasks_context(request: Request, people: list[tuple[Staff, Person]] | None = None) -> dict[str, Any]:
        return {
            # Minimum necessary: a person sees the waiting work of their own queues only.
            "waiting": [t for t in data.waiting_tasks(dispatcher) if signed_in(request).sees_queue(t.queue)],
            "people": dispatcher.people() if people is None else people,
            "acting": pages.signed_in(request),
            "now": dispatcher.clock(),
            "error": None,
            "done": None,
        }

    @r.get("/board", response_class=HTMLResponse)
    def board(request: Request) -> Response:
        people = people_context()  # read once: the people table and every task's picker show the same load
        context = {**queues_context(request), **people, **tasks_context(request, people["people"])}
        return pages.render(request, "board.html", active="board", after=data.latest_event_id(dispatcher), **context)

    @r.get("/ui/board/queues", response_class=HTMLResponse)
    def queues(request: Request) -> Response:
        return pages.render(request, "_board_queues.html", **queues_context(request))

    @r.get("/ui/board/people", response_class=HTMLResponse)
    def people(request: Request) -> Response:
        return pages.render(request, "_board_people.html", **people_context())

    @r.get("/ui/board/tasks", response_class=HTMLResponse)
    def waiting(request: Request) -> Response:
        return pages.render(request, "_board_tasks.html", **tasks_context(request))

    @r.post("/ui/board/tasks/{task_id}/assign", response_class=HTMLResponse)
    def assign(request: Request, task_id: int, form: Annotated[Form, Depends(read_form)]) -> Response:
        """Push a task to a person; the row comes back with them, or with the refusal in a sentence."""
        staff, actor = form.text("staff"), form.text("actor")
        if not signed_in(request).has_role("supervisor"):
            refusal = "Only supervisors reassign work."
            return pages.render(request, "_gone_row.html", 403, task_id=task_id, error=refusal)
        if actor is not None and not may_act_for(request, actor):
            actor = None

        def push() -> Task:
            if staff is None:
                raise InvalidCommand("staff: choose the person to give the task to")
            if actor is None:
                raise InvalidCommand("actor: say who you are (open your own work first)")
            return dispatcher.assign(task_id, staff, actor)

        outcome = attempt(push, staff_ids)
        if not is_htmx(request):
            return RedirectResponse("/board", status_code=303)
        task = outcome.value or data.get_task(dispatcher, task_id)
        if task is None:
            return pages.render(request, "_gone_row.html", 404, task_id=task_id, error=outcome.error)
        context = tasks_context(request)
        context.update(
            error=outcome.error, done=None if outcome.error else f"Task {task.id} is now with {task.assignee}."
        )
        return pages.render(request, "_board_task_row.html", outcome.status, t=task, **context)

    @r.post("/ui/staff/{staff_id}/presence", response_class=HTMLResponse)
    def presence(request: Request, staff_id: str, form: Annotated[Form, Depends(read_form)]) -> Response:
        """Set someone's live presence; going away returns their unclaimed tasks to the queues."""
        if not may_act_for(request, staff_id):
            context = people_context()
            context.update(error="You can change only your own presence.", error_for=staff_id)
            return pages.render(request, "_board_people.html", 403, **context)
        outcome = attempt(lambda: dispatcher.set_presence(staff_id, form.text("presence") or ""), staff_ids)
        if not is_htmx(request):
            return RedirectResponse("/board", status_code=303)
        context = people_context()
        context.update(error=outcome.error, error_for=staff_id)
        return pages.render(request, "_board_people.html", outcome.status, **context)

    return r
