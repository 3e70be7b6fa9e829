"""How fast and how large the CC sandbox is, measured the way integrations use it.

Run from the repository root (about two minutes with the defaults):

    python benchmarks/sandbox_bench.py
    python benchmarks/sandbox_bench.py --contacts 20000 --runs 3 --skip-memory

It prints three figures, each with what exactly was measured:

(a) ``GET /v3/contacts?limit=500`` pages per second through the in-process httpx transport,
    walking every page of an account holding ``--contacts`` contacts (default 100,000) by
    following ``_links.next``; the median of ``--runs`` walks.
(b) A 40,000-contact ``POST /v3/activities/contacts_json_import`` with rate limits off:
    the POST, then advancing the sandbox clock and polling ``GET /v3/activities/{id}``
    until the activity completes; wall and CPU time, median of ``--import-runs``.
(c) Memory for ``--memory-contacts`` contacts (default 1,000,000) loaded into one account,
    each built as the contacts endpoint builds one (an EmailAddress and one list
    membership): Python heap growth from tracemalloc and process RSS growth.

Contacts for (a) and (c) are created directly in the sandbox state, not through the API,
so the figures measure reading and storing, not creating.
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from bench_support import add_contacts, new_sandbox  # noqa: E402

from ccbridge.sandbox import Sandbox, SandboxTransport  # noqa: E402
from ccbridge.sandbox.state import AccountData  # noqa: E402

TERMINAL = ("completed", "failed", "cancelled", "timed_out")


# -- set-up -----------------------------------------------------------------------------------
def client(sandbox: Sandbox, token: str) -> httpx.Client:
    return httpx.Client(
        base_url=sandbox.base_url,
        transport=SandboxTransport(sandbox),
        headers={"Authorization": f"Bearer {token}"},
        timeout=None,
    )


def timed(fn: Callable[[], Any]) -> tuple[float, float, Any]:
    """(wall seconds, CPU seconds, result) of one call."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn()
    return time.perf_counter() - wall, time.process_time() - cpu, result


# -- (a) paging ----------------------------------------------------------------------------------
def walk_contacts(http: httpx.Client) -> tuple[int, int]:
    """Follow _links.next from the first page; (pages, contacts) seen."""
    url: str | None = "/v3/contacts?limit=500"
    pages = contacts = 0
    while url:
        response = http.get(url)
        response.raise_for_status()
        body = response.json()
        pages += 1
        contacts += len(body["contacts"])
        url = body.get("_links", {}).get("next", {}).get("href")
    return pages, contacts


def bench_pages(count: int, runs: int) -> None:
    sandbox, data, token = new_sandbox(rate_limits=False)
    add_contacts(data, count - len(data.contacts), sandbox.clock.now())
    rates = []
    with client(sandbox, token) as http:
        first = http.get("/v3/contacts?limit=1")
        if first.status_code == 501:
            print("(a) skipped: GET /v3/contacts is not emulated yet (501)")
            return
        for _ in range(runs):
            wall, _cpu, (pages, seen) = timed(lambda: walk_contacts(http))
            assert seen == len(data.contacts), f"walked {seen} of {len(data.contacts)} contacts"
            rates.append(pages / wall)
    print(
        f"(a) GET /v3/contacts?limit=500, all {pages} pages of {seen:,} contacts, in-process: "
        f"median {statistics.median(rates):,.1f} pages/s "
        f"({statistics.median(rates) * 500:,.0f} contacts/s; runs: "
        f"{', '.join(f'{r:,.1f}' for r in rates)})"
    )


# -- (b) bulk import --------------------------------------------------------------------------
def import_body(data: AccountData, size: int) -> bytes:
    rows = [
        {"email": f"import{n}@bench.example", "first_name": "Imported", "last_name": f"N{n}"}
        for n in range(size)
    ]
    body = {"import_data": rows, "list_ids": [next(iter(data.lists))]}
    return json.dumps(body).encode("utf-8")


def run_import(sandbox: Sandbox, http: httpx.Client, body: bytes) -> dict[str, Any]:
    """POST the import, then advance the clock and poll until the activity is finished."""
    posted = http.post(
        "/v3/activities/contacts_json_import",
        content=body,
        headers={"Content-Type": "application/json"},
    )
    if posted.status_code != 201:
        return {"status": posted.status_code, "body": posted.text[:300]}
    activity_id = posted.json()["activity_id"]
    polls = 0
    while True:
        sandbox.advance_clock(1.0)
        polled = http.get(f"/v3/activities/{activity_id}")
        polls += 1
        if polled.status_code != 200:
            return {"status": polled.status_code, "body": polled.text[:300]}
        activity = polled.json()
        if activity["state"] in TERMINAL:
            return {"status": 201, "activity": activity, "polls": polls}


