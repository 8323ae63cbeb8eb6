"""what a node did without

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("organism_nodes") as batch:
        batch.add_column(sa.Column("degraded", sa.JSON()))


def downgrade() -> None:
    with op.batch_alter_table("organism_nodes") as batch:
        batch.drop_column("degraded")
