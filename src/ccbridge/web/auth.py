"""Who may use the dashboard and the admin API: admin users, API tokens, sessions, tickets.

- Passwords are hashed with scrypt (``hashlib.scrypt``, memory-hard, in the standard
  library), with a per-password salt and the cost parameters stored in the hash string, so
  the cost can be raised later without breaking old hashes.
- API tokens (``ccbridge admin token``) and session ids are 256-bit random strings; only
  their SHA-256 digest is stored. They are shown once, when created.
- Sessions live in the database so that several web processes share them and logging out
  ends a session everywhere. Each has its own CSRF token; the login form itself runs in an
  anonymous session, so it is protected as well. A successful login always starts a new
  session (the anonymous id is thrown away: no session fixation).
- Connect tickets are single-use links handed to applications through the admin API.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, insert, select, update

from ccbridge._errors import CCBridgeError
from ccbridge.store.database import Database
from ccbridge.web.tables import admin_tokens, admin_users, connect_tickets, web_sessions

TOKEN_PREFIX = "ccb_"
SCRYPT_LOG_N = 15  # 2**15 * 128 * r = 32 MiB of memory per hash with r=8
SCRYPT_R = 8
SCRYPT_P = 1
ANONYMOUS_SESSION = timedelta(hours=1)
TICKET_LIFETIME = timedelta(minutes=30)
USERNAME_MAX = 150
PASSWORD_MIN = 10


class AuthError(CCBridgeError):
    """Bad admin input (a weak password, an unknown user); the message says which."""


# -- passwords -------------------------------------------------------------------------------
def hash_password(password: str, *, log_n: int = SCRYPT_LOG_N) -> str:
    """``scrypt$<log2 N>$<r>$<p>$<salt>$<hash>`` (base64 without padding)."""
    salt = secrets.token_bytes(16)
    digest = _scrypt(password, salt, log_n, SCRYPT_R, SCRYPT_P)
    return "$".join(("scrypt", str(log_n), str(SCRYPT_R), str(SCRYPT_P), _b64(salt), _b64(digest)))


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, log_n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = _unb64(digest)
        actual = _scrypt(password, _unb64(salt), int(log_n), int(r), int(p), len(expected))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


def _scrypt(password: str, salt: bytes, log_n: int, r: int, p: int, length: int = 32) -> bytes:
    n = 1 << log_n
    return hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=n, r=r, p=p, maxmem=256 * n * r, dklen=length
    )


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def digest(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def check_username(username: str) -> str:
    name = username.strip()
    if not name or len(name) > USERNAME_MAX or any(c.isspace() for c in name):
        raise AuthError(
            f"the username must be 1-{USERNAME_MAX} characters without spaces; got {username!r}"
        )
    return name


def check_password(password: str) -> None:
    if len(password) < PASSWORD_MIN:
        raise AuthError(f"the password must be at least {PASSWORD_MIN} characters long")


# -- records ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class AdminUser:
    id: str
    username: str


@dataclass(frozen=True)
class Session:
    """A browser session; ``raw_id`` is the cookie value (never stored)."""

    raw_id: str
    admin_user_id: str | None
    username: str | None
    csrf_token: str
    expires_at: datetime
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def is_admin(self) -> bool:
        return self.admin_user_id is not None


@dataclass(frozen=True)
class ApiToken:
    id: str
    name: str
    token_prefix: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


@dataclass(frozen=True)
class ConnectTicket:
    app_reference: str
    scopes: tuple[str, ...] | None
    return_url: str | None


class TicketError(AuthError):
    """A connect link is unknown, used or expired."""


class LoginThrottle:
    """Slows password guessing: after ``limit`` failures for a name or an address within
    ``window`` seconds, further attempts are refused until the window passes.

    Per process (good enough: each web process throttles its own share, and scrypt keeps
    every guess expensive anyway).
    """

    def __init__(
        self, limit: int = 10, window: float = 900.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limit = limit
        self.window = window
        self.clock = clock
        self._failures: dict[str, list[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> list[float]:
        times = [t for t in self._failures.get(key, []) if t > now - self.window]
        self._failures[key] = times
        return times

    def retry_after(self, *keys: str) -> float:
        """Seconds to wait before trying again (0: go ahead)."""
        now = self.clock()
        with self._lock:
            waits = [
                times[0] + self.window - now
                for key in keys
                if len(times := self._recent(key, now)) >= self.limit
            ]
        return max(waits, default=0.0)

    def failed(self, *keys: str) -> None:
        now = self.clock()
        with self._lock:
            for key in keys:
                self._recent(key, now).append(now)

    def succeeded(self, *keys: str) -> None:
        with self._lock:
            for key in keys:
                self._failures.pop(key, None)


class AdminStore:
    """Admin users, tokens, sessions and connect tickets in the service database."""

    def __init__(
        self,
        db: Database,
        *,
        session_lifetime: timedelta = timedelta(hours=12),
        clock: Callable[[], float] = time.time,
        scrypt_log_n: int = SCRYPT_LOG_N,
    ) -> None:
        self.db = db
        self.session_lifetime = session_lifetime
        self.clock = clock
        self.scrypt_log_n = scrypt_log_n
        # A hash to check against when the user does not exist: same work, same timing.
        self._dummy_hash = hash_password(secrets.token_urlsafe(16), log_n=scrypt_log_n)

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), UTC)

    # -- users -------------------------------------------------------------------------------
    def create_user(
        self, username: str, password: str, *, replace: bool = False
    ) -> tuple[AdminUser, bool]:
        """Create an admin (or set a new password with ``replace``); returns (user, created)."""
        name = check_username(username)
        check_password(password)
        hashed = hash_password(password, log_n=self.scrypt_log_n)
        now = self.now()
        with self.db.write() as conn:
            row = conn.execute(select(admin_users).where(admin_users.c.username == name)).first()
            if row is not None:
                if not replace:
                    raise AuthError(
                        f"an admin named {name!r} already exists (use --reset-password to change it)"
                    )
                conn.execute(
                    update(admin_users)
                    .where(admin_users.c.id == row.id)
                    .values(password_hash=hashed, updated_at=now)
                )
                # A new password ends the old sessions.
                conn.execute(delete(web_sessions).where(web_sessions.c.admin_user_id == row.id))
                return AdminUser(row.id, name), False
            user_id = str(uuid.uuid4())
            conn.execute(
                insert(admin_users).values(
                    id=user_id, username=name, password_hash=hashed, created_at=now, updated_at=now
                )
            )
        return AdminUser(user_id, name), True

    def list_users(self) -> list[AdminUser]:
        with self.db.read() as conn:
            rows = conn.execute(select(admin_users).order_by(admin_users.c.username)).all()
        return [AdminUser(r.id, r.username) for r in rows]

    def authenticate(self, username: str, password: str) -> AdminUser | None:
        name = username.strip()
        with self.db.read() as conn:
            row = conn.execute(select(admin_users).where(admin_users.c.username == name)).first()
        if row is None:
            verify_password(password, self._dummy_hash)
            return None
        if not verify_password(password, row.password_hash):
            return None
        with self.db.write() as conn:
            conn.execute(
                update(admin_users)
                .where(admin_users.c.id == row.id)
                .values(last_login_at=self.now())
            )
        return AdminUser(row.id, row.username)

    # -- API tokens --------------------------------------------------------------------------
    def create_token(
        self, name: str, *, expires_in: timedelta | None = None
    ) -> tuple[ApiToken, str]:
        """A new API token; the plaintext is returned once and never stored."""
        label = name.strip()
        if not label or len(label) > 255:
            raise AuthError("a token needs a name of 1-255 characters (what it is for)")
        raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
        now = self.now()
        token_id = str(uuid.uuid4())
        with self.db.write() as conn:
            conn.execute(
                insert(admin_tokens).values(
                    id=token_id,
                    name=label,
                    token_hash=digest(raw),
                    token_prefix=raw[:10],
                    created_at=now,
                    expires_at=now + expires_in if expires_in else None,
                )
            )
        return ApiToken(token_id, label, raw[:10], now, None, None), raw

    def verify_token(self, raw: str) -> ApiToken | None:
        if not raw.startswith(TOKEN_PREFIX):
            return None
        now = self.now()
        with self.db.read() as conn:
            row = conn.execute(
                select(admin_tokens).where(admin_tokens.c.token_hash == digest(raw))
            ).first()
        if row is None or row.revoked_at is not None:
            return None
        if row.expires_at is not None and row.expires_at <= now:
            return None
        # Record use at most once a minute: a busy API client must not write on every call.
        if row.last_used_at is None or row.last_used_at < now - timedelta(minutes=1):
            with self.db.write() as conn:
                conn.execute(
                    update(admin_tokens).where(admin_tokens.c.id == row.id).values(last_used_at=now)
                )
        return _token(row)

    def list_tokens(self) -> list[ApiToken]:
        with self.db.read() as conn:
            rows = conn.execute(select(admin_tokens).order_by(admin_tokens.c.created_at)).all()
        return [_token(r) for r in rows]

    def revoke_token(self, token_id: str) -> bool:
        with self.db.write() as conn:
            result = conn.execute(
                update(admin_tokens)
                .where(admin_tokens.c.id == token_id, admin_tokens.c.revoked_at.is_(None))
                .values(revoked_at=self.now())
            )
        return bool(result.rowcount)

    # -- sessions ----------------------------------------------------------------------------
    def create_session(self, user: AdminUser | None = None) -> Session:
        raw = secrets.token_urlsafe(32)
        csrf = secrets.token_urlsafe(32)
        now = self.now()
        expires = now + (self.session_lifetime if user is not None else ANONYMOUS_SESSION)
        with self.db.write() as conn:
            conn.execute(
                insert(web_sessions).values(
                    id_hash=digest(raw),
                    admin_user_id=user.id if user else None,
                    csrf_token=csrf,
                    created_at=now,
                    expires_at=expires,
                    last_seen_at=now,
                )
            )
        return Session(
            raw, user.id if user else None, user.username if user else None, csrf, expires
        )

    def load_session(self, raw: str | None) -> Session | None:
        if not raw or len(raw) > 200:
            return None
        now = self.now()
        stmt = (
            select(web_sessions, admin_users.c.username)
            .select_from(
                web_sessions.outerjoin(
                    admin_users, admin_users.c.id == web_sessions.c.admin_user_id
                )
            )
            .where(web_sessions.c.id_hash == digest(raw))
        )
        with self.db.read() as conn:
            row = conn.execute(stmt).first()
        if row is None or row.expires_at <= now:
            return None
        if row.admin_user_id is not None and row.username is None:
            return None  # the user was deleted
        data = json.loads(row.data) if row.data else {}
        return Session(raw, row.admin_user_id, row.username, row.csrf_token, row.expires_at, data)

    def set_session_data(self, raw: str, data: dict[str, Any]) -> None:
        with self.db.write() as conn:
            conn.execute(
                update(web_sessions)
                .where(web_sessions.c.id_hash == digest(raw))
                .values(data=json.dumps(data) if data else None)
            )

    def end_session(self, raw: str) -> None:
        with self.db.write() as conn:
            conn.execute(delete(web_sessions).where(web_sessions.c.id_hash == digest(raw)))

    def purge_expired(self) -> int:
        """Delete expired sessions and connect tickets (a periodic job)."""
        now = self.now()
        with self.db.write() as conn:
            sessions = conn.execute(delete(web_sessions).where(web_sessions.c.expires_at <= now))
            tickets = conn.execute(
                delete(connect_tickets).where(
                    connect_tickets.c.expires_at <= now - timedelta(days=1)
                )
            )
        return int(sessions.rowcount or 0) + int(tickets.rowcount or 0)

    # -- connect tickets -----------------------------------------------------------------------
    def create_ticket(
        self,
        app_reference: str,
        *,
        scopes: tuple[str, ...] | None = None,
        return_url: str | None = None,
        lifetime: timedelta = TICKET_LIFETIME,
    ) -> tuple[str, datetime]:
        raw = secrets.token_urlsafe(32)
        now = self.now()
        with self.db.write() as conn:
            conn.execute(
                insert(connect_tickets).values(
                    ticket_hash=digest(raw),
                    app_reference=app_reference,
                    scopes=" ".join(scopes) if scopes else None,
                    return_url=return_url,
                    created_at=now,
                    expires_at=now + lifetime,
                )
            )
        return raw, now + lifetime

    def peek_ticket(self, raw: str) -> ConnectTicket:
        """The ticket if it could still be used (nothing is changed)."""
        with self.db.read() as conn:
            row = conn.execute(
                select(connect_tickets).where(connect_tickets.c.ticket_hash == digest(raw))
            ).first()
        self._check_ticket(row)
        assert row is not None
        scopes = tuple(row.scopes.split()) if row.scopes else None
        return ConnectTicket(row.app_reference, scopes, row.return_url)

    def _check_ticket(self, row: Any) -> None:
        if row is None:
            raise TicketError("this connect link is not valid (it was altered or never issued)")
        if row.used_at is not None:
            raise TicketError("this connect link was already used; ask for a new one")
        if row.expires_at <= self.now():
            raise TicketError("this connect link has expired; ask for a new one")

    def consume_ticket(self, raw: str) -> ConnectTicket:
        now = self.now()
        with self.db.write() as conn:
            row = self.db.lock_row(
                conn, connect_tickets, connect_tickets.c.ticket_hash == digest(raw)
            )
            self._check_ticket(row)
            assert row is not None
            conn.execute(
                update(connect_tickets)
                .where(connect_tickets.c.ticket_hash == row.ticket_hash)
                .values(used_at=now)
            )
        scopes = tuple(row.scopes.split()) if row.scopes else None
        return ConnectTicket(row.app_reference, scopes, row.return_url)


def _token(row: Any) -> ApiToken:
    return ApiToken(
        row.id, row.name, row.token_prefix, row.created_at, row.last_used_at, row.revoked_at
    )
