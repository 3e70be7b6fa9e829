"""The control plane under ``/_sandbox/``: set up, inspect and misdirect the sandbox.

Only tests and developers use it; CC has nothing like it. Bodies are JSON objects; a bad
body is refused with 400 naming the field, an unknown id with 404, a duplicate with 409.
Errors use ``{"error", "message"}`` so they are never mistaken for CC's own. Two small
HTML pages help people trying the sandbox by hand: ``/_sandbox/`` (what is here and how to
start) and ``/_sandbox/callback`` (a redirect URI that shows what the OAuth flow sent).
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
from datetime import UTC, datetime
from html import escape
from typing import Any
from urllib.parse import urlencode

from ccbridge.sandbox.clock import iso, iso_date, parse_iso
from ccbridge.sandbox.faults import FaultSpecError
from ccbridge.sandbox.http import SandboxResponse, html_response, json_response
from ccbridge.sandbox.params import EMAIL_RE
from ccbridge.sandbox.ratelimit import RateLimiter
from ccbridge.sandbox.routing import Context, RouteTable
from ccbridge.sandbox.seed import create_account, create_app
from ccbridge.sandbox.state import SCOPES, App, SandboxSettings

routes = RouteTable()

DEFAULT_PASSWORD = "sandbox"
"""The password of accounts created without one."""

EXTRA_SCOPES = ("offline_access", "openid", "profile")
DEFAULT_GRANT_SCOPE = " ".join([*SCOPES[:4], "offline_access"])
MAX_CLOCK_STEP = 10 * 365 * 86_400.0  # ten years: enough for any expiry, not enough to break dates

_ERROR_NAMES = {400: "bad_request", 404: "not_found", 409: "conflict"}


class ControlError(Exception):
    """Refuse a control-plane request; the message names the field and the problem."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


def _error(message: str, status: int = 400) -> SandboxResponse:
    return json_response({"error": _ERROR_NAMES.get(status, "error"), "message": message}, status)


def _wrap(fn: Any) -> Any:
    """Turn ``ControlError`` into its JSON answer."""

    def handler(ctx: Context) -> Any:
        try:
            return fn(ctx)
        except ControlError as exc:
            return _error(exc.message, exc.status)

    handler.__name__ = fn.__name__
    handler.__doc__ = fn.__doc__
    return handler


# -- reading bodies -----------------------------------------------------------------
class _Body:
    """A JSON object body with typed, named accessors; unknown fields are refused up front."""

    def __init__(self, ctx: Context, allowed: set[str] | frozenset[str]) -> None:
        request = ctx.request
        if request.media_type not in ("application/json", ""):
            raise ControlError(
                f"the control plane takes application/json bodies, not '{request.media_type}'"
            )
        data: Any = {}
        if request.body.strip():
            try:
                data = json.loads(request.body)
            except (ValueError, UnicodeDecodeError) as exc:
                raise ControlError(f"malformed JSON body: {exc}") from None
        if not isinstance(data, dict):
            raise ControlError("the body must be a JSON object")
        unknown = sorted(set(data) - set(allowed))
        if unknown:
            raise ControlError(
                f"unknown field(s): {', '.join(unknown)}; allowed: {', '.join(sorted(allowed))}"
            )
        self.data: dict[str, Any] = data

    def __contains__(self, name: str) -> bool:
        return name in self.data

    def _get(self, name: str, required: bool) -> Any:
        value = self.data.get(name)
        if value is None and required:
            raise ControlError(f"'{name}' is required")
        return value

    def text(self, name: str, *, required: bool = False, default: str | None = None) -> Any:
        value = self._get(name, required)
        if value is None:
            return default
        if not isinstance(value, str):
            raise ControlError(f"'{name}' must be a string")
        if not value.strip():
            raise ControlError(f"'{name}' must not be empty")
        return value

    def flag(self, name: str, *, default: bool) -> bool:
        value = self._get(name, False)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise ControlError(f"'{name}' must be true or false")
        return value

    def number(self, name: str, *, required: bool = False) -> float | None:
        value = self._get(name, required)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ControlError(f"'{name}' must be a number")
        if not math.isfinite(value):
            raise ControlError(f"'{name}' must be a finite number")
        return float(value)

    def text_list(self, name: str, *, default: list[str]) -> list[str]:
        value = self._get(name, False)
        if value is None:
            return list(default)
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ControlError(f"'{name}' must be a list of strings")
        return list(value)


