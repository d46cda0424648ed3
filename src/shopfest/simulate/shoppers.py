"""The simulated shoppers, prepared in the server's database before the run: `sim-0001@shopfest.sim`
and on, verified, signed in, each with a delivery address; and the flash sales the rush goes for.

They are written through the accounts and orders services on SHOPFEST_DATABASE_URL (the machine
owner's path, as `shopfest users create`), not signed up over HTTP: a sign-up waits for its email to
be verified and is rate-limited by address, and each sign-in costs the server an argon2 hash. The
night's traffic is what the simulator measures, not the shoppers' first visit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy.exc import SQLAlchemyError

from shopfest.core.clock import SetClock
from shopfest.core.errors import InvalidInput
from shopfest.settings import Settings

if TYPE_CHECKING:
    from shopfest.core.actor import Actor
    from shopfest.runtime import Runtime

SIM_PASSWORD = "simulated-festival-shopper"
SIM_DOMAIN = "shopfest.sim"


def sim_email(number: int) -> str:
    return f"sim-{number:04d}@{SIM_DOMAIN}"


@dataclass(frozen=True)
class Prepared:
    """Each shopper's email, token and address id, in order; the flash sales on and coming."""

    shoppers: list[tuple[str, str, int | None]]
    flash_sales: list[tuple[int, datetime, datetime]]  # (SKU id, starts, ends)

    def flash_skus(self, at: datetime) -> list[int]:
        """The SKUs of the flash sales on at `at`."""
        return list(dict.fromkeys(sku for sku, starts, ends in self.flash_sales if starts <= at < ends))


def prepare(database_url: str, *, count: int, festival_now: datetime) -> Prepared:
    """`count` shoppers ready to check out, on the server's festival clock (their tokens expire by
    it), and the flash sales. Raises InvalidInput (no ShopFest database there)."""
    from shopfest.accounts import service as accounts
    from shopfest.app import make_runtime
    from shopfest.inventory import service as inventory

    require_database(database_url)
    runtime = make_runtime(Settings(database_url=database_url, pool_size=2),
                           clock=SetClock(festival_now, speed=0))
    try:
        users = accounts.open_shoppers_unchecked(
            runtime.uow(), emails=[sim_email(n) for n in range(1, count + 1)], password=SIM_PASSWORD)
        tokens = accounts.issue_tokens_unchecked(runtime.uow(), user_ids=[u.id or 0 for u in users])
        addresses = [_address_of(runtime, user.as_actor()) for user in users]
        zone = inventory.flash_zone(runtime.uow(read_only=True), shopper_id=None)
    finally:
        runtime.engine.dispose()
    return Prepared([(u.email, t.secret, a) for u, t, a in zip(users, tokens, addresses, strict=True)],
                    [(sale.sku_id, sale.starts_at, sale.ends_at) for sale in zone.sales])


def _address_of(runtime: Runtime, actor: Actor) -> int | None:
    """The shopper's first delivery address, added the first time (checkout of shipped goods asks)."""
    from shopfest.orders import service as orders
    from shopfest.orders.model import DeliveryAddress
    book = orders.delivery_addresses(runtime.uow(read_only=True), actor)
    if not book:
        book = [orders.add_delivery_address(runtime.uow(), actor, DeliveryAddress.typed(
            name="Simulated Shopper", phone="+8613800138000", country="CN", city="Hangzhou",
            line1="969 Wenyi West Road", postcode="311121"))]
    return book[0].id


def require_database(database_url: str) -> None:
    """A ShopFest database at the newest schema, as a server serves (never one made here by asking).
    Raises InvalidInput."""
    from sqlalchemy.engine import make_url

    from shopfest.core.migrate import is_newest
    url = make_url(database_url)
    shown = url.render_as_string(hide_password=True)
    hint = "SHOPFEST_DATABASE_URL names the server's database, where the simulated shoppers are prepared"
    if url.get_backend_name() == "sqlite" and not Path(url.database or "").is_file():
        raise InvalidInput(f"no database at {shown}: {hint}")
    try:
        newest = is_newest(database_url)
    except SQLAlchemyError as error:
        raise InvalidInput(f"cannot read the database {shown} ({type(error).__name__}): {hint}") from None
    if not newest:
        raise InvalidInput(f"the database {shown} is not at the newest schema: {hint}")
