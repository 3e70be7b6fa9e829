"""The small concurrency parts of refresh coordination.

- ``SingleFlight``: within a process, the first caller that needs a refresh of an account
  does it; every caller arriving meanwhile waits for that one result (or its error)
  instead of starting another. Threads share it directly; asyncio callers reach it through
  a worker thread, so one lock covers both.
- ``TokenEndpointPacer``: CC allows one token-endpoint request per second per client_id
  (CC-V3-FACTS §1.5). The last call's time is a database row, read and written inside the
  caller's write transaction, so processes and machines sharing the database share the
  pace (the row lock — or SQLite's write lock — orders them).
- ``ReauthNotifier``: tells someone that an account needs its owner: a Python hook and an
  optional webhook. Both run after the commit and neither may break the caller: failures
  are logged, never raised.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

import httpx
from sqlalchemy import Connection, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from ccbridge.oauth.records import LinkedAccount
from ccbridge.store.database import Database
from ccbridge.store.schema import token_pacing

log = logging.getLogger("ccbridge.oauth")

T = TypeVar("T")


class _Flight(Generic[T]):
    def __init__(self) -> None:
        self.done = threading.Event()
        self.result: T | None = None
        self.error: BaseException | None = None


class SingleFlight(Generic[T]):
    """At most one call per key at a time; concurrent callers share its outcome."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._flights: dict[str, _Flight[T]] = {}

    def do(self, key: str, fn: Callable[[], T]) -> T:
        with self._lock:
            flight = self._flights.get(key)
            leader = flight is None
            if flight is None:
                flight = self._flights[key] = _Flight()
        if not leader:
            flight.done.wait()
            if flight.error is not None:
                raise flight.error
            return flight.result  # type: ignore[return-value]
        try:
            flight.result = fn()
            return flight.result
        except BaseException as exc:
            flight.error = exc
            raise
        finally:
            with self._lock:
                del self._flights[key]
            flight.done.set()

    def in_flight(self, key: str) -> bool:
        with self._lock:
            return key in self._flights


class TokenEndpointPacer:
    """Keeps token-endpoint calls of one client_id at least ``interval`` seconds apart.

    ``interval`` is a little over CC's one second, to absorb the difference between our
    clock and CC's. ``wait(conn, client_id)`` must run inside a ``Database.write()``
    transaction; the slot it takes is released when that transaction ends.
    """

    def __init__(
        self,
        db: Database,
        *,
        interval: float = 1.1,
        clock: Callable[[], float],
        sleep: Callable[[float], None],
    ) -> None:
        self._db = db
        self.interval = interval
        self._clock = clock
        self._sleep = sleep
        self._known: set[str] = set()
        self._known_lock = threading.Lock()

    def _ensure_row(self, client_id: str) -> None:
        """Create the client's row once, in its own transaction (never inside a lock)."""
        with self._known_lock:
            if client_id in self._known:
                return
        insert = pg_insert if not self._db.is_sqlite else sqlite_insert
        stmt = insert(token_pacing).values(client_id=client_id, last_call_at=0.0)
        with self._db.write() as conn:
            conn.execute(stmt.on_conflict_do_nothing(index_elements=["client_id"]))
        with self._known_lock:
            self._known.add(client_id)

    def prepare(self, client_id: str) -> None:
        """Call before opening the write transaction that will call ``wait``."""
        self._ensure_row(client_id)

    def wait(self, conn: Connection, client_id: str) -> float:
        """Wait for this client_id's next slot and take it; returns the seconds waited."""
        row = self._db.lock_row(conn, token_pacing, token_pacing.c.client_id == client_id)
        last = float(row.last_call_at) if row is not None else 0.0
        waited = 0.0
        delay = last + self.interval - self._clock()
        if delay > 0:
            self._sleep(delay)
            waited = delay
        conn.execute(
            update(token_pacing)
            .where(token_pacing.c.client_id == client_id)
            .values(last_call_at=self._clock())
        )
        return waited


@dataclass(frozen=True)
class NeedsReauthEvent:
    """An account's grant is dead; its owner has to connect it again."""

    account: LinkedAccount
    reason: str
    occurred_at: datetime

    def payload(self) -> dict[str, Any]:
        """The webhook's JSON body: identities and the reason, no secret."""
        a = self.account
        return {
            "event": "needs_reauth",
            "account_id": a.id,
            "app_reference": a.app_reference,
            "cc_account_id": a.cc_account_id,
            "organization_name": a.organization_name,
            "client_id": a.client_id,
            "reason": self.reason,
            "occurred_at": self.occurred_at.isoformat(),
        }


ReauthHook = Callable[[NeedsReauthEvent], None]


class ReauthNotifier:
    def __init__(
        self,
        hook: ReauthHook | None = None,
        webhook_url: str | None = None,
        *,
        http: httpx.Client | None = None,
    ) -> None:
        self.hook = hook
        self.webhook_url = webhook_url
        self._http = http

    def notify(self, event: NeedsReauthEvent) -> None:
        if self.hook is not None:
            try:
                self.hook(event)
            except Exception:
                log.exception(
                    "the needs_reauth hook failed for linked account %s", event.account.id
                )
        if self.webhook_url is not None:
            self._post(event)

    def _post(self, event: NeedsReauthEvent) -> None:
        assert self.webhook_url is not None
        try:
            if self._http is not None:
                response = self._http.post(self.webhook_url, json=event.payload(), timeout=10.0)
            else:
                with httpx.Client(timeout=10.0) as http:
                    response = http.post(self.webhook_url, json=event.payload())
        except httpx.HTTPError as exc:
            log.warning(
                "the needs_reauth webhook for linked account %s failed: %s",
                event.account.id,
                type(exc).__name__,
            )
            return
        if response.status_code >= 400:
            log.warning(
                "the needs_reauth webhook for linked account %s answered HTTP %d",
                event.account.id,
                response.status_code,
            )
