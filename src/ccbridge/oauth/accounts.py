"""Linked accounts: link once, and the tokens stay good for as long as the owner allows.

``LinkedAccounts`` is the service an application holds (one per process). It stores
linked accounts with their tokens encrypted in the vault, hands out ``Client`` and
``AsyncClient`` objects whose ``VaultTokenSource`` refreshes transparently, keeps idle
accounts alive, and disconnects them.

How a refresh stays safe when many workers need it at once (DESIGN-NOTES, "Token refresh
that never strands an account"):

1. Callers first read the row without locking; a token that is not due (its expiry minus
   the margin is still ahead) and not the one CC just refused is used as it is.
2. In a process, ``SingleFlight`` lets one caller per account go on; the others wait for
   its result.
3. That caller opens a write transaction and locks the row (``FOR UPDATE`` on PostgreSQL,
   ``BEGIN IMMEDIATE`` on SQLite), then re-reads it: another process may have refreshed
   while it waited, and then its token is used and CC is not called.
4. Still due: it takes the client_id's token-endpoint slot (≤ 1/s), calls CC, and writes the
   encrypted new tokens and an audit record in the same transaction, committing before
   anyone sees the new access token. Nothing else happens between CC's answer and the
   commit: the window in which a crash loses a rotated refresh token is as short as it
   can be (docs/linked-accounts.md has the analysis).
5. ``invalid_grant``: the row is read again; if its refresh token changed meanwhile the
   race was lost and the new token is used. Otherwise the grant is dead: the account is
   marked ``needs_reauth`` (committed with an audit record), then the hook and webhook fire.
6. 429, 5xx and network errors never change the account: ``TokenRefreshRetriableError``.
"""

from __future__ import annotations

import builtins
import contextlib
import logging
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import anyio.to_thread
import httpx
from sqlalchemy import Connection, Row, select

from ccbridge._auth import StaticToken, TokenSet, parse_token_response
from ccbridge._client import AsyncClient, Client
from ccbridge._errors import APIConnectionError, APIError, CCBridgeError, OAuthError
from ccbridge.config import ConfigError, Settings
from ccbridge.oauth import records
from ccbridge.oauth.coordination import (
    NeedsReauthEvent,
    ReauthHook,
    ReauthNotifier,
    SingleFlight,
    TokenEndpointPacer,
)
from ccbridge.oauth.errors import (
    AccountDisconnectedError,
    AccountNotFoundError,
    ClientMismatchError,
    NeedsReauthError,
    OfflineAccessMissingError,
    RevokeFailedError,
    TokenRefreshError,
    TokenRefreshRetriableError,
    VaultError,
)
from ccbridge.oauth.protocol import (
    OAuthClientConfig,
    refresh_request,
    revoke_request,
    send_token_request,
)
from ccbridge.oauth.records import AuditEvent, LinkedAccount
from ccbridge.oauth.vault import StoredTokens, TokenVault
from ccbridge.oauth.verification import AccessTokenClaims, JWKSCache, verify_access_token
from ccbridge.store.database import Database
from ccbridge.store.schema import linked_accounts

if TYPE_CHECKING:
    from ccbridge.oauth.connect import DeviceAuthorization, PendingAuthorization

log = logging.getLogger("ccbridge.oauth")

DEFAULT_REFRESH_MARGIN = 300.0
DEFAULT_KEEPALIVE_DAYS = 30.0


@dataclass(frozen=True)
class CurrentToken:
    """An access token ready for use and when it expires (epoch seconds, or None)."""

    access_token: str = field(repr=False)
    expires_at: float | None


@dataclass
class KeepAliveReport:
    """What one keep-alive pass did."""

    checked: int = 0
    refreshed: list[str] = field(default_factory=list)
    needs_reauth: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)


