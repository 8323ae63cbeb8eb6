"""named operators, the audit trail, a node's first start, a replay's edited arguments

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "organism_operators",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("password_hash", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("failed_logins", sa.Integer, nullable=False, server_default="0"),
        sa.Column("last_failed_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_table(
        "organism_audit",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False, index=True),
        sa.Column("who", sa.String(64), nullable=False, index=True),
        sa.Column("source", sa.String(200), nullable=False),
        sa.Column("action", sa.String(50), nullable=False),
        sa.Column("target", sa.String(200), nullable=False),
        sa.Column("detail", sa.JSON, nullable=False),
        sa.Column("outcome", sa.Text, nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False, unique=True),
        sa.Column("signature", sa.String(128), nullable=False),
    )
    with op.batch_alter_table("organism_nodes") as batch:
        batch.add_column(sa.Column("first_started_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("organism_dead_letters") as batch:
        batch.add_column(sa.Column("replay_arguments", sa.JSON, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("organism_dead_letters") as batch:
        batch.drop_column("replay_arguments")
    with op.batch_alter_table("organism_nodes") as batch:
        batch.drop_column("first_started_at")
    op.drop_table("organism_audit")
    op.drop_table("organism_operators")
