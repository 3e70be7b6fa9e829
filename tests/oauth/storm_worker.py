"""A worker process for the cross-process tests: many threads refreshing one account.

Run as ``python -m tests.oauth.storm_worker MODE CONFIG_JSON``. It builds its own
``LinkedAccounts`` (own engine, own HTTP connection to the sandbox), prints ``ready``,
waits for ``go`` on stdin, and then:

- ``storm``: ``callers`` threads, started together, each ask for a token after CC refused
  the expired one; prints one JSON line with the tokens seen, errors and wait times.
- ``crash``: refreshes once and ``os._exit``s between CC's answer and the commit.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from typing import Any

from ccbridge.oauth import Endpoints, KeyRing, LinkedAccounts, OAuthClientConfig, TokenVault
from ccbridge.oauth.vault import VaultKey, fingerprint
from ccbridge.store import Database


def build(config: dict[str, Any], **options: Any) -> LinkedAccounts:
    db = Database(config["db_url"], schema=config.get("schema"))
    key = config["vault_key"].encode()
    vault = TokenVault(KeyRing([VaultKey(key, fingerprint(key))], "test"))
    offset = float(config.get("clock_offset", 0.0))
    oauth = OAuthClientConfig(
        client_id=config["client_id"],
        client_secret=config["client_secret"],
        endpoints=Endpoints.okta_layout(config["sandbox_url"], config["sandbox_url"]),
    )
    return LinkedAccounts(db, vault, oauth, clock=lambda: time.time() + offset, **options)


def storm(config: dict[str, Any]) -> None:
    accounts = build(config)
    callers = int(config["callers"])
    rejected = config["rejected"]
    barrier = threading.Barrier(callers)
    results: list[dict[str, Any]] = []
    lock = threading.Lock()
    # Warm up the connection pools so the storm measures coordination, not connecting.
    accounts.get(config["account_id"])
    print("ready", flush=True)
    sys.stdin.readline()

    def caller() -> None:
        source = accounts.token_source(config["account_id"])
        barrier.wait()
        started = time.perf_counter()
        try:
            token = source.refresh(rejected)
            outcome = {"token": token}
        except Exception as exc:
            outcome = {"error": f"{type(exc).__name__}: {exc}"}
        outcome["wait"] = time.perf_counter() - started
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=caller) for _ in range(callers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print(json.dumps({"results": results}), flush=True)
    accounts.close()
    accounts.db.dispose()


def crash(config: dict[str, Any]) -> None:
    def die(account_id: str) -> None:
        os._exit(17)  # killed after CC answered, before the commit

    accounts = build(config, before_commit=die)
    print("ready", flush=True)
    sys.stdin.readline()
    accounts.refresh(config["account_id"])
    print("not reached", flush=True)


if __name__ == "__main__":
    mode, raw = sys.argv[1], sys.argv[2]
    {"storm": storm, "crash": crash}[mode](json.loads(raw))
