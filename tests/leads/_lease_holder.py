"""A worker process that claims deliveries and then hangs holding their lease.

Run by ``test_outbox.py``: it prints the ids it claimed as one JSON line, then blocks
until it is killed (with SIGKILL, so nothing in it gets a chance to clean up).
"""

from __future__ import annotations

import json
import sys

from ccbridge.leads.outbox import SignupOutbox
from ccbridge.store import Database


def main() -> None:
    url, schema, lease = sys.argv[1], sys.argv[2] or None, float(sys.argv[3])
    db = Database(url, schema=schema)
    claims = SignupOutbox(db).claim("doomed-worker", limit=100, lease_seconds=lease)
    print(json.dumps([c.id for c in claims]), flush=True)
    sys.stdin.read()  # hold the lease until killed


if __name__ == "__main__":
    main()