def bench_import(size: int, runs: int) -> None:
    walls, cpus, polls = [], [], 0
    final: dict[str, Any] = {}
    for _ in range(runs):
        sandbox, data, token = new_sandbox(rate_limits=False)
        body = import_body(data, size)
        with client(sandbox, token) as http:
            gc.collect()
            wall, cpu, outcome = timed(lambda: run_import(sandbox, http, body))  # noqa: B023
        if outcome["status"] == 501:
            print(
                "(b) skipped: POST /v3/activities/contacts_json_import or GET /v3/activities/{id} "
                "is not emulated yet (501)"
            )
            return
        if outcome["status"] != 201:
            print(f"(b) failed: HTTP {outcome['status']}: {outcome['body']}")
            return
        final, polls = outcome["activity"], outcome["polls"]
        imported = len(data.contacts) - 1  # minus the account owner
        walls.append(wall)
        cpus.append(cpu)
    print(
        f"(b) contacts_json_import of {size:,} contacts ({len(body) / 1e6:.1f} MB body), "
        f"POST + {polls} polls to '{final.get('state')}', {imported:,} contacts added: "
        f"median wall {statistics.median(walls):.2f} s, CPU {statistics.median(cpus):.2f} s "
        f"(runs: {', '.join(f'{w:.2f}' for w in walls)} s)"
    )


# -- (c) memory -------------------------------------------------------------------------------
def rss_bytes() -> int:
    """Resident set size now (Linux /proc; 0 where unavailable)."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return 0
    import os

    return pages * os.sysconf("SC_PAGE_SIZE")


def bench_memory(count: int) -> None:
    sandbox, data, _token = new_sandbox(rate_limits=False)
    now = sandbox.clock.now()
    gc.collect()
    rss_before = rss_bytes()
    wall, _cpu, _ = timed(lambda: add_contacts(data, count, now))
    gc.collect()
    rss_growth = rss_bytes() - rss_before
    del sandbox, data
    gc.collect()
    # The same load again under tracemalloc (which slows allocation, so it is timed above).
    _sandbox, data, _token = new_sandbox(rate_limits=False)
    tracemalloc.start()
    add_contacts(data, count, now)
    current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(
        f"(c) {count:,} contacts in one account (EmailAddress + 1 list membership each, with "
        f"the id and email indexes): Python heap {current / 1e6:,.0f} MB "
        f"({current / count:,.0f} bytes/contact, peak {peak / 1e6:,.0f} MB, tracemalloc); "
        f"RSS growth {rss_growth / 1e6:,.0f} MB; built in {wall:.1f} s"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Benchmark the ccbridge CC sandbox (see the module docstring).",
        epilog="Example: python benchmarks/sandbox_bench.py --contacts 20000 --skip-memory",
    )
    parser.add_argument("--contacts", type=int, default=100_000, help="contacts for (a)")
    parser.add_argument("--runs", type=int, default=5, help="page walks for (a); median")
    parser.add_argument("--import-size", type=int, default=40_000, help="contacts for (b)")
    parser.add_argument("--import-runs", type=int, default=3, help="imports for (b); median")
    parser.add_argument("--memory-contacts", type=int, default=1_000_000, help="contacts for (c)")
    parser.add_argument("--skip-pages", action="store_true", help="skip (a)")
    parser.add_argument("--skip-import", action="store_true", help="skip (b)")
    parser.add_argument("--skip-memory", action="store_true", help="skip (c)")
    args = parser.parse_args(argv)
    print(
        f"ccbridge sandbox benchmark (Python {sys.version.split()[0]}); usage: "
        "python benchmarks/sandbox_bench.py [--contacts N] [--runs N] [--skip-memory] ...",
        flush=True,
    )
    if not args.skip_pages:
        bench_pages(args.contacts, args.runs)
    if not args.skip_import:
        bench_import(args.import_size, args.import_runs)
    if not args.skip_memory:
        bench_memory(args.memory_contacts)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
