"""Account tables and their repository."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Column, Connection, Row, String, Table, Text, delete, insert, select, update

from shopfest.accounts.model import Profile, Token, TokenKind, User
from shopfest.core.actor import Role
from shopfest.core.db import Id, UtcDateTime, metadata

users = Table(
    "users",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("email", String(254), nullable=False, unique=True),
    Column("password_hash", String(200), nullable=False),
    Column("role", String(20), nullable=False),
    # The merchant a staff member works for (catalog's id; no cross-context foreign key).
    Column("merchant_id", Id, index=True),
    Column("country", String(2), nullable=False),
    Column("language", String(5), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    # A flash sale may sell to verified accounts only: a verified email, or a phone an operator checked.
    Column("email_verified_at", UtcDateTime),
    Column("phone", String(16)),
    Column("phone_verified_at", UtcDateTime),
)

# The sandbox's mail: what ShopFest would send, kept for the demo, the tests and an operator to read
# (`shopfest mail outbox`, GET /api/v1/mail/outbox). A real deployment delivers from it.
mail_outbox = Table(
    "mail_outbox",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("to_address", String(254), nullable=False, index=True),
    Column("subject", String(200), nullable=False),
    Column("body", Text, nullable=False),
    Column("written_at", UtcDateTime, nullable=False),
)

tokens = Table(
    "tokens",
    metadata,
    Column("digest", String(64), primary_key=True),
    Column("user_id", Id, nullable=False, index=True),
    Column("kind", String(10), nullable=False),
    Column("expires_at", UtcDateTime, nullable=False, index=True),
)


def _user(row: Row[Any]) -> User:
    profile = Profile(row.country, row.language, row.currency)
    verified = row.email_verified_at is not None or row.phone_verified_at is not None
    return User(row.email, Role(row.role), profile, row.merchant_id, row.id, verified, row.created_at)


class AccountStore:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(self, user: User, *, password_hash: str, now: datetime) -> User:
        new_id = self.conn.execute(
            insert(users).values(
                email=user.email, password_hash=password_hash, role=user.role.value,
                merchant_id=user.merchant_id, country=user.profile.country,
                language=user.profile.language, currency=user.profile.currency, created_at=now,
            )
        ).inserted_primary_key[0]  # type: ignore[index]  # set by every INSERT
        return User(user.email, user.role, user.profile, user.merchant_id, new_id, False, now)

    def by_email(self, email: str) -> tuple[User, str] | None:
        row = self.conn.execute(select(users).where(users.c.email == email)).first()
        return (_user(row), row.password_hash) if row else None

    def by_id(self, user_id: int) -> User | None:
        row = self.conn.execute(select(users).where(users.c.id == user_id)).first()
        return _user(row) if row else None

    def add_token(self, token: Token) -> None:
        self.conn.execute(insert(tokens).values(
            digest=token.digest, user_id=token.user_id, kind=token.kind.value,
            expires_at=token.expires_at,
        ))

    def token(self, digest: str) -> Token | None:
        row = self.conn.execute(select(tokens).where(tokens.c.digest == digest)).first()
        return Token(row.digest, row.user_id, TokenKind(row.kind), row.expires_at) if row else None

    def drop_token(self, digest: str) -> None:
        self.conn.execute(delete(tokens).where(tokens.c.digest == digest))

    def verify_email(self, user_id: int, *, at: datetime) -> None:
        self.conn.execute(update(users).where(users.c.id == user_id, users.c.email_verified_at.is_(None))
                          .values(email_verified_at=at))

    def verify_phone(self, user_id: int, phone: str, *, at: datetime) -> None:
        self.conn.execute(update(users).where(users.c.id == user_id)
                          .values(phone=phone, phone_verified_at=at))

    def write_mail(self, *, to: str, subject: str, body: str, at: datetime) -> None:
        self.conn.execute(insert(mail_outbox).values(to_address=to, subject=subject, body=body,
                                                     written_at=at))

    def outbox(self, *, to: str | None, limit: int) -> list[dict[str, Any]]:
        """The newest mails first, to one address or to anyone."""
        query = select(mail_outbox).order_by(mail_outbox.c.id.desc()).limit(limit)
        if to is not None:
            query = query.where(mail_outbox.c.to_address == to)
        return [dict(r._mapping) for r in self.conn.execute(query)]

    # What the shopper's settings change: the profile, the password, and every token at once.

    def set_profile(self, user_id: int, profile: Profile) -> None:
        self.conn.execute(update(users).where(users.c.id == user_id).values(
            country=profile.country, language=profile.language, currency=profile.currency))

    def password_hash(self, user_id: int) -> str | None:
        found: str | None = self.conn.scalar(select(users.c.password_hash).where(users.c.id == user_id))
        return found

    def set_password_hash(self, user_id: int, password_hash: str) -> None:
        self.conn.execute(update(users).where(users.c.id == user_id).values(password_hash=password_hash))

    def drop_tokens(self, user_id: int, kinds: tuple[TokenKind, ...], *, keep: str | None = None) -> int:
        """Drop the account's tokens of these kinds, but the one whose digest is `keep`; how many went."""
        query = delete(tokens).where(tokens.c.user_id == user_id, tokens.c.kind.in_([k.value for k in kinds]))
        if keep is not None:
            query = query.where(tokens.c.digest != keep)
        return int(self.conn.execute(query).rowcount or 0)

    def mail_addresses(self, user_ids: list[int]) -> list[tuple[str, str]]:
        """(email, language) of the accounts among `user_ids`, in id order."""
        return [(r.email, r.language) for r in self.conn.execute(
            select(users.c.email, users.c.language).where(users.c.id.in_(user_ids)).order_by(users.c.id))]


def staff_of(conn: Connection, merchant_id: int, *, limit: int) -> list[User]:
    """A merchant's staff accounts, oldest first (the merchant id's index finds them)."""
    rows = conn.execute(select(users)
                        .where(users.c.merchant_id == merchant_id, users.c.role == Role.MERCHANT.value)
                        .order_by(users.c.id).limit(limit))
    return [_user(row) for row in rows]
