"""Small steps most API tests take: accounts with tokens, a brand, a merchant, a product."""

from __future__ import annotations

import re
from typing import Any

from fastapi.testclient import TestClient

from shopfest.accounts import service as accounts
from shopfest.core.actor import Role
from shopfest.deps import SESSION_COOKIE
from shopfest.runtime import Runtime


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def token_for(client: TestClient, email: str, password: str) -> str:
    response = client.post("/api/v1/auth/token", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


def operator_token(client: TestClient, runtime: Runtime) -> str:
    accounts.create_account_unchecked(runtime.uow(), email="ops@festival.test",
                                      password="ops-secret-1", role=Role.OPERATOR)
    return token_for(client, "ops@festival.test", "ops-secret-1")


def create(client: TestClient, path: str, token: str, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post(path, json=body, headers=bearer(token))
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


def category(client: TestClient, ops: str, slug: str, parent: str | None = None) -> None:
    create(client, "/api/v1/categories", ops,
           {"slug": slug, "name": slug.replace("-", " ").title(), "parent": parent})


def merchant_with_staff(client: TestClient, ops: str, *, name: str, brand_ids: list[int],
                        email: str) -> tuple[dict[str, Any], str]:
    merchant = create(client, "/api/v1/merchants", ops, {
        "name": name, "kind": "online", "settlement_currency": "CNY", "brand_ids": brand_ids})
    create(client, f"/api/v1/merchants/{merchant['id']}/staff", ops,
           {"email": email, "password": "staff-secret-1"})
    return merchant, token_for(client, email, "staff-secret-1")


def product_body(brand_id: int, *, title: str = "Aurora Silk Scarf", category: str = "apparel",
                 price: str = "199.00", stock: int = 10, **extra: Any) -> dict[str, Any]:
    return {"title": title, "brand_id": brand_id, "category": category, "fulfilment": "shipped",
            "skus": [{"code": "std", "price": {"amount": price, "currency": "CNY"}, "stock": stock}],
            **extra}


def token_in(page: str) -> str:
    """The CSRF token the page's forms carry."""
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found is not None, "the page's forms carry no CSRF token"
    return found.group(1)


def form_token(client: TestClient, path: str = "/login") -> str:
    """The CSRF token a page's forms carry for this browser (its cookie is set on the way)."""
    return token_in(client.get(path).text)


def signed_in_tab(client: TestClient, email: str, password: str, *,
                  headers: dict[str, str] | None = None) -> TestClient:
    """A browser of its own on `client`'s app, signed in through the sign-in form."""
    tab = TestClient(client.app, headers=headers)
    done = tab.post("/login", data={"email": email, "password": password,
                                    "csrf_token": token_in(tab.get("/login").text)}, follow_redirects=False)
    assert done.status_code == 303 and tab.cookies.get(SESSION_COOKIE)
    return tab

