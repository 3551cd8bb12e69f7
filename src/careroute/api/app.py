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
) -> FastAPI:
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
    store = dispatcher.store

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
    ) -> dict[str, Any]:
        """Tasks in the order they were created, filtered; pass `next_cursor` back for the next page."""
        after = decode_cursor(cursor) if cursor else None
        flt = TaskFilter(queue=queue, status=status, type=type, urgency=urgency, assignee=assignee)
        with store.read() as conn:
            page, last = store.list_tasks(conn, flt, after_id=after, limit=limit)
        return {"tasks": [task_json(t) for t in page], "next_cursor": encode_cursor(last) if last else None}

    def reader(request: Request) -> str:
        # Until sign-in lands (the security issue), callers name themselves; unnamed reads are still recorded.
        return request.headers.get("x-careroute-user", "anonymous")[:64]

    @app.get("/v1/tasks/{task_id}", tags=["tasks"])
    def get_task(task_id: TaskId, request: Request) -> dict[str, Any]:
        """The task, its due times, the items merged into it as received, and its full event timeline.

        Every read is recorded in the access log (who, when, which task, from where)."""
        task, rows, events = dispatcher.task_with_timeline(task_id)
        store.record_access(
            reader(request), "read_task", dispatcher.clock(), task_id=task_id,
            source=request.client.host if request.client else None,
        )  # fmt: skip
        return {
            **task_json(task),
            "due": due_json(dispatcher.due_times(task), dispatcher.clock()),
            "items": [item_json(r) for r in rows],
            "events": [event_json(e) for e in events],
        }

    @app.post("/v1/tasks/{task_id}/hold", tags=["commands"])
    def hold(task_id: TaskId, body: HoldBody) -> dict[str, Any]:
        """Put the task on hold (waiting on the patient, the payer, a result): business-hours clocks pause."""
        return task_json(dispatcher.hold(task_id, body.reason, body.actor))

    @app.post("/v1/tasks/{task_id}/release", tags=["commands"])
    def release(task_id: TaskId, body: Command) -> dict[str, Any]:
        """Take the task off hold: its business-hours clocks resume."""
        return task_json(dispatcher.release(task_id, body.actor))

    @app.post("/v1/tasks/{task_id}/acknowledge", tags=["commands"])
    def acknowledge(task_id: TaskId, body: ResolveBody) -> dict[str, Any]:
        """Record that a clinician was told (a critical result or a page); stops the page going further."""
        return task_json(dispatcher.acknowledge(task_id, body.actor, body.reason))

    @app.get("/v1/notifications", tags=["alerts"])
    def list_notifications(
        task_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None, status: str | None = None
    ) -> dict[str, Any]:
        """The alert outbox: pending, sent and dead-letter notifications (no message content in them)."""
        with store.read() as conn:
            rows = store.list_notifications(conn, task_id)
        return {"notifications": [notification_json(r) for r in rows if status is None or r.status == status]}

    @app.post("/v1/tasks/{task_id}/claim", tags=["commands"])
    def claim(task_id: TaskId, body: Command) -> dict[str, Any]:
        return task_json(dispatcher.claim(task_id, body.actor))

    @app.post("/v1/tasks/{task_id}/resolve", tags=["commands"])
    def resolve(task_id: TaskId, body: ResolveBody) -> dict[str, Any]:
        return task_json(dispatcher.resolve(task_id, body.actor, body.reason))

    @app.post("/v1/tasks/{task_id}/reroute", tags=["commands"])
    def reroute(task_id: TaskId, body: RerouteBody) -> dict[str, Any]:
        return task_json(dispatcher.reroute(task_id, body.to_queue, body.reason, body.actor, body.reason_code))

    @app.post("/v1/tasks/{task_id}/reopen", tags=["commands"])
    def reopen(task_id: TaskId, body: ReopenBody) -> dict[str, Any]:
        return task_json(dispatcher.reopen(task_id, body.actor, body.reason))

    @app.post("/v1/items/{item_id}/unmerge", tags=["commands"])
    def unmerge(item_id: ItemId, body: UnmergeBody) -> dict[str, Any]:
        """Undo a wrong merge: the item becomes its own task again (classified and routed afresh)."""
        return task_json(dispatcher.unmerge(item_id, body.reason, body.actor))

    @app.post("/v1/tasks/{task_id}/assign", tags=["commands"])
    def assign(task_id: TaskId, body: AssignBody) -> dict[str, Any]:
        return task_json(dispatcher.assign(task_id, body.staff, body.actor))

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
    def presence(staff_id: str, body: PresenceBody) -> dict[str, Any]:
        """Set live presence. Going away or off shift returns this person's unclaimed tasks to their queues."""
        returned, pushed = dispatcher.set_presence(staff_id, body.presence)
        return {
            "staff": staff_id,
            "presence": body.presence,
            "returned": returned,
            "assigned": [{"task_id": a.task_id, "staff": a.staff_id} for a in pushed],
        }

    @app.post("/v1/staff/{staff_id}/next", tags=["staff"])
    def next_task(staff_id: str) -> dict[str, Any]:
        """Pull: claim the best waiting task this person may take and has room for."""
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

    @app.get("/healthz", tags=["health"])
    def health() -> dict[str, Any]:
        with store.read() as conn:
            conn.exec_driver_sql("SELECT 1")
        return {"status": "ok", "database": store.dialect, "pack_version": dispatcher.pack.version}

    mount_integrations(app, dispatcher, sources if sources is not None else Sources(None))
    from careroute.web import mount_web  # the pages staff work in, served by careroute itself

    mount_web(app, dispatcher)
    app.add_middleware(BodyLimit, max_bytes=max_body_bytes)
    return app
