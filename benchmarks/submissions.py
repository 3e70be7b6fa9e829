"""Accepted signups per second, and latency, with durable commits — beside a no-op endpoint.

    .venv/bin/python benchmarks/submissions.py                  # SQLite and PostgreSQL
    .venv/bin/python benchmarks/submissions.py --db sqlite --seconds 10 --connections 64

For each database it starts the lead-capture app under uvicorn in a separate process (one
worker, as ``ccbridge serve`` runs it), then drives it from this process with keep-alive
HTTP/1.1 connections on 127.0.0.1:

- ``POST /forms/{id}/submissions``: a valid JSON signup (new email, a valid render token,
  an idempotency key); answered 202 only after the submission and its delivery row are
  committed (SQLite: WAL with ``synchronous=FULL``; PostgreSQL: default ``synchronous_commit``).
- ``POST /bench/noop``: the same framework and server answering 202 with a small JSON body
  and doing nothing else — the ceiling of the stack on this machine.

It prints requests/s, p50/p99 latency and the ratio of the two. Every 202 of the signup
run is checked against the database afterwards (the count of stored submissions must
equal the count of 202s). Traffic goes to 127.0.0.1 only; each run is bounded in time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PG_URL = os.environ.get(
    "CCBRIDGE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
SECRET = b"benchmark-secret-0123456789abcdef"


# -- the server process ----------------------------------------------------------------------
def serve(db_url: str, schema: str | None, port: int, form_file: Path) -> None:
    import uvicorn
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route
    from tests.leads.support import add_linked_account

    from ccbridge.leads import LeadCapture, LeadSettings, Limit
    from ccbridge.leads.web import create_forms_app
    from ccbridge.store import Database, upgrade

    db = Database(db_url, schema=schema)
    upgrade(db)
    capture = LeadCapture(
        db, secret=SECRET, settings=LeadSettings(per_ip_limit=Limit(10_000_000, 60.0))
    )
    account = add_linked_account(db)
    form = capture.forms.create(
        {
            "name": "bench",
            "account_id": account,
            "consent_text": "Send me news.",
            "list_ids": [str(uuid.uuid4())],
            "fields": ["email_address", "first_name"],
            "min_fill_seconds": 0,
            "rate_limit_per_minute": 1_000_000,
        }
    )
    form_file.write_text(json.dumps({"form_id": form.id, "token": capture.tokens.issue(form.id)}))

    async def noop(request: Request) -> JSONResponse:
        await request.body()
        return JSONResponse({"submission_id": "noop", "status": "accepted"}, status_code=202)

    app = create_forms_app(capture, admin=False)
    app.router.routes.append(Route("/bench/noop", noop, methods=["POST"]))
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


# -- the load generator ----------------------------------------------------------------------
async def _connection(
    port: int,
    path: str,
    bodies: list[bytes],
    deadline: float,
    latencies: list[float],
    statuses: dict[int, int],
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while time.perf_counter() < deadline and bodies:
            body = bodies.pop()
            request = (
                f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                f"Content-Type: application/json\r\nAccept: application/json\r\n"
                f"Content-Length: {len(body)}\r\n\r\n"
            ).encode() + body
            started = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head.split(b" ", 2)[1])
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - started)
            statuses[status] = statuses.get(status, 0) + 1
    finally:
        writer.close()


async def load(
    port: int, path: str, bodies: list[bytes], seconds: float, connections: int
) -> dict[str, Any]:
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    started = time.perf_counter()
    deadline = started + seconds
    await asyncio.gather(
        *(
            _connection(port, path, bodies, deadline, latencies, statuses)
            for _ in range(connections)
        )
    )
    elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "requests": len(latencies),
        "per_second": statuses.get(202, 0) / elapsed,
        "p50_ms": 1000 * statistics.median(latencies) if latencies else 0.0,
        "p99_ms": 1000 * latencies[int(0.99 * (len(latencies) - 1))] if latencies else 0.0,
        "statuses": statuses,
    }


def signup_bodies(token: str, count: int) -> list[bytes]:
    run = secrets.token_hex(4)
    return [
        json.dumps(
            {
                "email_address": f"b{run}{i}@example.com",
                "first_name": "Bench",
                "consent": True,
                "website": "",
                "form_token": token,
                "idempotency_key": f"{run}-{i}",
            }
        ).encode()
        for i in range(count)
    ]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def bench_database(kind: str, seconds: float, connections: int) -> dict[str, Any]:
    import sqlalchemy as sa

    tmp = Path(tempfile.mkdtemp(prefix="ccbridge-bench-"))
    schema = None
    if kind == "sqlite":
        url = f"sqlite:///{tmp}/bench.db"
    else:
        url, schema = PG_URL, "ccb_bench_" + secrets.token_hex(4)
        with sa.create_engine(url).begin() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    port = _free_port()
    form_file = tmp / "form.json"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    server = subprocess.Popen(
        [sys.executable, __file__, "--serve", url, schema or "", str(port), str(form_file)], env=env
    )
    try:
        deadline = time.monotonic() + 60
        while not form_file.exists() or not _port_open(port):
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the benchmark server did not start")
            time.sleep(0.05)
        info = json.loads(form_file.read_text())
        path = f"/forms/{info['form_id']}/submissions"
        warm = asyncio.run(load(port, path, signup_bodies(info["token"], 500), 1.0, connections))
        noop = asyncio.run(
            load(port, "/bench/noop", [b'{"x": 1}'] * 10_000_000, seconds, connections)
        )
        real = asyncio.run(
            load(
                port,
                path,
                signup_bodies(info["token"], int(seconds * 20_000)),
                seconds,
                connections,
            )
        )
        stored = _stored(url, schema)
        accepted = warm["statuses"].get(202, 0) + real["statuses"].get(202, 0)
        return {"db": kind, "noop": noop, "signup": real, "stored": stored, "accepted": accepted}
    finally:
        server.terminate()
        server.wait(30)
        if schema:
            with sa.create_engine(PG_URL).begin() as conn:
                conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _stored(url: str, schema: str | None) -> int:
    from sqlalchemy import func, select

    from ccbridge.leads.schema import submissions
    from ccbridge.store import Database

    db = Database(url, schema=schema)
    try:
        with db.read() as conn:
            return int(conn.execute(select(func.count()).select_from(submissions)).scalar() or 0)
    finally:
        db.dispose()


def report(result: dict[str, Any]) -> None:
    noop, real = result["noop"], result["signup"]
    print(f"\n== {result['db']} ==")
    print(
        f"  no-op endpoint   {noop['per_second']:8.0f} req/s   p50 {noop['p50_ms']:6.2f} ms   p99 {noop['p99_ms']:6.2f} ms"
    )
    print(
        f"  signup (durable) {real['per_second']:8.0f} acc/s   p50 {real['p50_ms']:6.2f} ms   p99 {real['p99_ms']:6.2f} ms"
    )
    print(f"  ratio signup/no-op: {real['per_second'] / noop['per_second']:.2f}")
    print(
        f"  statuses: {real['statuses']}; 202s answered {result['accepted']}, rows stored {result['stored']}"
    )
    if result["accepted"] != result["stored"]:
        print("  MISMATCH: a 202 without a stored submission")


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--serve":
        sys.path.insert(0, str(ROOT))
        serve(sys.argv[2], sys.argv[3] or None, int(sys.argv[4]), Path(sys.argv[5]))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    kinds = ["sqlite", "postgres"] if args.db == "both" else [args.db]
    print(
        f"{os.cpu_count()} CPUs; {args.connections} keep-alive connections; {args.seconds:g} s per run"
    )
    for kind in kinds:
        report(bench_database(kind, args.seconds, args.connections))


if __name__ == "__main__":
    main()