# -- pages --------------------------------------------------------------------------
_ENDPOINTS = {
    "/_sandbox": "this page",
    "/_sandbox/reset": "forget every app, account, token and rule",
    "/_sandbox/apps": "list or register applications (client_ids)",
    "/_sandbox/accounts": "list or create CC accounts (logins)",
    "/_sandbox/grants": "mint a token response without the browser flow",
    "/_sandbox/device/approve": "approve or deny a device-flow user_code",
    "/_sandbox/clock": "read or advance the sandbox clock",
    "/_sandbox/faults": "list, add or clear injected faults",
    "/_sandbox/faults/{rule_id}": "remove one fault rule",
    "/_sandbox/requests": "the request log (secrets redacted)",
    "/_sandbox/settings": "rate limits, lifetimes, activity speed",
    "/_sandbox/usage": "API requests counted today per client_id",
    "/_sandbox/callback": "a redirect URI that shows what the OAuth flow sent",
}
"""What each control-plane path is for; other modules' paths use their handler's docstring."""


def _endpoint_rows(ctx: Context) -> str:
    """Every /_sandbox route the sandbox has, including ones other modules register."""
    methods: dict[str, list[str]] = {}
    purposes: dict[str, str] = {}
    for route in ctx.sandbox.router.routes:
        if not route.path.startswith("/_sandbox"):
            continue
        methods.setdefault(route.path, []).append(route.method)
        doc = (route.handler.__doc__ or "").strip().splitlines()
        purposes.setdefault(route.path, _ENDPOINTS.get(route.path) or (doc[0] if doc else ""))
    return "".join(
        f"<tr><td>{escape(' '.join(sorted(set(methods[path]))))}</td>"
        f"<td><code>{escape(path)}</code></td><td>{escape(purposes[path])}</td></tr>"
        for path in sorted(methods)
    )


_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;"
    "line-height:1.45}code,pre{background:#f3f3f3;padding:.1rem .3rem}pre{padding:.6rem;"
    "overflow-x:auto}table{border-collapse:collapse}td,th{padding:.2rem .8rem .2rem 0;"
    "text-align:left;vertical-align:top}"
)


def _page(title: str, body: str) -> str:
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{escape(title)}'
        f"</title><style>{_STYLE}</style></head><body><h1>{escape(title)}</h1>{body}</body></html>"
    )


def _authorize_link(ctx: Context, app: App) -> str:
    if not app.redirect_uris:
        return "<em>no redirect URI registered</em>"
    query = urlencode(
        {
            "client_id": app.client_id,
            "redirect_uri": app.redirect_uris[0],
            "response_type": "code",
            "scope": DEFAULT_GRANT_SCOPE,
            "state": "try-it-by-hand",
        }
    )
    href = f"{ctx.sandbox.base_url}/oauth2/default/v1/authorize?{query}"
    return f'<a href="{escape(href)}">start the authorization code flow</a>'


def _apps_html(ctx: Context) -> str:
    apps: dict[str, App] = ctx.state.apps
    if not apps:
        return "<p>No applications yet: <code>POST /_sandbox/apps</code>.</p>"
    rows = "".join(
        f"<tr><td><code>{escape(app.client_id)}</code></td><td>{escape(app.name)}</td>"
        f"<td>{'<br>'.join(escape(u) for u in app.redirect_uris)}</td>"
        f"<td>{_authorize_link(ctx, app)}</td></tr>"
        for app in apps.values()
    )
    return (
        "<table><tr><th>client_id</th><th>name</th><th>redirect URIs</th><th>try it</th></tr>"
        f"{rows}</table><p>Client secrets are printed by <code>ccbridge sandbox</code> at start "
        "and returned by <code>POST /_sandbox/apps</code>.</p>"
    )


