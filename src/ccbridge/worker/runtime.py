"""Running the consumer: threads inside ``ccbridge serve``, or a process of its own.

Both modes use huey's ``Consumer`` (worker threads plus its scheduler for delayed and
retried tasks) and add ccbridge's periodic ticker. What differs is who owns the signals:

- Embedded (``EmbeddedWorker``): uvicorn owns SIGINT/SIGTERM; its lifespan shutdown calls
  ``stop()``. huey's own handlers are not installed (they would replace uvicorn's).
- Standalone (``run_worker``): this module installs the handlers. The first SIGINT or
  SIGTERM starts a graceful stop: no new task is taken, running ones get
  ``shutdown_timeout`` seconds to finish, and any still running then are released back to
  the queue for another worker. A second signal stops at once (still releasing).
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable
from types import FrameType
from typing import Any

from huey.consumer import Consumer

from ccbridge.worker.queue import JobQueue

log = logging.getLogger("ccbridge.worker")


class _QuietConsumer(Consumer):  # type: ignore[misc]
    """huey's consumer without its signal handlers: the process owner decides."""

    def _set_signal_handlers(self) -> None:
        pass


class _Ticker:
    """Checks the periodic jobs once a second in a daemon thread."""

    def __init__(self, jobs: JobQueue, interval: float = 1.0) -> None:
        self.jobs = jobs
        self.interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if not self.jobs.periodic_jobs:
            return
        self._thread = threading.Thread(target=self._run, name="ccbridge-periodic", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.jobs.tick()
            self._stop.wait(self.interval)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)


class EmbeddedWorker:
    """huey's consumer as threads of the current process, started and stopped explicitly."""

    def __init__(
        self,
        jobs: JobQueue,
        *,
        threads: int = 2,
        shutdown_timeout: float = 30.0,
        poll_interval: float = 0.1,
        max_poll_interval: float = 2.0,
        periodic: bool = True,
    ) -> None:
        self.jobs = jobs
        self.shutdown_timeout = shutdown_timeout
        self.consumer = _QuietConsumer(
            jobs.huey,
            workers=threads,
            periodic=False,  # ccbridge's ticker does periodic jobs (see queue.py)
            initial_delay=poll_interval,
            max_delay=max_poll_interval,
            backoff=1.5,
            worker_type="thread",
            check_worker_health=False,
            shutdown_timeout=shutdown_timeout,
        )
        self.ticker = _Ticker(jobs) if periodic else None
        self.started = False
        self._abort = threading.Event()

    def start(self) -> None:
        self.jobs.stopping.clear()
        self.consumer.start()
        if self.ticker is not None:
            self.ticker.start()
        self.started = True
        log.info(
            "worker started: %d thread(s), jobs: %s",
            self.consumer.workers,
            ", ".join(self.jobs.job_names) or "none",
        )

    def check_health(self) -> None:
        """Replace dead worker threads (a job that killed its thread must not stop the queue)."""
        self.consumer.check_worker_health()

    def stop(self) -> bool:
        """Stop taking tasks, wait for running ones, release what is left. True if all finished."""
        if not self.started:
            return True
        self.started = False
        self.jobs.stopping.set()
        if self.ticker is not None:
            self.ticker.stop()
        self.consumer.stop_flag.set()
        finished = self._join(self.shutdown_timeout)
        # Anything still running is released for another worker (queue.py's signal handler).
        self.jobs.huey.notify_interrupted_tasks()
        if finished:
            log.info("worker stopped: every running job finished")
        else:
            log.warning(
                "worker stopped after %.0fs: unfinished jobs were released", self.shutdown_timeout
            )
        return finished

    def abort(self) -> None:
        """Cut a graceful stop short (a second signal): stop waiting for running jobs."""
        self._abort.set()

    def _join(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        threads = [t for _, t in self.consumer.worker_threads] + [self.consumer.scheduler]
        while any(t.is_alive() for t in threads):
            left = deadline - time.monotonic()
            if left <= 0 or self._abort.is_set():
                return False
            next(t for t in threads if t.is_alive()).join(min(left, 0.2))
        return True


def run_worker(
    jobs: JobQueue,
    *,
    threads: int = 2,
    shutdown_timeout: float = 30.0,
    on_started: Callable[[], None] | None = None,
    health_interval: float = 10.0,
) -> bool:
    """Run a consumer in this process until SIGINT/SIGTERM; returns True on a clean stop."""
    worker = EmbeddedWorker(jobs, threads=threads, shutdown_timeout=shutdown_timeout)
    stop_requested = threading.Event()
    signals_seen: list[int] = []

    def handle(signum: int, _frame: FrameType | None) -> None:
        signals_seen.append(signum)
        if len(signals_seen) == 1:
            log.info(
                "received %s: finishing running jobs (up to %.0fs)",
                signal.Signals(signum).name,
                shutdown_timeout,
            )
            stop_requested.set()
        else:
            log.warning("second signal: stopping now; running jobs are released")
            worker.abort()

    previous: dict[int, Any] = {}
    for sig in (signal.SIGINT, signal.SIGTERM):
        previous[sig] = signal.signal(sig, handle)
    try:
        worker.start()
        if on_started is not None:
            on_started()
        while not stop_requested.wait(health_interval):
            worker.check_health()
        return worker.stop()
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
