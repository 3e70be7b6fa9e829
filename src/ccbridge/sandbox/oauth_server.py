"""The sandbox's OAuth2 authorization server under ``/oauth2/default/v1/``.

CC's authorization server (CC-V3-FACTS §1) is where integrations most often break: a
refresh token rotated under a worker's feet, a code replayed, a redirect URI off by one
character, a token endpoint throttled at 1 request per second. Public OAuth mocks skip
exactly those checks, so this module enforces them the way CC does:

- ``/authorize``: authorization code (with PKCE, S256 only) and implicit flows, with a
  plain-HTML login and consent page a person can click through, and a session cookie so a
  second authorization skips the login.
- ``/token``: the ``authorization_code``, ``refresh_token`` and device-code grants, with
  parameters in the form body or the query string (CC accepts both), HTTP Basic or
  body client authentication, rotating or long-lived refresh tokens per app, the 180-day
  idle expiry and CC's exact ``invalid_grant`` text for a dead refresh token.
- ``/device/authorize`` and the ``/device`` page for the device flow, ``/revoke``
  (RFC 7009) and discovery metadata so standard OAuth libraries can find everything.

Every expiry reads the sandbox clock, so tests move time instead of sleeping.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import json
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NoReturn
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from ccbridge.sandbox import oauth_pages as pages
from ccbridge.sandbox.errors import OAuthError
from ccbridge.sandbox.http import (
    SandboxRequest,
    SandboxResponse,
    empty_response,
    html_response,
    json_response,
    redirect_response,
)
from ccbridge.sandbox.routing import Context, Handler, RouteTable
from ccbridge.sandbox.state import (
    SCOPES,
    AccountData,
    App,
    AuthCode,
    DeviceAuthorization,
    SandboxState,
    new_id,
)
from ccbridge.sandbox.tokens import OFFLINE_ACCESS

routes = RouteTable()

PREFIX = "/oauth2/default/v1"
AUTHORIZE_PATH = f"{PREFIX}/authorize"
TOKEN_PATH = f"{PREFIX}/token"
REVOKE_PATH = f"{PREFIX}/revoke"
DEVICE_AUTHORIZE_PATH = f"{PREFIX}/device/authorize"
DEVICE_PAGE_PATH = f"{PREFIX}/device"
KEYS_PATH = f"{PREFIX}/keys"

KNOWN_SCOPES = (*SCOPES, OFFLINE_ACCESS, "openid", "profile")
"""CC's scopes plus offline_access; openid/profile are accepted as the control plane does."""

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
FORM_TYPE = "application/x-www-form-urlencoded"
DEAD_REFRESH_TOKEN = "The refresh token is invalid or expired."  # CC's exact text (§1.7)

SESSION_COOKIE = "ccbridge_sandbox_session"
NONCE_LIFETIME = 3600
"""Seconds (sandbox clock) a login or consent form stays valid after it was rendered."""

AUTHORIZE_PARAMS = (
    "client_id",
    "redirect_uri",
    "response_type",
    "scope",
    "state",
    "code_challenge",
    "code_challenge_method",
    "response_mode",
)
"""The authorize parameters the sandbox understands; others are ignored (RFC 6749 §3.1)."""

_PKCE_VERIFIER = re.compile(r"^[A-Za-z0-9\-._~]{43,128}$")
_S256_CHALLENGE = re.compile(r"^[A-Za-z0-9_-]{43}$")  # BASE64URL(SHA-256), no padding
_USER_CODE_ALPHABET = "BCDFGHJKLMNPQRSTVWXZ"  # no vowels or look-alikes (RFC 8628 §6.1)

NO_STORE = [("cache-control", "no-store"), ("pragma", "no-cache")]


# -- parameters ------------------------------------------------------------------
class _BadParams(Exception):
    """The request's parameters cannot be read; the message names the problem."""


def _collect_params(request: SandboxRequest) -> dict[str, str]:
    """Query string and form body together, as CC accepts either (CC-V3-FACTS §1.2).

    A parameter repeated with different values is refused rather than one value being
    picked silently (RFC 6749 §3.1 forbids repeats); a body in another media type is
    refused instead of being ignored.
    """
    pairs = list(request.query)
    if request.body:
        if request.media_type != FORM_TYPE:
            raise _BadParams(
                f"The request body must be {FORM_TYPE}, not '{request.media_type or 'untyped'}'."
            )
        try:
            text = request.body.decode("utf-8")
        except UnicodeDecodeError:
            raise _BadParams("The form body is not valid UTF-8.") from None
        pairs.extend(parse_qsl(text, keep_blank_values=True))
    params: dict[str, str] = {}
    for name, value in pairs:
        if name in params and params[name] != value:
            raise _BadParams(f"Parameter '{name}' is given more than once with different values.")
        params[name] = value
    return params


def _endpoint_params(request: SandboxRequest) -> dict[str, str]:
    try:
        return _collect_params(request)
    except _BadParams as exc:
        raise OAuthError("invalid_request", str(exc)) from None


def _required(params: dict[str, str], name: str) -> str:
    value = params.get(name)
    if not value:
        raise OAuthError("invalid_request", f"The '{name}' parameter is required.")
    return value


