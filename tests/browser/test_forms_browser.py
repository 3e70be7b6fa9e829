"""A real browser signs people up: on the hosted form page, and through the embedded form on
a page served from another origin (so the CORS preflight and the cross-origin post are the
browser's own). Each contact is then found in the sandbox on the form's list with explicit
permission.

Debian's Chromium (``tests/browser/conftest.py``'s ``browser``), driven by Playwright.
The servers bind 127.0.0.1 only. The minimum fill time is passed by moving the service's
clock, not by waiting."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ccbridge.leads import DeliveryWorker, Form, LeadCapture, LeadSettings, Limit
from ccbridge.leads.web import create_forms_app
from ccbridge.sandbox import Sandbox
from ccbridge.sandbox.state import AccountData
from ccbridge.store import Database
from ccbridge.testing import live_server
from ccbridge.testing.plugin import sandbox_client
from tests.leads.support import FakeClock, add_linked_account
from tests.store.support import database_target

pytestmark = pytest.mark.browser


class OtherSite:
    """A second origin: a static page embedding the form's script."""

    def __init__(self, directory: Path) -> None:
        class Quiet(http.server.SimpleHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

        def handler(*a: Any, **k: Any) -> Quiet:
            return Quiet(*a, directory=str(directory), **k)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> OtherSite:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    with database_target("sqlite", tmp_path) as target:
        database = target.open()
        yield database
        database.dispose()


@pytest.fixture
def stack(
    tmp_path: Path,
    db: Database,
    cc_sandbox: Sandbox,
    cc_token: dict[str, Any],
    cc_account: AccountData,
    browser: Any,
) -> Iterator[dict[str, Any]]:
    clock = FakeClock()
    capture = LeadCapture(
        db,
        secret=b"browser-test-secret-0123456789ab",
        clock=clock,
        settings=LeadSettings(per_ip_limit=Limit(100, 60.0), cache_seconds=0),
    )
    site_dir = tmp_path / "site"
    site_dir.mkdir()
    worker = DeliveryWorker(capture.outbox, lambda _a: sandbox_client(cc_sandbox, cc_token))
    with live_server(create_forms_app(capture)) as app_url, OtherSite(site_dir) as site:
        account_id = add_linked_account(db)
        form = capture.forms.create(
            {
                "name": "Browser",
                "account_id": account_id,
                "list_ids": [next(iter(cc_account.lists))],
                "consent_text": "Yes, email me the bakery's news.",
                "fields": ["email_address", "first_name"],
                "allowed_origins": [site.url],
                "title": "Bakery news",
            }
        )
        (site_dir / "index.html").write_text(
            "<!doctype html><html lang='en'><head><meta charset='utf-8'><title>Shop</title>"
            "<link rel='icon' href='data:,'></head>"
            f"<body><h1>Our shop</h1><div data-ccbridge-form='{form.id}'></div>"
            f"<script src='{app_url}/forms/{form.id}/embed.js'></script></body></html>",
            encoding="utf-8",
        )
        yield {
            "app_url": app_url,
            "site": site,
            "form": form,
            "clock": clock,
            "browser": browser,
            "worker": worker,
            "capture": capture,
        }
    worker.close()


def _assert_delivered(
    stack: dict[str, Any], account: AccountData, email: str, first_name: str
) -> None:
    worker: DeliveryWorker = stack["worker"]
    assert worker.run_once() == 1
    contact = account.contact_by_email(email)
    assert contact is not None and contact.email_address is not None
    form: Form = stack["form"]
    assert form.definition.list_ids[0] in contact.list_memberships
    assert contact.email_address.permission_to_send == "explicit"
    assert contact.first_name == first_name


def test_hosted_form_in_a_browser(stack: dict[str, Any], cc_account: AccountData) -> None:
    page = stack["browser"].new_page()
    form: Form = stack["form"]
    page.goto(f"{stack['app_url']}/forms/{form.id}")
    page.get_by_label("Email address").fill("hosted@example.com")
    page.get_by_label("First name").fill("Hana")
    page.get_by_label("I agree").check()
    stack["clock"].advance(10)  # the person took ten seconds
    page.get_by_role("button", name="Sign up").click()
    page.wait_for_url(f"**/forms/{form.id}/thanks")
    assert page.locator("#ccb-thanks").inner_text() == "Thank you for signing up."
    _assert_delivered(stack, cc_account, "hosted@example.com", "Hana")


def test_embedded_form_on_another_origin(stack: dict[str, Any], cc_account: AccountData) -> None:
    page = stack["browser"].new_page()
    failures: list[str] = []
    page.on("console", lambda msg: failures.append(msg.text) if msg.type == "error" else None)
    page.goto(stack["site"].url + "/index.html")
    page.get_by_label("Email address *").fill("embedded@example.com")
    page.get_by_label("First name").fill("Emil")
    page.get_by_label("I agree *").check()
    stack["clock"].advance(10)
    page.get_by_role("button", name="Sign up").click()
    status = page.get_by_role("status")
    status.filter(has_text="Thank you for signing up.").wait_for(timeout=15_000)
    assert failures == []
    submission = stack["capture"].outbox.deliveries()[0]
    assert submission.email == "embedded@example.com"
    _assert_delivered(stack, cc_account, "embedded@example.com", "Emil")


def test_embedded_form_shows_the_servers_error_next_to_the_field(stack: dict[str, Any]) -> None:
    page = stack["browser"].new_page()
    page.goto(stack["site"].url + "/index.html")
    page.get_by_label("Email address *").fill("no-at-sign")
    page.get_by_label("I agree *").check()
    page.get_by_role("button", name="Sign up").click()
    alert = page.get_by_role("alert")
    alert.filter(has_text="Email address: the email address").wait_for(timeout=15_000)
    assert page.get_by_label("Email address *").get_attribute("aria-invalid") == "true"
