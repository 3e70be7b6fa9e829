"""``ccbridge worker`` as a process: SIGTERM lets a running job finish; a job still
running when the shutdown timeout ends is released and another worker runs it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ccbridge.service import build_service
from ccbridge.web.settings import ServiceSettings
from tests.worker.scaled import READY, REPO, wait_for


@contextmanager
def worker_process(env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "ccbridge.cli.main", "worker", "--threads", "1"],
            env={**os.environ, **env, "PYTHONPATH": str(REPO)},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for(lambda: READY in log.read_text(), "the worker to be ready")
        yield process
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)


def _env(tmp_path: Path, timeout: str) -> dict[str, str]:
    return {
        "CCBRIDGE_DATA_DIR": str(tmp_path / "data"),
        "CCBRIDGE_EXTENSIONS": "tests.worker.blocking_jobs",
        "CCBRIDGE_SHUTDOWN_TIMEOUT": timeout,
        "CCBRIDGE_LOG_LEVEL": "info",
    }


def test_sigterm_lets_the_running_job_finish(tmp_path: Path) -> None:
    env = _env(tmp_path, "60")
    marks = tmp_path / "marks"
    marks.mkdir()
    service = build_service(ServiceSettings.load(env), role="worker")
    log = tmp_path / "worker.log"
    try:
        with worker_process(env, log) as process:
            service.jobs.enqueue("test.block", str(marks), "one")
            wait_for((marks / "one.started").exists, "the job to start")
            process.send_signal(signal.SIGTERM)
            wait_for(
                lambda: "finishing running jobs" in log.read_text(), "the graceful stop to begin"
            )
            assert process.poll() is None  # still waiting for the job
            (marks / "release").touch()
            assert process.wait(30) == 0
        assert (marks / f"one.done.{process.pid}").exists()
        text = log.read_text()
        assert "every running job finished" in text and "ccbridge worker stopped\n" in text
    finally:
        service.close()


def test_job_outliving_the_timeout_is_released_to_the_next_worker(tmp_path: Path) -> None:
    env = _env(tmp_path, "0.3")
    marks = tmp_path / "marks"
    marks.mkdir()
    service = build_service(ServiceSettings.load(env), role="worker")
    try:
        with worker_process(env, tmp_path / "first.log") as first:
            service.jobs.enqueue("test.block", str(marks), "two")
            wait_for((marks / "two.started").exists, "the job to start")
            first.send_signal(signal.SIGTERM)
            assert first.wait(30) == 0
        assert "unfinished jobs were released" in (tmp_path / "first.log").read_text()
        assert "test.block" in (tmp_path / "first.log").read_text()  # named as released
        (marks / "release").touch()
        with worker_process(env, tmp_path / "second.log") as second:
            wait_for((marks / f"two.done.{second.pid}").exists, "the second worker to run it")
            second.send_signal(signal.SIGTERM)
            assert second.wait(30) == 0
        assert not (marks / f"two.done.{first.pid}").exists()
    finally:
        service.close()
