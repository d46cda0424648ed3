"""against scalpers and hoarders: verified accounts, flash sales that ask for them, unpaid units per shopper

One unpaid order could reserve a SKU's whole stock, and accounts opened a moment before a flash sale
each took a unit. Accounts now record when their email (through a mail in the sandbox's outbox) or
their phone (by an operator) was verified; a flash sale may sell to verified accounts only, and to
accounts of a minimum age. `unpaid_units` counts the units each shopper holds in orders not yet paid
in full, per SKU, with a CHECK that keeps them within the cap (SHOPFEST_MAX_UNPAID_UNITS) written with
them. It starts from the orders holding stock now; a shopper already past the default cap keeps what
they hold.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from alembic import op

import shopfest.core.db

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

HOLDING_STOCK = ('awaiting_payment', 'awaiting_deposit', 'deposit_paid', 'awaiting_balance')
DEFAULT_CAP = 5  # SHOPFEST_MAX_UNPAID_UNITS's default when this was written


def upgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('email_verified_at', shopfest.core.db.UtcDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('phone', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('phone_verified_at', shopfest.core.db.UtcDateTime(timezone=True), nullable=True))
    op.create_table(
        'mail_outbox',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True,
                  nullable=False),
        sa.Column('to_address', sa.String(length=254), nullable=False),
        sa.Column('subject', sa.String(length=200), nullable=False),
        sa.Column('body', sa.Text(), nullable=False),
        sa.Column('written_at', shopfest.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_mail_outbox_to_address', 'mail_outbox', ['to_address'], unique=False)
    with op.batch_alter_table('flash_sales', schema=None) as batch_op:
        batch_op.add_column(sa.Column('requires_verified', sa.Boolean(), nullable=False,
                                      server_default=sa.false()))
        batch_op.add_column(sa.Column('min_account_age_hours', sa.BigInteger(), nullable=False,
                                      server_default='0'))
    unpaid = op.create_table(
        'unpaid_units',
        sa.Column('shopper_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=False,
                  nullable=False),
        sa.Column('sku_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=False,
                  nullable=False),
        sa.Column('qty', sa.BigInteger(), nullable=False),
        sa.Column('most', sa.BigInteger(), nullable=False),
        sa.CheckConstraint('qty >= 0', name='unpaid_units_qty'),
        sa.CheckConstraint('qty <= most', name='unpaid_within_cap'),
        sa.PrimaryKeyConstraint('shopper_id', 'sku_id'),
    )
    held = _held_now()
    if held:
        op.bulk_insert(unpaid, [{'shopper_id': s, 'sku_id': k, 'qty': n, 'most': max(n, DEFAULT_CAP)}
                                for (s, k), n in sorted(held.items())])


def _held_now() -> dict[tuple[int, int], int]:
    """Units per (shopper, SKU) in the orders that hold stock today."""
    rows = op.get_bind().execute(sa.text(
        'SELECT o.shopper_id, m.lines FROM orders o JOIN merchant_orders m ON m.order_id = o.id '
        'WHERE o.status IN :statuses').bindparams(sa.bindparam('statuses', expanding=True)),
        {'statuses': list(HOLDING_STOCK)})
    held: dict[tuple[int, int], int] = {}
    for shopper_id, lines in rows:
        found: list[dict[str, Any]] = json.loads(lines) if isinstance(lines, str) else lines
        for line in found:
            key = (shopper_id, int(line['sku_id']))
            held[key] = held.get(key, 0) + int(line['qty'])
    return held


def downgrade() -> None:
    op.drop_table('unpaid_units')
    with op.batch_alter_table('flash_sales', schema=None) as batch_op:
        batch_op.drop_column('min_account_age_hours')
        batch_op.drop_column('requires_verified')
    op.drop_index('ix_mail_outbox_to_address', table_name='mail_outbox')
    op.drop_table('mail_outbox')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('phone_verified_at')
        batch_op.drop_column('phone')
        batch_op.drop_column('email_verified_at')
