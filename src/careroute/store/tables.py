"""The store's tables (SQLAlchemy Core). Alembic migrations must match these.

`events` is the truth: an append-only log of every change to a task. `tasks`
is a projection of it, written in the same transaction. `items` keeps each
inbound item as received (PHI: bodies and patient fields live only here).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out, on SQLite (which keeps no offset) and PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; pass an aware one")
        value = value.astimezone(UTC)
        # SQLite stores text: keep it naive UTC so that comparisons sort correctly.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


JSONType: Any = JSON().with_variant(JSONB(), "postgresql")

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

tasks = Table(
    "tasks",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("status", String(16), nullable=False),
    Column("type", String(32), nullable=False),
    Column("urgency", String(16), nullable=False),
    #: 0 emergent, 1 urgent, 2 routine: the first key of the order waiting tasks are pushed in.
    Column("urgency_rank", Integer, nullable=False),
    Column("queue", String(64), nullable=False),
    Column("assignee", String(64), nullable=True),
    Column("effort", Integer, nullable=False, default=1),
    Column("skills", JSONType, nullable=False),
    Column("pilot_arm", String(16), nullable=True),
    Column("confidence", Float, nullable=False),
    Column("channel", String(16), nullable=False),
    Column("external_id", String(200), nullable=False),
    Column("route_rule", String(64), nullable=False),
    Column("pack_version", String(32), nullable=False),
    Column("item_count", Integer, nullable=False, default=1),
    Column("follows_task_id", Integer, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    #: When the task should be claimed by (its claim SLA); orders tasks of the same urgency.
    Column("due_at", UTCDateTime, nullable=False),
    Column("assigned_at", UTCDateTime, nullable=True),
    Column("first_claimed_at", UTCDateTime, nullable=True),
    Column("resolved_at", UTCDateTime, nullable=True),
    #: When a clinician recorded being told (critical results, pages).
    Column("acknowledged_at", UTCDateTime, nullable=True),
    Column("on_hold", Boolean, nullable=False, default=False),
    #: The persisted escalation timer: the earliest moment a rule could fire. The scheduler reads only
    #: tasks whose timer has come, through its index, so a pass costs O(due), not O(open tasks).
    Column("next_escalation_at", UTCDateTime, nullable=True),
    # The push order: waiting tasks of a queue by urgency, deadline, age.
    Index(None, "queue", "status", "urgency_rank", "due_at", "created_at", "id"),
    Index(None, "status", "created_at"),
    Index(None, "assignee", "status"),
    Index(None, "next_escalation_at"),
    # The work people hold right now, a small slice of all tasks: a person's load is read from this
    # partial index whatever the planner's statistics say about the whole table.
    Index(
        "ix_tasks_held",
        "assignee",
        "queue",
        "effort",
        sqlite_where=text("status IN ('assigned', 'claimed')"),
        postgresql_where=text("status IN ('assigned', 'claimed')"),
    ),
)

items = Table(
    "items",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("task_id", Integer, ForeignKey("tasks.id"), nullable=False),
    Column("channel", String(16), nullable=False),
    Column("external_id", String(200), nullable=False),
    Column("received_at", UTCDateTime, nullable=False),
    Column("received_offset_min", Integer, nullable=False, default=0),
    Column("patient", JSONType, nullable=False),
    Column("subject", Text, nullable=True),
    Column("body", Text, nullable=False),
    Column("item_metadata", JSONType, nullable=False),
    Column("type", String(32), nullable=False),
    Column("urgency", String(16), nullable=False),
    Column("confidence", Float, nullable=False),
    Column("reasons", JSONType, nullable=False),
    Column("rule_ids", JSONType, nullable=False),
    #: external_id of the earliest item of the same request (taxonomy: duplicate_of), and when it arrived.
    Column("duplicate_of", String(200), nullable=True),
    Column("root_received_at", UTCDateTime, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    UniqueConstraint("channel", "external_id"),
    Index(None, "task_id"),
)

events = Table(
    "events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("task_id", Integer, ForeignKey("tasks.id"), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("actor", String(64), nullable=False),
    Column("queue", String(64), nullable=True),
    Column("assignee", String(64), nullable=True),
    Column("rule_ids", JSONType, nullable=False),
    Column("reason", Text, nullable=True),
    Column("data", JSONType, nullable=False),
    Column("pack_version", String(32), nullable=True),
    #: The tamper-evident chain (careroute.audit): this event's hash and the one before it.
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    Index(None, "task_id", "id"),
    Index(None, "kind", "at"),
)

#: Identity keys of each item's patient (MRN, phone, name and date of birth), so that
#: duplicate detection fetches its candidates by key instead of scanning tasks.
patient_keys = Table(
    "patient_keys",
    metadata,
    Column("key", String(200), nullable=False),
    Column("item_id", Integer, ForeignKey("items.id"), nullable=False),
    Column("received_at", UTCDateTime, nullable=False),
    Index(None, "key", "received_at"),
)

#: The outbox of alerts: written in the transaction that escalated, delivered after commit by the
#: scheduler with retry and backoff; a final failure stays here as a dead letter.
notifications = Table(
    "notifications",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("task_id", Integer, ForeignKey("tasks.id"), nullable=False),
    Column("rule_id", String(64), nullable=False),
    Column("kind", String(16), nullable=False),  # email | webhook
    Column("target", String(500), nullable=False),
    Column("subject", String(500), nullable=False),
    Column("body", Text, nullable=False),  # a task link, type and urgency: never the message
    Column("status", String(16), nullable=False),  # pending | sent | dead
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", UTCDateTime, nullable=False),
    Column("last_error", String(500), nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("sent_at", UTCDateTime, nullable=True),
    Index(None, "status", "next_attempt_at"),
)

#: One compact row per task, folded from its events in the same transaction as each event
#: (careroute.metrics.step): the weekly scoreboard reads these, never the whole event log.
task_facts = Table(
    "task_facts",
    metadata,
    Column("task_id", Integer, ForeignKey("tasks.id"), primary_key=True, autoincrement=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("channel", String(16), nullable=False),
    Column("type", String(32), nullable=False),
    Column("urgency", String(16), nullable=False),
    Column("initial_queue", String(64), nullable=False),
    Column("final_queue", String(64), nullable=False),
    Column("route_rule", String(64), nullable=False),
    Column("pilot_arm", String(16), nullable=True),
    Column("item_id", Integer, nullable=True),
    Column("follows_task_id", Integer, nullable=True),
    Column("first_claim_at", UTCDateTime, nullable=True),
    Column("first_resolved_at", UTCDateTime, nullable=True),
    Column("last_resolved_at", UTCDateTime, nullable=True),
    Column("reroutes", Integer, nullable=False),
    Column("careroute_reroutes", Integer, nullable=False),
    Column("manually_dispatched", Boolean, nullable=False),
    Column("reopens", Integer, nullable=False),
    Column("follow_up_after_seconds", Float, nullable=True),
    Column("escalations", Integer, nullable=False),
    #: Microseconds from creation to the claim or resolution that took the task up (None: still waiting),
    #: written with the row so that the scoreboard's SQL counts and sorts ages without reading times.
    Column("queue_age_us", BigInteger, nullable=True),
    Index(None, "created_at"),
    Index(None, "route_rule", "created_at"),
)

#: Who read what: every read of a task's content (API or page) and every export. Kept apart from the
#: task events so that reading never changes a task, and so "who viewed this patient's messages" is
#: one indexed query (join to items by task).
access_log = Table(
    "access_log",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", UTCDateTime, nullable=False),
    Column("actor", String(64), nullable=False),
    Column("action", String(32), nullable=False),  # read_task | export
    Column("task_id", Integer, nullable=True),
    Column("what", String(200), nullable=True),  # the export or page, never content
    Column("source", String(64), nullable=True),  # client address
    Index(None, "task_id", "at"),
    Index(None, "actor", "at"),
)

rule_packs = Table(
    "rule_packs",
    metadata,
    Column("version", String(32), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("source", String(500), nullable=False),
    Column("text", Text, nullable=False),
    Column("loaded_at", UTCDateTime, nullable=False),
)

staff = Table(
    "staff",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("credential", String(16), nullable=False),
    Column("queues", JSONType, nullable=False),
    Column("skills", JSONType, nullable=False),
    Column("capacity", Integer, nullable=False),
    Column("queue_capacity", JSONType, nullable=False),
    Column("presence", String(16), nullable=False, default="available"),
    Column("idle_since", UTCDateTime, nullable=True),
    Column("active", Boolean, nullable=False, default=True),
    Column("updated_at", UTCDateTime, nullable=False),
)

#: People who sign in to the pages. A user may be a staff member of the rule pack (`staff_id`), whose
#: queues then bound what they see; `queues` widens or narrows that for supervisors. Passwords are
#: argon2 hashes; repeated failures lock the account until `locked_until`.
users = Table(
    "users",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("role", String(16), nullable=False),  # staff | supervisor | admin | auditor
    Column("staff_id", String(64), nullable=True),
    Column("queues", JSONType, nullable=True),  # None: the staff member's queues (staff) or all (others)
    Column("clinical", Boolean, nullable=False, default=False),
    Column("password_hash", String(200), nullable=False),
    Column("failed_signins", Integer, nullable=False, default=0),
    Column("locked_until", UTCDateTime, nullable=True),
    Column("active", Boolean, nullable=False, default=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

#: Tokens for systems (the EHR, the phone system, a reporting job). Only a SHA-256 of the secret is
#: kept: the token is shown once, when created. `id` is the token's public prefix, safe to log.
api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", String(16), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("scopes", JSONType, nullable=False),  # ["intake"], ["read"], ...
    Column("secret_hash", String(64), nullable=False),
    Column("created_by", String(64), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("revoked_at", UTCDateTime, nullable=True),
    Column("last_used_at", UTCDateTime, nullable=True),
)

#: Signed-in browser sessions. The cookie carries a random id; only its SHA-256 is stored, beside the
#: session's CSRF token, so a copy of the database cannot be replayed as a session.
sessions = Table(
    "sessions",
    metadata,
    Column("id_hash", String(64), primary_key=True),
    Column("user_id", String(64), ForeignKey("users.id"), nullable=False),
    Column("csrf", String(64), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("source", String(64), nullable=True),
    Index(None, "user_id"),
)

#: Rule-pack drafts an administrator edits in the pages before publishing; `text` is the pack's YAML.
rule_drafts = Table(
    "rule_drafts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("base_version", String(32), nullable=False),
    Column("text", Text, nullable=False),
    Column("status", String(16), nullable=False),  # open | published | discarded
    Column("author", String(64), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("published_version", String(32), nullable=True),
)

#: Every publish, rollback and pilot change, newest last: the latest row names the active pack version,
#: which every app instance follows. `file_version` is the CAREROUTE_RULES file's version at the time,
#: so a start-up can tell a file edited since the last publish from one left as it was.
rule_publishes = Table(
    "rule_publishes",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("version", String(32), nullable=False),
    Column("previous_version", String(32), nullable=True),
    Column("kind", String(16), nullable=False),  # publish | rollback | pilot | file
    Column("author", String(64), nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("reason", Text, nullable=False),
    Column("diff", JSONType, nullable=False),
    Column("draft_id", Integer, nullable=True),
    Column("preview_id", Integer, nullable=True),
    Column("override_by", String(64), nullable=True),
    Column("override_reason", Text, nullable=True),
    Column("file_version", String(32), nullable=True),
)

#: Previews of a draft against the live pack on replayed history: counts and task ids, never message text.
rule_previews = Table(
    "rule_previews",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("draft_id", Integer, nullable=False),
    Column("draft_version", String(32), nullable=False),
    Column("live_version", String(32), nullable=False),
    Column("days", Integer, nullable=False),
    Column("status", String(16), nullable=False),  # running | done | failed
    Column("started_by", String(64), nullable=False),
    Column("started_at", UTCDateTime, nullable=False),
    Column("finished_at", UTCDateTime, nullable=True),
    Column("items", Integer, nullable=True),
    Column("blocking", Integer, nullable=True),
    Column("summary", JSONType, nullable=True),
    Index(None, "draft_id", "id"),
)

#: The rule administration audit trail: every edit, preview, publish, override and rollback.
rule_audit = Table(
    "rule_audit",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", UTCDateTime, nullable=False),
    Column("actor", String(64), nullable=False),
    Column("action", String(32), nullable=False),
    Column("draft_id", Integer, nullable=True),
    Column("version", String(32), nullable=True),
    Column("detail", JSONType, nullable=False),
    Index(None, "at"),
)
