"""The connect flow end to end against the embedded sandbox, as a browser drives it.

Dashboard Connect → the sandbox's sign-in and consent pages (served by the service on the
same port) → the callback → the account listed as active; plus the refusals (deny, a
replayed callback, a callback in another browser), Reconnect after the owner revoked
access, disconnect, and bulk activities with their progress.
"""

from __future__ import annotations

import re
from typing import Any

from ccbridge.service import Service
from tests.web.support import client_for, connect_account, csrf_of, local, sandbox_consent, sign_in


def test_connect_links_the_sandbox_account_as_active(service: Service, client: Any) -> None:
    sign_in(client, service)
    account_id = connect_account(client, service, app_reference="tenant-42")
    page = client.get(f"/accounts/{account_id}?notice=linked")
    assert page.status_code == 200
    assert 'id="account-status">active<' in page.text
    assert "The account is linked." in page.text
    listing = client.get("/accounts")
    assert re.search(r'<tr class="account" data-status="active">', listing.text)
    assert "Sandbox Bakery" in listing.text and "tenant-42" in listing.text
    account = service.accounts.get(account_id)
    assert account.status == "active" and account.app_reference == "tenant-42"
    assert "offline_access" in account.scopes
    # The linked account works: its client reaches the sandbox in-process.
    with service.client(account_id) as cc:
        summary = cc.account.get_account_by_id()
    assert summary["organization_name"] == "Sandbox Bakery"


def test_denied_consent_links_nothing(service: Service, client: Any) -> None:
    sign_in(client, service)
    started = client.post(
        "/accounts/connect", data={"csrf_token": csrf_of(client.get("/accounts").text)}
    )
    back = sandbox_consent(client, started.headers["location"], service, decision="deny")
    page = client.get(local(back.headers["location"]))
    assert page.status_code == 400
    assert "not allowed" in page.text
    assert service.accounts.list() == []


def test_replayed_callback_is_refused(service: Service, client: Any) -> None:
    sign_in(client, service)
    started = client.post(
        "/accounts/connect", data={"csrf_token": csrf_of(client.get("/accounts").text)}
    )
    back = sandbox_consent(client, started.headers["location"], service)
    callback = local(back.headers["location"])
    assert client.get(callback).status_code == 303
    replay = client.get(callback)
    assert replay.status_code == 400
    assert "already used" in replay.text
    assert len(service.accounts.list()) == 1


def test_callback_in_another_browser_is_refused(service: Service, client: Any) -> None:
    sign_in(client, service)
    started = client.post(
        "/accounts/connect", data={"csrf_token": csrf_of(client.get("/accounts").text)}
    )
    back = sandbox_consent(client, started.headers["location"], service)
    with client_for(service) as other_browser:
        other_browser.get("/login")  # it has a session, just not the one that started the flow
        response = other_browser.get(local(back.headers["location"]))
    assert response.status_code == 400
    assert "another browser session" in response.text
    assert service.accounts.list() == []


def test_tampered_state_is_refused(service: Service, client: Any) -> None:
    sign_in(client, service)
    response = client.get("/connect/callback?state=made-up&code=whatever")
    assert response.status_code == 400
    assert "state is unknown" in response.text


def test_reconnect_after_the_owner_revoked_access(service: Service, client: Any) -> None:
    sign_in(client, service)
    account_id = connect_account(client, service)
    # The owner withdraws the app's access at CC: every refresh token of the grant dies.
    assert service.sandbox is not None and service.sandbox.sandbox is not None
    for record in service.sandbox.sandbox.state.refresh_tokens.values():
        record.revoked = True
    try:
        service.accounts.refresh(account_id)
    except Exception as exc:
        assert type(exc).__name__ == "NeedsReauthError"
    assert service.accounts.get(account_id).status == "needs_reauth"
    listing = client.get("/accounts")
    assert 'data-status="needs_reauth"' in listing.text
    assert ">Reconnect</button>" in listing.text
    # Reconnect: the same flow, same app reference, the same linked account comes back.
    relinked = connect_account(client, service)
    assert relinked == account_id
    assert service.accounts.get(account_id).status == "active"


def test_disconnect_revokes_and_deletes_the_tokens(service: Service, client: Any) -> None:
    sign_in(client, service)
    account_id = connect_account(client, service)
    page = client.get(f"/accounts/{account_id}")
    forged = client.post(f"/accounts/{account_id}/disconnect", data={})
    assert forged.status_code == 403
    response = client.post(
        f"/accounts/{account_id}/disconnect", data={"csrf_token": csrf_of(page.text)}
    )
    assert response.status_code == 303
    account = service.accounts.get(account_id)
    assert account.status == "disconnected" and not account.has_tokens
    assert service.sandbox is not None and service.sandbox.sandbox is not None
    assert all(r.revoked for r in service.sandbox.sandbox.state.refresh_tokens.values())


def test_unknown_account_page_is_404(service: Service, client: Any) -> None:
    sign_in(client, service)
    assert client.get("/accounts/00000000-0000-0000-0000-000000000000").status_code == 404


def test_activities_page_shows_cc_bulk_activities_with_progress(
    service: Service, client: Any
) -> None:
    sign_in(client, service)
    assert "No active linked account" in client.get("/activities").text
    account_id = connect_account(client, service)
    with service.client(account_id) as cc:
        list_id = cc.contact_lists.get_lists()["lists"][0]["list_id"]
        activity = cc.bulk_activities.post_list_add_contact(
            body={"source": {"all_active_contacts": True}, "list_ids": [list_id]}
        )
    page = client.get("/activities")
    assert page.status_code == 200
    assert activity["activity_id"] in page.text
    # The sandbox moves activities along on its clock, so any state of the machine is valid.
    assert re.search(r'data-state="(initialized|processing|completed)"', page.text)
    assert '<progress max="100"' in page.text


def test_budget_page_counts_calls_of_the_client_id(service: Service, client: Any) -> None:
    sign_in(client, service)
    account_id = connect_account(client, service)
    before = service.budget().used
    with service.client(account_id) as cc:
        for _ in range(3):
            cc.account.get_account_by_id()
    assert service.budget().used == before + 3
    page = client.get("/budget")
    assert f"{before + 3} of 10000 requests used" in page.text


def test_contacts_page_shows_what_cc_holds(service: Service, client: Any) -> None:
    sign_in(client, service)
    account_id = connect_account(client, service)
    with service.client(account_id) as cc:
        list_id = cc.contact_lists.get_lists()["lists"][0]["list_id"]
        cc.contacts.create_or_update_contact(
            body={
                "email_address": "signup@example.com",
                "first_name": "Sig",
                "list_memberships": [list_id],
            }
        )
    page = client.get(f"/accounts/{account_id}/contacts")
    assert page.status_code == 200
    row = re.search(
        r'<tr class="contact" data-email="signup@example.com">(.*?)</tr>', page.text, re.S
    )
    assert row, page.text
    assert "General Interest" in row.group(1)
    assert "explicit" in row.group(1)  # sign_up_form gives explicit permission
