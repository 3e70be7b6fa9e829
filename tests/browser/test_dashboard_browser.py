"""The dashboard in a real browser against ``ccbridge serve`` started for real, the way
the README walks a newcomer through it: the one-time setup link → the first admin →
dashboard → Connect → the sandbox's sign-in and consent → callback → the account listed
as active → a signup form created in the dashboard (lists read from CC) → its hosted page
opened from the form's page and submitted → the contact at (the sandbox's) CC on the
form's list with explicit permission; plus sign-out and sign-in, a dead letter (CC
refusing deliveries through a sandbox fault) retried with the dashboard's button, and
forged POSTs refused by the CSRF check."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.cli.serve_support import ServeProcess, run_cli

pytestmark = pytest.mark.browser

BANNER = "SANDBOX — not connected to Constant Contact"
ADMIN, PASSWORD = "admin", "a long enough password"


@pytest.fixture
def serve(tmp_path: Path) -> Any:
    with ServeProcess(tmp_path / "data") as process:
        yield process
        process.stop()


def _create_admin(serve: ServeProcess) -> None:
    created = run_cli(["admin", "create", ADMIN, "--password-stdin"], serve.env, PASSWORD + "\n")
    assert created.returncode == 0, created.stderr


def _sign_in(page: Any, url: str) -> None:
    page.goto(url + "/")
    assert page.url.startswith(url + "/login")
    page.fill("#username", ADMIN)
    page.fill("#password", PASSWORD)
    page.click("button:has-text('Sign in')")
    page.wait_for_url(url + "/")


def _connect(page: Any, url: str) -> None:
    """Linked accounts → Connect → the sandbox's sign-in and consent → back, active."""
    page.goto(url + "/accounts")
    page.click("#connect")
    page.wait_for_url("**/oauth2/default/v1/authorize**")
    page.fill("#email", "owner@sandbox.example")
    page.fill("#password", "sandbox")
    page.click("button:has-text('Sign in')")
    page.click("button:has-text('Allow')")
    page.wait_for_url(f"{url}/accounts/*?notice=linked")


def _create_form_in_dashboard(page: Any, url: str) -> str:
    """Signup forms → Create a signup form → fill in → Create form; returns the form id."""
    page.click("nav >> text=Signup forms")
    page.wait_for_url(url + "/forms")
    page.click("text=Create a signup form")
    page.wait_for_url(url + "/forms/admin/new")
    page.get_by_label("General Interest").check()
    page.get_by_label(re.compile("^Name")).fill("Newsletter")
    page.check("input[name='f.first_name.ask']")
    page.get_by_label(re.compile("^Consent text")).fill("Yes, send me the newsletter.")
    # A person takes seconds to fill a form; this one is a robot, so no minimum fill time.
    page.get_by_label(re.compile("^Minimum fill time")).fill("0")
    page.click("button:has-text('Create form')")
    page.wait_for_url(f"{url}/forms/admin/*?notice=created")
    form_id: str = page.url.split("?")[0].rsplit("/", 1)[-1]
    snippet = page.input_value("#embed-snippet")
    assert f'<script src="{url}/forms/{form_id}/embed.js" async></script>' in snippet
    assert f'<div data-ccbridge-form="{form_id}"></div>' in snippet
    return form_id


def _fill_and_submit(page: Any, form_id: str, email: str, first_name: str) -> None:
    """A person on the hosted page: their details, the consent box, Sign up."""
    page.get_by_label(re.compile("^Email")).fill(email)
    page.get_by_label(re.compile("^First name")).fill(first_name)
    page.check("#ccb-consent")
    page.get_by_role("button", name="Sign up").click()
    page.wait_for_url(f"**/forms/{form_id}/thanks")
    assert page.inner_text("#ccb-thanks") == "Thank you for signing up."


def _reload_until(page: Any, locator: Any, serve: ServeProcess, seconds: float = 60) -> None:
    """Reload until ``locator`` is on the page (the worker delivers in the background)."""
    deadline = time.monotonic() + seconds
    while True:
        page.reload()
        if locator.count() == 1 or time.monotonic() > deadline:
            break
        page.wait_for_timeout(250)
    assert locator.count() == 1, serve.log()


