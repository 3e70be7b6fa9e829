"""What the typed client costs, measured against the CC sandbox.

Run from the repository root (about a minute and a half with the defaults):

    python benchmarks/client_bench.py
    python benchmarks/client_bench.py --import-contacts 20000 --export-contacts 200000
    python benchmarks/client_bench.py --virtual-time --skip-export

It prints three figures, each with what exactly was measured:

(a) Importing ``--import-contacts`` contacts (default 100,000; email, first and last name,
    about 75 bytes of JSON each) with ``client.bulk_activities.import_contacts`` into an
    in-process sandbox with CC's rate limits ON (4 requests/s, 10,000/day) and the client's
    own limiter on. Counted: the API calls made, 429 answers received, and wall time,
    against the least number of calls possible: ceil(N / 40,000) imports (or more, if the
    rows' bytes need more 4 MB requests) plus one poll per import (a poll can only learn an
    import finished by asking once it has). By default time is REAL: the client sleeps for
    real and the sandbox works through items at its default 5,000 items/s of real time, so
    the wall time includes the waiting a real import would do. ``--virtual-time`` instead
    advances the sandbox clock whenever the client would sleep; the wall time is then only
    CPU work, and the sandbox-clock time elapsed is reported beside it.
(b) Client CPU per contact (``time.process_time``, median of ``--runs`` runs): building one
    40,000-contact JSON import request (checking and flattening the inputs, planning the
    split, serialising the body as the client sends it), and parsing a 500-contact page of
    ``GET /contacts`` (with every sub-resource included) from bytes into ``Contact`` models.
(c) Peak memory of THIS process while ``export_contacts_csv`` exports
    ``--export-contacts`` contacts (default 1,000,000) to a file. The sandbox runs in a
    separate process behind uvicorn on 127.0.0.1 (the contacts are loaded straight into its
    state), so only the client's memory is measured: tracemalloc's peak of Python
    allocations during the export, and the process's resident set size (sampled every 5 ms)
    above its level before the export. For contrast, the same file fetched with the
    generated ``get_contacts_export`` (which reads the whole body) is measured too, unless
    ``--no-contrast``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from bench_support import add_contacts, new_sandbox  # noqa: E402

from ccbridge import Client, MemoryBackend, RateLimiter  # noqa: E402
from ccbridge.bulk._plan import compact_json, plan_json_imports  # noqa: E402
from ccbridge.bulk._session import prepare_rows  # noqa: E402
from ccbridge.models import ContactsPage  # noqa: E402
from ccbridge.sandbox import SandboxTransport  # noqa: E402

CC_MAX_IMPORT = 40_000
EXPORT_FIELDS = ["email_address", "first_name", "last_name", "company_name", "job_title"]


# -- set-up ---------------------------------------------------------------------------------------
def slim_rows(count: int) -> list[dict[str, Any]]:
    """Contacts small enough (~75 bytes of JSON) that 40,000 fit in one 4 MB request."""
    return [
        {"email": f"person{n}@bench.example", "first_name": "First", "last_name": f"Last{n}"}
        for n in range(count)
    ]


def import_rows(count: int) -> list[dict[str, Any]]:
    """Contacts with a phone and an address (~210 bytes of JSON each)."""
    return [
        {
            "email": f"person{n}@bench.example",
            "first_name": "First",
            "last_name": f"Last{n}",
            "company_name": "Bench Corp",
            "job_title": "Tester",
            "work_phone": "555-0100",
            "city": "Springfield",
            "zip": "01101",
        }
        for n in range(count)
    ]


# -- (a) import with rate limits on -----------------------------------------------------------------
def bench_import(count: int, virtual_time: bool) -> None:
    sandbox, data, token = new_sandbox(rate_limits=True)
    calls: list[tuple[str, str]] = []
    options: dict[str, Any] = {}
    if virtual_time:
        options = {
            "sleep": sandbox.advance_clock,
            "clock": sandbox.clock.time,
            "rate_limit": RateLimiter(MemoryBackend(), clock=sandbox.clock.time),
        }
    client = Client(
        token,
        base_url=sandbox.base_url + "/v3",
        transport=SandboxTransport(sandbox),
        on_request=[lambda event: calls.append((event.method, event.path))],
        **options,
    )
    rows = slim_rows(count)
    list_id = next(iter(data.lists))
    sandbox_start = sandbox.clock.time()
    wall = time.perf_counter()
    with client:
        result = client.bulk_activities.import_contacts(rows, [list_id])
        elapsed = time.perf_counter() - wall
        sandbox_elapsed = sandbox.clock.time() - sandbox_start
        landed = client.contacts.list(include_count=True, limit=1).contacts_count
    statuses = [e["status"] for e in sandbox.requests.entries() if e["path"].startswith("/v3/")]
    # The fewest imports CC's two limits allow: by count, and by the bytes of the rows.
    payload = sum(len(compact_json(row)) + 1 for row in rows)
    imports = max(math.ceil(count / CC_MAX_IMPORT), math.ceil(payload / 4_000_000))
    minimum = imports * 2
    posts = sum(1 for method, _ in calls if method == "POST")
    polls = sum(1 for method, path in calls if method == "GET" and path.startswith("/activities/"))
    print(f"(a) import {count:,} contacts, sandbox rate limits ON, client limiter ON")
    print(f"    time: {'virtual (sandbox clock advanced on sleep)' if virtual_time else 'real'}")
    print(f"    rows: {payload / count:.0f} bytes of JSON each, {payload / 2**20:.1f} MiB in all")
    print(
        f"    API calls: {posts + polls} ({posts} imports + {polls} polls); "
        f"minimum possible {minimum} ({imports} imports + {imports} polls); "
        f"ratio {(posts + polls) / minimum:.2f}"
    )
    print(
        f"    429 answers: {statuses.count(429)}; activities completed: "
        f"{sum(a.succeeded for a in result.activities)}/{len(result.activities)}; "
        f"contacts in the account afterwards: {landed:,} (incl. the owner)"
    )
    print(
        f"    wall time: {elapsed:.2f} s; sandbox-clock time: {sandbox_elapsed:.2f} s "
        f"(the sandbox works at {sandbox.state.settings.activity_items_per_second:,.0f} items/s)"
    )


# -- (b) CPU per contact -----------------------------------------------------------------------------
def cpu_seconds(fn: Any) -> float:
    start = time.process_time()
    fn()
    return time.process_time() - start


def bench_cpu(runs: int) -> None:
    list_id = "0a1b2c3d-0000-4000-8000-000000000001"
    rows = import_rows(CC_MAX_IMPORT)

    def serialise() -> None:
        prepared = prepare_rows(rows)
        for plan in plan_json_imports(prepared, [list_id], None):
            compact_json(plan.body([list_id], None)).encode("utf-8")  # type: ignore[union-attr]

    serialise_us = [cpu_seconds(serialise) / CC_MAX_IMPORT * 1e6 for _ in range(runs)]

    sandbox, data, token = new_sandbox(rate_limits=False)
    client = Client(
        token,
        base_url=sandbox.base_url + "/v3",
        transport=SandboxTransport(sandbox),
        rate_limit=None,
    )
    with client:
        client.bulk_activities.import_contacts(import_rows(600), [next(iter(data.lists))])
        sandbox.advance_clock(3600)
        with client.stream(
            "GET",
            "/contacts",
            params={
                "limit": 500,
                "include": "custom_fields,list_memberships,phone_numbers,street_addresses,"
                "taggings,notes",
            },
        ) as response:
            page_bytes = response.read()
    assert len(json.loads(page_bytes)["contacts"]) == 500
    parse_us = [
        cpu_seconds(lambda: ContactsPage.parse(json.loads(page_bytes))) / 500 * 1e6
        for _ in range(runs)
    ]
    print(f"(b) client CPU per contact (median of {runs} runs)")
    print(f"    serialise a 40,000-contact JSON import: {statistics.median(serialise_us):.2f} µs")
    print(
        f"    parse a 500-contact page ({len(page_bytes) / 1024:.0f} KiB, all sub-resources) "
        f"into models: {statistics.median(parse_us):.2f} µs"
    )


# -- (c) export memory -------------------------------------------------------------------------------
def serve_sandbox(contacts: int) -> None:
    """Child process: a sandbox with ``contacts`` contacts, served on 127.0.0.1."""
    import uvicorn

    from ccbridge.sandbox.asgi import SandboxASGI

    sandbox, data, token = new_sandbox(rate_limits=False)
    sandbox.state.settings.activity_items_per_second = 10_000_000.0  # memory is the point here
    add_contacts(
        data, contacts, data.account.created_at, company_name="Bench Corp", job_title="Tester"
    )
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = uvicorn.Config(SandboxASGI(sandbox), host="127.0.0.1", port=port, log_level="error")
    server = uvicorn.Server(config)
    print(json.dumps({"port": port, "token": token}), flush=True)
    server.run()


def rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@contextlib.contextmanager
def rss_peak() -> Iterator[dict[str, int]]:
    """Samples resident memory every 5 ms while the block runs."""
    found = {"before": rss_bytes(), "peak": 0}
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            found["peak"] = max(found["peak"], rss_bytes())
            stop.wait(0.005)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield found
    finally:
        stop.set()
        thread.join()
        found["peak"] = max(found["peak"], rss_bytes())


def measure(fn: Any) -> tuple[Any, int, int, float]:
    """(result, tracemalloc peak, RSS growth, seconds) of one call."""
    tracemalloc.start()
    tracemalloc.reset_peak()
    start = time.perf_counter()
    with rss_peak() as rss:
        result = fn()
    seconds = time.perf_counter() - start
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return result, peak, rss["peak"] - rss["before"], seconds


def bench_export(count: int, contrast: bool) -> None:
    child = subprocess.Popen(
        [sys.executable, __file__, "--serve-sandbox", str(count)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        info = json.loads(child.stdout.readline())
        base = f"http://127.0.0.1:{info['port']}/v3"
        with (
            Client(info["token"], base_url=base, timeout=600.0) as client,
            tempfile.TemporaryDirectory() as folder,
        ):
            client.account.summary()  # connection and first-call costs are not the export's
            target = Path(folder) / "contacts.csv"
            result, peak, rss_growth, seconds = measure(
                lambda: client.bulk_activities.export_contacts_csv(target, fields=EXPORT_FIELDS)
            )
            size = target.stat().st_size
            lines = sum(1 for _ in target.open("rb"))
            print(f"(c) export {count:,} contacts to CSV, sandbox in another process over HTTP")
            print(
                f"    file: {size / 2**20:.1f} MiB, {lines:,} lines, {seconds:.1f} s "
                "(the sandbox builds the file, then the client streams it)"
            )
            print(
                f"    streamed (export_contacts_csv): tracemalloc peak "
                f"{peak / 2**20:.2f} MiB, RSS growth {rss_growth / 2**20:.1f} MiB"
            )
            if contrast:
                export_id = result.activity.activity_id
                _, peak2, rss2, _ = measure(
                    lambda: client.bulk_activities.get_contacts_export(export_id)
                )
                print(
                    f"    whole body (get_contacts_export, for contrast): tracemalloc peak "
                    f"{peak2 / 2**20:.1f} MiB, RSS growth {rss2 / 2**20:.1f} MiB"
                )
    finally:
        child.terminate()
        child.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--import-contacts", type=int, default=100_000)
    parser.add_argument("--export-contacts", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=5, help="runs for the CPU medians")
    parser.add_argument(
        "--virtual-time",
        action="store_true",
        help="(a): advance the sandbox clock instead of sleeping",
    )
    parser.add_argument(
        "--no-contrast",
        action="store_true",
        help="(c): skip the whole-body download measured for contrast",
    )
    parser.add_argument("--skip-import", action="store_true")
    parser.add_argument("--skip-cpu", action="store_true")
    parser.add_argument("--skip-export", action="store_true")
    parser.add_argument("--serve-sandbox", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_sandbox is not None:
        serve_sandbox(args.serve_sandbox)
        return
    started = time.perf_counter()
    if not args.skip_import:
        bench_import(args.import_contacts, args.virtual_time)
    if not args.skip_cpu:
        bench_cpu(args.runs)
    if not args.skip_export:
        bench_export(args.export_contacts, not args.no_contrast)
    print(f"total {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