def _classify(exc: BaseException) -> str:
    """'retriable', 'dead' (invalid_grant) or 'failed' for a token-endpoint failure."""
    if isinstance(exc, APIConnectionError):
        return "retriable"
    if isinstance(exc, OAuthError):
        status = exc.status or 0
        if status == 429 or status >= 500:
            return "retriable"
        if exc.error == "invalid_grant":
            return "dead"
    return "failed"


def _failure_detail(exc: BaseException) -> dict[str, Any]:
    if isinstance(exc, OAuthError):
        return {"error": exc.error, "status": exc.status}
    return {"error": type(exc).__name__}


class LinkedAccounts:
    """The linked-accounts service: link, list, refresh, keep alive, disconnect.

    ``oauth`` may be None for commands that only read the store (``accounts list``);
    anything that talks to CC then raises ``ConfigError``. ``transport`` /
    ``async_transport`` are the httpx seams (the sandbox's in-process transports in tests).
    ``clock`` and ``sleep`` are wall-clock seconds and waiting; tests use the sandbox's.
    ``before_commit`` is called with the account id between CC's token answer and the
    commit — it exists to test crashes at that exact point.
    """

    def __init__(
        self,
        db: Database,
        vault: TokenVault,
        oauth: OAuthClientConfig | None = None,
        *,
        transport: httpx.BaseTransport | None = None,
        async_transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        refresh_margin: float = DEFAULT_REFRESH_MARGIN,
        keepalive_idle_days: float = DEFAULT_KEEPALIVE_DAYS,
        on_needs_reauth: ReauthHook | None = None,
        reauth_webhook_url: str | None = None,
        webhook_http: httpx.Client | None = None,
        token_interval: float = 1.1,
        timeout: float = 30.0,
        fetch_account_summary: bool = True,
        before_commit: Callable[[str], None] | None = None,
    ) -> None:
        self.db = db
        self.vault = vault
        self.oauth = oauth
        self.clock = clock
        self.sleep = sleep
        self.refresh_margin = refresh_margin
        self.keepalive_idle_days = keepalive_idle_days
        self.fetch_account_summary = fetch_account_summary
        self._transport = transport
        self._async_transport = async_transport
        self.http = httpx.Client(transport=transport, timeout=timeout, follow_redirects=False)
        self.notifier = ReauthNotifier(on_needs_reauth, reauth_webhook_url, http=webhook_http)
        self.pacer = TokenEndpointPacer(db, interval=token_interval, clock=clock, sleep=sleep)
        self._flights: SingleFlight[CurrentToken] = SingleFlight()
        self._reads: SingleFlight[CurrentToken] = SingleFlight()
        self.owns_database = False  # set by open_linked_accounts: close() then disposes it
        self._jwks: JWKSCache | None = None
        self._before_commit = before_commit

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        db: Database,
        vault: TokenVault,
        oauth: OAuthClientConfig | None,
        **options: Any,
    ) -> LinkedAccounts:
        options.setdefault("refresh_margin", settings.refresh_margin)
        options.setdefault("keepalive_idle_days", settings.keepalive_idle_days)
        options.setdefault("reauth_webhook_url", settings.reauth_webhook_url)
        return cls(db, vault, oauth, **options)

    def close(self) -> None:
        self.http.close()
        if self.owns_database:
            self.db.dispose()

    def __enter__(self) -> LinkedAccounts:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- small helpers --------------------------------------------------------------------
    def now(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), UTC)

    def require_oauth(self) -> OAuthClientConfig:
        if self.oauth is None:
            raise ConfigError(
                "no OAuth client is configured: set CCBRIDGE_CLIENT_ID (and CCBRIDGE_CLIENT_SECRET),"
                " or use the sandbox"
            )
        return self.oauth

    def _check_client(self, row: Row[Any]) -> OAuthClientConfig:
        oauth = self.require_oauth()
        if row.client_id != oauth.client_id or row.issuer != oauth.endpoints.issuer:
            raise ClientMismatchError(
                f"linked account {row.id} was linked through client_id {row.client_id!r} at "
                f"{row.issuer}; this ccbridge is configured for client_id {oauth.client_id!r} "
                f"at {oauth.endpoints.issuer}",
                account_id=row.id,
            )
        return oauth

    @property
    def jwks(self) -> JWKSCache:
        if self._jwks is None:
            self._jwks = JWKSCache(self.require_oauth().endpoints.jwks_url, self.http)
        return self._jwks

    def _due(self, expires_at: datetime | float | None) -> bool:
        if expires_at is None:
            return False
        seconds = expires_at.timestamp() if isinstance(expires_at, datetime) else expires_at
        return seconds - self.refresh_margin <= self.clock()

    # -- reading --------------------------------------------------------------------------
    def get(self, account_id: str) -> LinkedAccount:
        with self.db.read() as conn:
            row = records.get_account_row(conn, account_id)
        if row is None:
            raise AccountNotFoundError(
                f"no linked account has id {account_id!r}", account_id=account_id
            )
        return records.account_from_row(row)

    def list(
        self, *, app_reference: str | None = None, status: str | None = None
    ) -> builtins.list[LinkedAccount]:
        """All linked accounts (oldest first), optionally of one app reference or status."""
        with self.db.read() as conn:
            rows = records.list_account_rows(conn, app_reference=app_reference, status=status)
        return [records.account_from_row(r) for r in rows]

    def find_by_app_reference(self, app_reference: str) -> builtins.list[LinkedAccount]:
        return self.list(app_reference=app_reference)

    def audit_log(
        self, account_id: str | None = None, *, limit: int | None = None
    ) -> builtins.list[AuditEvent]:
        with self.db.read() as conn:
            return records.list_events(conn, account_id=account_id, limit=limit)

    def _decrypt(self, row: Row[Any]) -> StoredTokens:
        if row.token_ciphertext is None:
            raise AccountDisconnectedError(
                f"linked account {row.id} holds no tokens", account_id=row.id
            )
        return self.vault.decrypt_tokens(
            row.token_ciphertext, row.key_fingerprint, account_id=row.id
        )

    @staticmethod
    def _raise_unusable(row: Row[Any] | None, account_id: str) -> Row[Any]:
        if row is None:
            raise AccountNotFoundError(
                f"no linked account has id {account_id!r}", account_id=account_id
            )
        if row.status == records.NEEDS_REAUTH:
            raise NeedsReauthError(
                f"linked account {account_id} needs its owner to connect it again "
                f"({row.status_reason or 'the grant is no longer valid'})",
                account_id=account_id,
            )
        if row.status == records.DISCONNECTED:
            raise AccountDisconnectedError(
                f"linked account {account_id} was disconnected", account_id=account_id
            )
        return row

    # -- tokens for use -------------------------------------------------------------------
    def current_token(self, account_id: str, *, rejected: str | None = None) -> CurrentToken:
        """A usable access token, refreshing first when it is due or was ``rejected``.

        Concurrent callers in this process share one read (and, if needed, one refresh):
        a storm of callers costs the database one query per process, not one per caller.
        """
        result = self._reads.do(account_id, lambda: self._read_or_refresh(account_id, rejected))
        if rejected is not None and result.access_token == rejected:
            # We joined a read that did not know this token had been refused.
            result = self._read_or_refresh(account_id, rejected)
        return result

    def _read_or_refresh(self, account_id: str, rejected: str | None) -> CurrentToken:
        with self.db.read() as conn:
            row = self._raise_unusable(records.get_account_row(conn, account_id), account_id)
        tokens = self._decrypt(row)
        if self._usable(row, tokens, rejected):
            return self._current(row, tokens)
        return self._flights.do(
            account_id, lambda: self._refresh_locked(account_id, rejected=rejected)
        )

    def refresh(self, account_id: str) -> CurrentToken:
        """Refresh now, whatever the expiry (a no-op if another caller refreshed meanwhile)."""
        cutoff = self.now()
        return self._flights.do(
            account_id, lambda: self._refresh_locked(account_id, refreshed_before=cutoff)
        )

    def _usable(self, row: Row[Any], tokens: StoredTokens, rejected: str | None) -> bool:
        if rejected is not None and tokens.access_token == rejected:
            return False
        return not self._due(row.access_expires_at)

    @staticmethod
    def _current(row: Row[Any], tokens: StoredTokens) -> CurrentToken:
        expires = row.access_expires_at.timestamp() if row.access_expires_at else None
        return CurrentToken(tokens.access_token, expires)

    def _refresh_locked(
        self,
        account_id: str,
        *,
        rejected: str | None = None,
        refreshed_before: datetime | None = None,
    ) -> CurrentToken:
        """Steps 3-6 of the module docstring. Runs as the single flight of this process."""
        self.pacer.prepare(self.require_oauth().client_id)
        for _attempt in range(3):  # another pass only after a lost race
            outcome = self._refresh_attempt(account_id, rejected, refreshed_before)
            if isinstance(outcome, CurrentToken):
                return outcome
            if isinstance(outcome, NeedsReauthEvent):
                self.notifier.notify(outcome)
                raise NeedsReauthError(
                    f"linked account {account_id} needs its owner to connect it again "
                    f"({outcome.reason})",
                    account_id=account_id,
                )
            if isinstance(outcome, BaseException):
                raise outcome
        raise TokenRefreshRetriableError(  # pragma: no cover - needs three lost races in a row
            f"linked account {account_id}: the refresh token kept changing under us; try again",
            account_id=account_id,
        )

    def _refresh_attempt(
        self, account_id: str, rejected: str | None, refreshed_before: datetime | None
    ) -> CurrentToken | NeedsReauthEvent | BaseException | None:
        """One locked transaction. Returns the token, an event to announce, an error to
        raise after the commit, or None to try again (a lost race)."""
        with self.db.write() as conn:
            row = self._raise_unusable(
                self.db.lock_row(conn, linked_accounts, linked_accounts.c.id == account_id),
                account_id,
            )
            oauth = self._check_client(row)
            tokens = self._decrypt(row)
            stale = refreshed_before is not None and (
                row.last_refreshed_at is None or row.last_refreshed_at < refreshed_before
            )
            if not stale and self._usable(row, tokens, rejected):
                return self._current(row, tokens)  # another process refreshed while we waited
            if tokens.refresh_token is None:
                return self._mark_needs_reauth(conn, row, "no refresh token is stored", None)
            self.pacer.wait(conn, oauth.client_id)
            try:
                new = self._call_refresh(oauth, tokens.refresh_token)
            except (OAuthError, APIConnectionError) as exc:
                kind = _classify(exc)
                if kind == "dead":
                    again = self._reread(conn, account_id)
                    if again is not None and again.token_version != row.token_version:
                        log.info(
                            "linked account %s: lost a refresh race; using the new token",
                            account_id,
                        )
                        return None
                    description = getattr(exc, "error_description", None)
                    reason = f"invalid_grant: {description or 'the refresh token was refused'}"
                    return self._mark_needs_reauth(conn, row, reason, exc)
                return self._record_failure(conn, row, exc, retriable=kind == "retriable")
            if self._before_commit is not None:
                self._before_commit(account_id)
            current = self._store_refreshed(conn, row, new, tokens.refresh_token)
        log.info("refreshed linked account %s", account_id)
        return current

    def _reread(self, conn: Connection, account_id: str) -> Row[Any] | None:
        return conn.execute(
            select(linked_accounts).where(linked_accounts.c.id == account_id)
        ).first()

    def _call_refresh(self, oauth: OAuthClientConfig, refresh_token: str) -> TokenSet:
        response = send_token_request(self.http, refresh_request(oauth, refresh_token))
        return parse_token_response(response, self.clock(), refresh_token)

    def _store_refreshed(
        self, conn: Connection, row: Row[Any], new: TokenSet, old_refresh: str
    ) -> CurrentToken:
        now = self.now()
        ciphertext, fp = self.vault.encrypt_tokens(
            StoredTokens(new.access_token, new.refresh_token)
        )
        expires = datetime.fromtimestamp(new.expires_at, UTC) if new.expires_at else None
        values: dict[str, Any] = {
            "token_ciphertext": ciphertext,
            "key_fingerprint": fp,
            "token_version": row.token_version + 1,
            "last_refreshed_at": now,
            "access_expires_at": expires,
            "updated_at": now,
        }
        if new.scope:
            values["scopes"] = new.scope
        records.update_account(conn, row.id, values)
        records.add_event(
            conn,
            row.id,
            records.REFRESHED,
            now,
            {"token_version": row.token_version + 1, "rotated": new.refresh_token != old_refresh},
        )
        return CurrentToken(new.access_token, new.expires_at)

    def _record_failure(
        self, conn: Connection, row: Row[Any], exc: BaseException, *, retriable: bool
    ) -> BaseException:
        now = self.now()
        detail = {**_failure_detail(exc), "retriable": retriable}
        records.add_event(conn, row.id, records.REFRESH_FAILED, now, detail)
        log.warning(
            "refreshing linked account %s failed (%s); the account stays active",
            row.id,
            detail["error"],
        )
        message = f"refreshing linked account {row.id} failed: {exc}"
        if retriable:
            return TokenRefreshRetriableError(message + "; try again later", account_id=row.id)
        return TokenRefreshError(message, account_id=row.id)

    def _mark_needs_reauth(
        self, conn: Connection, row: Row[Any], reason: str, exc: BaseException | None
    ) -> NeedsReauthEvent:
        now = self.now()
        records.update_account(
            conn,
            row.id,
            {
                "status": records.NEEDS_REAUTH,
                "status_reason": reason,
                "needs_reauth_at": now,
                "updated_at": now,
            },
        )
        if exc is not None:
            records.add_event(
                conn,
                row.id,
                records.REFRESH_FAILED,
                now,
                {**_failure_detail(exc), "retriable": False},
            )
        records.add_event(conn, row.id, records.NEEDS_REAUTH_EVENT, now, {"reason": reason})
        log.warning("linked account %s needs its owner to connect it again: %s", row.id, reason)
        account = records.account_from_row(
            {
                **row._mapping,
                "status": records.NEEDS_REAUTH,
                "status_reason": reason,
                "needs_reauth_at": now,
                "updated_at": now,
            }
        )
        return NeedsReauthEvent(account, reason, now)

    # -- linking ------------------------------------------------------------------------------
    def verify(self, access_token: str) -> AccessTokenClaims:
        oauth = self.require_oauth()
        return verify_access_token(
            access_token,
            endpoints=oauth.endpoints,
            client_id=oauth.client_id,
            jwks=self.jwks,
            now=self.clock(),
        )

    def link_tokens(self, tokens: TokenSet, *, app_reference: str) -> LinkedAccount:
        """Verify a fresh token response and store the account (or re-link an existing one).

        Everything that can fail — the JWT checks, a missing refresh token — is checked
        before the single write, so a refused link leaves nothing behind.
        """
        oauth = self.require_oauth()
        if not app_reference or not app_reference.strip():
            raise ConfigError(
                "app_reference must be a non-empty string (the app's tenant or user id)"
            )
        claims = self.verify(tokens.access_token)
        if not tokens.refresh_token:
            self._revoke_quietly(oauth, tokens.access_token, "access_token")
            raise OfflineAccessMissingError(
                "CC issued no refresh token: the offline_access scope was not granted, so the "
                "account could not stay linked; connect again and allow offline access"
            )
        summary = self._account_summary(tokens.access_token) if self.fetch_account_summary else {}
        return self._store_link(oauth, tokens, claims, summary, app_reference.strip())

    def _store_link(
        self,
        oauth: OAuthClientConfig,
        tokens: TokenSet,
        claims: AccessTokenClaims,
        summary: Mapping[str, Any],
        app_reference: str,
    ) -> LinkedAccount:
        now = self.now()
        ciphertext, fp = self.vault.encrypt_tokens(
            StoredTokens(tokens.access_token, tokens.refresh_token)
        )
        expires = datetime.fromtimestamp(tokens.expires_at, UTC) if tokens.expires_at else None
        identity = {
            "platform_user_id": claims.platform_user_id,
            "organization_name": summary.get("organization_name"),
            "contact_email": summary.get("contact_email"),
            "encoded_account_id": summary.get("encoded_account_id"),
        }
        token_values: dict[str, Any] = {
            "scopes": tokens.scope or " ".join(claims.scopes),
            "status": records.ACTIVE,
            "status_reason": None,
            "needs_reauth_at": None,
            "disconnected_at": None,
            "last_refreshed_at": now,
            "access_expires_at": expires,
            "updated_at": now,
            "token_ciphertext": ciphertext,
            "key_fingerprint": fp,
        }
        with self.db.write() as conn:
            existing = records.find_identity(conn, oauth.client_id, claims.subject, app_reference)
            if existing is not None:
                row = self.db.lock_row(conn, linked_accounts, linked_accounts.c.id == existing.id)
                assert row is not None
                values = {**token_values, "token_version": row.token_version + 1}
                values.update({k: v for k, v in identity.items() if v is not None})
                records.update_account(conn, row.id, values)
                records.add_event(
                    conn, row.id, records.RELINKED, now, {"previous_status": row.status}
                )
                account_id = row.id
            else:
                account_id = str(uuid.uuid4())
                records.insert_account(
                    conn,
                    {
                        "id": account_id,
                        "app_reference": app_reference,
                        "client_id": oauth.client_id,
                        "issuer": oauth.endpoints.issuer,
                        "cc_account_id": claims.subject,
                        "linked_at": now,
                        "token_version": 1,
                        **identity,
                        **token_values,
                    },
                )
                records.add_event(
                    conn, account_id, records.LINKED, now, {"scopes": token_values["scopes"]}
                )
        log.info("linked CC account %s as linked account %s", claims.subject, account_id)
        return self.get(account_id)

    def _account_summary(self, access_token: str) -> dict[str, Any]:
        """``GET /account/summary``; any failure leaves the identity to the JWT claims."""
        try:
            with Client(
                StaticToken(access_token),
                base_url=self.require_oauth().endpoints.api_v3_url,
                transport=self._transport,
                rate_limit=None,
                max_retries=1,
                clock=self.clock,
                sleep=self.sleep,
            ) as client:
                data = client.account.get_account_by_id()
        except (APIError, APIConnectionError, CCBridgeError) as exc:
            log.info(
                "account summary unavailable (%s); using the token's claims", type(exc).__name__
            )
            return {}
        return data if isinstance(data, dict) else {}

    def refresh_identity(self, account_id: str) -> LinkedAccount:
        """Fill in the organisation name and contact email from CC's account summary."""
        token = self.current_token(account_id)
        summary = self._account_summary(token.access_token)
        values = {
            k: summary.get(k)
            for k in ("organization_name", "contact_email", "encoded_account_id")
            if isinstance(summary.get(k), str)
        }
        if values:
            with self.db.write() as conn:
                records.update_account(conn, account_id, {**values, "updated_at": self.now()})
        return self.get(account_id)

    # -- connect flows (see ccbridge.oauth.connect) ------------------------------------------
    def start_authorization(
        self,
        *,
        session_id: str,
        app_reference: str,
        scopes: Sequence[str] | None = None,
        redirect_uri: str | None = None,
        use_pkce: bool = True,
    ) -> PendingAuthorization:
        from ccbridge.oauth import connect

        return connect.start_authorization(
            self,
            session_id=session_id,
            app_reference=app_reference,
            scopes=scopes,
            redirect_uri=redirect_uri,
            use_pkce=use_pkce,
        )

    def complete_authorization(
        self, callback: str | Mapping[str, str], *, session_id: str
    ) -> LinkedAccount:
        from ccbridge.oauth import connect

        return connect.complete_authorization(self, callback, session_id=session_id)

    def start_device_authorization(
        self, scopes: Sequence[str] | None = None
    ) -> DeviceAuthorization:
        from ccbridge.oauth import connect

        return connect.start_device_authorization(self, scopes)

    def wait_for_device(
        self,
        device: DeviceAuthorization,
        *,
        app_reference: str,
        on_poll: Callable[[str, float], None] | None = None,
    ) -> LinkedAccount:
        from ccbridge.oauth import connect

        return connect.wait_for_device(self, device, app_reference=app_reference, on_poll=on_poll)

    # -- clients ------------------------------------------------------------------------------
    def token_source(self, account_id: str) -> VaultTokenSource:
        return VaultTokenSource(self, account_id)

    def _client_options(self, account_id: str, options: dict[str, Any]) -> dict[str, Any]:
        with self.db.read() as conn:
            row = self._raise_unusable(records.get_account_row(conn, account_id), account_id)
        oauth = self._check_client(row)
        options.setdefault("client_id", row.client_id)
        options.setdefault("base_url", oauth.endpoints.api_v3_url)
        return options

    def client(self, account_id: str, **options: Any) -> Client:
        """A ``Client`` for the account whose token refreshes itself (options pass through)."""
        options = self._client_options(account_id, options)
        options.setdefault("transport", self._transport)
        return Client(self.token_source(account_id), **options)

    def async_client(self, account_id: str, **options: Any) -> AsyncClient:
        options = self._client_options(account_id, options)
        options.setdefault("transport", self._async_transport)
        return AsyncClient(self.token_source(account_id), **options)

    # -- keep-alive ---------------------------------------------------------------------------
    def keep_alive(self, *, idle_days: float | None = None) -> KeepAliveReport:
        """Refresh every active account not refreshed for ``idle_days`` (default 30).

        CC forgets a refresh token unused for 180 days; a daily run of this keeps every
        linked account far from that edge. Failures are reported, never raised: one dead
        account must not stop the others.
        """
        days = self.keepalive_idle_days if idle_days is None else idle_days
        cutoff = self.now() - timedelta(days=days)
        report = KeepAliveReport()
        c = linked_accounts.c
        with self.db.read() as conn:
            ids = [
                r.id
                for r in conn.execute(
                    select(c.id, c.last_refreshed_at, c.linked_at).where(c.status == records.ACTIVE)
                )
                if (r.last_refreshed_at or r.linked_at) < cutoff
            ]
        for account_id in ids:
            report.checked += 1
            try:
                self._flights.do(
                    account_id,
                    lambda a=account_id: self._refresh_locked(a, refreshed_before=cutoff),  # type: ignore[misc]
                )
            except NeedsReauthError:
                report.needs_reauth.append(account_id)
            except (CCBridgeError, OSError) as exc:
                report.failed[account_id] = str(exc)
            else:
                report.refreshed.append(account_id)
        return report

    # -- disconnect ---------------------------------------------------------------------------
    def disconnect(self, account_id: str, *, force: bool = False) -> LinkedAccount:
        """Revoke the grant at CC, delete the tokens, keep the row as ``disconnected``.

        If CC cannot be reached the tokens are kept and ``RevokeFailedError`` is raised, so
        the grant is not left alive at CC with no way to end it; ``force`` deletes them
        anyway (and records that the revocation did not happen).
        """
        oauth = self.require_oauth()
        with self.db.write() as conn:
            row = self.db.lock_row(conn, linked_accounts, linked_accounts.c.id == account_id)
            if row is None:
                raise AccountNotFoundError(
                    f"no linked account has id {account_id!r}", account_id=account_id
                )
            if row.status == records.DISCONNECTED:
                return records.account_from_row(row)
            self._check_client(row)
            revoked, problem = self._revoke_row(oauth, row)
            if problem is not None and not force:
                raise RevokeFailedError(
                    f"linked account {account_id}: {problem}; nothing was changed (use force to "
                    "delete the tokens anyway)",
                    account_id=account_id,
                )
            now = self.now()
            records.update_account(
                conn,
                account_id,
                {
                    "status": records.DISCONNECTED,
                    "status_reason": "disconnected"
                    + ("" if revoked else f" without revocation ({problem})"),
                    "disconnected_at": now,
                    "updated_at": now,
                    "token_ciphertext": None,
                    "key_fingerprint": None,
                    "access_expires_at": None,
                },
            )
            records.add_event(
                conn,
                account_id,
                records.DISCONNECTED_EVENT,
                now,
                {"revoked": revoked, "forced": force},
            )
        log.info("disconnected linked account %s (revoked at CC: %s)", account_id, revoked)
        return self.get(account_id)

    def _revoke_row(self, oauth: OAuthClientConfig, row: Row[Any]) -> tuple[bool, str | None]:
        if row.token_ciphertext is None:
            return False, "no tokens are stored"
        try:
            tokens = self._decrypt(row)
        except VaultError as exc:
            return False, f"the tokens cannot be decrypted ({type(exc).__name__})"
        pairs = [(tokens.refresh_token, "refresh_token"), (tokens.access_token, "access_token")]
        for value, hint in pairs:
            if value is None:
                continue
            try:
                response = send_token_request(self.http, revoke_request(oauth, value, hint=hint))
            except APIConnectionError as exc:
                return False, f"CC's revoke endpoint could not be reached ({exc})"
            if response.status_code != 200:
                return False, f"CC's revoke endpoint answered HTTP {response.status_code}"
        return True, None

    def _revoke_quietly(self, oauth: OAuthClientConfig, token: str, hint: str) -> None:
        with contextlib.suppress(APIConnectionError):
            send_token_request(self.http, revoke_request(oauth, token, hint=hint))


