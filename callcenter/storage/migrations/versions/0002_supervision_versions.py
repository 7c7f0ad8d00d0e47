"""Verification draws (the stable periodic sample) and frozen supervision report versions.

A published report version is never changed or deleted: triggers on both
engines refuse UPDATE and DELETE of a row whose ``published_at`` is set.

Revision ID: 0002_supervision_versions
Revises: 0001
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import callcenter.storage.types

revision = "0002_supervision_versions"
down_revision = "0001"
branch_labels = None
depends_on = None

_UTC = callcenter.storage.types.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "verification_draws",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("label", sa.String(length=40), nullable=False),
        sa.Column("cadence", sa.String(length=8), nullable=False),
        sa.Column("period_start", _UTC, nullable=False),
        sa.Column("period_end", _UTC, nullable=False),
        sa.Column("drawn_at", _UTC, nullable=False),
        sa.Column("percentage", sa.String(length=12), nullable=False),
        sa.Column("minimum", sa.Integer(), nullable=False),
        sa.Column("departments", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_verification_draws")),
        sa.UniqueConstraint("label", name=op.f("uq_verification_draws_label")),
    )
    with op.batch_alter_table("verification_draws", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_verification_draws_period_start"), ["period_start"],
                              unique=False)
    op.create_table(
        "verification_sample_surveys",
        sa.Column("survey_id", sa.Integer(), nullable=False),
        sa.Column("draw_id", sa.Integer(), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["department_id"], ["departments.id"],
                                name=op.f("fk_verification_sample_surveys_department_id_departments")),
        sa.ForeignKeyConstraint(["draw_id"], ["verification_draws.id"],
                                name=op.f("fk_verification_sample_surveys_draw_id_verification_draws")),
        sa.ForeignKeyConstraint(["survey_id"], ["surveys.id"],
                                name=op.f("fk_verification_sample_surveys_survey_id_surveys")),
        sa.PrimaryKeyConstraint("survey_id", name=op.f("pk_verification_sample_surveys")),
    )
    with op.batch_alter_table("verification_sample_surveys", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_verification_sample_surveys_draw_id"), ["draw_id"],
                              unique=False)
    op.create_table(
        "report_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("period", sa.String(length=20), nullable=False),
        sa.Column("scope", sa.String(length=40), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("made_at", _UTC, nullable=False),
        sa.Column("made_by", sa.String(length=80), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("figures", sa.JSON(), nullable=False),
        sa.Column("surveys", sa.JSON(), nullable=False),
        sa.Column("diff", sa.JSON(), nullable=True),
        sa.Column("published_at", _UTC, nullable=True),
        sa.Column("published_by", sa.String(length=80), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_versions")),
        sa.UniqueConstraint("kind", "period", "scope", "version",
                            name=op.f("uq_report_versions_kind_period_scope_version")),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE OR REPLACE FUNCTION refuse_published_change() RETURNS trigger AS $$ BEGIN "
            "IF OLD.published_at IS NOT NULL THEN RAISE EXCEPTION "
            "'report version % is published: its figures are frozen', OLD.id; END IF; "
            "IF TG_OP = 'DELETE' THEN RETURN OLD; END IF; RETURN NEW; END $$ LANGUAGE plpgsql"
        )
        op.execute(
            "CREATE TRIGGER report_versions_frozen BEFORE UPDATE OR DELETE ON report_versions "
            "FOR EACH ROW EXECUTE FUNCTION refuse_published_change()"
        )
    else:
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER report_versions_frozen_{verb.lower()} BEFORE {verb} ON "
                "report_versions WHEN OLD.published_at IS NOT NULL BEGIN SELECT RAISE(ABORT, "
                "'report version is published: its figures are frozen'); END"
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS report_versions_frozen ON report_versions")
        op.execute("DROP FUNCTION IF EXISTS refuse_published_change()")
    else:
        for verb in ("update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS report_versions_frozen_{verb}")
    op.drop_table("report_versions")
    with op.batch_alter_table("verification_sample_surveys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_verification_sample_surveys_draw_id"))
    op.drop_table("verification_sample_surveys")
    with op.batch_alter_table("verification_draws", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_verification_draws_period_start"))
    op.drop_table("verification_draws")
