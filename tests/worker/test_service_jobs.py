"""The jobs the service registers: the daily linked-accounts keep-alive and session purge."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa

from ccbridge.service import KEEP_ALIVE_JOB, PURGE_SESSIONS_JOB
from ccbridge.store.schema import linked_accounts
from tests.web.support import client_for, connect_account, running_service, sign_in


def test_service_registers_keep_alive_daily_and_session_purge_hourly(tmp_path: Path) -> None:
    with running_service(tmp_path / "d") as service:
        periodic = {job.name: job.every_seconds for job in service.jobs.periodic_jobs}
    assert periodic == {KEEP_ALIVE_JOB: 86_400.0, PURGE_SESSIONS_JOB: 3600.0}


def test_keep_alive_job_refreshes_an_account_idle_past_the_limit(tmp_path: Path) -> None:
    with running_service(tmp_path / "d") as service, client_for(service) as client:
        sign_in(client, service)
        account_id = connect_account(client, service)
        first = service.accounts.get(account_id)
        assert service.jobs.run_now(KEEP_ALIVE_JOB) == {"checked": 0, "refreshed": 0}
        # The account has been idle for 31 days (the default limit is 30).
        idle_since = first.last_refreshed_at - timedelta(days=31)  # type: ignore[operator]
        with service.db.write() as conn:
            conn.execute(
                sa.update(linked_accounts)
                .where(linked_accounts.c.id == account_id)
                .values(last_refreshed_at=idle_since, linked_at=idle_since)
            )
        assert service.jobs.run_now(KEEP_ALIVE_JOB) == {"checked": 1, "refreshed": 1}
        after = service.accounts.get(account_id)
        assert after.status == "active"
        assert after.last_refreshed_at is not None and after.last_refreshed_at > idle_since
        assert [e.event for e in service.accounts.audit_log(account_id)].count("refreshed") == 1


def test_purge_job_deletes_expired_sessions(tmp_path: Path) -> None:
    with running_service(tmp_path / "d") as service:
        session = service.admin.create_session(None)
        assert service.admin.load_session(session.raw_id) is not None
        with service.db.write() as conn:
            conn.execute(
                sa.text("UPDATE ccbridge_web_sessions SET expires_at = '2000-01-01 00:00:00'")
            )
        assert service.jobs.run_now(PURGE_SESSIONS_JOB) == 1
        assert service.admin.load_session(session.raw_id) is None