def split_scope(raw: str) -> list[str]:
    """Scopes in request order without repeats.

    CC's documentation joins scopes with ``+``, and some clients percent-encode that plus
    (CC-V3-FACTS §1.3), so a literal ``+`` is treated as a separator like a space.
    """
    scopes: list[str] = []
    for scope in re.split(r"[\s+]+", raw.strip()):
        if scope and scope not in scopes:
            scopes.append(scope)
    return scopes


def _unknown_scopes(scopes: list[str]) -> list[str]:
    return [s for s in scopes if s not in KNOWN_SCOPES]


# -- client authentication ---------------------------------------------------------
@dataclass(frozen=True)
class ClientAuth:
    """Who is calling: ``authenticated`` is True only when the client secret was proven."""

    app: App
    authenticated: bool


def _invalid_client(description: str = "Client authentication failed.") -> OAuthError:
    return OAuthError("invalid_client", description, 401)


def _basic_credentials(request: SandboxRequest) -> tuple[set[str], set[str]] | None:
    """The client_id and secret readings of an HTTP Basic header, or None without one.

    RFC 6749 §2.3.1 has both halves form-urlencoded before encoding, but many clients skip
    that step; each half is therefore accepted both as sent and form-decoded.
    """
    header = request.headers.get("authorization", "")
    if not header:
        return None
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        raise _invalid_client("Only HTTP Basic client authentication is supported.")
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        raise _invalid_client("The Basic Authorization header is malformed.") from None
    client_id, sep, secret = decoded.partition(":")
    if not sep or not client_id:
        raise _invalid_client("The Basic Authorization header is malformed.")
    return {client_id, _form_decode(client_id)}, {secret, _form_decode(secret)}


def _form_decode(value: str) -> str:
    pairs = parse_qsl("v=" + value, keep_blank_values=True)
    return pairs[0][1] if pairs else ""


def identify_client(ctx: Context, params: dict[str, str]) -> ClientAuth:
    """Find the calling app from HTTP Basic or ``client_id``/``client_secret`` parameters.

    A client that sends only its client_id (a PKCE or device-flow public client) is
    identified but not authenticated; each grant decides whether that is enough.
    """
    basic = _basic_credentials(ctx.request)
    body_id = params.get("client_id")
    body_secret = params.get("client_secret")
    if basic is not None:
        if body_secret is not None:
            raise OAuthError(
                "invalid_request",
                "Use one client authentication method: HTTP Basic or client_secret, not both.",
            )
        client_ids, secrets_sent = basic
        if body_id is not None and body_id not in client_ids:
            raise OAuthError(
                "invalid_request", "client_id does not match the Basic Authorization header."
            )
    else:
        client_ids = {body_id} if body_id else set()
        secrets_sent = {body_secret} if body_secret else set()
    if not client_ids:
        raise _invalid_client(
            "client_id is required: send HTTP Basic client_id:client_secret, or client_id."
        )
    apps: dict[str, App] = ctx.state.apps
    app = next((apps[c] for c in sorted(client_ids) if c in apps), None)
    if app is None:
        raise _invalid_client()
    secrets_sent.discard("")
    if not secrets_sent:
        return ClientAuth(app, authenticated=False)
    expected = app.client_secret.encode("utf-8")
    if not any(hmac.compare_digest(s.encode("utf-8"), expected) for s in secrets_sent):
        raise _invalid_client()
    return ClientAuth(app, authenticated=True)


def _oauth_endpoint(handler: Handler) -> Handler:
    """Render OAuthError with the headers RFC 6749 asks for (no-store; a Basic challenge on 401)."""

    @functools.wraps(handler)
    def wrapped(ctx: Context) -> Any:
        try:
            return handler(ctx)
        except OAuthError as exc:
            headers = [("content-type", "application/json"), *NO_STORE]
            if exc.status == 401:
                headers.append(("www-authenticate", 'Basic realm="ccbridge sandbox"'))
            return SandboxResponse(exc.status, exc.body(), headers)

    return wrapped


def _token_json(body: dict[str, Any]) -> SandboxResponse:
    return json_response(body, headers=NO_STORE)


# -- the browser session and per-page nonces ------------------------------------------
def _cookie(request: SandboxRequest, name: str) -> str | None:
    for part in request.headers.get("cookie", "").split(";"):
        key, _, value = part.strip().partition("=")
        if key == name and value:
            return value
    return None


@dataclass(frozen=True)
class _Session:
    session_id: str
    data: AccountData


def _current_session(ctx: Context) -> _Session | None:
    session_id = _cookie(ctx.request, SESSION_COOKIE)
    if session_id is None:
        return None
    account_id = ctx.state.browser_sessions.get(session_id)
    data = ctx.state.accounts.get(account_id) if account_id else None
    return _Session(session_id, data) if data is not None else None


def _cookie_header(ctx: Context, value: str, *, clear: bool = False) -> tuple[str, str]:
    attributes = "Path=/oauth2/; HttpOnly; SameSite=Lax"
    if ctx.sandbox.base_url.startswith("https://"):
        attributes += "; Secure"
    if clear:
        attributes += "; Max-Age=0"
    return ("set-cookie", f"{SESSION_COOKIE}={value}; {attributes}")


def _sign_in(ctx: Context, data: AccountData) -> tuple[str, str]:
    """A fresh session id on every sign-in (no session fixation); returns the cookie header."""
    old = _cookie(ctx.request, SESSION_COOKIE)
    if old is not None:
        ctx.state.browser_sessions.pop(old, None)
    session_id = secrets.token_urlsafe(32)
    ctx.state.browser_sessions[session_id] = data.account.account_id
    return _cookie_header(ctx, session_id)


