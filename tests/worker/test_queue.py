"""The job queue on huey's embedded SQLite storage: registration, running, periodic jobs
that run once per slot across processes, metrics, and graceful shutdown (finish or release).

No sleeps: each test waits for a condition with a deadline, or for an event.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ccbridge.worker import EmbeddedWorker, JobError, JobQueue, create_huey

DEADLINE = 10.0


def wait_for(condition: Callable[[], bool], what: str, deadline: float = DEADLINE) -> None:
    end = time.monotonic() + deadline
    while not condition():
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


@pytest.fixture
def queue(tmp_path: Path) -> Iterator[JobQueue]:
    q = JobQueue(create_huey(name="test", data_dir=tmp_path))
    yield q
    q.close()


def test_enqueued_jobs_run_with_their_arguments(queue: JobQueue) -> None:
    seen: list[tuple[int, str | None]] = []
    queue.register("test.record", lambda n, id=None: seen.append((n, id)))
    worker = EmbeddedWorker(queue, threads=2)
    worker.start()
    try:
        ids = {queue.enqueue("test.record", n, id=f"x{n}") for n in range(20)}
        assert len(ids) == 20  # one task id per enqueue
        wait_for(lambda: len(seen) == 20, "20 jobs")
    finally:
        assert worker.stop()
    assert sorted(seen) == [(n, f"x{n}") for n in range(20)]


def test_delayed_job_waits_in_the_schedule(queue: JobQueue) -> None:
    ran = threading.Event()
    queue.register("test.later", ran.set)
    queue.enqueue("test.later", delay=3600)
    worker = EmbeddedWorker(queue, threads=1)
    worker.start()
    try:
        # The worker takes it off the queue and parks it in the schedule, unrun.
        wait_for(lambda: queue.huey.scheduled_count() == 1 and queue.ping() == 0, "the schedule")
    finally:
        worker.stop()
    assert not ran.is_set()


def test_registration_mistakes_are_errors(queue: JobQueue) -> None:
    queue.register("test.a", lambda: None)
    with pytest.raises(JobError, match="already registered"):
        queue.register("test.a", lambda: None)
    with pytest.raises(JobError, match="letters, digits"):
        queue.register("bad name!", lambda: None)
    with pytest.raises(JobError, match=r"no job named 'test\.b'"):
        queue.enqueue("test.b")
    with pytest.raises(JobError, match="every_seconds"):
        queue.register_periodic("test.p", 0, lambda: None)


def test_periodic_slot_is_claimed_once_across_queues(tmp_path: Path) -> None:
    # Two processes' queues on the same storage: exactly one claim per slot wins.
    first = JobQueue(create_huey(name="shared", data_dir=tmp_path))
    second = JobQueue(create_huey(name="shared", data_dir=tmp_path))
    for q in (first, second):
        q.register_periodic("test.daily", 86_400, lambda: None)
    now = 1_800_000_000.0
    assert first.tick(now) == ["test.daily"]
    assert second.tick(now) == []
    assert first.tick(now + 10) == []
    assert second.tick(now + 86_400) == ["test.daily"]  # the next day
    assert first.ping() == 2  # two runs queued in total, one per slot
    first.close()
    second.close()


def test_periodic_job_runs_once_per_slot_with_several_workers(tmp_path: Path) -> None:
    runs: list[int] = []
    queues = [JobQueue(create_huey(name="many", data_dir=tmp_path)) for _ in range(3)]
    for q in queues:
        q.register_periodic("test.hourly", 3600, lambda: runs.append(1))
    workers = [EmbeddedWorker(q, threads=1) for q in queues]
    for w in workers:
        w.start()
    try:
        wait_for(lambda: len(runs) >= 1, "the periodic job")
        # Every ticker keeps ticking; none may claim the same hour again.
        for q in queues:
            assert q.tick() == []
    finally:
        for w in workers:
            w.stop()
    assert len(runs) == 1
    for q in queues:
        q.close()


def test_observers_see_each_run_and_its_outcome(queue: JobQueue) -> None:
    outcomes: list[tuple[str, str]] = []
    queue.add_observer(lambda name, outcome, _s: outcomes.append((name, outcome)))

    def fails() -> None:
        raise RuntimeError("boom")

    queue.register("test.ok", lambda: None)
    queue.register("test.fails", fails)
    worker = EmbeddedWorker(queue, threads=1)
    worker.start()
    try:
        queue.enqueue("test.ok")
        queue.enqueue("test.fails")
        wait_for(lambda: len(outcomes) == 2, "two runs")
    finally:
        worker.stop()
    assert sorted(outcomes) == [("test.fails", "error"), ("test.ok", "ok")]


def test_stop_waits_for_a_running_job_to_finish(queue: JobQueue) -> None:
    started, release, finished = threading.Event(), threading.Event(), threading.Event()
    saw_stopping: list[bool] = []

    def long_job() -> None:
        started.set()
        release.wait(DEADLINE)
        saw_stopping.append(queue.should_stop())
        finished.set()

    queue.register("test.long", long_job)
    worker = EmbeddedWorker(queue, threads=1, shutdown_timeout=DEADLINE)
    worker.start()
    queue.enqueue("test.long")
    assert started.wait(DEADLINE)
    result: list[bool] = []
    stopper = threading.Thread(target=lambda: result.append(worker.stop()))
    stopper.start()
    wait_for(queue.should_stop, "the stopping flag")
    assert not finished.is_set() and not result  # stop() is still waiting for the job
    release.set()
    stopper.join(DEADLINE)
    assert result == [True] and finished.is_set()
    assert saw_stopping == [True]  # the job could see that a shutdown had begun
    assert queue.ping() == 0  # nothing left behind


def test_job_still_running_at_the_timeout_is_released_to_another_worker(tmp_path: Path) -> None:
    first_attempt_started, unblock = threading.Event(), threading.Event()
    attempts: list[str] = []
    done = threading.Event()

    def job(label: str) -> None:
        attempts.append(label)
        if len(attempts) == 1:
            first_attempt_started.set()
            unblock.wait(DEADLINE)  # the stuck first attempt
            return
        done.set()

    q1 = JobQueue(create_huey(name="release", data_dir=tmp_path))
    q1.register("test.stuck", job)
    w1 = EmbeddedWorker(q1, threads=1, shutdown_timeout=0.2)
    w1.start()
    q1.enqueue("test.stuck", "delivery-1")
    assert first_attempt_started.wait(DEADLINE)
    assert w1.stop() is False  # the job did not finish in time ...
    assert q1.ping() == 1  # ... so it is back on the queue
    # Another worker (another process in production) takes it over.
    q2 = JobQueue(create_huey(name="release", data_dir=tmp_path))
    q2.register("test.stuck", job)
    w2 = EmbeddedWorker(q2, threads=1)
    w2.start()
    try:
        assert done.wait(DEADLINE)
    finally:
        unblock.set()
        w2.stop()
    assert attempts == ["delivery-1", "delivery-1"]
    q1.close()
    q2.close()
