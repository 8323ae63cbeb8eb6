"""attempts in the store, not in retry headers; dead letters that cannot be replayed as stored

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "organism_attempts",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("task_id", sa.String(64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("action", sa.String(10), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
    )
    op.create_index("ix_organism_attempts_task_id", "organism_attempts", ["task_id"])
    with op.batch_alter_table("organism_dead_letters") as batch:
        batch.add_column(sa.Column("replayable", sa.Boolean(), nullable=False, server_default=sa.true()))


def downgrade() -> None:
    with op.batch_alter_table("organism_dead_letters") as batch:
        batch.drop_column("replayable")
    op.drop_index("ix_organism_attempts_task_id", "organism_attempts")
    op.drop_table("organism_attempts")