def _sign_out(ctx: Context) -> tuple[str, str]:
    old = _cookie(ctx.request, SESSION_COOKIE)
    if old is not None:
        ctx.state.browser_sessions.pop(old, None)
    return _cookie_header(ctx, "", clear=True)


def _check_login(ctx: Context, params: dict[str, str]) -> AccountData | None:
    data: AccountData | None = ctx.state.account_by_login(params.get("email", ""))
    password = params.get("password", "").encode("utf-8")
    if data is None or not hmac.compare_digest(password, data.account.password.encode("utf-8")):
        return None
    return data


def _nonce_key(ctx: Context) -> bytes:
    # Derived from the signing key so nonces need no stored state and survive --data restarts.
    return hashlib.sha256(b"ccbridge sandbox page nonce\x00" + ctx.sandbox.issuer.key_pem).digest()


def _make_nonce(ctx: Context, purpose: str, binding: str) -> str:
    issued = int(ctx.clock.time())
    mac = hmac.new(_nonce_key(ctx), f"{purpose}|{issued}|{binding}".encode(), hashlib.sha256)
    return f"{issued}.{mac.hexdigest()}"


def _nonce_ok(ctx: Context, purpose: str, binding: str, nonce: str) -> bool:
    """True for a nonce this sandbox rendered for the same purpose, session and request."""
    issued_text, _, mac = nonce.partition(".")
    if not issued_text.isdigit():
        return False
    issued = int(issued_text)
    expected = hmac.new(
        _nonce_key(ctx), f"{purpose}|{issued}|{binding}".encode(), hashlib.sha256
    ).hexdigest()
    age = ctx.clock.time() - issued
    return hmac.compare_digest(mac, expected) and -60 <= age <= NONCE_LIFETIME


def _page(html: str, status: int = 200, headers: list[tuple[str, str]] | None = None) -> Any:
    response = html_response(html, status)
    # No scripts, frames or remote assets on these pages; inline CSS only.
    response.headers.append(
        ("content-security-policy", "default-src 'none'; style-src 'unsafe-inline'")
    )
    response.headers.extend(headers or [])
    return response


# -- /authorize ---------------------------------------------------------------------
@dataclass(frozen=True)
class AuthorizeRequest:
    """A validated authorize request."""

    app: App
    redirect_uri: str
    response_type: str  # "code" or "token"
    response_mode: str  # "query" or "fragment"
    scopes: tuple[str, ...]
    state: str | None
    code_challenge: str | None
    raw: dict[str, str]  # the parameters as received, carried in the pages' hidden fields

    @property
    def scope(self) -> str:
        return " ".join(self.scopes)

    def binding(self) -> str:
        return json.dumps(sorted(self.raw.items()))


class _ErrorPage(Exception):
    """The request cannot be trusted enough to redirect back: show an error page instead."""

    def __init__(self, title: str, message: str) -> None:
        super().__init__(message)
        self.title = title
        self.message = message


class _RedirectError(Exception):
    """An authorize error the client learns on its redirect URI (RFC 6749 §4.1.2.1)."""

    def __init__(
        self, redirect_uri: str, mode: str, error: str, description: str, state: str | None
    ) -> None:
        super().__init__(f"{error}: {description}")
        self.location = with_params(
            redirect_uri, mode, {"error": error, "error_description": description, "state": state}
        )


_Fail = Callable[[str, str], _RedirectError]


def with_params(uri: str, mode: str, values: dict[str, str | None]) -> str:
    """``uri`` with ``values`` added to its query (code flow) or set as its fragment (implicit)."""
    encoded = urlencode({k: v for k, v in values.items() if v is not None})
    parts = urlsplit(uri)
    if mode == "fragment":
        return urlunsplit((parts.scheme, parts.netloc, parts.path, parts.query, encoded))
    query = f"{parts.query}&{encoded}" if parts.query else encoded
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


def parse_authorize(ctx: Context, params: dict[str, str]) -> AuthorizeRequest:
    """Validate an authorize request in RFC 6749's order.

    client_id and redirect_uri come first: until both are known good, an error is shown as
    a page and never sent to a URI the app did not register (an open redirect otherwise).
    """
    raw = {name: params[name] for name in AUTHORIZE_PARAMS if name in params}
    client_id = raw.get("client_id", "")
    if not client_id:
        raise _ErrorPage("Invalid request", "The authorize request has no client_id.")
    app: App | None = ctx.state.apps.get(client_id)
    if app is None:
        raise _ErrorPage(
            "Unknown application", f"No sandbox application has client_id '{client_id}'."
        )
    redirect_uri = raw.get("redirect_uri", "")
    if not redirect_uri:
        raise _ErrorPage("Invalid request", "The authorize request has no redirect_uri.")
    if redirect_uri not in app.redirect_uris:
        raise _ErrorPage(
            "Redirect URI not registered",
            f"The redirect_uri '{redirect_uri}' is not registered for {app.name}; it must match "
            "a registered URI exactly.",
        )
    state = raw.get("state")
    response_type = raw.get("response_type", "")
    mode = "fragment" if response_type == "token" else "query"

    def fail(error: str, description: str) -> _RedirectError:
        return _RedirectError(redirect_uri, mode, error, description, state)

    if not response_type:
        raise fail("invalid_request", "The 'response_type' parameter is required.")
    if response_type not in ("code", "token"):
        raise fail(
            "unsupported_response_type",
            f"response_type '{response_type}' is not supported; use 'code' or 'token'.",
        )
    mode = _response_mode(raw.get("response_mode"), response_type, fail)
    scopes = split_scope(raw.get("scope", ""))
    if not scopes:
        raise fail("invalid_scope", "The 'scope' parameter is required.")
    unknown = _unknown_scopes(scopes)
    if unknown:
        raise fail("invalid_scope", f"Unknown scope(s): {', '.join(unknown)}.")
    challenge = _pkce_challenge(raw, response_type, fail)
    return AuthorizeRequest(
        app=app,
        redirect_uri=redirect_uri,
        response_type=response_type,
        response_mode=mode,
        scopes=tuple(scopes),
        state=state,
        code_challenge=challenge,
        raw=raw,
    )


