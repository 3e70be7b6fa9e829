"""The outbox: one transaction per accept, leases that two workers never share, takeover of
a killed worker's rows, held rows of inactive accounts, dead letters and their retry."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from ccbridge.leads import DeliveryWorker, Form, LeadCapture
from ccbridge.leads.capture import RequestInfo
from ccbridge.leads.outbox import SignupOutbox
from ccbridge.leads.schema import deliveries, submissions
from ccbridge.sandbox.state import AccountData
from ccbridge.store import Database
from tests.leads.conftest import signup
from tests.leads.support import FakeClock, set_account_status
from tests.store.support import DatabaseTarget

INFO = RequestInfo("203.0.113.7", "pytest")


def submit(capture: LeadCapture, form: Form, clock: FakeClock, emails: list[str]) -> list[str]:
    token = capture.tokens.issue(form.id)
    clock.advance(form.definition.min_fill_seconds + 1)
    return [capture.accept_sync(form, signup(token, email=e), INFO).submission_id for e in emails]


def table_count(db: Database, table: Any) -> int:
    with db.read() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar() or 0)


def test_submission_and_delivery_are_one_transaction(
    capture: LeadCapture, db: Database, form: Form, clock: FakeClock
) -> None:
    [good_id] = submit(capture, form, clock, ["first@example.com"])
    token = capture.tokens.issue(form.id)
    clock.advance(5)
    item = capture._new_submission(
        form,
        __import__("ccbridge.leads.submissions", fromlist=["clean"]).clean(
            form.definition, signup(token, email="second@example.com")
        ),
        INFO,
        None,
    )
    clash = item.__class__(
        **{**item.__dict__, "id": good_id}
    )  # same id as the first: the insert fails
    fresh = item.__class__(**{**item.__dict__, "id": "00000000-0000-0000-0000-000000000001"})
    with pytest.raises(IntegrityError):
        capture.outbox.store([fresh, clash])
    # the failed batch left nothing behind: not the fresh submission, not its delivery
    assert table_count(db, submissions) == 1
    assert table_count(db, deliveries) == 1


def test_two_workers_never_take_the_same_row(
    capture: LeadCapture, db: Database, form: Form, clock: FakeClock
) -> None:
    ids = submit(capture, form, clock, [f"p{i}@example.com" for i in range(60)])
    taken: dict[str, list[str]] = {}
    errors: list[BaseException] = []

    def drain(name: str) -> None:
        outbox = SignupOutbox(db, clock=clock)
        mine: list[str] = []
        try:
            while True:
                batch = outbox.claim(name, limit=4, lease_seconds=300)
                if not batch:
                    break
                mine.extend(c.submission_id for c in batch)
        except BaseException as exc:
            errors.append(exc)
        taken[name] = mine

    threads = [threading.Thread(target=drain, args=(f"w{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors
    every = [sid for mine in taken.values() for sid in mine]
    assert sorted(every) == sorted(ids)  # all taken, none twice
    assert len(set(every)) == len(every)


def test_an_expired_lease_is_taken_over_and_the_old_holder_is_fenced_out(
    capture: LeadCapture, db: Database, form: Form, clock: FakeClock
) -> None:
    submit(capture, form, clock, ["lease@example.com"])
    outbox = capture.outbox
    [first] = outbox.claim("slow-worker", lease_seconds=30)
    assert outbox.claim("other", lease_seconds=30) == []  # held
    clock.advance(31)
    [second] = outbox.claim("other", lease_seconds=30)
    assert second.id == first.id and second.lease_token != first.lease_token
    # the slow worker wakes up late: none of its writes land
    assert not outbox.complete(first, worker_id="slow-worker", contact_id="x", action="created")
    assert not outbox.retry_later(first, error="late", delay=1)
    assert not outbox.bury(first, reason="late")
    assert outbox.complete(second, worker_id="other", contact_id="c-1", action="created")
    with db.read() as conn:
        row = conn.execute(select(deliveries)).one()
    assert (row.state, row.delivered_by, row.cc_contact_id) == ("delivered", "other", "c-1")


def test_a_worker_killed_while_holding_a_lease_loses_it_to_the_next_one(
    db_target: DatabaseTarget,
    capture: LeadCapture,
    db: Database,
    form: Form,
    clock: FakeClock,
    worker: DeliveryWorker,
    cc_account: AccountData,
) -> None:
    """A real process claims the rows and is SIGKILLed; after the lease they are delivered."""
    emails = ["k1@example.com", "k2@example.com", "k3@example.com"]
    clock.now = time.time() - 60  # accepted a minute ago: due for the real-time process
    submit(capture, form, clock, emails)
    lease = 30.0
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.leads._lease_holder",
            db_target.url,
            db_target.schema or "",
            str(lease),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        claimed = json.loads(process.stdout.readline())
        assert len(claimed) == 3
        process.kill()  # SIGKILL: no cleanup, the leases stay in the table
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    with db.read() as conn:
        owners = {r.lease_owner for r in conn.execute(select(deliveries))}
    assert owners == {"doomed-worker"}

    # The rows stay leased until the lease runs out (the killed worker's time is real
    # time; our clock is moved past its expiry instead of waiting).
    clock.now = time.time()
    assert worker.run_once() == 0
    clock.advance(lease + 1)
    assert worker.run_once() == 3
    with db.read() as conn:
        states = {r.state for r in conn.execute(select(deliveries))}
    assert states == {"delivered"}
    for email in emails:
        contact = cc_account.contact_by_email(email)
        assert contact is not None and contact.email_address is not None


def test_rows_of_an_account_that_is_not_active_are_held(
    capture: LeadCapture, db: Database, form: Form, clock: FakeClock
) -> None:
    submit(capture, form, clock, ["held@example.com"])
    for status in ("needs_reauth", "disconnected"):
        set_account_status(db, form.account_id, status)
        assert capture.outbox.claim("w") == []
        assert capture.outbox.counts()["held"] == 1
        assert [v.state for v in capture.outbox.deliveries()] == ["held"]
    set_account_status(db, form.account_id, "active")
    assert len(capture.outbox.claim("w")) == 1


def test_dead_letters_can_be_retried_all_by_id_or_by_form(
    capture: LeadCapture, db: Database, form: Form, clock: FakeClock
) -> None:
    ids = submit(capture, form, clock, ["d1@example.com", "d2@example.com", "d3@example.com"])
    for claim in capture.outbox.claim("w", limit=10):
        assert capture.outbox.bury(claim, reason="CC answered HTTP 400 (bad list)")
    dead = capture.outbox.deliveries(state="dead")
    assert len(dead) == 3 and {v.dead_reason for v in dead} == {"CC answered HTTP 400 (bad list)"}
    assert capture.outbox.retry_dead(ids=[ids[0]]) == 1  # by submission id
    assert capture.outbox.retry_dead(form_id="another-form") == 0
    assert capture.outbox.retry_dead(form_id=form.id) == 2
    assert capture.outbox.counts()["dead"] == 0
    claims = capture.outbox.claim("w", limit=10)
    assert len(claims) == 3 and {c.attempts for c in claims} == {0}


def test_next_due_tells_the_worker_how_long_to_idle(
    capture: LeadCapture, form: Form, clock: FakeClock
) -> None:
    assert capture.outbox.next_due_at() is None
    submit(capture, form, clock, ["due@example.com"])
    [claim] = capture.outbox.claim("w")
    capture.outbox.retry_later(claim, error="503", delay=40)
    due = capture.outbox.next_due_at()
    assert due is not None
    assert abs((due - capture.outbox.now()) - timedelta(seconds=40)) < timedelta(seconds=1)


def test_approving_a_flagged_submission_queues_it_once(
    capture: LeadCapture, db: Database, form: Form, clock: FakeClock
) -> None:
    token = capture.tokens.issue(form.id)  # posted at once: too fast, flagged
    accepted = capture.accept_sync(form, signup(token), INFO)
    assert accepted.spam_reason == "too_fast"
    assert table_count(db, deliveries) == 0
    first = capture.outbox.approve(accepted.submission_id)
    assert capture.outbox.approve(accepted.submission_id) == first
    [claim] = capture.outbox.claim("w")
    assert claim.payload["email_address"] == "ada@example.com"
    with pytest.raises(LookupError):
        capture.outbox.approve("no-such-submission")
