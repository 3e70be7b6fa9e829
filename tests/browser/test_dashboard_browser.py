"""The dashboard in a real browser against ``ccbridge serve`` started for real, the way
the README walks a newcomer through it: the one-time setup link → the first admin →
dashboard → Connect → the sandbox's sign-in and consent → callback → the account listed
as active → a signup form (``ccbridge forms create``) → the hosted form submitted → the
contact at (the sandbox's) CC with explicit permission; plus sign-out and sign-in, and
forged POSTs refused by the CSRF check."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

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

    # A signup form for the account's "General Interest" list (README step 4).
    row.locator("a").click()
    account_id = page.url.rsplit("/", 1)[-1]
    page.click("#contacts-link")
    list_row = page.locator("tr.list", has_text="General Interest")
    list_id = list_row.locator("code").inner_text()
    extra = serve.data_dir.parent / "form.json"
    # A person takes seconds to fill a form; this one is a robot, so no minimum fill time.
    extra.write_text(json.dumps({"min_fill_seconds": 0}))
    created = run_cli(
        [
            "forms",
            "create",
            "--account",
            account_id,
            "--list",
            list_id,
            "--name",
            "Newsletter",
            "--consent-text",
            "Yes, send me the newsletter.",
            "--field",
            "first_name",
            "--from-json",
            str(extra),
        ],
        serve.env,
    )
    assert created.returncode == 0, created.stderr
    form_id = json.loads(created.stdout)["id"]

    # Someone signs up on the hosted page (README step 5).
    visitor = browser.new_context().new_page()
    visitor.goto(f"{serve.url}/forms/{form_id}")
    visitor.get_by_label(re.compile("^Email")).fill("walk-through@example.com")
    visitor.get_by_label(re.compile("^First name")).fill("Wanda")
    visitor.check("#ccb-consent")
    visitor.get_by_role("button", name="Sign up").click()
    visitor.wait_for_url(f"**/forms/{form_id}/thanks")

    # The worker delivers it; the contact appears at CC (README step 6).
    contact = page.locator('tr.contact[data-email="walk-through@example.com"]')
    deadline = time.monotonic() + 60
    while True:
        page.goto(f"{serve.url}/accounts/{account_id}/contacts")
        if contact.count() == 1 or time.monotonic() > deadline:
            break
        page.wait_for_timeout(250)
    assert contact.count() == 1, serve.log()
    assert contact.locator("td.permission").inner_text() == "explicit"
    assert "General Interest" in contact.inner_text() and "Wanda" in contact.inner_text()
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
