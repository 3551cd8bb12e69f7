"""Rule administration: drafts, previews on real history, publish, rollback and the pilot share.

The shell around careroute.rules.drafts (pure edits) and careroute.rules.preview
(pure comparison). Each action writes its rows and its audit record in one
transaction; publishing then switches the live dispatcher to the new pack.

Which version is live is what the store says: the latest `rule_publishes` row.
Every app instance follows it (``sync``, called at most every few seconds from
the pages' middleware), so a publish on one instance reaches the others on
PostgreSQL within seconds. At start-up the store's active version wins over the
CAREROUTE_RULES file, unless the file itself changed since the last publish
(then the file is published, as kind "file").
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, func, insert, select, update

from careroute.access import Principal
from careroute.dispatcher import Dispatcher, NotFound
from careroute.model import Classification
from careroute.rules import drafts as edits
from careroute.rules.explain import diff_packs
from careroute.rules.loader import LoadedPack, PackError, load_pack_text
from careroute.rules.preview import HistoryItem, preview
from careroute.store.repository import row_to_item
from careroute.store.tables import events, items, rule_audit, rule_drafts, rule_packs, rule_previews, rule_publishes

#: How often an instance asks the store which version is live (a one-row indexed read).
SYNC_EVERY = 2.0
#: Days of history a preview replays unless the admin asks for another period.
PREVIEW_DAYS = 7
_CHUNK = 2_000


class Refused(Exception):
    """An action the rules of publishing refuse; the message is a sentence for the page."""


@dataclass(frozen=True)
class Draft:
    id: int
    base_version: str
    text: str
    status: str
    author: str
    created_at: datetime
    updated_at: datetime
    published_version: str | None


@dataclass(frozen=True)
class PreviewRow:
    id: int
    draft_id: int
    draft_version: str
    live_version: str
    days: int
    status: str
    started_by: str
    started_at: datetime
    finished_at: datetime | None
    items: int | None
    blocking: int | None
    summary: dict[str, Any] | None


@dataclass(frozen=True)
class Publish:
    id: int
    version: str
    previous_version: str | None
    kind: str
    author: str
    at: datetime
    reason: str
    diff: list[str]
    draft_id: int | None
    preview_id: int | None
    override_by: str | None
    override_reason: str | None
    file_version: str | None


@dataclass
class Job:
    """A preview running in this process: what it is doing now, for the page's progress bar."""

    stage: str = "Reading the week's items"
    share: float = 0.0
    started: float = 0.0


#: The weight of each stage in the progress bar (classification dominates when both packs classify).
_STAGES = {
    "Reading the week's items": (0.0, 0.05),
    "Classifying with the live pack": (0.05, 0.3),
    "Reading the week with the draft": (0.35, 0.1),
    "Classifying with the draft": (0.45, 0.2),
    "Simulating the live pack's week": (0.65, 0.15),
    "Simulating the draft's week": (0.8, 0.15),
    "Comparing": (0.95, 0.05),
}


