"""``--data FILE``: the sandbox's state kept in a SQLite file.

The state is a tree of dataclasses; it is pickled into one row after changes (at most once
a second, from a background thread, under the sandbox lock) and on shutdown, together with
the JWT signing key so tokens issued before a restart stay valid. The clock offset lives
in the state, so time that a test advanced stays advanced. A crash loses at most the last
second of changes, which is acceptable for an emulator.

Fault rules, the request log and rate-limit counters are not kept: they describe one run.
The file is the developer's own; like any pickle it must not come from someone else.
"""

from __future__ import annotations

import contextlib
import logging
import pickle
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ccbridge.sandbox.state import SandboxState

if TYPE_CHECKING:
    from ccbridge.sandbox.app import Sandbox

FORMAT_VERSION = 1

log = logging.getLogger("ccbridge.sandbox.persistence")

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS sandbox_state (id INTEGER PRIMARY KEY CHECK (id = 1), "
    "format INTEGER NOT NULL, state BLOB NOT NULL)",
    "CREATE TABLE IF NOT EXISTS sandbox_key (id INTEGER PRIMARY KEY CHECK (id = 1), "
    "pem BLOB NOT NULL)",
)


class SandboxStoreError(RuntimeError):
    """The data file exists but cannot be used; the message says why."""


class SandboxStore:
    """One SQLite file holding the pickled state and the signing key."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        with self._db() as db:
            for statement in _SCHEMA:
                db.execute(statement)

    @contextlib.contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        """A connection that commits on success and is always closed."""
        try:
            db = sqlite3.connect(self.path, timeout=10)
        except sqlite3.Error as exc:
            raise SandboxStoreError(
                f"{self.path} cannot be opened as a SQLite file: {exc}"
            ) from None
        try:
            with db:
                yield db
        except sqlite3.DatabaseError as exc:
            raise SandboxStoreError(
                f"{self.path} is not a usable sandbox data file: {exc}"
            ) from None
        finally:
            db.close()

    # -- reading ------------------------------------------------------------------
    def load(self) -> SandboxState | None:
        """The saved state, or None for a new file."""
        with self._db() as db:
            row = db.execute("SELECT format, state FROM sandbox_state WHERE id = 1").fetchone()
        if row is None:
            return None
        if row[0] != FORMAT_VERSION:
            raise SandboxStoreError(
                f"{self.path} holds sandbox state format {row[0]}; this version reads "
                f"{FORMAT_VERSION}. Start with a new file."
            )
        try:
            state = pickle.loads(row[1])
        except Exception as exc:
            raise SandboxStoreError(
                f"{self.path}: the stored sandbox state cannot be read ({type(exc).__name__}: "
                f"{exc}). Start with a new file."
            ) from None
        if not isinstance(state, SandboxState):
            raise SandboxStoreError(
                f"{self.path}: the stored state is a {type(state).__name__}, not sandbox state"
            )
        return state

    def signing_key(self) -> bytes:
        """The stored JWT signing key, created and stored on first use."""
        from ccbridge.sandbox.tokens import _generate_key_pem

        with self._db() as db:
            row = db.execute("SELECT pem FROM sandbox_key WHERE id = 1").fetchone()
            if row is not None:
                return bytes(row[0])
            pem = _generate_key_pem()
            db.execute("INSERT INTO sandbox_key (id, pem) VALUES (1, ?)", (pem,))
            return pem

    def open_sandbox(self, **options: Any) -> Sandbox:
        """A ``Sandbox`` on the stored state and key (fresh state for a new file).

        ``options`` go to ``Sandbox``; ``rate_limits`` applies to restored state too, since it
        is a choice of this run, not part of the data.
        """
        from ccbridge.sandbox.app import Sandbox

        state = self.load()
        rate_limits = options.pop("rate_limits", None)
        sandbox = Sandbox(state=state, signing_key_pem=self.signing_key(), **options)
        if rate_limits is not None:
            sandbox.state.settings.rate_limits = bool(rate_limits)
        return sandbox

    # -- writing ------------------------------------------------------------------
    def save(self, sandbox: Sandbox) -> None:
        """Write the whole state now (pickled under the lock, written outside it)."""
        with sandbox.lock:
            sandbox.state.clock_offset = sandbox.clock.offset_seconds
            blob = pickle.dumps(sandbox.state, protocol=pickle.HIGHEST_PROTOCOL)
            sandbox.dirty = False
        try:
            with self._db() as db:
                db.execute(
                    "INSERT INTO sandbox_state (id, format, state) VALUES (1, ?, ?) "
                    "ON CONFLICT(id) DO UPDATE SET format = excluded.format, "
                    "state = excluded.state",
                    (FORMAT_VERSION, blob),
                )
        except BaseException:
            sandbox.dirty = True  # not written: the next round must try again
            raise

    def save_if_dirty(self, sandbox: Sandbox) -> bool:
        """One autosave round: save when something changed since the last save."""
        if not sandbox.dirty:
            return False
        self.save(sandbox)
        return True

    def start_autosave(self, sandbox: Sandbox, interval: float = 1.0) -> None:
        def loop() -> None:
            while not self._stop.wait(interval):
                try:
                    self.save_if_dirty(sandbox)
                except Exception as exc:  # keep saving later; a full disk may clear up
                    log.error("saving the sandbox to %s failed: %s", self.path, exc)

        self._stop.clear()
        self._thread = threading.Thread(target=loop, name="sandbox-autosave", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the autosave thread (the caller saves one last time)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
