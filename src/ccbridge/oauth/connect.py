"""The connect flows: how an account owner's consent becomes a linked account.

Framework-free on purpose: a web route (Starlette, Flask, anything) calls
``start_authorization`` to get the URL to redirect to, and ``complete_authorization`` from
its callback route; the CLI's loopback listener calls the same two; the device flow has
``start_device_authorization`` and ``wait_for_device``.

The ``state`` parameter is the CSRF defence of the redirect flow (RFC 9700 §4.7): it is
random, stored server-side only as a hash, bound to the browser session that started the
flow (a hash of the session id), valid for ten minutes, and consumed on first use — a
replayed or forged callback, or one arriving in another browser, is refused before any
code is exchanged. The PKCE verifier (S256) is kept encrypted with the vault until then.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import insert, update

from ccbridge._auth import TokenSet, parse_token_response
from ccbridge._errors import APIConnectionError, OAuthError
from ccbridge.config import ConfigError
from ccbridge.oauth.errors import (
    AuthorizationDeniedError,
    CodeExchangeError,
    DeviceFlowExpiredError,
    InvalidStateError,
    SessionMismatchError,
    StateExpiredError,
    StateReplayError,
)
from ccbridge.oauth.protocol import (
    authorization_code_request,
    build_authorize_url,
    device_authorization_request,
    device_token_request,
    new_code_verifier,
    new_state,
    response_json,
    s256_challenge,
    send_token_request,
    state_digest,
)
from ccbridge.oauth.records import LinkedAccount
from ccbridge.store.schema import oauth_states

if TYPE_CHECKING:
    from ccbridge.oauth.accounts import LinkedAccounts

log = logging.getLogger("ccbridge.oauth")

OFFLINE_ACCESS = "offline_access"
STATE_LIFETIME = timedelta(minutes=10)
SLOW_DOWN_STEP = 5  # RFC 8628 §3.5: each slow_down adds five seconds to the interval


def _scopes(scopes: Sequence[str] | None) -> tuple[str, ...]:
    """The requested scopes, with offline_access always added (no refresh token without it)."""
    chosen = list(dict.fromkeys(s for s in (scopes or ()) if s))
    if not chosen:
        raise ConfigError("choose at least one scope (e.g. contact_data) to request")
    if OFFLINE_ACCESS not in chosen:
        chosen.append(OFFLINE_ACCESS)
    return tuple(chosen)


# -- the redirect flow -----------------------------------------------------------------------
@dataclass(frozen=True)
class PendingAuthorization:
    """A started authorization: send the browser to ``url``."""

    url: str
    state: str = field(repr=False)
    app_reference: str
    redirect_uri: str
    scopes: tuple[str, ...]
    expires_at: datetime


def start_authorization(
    accounts: LinkedAccounts,
    *,
    session_id: str,
    app_reference: str,
    scopes: Sequence[str] | None = None,
    redirect_uri: str | None = None,
    use_pkce: bool = True,
) -> PendingAuthorization:
    """Record a single-use state bound to ``session_id`` and build the authorize URL.

    PKCE (S256) is used unless ``use_pkce`` is False; an app without a client secret needs it.
    """
    oauth = accounts.require_oauth()
    if not session_id:
        raise ConfigError("session_id must identify the browser session that starts the flow")
    if not app_reference or not app_reference.strip():
        raise ConfigError("app_reference must be a non-empty string (the app's tenant or user id)")
    redirect = redirect_uri or oauth.redirect_uri
    if not redirect:
        raise ConfigError("no redirect URI: set CCBRIDGE_REDIRECT_URI or pass redirect_uri")
    if not use_pkce and oauth.is_public:
        raise ConfigError("a client without CCBRIDGE_CLIENT_SECRET must use PKCE")
    chosen = _scopes(scopes)
    state = new_state()
    verifier = new_code_verifier() if use_pkce else None
    now = accounts.now()
    verifier_ct, fp = accounts.vault.encrypt(verifier.encode()) if verifier else (None, None)
    with accounts.db.write() as conn:
        conn.execute(
            insert(oauth_states).values(
                state_hash=state_digest(state),
                session_hash=state_digest(session_id),
                app_reference=app_reference.strip(),
                client_id=oauth.client_id,
                redirect_uri=redirect,
                scopes=" ".join(chosen),
                verifier_ciphertext=verifier_ct,
                key_fingerprint=fp,
                created_at=now,
                expires_at=now + STATE_LIFETIME,
            )
        )
        # Old records are useless after expiry; keep the table small.
        conn.execute(
            oauth_states.delete().where(oauth_states.c.expires_at < now - timedelta(days=1))
        )
    url = build_authorize_url(
        oauth.endpoints,
        client_id=oauth.client_id,
        redirect_uri=redirect,
        scopes=chosen,
        state=state,
        code_challenge=s256_challenge(verifier) if verifier else None,
    )
    return PendingAuthorization(
        url=url,
        state=state,
        app_reference=app_reference.strip(),
        redirect_uri=redirect,
        scopes=chosen,
        expires_at=now + STATE_LIFETIME,
    )


@dataclass(frozen=True)
class _ConsumedState:
    app_reference: str
    redirect_uri: str
    verifier: str | None


def _callback_params(callback: str | Mapping[str, str]) -> dict[str, str]:
    from urllib.parse import parse_qsl, urlsplit

    if isinstance(callback, str):
        query = urlsplit(callback).query if ("?" in callback or "://" in callback) else callback
        return dict(parse_qsl(query, keep_blank_values=True))
    return {str(k): str(v) for k, v in callback.items()}


def _consume_state(accounts: LinkedAccounts, state: str, session_id: str) -> _ConsumedState:
    """Mark the state used (committed even when refused) or raise why it is not acceptable."""
    now = accounts.now()
    problem: InvalidStateError | None = None
    consumed: _ConsumedState | None = None
    key = state_digest(state)
    with accounts.db.write() as conn:
        row = accounts.db.lock_row(conn, oauth_states, oauth_states.c.state_hash == key)
        if row is None:
            raise InvalidStateError(
                "the callback's state is unknown: it was altered, or this flow was not started here"
            )
        if row.used_at is not None:
            problem = StateReplayError(
                "this authorization callback was already used (replayed state)"
            )
        elif row.expires_at <= now:
            problem = StateExpiredError(
                "the authorization took longer than 10 minutes; start again"
            )
        elif row.session_hash != state_digest(session_id):
            problem = SessionMismatchError(
                "the callback arrived in another browser session than the one that started it"
            )
        elif row.client_id != accounts.require_oauth().client_id:
            problem = InvalidStateError("the state was issued for another OAuth client")
        else:
            verifier = None
            if row.verifier_ciphertext is not None:
                verifier = accounts.vault.decrypt(
                    row.verifier_ciphertext, row.key_fingerprint, what="a pending authorization"
                ).decode()
            consumed = _ConsumedState(row.app_reference, row.redirect_uri, verifier)
        conn.execute(
            update(oauth_states)
            .where(oauth_states.c.state_hash == key)
            .values(used_at=row.used_at or now, verifier_ciphertext=None, key_fingerprint=None)
        )
    if problem is not None:
        raise problem
    assert consumed is not None
    return consumed


def complete_authorization(
    accounts: LinkedAccounts, callback: str | Mapping[str, str], *, session_id: str
) -> LinkedAccount:
    """Validate the callback's state, exchange the code, verify the token, store the account.

    ``callback`` is the full callback URL, its query string, or its parameters. Every
    refusal raises a specific ``ConnectError`` and stores no account.
    """
    params = _callback_params(callback)
    state = params.get("state")
    if not state:
        raise InvalidStateError("the callback carries no state parameter")
    consumed = _consume_state(accounts, state, session_id)
    if params.get("error"):
        raise AuthorizationDeniedError(params["error"], params.get("error_description") or None)
    code = params.get("code")
    if not code:
        raise AuthorizationDeniedError("invalid_request", "the callback carries no code")
    tokens = exchange_code(accounts, code, consumed.redirect_uri, consumed.verifier)
    return accounts.link_tokens(tokens, app_reference=consumed.app_reference)


def _paced(accounts: LinkedAccounts, send: Callable[[], Any]) -> Any:
    """Run one token-endpoint call inside the client_id's pacing slot."""
    client_id = accounts.require_oauth().client_id
    accounts.pacer.prepare(client_id)
    with accounts.db.write() as conn:
        accounts.pacer.wait(conn, client_id)
    return send()


