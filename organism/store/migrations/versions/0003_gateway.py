"""gateway: endpoint state, permits, waiters, token ledger

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)
EPOCH = sa.Float()  # coordination times: epoch seconds, the same arithmetic on SQLite and PostgreSQL


def upgrade() -> None:
    op.create_table(
        "gateway_endpoints",
        sa.Column("endpoint", sa.String(300), primary_key=True),
        sa.Column("breaker", sa.String(10), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("open_until", EPOCH),
        sa.Column("probe", sa.String(36)),
        sa.Column("probe_until", EPOCH),
        sa.Column("paused_until", EPOCH),
        sa.Column("window_start", EPOCH, nullable=False),
        sa.Column("window_requests", sa.Integer(), nullable=False),
        sa.Column("window_tokens", sa.Integer(), nullable=False),
        sa.Column("latency_s", sa.Float()),
    )
    op.create_table(
        "gateway_permits",
        sa.Column("endpoint", sa.String(300), primary_key=True),
        sa.Column("slot", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("holder", sa.String(36)),
        sa.Column("acquired_at", EPOCH),
        sa.Column("expires_at", EPOCH),
    )
    op.create_table(
        "gateway_waiters",
        sa.Column("endpoint", sa.String(300), primary_key=True),
        sa.Column("waiter", sa.String(64), primary_key=True),
        sa.Column("since", EPOCH, nullable=False),
        sa.Column("expires_at", EPOCH, nullable=False),
    )
    op.create_index("ix_gateway_waiters_endpoint_since", "gateway_waiters", ["endpoint", "since"])
    op.create_table(
        "gateway_ledger",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("task_id", sa.String(64), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("endpoint", sa.String(300), nullable=False),
        sa.Column("model", sa.String(200), nullable=False),
        sa.Column("skill", sa.String(200)),
        sa.Column("organ", sa.String(50)),
        sa.Column("run_id", sa.String(36)),
        sa.Column("prompt_tokens", sa.Integer(), nullable=False),
        sa.Column("completion_tokens", sa.Integer(), nullable=False),
        sa.Column("input_usd_per_mtok", sa.Float(), nullable=False),
        sa.Column("output_usd_per_mtok", sa.Float(), nullable=False),
        sa.Column("cost_usd", sa.Float(), nullable=False),
        sa.Column("latency_s", sa.Float(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("reply", sa.Text(), nullable=False),
        sa.UniqueConstraint("task_id", "attempt", "seq", name="uq_gateway_ledger_call"),
    )
    for column in ("model", "skill", "run_id", "created_at"):
        op.create_index(f"ix_gateway_ledger_{column}", "gateway_ledger", [column])


def downgrade() -> None:
    for column in ("model", "skill", "run_id", "created_at"):
        op.drop_index(f"ix_gateway_ledger_{column}", "gateway_ledger")
    op.drop_table("gateway_ledger")
    op.drop_index("ix_gateway_waiters_endpoint_since", "gateway_waiters")
    op.drop_table("gateway_waiters")
    op.drop_table("gateway_permits")
    op.drop_table("gateway_endpoints")
