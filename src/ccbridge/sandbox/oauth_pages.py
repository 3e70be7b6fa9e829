"""The HTML a person sees while authorizing an app against the sandbox.

CC's real sign-in and consent screens are hosted by CC; the sandbox needs stand-ins that a
developer can click through in a browser and that tests can drive by posting the forms.
The pages are deliberately plain: no scripts, no external assets, every value escaped, and
a banner on each one so nobody mistakes the sandbox for Constant Contact.

These functions only build strings; the routes in ``oauth_server`` decide which page to
show and handle what the forms post back.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from html import escape

BANNER = "SANDBOX — not connected to Constant Contact"

ACTION_FIELD = "sandbox_action"
"""Hidden field telling the POST handler which form was submitted (login, consent, ...)."""

NONCE_FIELD = "sandbox_nonce"
"""Hidden per-page nonce: a consent post is accepted only with a nonce this sandbox issued."""

SCOPE_DESCRIPTIONS = {
    "contact_data": "Read and change your contacts, lists, tags, custom fields and segments",
    "campaign_data": "Read, create and send your email campaigns, and read their reports",
    "account_read": "Read your account details",
    "account_update": "Change your account details",
    "billing_data": "Read your billing information",
    "offline_access": "Keep access when you are not using the app (a refresh token)",
    "openid": "Confirm your identity to the app",
    "profile": "Share your name and login email with the app",
}

_STYLE = """
body { font-family: system-ui, sans-serif; max-width: 34rem; margin: 0 auto; padding: 0 1rem 2rem; }
.banner { background: #ffd84d; color: #222; font-weight: bold; padding: .6rem 1rem;
  margin: 0 -1rem 1.5rem; text-align: center; }
.error { background: #fde2e1; border: 1px solid #d33; padding: .6rem; }
label { display: block; margin: .8rem 0 .2rem; }
input[type=email], input[type=password], input[type=text] { width: 100%; padding: .4rem; }
button { margin: 1rem .5rem 0 0; padding: .5rem 1.2rem; }
.muted { color: #666; font-size: .9rem; }
"""


def _e(value: object) -> str:
    return escape(str(value), quote=True)


def layout(title: str, body: str) -> str:
    """A complete page: the sandbox banner, a heading and ``body`` (already-escaped HTML)."""
    return (
        "<!doctype html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(title)} · ccbridge sandbox</title><style>{_STYLE}</style></head>\n"
        f'<body><div class="banner" role="banner">{_e(BANNER)}</div>\n'
        f"<h1>{_e(title)}</h1>\n{body}\n</body></html>\n"
    )


def hidden_inputs(fields: Mapping[str, str]) -> str:
    return "".join(
        f'<input type="hidden" name="{_e(name)}" value="{_e(value)}">'
        for name, value in fields.items()
    )


def _error_block(error: str | None) -> str:
    return f'<p class="error" role="alert">{_e(error)}</p>' if error else ""


def login_page(
    *,
    action_url: str,
    hidden: Mapping[str, str],
    app_name: str,
    email: str = "",
    error: str | None = None,
) -> str:
    """Ask for the login of a sandbox account (created with ``POST /_sandbox/accounts``)."""
    body = (
        f"<p><strong>{_e(app_name)}</strong> wants to connect to a sandbox account. "
        "Sign in with the login email and password of a sandbox account.</p>"
        f"{_error_block(error)}"
        f'<form method="post" action="{_e(action_url)}">'
        f"{hidden_inputs(hidden)}"
        '<label for="email">Login email</label>'
        f'<input type="email" id="email" name="email" value="{_e(email)}" required autofocus>'
        '<label for="password">Password</label>'
        '<input type="password" id="password" name="password" required>'
        '<button type="submit">Sign in</button>'
        "</form>"
    )
    return layout("Sign in to the sandbox", body)


def consent_page(
    *,
    action_url: str,
    hidden: Mapping[str, str],
    logout_hidden: Mapping[str, str],
    app_name: str,
    account_label: str,
    scopes: Iterable[str],
    error: str | None = None,
) -> str:
    """List what the app asks for, with Allow and Deny, and a way to switch accounts."""
    items = "".join(
        f"<li><code>{_e(scope)}</code> — {_e(SCOPE_DESCRIPTIONS.get(scope, scope))}</li>"
        for scope in scopes
    )
    body = (
        f"<p><strong>{_e(app_name)}</strong> asks for access to the sandbox account "
        f"<strong>{_e(account_label)}</strong>:</p>"
        f"<ul>{items}</ul>"
        f"{_error_block(error)}"
        f'<form method="post" action="{_e(action_url)}">'
        f"{hidden_inputs(hidden)}"
        '<button type="submit" name="decision" value="allow">Allow</button>'
        '<button type="submit" name="decision" value="deny">Deny</button>'
        "</form>"
        f'<form method="post" action="{_e(action_url)}">'
        f"{hidden_inputs(logout_hidden)}"
        '<p class="muted">Not this account? <button type="submit">Sign in as someone else'
        "</button></p></form>"
    )
    return layout("Allow access?", body)


def error_page(title: str, message: str) -> str:
    """Shown when the sandbox must not redirect back to the app (bad client or redirect_uri)."""
    body = (
        f'<p class="error" role="alert">{_e(message)}</p>'
        '<p class="muted">The sandbox did not redirect back to the application because it could '
        "not trust the request's client_id or redirect_uri.</p>"
    )
    return layout(title, body)


def device_code_page(*, action_url: str, user_code: str = "", error: str | None = None) -> str:
    """Where a person types the code a device (or CLI) showed them."""
    body = (
        "<p>Enter the code shown on your device.</p>"
        f"{_error_block(error)}"
        f'<form method="post" action="{_e(action_url)}">'
        f"{hidden_inputs({ACTION_FIELD: 'code'})}"
        '<label for="user_code">Code</label>'
        f'<input type="text" id="user_code" name="user_code" value="{_e(user_code)}" '
        'autocomplete="off" required autofocus>'
        '<button type="submit">Continue</button>'
        "</form>"
    )
    return layout("Connect a device", body)


def device_done_page(*, app_name: str, approved: bool) -> str:
    if approved:
        message = f"{app_name} is now connected. You can return to your device."
        title = "Device connected"
    else:
        message = f"You denied access to {app_name}. You can close this page."
        title = "Access denied"
    return layout(title, f"<p>{_e(message)}</p>")