def test_setup_sign_in_connect_and_see_the_account_active(
    browser: Any, serve: ServeProcess
) -> None:
    match = re.search(r"(http://\S+/setup\?code=\S+)", serve.log())
    assert match, serve.log()
    context = browser.new_context()
    page = context.new_page()
    page.goto(match.group(1))
    assert BANNER in page.inner_text("#sandbox-banner")
    page.fill("#username", ADMIN)
    page.fill("#password", PASSWORD)
    page.fill("#password_again", PASSWORD)
    page.click("button:has-text('Create admin')")
    page.wait_for_url(serve.url + "/")
    assert page.inner_text("h1") == "Overview"
    assert BANNER in page.inner_text("#sandbox-banner")
    cookie = next(c for c in context.cookies() if c["name"] == "ccbridge_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"
    # Sign out and in again with the new password.
    page.click("button:has-text('Sign out')")
    page.wait_for_url(serve.url + "/login?notice=signed_out")
    _sign_in(page, serve.url)

    page.click("nav >> text=Linked accounts")
    page.wait_for_url(serve.url + "/accounts")
    page.fill("#app_reference", "browser-tenant")
    page.click("#connect")
    # The sandbox's sign-in page, served on the same port under CC's OAuth path.
    page.wait_for_url("**/oauth2/default/v1/authorize**")
    page.fill("#email", "owner@sandbox.example")
    page.fill("#password", "sandbox")
    page.click("button:has-text('Sign in')")
    page.click("button:has-text('Allow')")
    page.wait_for_url(f"{serve.url}/accounts/*?notice=linked")
    assert page.inner_text("#account-status") == "active"
    assert "The account is linked." in page.content()

    page.click("nav >> text=Linked accounts")
    page.wait_for_url(serve.url + "/accounts")
    row = page.locator("tr.account")
    assert row.count() == 1
    assert row.get_attribute("data-status") == "active"
    assert "browser-tenant" in row.inner_text() and "Sandbox Bakery" in row.inner_text()

    # A signup form for the account's "General Interest" list, made in the dashboard
    # (README step 4): the account is the only one, so it is chosen; its lists come from CC.
    form_id = _create_form_in_dashboard(page, serve.url)
    # Sign up on the hosted page, opened from the form's page: nothing copied (README step 5).
    page.click("#hosted-link")
    page.wait_for_url(f"{serve.url}/forms/{form_id}")
    assert BANNER in page.inner_text("#sandbox-banner")
    _fill_and_submit(page, form_id, "walk-through@example.com", "Wanda")

    # The worker delivers it; the contact appears at CC (README step 6).
    page.goto(serve.url + "/accounts")
    page.locator("tr.account a").click()
    page.click("#contacts-link")
    contact = page.locator('tr.contact[data-email="walk-through@example.com"]')
    _reload_until(page, contact, serve)
    assert contact.locator("td.permission").inner_text() == "explicit"
    assert "General Interest" in contact.inner_text() and "Wanda" in contact.inner_text()
    # The form's page shows the submission delivered, with its consent evidence.
    page.goto(f"{serve.url}/forms/admin/{form_id}")
    row = page.locator('tr.submission[data-email="walk-through@example.com"]')
    assert row.get_attribute("data-status") == "delivered"
    row.locator("summary").click()
    assert "Yes, send me the newsletter." in row.inner_text()
    context.close()


def test_a_dead_letter_is_retried_with_the_dashboards_button(
    browser: Any, serve: ServeProcess
) -> None:
    _create_admin(serve)
    context = browser.new_context()
    page = context.new_page()
    _sign_in(page, serve.url)
    _connect(page, serve.url)
    form_id = _create_form_in_dashboard(page, serve.url)
    # CC refuses every signup for now (a deleted list, say): the delivery becomes a dead letter.
    fault = httpx.post(
        serve.url + "/_sandbox/faults",
        json={
            "match": {"method": "POST", "path": "^/v3/contacts/sign_up_form"},
            "action": {"status": 400, "error_message": "The list does not exist."},
        },
    )
    assert fault.status_code == 201, fault.text
    visitor = browser.new_context().new_page()
    visitor.goto(f"{serve.url}/forms/{form_id}")
    _fill_and_submit(visitor, form_id, "refused@example.com", "Rita")
    page.goto(f"{serve.url}/forms/admin/{form_id}")
    dead = page.locator('tr.dead[data-email="refused@example.com"]')
    _reload_until(page, dead, serve)
    assert "The list does not exist." in dead.locator("td.reason").inner_text()
    # The cause is fixed; the admin presses Retry and the signup reaches CC.
    assert httpx.delete(serve.url + "/_sandbox/faults").status_code in (200, 204)
    dead.get_by_role("button", name="Retry").click()
    page.wait_for_url(f"**/forms/admin/{form_id}?notice=retried&n=1#dead-letters")
    assert "1 dead letter put back in line for delivery." in page.inner_text("p.notice")
    delivered = page.locator(
        'tr.submission[data-email="refused@example.com"][data-status="delivered"]'
    )
    _reload_until(page, delivered, serve)
    assert page.locator("tr.dead").count() == 0
    context.close()


def test_forged_posts_are_refused(browser: Any, serve: ServeProcess) -> None:
    _create_admin(serve)
    context = browser.new_context()
    page = context.new_page()
    _sign_in(page, serve.url)
    # 1. A POST carrying the signed-in session cookie but no CSRF token.
    forged = context.request.post(serve.url + "/accounts/connect", form={"app_reference": "evil"})
    assert forged.status == 403
    assert "CSRF" in forged.text()
    # 2. A form on another site that posts to the dashboard: refused, nothing started.
    attacker = context.new_page()
    attacker.set_content(
        f'<form method="post" action="{serve.url}/logout"><button id="go">win a prize</button></form>'
    )
    attacker.click("#go")
    attacker.wait_for_load_state()
    assert "Form refused" in attacker.content()
    # The admin is still signed in: the forged logout did nothing.
    page.goto(serve.url + "/accounts")
    assert page.url == serve.url + "/accounts"
    assert page.inner_text("h1") == "Linked accounts"
    context.close()