def exchange_code(
    accounts: LinkedAccounts, code: str, redirect_uri: str, verifier: str | None
) -> TokenSet:
    oauth = accounts.require_oauth()
    request = authorization_code_request(
        oauth, code=code, redirect_uri=redirect_uri, code_verifier=verifier
    )
    response = _paced(accounts, lambda: send_token_request(accounts.http, request))
    try:
        return parse_token_response(response, accounts.clock(), None)
    except OAuthError as exc:
        raise CodeExchangeError(
            f"CC refused the authorization code ({exc.error}: "
            f"{exc.error_description or 'no description'})",
            error=exc.error,
            status=exc.status,
        ) from None


# -- the device flow -------------------------------------------------------------------------
@dataclass(frozen=True)
class DeviceAuthorization:
    """Show ``user_code`` and ``verification_uri`` to the owner, then ``wait_for_device``."""

    device_code: str = field(repr=False)
    user_code: str
    verification_uri: str
    verification_uri_complete: str | None
    expires_at: float
    interval: float


def start_device_authorization(
    accounts: LinkedAccounts, scopes: Sequence[str] | None = None
) -> DeviceAuthorization:
    oauth = accounts.require_oauth()
    chosen = _scopes(scopes)
    response = send_token_request(accounts.http, device_authorization_request(oauth, chosen))
    data = response_json(response)
    if response.status_code != 200 or not isinstance(data, dict):
        error = data.get("error") if isinstance(data, dict) else None
        description = data.get("error_description") if isinstance(data, dict) else None
        raise CodeExchangeError(
            f"CC refused to start the device flow (HTTP {response.status_code}"
            + (f", {error}: {description}" if error else "")
            + ")",
            error=error if isinstance(error, str) else None,
            status=response.status_code,
        )
    try:
        device_code = str(data["device_code"])
        user_code = str(data["user_code"])
        verification_uri = str(data["verification_uri"])
        expires_in = float(data.get("expires_in") or 600)
        interval = float(data.get("interval") or 5)
    except (KeyError, TypeError, ValueError):
        raise CodeExchangeError("the device authorization answer lacks required fields") from None
    complete = data.get("verification_uri_complete")
    return DeviceAuthorization(
        device_code=device_code,
        user_code=user_code,
        verification_uri=verification_uri,
        verification_uri_complete=complete if isinstance(complete, str) else None,
        expires_at=accounts.clock() + expires_in,
        interval=max(interval, 1.0),
    )


