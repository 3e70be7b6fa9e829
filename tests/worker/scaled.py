"""A harness for the scaled-out mode: several real ``ccbridge worker`` processes sharing
one PostgreSQL database (an isolated schema) and one Redis (a queue name of their own).

Lead capture reuses it for its delivery test: pass its extension module (and any
environment it needs) and enqueue through ``cluster.service``.

    with WorkerCluster(tmp_path, extensions=("tests.worker.scaled_jobs",)) as cluster:
        cluster.service.jobs.enqueue("test.record", "job-1")
        ...
        codes = cluster.stop()

Every process gets the same settings (database URL and schema, Redis URL, queue name,
vault key), exactly as a deployment would give N machines the same configuration.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import redis
import sqlalchemy as sa

from ccbridge.oauth.vault import generate_key
from ccbridge.service import Service, build_service
from ccbridge.store import Database, upgrade
from ccbridge.web.settings import ServiceSettings

REPO = Path(__file__).resolve().parents[2]
READY = "ccbridge worker ready"


def wait_for(condition: Callable[[], bool], what: str, deadline: float = 60.0) -> None:
    end = time.monotonic() + deadline
    while not condition():
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


class WorkerCluster:
    """N worker processes on PostgreSQL + Redis, plus a ``service`` in the test process."""

    def __init__(
        self,
        tmp_path: Path,
        *,
        postgres_url: str,
        redis_url: str,
        workers: int = 2,
        threads: int = 2,
        extensions: Sequence[str] = (),
        env: dict[str, str] | None = None,
        setup_sql: Sequence[str] = (),
    ) -> None:
        self.tmp_path = tmp_path
        self.postgres_url = postgres_url
        self.redis_url = redis_url
        self.workers = workers
        self.threads = threads
        self.schema = "ccb_scaled_" + uuid.uuid4().hex[:10]
        self.queue_name = "ccbt-" + uuid.uuid4().hex[:10]
        self.setup_sql = list(setup_sql)
        self.env: dict[str, str] = {
            "CCBRIDGE_DATABASE_URL": postgres_url,
            "CCBRIDGE_DATABASE_SCHEMA": self.schema,
            "CCBRIDGE_REDIS_URL": redis_url,
            "CCBRIDGE_QUEUE_NAME": self.queue_name,
            "CCBRIDGE_DATA_DIR": str(tmp_path / "data"),
            "CCBRIDGE_VAULT_KEYS": generate_key().decode(),
            "CCBRIDGE_WORKER_THREADS": str(threads),
            "CCBRIDGE_SHUTDOWN_TIMEOUT": "30",
            "CCBRIDGE_EXTENSIONS": ",".join(extensions),
            "CCBRIDGE_LOG_LEVEL": "info",
            **(env or {}),
        }
        self.processes: list[subprocess.Popen[bytes]] = []
        self.logs: list[Path] = []
        self.service: Service
        self._admin = sa.create_engine(postgres_url)

    # -- lifecycle ---------------------------------------------------------------------------
    def __enter__(self) -> WorkerCluster:
        with self._admin.begin() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA "{self.schema}"'))
        db = Database(self.postgres_url, schema=self.schema)
        try:
            upgrade(db)
            with db.write() as conn:
                for statement in self.setup_sql:
                    conn.execute(sa.text(statement))
        finally:
            db.dispose()
        try:
            self.service = build_service(ServiceSettings.load(self.env), role="worker")
            for index in range(self.workers):
                self._start(index)
            for index in range(self.workers):
                wait_for(lambda i=index: READY in self.log(i), f"worker {index} to be ready")  # type: ignore[misc]
        except BaseException:
            self.__exit__()
            raise
        return self

    def _start(self, index: int) -> None:
        log = self.tmp_path / f"worker-{index}.log"
        self.logs.append(log)
        env = {**os.environ, **self.env, "PYTHONPATH": str(REPO)}
        with open(log, "wb") as out:
            self.processes.append(
                subprocess.Popen(
                    [sys.executable, "-m", "ccbridge.cli.main", "worker"],
                    env=env,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    cwd=self.tmp_path,
                )
            )

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.processes]

    def log(self, index: int) -> str:
        return self.logs[index].read_text(errors="replace") if self.logs[index].exists() else ""

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 60.0) -> list[int]:
        """Signal every worker and wait for it; returns their exit codes."""
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(sig)
        return [process.wait(timeout) for process in self.processes]

    def __exit__(self, *exc: Any) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.kill()
                process.wait(10)
        service = getattr(self, "service", None)
        if service is not None:
            service.jobs.huey.storage.flush_all()
            service.close()
        client = redis.Redis.from_url(self.redis_url)
        for key in client.scan_iter(match=f"*{self.queue_name}*"):
            client.delete(key)
        client.close()
        with self._admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE'))
        self._admin.dispose()
