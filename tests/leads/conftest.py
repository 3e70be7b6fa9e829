"""Fixtures for the lead-capture tests: a controllable clock, a linked account, a form on
the sandbox account's default list, the web app, and a delivery worker whose clients talk
to the in-process sandbox (the ``db`` per backend comes from ``tests/conftest.py``)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from ccbridge import Client
from ccbridge.leads import DeliveryPolicy, DeliveryWorker, Form, LeadCapture, LeadSettings, Limit
from ccbridge.leads.web import create_forms_app
from ccbridge.sandbox import Sandbox
from ccbridge.sandbox.state import AccountData
from ccbridge.store import Database
from ccbridge.testing.plugin import sandbox_client
from tests.leads.support import FakeClock, add_linked_account

SECRET = b"lead-capture-test-secret-0123456789"
BASE_URL = "http://forms.test"
ALLOWED_ORIGIN = "https://shop.example"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def account_id(db: Database) -> str:
    return add_linked_account(db)


@pytest.fixture
def settings() -> LeadSettings:
    return LeadSettings(per_ip_limit=Limit(1000, 60.0), cache_seconds=0.0)


@pytest.fixture
def capture(db: Database, clock: FakeClock, settings: LeadSettings) -> LeadCapture:
    return LeadCapture(db, secret=SECRET, clock=clock, monotonic=clock, settings=settings)


def default_list_id(account: AccountData) -> str:
    return next(iter(account.lists))


def form_definition(account_id: str, list_id: str, **changes: Any) -> dict[str, Any]:
    definition: dict[str, Any] = {
        "name": "Newsletter",
        "account_id": account_id,
        "list_ids": [list_id],
        "consent_text": "Yes, send me the monthly newsletter. I can unsubscribe at any time.",
        "fields": [
            {"name": "email_address", "label": "Email"},
            {"name": "first_name"},
            {"name": "last_name"},
            {"name": "company_name"},
        ],
        "allowed_origins": [ALLOWED_ORIGIN],
        "title": "Join our newsletter",
    }
    definition.update(changes)
    return definition


@pytest.fixture
def form(capture: LeadCapture, account_id: str, cc_account: AccountData) -> Form:
    return capture.forms.create(form_definition(account_id, default_list_id(cc_account)))


@pytest.fixture
def web(capture: LeadCapture) -> Iterator[TestClient]:
    with TestClient(create_forms_app(capture), base_url=BASE_URL) as client:
        yield client


def hidden_inputs(html: str) -> dict[str, str]:
    """The hidden inputs of a rendered form page (what a browser would post back)."""
    return dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', html))


@pytest.fixture
def fresh_token(capture: LeadCapture, clock: FakeClock) -> Any:
    """A render token old enough to pass the minimum fill time."""

    def make(form: Form) -> str:
        token = capture.tokens.issue(form.id)
        clock.advance(form.definition.min_fill_seconds + 1)
        return token

    return make


def signup(token: str, email: str = "ada@example.com", **extra: Any) -> dict[str, Any]:
    """A person's JSON post: their values, the ticked consent box, the empty trap."""
    body: dict[str, Any] = {
        "email_address": email,
        "first_name": "Ada",
        "consent": True,
        "website": "",
        "form_token": token,
    }
    body.update(extra)
    return body


@pytest.fixture
def client_for(cc_sandbox: Sandbox, cc_token: dict[str, Any]) -> Any:
    clients: list[Client] = []

    def make(account_id: str) -> Client:
        client = sandbox_client(cc_sandbox, cc_token, max_retries=0, timeout=5.0)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def worker(capture: LeadCapture, client_for: Any) -> Iterator[DeliveryWorker]:
    w = DeliveryWorker(
        capture.outbox, client_for, worker_id="test-worker", policy=DeliveryPolicy(batch_size=20)
    )
    yield w
    w.close()
