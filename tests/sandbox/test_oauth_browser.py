"""The sandbox's sign-in and consent pages, driven the way a browser would drive them.

The driving helpers (form parsing, signing in, consenting, exchanging a code) live in
``ccbridge.testing.oauth_flow``, where the other ``test_oauth_*`` modules and users' own
suites find them: they post exactly what a browser posts when a person fills in the forms,
hidden fields included, and follow redirects by hand so each step can be checked.
"""

from __future__ import annotations

import httpx

from ccbridge.sandbox import Sandbox, SandboxTransport
from ccbridge.sandbox.state import AccountData, App
from ccbridge.testing.oauth_flow import (
    AUTHORIZE,
    BANNER,
    DEVICE_AUTHORIZE,
    LOGIN_EMAIL,
    PASSWORD,
    REVOKE,
    TOKEN,
    authorize_params,
    follow,
    form_of,
    forms_of,
    sign_in,
    submit,
)


# -- the pages themselves ----------------------------------------------------------------
def test_first_authorize_shows_login_page_with_banner_and_hidden_params(
    cc_raw: httpx.Client, cc_app: App, cc_account: AccountData
) -> None:
    params = authorize_params(cc_app)
    page = cc_raw.get(AUTHORIZE, params=params)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert page.headers["cache-control"] == "no-store"
    assert BANNER in page.text
    form = form_of(page, "login")
    assert form.action == AUTHORIZE
    for name, value in params.items():
        assert form.fields[name] == value
    assert form.fields["sandbox_nonce"]


def test_wrong_password_shows_login_again_without_a_session(
    cc_raw: httpx.Client, cc_app: App, cc_account: AccountData
) -> None:
    page = cc_raw.get(AUTHORIZE, params=authorize_params(cc_app))
    response = submit(cc_raw, page, "login", email=LOGIN_EMAIL, password="wrong")
    assert response.status_code == 401
    assert "incorrect" in response.text
    assert "set-cookie" not in response.headers
    assert form_of(response, "login").fields["email"] == LOGIN_EMAIL
    assert "wrong" not in response.text  # the password is never echoed


def test_login_sets_session_so_second_authorize_goes_straight_to_consent(
    cc_raw: httpx.Client, cc_app: App, cc_account: AccountData
) -> None:
    page = cc_raw.get(AUTHORIZE, params=authorize_params(cc_app))
    submitted = submit(cc_raw, page, "login", email=LOGIN_EMAIL, password=PASSWORD)
    assert submitted.status_code == 303
    cookie = submitted.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    consent_page = follow(cc_raw, submitted)
    assert BANNER in consent_page.text
    assert "contact_data" in consent_page.text and LOGIN_EMAIL in consent_page.text
    buttons = form_of(consent_page, "consent").buttons
    assert ("decision", "allow") in buttons and ("decision", "deny") in buttons

    again = cc_raw.get(AUTHORIZE, params=authorize_params(cc_app, scope="campaign_data"))
    assert again.status_code == 200
    assert [f.kind for f in forms_of(again.text)] == ["consent", "logout"]
    assert "campaign_data" in again.text


def test_logout_form_forgets_the_session(
    cc_raw: httpx.Client, cc_app: App, cc_account: AccountData
) -> None:
    page = sign_in(cc_raw, cc_raw.get(AUTHORIZE, params=authorize_params(cc_app)))
    logged_out = submit(cc_raw, page, "logout")
    assert "Max-Age=0" in logged_out.headers["set-cookie"]
    assert form_of(logged_out, "login")
    assert form_of(cc_raw.get(AUTHORIZE, params=authorize_params(cc_app)), "login")


def test_unknown_client_id_is_an_error_page_not_a_redirect(
    cc_raw: httpx.Client, cc_app: App
) -> None:
    response = cc_raw.get(AUTHORIZE, params=authorize_params(cc_app, client_id="nobody"))
    assert response.status_code == 400
    assert "location" not in response.headers
    assert BANNER in response.text and "nobody" in response.text


def test_redirect_uri_mismatch_is_an_error_page_never_a_redirect(
    cc_raw: httpx.Client, cc_app: App
) -> None:
    for uri in (
        "http://127.0.0.1:8765/callback/",  # one character off
        "http://evil.example/callback",
        "http://127.0.0.1:8765/callback?x=1",
    ):
        response = cc_raw.get(AUTHORIZE, params=authorize_params(cc_app, redirect_uri=uri))
        assert response.status_code == 400, uri
        assert "location" not in response.headers
        assert "not registered" in response.text


