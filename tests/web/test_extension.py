"""The extension hook lead capture uses: its pages get the login, CSRF check, banner and
navigation; its API operations get bearer auth and a place in the OpenAPI document."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from ccbridge.service import Service
from ccbridge.web import ApiContext, ApiOperation, NavItem, PageContext, WebExtension, page_route
from tests.web.support import client_for, csrf_of, sign_in


def _extension(templates: Path) -> WebExtension:
    def list_page(ctx: PageContext) -> Response:
        return ctx.render("things.html", items=["a", "b"])

    def create(ctx: PageContext) -> Response:
        return ctx.redirect(f"/things?made={ctx.form.get('name', '')}")

    async def public(_request: Any) -> Response:
        return PlainTextResponse("anyone")

    def api_list(ctx: ApiContext) -> Any:
        return {"things": ["a", "b"]}

    return WebExtension(
        name="things",
        routes=[
            page_route("/things", list_page),
            page_route("/things", create, methods=("POST",), name="things_create"),
            Route("/things/public", public),
        ],
        nav=[NavItem("Things", "/things", order=25)],
        api=[
            ApiOperation("GET", "/api/things", "listThings", "List things.", api_list, tag="things")
        ],
        templates=templates,
        openapi_paths={
            "/api/things/export": {
                "get": {"operationId": "exportThings", "responses": {"200": {"description": "CSV"}}}
            }
        },
    )


def test_extension_pages_api_and_navigation(service: Service, tmp_path: Path) -> None:
    (tmp_path / "things.html").write_text(
        '{% extends "base.html" %}{% block content %}<ul>{% for i in items %}<li>{{ i }}</li>{% endfor %}</ul>'
        '<form method="post" action="/things"><input type="hidden" name="csrf_token" value="{{ csrf_token }}">'
        '<input name="name"></form>{% endblock %}'
    )
    service.add_web_extension(_extension(tmp_path))
    with client_for(service) as client:
        assert client.get("/things").status_code == 303  # behind the admin login
        public = client.get("/things/public")
        assert public.text == "anyone"
        # Public routes keep their own policy (a signup form may redirect to another site).
        assert "content-security-policy" not in public.headers
        assert public.headers["x-content-type-options"] == "nosniff"
        sign_in(client, service)
        page = client.get("/things")
        assert page.status_code == 200 and "<li>b</li>" in page.text
        assert "form-action 'self'" in page.headers["content-security-policy"]
        assert page.headers["x-frame-options"] == "DENY"
        assert "SANDBOX — not connected to Constant Contact" in page.text
        assert '<a href="/things" aria-current="page">Things</a>' in page.text
        overview = client.get("/").text
        assert (
            overview.index(">Bulk activities<")
            < overview.index(">Things<")
            < overview.index(">API budget<")
        )
        assert client.post("/things", data={"name": "x"}).status_code == 403  # no CSRF token
        made = client.post("/things", data={"name": "x", "csrf_token": csrf_of(page.text)})
        assert made.headers["location"] == "/things?made=x"
        assert client.get("/api/things").status_code == 401
        _record, raw = service.admin.create_token("t")
        assert client.get("/api/things", headers={"Authorization": f"Bearer {raw}"}).json() == {
            "things": ["a", "b"]
        }
        paths = client.get("/api/openapi.json").json()["paths"]
        assert paths["/api/things"]["get"]["operationId"] == "listThings"
        assert paths["/api/things/export"]["get"]["operationId"] == "exportThings"
