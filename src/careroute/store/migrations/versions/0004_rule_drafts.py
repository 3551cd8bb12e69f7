"""rule drafts: drafts, publishes (the active version), previews and the rule administration audit

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "rule_drafts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("base_version", sa.String(length=32), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("author", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("published_version", sa.String(length=32), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rule_drafts")),
    )
    op.create_table(
        "rule_publishes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("version", sa.String(length=32), nullable=False),
        sa.Column("previous_version", sa.String(length=32), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("author", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("diff", JSON, nullable=False),
        sa.Column("draft_id", sa.Integer(), nullable=True),
        sa.Column("preview_id", sa.Integer(), nullable=True),
        sa.Column("override_by", sa.String(length=64), nullable=True),
        sa.Column("override_reason", sa.Text(), nullable=True),
        sa.Column("file_version", sa.String(length=32), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rule_publishes")),
    )
    op.create_table(
        "rule_previews",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("draft_id", sa.Integer(), nullable=False),
        sa.Column("draft_version", sa.String(length=32), nullable=False),
        sa.Column("live_version", sa.String(length=32), nullable=False),
        sa.Column("days", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("started_by", sa.String(length=64), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("items", sa.Integer(), nullable=True),
        sa.Column("blocking", sa.Integer(), nullable=True),
        sa.Column("summary", JSON, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rule_previews")),
    )
    with op.batch_alter_table("rule_previews", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_rule_previews_draft_id_id"), ["draft_id", "id"], unique=False)
    op.create_table(
        "rule_audit",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("draft_id", sa.Integer(), nullable=True),
        sa.Column("version", sa.String(length=32), nullable=True),
        sa.Column("detail", JSON, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rule_audit")),
    )
    with op.batch_alter_table("rule_audit", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_rule_audit_at"), ["at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("rule_audit", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_rule_audit_at"))
    op.drop_table("rule_audit")
    with op.batch_alter_table("rule_previews", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_rule_previews_draft_id_id"))
    op.drop_table("rule_previews")
    op.drop_table("rule_publishes")
    op.drop_table("rule_drafts")
