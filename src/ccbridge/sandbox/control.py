"""The control plane under ``/_sandbox/``: set up, inspect and misdirect the sandbox.

Only tests and developers use it; CC has nothing like it. Bodies are JSON; errors use
``{"error", "message"}`` so they are never mistaken for CC's own.
"""

from __future__ import annotations

import json
from typing import Any

from ccbridge.sandbox.faults import FaultSpecError
from ccbridge.sandbox.http import SandboxResponse, json_response
from ccbridge.sandbox.params import EMAIL_RE
from ccbridge.sandbox.routing import Context, RouteTable
from ccbridge.sandbox.seed import create_account, create_app
from ccbridge.sandbox.state import SCOPES

routes = RouteTable()


class ControlError(Exception):
    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


def _error(message: str, status: int = 400) -> SandboxResponse:
    return json_response(
        {"error": "bad_request" if status == 400 else "not_found", "message": message}, status
    )


def _body(ctx: Context) -> dict[str, Any]:
    if ctx.request.media_type not in ("application/json", ""):
        raise ControlError("the control plane takes application/json bodies")
    if not ctx.request.body:
        return {}
    try:
        body = json.loads(ctx.request.body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ControlError(f"malformed JSON: {exc}") from None
    if not isinstance(body, dict):
        raise ControlError("the body must be a JSON object")
    return body


def _field(
    body: dict[str, Any], name: str, kind: type, *, required: bool = True, default: Any = None
) -> Any:
    value = body.get(name, default)
    if value is None:
        if required:
            raise ControlError(f"'{name}' is required")
        return None
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ControlError(f"'{name}' must be of type {kind.__name__}")
    return value


def _wrap(fn: Any) -> Any:
    def handler(ctx: Context) -> Any:
        try:
            return fn(ctx)
        except ControlError as exc:
            return _error(exc.message, exc.status)

    handler.__name__ = fn.__name__
    return handler


@routes.route("POST", "/_sandbox/reset", "control")
@_wrap
def reset(ctx: Context) -> Any:
    ctx.sandbox.reset()
    return json_response({"reset": True})


@routes.route("POST", "/_sandbox/apps", "control")
@_wrap
def create_application(ctx: Context) -> Any:
    body = _body(ctx)
    unknown = set(body) - {
        "name",
        "redirect_uris",
        "refresh_token_mode",
        "device_flow",
        "client_id",
        "client_secret",
    }
    if unknown:
        raise ControlError(f"unknown field(s): {', '.join(sorted(unknown))}")
    name = _field(body, "name", str)
    uris = _field(body, "redirect_uris", list, required=False, default=[])
    if not all(isinstance(u, str) and u.startswith(("http://", "https://")) for u in uris):
        raise ControlError("'redirect_uris' must be a list of absolute http(s) URLs")
    mode = _field(body, "refresh_token_mode", str, required=False, default="rotating")
    if mode not in ("rotating", "long_lived"):
        raise ControlError("'refresh_token_mode' must be 'rotating' or 'long_lived'")
    device_flow = _field(body, "device_flow", bool, required=False, default=True)
    client_id = _field(body, "client_id", str, required=False)
    if client_id and client_id in ctx.state.apps:
        raise ControlError(f"client_id '{client_id}' already exists", 409)
    app = create_app(
        ctx.state,
        ctx.clock.now(),
        name=name,
        redirect_uris=uris,
        refresh_token_mode=mode,
        device_flow=device_flow,
        client_id=client_id,
        client_secret=_field(body, "client_secret", str, required=False),
    )
    return json_response(
        {
            "client_id": app.client_id,
            "client_secret": app.client_secret,
            "name": app.name,
            "redirect_uris": app.redirect_uris,
            "refresh_token_mode": app.refresh_token_mode,
            "device_flow": app.device_flow,
        },
        201,
    )


@routes.route("POST", "/_sandbox/accounts", "control")
@_wrap
def create_sandbox_account(ctx: Context) -> Any:
    body = _body(ctx)
    unknown = set(body) - {
        "email",
        "password",
        "organization_name",
        "first_name",
        "last_name",
        "account_id",
        "confirmed_opt_in",
    }
    if unknown:
        raise ControlError(f"unknown field(s): {', '.join(sorted(unknown))}")
    email = _field(body, "email", str)
    if not EMAIL_RE.match(email):
        raise ControlError(f"'email' is not an email address: {email!r}")
    if ctx.state.account_by_login(email) is not None:
        raise ControlError(f"an account with login {email} already exists", 409)
    data = create_account(
        ctx.state,
        ctx.clock.now(),
        email=email,
        password=_field(body, "password", str),
        organization_name=_field(
            body, "organization_name", str, required=False, default="Sandbox Org"
        ),
        first_name=_field(body, "first_name", str, required=False, default="Sandbox"),
        last_name=_field(body, "last_name", str, required=False, default="Owner"),
        account_id=_field(body, "account_id", str, required=False),
    )
    data.account.confirmed_opt_in = bool(
        _field(body, "confirmed_opt_in", bool, required=False, default=False)
    )
    return json_response(
        {
            "account_id": data.account.account_id,
            "email": data.account.login_email,
            "organization_name": data.account.organization_name,
            "default_list_id": next(iter(data.lists)),
        },
        201,
    )


@routes.route("POST", "/_sandbox/grants", "control")
@_wrap
def grant(ctx: Context) -> Any:
    body = _body(ctx)
    app = ctx.state.apps.get(_field(body, "client_id", str))
    if app is None:
        raise ControlError("unknown client_id", 404)
    account_id = _field(body, "account_id", str)
    if account_id not in ctx.state.accounts:
        raise ControlError("unknown account_id", 404)
    scope = _field(
        body, "scope", str, required=False, default=" ".join([*SCOPES[:4], "offline_access"])
    )
    bad = [s for s in scope.split() if s not in (*SCOPES, "offline_access", "openid", "profile")]
    if bad:
        raise ControlError(f"unknown scope(s): {', '.join(bad)}")
    return json_response(ctx.sandbox.issuer.issue(ctx.state, ctx.clock, app, account_id, scope))


@routes.route("POST", "/_sandbox/device/approve", "control")
@_wrap
def approve_device(ctx: Context) -> Any:
    body = _body(ctx)
    user_code = _field(body, "user_code", str).strip().upper()
    account_id = _field(body, "account_id", str)
    allow = _field(body, "allow", bool, required=False, default=True)
    if account_id not in ctx.state.accounts:
        raise ControlError("unknown account_id", 404)
    for auth in ctx.state.device_authorizations.values():
        if auth.user_code == user_code and auth.status == "pending":
            if auth.expires_at <= ctx.clock.time():
                raise ControlError("that user_code has expired")
            auth.status = "approved" if allow else "denied"
            auth.account_id = account_id
            return json_response({"user_code": user_code, "status": auth.status})
    raise ControlError("no pending device authorization has that user_code", 404)


@routes.route("POST", "/_sandbox/clock", "control")
@_wrap
def advance_clock(ctx: Context) -> Any:
    body = _body(ctx)
    seconds = body.get("advance_seconds", 0)
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or seconds < 0:
        raise ControlError("'advance_seconds' must be a non-negative number")
    ctx.sandbox.advance_clock(float(seconds))
    return json_response(
        {"now": ctx.clock.now().isoformat(), "offset_seconds": ctx.clock.offset_seconds}
    )


@routes.route("GET", "/_sandbox/clock", "control")
def read_clock(ctx: Context) -> Any:
    return json_response(
        {"now": ctx.clock.now().isoformat(), "offset_seconds": ctx.clock.offset_seconds}
    )


@routes.route("POST", "/_sandbox/faults", "control")
@_wrap
def add_fault(ctx: Context) -> Any:
    body = _body(ctx)
    try:
        rule = ctx.sandbox.faults.add(body)
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


@routes.route("GET", "/_sandbox/requests", "control")
def request_log(ctx: Context) -> Any:
    since = ctx.request.q("since_id") or "0"
    try:
        since_id = int(since)
    except ValueError:
        return _error("'since_id' must be an integer")
    return json_response({"requests": ctx.sandbox.requests.entries(since_id)})


@routes.route("DELETE", "/_sandbox/requests", "control")
def clear_request_log(ctx: Context) -> Any:
    ctx.sandbox.requests.clear()
    return SandboxResponse(204)


_SETTINGS: dict[str, type | tuple[type, ...]] = {
    "rate_limits": bool,
    "per_second": int,
    "per_day": int,
    "token_per_second": int,
    "activity_items_per_second": (int, float),
    "max_queued_activities": int,
}


@routes.route("GET", "/_sandbox/settings", "control")
def read_settings(ctx: Context) -> Any:
    s = ctx.state.settings
    return json_response({name: getattr(s, name) for name in _SETTINGS})


@routes.route("PATCH", "/_sandbox/settings", "control")
@_wrap
def change_settings(ctx: Context) -> Any:
    body = _body(ctx)
    for name, value in body.items():
        kind = _SETTINGS.get(name)
        if kind is None:
            raise ControlError(f"unknown setting '{name}'; known: {', '.join(_SETTINGS)}")
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise ControlError(f"setting '{name}' has the wrong type")
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value <= 0:
            raise ControlError(f"setting '{name}' must be positive")
    for name, value in body.items():
        setattr(ctx.state.settings, name, value)
    ctx.sandbox._reset_limiters()
    return read_settings(ctx)


@routes.route("GET", "/_sandbox/usage", "control")
def usage(ctx: Context) -> Any:
    return json_response(
        {client_id: ctx.sandbox.api_usage(client_id) for client_id in ctx.state.apps}
    )