def _accounts_html(ctx: Context) -> str:
    accounts = ctx.state.accounts
    if not accounts:
        return "<p>No accounts yet: <code>POST /_sandbox/accounts</code>.</p>"
    rows = "".join(
        f"<tr><td>{escape(d.account.login_email)}</td><td>{escape(d.account.organization_name)}"
        f"</td><td><code>{escape(d.account.account_id)}</code></td><td>{len(d.contacts)}</td></tr>"
        for d in accounts.values()
    )
    return (
        "<table><tr><th>login</th><th>organization</th><th>account_id</th><th>contacts</th></tr>"
        f"{rows}</table><p>Sign in with the login and its password (the demo account's is "
        "printed at start; accounts created without one use "
        f"<code>{DEFAULT_PASSWORD}</code>).</p>"
    )


@routes.route("GET", "/_sandbox", "page")
def index(ctx: Context) -> Any:
    """What the sandbox offers, with the registered apps and logins, for a first visit."""
    base = escape(ctx.sandbox.base_url)
    endpoints = _endpoint_rows(ctx)
    body = (
        "<p>A local emulator of Constant Contact's V3 API and its OAuth2 server. Nothing here "
        "talks to Constant Contact.</p>"
        f"<ul><li>API: <code>{base}/v3</code></li>"
        f"<li>OAuth2: <code>{base}/oauth2/default/v1/authorize</code>, <code>/token</code>, "
        "<code>/device/authorize</code>, <code>/keys</code></li></ul>"
        f"<h2>Applications</h2>{_apps_html(ctx)}"
        f"<h2>Accounts</h2>{_accounts_html(ctx)}"
        "<h2>A token without a browser</h2>"
        f"<pre>curl -s -X POST {base}/_sandbox/grants -H 'Content-Type: application/json' \\\n"
        '  -d \'{"client_id": "CLIENT_ID", "account_id": "ACCOUNT_ID"}\'</pre>'
        f"<h2>Control plane</h2><table>{endpoints}</table>"
    )
    return html_response(_page("ccbridge sandbox", body))


@routes.route("GET", "/_sandbox/callback", "page")
def callback(ctx: Context) -> Any:
    """Show what the authorization server sent to the redirect URI (the code is not logged)."""
    req = ctx.request
    base = escape(ctx.sandbox.base_url)
    rows = "".join(
        f"<tr><th>{escape(name)}</th><td><code>{escape(req.q(name) or '')}</code></td></tr>"
        for name in ("code", "state", "error", "error_description")
        if req.q(name) is not None
    )
    if req.q("code"):
        hint = (
            "<p>Exchange the code (single use, valid 5 minutes) for tokens:</p>"
            f"<pre>curl -s -u CLIENT_ID:CLIENT_SECRET {base}/oauth2/default/v1/token \\\n"
            "  -d grant_type=authorization_code \\\n"
            f"  -d code={escape(req.q('code') or '')} \\\n"
            f"  -d redirect_uri={base}/_sandbox/callback</pre>"
        )
    elif req.q("error"):
        hint = "<p>The authorization did not complete.</p>"
    else:
        hint = "<p>Nothing arrived in the query string.</p>"
    # With response_type=token the token is in the URL fragment, which never reaches a server.
    fragment = (
        '<pre id="fragment"></pre><script>var f=location.hash.slice(1);if(f){'
        "document.getElementById('fragment').textContent="
        "'Sent in the URL fragment (implicit flow):\\n'+"
        "f.split('&').map(decodeURIComponent).join('\\n');}</script>"
    )
    response = html_response(_page("OAuth callback", f"<table>{rows}</table>{hint}{fragment}"))
    response.headers.append(("referrer-policy", "no-referrer"))
    return response


# -- state --------------------------------------------------------------------------
@routes.route("POST", "/_sandbox/reset", "control")
def reset(ctx: Context) -> Any:
    ctx.sandbox.reset()
    return json_response({"reset": True})


def _app_json(app: App, *, with_secret: bool) -> dict[str, Any]:
    body: dict[str, Any] = {
        "client_id": app.client_id,
        "name": app.name,
        "redirect_uris": list(app.redirect_uris),
        "refresh_token_mode": app.refresh_token_mode,
        "device_flow": app.device_flow,
    }
    if with_secret:
        body["client_secret"] = app.client_secret
    return body


_APP_FIELDS = frozenset(
    {"name", "redirect_uris", "refresh_token_mode", "device_flow", "client_id", "client_secret"}
)


