"""Running Constant Contact's own generated Python SDK against the sandbox over real HTTP.

The official SDK (PyPI ``constant-contact-api-client``) is generated from CC's swagger and
deserialises every answer into pydantic models with strict types, so it is an independent
judge of the sandbox's wire format: a wrong status code, type, length or field name shows up
as a validation error, an empty result or a dropped field, exactly as it would for a user of
that SDK (its models do not check enum values; the tests do). It talks
through urllib3, so the sandbox has to be a real socket server here (uvicorn in a thread),
not the in-process httpx transport the other tests use.

Test-only: nothing under ``src/`` may import the SDK.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from constant_contact_api_client import ApiClient, ApiResponse, Configuration
from pydantic import BaseModel

from ccbridge.sandbox import Sandbox
from ccbridge.sandbox.app import RESOURCE_MODULES
from ccbridge.sandbox.seed import create_account, create_app
from ccbridge.sandbox.state import AccountData, App
from ccbridge.testing import serve_sandbox as serve_live_sandbox

ALL_SCOPES = "account_read account_update contact_data campaign_data offline_access"
OWNER_EMAIL = "owner@example.com"


# -- which operations the sandbox emulates ------------------------------------------------------
def emulated_operations() -> frozenset[str]:
    """operationIds with a real handler; every other CC operation answers 501."""
    found: set[str] = set()
    for name in RESOURCE_MODULES:
        module = importlib.import_module(f"ccbridge.sandbox.resources.{name}")
        found.update(r.operation_id for r in module.routes.routes if r.operation_id)
    return frozenset(found)


EMULATED = emulated_operations()
EXERCISED: set[str] = set()
"""operationIds some test has declared with ``emulates``; checked against ``EMULATED``."""


def emulates(*operation_ids: str) -> pytest.MarkDecorator:
    """Declare the operations a test calls; skip it (visibly) if one is not emulated yet."""
    EXERCISED.update(operation_ids)
    missing = [op for op in operation_ids if op not in EMULATED]
    return pytest.mark.skipif(
        bool(missing), reason=f"sandbox does not emulate {', '.join(missing)} yet"
    )


# -- the sandbox as a real HTTP server --------------------------------------------------------------
@dataclass
class RunningSandbox:
    sandbox: Sandbox
    root: str  # http://127.0.0.1:<port>
    app: App

    @property
    def api_host(self) -> str:
        return self.root + "/v3"

    def new_account(self) -> tuple[AccountData, str]:
        """A freshly seeded account and an access token with every scope, for one test."""
        sandbox = self.sandbox
        with sandbox.lock:
            account = create_account(
                sandbox.state,
                sandbox.clock.now(),
                email=OWNER_EMAIL,
                password="sandbox-password",
                organization_name=f"Example Org {len(sandbox.state.accounts) + 1}",
                first_name="Olive",
                last_name="Owner",
            )
            token = sandbox.issuer.issue(
                sandbox.state, sandbox.clock, self.app, account.account.account_id, ALL_SCOPES
            )
        return account, str(token["access_token"])

    def advance(self, seconds: float) -> None:
        self.sandbox.advance_clock(seconds)


@contextmanager
def serve_sandbox() -> Iterator[RunningSandbox]:
    """The sandbox over real HTTP (``ccbridge.testing.serve_sandbox``) with an app registered."""
    with serve_live_sandbox(rate_limits=False) as sandbox:
        with sandbox.lock:
            app = create_app(
                sandbox.state,
                sandbox.clock.now(),
                name="Official SDK check",
                redirect_uris=["http://127.0.0.1:8765/callback"],
            )
        yield RunningSandbox(sandbox=sandbox, root=sandbox.base_url, app=app)


def sdk_client(host: str, access_token: str) -> ApiClient:
    """The official SDK configured the way its README shows, only pointed at the sandbox."""
    return ApiClient(Configuration(host=host, access_token=access_token))


# -- checking what the SDK made of an answer -------------------------------------------------------
def ok(response: ApiResponse[Any], status: int) -> Any:
    """The deserialised body of a ``*_with_http_info`` call, after checking CC's status.

    The SDK only deserialises bodies for the status codes CC documents; on any other 2xx
    it quietly returns ``None``, so the status is checked here to make that visible.
    """
    assert response.status_code == status, (
        f"status {response.status_code}, CC answers {status}: {response.raw_data!r}"
    )
    return response.data


def follow_next(client: ApiClient, page: Any, response_type: str) -> Iterator[Any]:
    """Yield the pages after ``page`` by GETting ``_links.next.href`` with the SDK's client.

    The generated list methods take no ``cursor`` argument, so an SDK user pages the way CC
    documents it: prefix the relative href with the API root and let the SDK's own
    ``ApiClient`` send it (with its auth) and deserialise it into the collection model.
    """
    seen: set[str] = set()
    while page.links is not None and page.links.next is not None:
        href = page.links.next.href
        assert href.startswith("/v3/"), f"next href is not relative to the API root: {href}"
        assert href not in seen, f"pagination repeats {href}"
        seen.add(href)
        root = client.configuration.host.removesuffix("/v3")
        method, url, headers, body, post = client.param_serialize(
            "GET",
            href,
            header_params={"Accept": "application/json"},
            auth_settings=["oauth2_access_code"],
            _host=root,
        )
        raw = client.call_api(method, url, headers, body, post)
        raw.read()
        page = client.response_deserialize(raw, {"200": response_type}).data
        assert page is not None
        yield page


def unknown_fields(raw: Any, model: Any, path: str = "$") -> list[str]:
    """JSON paths of keys the sandbox sent that the SDK's model does not declare.

    The SDK drops such keys silently, so a misspelt field would otherwise pass unnoticed.
    """
    found: list[str] = []
    if isinstance(model, list) and isinstance(raw, list):
        for index, (item_raw, item) in enumerate(zip(raw, model, strict=False)):
            found += unknown_fields(item_raw, item, f"{path}[{index}]")
        return found
    if not isinstance(model, BaseModel) or not isinstance(raw, dict):
        return found
    by_wire_name = {(info.alias or name): name for name, info in type(model).model_fields.items()}
    for key, value in raw.items():
        if key not in by_wire_name:
            found.append(f"{path}.{key}")
            continue
        found += unknown_fields(value, getattr(model, by_wire_name[key]), f"{path}.{key}")
    return found