class RuleAdmin:
    """Drafts, previews and publishes for one dispatcher (one app instance)."""

    def __init__(self, dispatcher: Dispatcher) -> None:
        self.dispatcher = dispatcher
        self.store = dispatcher.store
        #: The pack this process was started with (the CAREROUTE_RULES file): what "file changed" compares to.
        self.file_version = dispatcher.pack.version
        self.file_source = dispatcher.pack.source
        self.on_switch: list[Callable[[LoadedPack], None]] = []
        self.jobs: dict[int, Job] = {}
        # One preview at a time per instance: a preview is CPU work, and the pages must stay responsive.
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="careroute-preview")
        self._lock = threading.Lock()
        self._checked_at = 0.0
        self._packs: dict[str, LoadedPack] = {dispatcher.pack.version: dispatcher.pack}
        self._texts: dict[str, LoadedPack] = {}

    # -- audit -------------------------------------------------------------------------------------

    def _audit(
        self,
        conn: Connection,
        actor: str,
        action: str,
        *,
        draft_id: int | None = None,
        version: str | None = None,
        **detail: Any,
    ) -> None:
        conn.execute(
            insert(rule_audit).values(
                at=self.dispatcher.clock(), actor=actor[:64], action=action, draft_id=draft_id, version=version,
                detail=detail,
            )
        )  # fmt: skip

    def audit_trail(self, limit: int = 100) -> list[Any]:
        with self.store.read() as conn:
            return list(conn.execute(select(rule_audit).order_by(rule_audit.c.id.desc()).limit(limit)))

    # -- the live pack -------------------------------------------------------------------------------

    @property
    def live(self) -> LoadedPack:
        return self.dispatcher.pack

    def _pack_of_version(self, conn: Connection, version: str) -> LoadedPack:
        if version in self._packs:
            return self._packs[version]
        row = conn.execute(select(rule_packs).where(rule_packs.c.version == version)).first()
        if row is None:
            raise NotFound(f"no rule pack version {version}")
        pack = load_pack_text(row.text, source=row.source)
        self._packs[pack.version] = pack
        return pack

    def _switch(self, pack: LoadedPack) -> None:
        self._packs[pack.version] = pack
        self.dispatcher.use_pack(pack)
        for listener in self.on_switch:
            listener(pack)

    def latest_publish(self, conn: Connection) -> Publish | None:
        row = conn.execute(select(rule_publishes).order_by(rule_publishes.c.id.desc()).limit(1)).first()
        return _publish(row) if row is not None else None

    def adopt(self) -> None:
        """At start-up: follow the store's active version, unless the rules file changed since it was published."""
        with self.store.read() as conn:
            last = self.latest_publish(conn)
        if last is None or last.version == self.live.version:
            return  # nothing published from the pages yet (or it is what runs): no write at start-up
        with self.store.write() as conn:
            if last.file_version == self.file_version:
                pack = self._pack_of_version(conn, last.version)
            else:
                pack = None
                # The file was edited after the last publish: the file is what IT means to run now.
                self._record_publish(
                    conn, self.live, last.version, "file", "CAREROUTE_RULES",
                    f"the rules file {self.file_source} changed since the last publish", [],
                )  # fmt: skip
        if pack is not None:
            self._switch(pack)

    def sync_due(self) -> bool:
        return time.monotonic() - self._checked_at >= SYNC_EVERY

    def sync(self, force: bool = False) -> bool:
        """Follow a publish made by another instance; True when the pack changed. Cheap: at most every SYNC_EVERY s."""
        now = time.monotonic()
        if not force and now - self._checked_at < SYNC_EVERY:
            return False
        self._checked_at = now
        with self.store.read() as conn:
            last = self.latest_publish(conn)
            if last is None or last.version == self.live.version:
                return False
            pack = self._pack_of_version(conn, last.version)
        with self._lock:
            if pack.version != self.live.version:
                self._switch(pack)
                return True
        return False

    # -- drafts --------------------------------------------------------------------------------------

    def drafts(self, status: str = "open") -> list[Draft]:
        query = select(rule_drafts).where(rule_drafts.c.status == status).order_by(rule_drafts.c.id.desc())
        with self.store.read() as conn:
            return [Draft(**r._mapping) for r in conn.execute(query)]

    def draft(self, draft_id: int) -> Draft:
        with self.store.read() as conn:
            row = conn.execute(select(rule_drafts).where(rule_drafts.c.id == draft_id)).first()
        if row is None:
            raise NotFound(f"no draft {draft_id}")
        return Draft(**row._mapping)

    def start_draft(self, who: Principal) -> int:
        """A new draft holding the live pack as it is."""
        now = self.dispatcher.clock()
        with self.store.write() as conn:
            draft_id = int(
                conn.execute(
                    insert(rule_drafts)
                    .values(
                        base_version=self.live.version, text=self.live.text, status="open", author=who.actor[:64],
                        created_at=now, updated_at=now,
                    )
                    .returning(rule_drafts.c.id)
                ).scalar_one()
            )  # fmt: skip
            self._audit(conn, who.actor, "draft", draft_id=draft_id, version=self.live.version)
        return draft_id

    def _open(self, draft_id: int) -> Draft:
        draft = self.draft(draft_id)
        if draft.status != "open":
            raise Refused(f"Draft {draft_id} is {draft.status}; start a new draft to change the rules again.")
        return draft

    def _save(self, conn: Connection, draft_id: int, text: str) -> None:
        conn.execute(
            update(rule_drafts)
            .where(rule_drafts.c.id == draft_id)
            .values(text=text, updated_at=self.dispatcher.clock())
        )

    def edit(self, draft_id: int, section: str, form: Mapping[str, str], who: Principal) -> edits.Edit:
        """One form's edit of a draft: saved (and audited) only when the pack it makes is valid."""
        draft = self._open(draft_id)
        result = edits.edit(edits.parse(draft.text), section, form)
        with self.store.write() as conn:
            self._audit(
                conn, who.actor, "edit", draft_id=draft_id, section=section, fields=list(result.changed),
                saved=result.ok, problems=[p.field for p in result.problems],
            )  # fmt: skip
            if result.ok and result.changed:
                self._save(conn, draft_id, edits.dump(result.data))
        return result

    def edit_text(self, draft_id: int, text: str, who: Principal) -> list[str]:
        """The "edit as text" view: the whole YAML, saved when it loads; problems name line and field."""
        self._open(draft_id)
        try:
            self._load_text(text, f"draft {draft_id}")
            problems: list[str] = []
        except PackError as exc:
            problems = exc.problems
        with self.store.write() as conn:
            self._audit(conn, who.actor, "edit", draft_id=draft_id, section="text", saved=not problems,
                        problems=len(problems))  # fmt: skip
            if not problems:
                self._save(conn, draft_id, text)
        return problems

    def discard(self, draft_id: int, who: Principal) -> None:
        self._open(draft_id)
        with self.store.write() as conn:
            conn.execute(update(rule_drafts).where(rule_drafts.c.id == draft_id).values(status="discarded"))
            self._audit(conn, who.actor, "discard", draft_id=draft_id)

    def draft_pack(self, draft: Draft) -> LoadedPack:
        return self._load_text(draft.text, f"draft {draft.id}")

    def _load_text(self, text: str, source: str) -> LoadedPack:
        """Load pack text, remembering the last few: compiling a pack's classifier takes about a second."""
        key = hashlib.sha256(f"{source}\x00{text}".encode()).hexdigest()
        pack = self._texts.get(key)
        if pack is None:
            pack = load_pack_text(text, source=source)
            with self._lock:
                self._texts[key] = pack
                while len(self._texts) > 8:
                    self._texts.pop(next(iter(self._texts)))
        return pack

    # -- previews ------------------------------------------------------------------------------------

    def history(self, since: datetime, until: datetime) -> list[HistoryItem]:
        """The items that opened tasks from `since` to `until` (inclusive), with what the event log says of each."""
        with self.store.read() as conn:
            created = conn.execute(
                select(events.c.task_id, events.c.data)
                .where(events.c.kind == "created", events.c.at >= since, events.c.at <= until)
                .order_by(events.c.id)
            ).all()
            item_ids = [int(r.data["item_id"]) for r in created if (r.data or {}).get("item_id") is not None]
            found: dict[int, Any] = {}
            for i in range(0, len(item_ids), _CHUNK):
                chunk = item_ids[i : i + _CHUNK]
                found.update({r.id: r for r in conn.execute(select(items).where(items.c.id.in_(chunk)))})
            recorded: dict[int, tuple[Classification, str | None]] = {}
            for cr in conn.execute(
                select(events.c.task_id, events.c.data, events.c.rule_ids, events.c.pack_version).where(
                    events.c.kind == "classified", events.c.at >= since, events.c.at <= until
                )
            ):
                d = cr.data or {}
                c = Classification(
                    d["type"], d["urgency"], float(d["confidence"]), tuple(cr.rule_ids or ()),
                    possible_danger=bool(d.get("possible_danger")),
                )  # fmt: skip
                recorded.setdefault(cr.task_id, (c, cr.pack_version))
            moved: dict[int, str] = {}
            for rr in conn.execute(
                select(events.c.task_id, events.c.queue, events.c.actor)
                .where(events.c.kind == "rerouted", events.c.at >= since)
                .order_by(events.c.id)
            ):
                if rr.actor != "careroute" and rr.queue:
                    moved[rr.task_id] = rr.queue
        out = []
        for r in created:
            row = found.get(int((r.data or {}).get("item_id") or 0))
            if row is None:
                continue
            known = recorded.get(r.task_id)
            item = row_to_item(row)
            if known is None:
                out.append(HistoryItem(r.task_id, item, staff_queue=moved.get(r.task_id)))
            else:
                out.append(HistoryItem(r.task_id, item, known[0], known[1], moved.get(r.task_id)))
        return out

    def start_preview(self, draft_id: int, who: Principal, days: int = PREVIEW_DAYS) -> int:
        """Start replaying the last `days` days through the draft and the live pack, in the background."""
        draft = self._open(draft_id)
        pack = self.draft_pack(draft)
        live = self.live
        now = self.dispatcher.clock()
        days = max(1, min(int(days), 31))
        with self.store.write() as conn:
            preview_id = int(
                conn.execute(
                    insert(rule_previews)
                    .values(
                        draft_id=draft_id, draft_version=pack.version, live_version=live.version, days=days,
                        status="running", started_by=who.actor[:64], started_at=now,
                    )
                    .returning(rule_previews.c.id)
                ).scalar_one()
            )  # fmt: skip
            self._audit(conn, who.actor, "preview", draft_id=draft_id, version=pack.version, preview_id=preview_id,
                        days=days, live_version=live.version)  # fmt: skip
        self.jobs[preview_id] = Job(started=time.monotonic())
        self._pool.submit(self._run_preview, preview_id, pack, live, now - timedelta(days=days), now)
        return preview_id

    def _run_preview(
        self, preview_id: int, pack: LoadedPack, live: LoadedPack, since: datetime, until: datetime
    ) -> None:
        job = self.jobs[preview_id]

        def progress(stage: str, share: float) -> None:
            start, width = _STAGES.get(stage, (job.share, 0.0))
            job.stage, job.share = stage, start + width * min(max(share, 0.0), 1.0)

        try:
            history = self.history(since, until)
            result = preview(history, live, pack, progress)
            result["since"], result["until"] = since.isoformat(), until.isoformat()
            values: dict[str, Any] = {
                "status": "done", "items": result["items"], "blocking": result["blocking_count"], "summary": result,
            }  # fmt: skip
        except Exception as exc:  # a failed preview is shown as failed; its cause is named, never item text
            values = {"status": "failed", "summary": {"error": type(exc).__name__}}
        values["finished_at"] = self.dispatcher.clock()
        with self.store.write() as conn:
            conn.execute(update(rule_previews).where(rule_previews.c.id == preview_id).values(**values))
        job.stage, job.share = ("Done", 1.0)
        self.jobs.pop(preview_id, None)

    def preview_row(self, preview_id: int) -> PreviewRow:
        with self.store.read() as conn:
            row = conn.execute(select(rule_previews).where(rule_previews.c.id == preview_id)).first()
        if row is None:
            raise NotFound(f"no preview {preview_id}")
        return PreviewRow(**row._mapping)

    def latest_preview(self, draft_id: int) -> PreviewRow | None:
        query = select(rule_previews).where(rule_previews.c.draft_id == draft_id).order_by(rule_previews.c.id.desc())
        with self.store.read() as conn:
            row = conn.execute(query.limit(1)).first()
        return PreviewRow(**row._mapping) if row is not None else None

    def excerpts(self, task_ids: Sequence[int]) -> dict[int, str]:
        """A short line of each example task's first item, for the admin reading the preview (never logged)."""
        if not task_ids:
            return {}
        query = select(items.c.task_id, items.c.subject, items.c.body).where(items.c.task_id.in_(list(task_ids)))
        out: dict[int, str] = {}
        with self.store.read() as conn:
            for r in conn.execute(query.order_by(items.c.id)):
                if r.task_id not in out:
                    text = " ".join(((r.subject or "") + " — " + (r.body or "")).split()).strip(" —")
                    out[r.task_id] = text[:90] + ("…" if len(text) > 90 else "")
        return out

    # -- publishing ----------------------------------------------------------------------------------

    def _record_publish(
        self,
        conn: Connection,
        pack: LoadedPack,
        previous: str | None,
        kind: str,
        author: str,
        reason: str,
        diff: list[str],
        **extra: Any,
    ) -> int:
        now = self.dispatcher.clock()
        self.store.record_pack(conn, pack.version, pack.spec.pack.name, pack.source, pack.text, now)
        publish_id = int(
            conn.execute(
                insert(rule_publishes)
                .values(
                    version=pack.version, previous_version=previous, kind=kind, author=author[:64], at=now,
                    reason=reason, diff=diff, file_version=self.file_version, **extra,
                )
                .returning(rule_publishes.c.id)
            ).scalar_one()
        )  # fmt: skip
        self._audit(conn, author, kind, version=pack.version, publish_id=publish_id, previous_version=previous,
                    draft_id=extra.get("draft_id"))  # fmt: skip
        return publish_id

    def publish(self, draft_id: int, who: Principal, reason: str, override_reason: str | None = None) -> Publish:
        """Make the draft the live pack. Needs a finished preview of this very draft against the live pack;
        items it would take out of a clinical queue block it unless a clinical admin overrides with a reason."""
        reason = reason.strip()
        if not reason:
            raise Refused("Say why you publish this change (it is kept with the version).")
        draft = self._open(draft_id)
        pack = self.draft_pack(draft)
        live = self.live
        if pack.version == live.version:
            raise Refused("The draft is the same as the live pack: there is nothing to publish.")
        shown = self.latest_preview(draft_id)
        if shown is None or shown.status != "done" or shown.draft_version != pack.version:
            raise Refused("Preview this version of the draft first: publishing needs a preview of what it changes.")
        if shown.live_version != live.version:
            raise Refused("The live pack changed since this preview: preview the draft again.")
        override = (override_reason or "").strip() or None
        if shown.blocking:
            if override is None:
                raise Refused(
                    f"{shown.blocking} emergent or urgent items would leave a clinical queue: a clinical admin must "
                    "override, with a reason, to publish this."
                )
            if not who.clinical:
                raise Refused("Only a clinical admin can override a preview that takes urgent items from clinicians.")
        diff = diff_packs(live, pack) + edits.describe_changes(live.spec, pack.spec)
        with self.store.write() as conn:
            if shown.blocking and override is not None:
                self._audit(conn, who.actor, "override", draft_id=draft_id, version=pack.version,
                            blocking=shown.blocking, preview_id=shown.id, reason=override)  # fmt: skip
            publish_id = self._record_publish(
                conn, pack, live.version, "publish", who.actor, reason, diff, draft_id=draft_id, preview_id=shown.id,
                override_by=who.actor if shown.blocking else None,
                override_reason=override if shown.blocking else None,
            )  # fmt: skip
            conn.execute(
                update(rule_drafts)
                .where(rule_drafts.c.id == draft_id)
                .values(status="published", published_version=pack.version, updated_at=self.dispatcher.clock())
            )
        with self._lock:
            self._switch(pack)
        return self.publish_row(publish_id)

    def rollback(self, version: str, who: Principal, reason: str = "") -> Publish:
        """Make an earlier version live again: itself a new publish, with its own record."""
        live = self.live
        if version == live.version:
            raise Refused("That version is already live.")
        with self.store.read() as conn:
            pack = self._pack_of_version(conn, version)
        diff = diff_packs(live, pack) + edits.describe_changes(live.spec, pack.spec)
        with self.store.write() as conn:
            publish_id = self._record_publish(
                conn, pack, live.version, "rollback", who.actor, reason.strip() or f"roll back to {version}", diff
            )
        with self._lock:
            self._switch(pack)
        return self.publish_row(publish_id)

    def set_pilot(self, percent: str, who: Principal, reason: str = "") -> Publish:
        """Change the pilot's automatic share of the live pack: published at once, as its own version."""
        result = edits.edit_pilot(edits.parse(self.live.text), {"fraction": percent})
        if result.problems:
            raise Refused("; ".join(str(p) for p in result.problems))
        if not result.changed:
            raise Refused("The pilot share is already that.")
        live = self.live
        pack = edits.load(result.data, source=f"{live.source} (pilot change)")
        if pack.version == live.version:
            raise Refused("The pilot share is already that.")
        diff = diff_packs(live, pack) + edits.describe_changes(live.spec, pack.spec)
        with self.store.write() as conn:
            publish_id = self._record_publish(
                conn, pack, live.version, "pilot", who.actor, reason.strip() or "; ".join(result.changed), diff
            )
        with self._lock:
            self._switch(pack)
        return self.publish_row(publish_id)

    def publish_row(self, publish_id: int) -> Publish:
        with self.store.read() as conn:
            row = conn.execute(select(rule_publishes).where(rule_publishes.c.id == publish_id)).first()
        if row is None:
            raise NotFound(f"no publish {publish_id}")
        return _publish(row)

    def publishes(self, limit: int = 50) -> list[Publish]:
        with self.store.read() as conn:
            rows = conn.execute(select(rule_publishes).order_by(rule_publishes.c.id.desc()).limit(limit))
            return [_publish(r) for r in rows]

    def versions(self) -> list[Any]:
        """Every version the store holds, newest first, with how many tasks each decided."""
        with self.store.read() as conn:
            return list(
                conn.execute(
                    select(
                        rule_packs.c.version, rule_packs.c.name, rule_packs.c.source, rule_packs.c.loaded_at
                    ).order_by(rule_packs.c.loaded_at.desc())
                )
            )

    def version_text(self, version: str) -> str:
        with self.store.read() as conn:
            text = conn.execute(select(rule_packs.c.text).where(rule_packs.c.version == version)).scalar()
        if text is None:
            raise NotFound(f"no rule pack version {version}")
        return str(text)

    def publish_count(self) -> int:
        with self.store.read() as conn:
            return int(conn.execute(select(func.count()).select_from(rule_publishes)).scalar_one())

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


def _publish(row: Any) -> Publish:
    m = dict(row._mapping)
    m["diff"] = list(m["diff"] or [])
    return Publish(**m)