@routes.route("POST", "/_sandbox/apps", "control")
@_wrap
def create_application(ctx: Context) -> Any:
    """Register an application; the answer is the only place its secret is shown."""
    body = _Body(ctx, _APP_FIELDS)
    name = body.text("name", required=True)
    uris = body.text_list("redirect_uris", default=[])
    for uri in uris:
        if not uri.startswith(("http://", "https://")) or "#" in uri:
            raise ControlError(
                f"'redirect_uris' must hold absolute http(s) URLs without a fragment; got {uri!r}"
            )
    mode = body.text("refresh_token_mode", default="rotating")
    if mode not in ("rotating", "long_lived"):
        raise ControlError("'refresh_token_mode' must be 'rotating' or 'long_lived'")
    client_id = body.text("client_id")
    if client_id is not None and client_id in ctx.state.apps:
        raise ControlError(f"client_id '{client_id}' already exists", 409)
    app = create_app(
        ctx.state,
        ctx.clock.now(),
        name=name,
        redirect_uris=uris,
        refresh_token_mode=mode,
        device_flow=body.flag("device_flow", default=True),
        client_id=client_id,
        client_secret=body.text("client_secret"),
    )
    return json_response(_app_json(app, with_secret=True), 201)


@routes.route("GET", "/_sandbox/apps", "control")
def list_applications(ctx: Context) -> Any:
    apps: dict[str, App] = ctx.state.apps
    return json_response({"apps": [_app_json(a, with_secret=False) for a in apps.values()]})


_ACCOUNT_FIELDS = frozenset(
    {
        "email",
        "password",
        "organization_name",
        "first_name",
        "last_name",
        "account_id",
        "confirmed_opt_in",
    }
)


@routes.route("POST", "/_sandbox/accounts", "control")
@_wrap
def create_sandbox_account(ctx: Context) -> Any:
    """Create an account the way CC provisions one (owner contact, default list, ...)."""
    body = _Body(ctx, _ACCOUNT_FIELDS)
    email = body.text("email", required=True).strip()
    if not EMAIL_RE.match(email):
        raise ControlError(f"'email' is not an email address: {email!r}")
    if ctx.state.account_by_login(email) is not None:
        raise ControlError(f"an account with login {email} already exists", 409)
    account_id = body.text("account_id")
    if account_id is not None and account_id in ctx.state.accounts:
        raise ControlError(f"account_id '{account_id}' already exists", 409)
    password = body.text("password", default=DEFAULT_PASSWORD)
    organization = body.text("organization_name", default="Sandbox Org")
    first_name = body.text("first_name", default="Sandbox")
    last_name = body.text("last_name", default="Owner")
    confirmed_opt_in = body.flag("confirmed_opt_in", default=False)
    data = create_account(
        ctx.state,
        ctx.clock.now(),
        email=email,
        password=password,
        organization_name=organization,
        first_name=first_name,
        last_name=last_name,
        account_id=account_id,
    )
    data.account.confirmed_opt_in = confirmed_opt_in
    return json_response(
        {
            "account_id": data.account.account_id,
            "email": data.account.login_email,
            "organization_name": data.account.organization_name,
            "default_list_id": next(iter(data.lists)),
            "owner_contact_id": data.contact_order[0],
        },
        201,
    )


@routes.route("GET", "/_sandbox/accounts", "control")
def list_accounts(ctx: Context) -> Any:
    return json_response(
        {
            "accounts": [
                {
                    "account_id": d.account.account_id,
                    "email": d.account.login_email,
                    "organization_name": d.account.organization_name,
                    "contacts": len(d.contacts),
                }
                for d in ctx.state.accounts.values()
            ]
        }
    )


def _check_scope(scope: str) -> str:
    words = scope.split()
    if not words:
        raise ControlError("'scope' must name at least one scope")
    bad = [s for s in words if s not in (*SCOPES, *EXTRA_SCOPES)]
    if bad:
        raise ControlError(
            f"'scope' has unknown scope(s): {', '.join(bad)}; "
            f"known: {', '.join([*SCOPES, *EXTRA_SCOPES])}"
        )
    return " ".join(words)


