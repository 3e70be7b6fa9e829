"""Delivery to the sandbox through ``sign_up_form``: the contact lands on the form's list
with explicit permission; outages are ridden out with backoff and a circuit breaker and end
with every signup delivered once; CC's refusals become dead letters; a needs_reauth
account holds its signups until it is connected again."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from ccbridge import Client
from ccbridge.leads import DeliveryPolicy, DeliveryWorker, Form, LeadCapture, classify
from ccbridge.leads.capture import RequestInfo
from ccbridge.sandbox import Sandbox, SandboxTransport
from ccbridge.sandbox.state import AccountData
from ccbridge.store import Database
from ccbridge.testing.plugin import sandbox_client
from tests.leads.conftest import signup
from tests.leads.support import FakeClock, set_account_status

INFO = RequestInfo("198.51.100.4", "pytest")
SIGNUP_PATH = "/v3/contacts/sign_up_form"


class RecordingTransport(httpx.BaseTransport):
    """Records (email, status or exception name) of every sign_up_form call."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner
        self.calls: list[tuple[str, int | str]] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        email = ""
        if request.url.path == SIGNUP_PATH:
            email = json.loads(request.read())["email_address"]
        try:
            response = self.inner.handle_request(request)
        except httpx.TransportError as exc:
            self.calls.append((email, type(exc).__name__))
            raise
        if request.url.path == SIGNUP_PATH:
            self.calls.append((email, response.status_code))
        return response

    def successes(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for email, status in self.calls:
            if isinstance(status, int) and status < 300:
                out[email] = out.get(email, 0) + 1
        return out


@pytest.fixture
def recorder(cc_sandbox: Sandbox) -> RecordingTransport:
    return RecordingTransport(SandboxTransport(cc_sandbox))


@pytest.fixture
def recording_worker(
    capture: LeadCapture,
    cc_sandbox: Sandbox,
    cc_token: dict[str, Any],
    recorder: RecordingTransport,
) -> Iterator[DeliveryWorker]:
    def client_for(account_id: str) -> Client:
        # a short read timeout, so an injected 1 s latency is a timeout at once
        return sandbox_client(cc_sandbox, cc_token, transport=recorder, max_retries=0, timeout=0.05)

    policy = DeliveryPolicy(batch_size=50, breaker_threshold=3)
    w = DeliveryWorker(
        capture.outbox, client_for, worker_id="w1", policy=policy, rng=random.Random(7)
    )
    yield w
    w.close()


def submit(
    capture: LeadCapture, form: Form, clock: FakeClock, emails: list[str], **extra: Any
) -> list[str]:
    token = capture.tokens.issue(form.id)
    clock.advance(form.definition.min_fill_seconds + 1)
    return [
        capture.accept_sync(form, signup(token, email=e, **extra), INFO).submission_id
        for e in emails
    ]


def add_fault(sandbox: Sandbox, rule: dict[str, Any]) -> None:
    with httpx.Client(base_url=sandbox.base_url, transport=SandboxTransport(sandbox)) as raw:
        response = raw.post("/_sandbox/faults", json=rule)
        assert response.status_code in (200, 201), response.text


def drain(worker: DeliveryWorker, clock: FakeClock, *, rounds: int = 200) -> int:
    """Run batches, moving the clock to the next due row whenever nothing is due."""
    for _ in range(rounds):
        if worker.run_once():
            continue
        due = worker.outbox.next_due_at()
        if due is None:
            return 0
        pause_left = max((due - worker.outbox.now()).total_seconds(), 0.0)
        clock.advance(pause_left + 1)
    return worker.outbox.counts()["pending"]


def test_a_signup_lands_on_the_forms_list_with_explicit_permission(
    capture: LeadCapture,
    db: Database,
    form: Form,
    clock: FakeClock,
    worker: DeliveryWorker,
    cc_account: AccountData,
) -> None:
    [submission_id] = submit(capture, form, clock, ["lovelace@example.com"], last_name="Lovelace")
    assert worker.run_once() == 1
    contact = cc_account.contact_by_email("lovelace@example.com")
    assert contact is not None and contact.email_address is not None
    assert contact.email_address.permission_to_send == "explicit"
    assert contact.email_address.opt_in_source == "Contact"
    assert contact.create_source == "Contact"
    assert form.definition.list_ids[0] in contact.list_memberships
    assert (contact.first_name, contact.last_name) == ("Ada", "Lovelace")
    [view] = capture.outbox.deliveries(state="delivered")
    assert view.submission_id == submission_id
    assert (view.cc_contact_id, view.cc_action) == (contact.contact_id, "created")


def test_custom_fields_are_mapped_to_cc_custom_fields(
    capture: LeadCapture,
    form: Form,
    clock: FakeClock,
    worker: DeliveryWorker,
    cc_account: AccountData,
    cc_client: Client,
) -> None:
    field = cc_client.custom_fields.post_custom_fields(
        body={"label": "Favourite book", "type": "string"}
    )
    capture.forms.update(
        form.id,
        {
            "fields": [
                *form.definition.to_json()["fields"],
                {"name": "book", "custom_field_id": field["custom_field_id"]},
            ]
        },
    )
    form = capture.forms.get(form.id)
    submit(capture, form, clock, ["reader@example.com"], book="Middlemarch")
    assert worker.run_once() == 1
    contact = cc_account.contact_by_email("reader@example.com")
    assert contact is not None
    assert [(c["custom_field_id"], c["value"]) for c in contact.custom_fields] == [
        (field["custom_field_id"], "Middlemarch")
    ]


def test_cc_down_then_up_delivers_every_signup_once(
    capture: LeadCapture,
    form: Form,
    clock: FakeClock,
    recording_worker: DeliveryWorker,
    recorder: RecordingTransport,
    cc_sandbox: Sandbox,
    cc_account: AccountData,
) -> None:
    emails = [f"outage{i}@example.com" for i in range(12)]
    submit(capture, form, clock, emails)
    # CC is down: eight 503s, then six answers too slow for the client's timeout.
    add_fault(
        cc_sandbox,
        {
            "match": {"method": "POST", "path": "^/v3/contacts/sign_up_form$", "times": 8},
            "action": {"status": 503},
        },
    )
    add_fault(
        cc_sandbox,
        {
            "match": {"method": "POST", "path": "^/v3/contacts/sign_up_form$", "times": 6},
            "action": {"latency_ms": 1000},
        },
    )
    assert drain(recording_worker, clock) == 0

    assert recorder.successes() == {email: 1 for email in emails}  # once per email, none lost
    failures = [s for _, s in recorder.calls if s == 503 or s == "ReadTimeout"]
    assert {503, "ReadTimeout"} <= set(failures) and len(failures) >= 8
    for email in emails:
        contact = cc_account.contact_by_email(email)
        assert contact is not None and contact.email_address is not None
        assert contact.email_address.permission_to_send == "explicit"
    counts = capture.outbox.counts()
    assert (counts["delivered"], counts["pending"], counts["dead"]) == (12, 0, 0)
    # the breaker tripped during the outage rather than hammering CC with the whole batch
    assert recording_worker.stats.get("paused", 0) > 0


def test_the_breaker_pauses_an_account_for_every_worker(
    capture: LeadCapture,
    form: Form,
    clock: FakeClock,
    recording_worker: DeliveryWorker,
    recorder: RecordingTransport,
    cc_sandbox: Sandbox,
) -> None:
    submit(capture, form, clock, [f"b{i}@example.com" for i in range(10)])
    add_fault(
        cc_sandbox,
        {
            "match": {"method": "POST", "path": "^/v3/contacts/sign_up_form$"},
            "action": {"status": 503},
        },
    )
    recording_worker.run_once()
    # three failures open the breaker; the other seven rows of the batch were not sent
    assert len(recorder.calls) == 3
    pause = capture.outbox.pause_of(form.account_id)
    assert pause is not None
    # a second worker sees the same pause and sends nothing
    other = DeliveryWorker(capture.outbox, recording_worker.client_for, worker_id="w2")
    clock.advance(3)  # past the rows' own retry delay, still inside the pause
    assert other.run_once() == 0
    assert len(recorder.calls) == 3


def test_retry_delays_grow_exponentially_with_jitter() -> None:
    policy = DeliveryPolicy(retry_base=2.0, retry_max=60.0)
    rng = random.Random(1)
    delays = [policy.retry_delay(n, rng) for n in range(1, 9)]
    for n, delay in enumerate(delays, start=1):
        ceiling = min(60.0, 2.0 * 2 ** (n - 1))
        assert ceiling / 2 <= delay <= ceiling
    assert len({round(d, 6) for d in delays}) == len(delays)  # jittered, not lock-step
    assert policy.breaker_pause(2, rng) is None
    assert 4.0 <= (policy.breaker_pause(3, rng) or 0) <= 6.0


def test_cc_refusing_the_data_is_a_dead_letter_that_can_be_retried(
    capture: LeadCapture,
    db: Database,
    form: Form,
    clock: FakeClock,
    worker: DeliveryWorker,
    cc_client: Client,
    cc_account: AccountData,
) -> None:
    gone_list = cc_client.contact_lists.create_list(body={"name": "Spring launch"})["list_id"]
    capture.forms.update(form.id, {"list_ids": [gone_list]})
    form = capture.forms.get(form.id)
    submit(capture, form, clock, ["late@example.com"])
    removed = cc_account.lists.pop(gone_list)  # the list is gone at CC at delivery time
    assert worker.run_once() == 1
    [dead] = capture.outbox.deliveries(state="dead")
    assert dead.dead_reason is not None
    assert dead.dead_reason.startswith("CC answered HTTP 400")
    assert gone_list in dead.dead_reason
    assert cc_account.contact_by_email("late@example.com") is None

    # the cause is fixed (the list is back), then the dead letter is retried
    cc_account.lists[gone_list] = removed
    assert capture.outbox.retry_dead(form_id=form.id) == 1
    assert worker.run_once() == 1
    assert capture.outbox.counts()["delivered"] == 1


def test_needs_reauth_holds_signups_until_the_account_is_reconnected(
    capture: LeadCapture,
    db: Database,
    form: Form,
    clock: FakeClock,
    recording_worker: DeliveryWorker,
    recorder: RecordingTransport,
    cc_account: AccountData,
) -> None:
    set_account_status(db, form.account_id, "needs_reauth")
    submit(capture, form, clock, ["wait1@example.com", "wait2@example.com"])
    for _ in range(3):
        assert recording_worker.run_once() == 0
        clock.advance(600)
    assert recorder.calls == []
    assert capture.outbox.counts()["held"] == 2
    set_account_status(db, form.account_id, "active")  # the owner connected it again
    assert recording_worker.run_once() == 2
    assert recorder.successes() == {"wait1@example.com": 1, "wait2@example.com": 1}


def test_an_account_whose_token_is_refused_is_held_not_dead(
    capture: LeadCapture,
    form: Form,
    clock: FakeClock,
    cc_sandbox: Sandbox,
) -> None:
    def client_for(account_id: str) -> Client:
        return sandbox_client(cc_sandbox, "not-a-valid-token", max_retries=0)

    submit(capture, form, clock, ["tok@example.com"])
    w = DeliveryWorker(capture.outbox, client_for, worker_id="w")
    assert w.run_once() == 1
    assert w.stats == {"held": 1}
    [view] = capture.outbox.deliveries()
    assert view.state == "pending" and view.attempts == 0
    assert view.last_error is not None and "cannot authenticate" in view.last_error
    w.close()


def test_spam_is_never_sent_to_cc(
    capture: LeadCapture,
    form: Form,
    clock: FakeClock,
    recording_worker: DeliveryWorker,
    recorder: RecordingTransport,
) -> None:
    submit(capture, form, clock, ["bot@example.com"], website="http://spam.example")
    submit(capture, form, clock, ["person@example.com"])
    assert drain(recording_worker, clock) == 0
    assert recorder.successes() == {"person@example.com": 1}


def test_deliveries_go_through_the_clients_rate_limiter(
    capture: LeadCapture,
    form: Form,
    clock: FakeClock,
    cc_sandbox: Sandbox,
    cc_token: dict[str, Any],
    recorder: RecordingTransport,
) -> None:
    """With CC's limits on in the sandbox, 20 deliveries never see a 429: they are paced."""
    cc_sandbox.state.settings.rate_limits = True
    cc_sandbox.apply_settings()
    submit(capture, form, clock, [f"rl{i}@example.com" for i in range(20)])

    def client_for(account_id: str) -> Client:
        return sandbox_client(cc_sandbox, cc_token, transport=recorder, max_retries=0)

    w = DeliveryWorker(capture.outbox, client_for, policy=DeliveryPolicy(batch_size=50))
    started = cc_sandbox.clock.time()
    assert w.run_once() == 20
    elapsed = cc_sandbox.clock.time() - started  # the limiter waited on the sandbox's clock
    assert [s for _, s in recorder.calls] == [201] * 20
    assert elapsed >= 4.0  # 20 requests at 4/s take at least four more seconds after the first
    w.close()


def test_the_idle_loop_backs_off_and_wakes_at_once_on_new_work(
    capture: LeadCapture,
    form: Form,
    clock: FakeClock,
    worker: DeliveryWorker,
) -> None:
    waits: list[float] = []
    policy = DeliveryPolicy(idle_min=0.05, idle_max=1.0)

    class CountingWorker(DeliveryWorker):
        def idle_wait(self, idle: float) -> float:
            seconds = super().idle_wait(idle)
            waits.append(seconds)
            if len(waits) == 7:
                self.wake()  # as an accepted signup would
            if len(waits) >= 9:
                self.stop()
            return 0.0  # don't actually wait in the test

    w = CountingWorker(capture.outbox, worker.client_for, policy=policy)
    w.run()
    assert waits[:7] == [0.05, 0.1, 0.2, 0.4, 0.8, 1.0, 1.0]  # doubling, capped
    assert waits[7] == 0.05  # woken: back to the quickest pace


@pytest.mark.parametrize(
    ("status", "key", "kind"),
    [
        (400, "contacts.api.validation.error", "dead"),
        (404, "not_found", "dead"),
        (403, "forbidden", "dead"),
        (409, "conflict", "conflict"),
        (500, "server_error", "retry"),
        (503, "service_unavailable", "retry"),
        (401, "unauthorized", "held"),
        (429, "throttled", "retry"),
    ],
)
def test_failures_are_classified_by_what_cc_meant(status: int, key: str, kind: str) -> None:
    from ccbridge._errors import error_from_response

    request = httpx.Request("POST", "https://api.cc.email/v3/contacts/sign_up_form")
    body = json.dumps([{"error_key": key, "error_message": "x"}]).encode()
    response = httpx.Response(status, content=body, request=request)
    error = error_from_response(response, method="POST", path="/contacts/sign_up_form")
    assert classify(error).kind == kind
