"""Rule administration pages: edit a draft in forms, preview it on real history, publish, roll back, pilot.

Every page and post here is for admins (`require_role("admin")`); each action is
recorded in the rule audit trail by careroute.rule_admin. Forms carry the
session's CSRF token and are read with `read_form`.
"""

from __future__ import annotations

import contextlib
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from careroute.access import Principal
from careroute.calendar import WEEKDAYS
from careroute.classify import default_rules
from careroute.dispatcher import Dispatcher, NotFound
from careroute.model import CHANNELS, TAGS
from careroute.rule_admin import PREVIEW_DAYS, Refused, RuleAdmin
from careroute.rules import drafts
from careroute.rules.loader import LoadedPack, PackError
from careroute.sla import type_name
from careroute.web import data
from careroute.web.auth import require_role
from careroute.web.forms import Form, is_htmx, read_form
from careroute.web.templating import SECURITY_HEADERS, Pages

Admin = Annotated[Principal, Depends(require_role("admin"))]
#: The "edit as text" view posts the whole pack: a bigger body than the pages' other forms.
TEXT_FORM_BYTES = 512_000


async def read_text_form(request: Request) -> Form:
    request.state.max_form_bytes = TEXT_FORM_BYTES
    return await read_form(request)


TextForm = Annotated[Form, Depends(read_text_form)]
PostedForm = Annotated[Form, Depends(read_form)]


def _curated_phrases() -> dict[str, list[str]]:
    """The shipped lexicon's phrases per tag, shown beside the practice's own (a sample: some lists are long)."""
    out: dict[str, list[str]] = {}
    for rule in default_rules().keywords:
        out.setdefault(rule.tag, []).extend(rule.phrases)
    return out


def negation_examples(phrases: list[str]) -> list[str]:
    """How a negated mention reads, for the first phrases: such mentions are not counted (unless told to)."""
    out = []
    for phrase in phrases[:2]:
        out += [f"no {phrase}", f"without {phrase}"]
    return out


def refresh_pages(pages: Pages, pack: LoadedPack) -> None:
    """The names the page templates show, after a publish switched the pack."""
    env = pages.templates.env
    env.globals["queue_names"] = pack.queue_names
    env.globals["pack_name"] = pack.spec.pack.name
    pages.staff_names.clear()
    pages.staff_names.update({p.id: p.name for p in pack.spec.staff})


class FollowActiveVersion:
    """ASGI middleware: before a request, follow a publish made by another instance (a one-row read,
    at most every rule_admin.SYNC_EVERY seconds; a plain ASGI layer, so live streams pass untouched)."""

    def __init__(self, app: ASGIApp, admin: RuleAdmin) -> None:
        self.app = app
        self.admin = admin

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self.admin.sync_due():
            # An unreachable store fails this request on its own (or not); the check is tried again soon.
            with contextlib.suppress(Exception):
                await run_in_threadpool(self.admin.sync)
        await self.app(scope, receive, send)


def mount(app: FastAPI, dispatcher: Dispatcher, pages: Pages) -> RuleAdmin:
    """Add the rule administration pages; follow the store's active pack version from now on."""
    admin = RuleAdmin(dispatcher)
    admin.on_switch.append(lambda pack: refresh_pages(pages, pack))
    admin.adopt()
    app.state.rule_admin = admin

    app.add_middleware(FollowActiveVersion, admin=admin)
    app.include_router(router(dispatcher, pages, admin))
    return admin