def _response_mode(value: str | None, response_type: str, fail: _Fail) -> str:
    default = "fragment" if response_type == "token" else "query"
    if value is None or value == default:
        return default
    if value == "fragment" and response_type == "code":
        return value
    raise fail(
        "invalid_request",
        f"response_mode '{value}' is not supported with response_type '{response_type}'.",
    )


def _pkce_challenge(raw: dict[str, str], response_type: str, fail: _Fail) -> str | None:
    challenge = raw.get("code_challenge")
    method = raw.get("code_challenge_method")
    if challenge is None:
        if method is not None:
            raise fail("invalid_request", "code_challenge_method was sent without code_challenge.")
        return None
    if response_type != "code":
        raise fail("invalid_request", "PKCE applies only to response_type 'code'.")
    if method is None:
        raise fail(
            "invalid_request", "code_challenge_method is required; the sandbox accepts only S256."
        )
    if method != "S256":
        raise fail(
            "invalid_request",
            f"code_challenge_method '{method}' is not allowed; the sandbox accepts only S256.",
        )
    if not _S256_CHALLENGE.match(challenge):
        raise fail(
            "invalid_request",
            "code_challenge must be the 43-character BASE64URL SHA-256 of the code_verifier.",
        )
    return challenge


@routes.route("GET", AUTHORIZE_PATH, "page")
@routes.route("POST", AUTHORIZE_PATH, "page")
def authorize(ctx: Context) -> Any:
    """The authorize endpoint and the login/consent forms it renders and receives."""
    redirect_status = 303 if ctx.request.method == "POST" else 302
    try:
        params = _collect_params(ctx.request)
        request = parse_authorize(ctx, params)
    except _BadParams as exc:
        return _page(pages.error_page("Invalid request", str(exc)), 400)
    except _ErrorPage as exc:
        return _page(pages.error_page(exc.title, exc.message), 400)
    except _RedirectError as exc:
        return redirect_response(exc.location, redirect_status)
    action = params.get(pages.ACTION_FIELD) if ctx.request.method == "POST" else None
    session = _current_session(ctx)
    if action == "login":
        return _authorize_login(ctx, request, params)
    if action == "logout":
        return _login_page(ctx, request, headers=[_sign_out(ctx)])
    if action == "consent":
        if session is None:
            return _login_page(ctx, request, error="Your sign-in has ended; sign in again.")
        return _authorize_consent(ctx, request, params, session)
    if action is not None:
        return _page(pages.error_page("Invalid request", "The submitted form is not known."), 400)
    if session is None:
        return _login_page(ctx, request)
    return _consent_page(ctx, request, session)


def _login_page(
    ctx: Context,
    request: AuthorizeRequest,
    *,
    error: str | None = None,
    email: str = "",
    status: int = 200,
    headers: list[tuple[str, str]] | None = None,
) -> Any:
    hidden = {
        **request.raw,
        pages.ACTION_FIELD: "login",
        pages.NONCE_FIELD: _make_nonce(ctx, "login", request.binding()),
    }
    html = pages.login_page(
        action_url=AUTHORIZE_PATH,
        hidden=hidden,
        app_name=request.app.name,
        email=email,
        error=error,
    )
    return _page(html, status, headers)


def _consent_page(
    ctx: Context, request: AuthorizeRequest, session: _Session, *, error: str | None = None
) -> Any:
    binding = f"{session.session_id}|{request.binding()}"
    html = pages.consent_page(
        action_url=AUTHORIZE_PATH,
        hidden={
            **request.raw,
            pages.ACTION_FIELD: "consent",
            pages.NONCE_FIELD: _make_nonce(ctx, "consent", binding),
        },
        logout_hidden={**request.raw, pages.ACTION_FIELD: "logout"},
        app_name=request.app.name,
        account_label=_account_label(session.data),
        scopes=request.scopes,
        error=error,
    )
    return _page(html, 400 if error else 200)


def _account_label(data: AccountData) -> str:
    return f"{data.account.organization_name} ({data.account.login_email})"


def _authorize_login(ctx: Context, request: AuthorizeRequest, params: dict[str, str]) -> Any:
    email = params.get("email", "")
    if not _nonce_ok(ctx, "login", request.binding(), params.get(pages.NONCE_FIELD, "")):
        return _login_page(
            ctx, request, error="This form has expired; sign in again.", email=email, status=400
        )
    data = _check_login(ctx, params)
    if data is None:
        return _login_page(
            ctx, request, error="The email or password is incorrect.", email=email, status=401
        )
    # Post/redirect/get: the consent page is then reloadable and the password is not re-posted.
    response = redirect_response(f"{AUTHORIZE_PATH}?{urlencode(request.raw)}", 303)
    response.headers.append(_sign_in(ctx, data))
    return response


