"""/api/openapi.json: an OpenAPI 3 document listing every admin API route the app serves."""

from __future__ import annotations

import re
from typing import Any

from starlette.routing import Route

from ccbridge.service import Service
from ccbridge.web.api import validate
from ccbridge.web.app import starlette_app


def test_openapi_document_lists_every_api_route(service: Service, client: Any) -> None:
    response = client.get("/api/openapi.json")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    doc = response.json()
    assert doc["openapi"].startswith("3.")
    assert doc["info"]["title"] and doc["info"]["version"]
    served = {
        (method, route.path)
        for route in starlette_app(client.app).routes
        if isinstance(route, Route) and route.path.startswith("/api/") and "{rest" not in route.path
        for method in (route.methods or set()) - {"HEAD"}
    } - {("GET", "/api/openapi.json")}
    documented = {(m.upper(), path) for path, item in doc["paths"].items() for m in item}
    assert served == documented
    assert {
        "/api/accounts",
        "/api/accounts/{account_id}",
        "/api/budget",
        "/api/connect-links",
    } <= set(doc["paths"])


def test_openapi_operations_are_well_formed(client: Any) -> None:
    doc = client.get("/api/openapi.json").json()
    ids = [op["operationId"] for item in doc["paths"].values() for op in item.values()]
    assert len(ids) == len(set(ids))
    for path, item in doc["paths"].items():
        declared = set(re.findall(r"{(\w+)}", path))
        for op in item.values():
            assert op["responses"], path
            path_params = {p["name"] for p in op.get("parameters", []) if p["in"] == "path"}
            assert path_params == declared, path
            assert op["security"] == [{"bearerAuth": []}]
            for response in op["responses"].values():
                for media in response.get("content", {}).values():
                    ref = media["schema"].get("$ref")
                    if ref:
                        assert ref.split("/")[-1] in doc["components"]["schemas"]
    assert doc["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"


def test_error_answers_match_the_documented_error_schema(service: Service, client: Any) -> None:
    doc = client.get("/api/openapi.json").json()
    schema = doc["components"]["schemas"]["Error"]
    answer = client.get("/api/accounts").json()
    assert validate(answer, schema, "error") == []
