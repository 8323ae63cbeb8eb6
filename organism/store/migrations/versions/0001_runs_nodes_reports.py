"""runs, nodes and reports

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "organism_runs",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("key", sa.String(200), nullable=False, unique=True),
        sa.Column("workflow", sa.String(100), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("finished_at", TS),
        sa.Column("deadline_at", TS),
        sa.Column("error", sa.Text()),
    )
    op.create_table(
        "organism_nodes",
        sa.Column("task_id", sa.String(36), primary_key=True),
        sa.Column("run_id", sa.String(36), sa.ForeignKey("organism_runs.id", ondelete="CASCADE"), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("phase", sa.Integer(), nullable=False),
        sa.Column("phase_name", sa.String(50), nullable=False),
        sa.Column("skill", sa.String(200), nullable=False),
        sa.Column("organ", sa.String(50), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("started_at", TS),
        sa.Column("finished_at", TS),
        sa.Column("error", sa.Text()),
        sa.Column("result", sa.JSON()),
        sa.UniqueConstraint("run_id", "name"),
    )
    op.create_index("ix_organism_nodes_run_id", "organism_nodes", ["run_id"])
    op.create_table(
        "organism_reports",
        sa.Column("run_id", sa.String(36), sa.ForeignKey("organism_runs.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("organism_reports")
    op.drop_index("ix_organism_nodes_run_id", "organism_nodes")
    op.drop_table("organism_nodes")
    op.drop_table("organism_runs")
