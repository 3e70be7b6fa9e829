"""Refresh storm: many processes × many callers holding an expired token for one account.

    .venv/bin/python benchmarks/refresh_storm.py [--processes 5] [--callers 50]
                                                  [--db sqlite|postgres] [--db-url URL]

It serves the ccbridge sandbox over HTTP on 127.0.0.1 (CC's rate limits on), links one
account, lets its access token expire on the sandbox clock, then starts the worker
processes; each releases its callers at once and every caller asks for a token after "CC
refused" the expired one. It prints how many callers and processes there were, how many
token-endpoint calls reached the sandbox (the goal is 1), how many callers failed, and the
p50/p99/max wait of a caller from the start to holding the new token.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time
import uuid
from contextlib import ExitStack
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

import httpx  # noqa: E402
import sqlalchemy as sa  # noqa: E402

from ccbridge._auth import TokenSet  # noqa: E402
from ccbridge.oauth import (  # noqa: E402
    Endpoints,
    KeyRing,
    LinkedAccounts,
    OAuthClientConfig,
    TokenVault,
)
from ccbridge.oauth.vault import VaultKey, fingerprint, generate_key  # noqa: E402
from ccbridge.store import Database, upgrade  # noqa: E402
from ccbridge.testing import serve_sandbox  # noqa: E402

DAY = 86_400


def _service(config: dict[str, Any]) -> LinkedAccounts:
    key = config["vault_key"].encode()
    offset = float(config["clock_offset"])
    return LinkedAccounts(
        Database(config["db_url"], schema=config["schema"]),
        TokenVault(KeyRing([VaultKey(key, fingerprint(key))], "benchmark")),
        OAuthClientConfig(
            client_id=config["client_id"],
            client_secret=config["client_secret"],
            endpoints=Endpoints.okta_layout(config["sandbox_url"], config["sandbox_url"]),
        ),
        clock=lambda: time.time() + offset,
        fetch_account_summary=False,
    )


def worker(config: dict[str, Any]) -> None:
    accounts = _service(config)
    callers = int(config["callers"])
    barrier = threading.Barrier(callers)
    waits: list[float] = []
    errors: list[str] = []
    tokens: set[str] = set()
    lock = threading.Lock()
    accounts.get(config["account_id"])  # connect before the start signal
    print("ready", flush=True)
    sys.stdin.readline()

    def caller() -> None:
        source = accounts.token_source(config["account_id"])
        barrier.wait()
        started = time.perf_counter()
        try:
            token = source.refresh(config["rejected"])
        except Exception as exc:
            with lock:
                errors.append(type(exc).__name__)
            return
        with lock:
            waits.append(time.perf_counter() - started)
            tokens.add(token)

    threads = [threading.Thread(target=caller) for _ in range(callers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print(json.dumps({"waits": waits, "errors": errors, "tokens": len(tokens)}), flush=True)


def _database(kind: str, url: str | None, tmp: Path) -> tuple[str, str | None]:
    if kind == "sqlite":
        return url or f"sqlite:///{tmp}/storm-{uuid.uuid4().hex[:8]}.db", None
    url = url or os.environ.get(
        "CCBRIDGE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
    )
    schema = "ccb_bench_" + uuid.uuid4().hex[:10]
    with sa.create_engine(url).begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    return url, schema


def run(processes: int, callers: int, kind: str, db_url: str | None) -> dict[str, Any]:
    import tempfile

    tmp = Path(tempfile.mkdtemp(prefix="ccbridge-storm-"))
    url, schema = _database(kind, db_url, tmp)
    served = ExitStack()
    try:
        sandbox_url = served.enter_context(serve_sandbox(rate_limits=True)).base_url
        db = Database(url, schema=schema)
        upgrade(db)
        with httpx.Client(base_url=sandbox_url) as control:
            app = control.post(
                "/_sandbox/apps", json={"name": "Storm", "redirect_uris": ["http://127.0.0.1/cb"]}
            ).json()
            account = control.post("/_sandbox/accounts", json={"email": "storm@example.com"}).json()
            grant = control.post(
                "/_sandbox/grants",
                json={"client_id": app["client_id"], "account_id": account["account_id"]},
            ).json()
        key = generate_key()
        config = {
            "db_url": url,
            "schema": schema,
            "vault_key": key.decode(),
            "client_id": app["client_id"],
            "client_secret": app["client_secret"],
            "sandbox_url": sandbox_url,
            "clock_offset": 0.0,
        }
        linker = _service(config)
        linked = linker.link_tokens(
            TokenSet.from_response(grant, time.time(), None), app_reference="storm"
        )
        with httpx.Client(base_url=sandbox_url) as control:
            offset = control.post("/_sandbox/clock", json={"advance_seconds": DAY + 60}).json()
            control.delete("/_sandbox/requests")
        config.update(
            clock_offset=offset["offset_seconds"],
            account_id=linked.id,
            callers=callers,
            rejected=grant["access_token"],
        )
        env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
        workers = [
            subprocess.Popen(
                [sys.executable, __file__, "--worker", json.dumps(config)],
                env=env,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
            for _ in range(processes)
        ]
        for w in workers:
            assert w.stdout is not None and w.stdout.readline().strip() == "ready"
        started = time.perf_counter()
        for w in workers:
            assert w.stdin is not None
            w.stdin.write("go\n")
            w.stdin.flush()
        waits: list[float] = []
        errors: list[str] = []
        for w in workers:
            out, _ = w.communicate(timeout=300)
            result = json.loads(out.strip().splitlines()[-1])
            waits += result["waits"]
            errors += result["errors"]
        elapsed = time.perf_counter() - started
        with httpx.Client(base_url=sandbox_url) as control:
            log = control.get("/_sandbox/requests").json()["requests"]
        calls = [e for e in log if e["path"] == "/oauth2/default/v1/token"]
        status = linker.get(linked.id).status
        linker.close()
        db.dispose()
    finally:
        served.close()
        if schema is not None:
            with sa.create_engine(url).begin() as conn:
                conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
    waits.sort()
    return {
        "database": kind,
        "processes": processes,
        "callers": processes * callers,
        "token_calls": len(calls),
        "token_call_statuses": [c["status"] for c in calls],
        "failed_callers": len(errors),
        "account_status": status,
        "p50_wait_ms": round(statistics.median(waits) * 1000, 1) if waits else None,
        "p99_wait_ms": round(waits[max(0, int(len(waits) * 0.99) - 1)] * 1000, 1)
        if waits
        else None,
        "max_wait_ms": round(waits[-1] * 1000, 1) if waits else None,
        "wall_ms_incl_worker_exit": round(elapsed * 1000, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--processes", type=int, default=5)
    parser.add_argument("--callers", type=int, default=50, help="callers per process")
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--db-url", default=None)
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(json.loads(args.worker))
        return
    result = run(args.processes, args.callers, args.db, args.db_url)
    width = max(len(k) for k in result)
    for key, value in result.items():
        print(f"{key:<{width}}  {value}")


if __name__ == "__main__":
    main()
