"""The webhook secret: no default a stranger could sign with; `serve` needs one, `demo` keeps one
per database."""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from shopfest.app import create_app, make_runtime
from shopfest.core.clock import SetClock
from shopfest.core.migrate import upgrade
from shopfest.demo import hot_item
from shopfest.payments.webhooks import event_body
from shopfest.runtime import Runtime
from shopfest.settings import PUBLISHED_WEBHOOK_SECRET, Settings
from tests.integration.test_orders_api import intents, order, shopper, webhook
from tests.servers import shopfest

DEMO_CLOCK = "2027-11-10T23:55:00+08:00"


def _env(database_url: str, **more: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHOPFEST_")}
    return {**env, "SHOPFEST_DATABASE_URL": database_url, "SHOPFEST_CLOCK": DEMO_CLOCK, **more}


@pytest.mark.parametrize("secret, message", [
    (None, "SHOPFEST_WEBHOOK_SECRET is not set"),
    ("", "SHOPFEST_WEBHOOK_SECRET is not set"),
    ("short-secret", "too short"),
    (PUBLISHED_WEBHOOK_SECRET, "once published"),
])
def test_serve_refuses_to_start_without_a_secret_of_its_own(tmp_path: Path, secret: str | None,
                                                            message: str) -> None:
    # given a migrated database, and no webhook secret (or one anybody knows)
    url = f"sqlite:///{tmp_path / 'shop.db'}"
    upgrade(url)
    env = _env(url) if secret is None else _env(url, SHOPFEST_WEBHOOK_SECRET=secret)
    # when `serve` is started, then it does not serve: a message on stderr and exit code 2
    process = subprocess.Popen(shopfest("serve", "--port", "1"), env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    try:
        out, err = process.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        pytest.fail("serve started without a webhook secret of its own")
    assert process.returncode == 2, out + err
    assert message in " ".join(err.split()), err


def _demo_secret(database_url: str) -> str:
    done = subprocess.run(shopfest("demo", "--no-serve", "--brands", "3", "--products", "3"),
                          env=_env(database_url), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    found = re.search(r"sandbox webhooks are signed with (\S+) \(kept with this database\)", done.stdout)
    assert found, done.stdout
    return found.group(1)


def test_demo_makes_a_webhook_secret_once_per_database_and_keeps_it(database_url: str) -> None:
    first = _demo_secret(database_url)
    assert _demo_secret(database_url) == first
    assert len(first) >= 32 and first != PUBLISHED_WEBHOOK_SECRET


def test_two_demo_databases_have_different_webhook_secrets(tmp_path: Path) -> None:
    one = _demo_secret(f"sqlite:///{tmp_path / 'one.db'}")
    two = _demo_secret(f"sqlite:///{tmp_path / 'two.db'}")
    assert one != two


@pytest.fixture
def unset_runtime(database_url: str, clock: SetClock) -> Iterator[Runtime]:
    """A runtime configured from an environment that names no webhook secret."""
    env = {"SHOPFEST_DATABASE_URL": database_url, "SHOPFEST_POOL_SIZE": "4"}
    runtime = make_runtime(Settings.from_env(env), clock=clock)
    yield runtime
    runtime.engine.dispose()


def test_a_webhook_signed_with_the_once_published_secret_is_refused(unset_runtime: Runtime) -> None:
    # given an order whose payment the gateway settles later
    runtime = unset_runtime
    client = TestClient(create_app(runtime=runtime))
    phone = hot_item(runtime, stock=5)
    ann = shopper(client, runtime, "ann")
    runtime.provider.delay_seconds = 3600  # type: ignore[attr-defined]  # the test delivers it
    placed = order(client, ann, [{"sku_id": phone.sku_id, "qty": 1}]).json()
    client.post(f"/api/v1/orders/{placed['id']}/pay", json={"method": "sandbox_delay"}, headers=ann)
    (intent,) = intents(runtime, placed["id"])
    success = event_body("payment.succeeded", provider_ref=intent.provider_ref or "", amount=intent.amount,
                         created=2)
    # when a stranger signs its success with the secret ShopFest's source once defaulted to
    forged = webhook(client, runtime, success, secret=PUBLISHED_WEBHOOK_SECRET)
    # then it is refused and the order still waits; the gateway's own signature is taken
    assert forged.status_code == 401 and forged.json()["type"].endswith("/bad-signature")
    assert client.get(f"/api/v1/orders/{placed['id']}", headers=ann).json()["status"] == "awaiting_payment"
    assert webhook(client, runtime, success).json() == {"applied": True}
    assert client.get(f"/api/v1/orders/{placed['id']}", headers=ann).json()["status"] == "paid"
