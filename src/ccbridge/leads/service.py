"""Lead capture inside the ccbridge service: routes, dashboard pages and delivery jobs.

``ccbridge.service`` imports this module and calls ``install(service)`` (its
``EXTENSIONS``). That adds:

- the public form endpoints (``/forms/...``), with no authentication;
- the admin API under ``/api/forms``, ``/api/deliveries``, ``/api/submissions`` and
  ``/api/consent`` (``ccbridge.leads.api``): the service's own ``ApiOperation`` values, so
  its admin API tokens, JSON errors and OpenAPI document cover them;
- the dashboard's *Signup forms* section (``ccbridge.leads.dashboard``) behind the admin
  login: ``/forms``, ``/forms/admin/new``, ``/forms/admin/{id}`` and its actions;
- two jobs on the service's queue: ``leads.deliver`` (deliver what is due, in batches,
  until nothing is due or the worker is stopping) and ``leads.sweep`` (a periodic nudge
  every few seconds, so retries and released holds are picked up without anyone
  enqueueing them). An accepted signup also nudges ``leads.deliver`` (at most once a
  second per process), so a quiet outbox is not polled hot and a new signup does not wait
  for the sweep.

Render tokens are signed with ``CCBRIDGE_FORM_SECRET`` when set, else with keys derived
from the vault's key ring — a secret every process of a deployment already shares.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import socket
import threading
import time
from typing import TYPE_CHECKING, Any

from ccbridge._client import Client
from ccbridge.leads.capture import LeadCapture
from ccbridge.leads.delivery import DeliveryPolicy, DeliveryWorker
from ccbridge.leads.web import public_routes

if TYPE_CHECKING:
    from ccbridge.service import Service

log = logging.getLogger("ccbridge.leads.service")

FORM_SECRET_ENV = "CCBRIDGE_FORM_SECRET"
DELIVER_JOB = "leads.deliver"
SWEEP_JOB = "leads.sweep"
SWEEP_SECONDS = 5
DELIVER_BUDGET_SECONDS = 60.0
"""One deliver job works at most this long, then queues a successor (fair to other jobs)."""


def form_secrets(service: Service) -> list[bytes]:
    """Secrets for render tokens: the configured one, else one per vault key."""
    configured = os.environ.get(FORM_SECRET_ENV, "").strip()
    if configured:
        return [configured.encode()]
    ring = service.accounts.vault.ring
    return [
        hmac.new(key.key, b"ccbridge signup form tokens", hashlib.sha256).digest()
        for key in ring.keys
    ]


class LeadsExtension:
    """The pieces ``install`` wires into the service, kept for tests and the CLI."""

    def __init__(self, service: Service, *, policy: DeliveryPolicy | None = None) -> None:
        self.service = service
        self.policy = policy or DeliveryPolicy()
        self.capture = LeadCapture(service.db, secret=form_secrets(service), on_accepted=self.nudge)
        self._last_nudge = 0.0
        self._nudge_lock = threading.Lock()

    def client_for(self, account_id: str) -> Client:
        # One retry inside the client; the outbox does the patient retrying.
        return self.service.client(account_id, max_retries=1, timeout=20.0)

    def nudge(self) -> None:
        """Queue a delivery run soon (coalesced to one per second per process)."""
        now = time.monotonic()
        with self._nudge_lock:
            if now - self._last_nudge < 1.0:
                return
            self._last_nudge = now
        try:
            self.service.jobs.enqueue(DELIVER_JOB)
        except Exception as exc:  # the sweep will pick the row up anyway
            log.warning("could not queue a delivery run: %s", exc)

    def deliver(self) -> dict[str, Any]:
        """Deliver due rows until none is due, the worker stops, or the budget is spent."""
        worker = DeliveryWorker(
            self.capture.outbox,
            self.client_for,
            worker_id=f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}",
            policy=self.policy,
        )
        jobs = self.service.jobs
        started = time.monotonic()
        claimed = 0
        try:
            while not jobs.should_stop():
                batch = worker.run_once()
                claimed += batch
                if batch == 0:
                    break
                if time.monotonic() - started > DELIVER_BUDGET_SECONDS:
                    jobs.enqueue(DELIVER_JOB)
                    break
        finally:
            worker.close()
        return {"claimed": claimed, **worker.stats}

    def sweep(self) -> None:
        if self.capture.outbox.next_due_at() is not None:
            self.service.jobs.enqueue(DELIVER_JOB)


def install(service: Service) -> LeadsExtension:
    """Add lead capture to the service (called by ``ccbridge.service.build_service``)."""
    from ccbridge.leads.api import operations
    from ccbridge.leads.dashboard import FormsDashboard
    from ccbridge.leads.web import TEMPLATES
    from ccbridge.service import SANDBOX_BANNER
    from ccbridge.web.extension import NavItem, WebExtension

    sandboxed = service.in_sandbox_mode
    ext = LeadsExtension(service)
    service.jobs.register(DELIVER_JOB, ext.deliver)
    service.jobs.register_periodic(SWEEP_JOB, SWEEP_SECONDS, ext.sweep)
    service.add_web_extension(
        WebExtension(
            name="leads",
            # Dashboard pages first: ``/forms/admin/...`` must not be read as a public form id.
            routes=[
                *FormsDashboard(ext.capture).routes(),
                *public_routes(ext.capture, banner=SANDBOX_BANNER if sandboxed else None),
            ],
            nav=[NavItem("Signup forms", "/forms", order=30)],
            api=operations(ext.capture),
            templates=TEMPLATES,
        )
    )
    service.leads = ext  # type: ignore[attr-defined]
    return ext
