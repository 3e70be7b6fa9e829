"""Delivery throughput from the outbox to the sandbox, under CC's rate limits and without.

    .venv/bin/python benchmarks/delivery.py                 # 200 signups, SQLite
    .venv/bin/python benchmarks/delivery.py --signups 500 --workers 2 --db postgres

Stores N signups, then delivers them with W ``DeliveryWorker`` threads sharing one
``RateLimiter`` (CC's 4 requests/s per application), against the in-process sandbox with
its rate limits ON. The limiter waits on the sandbox's clock (as ``ccbridge.testing``'s
clients do), so the run takes seconds of wall time while the sandbox sees the real pace:
it reports deliveries per sandbox-second (the figure CC would see — at most 4) and checks
that the sandbox answered no 429. A second run with the limits off shows the worker's own
ceiling (deliveries per wall-clock second: outbox claims, the HTTP client, the sandbox).
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PG_URL = os.environ.get(
    "CCBRIDGE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def run(kind: str, signups: int, workers: int, limits: bool) -> dict[str, Any]:
    import sqlalchemy as sa
    from tests.leads.support import add_linked_account

    from ccbridge import MemoryBackend, RateLimiter
    from ccbridge.leads import DeliveryPolicy, DeliveryWorker, LeadCapture, LeadSettings, Limit
    from ccbridge.leads.capture import RequestInfo
    from ccbridge.sandbox import Sandbox
    from ccbridge.sandbox.seed import create_account, create_app
    from ccbridge.store import Database, upgrade
    from ccbridge.testing.plugin import sandbox_client

    schema = None
    if kind == "sqlite":
        db = Database(f"sqlite:///{tempfile.mkdtemp()}/delivery.db")
    else:
        schema = "ccb_bench_" + secrets.token_hex(4)
        with sa.create_engine(PG_URL).begin() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
        db = Database(PG_URL, schema=schema)
    try:
        upgrade(db)
        sandbox = Sandbox(rate_limits=limits)
        app = create_app(
            sandbox.state, sandbox.clock.now(), name="bench", redirect_uris=["http://127.0.0.1/cb"]
        )
        account = create_account(
            sandbox.state,
            sandbox.clock.now(),
            email="o@example.com",
            password="p",
            organization_name="Org",
            first_name="O",
            last_name="W",
        )
        token = sandbox.issuer.issue(
            sandbox.state,
            sandbox.clock,
            app,
            account.account.account_id,
            "contact_data offline_access",
        )
        capture = LeadCapture(
            db,
            secret=b"bench-delivery-secret-0123456789",
            settings=LeadSettings(per_ip_limit=Limit(10**6, 60.0)),
        )
        linked = add_linked_account(db)
        form = capture.forms.create(
            {
                "name": "bench",
                "account_id": linked,
                "consent_text": "News.",
                "list_ids": [next(iter(account.lists))],
                "min_fill_seconds": 0,
            }
        )
        form_token = capture.tokens.issue(form.id)
        for i in range(signups):
            capture.accept_sync(
                form,
                {
                    "email_address": f"d{i}@example.com",
                    "consent": True,
                    "website": "",
                    "form_token": form_token,
                },
                RequestInfo("127.0.0.1", "bench"),
            )
        limiter = RateLimiter(MemoryBackend(), clock=sandbox.clock.time)  # shared by every worker

        def client_for(_account: str) -> Any:
            return sandbox_client(sandbox, token, rate_limit=limiter, max_retries=2)

        pool = [
            DeliveryWorker(
                capture.outbox, client_for, worker_id=f"w{n}", policy=DeliveryPolicy(batch_size=20)
            )
            for n in range(workers)
        ]
        started_wall, started_cc = time.perf_counter(), sandbox.clock.time()

        def drain(worker: DeliveryWorker) -> None:
            while worker.run_once():
                pass

        threads = [threading.Thread(target=drain, args=(w,)) for w in pool]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall, cc = time.perf_counter() - started_wall, sandbox.clock.time() - started_cc
        entries = [
            e for e in sandbox.requests.entries() if e["path"] == "/v3/contacts/sign_up_form"
        ]
        statuses: dict[int, int] = {}
        for e in entries:
            statuses[e["status"]] = statuses.get(e["status"], 0) + 1
        delivered = capture.outbox.counts()["delivered"]
        for w in pool:
            w.close()
        return {
            "db": kind,
            "limits": limits,
            "delivered": delivered,
            "wall": wall,
            "cc": cc,
            "statuses": statuses,
            "per_worker": {w.worker_id: w.stats.get("delivered", 0) for w in pool},
        }
    finally:
        db.dispose()
        if schema:
            with sa.create_engine(PG_URL).begin() as conn:
                conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--signups", type=int, default=200)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    args = parser.parse_args()
    for limits in (True, False):
        r = run(args.db, args.signups, args.workers, limits)
        label = "CC limits on (4/s)" if limits else "limits off"
        print(f"== {r['db']}, {args.workers} workers, {label} ==")
        print(f"  delivered {r['delivered']}/{args.signups}; per worker {r['per_worker']}")
        print(f"  sandbox statuses {r['statuses']}")
        if limits:
            print(
                f"  {r['delivered'] / r['cc']:.2f} deliveries per CC-second over {r['cc']:.1f} CC-seconds "
                f"({r['wall']:.2f} s wall)"
            )
        else:
            print(f"  {r['delivered'] / r['wall']:.0f} deliveries per wall-clock second")


if __name__ == "__main__":
    main()
