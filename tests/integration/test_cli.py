"""The `shopfest` command, against the database SHOPFEST_DATABASE_URL names (SQLite and PostgreSQL)."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from shopfest.catalog import service as catalog
from shopfest.cli import app
from shopfest.runtime import Runtime


@pytest.fixture
def run(database_url: str, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("SHOPFEST_DATABASE_URL", database_url)
    monkeypatch.setenv("SHOPFEST_CLOCK", "2027-11-10T23:55:00+08:00")
    runner = CliRunner()
    return lambda *args: runner.invoke(app, list(args))


def test_db_upgrade_is_safe_to_run_again(run) -> None:  # type: ignore[no-untyped-def]
    first, second = run("db", "upgrade"), run("db", "upgrade")
    assert first.exit_code == 0 and second.exit_code == 0, first.output + second.output


def test_seed_loads_a_deterministic_catalog(run, runtime: Runtime) -> None:  # type: ignore[no-untyped-def]
    result = run("seed", "--brands", "30", "--products", "120", "--seed", "5")
    assert result.exit_code == 0, result.output
    assert "seeded 11.11 Global Shopping Festival 2027: 30 brands, 120 products" in result.output
    uow = runtime.uow(read_only=True)
    slugs = {c.slug for c in catalog.all_categories(uow)}
    assert {"automobiles", "apartments", "home-decoration", "services"} <= slugs
    first = catalog.get_product(runtime.uow(read_only=True), 1)
    assert first.title_zh and first.title  # English and Chinese
    assert catalog.count_brands(runtime.uow(read_only=True)) == 30


def test_the_same_seed_gives_the_same_catalog(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from shopfest.app import make_runtime
    from shopfest.core.clock import SetClock, parse_instant
    from shopfest.core.migrate import upgrade
    from shopfest.settings import Settings

    titles = []
    for name in ("one", "two"):
        url = f"sqlite:///{tmp_path}/{name}.db"
        upgrade(url)
        rt = make_runtime(Settings(database_url=url),
                          clock=SetClock(parse_instant("2027-11-10T23:55:00+08:00"), speed=0))
        from shopfest import demo
        demo.seed(rt, brands=20, products=50, seed=3)
        titles.append([catalog.get_product(rt.uow(read_only=True), i).title for i in range(1, 51)])
    assert titles[0] == titles[1]


def test_users_create_opens_an_account_that_can_sign_in(run, runtime: Runtime) -> None:  # type: ignore[no-untyped-def]
    result = run("users", "create", "--email", "boss@festival.test", "--password", "boss-secret-1",
                 "--role", "operator")
    assert result.exit_code == 0, result.output
    from shopfest.accounts import service as accounts
    issued = accounts.sign_in(runtime.uow(), email="boss@festival.test", password="boss-secret-1")
    assert accounts.resolve(runtime.uow(read_only=True), issued.secret).role.value == "operator"


@pytest.mark.parametrize("args, message", [
    (("users", "create", "--email", "nope", "--password", "boss-secret-1", "--role", "shopper"),
     "is not an email address"),
    (("users", "create", "--email", "a@b.co", "--password", "short", "--role", "shopper"),
     "10 to 256 characters"),
    (("users", "create", "--email", "a@b.co", "--password", "1234567890", "--role", "shopper"),
     "most commonly used"),
    (("users", "create", "--email", "a@b.co", "--password", "staff-secret", "--role", "merchant"),
     "--merchant"),
    (("users", "create", "--email", "a@b.co", "--password", "staff-secret", "--role", "merchant",
      "--merchant", "77"), "--merchant"),
    (("users", "create", "--email", "a@b.co", "--password", "staff-secret", "--role", "king"),
     "king"),
    (("seed", "--brands", "0"), "greater than or equal to 1"),
])
def test_bad_input_is_a_message_and_exit_code_2(run, runtime: Runtime, args, message) -> None:  # type: ignore[no-untyped-def]
    run("db", "upgrade")
    result = run(*args)
    assert result.exit_code == 2, result.output
    assert message in result.output
    from shopfest.accounts import service as accounts
    from shopfest.accounts.model import BadCredentials
    with pytest.raises(BadCredentials):  # nothing was created
        accounts.sign_in(runtime.uow(), email="a@b.co", password="staff-secret")


def test_a_duplicate_account_is_refused_with_exit_code_2(run) -> None:  # type: ignore[no-untyped-def]
    args = ("users", "create", "--email", "a@b.co", "--password", "staff-secret", "--role", "shopper")
    assert run(*args).exit_code == 0
    again = run(*args)
    assert again.exit_code == 2 and "exists already" in again.output


def test_serve_refuses_a_database_behind_the_newest_schema(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from alembic import command

    from shopfest.core.migrate import alembic_config

    url = f"sqlite:///{tmp_path / 'older.db'}"
    command.upgrade(alembic_config(url), "0004")
    monkeypatch.setenv("SHOPFEST_DATABASE_URL", url)
    monkeypatch.setenv("SHOPFEST_WEBHOOK_SECRET", "a-secret-of-our-own")
    result = CliRunner().invoke(app, ["serve", "--port", "1"])
    assert result.exit_code == 2
    assert "not at the newest schema: run `shopfest db upgrade` first" in result.output


def test_stock_recount_without_redis_has_nothing_to_do(run) -> None:  # type: ignore[no-untyped-def]
    result = run("stock", "recount")
    assert result.exit_code == 0, result.output
    assert "without SHOPFEST_REDIS_URL the database rows are the counters" in result.output


def test_stock_recount_forgets_the_redis_counters_of_its_prefix(run, redis_url, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import uuid

    import redis
    prefix = f"shopfest-test-cli-[{uuid.uuid4().hex}]*:"  # matched as written, not as a pattern
    monkeypatch.setenv("SHOPFEST_REDIS_URL", redis_url)
    monkeypatch.setenv("SHOPFEST_REDIS_PREFIX", prefix)
    counters = redis.Redis.from_url(redis_url)
    counters.set(f"{prefix}{{sku:1}}:stock", 3)
    counters.set(f"{prefix}{{sku:2}}:stock", 0)
    counters.set(f"{prefix}note", "kept")
    try:
        result = run("stock", "recount")

        assert result.exit_code == 0, result.output
        assert "2 Redis counters forgotten" in result.output
        assert counters.get(f"{prefix}{{sku:1}}:stock") is None and counters.get(f"{prefix}note") == b"kept"
    finally:
        counters.delete(f"{prefix}{{sku:1}}:stock", f"{prefix}{{sku:2}}:stock", f"{prefix}note")


def test_stock_recount_says_when_redis_does_not_answer(run, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("SHOPFEST_REDIS_URL", "redis://127.0.0.1:1/0")
    result = run("stock", "recount")
    assert result.exit_code == 1
    assert "Redis at SHOPFEST_REDIS_URL did not recount" in result.output


def test_mail_outbox_shows_the_verification_mail_of_a_new_shopper(run, runtime: Runtime) -> None:  # type: ignore[no-untyped-def]
    from shopfest.accounts import service as accounts
    from shopfest.accounts.model import Profile
    assert run("mail", "outbox").output.strip() == "no mail"
    accounts.register_shopper(runtime.uow(), email="mei@shoppers.test", password="shop-secret-1",
                              profile=Profile())
    result = run("mail", "outbox", "--to", "MEI@shoppers.test")
    assert result.exit_code == 0, result.output
    assert "to mei@shoppers.test" in result.output and "Subject: Verify your ShopFest email" in result.output
    assert '"token": "' in result.output and "/api/v1/auth/verify-email" in result.output
    assert run("mail", "outbox", "--to", "nobody@shoppers.test").output.strip() == "no mail"


def test_the_demo_accounts_are_verified(run, runtime: Runtime) -> None:  # type: ignore[no-untyped-def]
    from shopfest.accounts import service as accounts
    from shopfest.cli import DEMO_ACCOUNTS, _prepare_demo
    _prepare_demo(brands=12, products=24)
    for email, password, _ in DEMO_ACCOUNTS:
        issued = accounts.sign_in(runtime.uow(), email=email, password=password)
        assert accounts.resolve(runtime.uow(read_only=True), issued.secret).verified, email
