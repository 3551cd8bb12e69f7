"""The task page: the items as received, why careroute classified them so, the clocks and the full timeline."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from careroute.api.security import client_address
from careroute.dispatcher import Dispatcher, InvalidCommand, NotFound
from careroute.model import Event, Task
from careroute.web import data
from careroute.web.auth import may_act_for, signed_in
from careroute.web.forms import Form, attempt, is_htmx, read_form
from careroute.web.templating import Pages

#: Event data worth a line on the timeline, in the words staff use; the rest is in the JSON API.
DETAIL_LABELS = {
    "from_queue": "from queue",
    "from_assignee": "from",
    "from_status": "was",
    "reason_code": "reason code",
    "pilot_arm": "pilot arm",
    "channel": "channel",
    "external_id": "external id",
    "duplicate_of": "same request as",
    "score": "match score",
    "patient_fields": "patient matched on",
    "new_task_id": "now task",
    "unmerged_from_task_id": "split from task",
    "follow_up_task_id": "follow-up task",
    "follows_task_id": "follows task",
    "load_before": "load before",
    "capacity": "capacity",
    "notified": "notified",
    "from_urgency": "urgency was",
    "time_to_notify_seconds": "seconds to notify",
}


def event_details(event: Event) -> list[tuple[str, str]]:
    d: Mapping[str, Any] = event.data
    out = []
    for key, label in DETAIL_LABELS.items():
        value = d.get(key)
        if value is None or value == "" or value == []:
            continue
        if isinstance(value, float):
            value = f"{value:.2f}"
        elif isinstance(value, list):
            value = ", ".join(str(v) for v in value)
        out.append((label, str(value)))
    if event.kind == "classified":
        out.insert(0, ("confidence", f"{float(d.get('confidence', 0)):.0%}"))
        evidence = d.get("evidence") or []
        counted = sum(1 for e in evidence if not e.get("negated"))
        out.append(("phrases", f"{counted} counted, {len(evidence) - counted} negated"))
    return out


def router(dispatcher: Dispatcher, pages: Pages) -> APIRouter:
    r = APIRouter(include_in_schema=False)
    staff_ids = frozenset(p.id for p in dispatcher.pack.spec.staff)

    def context(request: Request, task: Task) -> dict[str, Any]:
        _task, rows, timeline = dispatcher.task_with_timeline(task.id)
        views = data.item_views(task, rows, timeline)
        return {
            "task": task,
            "items": [v for v in views if v.original],
            "merged": [v for v in views if not v.original],
            "due": dispatcher.due_times(task),
            "timeline": [(e, event_details(e)) for e in timeline],
            "acting": pages.signed_in(request),
            "error": None,
            "new_task": None,
        }

    def record_read(request: Request, task_id: int, action: str = "read_task", what: str | None = None) -> None:
        who = signed_in(request)
        dispatcher.store.record_access(
            who.actor, action, dispatcher.clock(), task_id=task_id, what=what, source=client_address(request.scope)
        )

    @r.get("/tasks/{task_id}", response_class=HTMLResponse)
    def task_page(request: Request, task_id: int) -> Response:
        try:
            task, _, _ = dispatcher.task_with_timeline(task_id)
        except NotFound:
            return pages.render(request, "not_found.html", 404, what=f"There is no task {task_id}.")
        who = signed_in(request)
        if not who.sees_queue(task.queue):
            # Outside one's queues a task does not exist, except for a clinician who breaks the glass.
            return pages.render(
                request, "not_found.html", 404, what=f"There is no task {task_id} in your queues.",
                break_glass_task=task_id if who.clinical else None,
            )  # fmt: skip
        record_read(request, task_id)
        return pages.render(request, "task.html", **context(request, task))

    @r.post("/tasks/{task_id}/break-glass", response_class=HTMLResponse)
    def break_glass(request: Request, task_id: int, form: Annotated[Form, Depends(read_form)]) -> Response:
        """Open a task outside one's queues: clinical roles only, with a reason, logged apart for review."""
        who = signed_in(request)
        reason = form.text("reason")
        try:
            task, _, _ = dispatcher.task_with_timeline(task_id)
        except NotFound:
            return pages.render(request, "not_found.html", 404, what=f"There is no task {task_id}.")
        if not who.clinical:
            return pages.render(request, "not_found.html", 404, what=f"There is no task {task_id} in your queues.")
        if reason is None or len(reason) < 10:
            return pages.render(
                request, "not_found.html", 422, what="Say why you need this task (at least a few words).",
                break_glass_task=task_id,
            )  # fmt: skip
        record_read(request, task_id, "break_glass", reason[:200])
        record_read(request, task_id)
        return pages.render(request, "task.html", **context(request, task))

    @r.post("/ui/items/{item_id}/unmerge", response_class=HTMLResponse)
    def unmerge(request: Request, item_id: int, form: Annotated[Form, Depends(read_form)]) -> Response:
        """Split a wrongly merged item into its own task; the reason is required (it trains duplicate detection)."""
        actor, reason = form.text("actor"), form.text("reason")
        with dispatcher.store.read() as conn:
            found = dispatcher.store.items_by_id(conn, [item_id])
            owner = dispatcher.store.get_task(conn, found[0].task_id) if found else None
        if owner is not None and not signed_in(request).sees_queue(owner.queue):
            return pages.render(request, "not_found.html", 404, what=f"There is no item {item_id} in your queues.")
        if actor is not None and not may_act_for(request, actor):
            actor = None

        def split() -> Task:
            if actor is None:
                raise InvalidCommand("actor: say who you are (open your own work first)")
            return dispatcher.unmerge(item_id, reason or "", actor)

        outcome = attempt(split, staff_ids)
        task_id = int(form.get("task_id", "0") or 0)
        if not is_htmx(request):
            return RedirectResponse(f"/tasks/{task_id}" if task_id else "/", status_code=303)
        task = data.get_task(dispatcher, task_id)
        view = None
        if task is not None:
            _task, rows, timeline = dispatcher.task_with_timeline(task.id)
            view = next((v for v in data.item_views(task, rows, timeline) if v.id == item_id), None)
        return pages.render(
            request,
            "_merged_item.html",
            outcome.status,
            item=view,
            item_id=item_id,
            task=task,
            acting=pages.signed_in(request),
            error=outcome.error,
            new_task=outcome.value,
        )

    return r