def _authorize_consent(
    ctx: Context, request: AuthorizeRequest, params: dict[str, str], session: _Session
) -> Any:
    binding = f"{session.session_id}|{request.binding()}"
    if not _nonce_ok(ctx, "consent", binding, params.get(pages.NONCE_FIELD, "")):
        return _consent_page(ctx, request, session, error="This form has expired; decide again.")
    decision = params.get("decision")
    if decision == "deny":
        location = with_params(
            request.redirect_uri,
            request.response_mode,
            {
                "error": "access_denied",
                "error_description": "The user denied the request.",
                "state": request.state,
            },
        )
        return redirect_response(location, 303)
    if decision != "allow":
        return _consent_page(ctx, request, session, error="Choose Allow or Deny.")
    account_id = session.data.account.account_id
    if request.response_type == "token":
        values = _implicit_grant(ctx, request, account_id)
    else:
        values = {"code": _new_code(ctx, request, account_id), "state": request.state}
    return redirect_response(with_params(request.redirect_uri, request.response_mode, values), 303)


def _new_code(ctx: Context, request: AuthorizeRequest, account_id: str) -> str:
    _prune(ctx.state, ctx.clock.time())
    code = secrets.token_urlsafe(32)
    ctx.state.auth_codes[code] = AuthCode(
        code=code,
        client_id=request.app.client_id,
        account_id=account_id,
        redirect_uri=request.redirect_uri,
        scope=request.scope,
        expires_at=ctx.clock.time() + ctx.state.settings.code_lifetime,
        code_challenge=request.code_challenge,
        code_challenge_method="S256" if request.code_challenge else None,
    )
    return code


def _implicit_grant(
    ctx: Context, request: AuthorizeRequest, account_id: str
) -> dict[str, str | None]:
    """CC's client flow: an 8-hour access token in the fragment and never a refresh token."""
    # offline_access cannot be honoured without a refresh token, so it is not reported back.
    scope = " ".join(s for s in request.scopes if s != OFFLINE_ACCESS)
    lifetime = ctx.state.settings.implicit_token_lifetime
    token = ctx.sandbox.issuer.mint_access_token(
        ctx.state, ctx.clock, request.app, account_id, scope, lifetime=lifetime, family_id=new_id()
    )
    return {
        "access_token": token,
        "token_type": "Bearer",
        "expires_in": str(lifetime),
        "scope": scope,
        "state": request.state,
    }


def _prune(state: SandboxState, now: float) -> None:
    """Forget codes and device grants a day after they expired, so the state stays small."""
    horizon = now - 86_400
    for code in [c for c, rec in state.auth_codes.items() if rec.expires_at < horizon]:
        del state.auth_codes[code]
    for device_code in [
        d for d, rec in state.device_authorizations.items() if rec.expires_at < horizon
    ]:
        del state.device_authorizations[device_code]


# -- /token -----------------------------------------------------------------------------
@routes.route("POST", TOKEN_PATH, "oauth")
@_oauth_endpoint
def token(ctx: Context) -> Any:
    params = _endpoint_params(ctx.request)
    grant_type = _required(params, "grant_type")
    grant = _GRANTS.get(grant_type)
    if grant is None:
        raise OAuthError(
            "unsupported_grant_type",
            f"grant_type '{grant_type}' is not supported; use one of: {', '.join(_GRANTS)}.",
        )
    client = identify_client(ctx, params)
    _check_token_rate(ctx, client.app.client_id)
    return _token_json(grant(ctx, client, params))


def _check_token_rate(ctx: Context, client_id: str) -> None:
    if not ctx.state.settings.rate_limits:
        return
    if ctx.sandbox.token_limiter.check(client_id, ctx.clock.time()) is not None:
        # CC answers 429 here (CC-V3-FACTS §1.5) but no source shows its body; this one is
        # the sandbox's own, in the RFC 6749 error shape the token endpoint otherwise uses.
        per_second = ctx.state.settings.token_per_second
        raise OAuthError(
            "rate_limited",
            f"The token endpoint allows {per_second} request(s) per second per client_id.",
            429,
        )


def _grant_authorization_code(
    ctx: Context, client: ClientAuth, params: dict[str, str]
) -> dict[str, Any]:
    code_value = _required(params, "code")
    redirect_uri = _required(params, "redirect_uri")
    code: AuthCode | None = ctx.state.auth_codes.get(code_value)
    if code is None or code.client_id != client.app.client_id:
        raise OAuthError("invalid_grant", "The authorization code is invalid.")
    if code.used:
        # A replayed code may have leaked: revoke what it produced (RFC 6749 §4.1.2).
        if code.family_id:
            ctx.sandbox.issuer.revoke_family(ctx.state, code.family_id)
        raise OAuthError(
            "invalid_grant",
            "The authorization code was already used; the tokens issued for it are revoked.",
        )
    if code.expires_at <= ctx.clock.time():
        raise OAuthError(
            "invalid_grant",
            f"The authorization code has expired (codes last {ctx.state.settings.code_lifetime} "
            "seconds).",
        )
    if redirect_uri != code.redirect_uri:
        raise OAuthError(
            "invalid_grant", "redirect_uri does not match the one in the authorize request."
        )
    _check_code_proof(code, client, params.get("code_verifier"))
    if code.account_id not in ctx.state.accounts:
        raise OAuthError("invalid_grant", "The account behind this code no longer exists.")
    code.used = True
    code.family_id = new_id()
    response = ctx.sandbox.issuer.issue(
        ctx.state, ctx.clock, client.app, code.account_id, code.scope, family_id=code.family_id
    )
    if not client.authenticated:
        _mark_public(ctx.state, response)
    return response


