"""the newest firing each workflow schedule has handled

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "organism_schedule_marks",
        sa.Column("workflow", sa.String(100), primary_key=True),
        sa.Column("schedule", sa.String(200), primary_key=True),
        sa.Column("fired_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("organism_schedule_marks")