def wait_for_device(
    accounts: LinkedAccounts,
    device: DeviceAuthorization,
    *,
    app_reference: str,
    on_poll: Callable[[str, float], None] | None = None,
) -> LinkedAccount:
    """Poll at the advertised interval until the owner decides, then link the account.

    ``slow_down`` adds five seconds to the interval for good; throttling, server errors and
    network failures are waited out like ``authorization_pending``, until the code expires.
    ``on_poll(status, interval)`` reports each answer (for a progress display).
    """
    oauth = accounts.require_oauth()
    interval = device.interval
    while True:
        if accounts.clock() >= device.expires_at:
            raise DeviceFlowExpiredError(
                "the device code expired before it was approved; start again"
            )
        accounts.sleep(interval)
        try:
            response = send_token_request(
                accounts.http, device_token_request(oauth, device.device_code)
            )
        except APIConnectionError:
            status = "unreachable"
        else:
            if response.status_code == 200:
                tokens = parse_token_response(response, accounts.clock(), None)
                return accounts.link_tokens(tokens, app_reference=app_reference)
            data = response_json(response)
            error = data.get("error") if isinstance(data, dict) else None
            status = str(error) if error else f"http_{response.status_code}"
            if status == "slow_down":
                interval += SLOW_DOWN_STEP
            elif status == "access_denied":
                raise AuthorizationDeniedError("access_denied", "the owner denied the request")
            elif status == "expired_token":
                raise DeviceFlowExpiredError(
                    "the device code expired before it was approved; start again"
                )
            elif status != "authorization_pending" and response.status_code < 429:
                description = data.get("error_description") if isinstance(data, dict) else None
                raise CodeExchangeError(
                    f"CC refused the device code ({status}: {description or 'no description'})",
                    error=status,
                    status=response.status_code,
                )
        if on_poll is not None:
            on_poll(status, interval)