def _check_code_proof(code: AuthCode, client: ClientAuth, verifier: str | None) -> None:
    """PKCE codes need the verifier; other codes need the client secret (and no verifier)."""
    if code.code_challenge is None:
        if verifier is not None:
            # Refusing it blocks PKCE downgrade: the authorize request carried no challenge.
            raise OAuthError(
                "invalid_request",
                "code_verifier was sent but the authorize request had no code_challenge.",
            )
        if not client.authenticated:
            raise _invalid_client(
                "The client secret is required: this code was issued without PKCE."
            )
        return
    if verifier is None:
        raise OAuthError(
            "invalid_request",
            "The 'code_verifier' parameter is required: the authorize request used PKCE.",
        )
    if not _PKCE_VERIFIER.match(verifier):
        raise OAuthError(
            "invalid_request", "code_verifier must be 43-128 characters of A-Z a-z 0-9 - . _ ~."
        )
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    computed = base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
    if not hmac.compare_digest(computed, code.code_challenge):
        raise OAuthError("invalid_grant", "code_verifier does not match the code_challenge.")


def _mark_public(state: SandboxState, response: dict[str, Any]) -> None:
    """Tokens got without a secret may later be refreshed with the client_id alone."""
    refresh = response.get("refresh_token")
    if refresh and refresh in state.refresh_tokens:
        state.refresh_tokens[refresh].public_client = True


def _grant_refresh_token(
    ctx: Context, client: ClientAuth, params: dict[str, str]
) -> dict[str, Any]:
    value = _required(params, "refresh_token")
    record = ctx.state.refresh_tokens.get(value)
    now = ctx.clock.time()
    if (
        record is None
        or record.client_id != client.app.client_id
        or record.revoked
        or now - record.last_used_at > ctx.state.settings.refresh_idle_lifetime
        or record.account_id not in ctx.state.accounts
    ):
        raise OAuthError("invalid_grant", DEAD_REFRESH_TOKEN)
    if not client.authenticated and not record.public_client:
        raise _invalid_client(
            "The client secret is required to use this refresh token (send HTTP Basic auth)."
        )
    scope = _narrowed_scope(record.scope, params.get("scope"))
    issuer, app = ctx.sandbox.issuer, client.app
    if app.refresh_token_mode == "rotating":
        # Each refresh token is single-use: every earlier one of this consent stops working.
        for other in ctx.state.refresh_tokens.values():
            if other.family_id == record.family_id:
                other.revoked = True
        refresh = issuer.mint_refresh_token(
            ctx.state,
            ctx.clock,
            app,
            record.account_id,
            record.scope,
            family_id=record.family_id,
            public_client=record.public_client,
        )
    else:
        record.last_used_at = now
        refresh = value
    lifetime = ctx.state.settings.access_token_lifetime
    login = ctx.state.accounts[record.account_id].account.login_email
    return {
        "token_type": "Bearer",
        "expires_in": lifetime,
        "access_token": issuer.mint_access_token(
            ctx.state,
            ctx.clock,
            app,
            record.account_id,
            scope,
            lifetime=lifetime,
            family_id=record.family_id,
        ),
        "scope": scope,
        "refresh_token": refresh,
        "id_token": issuer.mint_id_token(ctx.clock, app, record.account_id, login),
    }


def _narrowed_scope(granted: str, requested: str | None) -> str:
    """A refresh may ask for fewer scopes than were granted, never more (RFC 6749 §6)."""
    if not requested:
        return granted
    scopes = split_scope(requested)
    extra = [s for s in scopes if s not in granted.split()]
    if extra:
        raise OAuthError(
            "invalid_scope", f"Scope(s) not granted to this refresh token: {', '.join(extra)}."
        )
    return " ".join(scopes)


def _grant_device_code(ctx: Context, client: ClientAuth, params: dict[str, str]) -> dict[str, Any]:
    device_code = _required(params, "device_code")
    auth: DeviceAuthorization | None = ctx.state.device_authorizations.get(device_code)
    if auth is None or auth.client_id != client.app.client_id or auth.status == "used":
        raise OAuthError("invalid_grant", "The device code is invalid or was already used.")
    now = ctx.clock.time()
    if auth.expires_at <= now:
        raise OAuthError("expired_token", "The device code has expired; start a new request.")
    if auth.status == "denied":
        raise OAuthError("access_denied", "The user denied the request.")
    if auth.status == "pending" or auth.account_id is None:
        _count_poll(auth, now)
    auth.status = "used"
    response = ctx.sandbox.issuer.issue(
        ctx.state, ctx.clock, client.app, auth.account_id, auth.scope
    )
    if not client.authenticated:
        _mark_public(ctx.state, response)
    return response


