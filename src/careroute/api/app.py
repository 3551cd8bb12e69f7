"""The FastAPI application: intake, tasks, staff commands, queues.

Errors a caller can cause come back as JSON naming the field, never a stack
trace and never the offending value (it may be a patient's words).
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Annotated, Any

from fastapi import Body, FastAPI, Query, Request
from fastapi import Path as FastAPIPath
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from careroute import __version__, scoreboard
from careroute.access import Principal
from careroute.api.integrations import Listeners, Sources, mount_integrations, start_listeners
from careroute.api.schemas import (
    AssignBody,
    Command,
    HoldBody,
    PresenceBody,
    ReopenBody,
    RerouteBody,
    ResolveBody,
    UnmergeBody,
    due_json,
    event_json,
    item_json,
    notification_json,
    queue_json,
    task_json,
)
from careroute.api.security import Authenticate, Security
from careroute.dispatcher import Dispatcher, InvalidCommand, NotFound
from careroute.intake.contract import InboundItemIn, describe, field_path
from careroute.lifecycle import TransitionRefused
from careroute.model import TAGS, URGENCIES
from careroute.scheduler import Scheduler
from careroute.store.repository import CursorError, TaskFilter, decode_cursor, encode_cursor

log = logging.getLogger("careroute.api")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class BodyLimit:
    """Refuse bodies over the limit with a 413, whether or not the client sent a Content-Length.

    The body is read here (it is at most `max_bytes`) and handed on to the app,
    so a chunked upload that grows past the limit is stopped before any parsing.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length" and value.isdigit() and int(value) > self.max_bytes:
                await self._refuse(send)
                return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._refuse(send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        delivered = False

        async def replay() -> Message:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _refuse(self, send: Send) -> None:
        body = json.dumps(
            {"error": "payload_too_large", "message": f"request body is over {self.max_bytes} bytes"}
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": body})


#: Ids are 32-bit on PostgreSQL: a bigger number cannot name anything, and must not reach the database.
MAX_ID = 2_147_483_647
TaskId = Annotated[int, FastAPIPath(ge=1, le=MAX_ID, description="a task id")]
ItemId = Annotated[int, FastAPIPath(ge=1, le=MAX_ID, description="an item id")]


def _dimensions(by: str) -> list[Any]:
    from careroute.metrics import DIMENSIONS

    wanted = [d.strip() for d in by.split(",") if d.strip()]
    unknown = [d for d in wanted if d not in (*DIMENSIONS, "final_queue")]
    if unknown:
        raise InvalidCommand(f"by: unknown dimension {unknown[0]!r} (one of: {', '.join(DIMENSIONS)}, final_queue)")
    return ["all", *[d for d in wanted if d != "all"]]


def _error(status: int, error: str, message: str, problems: list[dict[str, str]] | None = None) -> JSONResponse:
    content: dict[str, Any] = {"error": error, "message": message}
    if problems is not None:
        content["problems"] = problems
    return JSONResponse(content, status_code=status)


def create_app(
    dispatcher: Dispatcher,
    *,
    max_body_bytes: int = 1_000_000,
    max_batch_items: int = 1_000,
    scheduler: Scheduler | None = None,
    sources: Sources | None = None,
    listeners: Listeners | None = None,
    security: Security | None = None,
) -> FastAPI:
    """The app. Without `security` it is closed: every call needs an API token or a signed-in session."""
    sources = sources if sources is not None else Sources(None)
    if security is None:
        security = Security()
    if not sources.open and not security.integrations_have_own_credentials:
        from dataclasses import replace

        security = replace(security, integrations_have_own_credentials=True)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        servers = await start_listeners(dispatcher, listeners) if listeners is not None else []
        if scheduler is not None:
            scheduler.start()
        try:
            yield
        finally:
            if scheduler is not None:
                scheduler.stop()
            for server in servers:
                server.close()

    app = FastAPI(
        lifespan=lifespan,
        title="careroute",
        version=__version__,
        description=(
            "Dispatch for a medical practice's inbound work: every channel becomes one task in one queue, "
            "classified at arrival, routed to a role queue, and every change is an event."
        ),
    )
    app.state.dispatcher = dispatcher
    app.state.security = security
    store = dispatcher.store

    class Forbidden(Exception):
        pass

    @app.exception_handler(Forbidden)
    async def _forbidden(_request: Request, exc: Forbidden) -> JSONResponse:
        return _error(403, "forbidden", str(exc))

    def who(request: Request) -> Principal:
        principal: Principal | None = getattr(request.state, "principal", None)
        if principal is None:  # the security layer lets no /v1 call through without one
            raise Forbidden("sign in or send an API token")
        return principal

    def acting(request: Request, actor: str) -> str:
        """The actor a command records: a signed-in person acts as themselves; systems name the person."""
        principal = who(request)
        if principal.kind == "user" and actor != principal.actor:
            raise Forbidden(f"actor: you are signed in as {principal.actor}; commands record who really acted")
        return actor

    def check_visible(request: Request, task_id: int) -> None:
        """A task outside the caller's queues does not exist for them (404, the same as no task)."""
        principal = who(request)
        if principal.queues is None:
            return
        with store.read() as conn:
            task = store.get_task(conn, task_id)
        if task is None or not principal.sees_queue(task.queue):
            raise NotFound(f"no task {task_id}")

    def check_self(request: Request, staff_id: str) -> None:
        principal = who(request)
        if principal.kind == "user" and principal.role == "staff" and principal.staff_id != staff_id:
            raise Forbidden("staff: you may change only your own presence and take only your own work")

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = []
        for e in exc.errors():
            loc = tuple(e.get("loc", ()))
            if loc and loc[0] in ("body", "query", "path"):
                loc = loc[1:]
            message = e.get("msg", "invalid")
            if e.get("type") == "json_invalid":
                message = "request body is not valid JSON"
            problems.append({"field": field_path(loc), "message": message})
        return _error(422, "invalid_request", "the request does not match the API", problems)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return _error(exc.status_code, "http_error", str(exc.detail))

    @app.exception_handler(TransitionRefused)
    async def _refused(_request: Request, exc: TransitionRefused) -> JSONResponse:
        return _error(409, "conflict", str(exc))

    @app.exception_handler(NotFound)
    async def _not_found(_request: Request, exc: NotFound) -> JSONResponse:
        return _error(404, "not_found", str(exc))

    @app.exception_handler(InvalidCommand)
    async def _bad_command(_request: Request, exc: InvalidCommand) -> JSONResponse:
        field, _, message = str(exc).partition(": ")
        return _error(422, "invalid_request", str(exc), [{"field": field, "message": message or str(exc)}])

    @app.exception_handler(CursorError)
    async def _bad_cursor(_request: Request, exc: CursorError) -> JSONResponse:
        return _error(400, "invalid_request", str(exc), [{"field": "cursor", "message": str(exc)}])

    @app.exception_handler(Exception)
    async def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
        # Only the class name: messages of database errors can carry values.
        incident = uuid.uuid4().hex[:12]
        log.error("unhandled %s (incident %s)", type(exc).__name__, incident)
        return _error(500, "internal_error", f"careroute could not complete this request (incident {incident})")

    # -- intake ----------------------------------------------------------------

    @app.post("/v1/items", status_code=201, tags=["intake"])
    def post_item(item: InboundItemIn) -> JSONResponse:
        """Take in one item. 201 with the new task, or 200 with the existing one when this
        (channel, external_id) was taken in before. The item is committed before the reply."""
        result = dispatcher.intake(item.to_item())
        return JSONResponse(
            {"task_id": result.task_id, "created": result.created, "decision": result.decision.to_dict()},
            status_code=201 if result.created else 200,
        )

    @app.post("/v1/items:batch", status_code=200, tags=["intake"])
    def post_items(
        payload: Annotated[Any, Body(description='a JSON array of items, or {"items": [...]}')],
    ) -> Any:
        """Take in up to 1,000 items in one transaction: all are stored, or (on any bad item) none."""
        raw = payload.get("items") if isinstance(payload, dict) else payload
        if not isinstance(raw, list):
            return _error(
                422,
                "invalid_request",
                "expected a JSON array of items",
                [{"field": "items", "message": "must be a list of items"}],
            )
        if len(raw) > max_batch_items:
            return _error(
                413,
                "payload_too_large",
                f"a batch holds at most {max_batch_items} items",
                [{"field": "items", "message": f"{len(raw)} items; at most {max_batch_items}"}],
            )
        parsed, problems = [], []
        for i, entry in enumerate(raw):
            try:
                parsed.append(InboundItemIn.model_validate(entry).to_item())
            except ValidationError as exc:
                problems.extend(describe(exc, ("items", i)))
        if problems:
            return _error(422, "invalid_request", "no item of the batch was stored", problems)
        results = dispatcher.intake_batch(parsed)
        return {
            "results": [{"task_id": r.task_id, "created": r.created, "decision": r.decision.to_dict()} for r in results]
        }

    # -- tasks -----------------------------------------------------------------

    @app.get("/v1/tasks", tags=["tasks"])
    def list_tasks(
        queue: str | None = None,
        status: str | None = Query(default=None, pattern="^(open|assigned|claimed|resolved)$"),
        type: str | None = Query(default=None, pattern="^(" + "|".join(TAGS) + ")$"),
        urgency: str | None = Query(default=None, pattern="^(" + "|".join(URGENCIES) + ")$"),
        assignee: str | None = None,
        cursor: str | None = None,
        limit: int = Query(default=50, ge=1, le=500),
        *,
        request: Request,
    ) -> dict[str, Any]:
        """Tasks in the order they were created, filtered; pass `next_cursor` back for the next page.

        Only the tasks of the caller's queues are listed (staff: their own queues)."""
        after = decode_cursor(cursor) if cursor else None
        flt = TaskFilter(
            queue=queue, status=status, type=type, urgency=urgency, assignee=assignee, queues=who(request).queues
        )
        with store.read() as conn:
            page, last = store.list_tasks(conn, flt, after_id=after, limit=limit)
        return {"tasks": [task_json(t) for t in page], "next_cursor": encode_cursor(last) if last else None}

    def reader(request: Request) -> str:
        """Who the access log names: the signed-in person or the token; a system may add the person it acts for."""
        principal = who(request)
        on_behalf = request.headers.get("x-careroute-user")
        if principal.kind == "user" or not on_behalf:
            return principal.actor[:64]
        if principal.kind == "demo":
            return on_behalf[:64]
        return f"{on_behalf[:40]} via {principal.actor}"[:64]

    @app.get("/v1/tasks/{task_id}", tags=["tasks"])
    def get_task(
        task_id: TaskId,
        request: Request,
        break_glass: Annotated[
            str | None,
            Query(min_length=10, max_length=200, description="why a clinician opens a task outside their queues"),
        ] = None,
    ) -> dict[str, Any]:
        """The task, its due times, the items merged into it as received, and its full event timeline.

        Every read is recorded in the access log (who, when, which task, from where). A task outside the
        caller's queues is a 404, unless a clinical user breaks the glass with a reason (logged apart)."""
        principal = who(request)
        source = request.client.host if request.client else None
        task, rows, events = dispatcher.task_with_timeline(task_id)
        if not principal.sees_queue(task.queue):
            if break_glass is None or not principal.clinical:
                raise NotFound(f"no task {task_id}")
            store.record_access(
                reader(request), "break_glass", dispatcher.clock(), task_id=task_id, what=break_glass, source=source
            )
        store.record_access(reader(request), "read_task", dispatcher.clock(), task_id=task_id, source=source)
        return {
            **task_json(task),
            "due": due_json(dispatcher.due_times(task), dispatcher.clock()),
            "items": [item_json(r) for r in rows],
            "events": [event_json(e) for e in events],
        }

    @app.post("/v1/tasks/{task_id}/hold", tags=["commands"])
    def hold(task_id: TaskId, body: HoldBody, request: Request) -> dict[str, Any]:
        """Put the task on hold (waiting on the patient, the payer, a result): business-hours clocks pause."""
        check_visible(request, task_id)
        return task_json(dispatcher.hold(task_id, body.reason, acting(request, body.actor)))

    @app.post("/v1/tasks/{task_id}/release", tags=["commands"])
    def release(task_id: TaskId, body: Command, request: Request) -> dict[str, Any]:
        """Take the task off hold: its business-hours clocks resume."""
        check_visible(request, task_id)
        return task_json(dispatcher.release(task_id, acting(request, body.actor)))

    @app.post("/v1/tasks/{task_id}/acknowledge", tags=["commands"])
    def acknowledge(task_id: TaskId, body: ResolveBody, request: Request) -> dict[str, Any]:
        """Record that a clinician was told (a critical result or a page); stops the page going further."""
        check_visible(request, task_id)
        return task_json(dispatcher.acknowledge(task_id, acting(request, body.actor), body.reason))

    @app.get("/v1/notifications", tags=["alerts"])
    def list_notifications(
        task_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None, status: str | None = None
    ) -> dict[str, Any]:
        """The alert outbox: pending, sent and dead-letter notifications (no message content in them)."""
        with store.read() as conn:
            rows = store.list_notifications(conn, task_id)
        return {"notifications": [notification_json(r) for r in rows if status is None or r.status == status]}

    @app.post("/v1/tasks/{task_id}/claim", tags=["commands"])
    def claim(task_id: TaskId, body: Command, request: Request) -> dict[str, Any]:
        check_visible(request, task_id)
        return task_json(dispatcher.claim(task_id, acting(request, body.actor)))

    @app.post("/v1/tasks/{task_id}/resolve", tags=["commands"])
    def resolve(task_id: TaskId, body: ResolveBody, request: Request) -> dict[str, Any]:
        check_visible(request, task_id)
        return task_json(dispatcher.resolve(task_id, acting(request, body.actor), body.reason))

    @app.post("/v1/tasks/{task_id}/reroute", tags=["commands"])
    def reroute(task_id: TaskId, body: RerouteBody, request: Request) -> dict[str, Any]:
        check_visible(request, task_id)
        actor = acting(request, body.actor)
        return task_json(dispatcher.reroute(task_id, body.to_queue, body.reason, actor, body.reason_code))

    @app.post("/v1/tasks/{task_id}/reopen", tags=["commands"])
    def reopen(task_id: TaskId, body: ReopenBody, request: Request) -> dict[str, Any]:
        check_visible(request, task_id)
        return task_json(dispatcher.reopen(task_id, acting(request, body.actor), body.reason))

    @app.post("/v1/items/{item_id}/unmerge", tags=["commands"])
    def unmerge(item_id: ItemId, body: UnmergeBody, request: Request) -> dict[str, Any]:
        """Undo a wrong merge: the item becomes its own task again (classified and routed afresh)."""
        if who(request).queues is not None:
            with store.read() as conn:
                found = store.items_by_id(conn, [item_id])
            if found:
                check_visible(request, found[0].task_id)
        return task_json(dispatcher.unmerge(item_id, body.reason, acting(request, body.actor)))

    @app.post("/v1/tasks/{task_id}/assign", tags=["commands"])
    def assign(task_id: TaskId, body: AssignBody, request: Request) -> dict[str, Any]:
        check_visible(request, task_id)
        return task_json(dispatcher.assign(task_id, body.staff, acting(request, body.actor)))

    # -- queues, staff, health ----------------------------------------------------

    @app.get("/v1/queues", tags=["queues"])
    def queues() -> dict[str, Any]:
        """Every queue of the rule pack with its depth, waiting count and oldest waiting age."""
        now: datetime = dispatcher.clock()
        with store.read() as conn:
            summaries = store.queue_summaries(conn, dispatcher.pack.spec.queues)
        return {"queues": [queue_json(q, now) for q in summaries], "pack_version": dispatcher.pack.version}

    @app.get("/v1/staff", tags=["staff"])
    def list_staff() -> dict[str, Any]:
        """Every active staff member with presence (live state and shift schedule) and load against capacity."""
        return {
            "staff": [
                {
                    "id": s.id,
                    "name": s.name,
                    "credential": s.credential,
                    "queues": list(s.queues),
                    "skills": list(s.skills),
                    "presence": p.presence,
                    "live_presence": s.presence,
                    "load": p.load,
                    "capacity": p.capacity,
                    "queue_load": dict(p.queue_load),
                    "queue_capacity": dict(p.queue_capacity),
                }
                for s, p in dispatcher.people()
            ]
        }

    @app.post("/v1/staff/{staff_id}/presence", tags=["staff"])
    def presence(staff_id: str, body: PresenceBody, request: Request) -> dict[str, Any]:
        """Set live presence. Going away or off shift returns this person's unclaimed tasks to their queues."""
        check_self(request, staff_id)
        returned, pushed = dispatcher.set_presence(staff_id, body.presence)
        return {
            "staff": staff_id,
            "presence": body.presence,
            "returned": returned,
            "assigned": [{"task_id": a.task_id, "staff": a.staff_id} for a in pushed],
        }

    @app.post("/v1/staff/{staff_id}/next", tags=["staff"])
    def next_task(staff_id: str, request: Request) -> dict[str, Any]:
        """Pull: claim the best waiting task this person may take and has room for."""
        check_self(request, staff_id)
        task = dispatcher.next_task(staff_id)
        if task is None:
            return {"task": None, "message": "nothing is waiting that you can take"}
        return {"task": task_json(task)}

    @app.get("/v1/metrics", tags=["metrics"])
    def get_metrics(
        weeks: int = Query(default=8, ge=1, le=260),
        period: str = Query(default="week", pattern="^(week|day|all)$"),
        by: str = Query(default="queue,type,urgency,channel,pilot_arm", description="comma-separated dimensions"),
    ) -> dict[str, Any]:
        """The four metrics by week (or day, or over the whole range), overall and per dimension, beside targets.

        - **queue age**: time from task creation to first claim (or first resolution if that came first);
          nearest-rank median and p90, per urgency; tasks still waiting are counted apart.
        - **reroute rate**: share of tasks a person moved to another queue after initial routing.
        - **first-contact resolution**: share of resolved tasks never reopened (the same request coming
          back within the duplicate window after resolution counts as a reopen).
        - **escalation rate**: share of tasks with at least one escalation.

        A task belongs to the week (Monday start, practice time zone) it was created in.
        """
        dims = _dimensions(by)
        rep = scoreboard.report(dispatcher, weeks=weeks, period=None if period == "all" else period, by=dims)  # type: ignore[arg-type]
        return {"timezone": rep.timezone, "period": rep.period, "now": rep.now.isoformat(), "rows": rep.records()}

    @app.get("/v1/metrics.csv", tags=["metrics"], response_class=PlainTextResponse)
    def get_metrics_csv(
        request: Request,
        weeks: int = Query(default=8, ge=1, le=260),
        period: str = Query(default="week", pattern="^(week|day|all)$"),
        by: str = "queue,type,urgency,channel,pilot_arm",
    ) -> PlainTextResponse:
        store.record_access(
            reader(request), "export", dispatcher.clock(), what=f"metrics.csv weeks={weeks} period={period}",
            source=request.client.host if request.client else None,
        )  # fmt: skip
        rep = scoreboard.report(dispatcher, weeks=weeks, period=None if period == "all" else period, by=_dimensions(by))  # type: ignore[arg-type]
        return PlainTextResponse(
            scoreboard.to_csv(rep),
            media_type="text/csv",
            headers={"content-disposition": 'attachment; filename="careroute-metrics.csv"'},
        )

    @app.get("/metrics", tags=["metrics"], response_class=PlainTextResponse)
    def prometheus_metrics() -> PlainTextResponse:
        """Prometheus text format: task counts, queue depths and ages, escalations, notification failures."""
        return PlainTextResponse(scoreboard.prometheus(dispatcher), media_type="text/plain; version=0.0.4")

    @app.get("/v1/audit/access", tags=["audit"])
    def audit_access(
        request: Request,
        task_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
        mrn: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
        break_glass: bool = False,
    ) -> dict[str, Any]:
        """Who read a task's content, or any task of one patient (by MRN): auditors and admins only.

        `break_glass=true` lists only the reads of tasks outside the reader's own queues, with the reason given."""
        if not who(request).has_role("auditor"):
            raise Forbidden("the access audit is for auditors and admins")
        if task_id is None and mrn is None and not break_glass:
            raise InvalidCommand("task_id: give task_id, mrn or break_glass=true")
        with store.read() as conn:
            action = "break_glass" if break_glass else "read_task"
            rows = store.who_viewed(conn, task_id=task_id, mrn=mrn, action=action)
        store.record_access(
            reader(request), "export", dispatcher.clock(), what="access audit",
            source=request.client.host if request.client else None,
        )  # fmt: skip
        return {
            "reads": [
                {"at": r.at.isoformat(), "actor": r.actor, "action": r.action, "task_id": r.task_id,
                 "reason": r.what if r.action == "break_glass" else None, "source": r.source}
                for r in rows
            ]
        }  # fmt: skip

    @app.get("/healthz", tags=["health"])
    def health() -> dict[str, Any]:
        with store.read() as conn:
            conn.exec_driver_sql("SELECT 1")
        # Which process runs the timers (several instances elect one): "leader" or "standby", or off here.
        timers = scheduler.status() if scheduler is not None else {"role": "off"}
        return {"status": "ok", "database": store.dialect, "pack_version": dispatcher.pack.version, "scheduler": timers}

    mount_integrations(app, dispatcher, sources)
    from careroute.web import mount_web  # the pages staff work in, served by careroute itself

    mount_web(app, dispatcher)
    app.add_middleware(BodyLimit, max_bytes=max_body_bytes)

    def staff_queues(staff_id: str) -> tuple[str, ...] | None:
        # Read from the live pack each time: a published pack may move people between queues.
        for person in dispatcher.pack.spec.staff:
            if person.id == staff_id:
                return tuple(person.queues)
        return None

    # Outermost: callers are known (and limited) before a body is read.
    app.add_middleware(
        Authenticate, store=store, security=security, staff_queues=staff_queues, clock=dispatcher.clock
    )
    return app