class VaultTokenSource:
    """The ``TokenSource`` of one linked account: the client asks it for tokens.

    The last token is kept in memory and used until it is due; then (or after a 401) the
    service's coordinated refresh runs. Async callers get the in-memory token without a
    thread; anything that may touch the database runs in a worker thread, where the same
    single-flight lock covers threads and tasks alike.
    """

    def __init__(self, accounts: LinkedAccounts, account_id: str) -> None:
        self.accounts = accounts
        self.account_id = account_id
        self._cached: CurrentToken | None = None

    def _fresh_cached(self) -> str | None:
        cached = self._cached
        if cached is not None and not self.accounts._due(cached.expires_at):
            return cached.access_token
        return None

    def get_token(self) -> str:
        token = self._fresh_cached()
        if token is not None:
            return token
        self._cached = self.accounts.current_token(self.account_id)
        return self._cached.access_token

    def refresh(self, rejected: str | None = None) -> str:
        self._cached = self.accounts.current_token(self.account_id, rejected=rejected)
        return self._cached.access_token

    async def aget_token(self) -> str:
        token = self._fresh_cached()
        if token is not None:
            return token
        return await anyio.to_thread.run_sync(self.get_token)

    async def arefresh(self, rejected: str | None = None) -> str:
        return await anyio.to_thread.run_sync(self.refresh, rejected)

    def __repr__(self) -> str:
        return f"VaultTokenSource(account_id={self.account_id!r})"