def _count_poll(auth: DeviceAuthorization, now: float) -> NoReturn:
    """Answer a poll of a pending grant: slow_down (interval + 5 s) if too soon, else pending."""
    previous, auth.last_poll_at = auth.last_poll_at, now
    if previous is not None and now - previous < auth.interval:
        auth.interval += 5  # RFC 8628 §3.5: every later poll must wait 5 s longer
        raise OAuthError(
            "slow_down", f"Polling too fast; wait at least {auth.interval} seconds between polls."
        )
    raise OAuthError("authorization_pending", "The user has not yet approved this device.")


_GRANTS = {
    "authorization_code": _grant_authorization_code,
    "refresh_token": _grant_refresh_token,
    DEVICE_GRANT: _grant_device_code,
}


# -- /revoke --------------------------------------------------------------------------------
@routes.route("POST", REVOKE_PATH, "oauth")
@_oauth_endpoint
def revoke(ctx: Context) -> Any:
    """RFC 7009: 200 with an empty body, also for tokens the sandbox does not know.

    A client_id without a secret is enough for a token that client holds: whoever has a
    token may already use it, so letting them end it exposes nothing (RFC 7009 §5). A
    token of another client is left alone and answered like an unknown one.
    """
    params = _endpoint_params(ctx.request)
    client = identify_client(ctx, params)
    value = _required(params, "token")
    hint = params.get("token_type_hint")
    if hint is not None and hint not in ("access_token", "refresh_token"):
        raise OAuthError(
            "unsupported_token_type",
            f"token_type_hint '{hint}' is not supported; use access_token or refresh_token.",
        )
    state, issuer = ctx.state, ctx.sandbox.issuer
    refresh = state.refresh_tokens.get(value)
    if refresh is not None:
        if refresh.client_id == client.app.client_id:
            issuer.revoke_family(state, refresh.family_id)
    else:
        access = issuer.verify_access_token(state, ctx.clock, value)
        if access is not None and access.client_id == client.app.client_id:
            access.revoked = True
    return empty_response(200, NO_STORE)


# -- device flow --------------------------------------------------------------------------------
@routes.route("POST", DEVICE_AUTHORIZE_PATH, "oauth")
@_oauth_endpoint
def device_authorize(ctx: Context) -> Any:
    params = _endpoint_params(ctx.request)
    client = identify_client(ctx, params)
    if not client.app.device_flow:
        raise OAuthError(
            "unauthorized_client", "This application is not enabled for the device flow."
        )
    scopes = split_scope(params.get("scope", ""))
    if not scopes:
        raise OAuthError("invalid_scope", "The 'scope' parameter is required.")
    unknown = _unknown_scopes(scopes)
    if unknown:
        raise OAuthError("invalid_scope", f"Unknown scope(s): {', '.join(unknown)}.")
    settings, now = ctx.state.settings, ctx.clock.time()
    _prune(ctx.state, now)
    auth = DeviceAuthorization(
        device_code=secrets.token_urlsafe(32),
        user_code=_new_user_code(ctx.state, now),
        client_id=client.app.client_id,
        scope=" ".join(scopes),
        expires_at=now + settings.device_code_lifetime,
        interval=settings.device_poll_interval,
    )
    ctx.state.device_authorizations[auth.device_code] = auth
    verification_uri = ctx.sandbox.base_url + DEVICE_PAGE_PATH
    return _token_json(
        {
            "device_code": auth.device_code,
            "user_code": auth.user_code,
            "verification_uri": verification_uri,
            "verification_uri_complete": f"{verification_uri}?{urlencode({'user_code': auth.user_code})}",
            "expires_in": settings.device_code_lifetime,
            "interval": auth.interval,
        }
    )


def _new_user_code(state: SandboxState, now: float) -> str:
    live = {a.user_code for a in state.device_authorizations.values() if a.expires_at > now}
    while True:
        letters = "".join(secrets.choice(_USER_CODE_ALPHABET) for _ in range(8))
        code = f"{letters[:4]}-{letters[4:]}"
        if code not in live:
            return code


def normalize_user_code(raw: str) -> str:
    """People type codes in any case, with or without the dash."""
    letters = re.sub(r"[^A-Za-z0-9]", "", raw).upper()
    return f"{letters[:4]}-{letters[4:]}" if len(letters) == 8 else letters


def _pending_device(ctx: Context, user_code: str) -> DeviceAuthorization | None:
    code = normalize_user_code(user_code)
    now = ctx.clock.time()
    authorizations: dict[str, DeviceAuthorization] = ctx.state.device_authorizations
    for auth in authorizations.values():
        if auth.user_code == code and auth.status == "pending" and auth.expires_at > now:
            return auth
    return None


@routes.route("GET", DEVICE_PAGE_PATH, "page")
@routes.route("POST", DEVICE_PAGE_PATH, "page")
def device_page(ctx: Context) -> Any:
    """Where a person enters a device's user code, signs in and approves or denies it."""
    try:
        params = _collect_params(ctx.request)
    except _BadParams as exc:
        return _page(pages.error_page("Invalid request", str(exc)), 400)
    action = params.get(pages.ACTION_FIELD) if ctx.request.method == "POST" else None
    raw_code = params.get("user_code", "").strip()
    if not raw_code:
        return _page(pages.device_code_page(action_url=DEVICE_PAGE_PATH))
    auth = _pending_device(ctx, raw_code)
    if auth is None:
        html = pages.device_code_page(
            action_url=DEVICE_PAGE_PATH,
            user_code=raw_code,
            error="That code is not valid, has expired or was already used.",
        )
        return _page(html, 400)
    session = _current_session(ctx)
    if action == "login":
        return _device_login(ctx, auth, params)
    if action == "logout":
        return _device_login_page(ctx, auth, headers=[_sign_out(ctx)])
    if session is None:
        return _device_login_page(ctx, auth)
    if action == "consent":
        return _device_consent(ctx, auth, params, session)
    return _device_consent_page(ctx, auth, session)


