"""gateway routes: an endpoint's last error, weighted routes' turn counters, the ledger's route, status and policy

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-08
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("gateway_endpoints") as batch:
        batch.add_column(sa.Column("last_error", sa.Text(), nullable=True))
        batch.add_column(sa.Column("last_error_at", sa.Float(), nullable=True))
    op.create_table(
        "gateway_routes",
        sa.Column("route", sa.String(100), primary_key=True),
        sa.Column("turns", sa.Integer(), nullable=False),
    )
    # A refused call has no endpoint and no model; rows from before routes answered on route "default".
    with op.batch_alter_table("gateway_ledger") as batch:
        batch.add_column(sa.Column("status", sa.String(10), nullable=False, server_default="answered"))
        batch.add_column(sa.Column("route", sa.String(100), nullable=True))
        batch.add_column(sa.Column("policy", sa.String(200), nullable=True))
        batch.alter_column("endpoint", existing_type=sa.String(300), nullable=True)
        batch.alter_column("model", existing_type=sa.String(200), nullable=True)
    op.execute("UPDATE gateway_ledger SET route = 'default'")


def downgrade() -> None:
    op.execute("DELETE FROM gateway_ledger WHERE status <> 'answered'")
    with op.batch_alter_table("gateway_ledger") as batch:
        batch.alter_column("model", existing_type=sa.String(200), nullable=False)
        batch.alter_column("endpoint", existing_type=sa.String(300), nullable=False)
        batch.drop_column("policy")
        batch.drop_column("route")
        batch.drop_column("status")
    op.drop_table("gateway_routes")
    with op.batch_alter_table("gateway_endpoints") as batch:
        batch.drop_column("last_error_at")
        batch.drop_column("last_error")