@routes.route("POST", "/_sandbox/grants", "control")
@_wrap
def grant(ctx: Context) -> Any:
    """CC's token response for an app and account, as if the owner had consented."""
    body = _Body(ctx, {"client_id", "account_id", "scope"})
    client_id = body.text("client_id", required=True)
    account_id = body.text("account_id", required=True)
    scope = _check_scope(body.text("scope", default=DEFAULT_GRANT_SCOPE))
    app = ctx.state.apps.get(client_id)
    if app is None:
        raise ControlError(f"no application has client_id '{client_id}'", 404)
    if account_id not in ctx.state.accounts:
        raise ControlError(f"no account has account_id '{account_id}'", 404)
    return json_response(ctx.sandbox.issuer.issue(ctx.state, ctx.clock, app, account_id, scope))


def _normalize_user_code(raw: str) -> str:
    letters = re.sub(r"[^A-Za-z0-9]", "", raw).upper()
    return f"{letters[:4]}-{letters[4:]}" if len(letters) == 8 else letters


@routes.route("POST", "/_sandbox/device/approve", "control")
@_wrap
def approve_device(ctx: Context) -> Any:
    """Play the user who enters a device code and allows (or denies) the app."""
    body = _Body(ctx, {"user_code", "account_id", "allow"})
    user_code = _normalize_user_code(body.text("user_code", required=True))
    account_id = body.text("account_id", required=True)
    allow = body.flag("allow", default=True)
    if account_id not in ctx.state.accounts:
        raise ControlError(f"no account has account_id '{account_id}'", 404)
    for auth in ctx.state.device_authorizations.values():
        if auth.user_code == user_code and auth.status == "pending":
            if auth.expires_at <= ctx.clock.time():
                raise ControlError(f"user_code '{user_code}' has expired")
            auth.status = "approved" if allow else "denied"
            auth.account_id = account_id
            return json_response({"user_code": user_code, "status": auth.status})
    raise ControlError(f"no pending device authorization has user_code '{user_code}'", 404)


# -- clock --------------------------------------------------------------------------
def _clock_json(ctx: Context) -> SandboxResponse:
    return json_response({"now": iso(ctx.clock.now()), "offset_seconds": ctx.clock.offset_seconds})


@routes.route("POST", "/_sandbox/clock", "control")
@_wrap
def advance_clock(ctx: Context) -> Any:
    """Move the clock forward by ``advance_seconds``, or to the instant ``to``."""
    body = _Body(ctx, {"advance_seconds", "to"})
    if ("advance_seconds" in body) == ("to" in body):
        raise ControlError("send exactly one of 'advance_seconds' or 'to'")
    if "to" in body:
        raw = body.text("to", required=True)
        try:
            target: datetime = parse_iso(raw)
        except ValueError:
            raise ControlError(f"'to' must be an ISO-8601 date-time; got {raw!r}") from None
        seconds = target.timestamp() - ctx.clock.time()
        if seconds < 0:
            raise ControlError(f"'to' is in the past ({raw}); the sandbox clock only moves forward")
    else:
        seconds = body.number("advance_seconds", required=True) or 0.0
        if seconds < 0:
            raise ControlError(
                "'advance_seconds' must not be negative; the clock only moves forward"
            )
    if seconds > MAX_CLOCK_STEP:
        raise ControlError("the clock moves at most ten years in one step")
    ctx.sandbox.advance_clock(seconds)
    return _clock_json(ctx)


@routes.route("GET", "/_sandbox/clock", "control")
def read_clock(ctx: Context) -> Any:
    return _clock_json(ctx)


# -- faults -------------------------------------------------------------------------
@routes.route("POST", "/_sandbox/faults", "control")
@_wrap
def add_fault(ctx: Context) -> Any:
    """Add a rule (see ``ccbridge.sandbox.faults`` for its fields)."""
    body = _Body(ctx, {"match", "action"})
    try:
        rule = ctx.sandbox.faults.add(body.data)
    except FaultSpecError as exc:
        raise ControlError(str(exc)) from None
    return json_response(rule.to_json(), 201)


@routes.route("GET", "/_sandbox/faults", "control")
def list_faults(ctx: Context) -> Any:
    return json_response({"faults": [r.to_json() for r in ctx.sandbox.faults.rules]})