def _device_app_name(ctx: Context, auth: DeviceAuthorization) -> str:
    app: App | None = ctx.state.apps.get(auth.client_id)
    return app.name if app is not None else auth.client_id


def _device_login_page(
    ctx: Context,
    auth: DeviceAuthorization,
    *,
    error: str | None = None,
    email: str = "",
    status: int = 200,
    headers: list[tuple[str, str]] | None = None,
) -> Any:
    hidden = {
        "user_code": auth.user_code,
        pages.ACTION_FIELD: "login",
        pages.NONCE_FIELD: _make_nonce(ctx, "device-login", auth.user_code),
    }
    html = pages.login_page(
        action_url=DEVICE_PAGE_PATH,
        hidden=hidden,
        app_name=_device_app_name(ctx, auth),
        email=email,
        error=error,
    )
    return _page(html, status, headers)


def _device_login(ctx: Context, auth: DeviceAuthorization, params: dict[str, str]) -> Any:
    email = params.get("email", "")
    if not _nonce_ok(ctx, "device-login", auth.user_code, params.get(pages.NONCE_FIELD, "")):
        return _device_login_page(
            ctx, auth, error="This form has expired; sign in again.", email=email, status=400
        )
    data = _check_login(ctx, params)
    if data is None:
        return _device_login_page(
            ctx, auth, error="The email or password is incorrect.", email=email, status=401
        )
    response = redirect_response(
        f"{DEVICE_PAGE_PATH}?{urlencode({'user_code': auth.user_code})}", 303
    )
    response.headers.append(_sign_in(ctx, data))
    return response


def _device_consent_page(
    ctx: Context, auth: DeviceAuthorization, session: _Session, *, error: str | None = None
) -> Any:
    binding = f"{session.session_id}|{auth.user_code}"
    html = pages.consent_page(
        action_url=DEVICE_PAGE_PATH,
        hidden={
            "user_code": auth.user_code,
            pages.ACTION_FIELD: "consent",
            pages.NONCE_FIELD: _make_nonce(ctx, "device-consent", binding),
        },
        logout_hidden={"user_code": auth.user_code, pages.ACTION_FIELD: "logout"},
        app_name=_device_app_name(ctx, auth),
        account_label=_account_label(session.data),
        scopes=auth.scope.split(),
        error=error,
    )
    return _page(html, 400 if error else 200)


def _device_consent(
    ctx: Context, auth: DeviceAuthorization, params: dict[str, str], session: _Session
) -> Any:
    binding = f"{session.session_id}|{auth.user_code}"
    if not _nonce_ok(ctx, "device-consent", binding, params.get(pages.NONCE_FIELD, "")):
        return _device_consent_page(ctx, auth, session, error="This form has expired; try again.")
    decision = params.get("decision")
    if decision not in ("allow", "deny"):
        return _device_consent_page(ctx, auth, session, error="Choose Allow or Deny.")
    auth.status = "approved" if decision == "allow" else "denied"
    auth.account_id = session.data.account.account_id
    html = pages.device_done_page(
        app_name=_device_app_name(ctx, auth), approved=decision == "allow"
    )
    return _page(html)


# -- keys and discovery -------------------------------------------------------------------------
@routes.route("GET", KEYS_PATH, "oauth")
def keys(ctx: Context) -> Any:
    return json_response(ctx.sandbox.issuer.jwks())


def server_metadata(ctx: Context) -> dict[str, Any]:
    """RFC 8414 / OpenID discovery metadata describing exactly what this server supports."""
    base = ctx.sandbox.base_url
    return {
        "issuer": ctx.sandbox.issuer.issuer,
        "authorization_endpoint": base + AUTHORIZE_PATH,
        "token_endpoint": base + TOKEN_PATH,
        "revocation_endpoint": base + REVOKE_PATH,
        "device_authorization_endpoint": base + DEVICE_AUTHORIZE_PATH,
        "jwks_uri": base + KEYS_PATH,
        "response_types_supported": ["code", "token"],
        "response_modes_supported": ["query", "fragment"],
        "grant_types_supported": ["authorization_code", "implicit", "refresh_token", DEVICE_GRANT],
        "scopes_supported": list(KNOWN_SCOPES),
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": [
            "client_secret_basic",
            "client_secret_post",
            "none",
        ],
        "revocation_endpoint_auth_methods_supported": [
            "client_secret_basic",
            "client_secret_post",
            "none",
        ],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "claims_supported": ["iss", "sub", "aud", "exp", "iat", "email"],
    }


@routes.route("GET", "/.well-known/openid-configuration", "oauth")
@routes.route("GET", "/oauth2/default/.well-known/openid-configuration", "oauth")
@routes.route("GET", "/oauth2/default/.well-known/oauth-authorization-server", "oauth")
@routes.route("GET", "/.well-known/oauth-authorization-server/oauth2/default", "oauth")
def metadata(ctx: Context) -> Any:
    return json_response(server_metadata(ctx))
