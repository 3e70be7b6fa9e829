"""``--data FILE``: the sandbox's state kept in a SQLite file.

The state is a tree of dataclasses; it is pickled into one row after changes (at most once
a second, from a background thread, under the sandbox lock) and on shutdown, together with
the JWT signing key so tokens issued before a restart stay valid. A crash loses at most
the last second of changes — acceptable for an emulator, and said in the README.
"""

from __future__ import annotations

import pickle
import sqlite3
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from ccbridge.sandbox.state import SandboxState

if TYPE_CHECKING:
    from ccbridge.sandbox.app import Sandbox

FORMAT_VERSION = 1


class SandboxStoreError(RuntimeError):
    """The data file exists but cannot be used; the message says why."""


class SandboxStore:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        try:
            with self._connect() as db:
                db.execute(
                    "CREATE TABLE IF NOT EXISTS sandbox_state "
                    "(id INTEGER PRIMARY KEY CHECK (id = 1), format INTEGER NOT NULL, state BLOB NOT NULL)"
                )
                db.execute(
                    "CREATE TABLE IF NOT EXISTS sandbox_key (id INTEGER PRIMARY KEY CHECK (id = 1), pem BLOB NOT NULL)"
                )
        except sqlite3.DatabaseError as exc:
            raise SandboxStoreError(f"{self.path} is not a usable SQLite file: {exc}") from None

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=10)

    def load(self) -> SandboxState | None:
        with self._connect() as db:
            row = db.execute("SELECT format, state FROM sandbox_state WHERE id = 1").fetchone()
        if row is None:
            return None
        if row[0] != FORMAT_VERSION:
            raise SandboxStoreError(
                f"{self.path} holds sandbox state format {row[0]}; this version reads {FORMAT_VERSION}. "
                "Start with a new file."
            )
        try:
            state = pickle.loads(row[1])
        except Exception as exc:
            raise SandboxStoreError(f"{self.path}: stored state cannot be read ({exc})") from None
        if not isinstance(state, SandboxState):
            raise SandboxStoreError(f"{self.path}: stored state has an unexpected type")
        return state

    def signing_key(self) -> bytes:
        from ccbridge.sandbox.tokens import _generate_key_pem

        with self._connect() as db:
            row = db.execute("SELECT pem FROM sandbox_key WHERE id = 1").fetchone()
            if row is not None:
                return bytes(row[0])
            pem = _generate_key_pem()
            db.execute("INSERT INTO sandbox_key (id, pem) VALUES (1, ?)", (pem,))
            return pem

    def save(self, sandbox: Sandbox) -> None:
        with sandbox.lock:
            sandbox.state.clock_offset = sandbox.clock.offset_seconds
            blob = pickle.dumps(sandbox.state, protocol=pickle.HIGHEST_PROTOCOL)
            sandbox.dirty = False
        with self._connect() as db:
            db.execute(
                "INSERT INTO sandbox_state (id, format, state) VALUES (1, ?, ?) "
                "ON CONFLICT(id) DO UPDATE SET format = excluded.format, state = excluded.state",
                (FORMAT_VERSION, blob),
            )

    def start_autosave(self, sandbox: Sandbox, interval: float = 1.0) -> None:
        def loop() -> None:
            while not self._stop.wait(interval):
                if sandbox.dirty:
                    self.save(sandbox)

        self._thread = threading.Thread(target=loop, name="sandbox-autosave", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
