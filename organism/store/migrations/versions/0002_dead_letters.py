"""dead letters and delivery counts

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "organism_dead_letters",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("task_id", sa.String(64), nullable=False, unique=True),
        sa.Column("task_name", sa.String(200), nullable=False),
        sa.Column("organ", sa.String(50)),
        sa.Column("run_id", sa.String(36)),
        sa.Column("node", sa.String(100)),
        sa.Column("args", sa.JSON(), nullable=False),
        sa.Column("kwargs", sa.JSON(), nullable=False),
        sa.Column("reason", sa.String(30), nullable=False),
        sa.Column("error_type", sa.String(200), nullable=False),
        sa.Column("error_message", sa.Text(), nullable=False),
        sa.Column("traceback", sa.Text()),
        sa.Column("attempts", sa.JSON(), nullable=False),
        sa.Column("delivery_count", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("replayed_at", TS),
        sa.Column("replayed_as", sa.String(64)),
        sa.Column("replay_of", sa.Integer(), sa.ForeignKey("organism_dead_letters.id")),
    )
    for column in ("task_name", "run_id", "status", "created_at"):
        op.create_index(f"ix_organism_dead_letters_{column}", "organism_dead_letters", [column])
    op.create_table(
        "organism_deliveries",
        sa.Column("task_id", sa.String(64), primary_key=True),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("updated_at", TS, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("organism_deliveries")
    for column in ("task_name", "run_id", "status", "created_at"):
        op.drop_index(f"ix_organism_dead_letters_{column}", "organism_dead_letters")
    op.drop_table("organism_dead_letters")
