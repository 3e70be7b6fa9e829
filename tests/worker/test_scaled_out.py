"""The scaled-out mode for real: two ``ccbridge worker`` processes on PostgreSQL and Redis
take jobs from one queue — every job runs exactly once, the work is split between them,
they share one CC API budget, and SIGTERM stops them cleanly."""

from __future__ import annotations

import signal
from collections import Counter
from pathlib import Path

import pytest
import sqlalchemy as sa

from ccbridge.testing.services import postgres_url_or_skip
from ccbridge.web.budget import used_today
from tests.worker.scaled import WorkerCluster, wait_for
from tests.worker.scaled_jobs import TABLE_SQL, budget_key

JOBS = 200

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


def _runs(cluster: WorkerCluster) -> list[tuple[str, int]]:
    with cluster.service.db.read() as conn:
        return [
            (r.job_id, r.pid)
            for r in conn.execute(sa.text("SELECT job_id, pid FROM ccbridge_test_job_runs"))
        ]


def test_two_workers_split_the_jobs_with_none_lost_or_duplicated(
    tmp_path: Path, cc_redis_url: str
) -> None:
    postgres = postgres_url_or_skip()
    with WorkerCluster(
        tmp_path,
        postgres_url=postgres,
        redis_url=cc_redis_url,
        workers=2,
        extensions=("tests.worker.scaled_jobs",),
        env={"CCBRIDGE_PER_SECOND": "1000"},
        setup_sql=(TABLE_SQL,),
    ) as cluster:
        ids = [f"job-{n}" for n in range(JOBS)]
        for job_id in ids:
            cluster.service.jobs.enqueue("test.record", job_id)
        wait_for(lambda: len(_runs(cluster)) >= JOBS, f"{JOBS} runs")
        codes = cluster.stop(signal.SIGTERM)
        runs = _runs(cluster)
        per_job = Counter(job_id for job_id, _pid in runs)
        assert sorted(per_job) == sorted(ids)  # none lost
        assert set(per_job.values()) == {1}  # none duplicated
        per_worker = Counter(pid for _job, pid in runs)
        assert set(per_worker) == set(cluster.pids)  # both workers took a share
        assert all(count > 0 for count in per_worker.values())
        # One budget for every process: Redis counted each run's CC slot once.
        assert used_today(cluster.service.limiter, budget_key(cluster.queue_name)) == JOBS
        assert codes == [0, 0], [cluster.log(i) for i in range(2)]
        for index in range(2):
            assert "ccbridge worker stopped" in cluster.log(index)
