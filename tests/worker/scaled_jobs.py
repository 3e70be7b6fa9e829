"""A test extension for the scaled-out harness: one job that records who ran it.

Each run takes a slot from the service's shared CC rate limiter (Redis when scaled out),
does a little work and writes (job id, process id) to a table; the test then checks every
job ran exactly once, in both processes, and that the budget counted every run once.
"""

from __future__ import annotations

import os
import time

import sqlalchemy as sa

from ccbridge.service import Service

TABLE_SQL = "CREATE TABLE ccbridge_test_job_runs (job_id TEXT NOT NULL, pid INTEGER NOT NULL)"


def budget_key(queue_name: str) -> str:
    return f"scaled-test-{queue_name}"


def install(service: Service) -> None:
    def record(job_id: str) -> None:
        service.limiter.acquire(budget_key(service.settings.queue_name))
        time.sleep(0.005)  # a little work, so both workers take a share of the queue
        with service.db.write() as conn:
            conn.execute(
                sa.text("INSERT INTO ccbridge_test_job_runs (job_id, pid) VALUES (:j, :p)"),
                {"j": job_id, "p": os.getpid()},
            )

    service.jobs.register("test.record", record)