@routes.route("DELETE", "/_sandbox/faults", "control")
def clear_faults(ctx: Context) -> Any:
    ctx.sandbox.faults.clear()
    return SandboxResponse(204)


@routes.route("DELETE", "/_sandbox/faults/{rule_id}", "control")
def delete_fault(ctx: Context) -> Any:
    raw = ctx.params["rule_id"]
    if not raw.isdigit() or not ctx.sandbox.faults.remove(int(raw)):
        return _error(f"no fault rule has id '{raw}'", 404)
    return SandboxResponse(204)


# -- request log --------------------------------------------------------------------
@routes.route("GET", "/_sandbox/requests", "control")
def request_log(ctx: Context) -> Any:
    """Logged requests after ``since_id`` (at most ``limit``, the newest)."""
    numbers: dict[str, int | None] = {}
    for name in ("since_id", "limit"):
        raw = ctx.request.q(name)
        if raw is None or raw == "":
            numbers[name] = None
        elif not raw.isdigit():
            return _error(f"'{name}' must be a non-negative integer; got {raw!r}")
        else:
            numbers[name] = int(raw)
    entries = ctx.sandbox.requests.entries(numbers["since_id"] or 0, numbers["limit"])
    return json_response({"requests": entries})


@routes.route("DELETE", "/_sandbox/requests", "control")
def clear_request_log(ctx: Context) -> Any:
    ctx.sandbox.requests.clear()
    return SandboxResponse(204)


# -- settings and usage ----------------------------------------------------------------
def _setting_kinds() -> dict[str, type]:
    """Every ``SandboxSettings`` field with the JSON type it takes (from its default)."""
    defaults = SandboxSettings()
    return {f.name: type(getattr(defaults, f.name)) for f in dataclasses.fields(SandboxSettings)}


def _check_setting(name: str, value: Any, kind: type) -> Any:
    if kind is bool:
        if not isinstance(value, bool):
            raise ControlError(f"setting '{name}' must be true or false")
        return value
    if kind in (int, float):
        allowed = (int,) if kind is int else (int, float)
        if isinstance(value, bool) or not isinstance(value, allowed):
            raise ControlError(
                f"setting '{name}' must be {'an integer' if kind is int else 'a number'}"
            )
        if not math.isfinite(value) or value <= 0:
            raise ControlError(f"setting '{name}' must be a positive number")
        return kind(value)
    if not isinstance(value, kind):
        raise ControlError(f"setting '{name}' must be of type {kind.__name__}")
    return value


@routes.route("GET", "/_sandbox/settings", "control")
def read_settings(ctx: Context) -> Any:
    s = ctx.state.settings
    return json_response({name: getattr(s, name) for name in _setting_kinds()})


@routes.route("PATCH", "/_sandbox/settings", "control")
@_wrap
def change_settings(ctx: Context) -> Any:
    """Change some settings; all are checked before any is applied."""
    kinds = _setting_kinds()
    body = _Body(ctx, frozenset(kinds))
    checked = {name: _check_setting(name, value, kinds[name]) for name, value in body.data.items()}
    for name, value in checked.items():
        setattr(ctx.state.settings, name, value)
    ctx.sandbox.apply_settings()
    return read_settings(ctx)


@routes.route("GET", "/_sandbox/usage", "control")
def usage(ctx: Context) -> Any:
    """Today's API request counts per client_id against CC's daily quota."""
    settings = ctx.state.settings
    now = ctx.clock.time()
    apps: dict[str, App] = ctx.state.apps
    clients = []
    for app in apps.values():
        used = ctx.sandbox.api_usage(app.client_id)
        clients.append(
            {
                "client_id": app.client_id,
                "name": app.name,
                "requests_today": used,
                "remaining_today": max(settings.per_day - used, 0),
            }
        )
    return json_response(
        {
            "date": iso_date(ctx.clock.now()),
            "resets_at": iso(datetime.fromtimestamp(RateLimiter.day_resets_at(now), UTC)),
            "rate_limits": settings.rate_limits,
            "per_second": settings.per_second,
            "per_day": settings.per_day,
            "clients": clients,
        }
    )
