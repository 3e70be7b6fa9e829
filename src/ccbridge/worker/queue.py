"""Background jobs on huey: one registration API, embedded on SQLite or shared through Redis.

Other parts of ccbridge (linked accounts' keep-alive, lead capture's outbox delivery)
register named jobs here and never touch huey directly:

    jobs.register("leads.deliver", deliver, retries=3, retry_delay=10)
    jobs.enqueue("leads.deliver", submission_id)
    jobs.register_periodic("linked_accounts.keep_alive", 86_400, keep_alive)

Why huey (docs/architecture.md has the longer answer): it runs embedded with no server
(``SqliteHuey``: a file in the data directory) and scales out on Redis (``RedisHuey``)
with the same API, it is small enough to read, and its consumer runs in threads inside
``ccbridge serve`` or alone as ``ccbridge worker``.

Two things huey does not do the way ccbridge needs, done here:

- Periodic jobs with several consumers: huey's own periodic tasks are enqueued by *every*
  consumer's scheduler, so M workers would run a daily job M times. Here each periodic job
  has time slots (``floor(now / every_seconds)``); a consumer that wants to run it first
  claims the slot with the queue storage's atomic ``put_if_empty`` (SQLite's unique key,
  Redis's HSETNX). Exactly one claim per slot wins, whatever the number of processes.
- Release on shutdown: a task still running when the shutdown timeout ends is put back on
  the queue (huey's ``interrupted`` signal) so another worker runs it. Jobs must therefore
  be idempotent — true of every ccbridge job, whose durable state lives in the database
  (leases, outbox rows), huey's messages being only the nudge to look at it.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from huey import Huey, RedisHuey, SqliteHuey
from huey import signals as huey_signals
from huey.api import Task
from huey.utils import normalize_time

from ccbridge._errors import CCBridgeError

log = logging.getLogger("ccbridge.worker")

JobFunction = Callable[..., Any]
Observer = Callable[[str, str, float], None]
"""Called with (job name, outcome, seconds) after every run: metrics hook in."""


class JobError(CCBridgeError):
    """A job was registered or enqueued wrongly (unknown name, duplicate name, bad interval)."""


@dataclass(frozen=True)
class PeriodicJob:
    name: str
    every_seconds: float


def create_huey(
    *,
    name: str = "ccbridge",
    data_dir: Path | None = None,
    redis_url: str | None = None,
) -> Huey:
    """The queue: Redis when a URL is given (shared), else a SQLite file in ``data_dir``."""
    if redis_url is not None:
        return RedisHuey(name, url=redis_url, results=False, utc=True)
    if data_dir is None:
        raise JobError("the embedded queue needs a data directory")
    data_dir.mkdir(parents=True, exist_ok=True)
    return SqliteHuey(name, filename=str(data_dir / "queue.sqlite"), results=False, utc=True)


class JobQueue:
    """Named jobs over one huey instance; every process registers the same names.

    The same wiring code runs in ``ccbridge serve`` and in every ``ccbridge worker``, so a
    job enqueued by one process can run in any other. ``stopping`` is set when a shutdown
    begins: long jobs check ``should_stop()`` between units of work and return early,
    leaving the rest for the next run.
    """

    def __init__(self, huey: Huey, *, clock: Callable[[], float] = time.time) -> None:
        self.huey = huey
        self.clock = clock
        self.stopping = threading.Event()
        self._tasks: dict[str, Any] = {}
        self._periodic: dict[str, PeriodicJob] = {}
        self._observers: list[Observer] = []
        self._release_lock = threading.Lock()
        huey.signal(huey_signals.SIGNAL_INTERRUPTED)(self._release)

    # -- registration --------------------------------------------------------------------
    def register(
        self, name: str, fn: JobFunction, *, retries: int = 0, retry_delay: float = 0
    ) -> None:
        """Make ``fn`` runnable as job ``name`` (arguments must be picklable)."""
        if not name or not name.replace(".", "").replace("_", "").replace("-", "").isalnum():
            raise JobError(f"job name {name!r} must be letters, digits, '.', '_' or '-'")
        if name in self._tasks:
            raise JobError(f"a job named {name!r} is already registered")
        observers = self._observers
        clock = time.monotonic

        def run(*args: Any, **kwargs: Any) -> Any:
            started = clock()
            try:
                result = fn(*args, **kwargs)
            except Exception:
                _notify(observers, name, "error", clock() - started)
                raise
            _notify(observers, name, "ok", clock() - started)
            return result

        run.__module__ = __name__
        run.__qualname__ = run.__name__ = name
        self._tasks[name] = self.huey.task(name=name, retries=retries, retry_delay=retry_delay)(run)

    def register_periodic(self, name: str, every_seconds: float, fn: Callable[[], Any]) -> None:
        """Run ``fn`` once per ``every_seconds`` across all processes sharing the queue.

        The first slot starts when the first consumer starts, so a daily job runs soon after
        the service first comes up and then once per UTC day (slots are aligned to the epoch).
        """
        if not every_seconds >= 1:
            raise JobError(f"periodic job {name!r}: every_seconds must be at least 1")
        self.register(name, fn)
        self._periodic[name] = PeriodicJob(name, float(every_seconds))

    def add_observer(self, observer: Observer) -> None:
        self._observers.append(observer)

    @property
    def job_names(self) -> list[str]:
        return sorted(self._tasks)

    @property
    def periodic_jobs(self) -> list[PeriodicJob]:
        return list(self._periodic.values())

    # -- enqueueing ----------------------------------------------------------------------
    def enqueue(self, name: str, *args: Any, delay: float | None = None, **kwargs: Any) -> str:
        """Queue job ``name``; returns the task id. ``delay`` seconds postpone it."""
        task = self._tasks.get(name)
        if task is None:
            raise JobError(
                f"no job named {name!r} is registered (known: {', '.join(self.job_names) or 'none'})"
            )
        # Built directly (not through TaskWrapper.s) so job kwargs named ``id`` or ``delay``
        # are passed to the job instead of being taken as huey options.
        eta = normalize_time(None, delay, self.huey.utc) if delay else None
        message = task.task_class(args, kwargs, eta=eta)
        self.huey.enqueue(message)
        return str(message.id)

    def claim_slot(self, job: PeriodicJob, now: float | None = None) -> bool:
        """Claim this time slot of a periodic job; True for exactly one caller per slot."""
        slot = int((self.clock() if now is None else now) // job.every_seconds)
        key = f"ccbridge:periodic:{job.name}:{slot}"
        if not self.huey.storage.put_if_empty(key, b"1"):
            return False
        # Forget slots older than the previous one, so the key space stays small.
        self.huey.storage.delete_data(f"ccbridge:periodic:{job.name}:{slot - 2}")
        return True

    def tick(self, now: float | None = None) -> list[str]:
        """Enqueue every periodic job whose current slot this process claimed."""
        started = []
        for job in self._periodic.values():
            try:
                if self.claim_slot(job, now):
                    self.enqueue(job.name)
                    started.append(job.name)
            except Exception as exc:  # the queue may be briefly unreachable; try next tick
                log.warning("periodic job %s could not be scheduled: %s", job.name, exc)
        return started

    def run_now(self, name: str, *args: Any, **kwargs: Any) -> Any:
        """Run a registered job in this thread (CLI commands and tests)."""
        task = self._tasks.get(name)
        if task is None:
            raise JobError(f"no job named {name!r} is registered")
        return task.call_local(*args, **kwargs)

    # -- health and shutdown ---------------------------------------------------------------
    def ping(self) -> int:
        """Reach the queue's storage (raises if it is down); returns the queue length."""
        return int(self.huey.storage.queue_size())

    def should_stop(self) -> bool:
        return self.stopping.is_set()

    def _release(self, signal: str, task: Task, *args: Any, **kwargs: Any) -> None:
        """Put an interrupted task back on the queue for another worker."""
        with self._release_lock:
            try:
                self.huey.enqueue(task)
                log.warning(
                    "job %s (%s) did not finish before shutdown; released", task.name, task.id
                )
            except Exception as exc:
                log.error("job %s (%s) could not be released: %s", task.name, task.id, exc)

    def close(self) -> None:
        storage = self.huey.storage
        close = getattr(storage, "close", None)
        if callable(close):
            with contextlib.suppress(Exception):  # closing is best effort at exit
                close()


def _notify(observers: Iterable[Observer], name: str, outcome: str, seconds: float) -> None:
    for observer in observers:
        try:
            observer(name, outcome, seconds)
        except Exception:  # an observer must never fail a job
            log.exception("job observer failed")