def router(dispatcher: Dispatcher, pages: Pages, admin: RuleAdmin) -> APIRouter:
    r = APIRouter(include_in_schema=False)
    curated = _curated_phrases()

    def overview(request: Request, status: int = 200, error: str | None = None) -> HTMLResponse:
        now = dispatcher.clock()
        sb = data.scoreboard_data(dispatcher, now)
        arms = [row for row in sb.arms.rows if row.dimension in ("all", "pilot_arm")]
        live = dispatcher.pack
        return pages.render(
            request,
            "rules_admin.html",
            status,
            active="rules",
            live=live,
            from_file=admin.publish_count() == 0,
            file_source=admin.file_source,
            drafts=admin.drafts(),
            publishes=admin.publishes(),
            versions=admin.versions(),
            audit=admin.audit_trail(40),
            arms=arms,
            pilot=live.spec.pilot,
            error=error,
        )

    def editor(
        request: Request,
        draft_id: int,
        status: int = 200,
        problems: dict[str, list[drafts.Problem]] | None = None,
        posted: dict[str, Any] | None = None,
        message: str | None = None,
    ) -> HTMLResponse:
        draft = admin.draft(draft_id)
        pack_data = drafts.parse(draft.text)
        try:
            pack = admin.draft_pack(draft)
            version = pack.version
        except PackError:
            version = None
        return pages.render(
            request,
            "rules_draft.html",
            status,
            active="rules",
            draft=draft,
            version=version,
            live=dispatcher.pack,
            d=pack_data,
            tags=TAGS,
            channels=CHANNELS,
            credentials=drafts.CREDENTIALS,
            weekdays=WEEKDAYS,
            urgencies=drafts.URGENCIES,
            statuses=drafts.ESCALATION_STATUSES,
            actions=drafts.ACTIONS,
            curated=curated,
            keywords_of=lambda tag: drafts.keywords_of(pack_data, tag),
            negation_examples=negation_examples,
            shifts_text=drafts.shifts_text,
            after_text=drafts.after_text,
            type_name=type_name,
            problems=problems or {},
            posted=posted or {},
            message=message,
            preview=preview_context(draft_id, version),
            days=PREVIEW_DAYS,
        )

    def preview_context(draft_id: int, version: str | None) -> dict[str, Any]:
        row = admin.latest_preview(draft_id)
        job = admin.jobs.get(row.id) if row is not None else None
        summary = row.summary if row is not None and row.summary else {}
        shown_ids = [e["task_id"] for e in summary.get("examples", []) + summary.get("blocking", [])]
        current = (
            row is not None
            and row.status == "done"
            and row.draft_version == version
            and row.live_version == dispatcher.pack.version
        )
        return {
            "row": row,
            "job": job,
            "summary": summary,
            "excerpts": admin.excerpts(shown_ids) if row is not None and row.status == "done" else {},
            "current": current,
            "draft_id": draft_id,
        }

    def not_found(request: Request, what: str) -> HTMLResponse:
        return pages.render(request, "not_found.html", 404, what=what)

    @r.get("/rules/admin", response_class=HTMLResponse)
    def rules_admin(request: Request, who: Admin) -> Response:
        return overview(request)

    @r.post("/rules/drafts")
    def start_draft(request: Request, who: Admin, form: PostedForm) -> Response:
        draft_id = admin.start_draft(who)
        return RedirectResponse(f"/rules/drafts/{draft_id}", status_code=303)

    @r.get("/rules/drafts/{draft_id}", response_class=HTMLResponse)
    def draft_page(request: Request, draft_id: int, who: Admin) -> Response:
        try:
            return editor(request, draft_id)
        except NotFound:
            return not_found(request, f"draft {draft_id}")

    @r.post("/rules/drafts/{draft_id}/edit/{section}", response_class=HTMLResponse)
    def edit(request: Request, draft_id: int, section: str, who: Admin, form: PostedForm) -> Response:
        try:
            result = admin.edit(draft_id, section, form, who)
        except NotFound:
            return not_found(request, f"draft {draft_id}")
        except Refused as exc:
            return overview(request, 409, str(exc))
        key = f"{section}:{form.get('tag') or form.get('index') or form.get('role') or ''}"
        if not result.ok:
            return editor(request, draft_id, 422, problems={key: list(result.problems)}, posted={key: dict(form)})
        anchor = f"#{section}-{form.get('tag') or form.get('index') or form.get('role') or ''}".rstrip("-")
        return RedirectResponse(f"/rules/drafts/{draft_id}?saved={section}{anchor}", status_code=303)

    @r.get("/rules/drafts/{draft_id}/text", response_class=HTMLResponse)
    def text_page(request: Request, draft_id: int, who: Admin) -> Response:
        try:
            draft = admin.draft(draft_id)
        except NotFound:
            return not_found(request, f"draft {draft_id}")
        return pages.render(request, "rules_draft_text.html", active="rules", draft=draft, text=draft.text, problems=[])

    @r.post("/rules/drafts/{draft_id}/text", response_class=HTMLResponse)
    def save_text(request: Request, draft_id: int, who: Admin, form: TextForm) -> Response:
        text = form.get("text", "")
        try:
            problems = admin.edit_text(draft_id, text, who)
            draft = admin.draft(draft_id)
        except NotFound:
            return not_found(request, f"draft {draft_id}")
        except Refused as exc:
            return overview(request, 409, str(exc))
        if problems:
            return pages.render(
                request, "rules_draft_text.html", 422, active="rules", draft=draft, text=text, problems=problems
            )
        return RedirectResponse(f"/rules/drafts/{draft_id}?saved=text", status_code=303)

    @r.post("/rules/drafts/{draft_id}/discard")
    def discard(request: Request, draft_id: int, who: Admin, form: PostedForm) -> Response:
        try:
            admin.discard(draft_id, who)
        except (NotFound, Refused) as exc:
            return overview(request, 409, str(exc))
        return RedirectResponse("/rules/admin", status_code=303)

    def preview_fragment(request: Request, draft_id: int, status: int = 200, error: str | None = None) -> Response:
        draft = admin.draft(draft_id)
        try:
            version: str | None = admin.draft_pack(draft).version
        except PackError:
            version = None
        return pages.render(
            request,
            "_rules_preview.html",
            status,
            draft=draft,
            version=version,
            preview=preview_context(draft_id, version),
            days=PREVIEW_DAYS,
            error=error,
        )

    @r.post("/rules/drafts/{draft_id}/preview", response_class=HTMLResponse)
    def start_preview(request: Request, draft_id: int, who: Admin, form: PostedForm) -> Response:
        raw = form.text("days") or str(PREVIEW_DAYS)
        days = int(raw) if raw.isdigit() else PREVIEW_DAYS
        try:
            admin.start_preview(draft_id, who, days)
        except NotFound:
            return not_found(request, f"draft {draft_id}")
        except (Refused, PackError) as exc:
            message = str(exc) if isinstance(exc, Refused) else "The draft does not load: fix it before previewing."
            if is_htmx(request):
                return preview_fragment(request, draft_id, 409, message)
            return overview(request, 409, message)
        if is_htmx(request):
            return preview_fragment(request, draft_id)
        return RedirectResponse(f"/rules/drafts/{draft_id}#preview", status_code=303)

    @r.get("/rules/drafts/{draft_id}/preview", response_class=HTMLResponse)
    def preview_progress(request: Request, draft_id: int, who: Admin) -> Response:
        try:
            return preview_fragment(request, draft_id)
        except NotFound:
            return not_found(request, f"draft {draft_id}")

    @r.post("/rules/drafts/{draft_id}/publish", response_class=HTMLResponse)
    def publish(request: Request, draft_id: int, who: Admin, form: PostedForm) -> Response:
        try:
            done = admin.publish(draft_id, who, form.get("reason", ""), form.text("override_reason"))
        except NotFound:
            return not_found(request, f"draft {draft_id}")
        except (Refused, PackError) as exc:
            message = str(exc) if isinstance(exc, Refused) else "The draft does not load: fix it before publishing."
            if is_htmx(request):
                return preview_fragment(request, draft_id, 409, message)
            return editor(request, draft_id, 409, message=message)
        target = f"/rules/admin?published={done.version}"
        if is_htmx(request):
            return Response(status_code=204, headers={"HX-Redirect": target})
        return RedirectResponse(target, status_code=303)

    @r.post("/rules/versions/{version}/rollback", response_class=HTMLResponse)
    def rollback(request: Request, version: str, who: Admin, form: PostedForm) -> Response:
        try:
            admin.rollback(version, who, form.get("reason", ""))
        except NotFound:
            return not_found(request, f"version {version}")
        except (Refused, PackError) as exc:
            return overview(request, 409, str(exc) if isinstance(exc, Refused) else "That version no longer loads.")
        return RedirectResponse("/rules/admin?rolled_back=1", status_code=303)

    @r.post("/rules/pilot", response_class=HTMLResponse)
    def pilot(request: Request, who: Admin, form: PostedForm) -> Response:
        try:
            admin.set_pilot(form.get("fraction", ""), who, form.get("reason", ""))
        except (Refused, PackError) as exc:
            return overview(request, 422, str(exc) if isinstance(exc, Refused) else "The pilot change does not load.")
        return RedirectResponse("/rules/admin?pilot=1", status_code=303)

    @r.get("/rules/versions/{version}.yaml")
    def export(version: str, who: Admin) -> Response:
        try:
            text = admin.version_text(version)
        except NotFound:
            return PlainTextResponse("no such version", status_code=404)
        headers = {**SECURITY_HEADERS, "content-disposition": f'attachment; filename="rules-{version}.yaml"'}
        return PlainTextResponse(text, media_type="application/yaml; charset=utf-8", headers=headers)

    return r
