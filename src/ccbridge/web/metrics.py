"""Prometheus metrics of the service, one registry per service (no module globals).

Counters for what happens in this process (HTTP requests, calls to CC by status, jobs,
signup submissions and deliveries) and, computed when scraped, figures that belong to the
whole deployment and so are read from shared state instead of counted here: token
refreshes (from the audit log), linked accounts by status, and today's API budget.

Lead capture counts through the two small methods ``count_submission`` and
``count_delivery``:

    service.metrics.count_submission("accepted")      # or "spam", "rejected", ...
    service.metrics.count_delivery("delivered")       # or "retry", "dead_letter", ...

In scaled-out mode each ``ccbridge worker`` process counts its own deliveries; set
``CCBRIDGE_WORKER_METRICS_PORT`` so Prometheus can scrape it too.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector

from ccbridge._logging import ResponseEvent, ResponseHook

log = logging.getLogger("ccbridge.web")

MetricSource = Callable[[], Iterable[Metric]]


class _Computed(Collector):
    """Metrics computed at scrape time from shared state; a failing source is skipped."""

    def __init__(self) -> None:
        self.sources: list[MetricSource] = []

    def collect(self) -> Iterator[Metric]:
        for source in self.sources:
            try:
                yield from source()
            except Exception as exc:  # a metric must never break the scrape
                log.warning("a metrics source failed: %s", exc)


class ServiceMetrics:
    """The service's metrics; ``render()`` is what ``/metrics`` serves."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.http_requests = Counter(
            "ccbridge_http_requests",
            "HTTP requests served, by route template and status.",
            ["method", "route", "status"],
            registry=r,
        )
        self.http_duration = Histogram(
            "ccbridge_http_request_duration_seconds",
            "Time to answer an HTTP request, by route template.",
            ["method", "route"],
            registry=r,
        )
        self.cc_calls = Counter(
            "ccbridge_cc_calls",
            "Requests sent to Constant Contact's V3 API by this process, by HTTP status "
            "('error' when no response came back).",
            ["status"],
            registry=r,
        )
        self.submissions = Counter(
            "ccbridge_submissions",
            "Signup form submissions received, by outcome.",
            ["outcome"],
            registry=r,
        )
        self.deliveries = Counter(
            "ccbridge_deliveries",
            "Signup deliveries attempted to Constant Contact, by outcome.",
            ["outcome"],
            registry=r,
        )
        self.jobs = Counter(
            "ccbridge_jobs",
            "Background jobs run by this process, by job and outcome.",
            ["job", "outcome"],
            registry=r,
        )
        self._computed = _Computed()
        r.register(self._computed)

    # -- what other parts call ------------------------------------------------------------
    def count_submission(self, outcome: str = "accepted") -> None:
        self.submissions.labels(outcome=outcome).inc()

    def count_delivery(self, outcome: str = "delivered") -> None:
        self.deliveries.labels(outcome=outcome).inc()

    def observe_job(self, name: str, outcome: str, _seconds: float) -> None:
        self.jobs.labels(job=name, outcome=outcome).inc()

    def cc_response_hook(self) -> ResponseHook:
        """A client ``on_response`` hook counting every attempt's status."""

        def hook(event: ResponseEvent) -> None:
            self.cc_calls.labels(status=str(event.status) if event.status else "error").inc()

        return hook

    def add_source(self, source: MetricSource) -> None:
        """Add metrics computed at scrape time (gauges read from the database, Redis...)."""
        self._computed.sources.append(source)

    def render(self) -> tuple[bytes, str]:
        return generate_latest(self.registry), CONTENT_TYPE_LATEST


def counter_family(name: str, documentation: str, label: str, values: dict[str, float]) -> Metric:
    family = CounterMetricFamily(name, documentation, labels=[label])
    for key, value in sorted(values.items()):
        family.add_metric([key], value)
    return family


def gauge_family(
    name: str, documentation: str, labels: list[str], values: dict[tuple[str, ...], float]
) -> Metric:
    family = GaugeMetricFamily(name, documentation, labels=labels)
    for key, value in sorted(values.items()):
        family.add_metric(list(key), value)
    return family
