"""The OpenAPI document: every route, its schemas, and the problems it can answer with."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from shopfest.app import create_app
from shopfest.settings import Settings


def spec(tmp_path: Any) -> dict[str, Any]:
    client = TestClient(create_app(Settings(database_url=f"sqlite:///{tmp_path}/spec.db")))
    response = client.get("/openapi.json")
    assert response.status_code == 200
    result: dict[str, Any] = response.json()
    return result


# The routes whose success is not JSON, and what it is instead (their problems are still JSON).
NOT_JSON = {("get", "/api/v1/live/events/{event_id}/calendar.ics"): "text/calendar",
            ("get", "/api/v1/local/settlement.csv"): "text/csv",
            ("get", "/api/v1/merchants/{merchant_id}/insights.csv"): "text/csv"}


def test_every_api_route_documents_its_success_schema_and_problem_responses(tmp_path: Any) -> None:
    document = spec(tmp_path)
    api_routes = [(path, method, op) for path, ops in document["paths"].items()
                  for method, op in ops.items() if path.startswith("/api/v1/")]
    assert len(api_routes) >= 19
    for path, method, op in api_routes:
        responses = op["responses"]
        success = [code for code in responses if code.startswith("2")]
        assert success, f"{method} {path} has no success response"
        if success != ["204"]:
            kind = NOT_JSON.get((method, path), "application/json")
            assert kind in responses[success[0]]["content"], f"{method} {path}"
        problems = [code for code in responses if code[0] == "4"]
        assert "422" in problems, f"{method} {path} does not document validation problems"
        for code in problems:
            content = responses[code]["content"]
            assert list(content) == ["application/problem+json"], f"{method} {path} {code}"
            assert content["application/problem+json"]["schema"]["$ref"].endswith("/Problem")
    assert set(document["components"]["schemas"]["Problem"]["required"]) >= {
        "type", "title", "status", "detail"}
    assert "HTTPValidationError" not in document["components"]["schemas"]


def test_the_fixed_points_are_in_the_document(tmp_path: Any) -> None:
    paths = spec(tmp_path)["paths"]
    for path, method in [("/api/v1/auth/register", "post"), ("/api/v1/auth/token", "post"),
                         ("/api/v1/festival", "get"), ("/api/v1/brands", "post"),
                         ("/api/v1/merchants", "post"), ("/api/v1/merchants/{merchant_id}/staff", "post"),
                         ("/api/v1/products", "post"), ("/api/v1/products", "get"),
                         ("/api/v1/products/{product_id}", "get")]:
        assert method in paths[path], f"{method} {path}"
    search = {p["name"] for p in paths["/api/v1/products"]["get"]["parameters"]}
    assert search >= {"q", "category", "brand_id", "tier", "fulfilment", "new", "min_price",
                      "max_price", "cursor", "limit"}
    assert paths["/api/v1/products"]["post"]["security"] == [{"HTTPBearer": []}]


def test_docs_and_health_answer(tmp_path: Any) -> None:
    client = TestClient(create_app(Settings(database_url=f"sqlite:///{tmp_path}/spec.db")))
    assert client.get("/healthz").json() == {"status": "ok"}
    assert "swagger" in client.get("/docs").text.lower()


def test_an_order_links_to_what_may_be_done_with_it_next(tmp_path: Any) -> None:
    document = spec(tmp_path)
    operations = {op["operationId"]: (path, method) for path, ops in document["paths"].items()
                  for method, op in ops.items()}
    orders = document["paths"]["/api/v1/orders"]["post"]["responses"]["201"]["links"]
    assert set(orders) == {"Pay", "Cancel", "Ship", "Refund", "Read"}
    assert operations[orders["Pay"]["operationId"]] == ("/api/v1/orders/{order_id}/pay", "post")
    assert operations[orders["Ship"]["operationId"]] == ("/api/v1/orders/{order_id}/shipments", "post")
    assert operations[orders["Refund"]["operationId"]] == ("/api/v1/orders/{order_id}/refunds", "post")
    assert operations[orders["Read"]["operationId"]] == ("/api/v1/orders/{order_id}", "get")
    paid = document["paths"]["/api/v1/orders/{order_id}/pay"]["post"]["responses"]["200"]["links"]
    shipped = document["paths"]["/api/v1/orders/{order_id}/shipments"]["post"]["responses"]["200"]["links"]
    for link in [*orders.values(), *paid.values(), *shipped.values()]:
        assert link["operationId"] in operations
        assert link["parameters"] == {"order_id": "$response.body#/id"}
