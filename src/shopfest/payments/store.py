"""Payment tables and their repositories: intents, the webhook events applied, the refunds paid, and
the Idempotency-Keys of the requests that move money."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Column,
    Connection,
    ForeignKey,
    Integer,
    Select,
    String,
    Table,
    UniqueConstraint,
    and_,
    delete,
    func,
    insert,
    select,
    tuple_,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from shopfest.core.db import Id, UtcDateTime, metadata
from shopfest.core.money import Money
from shopfest.payments.idempotency import KEPT_FOR, IdempotencyKey, KeptKey
from shopfest.payments.model import ORDER_PURPOSES, IntentStatus, PaymentIntent, Refund

payment_intents = Table(
    "payment_intents",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("order_id", Id, nullable=False, index=True),
    Column("purpose", String(16), nullable=False),
    Column("amount_minor", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("status", String(24), nullable=False),
    Column("provider", String(40), nullable=False),
    Column("provider_ref", String(120), nullable=True, unique=True),
    Column("method", String(40), nullable=True),
    Column("refunded_minor", BigInteger, nullable=False, default=0),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("paid_at", UtcDateTime, nullable=True),  # when it succeeded, for the shopper's timeline
    UniqueConstraint("order_id", "purpose"),
    # The last guard of the rule the model keeps: never refund more than was paid.
    CheckConstraint("amount_minor > 0 AND refunded_minor >= 0 AND refunded_minor <= amount_minor",
                    name="refund_within_payment"),
)

# One row per gateway event applied: the primary key makes applying a repeated event a no-op.
payment_events = Table(
    "payment_events",
    metadata,
    Column("event_id", String(80), primary_key=True),
    Column("intent_id", Id, ForeignKey("payment_intents.id"), nullable=False, index=True),
    Column("type", String(40), nullable=False),
    Column("received_at", UtcDateTime, nullable=False),
)

# One row per intent a refund touched; a refund spread over balance and deposit has two rows
# with the same refund_key, hence unique per (refund_key, intent).
payment_refunds = Table(
    "payment_refunds",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("intent_id", Id, ForeignKey("payment_intents.id"), nullable=False, index=True),
    Column("refund_key", String(120), nullable=False),
    Column("amount_minor", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("provider_ref", String(120), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    UniqueConstraint("refund_key", "intent_id"),
    CheckConstraint("amount_minor > 0", name="refund_above_zero"),
)

# Secrets kept with the database, by name. Only the demo keeps one here, its sandbox's webhook
# secret, so a demo started again on the same database still checks the webhooks signed before; a
# deployment gives `serve` SHOPFEST_WEBHOOK_SECRET instead.
payment_secrets = Table(
    "payment_secrets",
    metadata,
    Column("name", String(40), primary_key=True),
    Column("secret", String(200), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
)


idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("scope", String(80), primary_key=True),
    Column("key", String(255), primary_key=True),
    Column("fingerprint", String(64), nullable=False),
    Column("state", String(10), nullable=False),  # running | done
    Column("status_code", Integer, nullable=True),
    Column("response", JSON, nullable=True),
    Column("created_at", UtcDateTime, nullable=False, index=True),
)


class PaymentStore:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def _locked(self, query: Select[Any]) -> Select[Any]:
        # SQLite already holds the whole database's write lock (BEGIN IMMEDIATE).
        return query.with_for_update() if self.conn.dialect.name == "postgresql" else query

    def add(self, intent: PaymentIntent, *, now: datetime) -> PaymentIntent:
        new_id = self.conn.execute(insert(payment_intents).values(
            order_id=intent.order_id, purpose=intent.purpose, created_at=now, **_columns(intent, now),
        )).inserted_primary_key
        assert new_id is not None
        return replace(intent, id=new_id[0])

    def save(self, intent: PaymentIntent, *, now: datetime) -> None:
        self.conn.execute(update(payment_intents).where(payment_intents.c.id == intent.id)
                          .values(**_columns(intent, now)))

    def get(self, intent_id: int, *, lock: bool = False) -> PaymentIntent | None:
        query = select(payment_intents).where(payment_intents.c.id == intent_id)
        row = self.conn.execute(self._locked(query) if lock else query).one_or_none()
        return _intent(row) if row else None

    def for_purpose(self, order_id: int, purpose: str) -> PaymentIntent | None:
        row = self.conn.execute(select(payment_intents).where(
            payment_intents.c.order_id == order_id, payment_intents.c.purpose == purpose)).one_or_none()
        return _intent(row) if row else None

    def by_provider_ref(self, provider_ref: str, *, lock: bool = False) -> PaymentIntent | None:
        query = select(payment_intents).where(payment_intents.c.provider_ref == provider_ref)
        row = self.conn.execute(self._locked(query) if lock else query).one_or_none()
        return _intent(row) if row else None

    def of_order(self, order_id: int, *, lock: bool = False) -> list[PaymentIntent]:
        query = (select(payment_intents).where(payment_intents.c.order_id == order_id)
                 .order_by(payment_intents.c.id))
        return [_intent(r) for r in self.conn.execute(self._locked(query) if lock else query)]

    def kept_by_order(self, statuses: Sequence[str]) -> dict[int, Money]:
        """Per order, what its intents in `statuses` captured less what they refunded (an order's
        purposes only: an in-store payment is no order's)."""
        kept = func.sum(payment_intents.c.amount_minor - payment_intents.c.refunded_minor)
        rows = self.conn.execute(select(payment_intents.c.order_id, payment_intents.c.currency, kept)
                                 .where(payment_intents.c.status.in_(statuses),
                                        payment_intents.c.purpose.in_(ORDER_PURPOSES))
                                 .group_by(payment_intents.c.order_id, payment_intents.c.currency))
        return {r[0]: Money(int(r[2]), r[1]) for r in rows}

    def refunds_unlike_rows(self) -> list[tuple[int, int, int]]:
        """(intent, refunded on the intent, refunded in its refund rows) wherever the two differ."""
        paid_back = func.coalesce(func.sum(payment_refunds.c.amount_minor), 0)
        rows = self.conn.execute(
            select(payment_intents.c.id, payment_intents.c.refunded_minor, paid_back)
            .select_from(payment_intents.outerjoin(payment_refunds,
                                                   payment_refunds.c.intent_id == payment_intents.c.id))
            .group_by(payment_intents.c.id, payment_intents.c.refunded_minor)
            .having(payment_intents.c.refunded_minor != paid_back))
        return [(r[0], r[1], int(r[2])) for r in rows]

    def record_event(self, event_id: str, *, intent_id: int, event_type: str, at: datetime) -> bool:
        """Note a gateway event as applied; False if it was noted before."""
        dialect = postgresql if self.conn.dialect.name == "postgresql" else sqlite
        statement = dialect.insert(payment_events).values(
            event_id=event_id, intent_id=intent_id, type=event_type, received_at=at,
        ).on_conflict_do_nothing(index_elements=["event_id"]).returning(payment_events.c.event_id)
        # RETURNING, not rowcount: psycopg reports -1 rows for an INSERT here.
        return self.conn.execute(statement).first() is not None

    def refunds_by_key(self, refund_key: str) -> list[Refund]:
        rows = self.conn.execute(select(payment_refunds).where(payment_refunds.c.refund_key == refund_key)
                                 .order_by(payment_refunds.c.id))
        return [Refund(r.intent_id, r.refund_key, Money(r.amount_minor, r.currency), r.provider_ref)
                for r in rows]

    def add_refund(self, refund: Refund, *, now: datetime) -> None:
        self.conn.execute(insert(payment_refunds).values(
            intent_id=refund.intent_id, refund_key=refund.refund_key, amount_minor=refund.amount.minor,
            currency=refund.amount.currency, provider_ref=refund.refund_ref, created_at=now))

    def kept_secret(self, name: str, *, made: str, now: datetime) -> str:
        """The secret kept under `name`; `made` is kept first if there is none (the first writer wins)."""
        dialect = postgresql if self.conn.dialect.name == "postgresql" else sqlite
        self.conn.execute(dialect.insert(payment_secrets).values(name=name, secret=made, created_at=now)
                          .on_conflict_do_nothing(index_elements=["name"]))
        kept: str = self.conn.execute(select(payment_secrets.c.secret)
                                      .where(payment_secrets.c.name == name)).scalar_one()
        return kept


def _columns(intent: PaymentIntent, now: datetime) -> dict[str, Any]:
    return {"amount_minor": intent.amount.minor, "currency": intent.amount.currency,
            "status": intent.status.value, "provider": intent.provider,
            "provider_ref": intent.provider_ref, "method": intent.method,
            "refunded_minor": intent.refunded_minor, "updated_at": now,
            # An intent becomes succeeded once (refunds move it on), so this is when it was paid.
            **({"paid_at": now} if intent.status is IntentStatus.SUCCEEDED else {})}


def _intent(r: Any) -> PaymentIntent:
    return PaymentIntent(id=r.id, order_id=r.order_id, purpose=r.purpose,
                         amount=Money(r.amount_minor, r.currency), status=IntentStatus(r.status),
                         provider=r.provider, provider_ref=r.provider_ref,
                         refunded_minor=r.refunded_minor, method=r.method)


class KeyStore:
    """The Idempotency-Keys held and the answers given under them."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def kept(self, key: IdempotencyKey) -> KeptKey | None:
        r = self.conn.execute(select(idempotency_keys).where(_is(key.scope, key.key))).first()
        return None if r is None else KeptKey(r.fingerprint, r.state, r.status_code, r.response, r.created_at)

    def claim(self, keys: Sequence[IdempotencyKey], *, now: datetime,
              state: str = "running") -> set[tuple[str, str]]:
        """Insert the keys no one holds yet; the (scope, key) pairs this call got."""
        if not keys:
            return set()
        upsert = postgresql.insert if self.conn.dialect.name == "postgresql" else sqlite.insert
        got: set[tuple[str, str]] = set()
        rows = [{"scope": k.scope, "key": k.key, "fingerprint": k.fingerprint, "state": state,
                 "created_at": now} for k in keys]
        for start in range(0, len(rows), 1000):
            statement = (upsert(idempotency_keys).values(rows[start:start + 1000]).on_conflict_do_nothing()
                         .returning(idempotency_keys.c.scope, idempotency_keys.c.key))
            got.update((r.scope, r.key) for r in self.conn.execute(statement))
        return got

    def remember(self, answers: Sequence[tuple[IdempotencyKey, int, dict[str, Any]]]) -> None:
        """Store the answers given under these keys."""
        for key, status_code, response in answers:
            self.conn.execute(update(idempotency_keys).where(_is(key.scope, key.key)).values(
                state="done", status_code=status_code, response=response))

    def forget(self, key: IdempotencyKey) -> None:
        self.conn.execute(delete(idempotency_keys).where(_is(key.scope, key.key)))

    def forget_running_since(self, key: IdempotencyKey, before: datetime) -> bool:
        """Forget the key if it has been running since before `before`; whether it was."""
        return self.conn.execute(delete(idempotency_keys).where(
            _is(key.scope, key.key), idempotency_keys.c.state == "running",
            idempotency_keys.c.created_at < before)).rowcount > 0

    def purge(self, *, now: datetime, limit: int) -> int:
        """Drop up to `limit` keys older than the time they are kept for; how many went."""
        old = (select(idempotency_keys.c.scope, idempotency_keys.c.key)
               .where(idempotency_keys.c.created_at < now - KEPT_FOR).limit(limit))
        return self.conn.execute(delete(idempotency_keys).where(
            tuple_(idempotency_keys.c.scope, idempotency_keys.c.key).in_(old))).rowcount


def _is(scope: str, key: str) -> Any:
    return and_(idempotency_keys.c.scope == scope, idempotency_keys.c.key == key)


def paid_times(conn: Connection, order_id: int) -> dict[str, datetime]:
    """When each purpose (full, deposit, balance) of an order was paid, where it was."""
    rows = conn.execute(select(payment_intents.c.purpose, payment_intents.c.paid_at).where(
        payment_intents.c.order_id == order_id, payment_intents.c.paid_at.is_not(None)))
    return {r.purpose: r.paid_at for r in rows}


def refunds_of_order(conn: Connection, order_id: int) -> list[tuple[datetime, Money]]:
    """Each refund paid back on an order (its parts over several intents added up), oldest first."""
    paid_on = payment_refunds.join(payment_intents, payment_refunds.c.intent_id == payment_intents.c.id)
    rows = conn.execute(
        select(payment_refunds.c.refund_key, payment_refunds.c.currency,
               func.min(payment_refunds.c.created_at).label("at"),
               func.sum(payment_refunds.c.amount_minor).label("minor"))
        .select_from(paid_on)
        .where(payment_intents.c.order_id == order_id)
        .group_by(payment_refunds.c.refund_key, payment_refunds.c.currency)
        .order_by(func.min(payment_refunds.c.id)))
    return [(r.at, Money(int(r.minor), r.currency)) for r in rows]
