"""Driving the sandbox's sign-in and consent pages the way a person's browser does.

A test of an OAuth integration needs someone to log in and press Allow. These helpers do
exactly what a browser does with the sandbox's pages: read the forms, post them back with
their hidden fields plus what the person typed, and follow each redirect by hand so every
step can be checked. They work on any httpx client reaching the sandbox (the ``cc_raw``
fixture, a client on ``serve_sandbox``'s URL, or a Starlette ``TestClient`` of an app that
mounts the sandbox). The defaults match the plugin's ``cc_app`` and ``cc_account``.

    code = get_code(cc_raw, cc_app)             # sign in, Allow, read the callback
    tokens = exchange(cc_raw, cc_app, code).json()
    callback_url = approve(browser, authorization_url_from_your_code)
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from ccbridge.sandbox.state import App

AUTHORIZE = "/oauth2/default/v1/authorize"
TOKEN = "/oauth2/default/v1/token"
REVOKE = "/oauth2/default/v1/revoke"
DEVICE_AUTHORIZE = "/oauth2/default/v1/device/authorize"
DEVICE_PAGE = "/oauth2/default/v1/device"
REDIRECT_URI = "http://127.0.0.1:8765/callback"  # what the plugin's ``cc_app`` registers
LOGIN_EMAIL = "owner@example.com"  # the plugin's ``cc_account``
PASSWORD = "sandbox-password"
BANNER = "SANDBOX — not connected to Constant Contact"
DEFAULT_SCOPE = "contact_data account_read offline_access"


@dataclass
class Form:
    """One ``<form>`` of a sandbox page: where it posts, its inputs and its buttons."""

    action: str
    method: str
    fields: dict[str, str] = field(default_factory=dict)
    buttons: list[tuple[str, str]] = field(default_factory=list)

    @property
    def kind(self) -> str | None:
        """The form's hidden ``sandbox_action``: login, consent, logout or code."""
        return self.fields.get("sandbox_action")


class _FormParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.forms: list[Form] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.forms.append(Form(action=a.get("action", ""), method=a.get("method", "get")))
        elif tag == "input" and self.forms and a.get("name"):
            self.forms[-1].fields[a["name"]] = a.get("value", "")
        elif tag == "button" and self.forms and a.get("name"):
            self.forms[-1].buttons.append((a["name"], a.get("value", "")))


def forms_of(html: str) -> list[Form]:
    """Every form on a page, in order."""
    parser = _FormParser()
    parser.feed(html)
    return parser.forms


def form_of(response: httpx.Response, kind: str) -> Form:
    """The form whose hidden ``sandbox_action`` is ``kind`` (login, consent, logout, code)."""
    matches = [f for f in forms_of(response.text) if f.kind == kind]
    assert matches, f"no '{kind}' form on the page (status {response.status_code})"
    return matches[0]


def submit(
    client: httpx.Client, response: httpx.Response, kind: str, **values: str
) -> httpx.Response:
    """Post a page's form as a browser would: its own fields plus what the person entered."""
    form = form_of(response, kind)
    assert form.method.lower() == "post", f"the '{kind}' form is sent with {form.method}"
    return client.post(form.action, data={**form.fields, **values})


def follow(client: httpx.Client, response: httpx.Response) -> httpx.Response:
    """GET where a 302/303 points, as a browser does after a form post."""
    assert response.status_code in (302, 303), response.text
    return client.get(response.headers["location"])


def authorize_params(app: App, **overrides: str | None) -> dict[str, str]:
    """Query parameters of an authorization request; an override of ``None`` leaves one out."""
    params: dict[str, str | None] = {
        "client_id": app.client_id,
        "redirect_uri": REDIRECT_URI,
        "response_type": "code",
        "scope": DEFAULT_SCOPE,
        "state": "st-" + secrets.token_hex(4),
        **overrides,
    }
    return {k: v for k, v in params.items() if v is not None}


def sign_in(
    client: httpx.Client, page: httpx.Response, email: str = LOGIN_EMAIL, password: str = PASSWORD
) -> httpx.Response:
    """Fill in the login form; returns the page shown after the sign-in redirect."""
    response = submit(client, page, "login", email=email, password=password)
    assert response.status_code == 303, response.text
    return follow(client, response)


def decide(
    client: httpx.Client,
    page: httpx.Response,
    decision: str = "allow",
    *,
    email: str = LOGIN_EMAIL,
    password: str = PASSWORD,
) -> httpx.Response:
    """On an authorization page, sign in if asked, then press Allow (or ``"deny"``).

    Returns the sandbox's 303 redirect to the application's redirect URI.
    """
    if any(f.kind == "login" for f in forms_of(page.text)):
        page = sign_in(client, page, email, password)
    response = submit(client, page, "consent", decision=decision)
    assert response.status_code == 303, response.text
    return response


def consent(
    client: httpx.Client,
    params: dict[str, str],
    decision: str = "allow",
    *,
    email: str = LOGIN_EMAIL,
    password: str = PASSWORD,
) -> httpx.Response:
    """Start an authorization, sign in if asked, press Allow/Deny; returns the final redirect."""
    page = client.get(AUTHORIZE, params=params)
    assert page.status_code == 200, page.text
    return decide(client, page, decision, email=email, password=password)


def approve(
    client: httpx.Client,
    authorize_url: str,
    *,
    decision: str = "allow",
    email: str = LOGIN_EMAIL,
    password: str = PASSWORD,
) -> str:
    """Open an authorization URL your code built, sign in, press Allow (or Deny).

    Returns the URL the sandbox redirects the browser to: hand it to your callback.
    """
    page = client.get(authorize_url)
    assert page.status_code == 200, page.text
    response = decide(client, page, decision, email=email, password=password)
    return str(response.headers["location"])


def callback(response: httpx.Response, redirect_uri: str = REDIRECT_URI) -> dict[str, str]:
    """The parameters the sandbox sent back on the redirect URI (query or fragment)."""
    location = response.headers["location"]
    parts = urlsplit(location)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == redirect_uri, location
    raw = parts.fragment or parts.query
    return {k: v[0] for k, v in parse_qs(raw, keep_blank_values=True).items()}


def get_code(client: httpx.Client, app: App, **overrides: str | None) -> str:
    """An authorization code for ``app``: authorize, sign in, Allow, check ``state``."""
    params = authorize_params(app, **overrides)
    values = callback(consent(client, params))
    assert values["state"] == params["state"], "the state came back changed"
    return values["code"]


def basic(app: App) -> tuple[str, str]:
    """The client's credentials for HTTP Basic authentication at the token endpoint."""
    return (app.client_id, app.client_secret)


def exchange(client: httpx.Client, app: App, code: str, **extra: str) -> httpx.Response:
    """Trade ``code`` for tokens at the token endpoint (``extra`` adds or replaces fields)."""
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI}
    return client.post(TOKEN, data={**data, **extra}, auth=basic(app))


def pkce_pair() -> tuple[str, str]:
    """A PKCE ``(code_verifier, S256 code_challenge)`` pair."""
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    return verifier, challenge.rstrip(b"=").decode()


def tokens_via_code_flow(
    client: httpx.Client, app: App, scope: str = DEFAULT_SCOPE
) -> dict[str, Any]:
    """The token response at the end of the whole authorization-code flow."""
    response = exchange(client, app, get_code(client, app, scope=scope))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body