def test_missing_redirect_uri_is_an_error_page(cc_raw: httpx.Client, cc_app: App) -> None:
    response = cc_raw.get(AUTHORIZE, params=authorize_params(cc_app, redirect_uri=None))
    assert response.status_code == 400
    assert "location" not in response.headers
    assert "redirect_uri" in response.text


def test_page_values_are_html_escaped(
    cc_sandbox: Sandbox, cc_raw: httpx.Client, cc_app: App, cc_account: AccountData
) -> None:
    cc_app.name = "<script>alert(1)</script>"
    state = '"><img src=x onerror=alert(1)>'
    page = cc_raw.get(AUTHORIZE, params=authorize_params(cc_app, state=state))
    assert "<script>alert(1)</script>" not in page.text
    assert "&lt;script&gt;" in page.text
    assert "<img" not in page.text
    assert form_of(page, "login").fields["state"] == state  # survives the round trip intact
    bad = cc_raw.get(AUTHORIZE, params=authorize_params(cc_app, client_id="<b>x</b>"))
    assert "<b>x</b>" not in bad.text and "&lt;b&gt;x&lt;/b&gt;" in bad.text


def test_consent_without_the_pages_nonce_is_refused(
    cc_raw: httpx.Client, cc_app: App, cc_account: AccountData
) -> None:
    params = authorize_params(cc_app)
    page = sign_in(cc_raw, cc_raw.get(AUTHORIZE, params=params))
    form = form_of(page, "consent")
    forged = {**form.fields, "sandbox_nonce": "1.deadbeef", "decision": "allow"}
    response = cc_raw.post(AUTHORIZE, data=forged)
    assert response.status_code == 400
    assert "location" not in response.headers
    assert "expired" in response.text
    # A nonce rendered for another request (other scopes) does not fit this one either.
    other = cc_raw.get(AUTHORIZE, params={**params, "scope": "campaign_data"})
    mixed = {**form.fields, "decision": "allow"}
    mixed["sandbox_nonce"] = form_of(other, "consent").fields["sandbox_nonce"]
    assert cc_raw.post(AUTHORIZE, data=mixed).status_code == 400


def test_consent_from_another_browser_without_the_session_asks_for_login(
    cc_sandbox: Sandbox, cc_raw: httpx.Client, cc_app: App, cc_account: AccountData
) -> None:
    page = sign_in(cc_raw, cc_raw.get(AUTHORIZE, params=authorize_params(cc_app)))
    form = form_of(page, "consent")
    with httpx.Client(
        base_url=cc_sandbox.base_url, transport=SandboxTransport(cc_sandbox)
    ) as stranger:
        response = stranger.post(AUTHORIZE, data={**form.fields, "decision": "allow"})
    assert response.status_code == 200
    assert "location" not in response.headers
    assert form_of(response, "login")


def test_authorize_accepts_a_form_post(
    cc_raw: httpx.Client, cc_app: App, cc_account: AccountData
) -> None:
    page = cc_raw.post(AUTHORIZE, data=authorize_params(cc_app))
    assert page.status_code == 200
    assert form_of(page, "login").fields["client_id"] == cc_app.client_id


def test_discovery_metadata_points_at_the_endpoints(
    cc_sandbox: Sandbox, cc_raw: httpx.Client
) -> None:
    base = cc_sandbox.base_url
    for path in (
        "/.well-known/openid-configuration",
        "/oauth2/default/.well-known/openid-configuration",
        "/oauth2/default/.well-known/oauth-authorization-server",
    ):
        meta = cc_raw.get(path).json()
        assert meta["issuer"] == cc_sandbox.issuer.issuer
        assert meta["authorization_endpoint"] == base + AUTHORIZE
        assert meta["token_endpoint"] == base + TOKEN
        assert meta["revocation_endpoint"] == base + REVOKE
        assert meta["device_authorization_endpoint"] == base + DEVICE_AUTHORIZE
        assert meta["code_challenge_methods_supported"] == ["S256"]
        keys = cc_raw.get(meta["jwks_uri"].removeprefix(base)).json()
        assert keys["keys"][0]["kid"]
