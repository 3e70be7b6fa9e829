"""/healthz, /readyz (database and queue, 503 naming what failed) and /metrics."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa

from ccbridge.service import Service
from tests.web.support import client_for, connect_account, running_service, sign_in


def test_healthz_answers_while_the_process_lives(client: Any) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_checks_database_and_queue(client: Any) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["checks"] == {"database": "ok", "queue": "ok"}


def test_readyz_names_an_unreachable_database(service: Service, client: Any) -> None:
    # Point the engine at a port where nothing listens: a real connection failure.
    service.db.engine.dispose()
    service.db.engine = sa.create_engine("postgresql+psycopg://nobody@127.0.0.1:1/none")
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["failed"] == ["database"]
    assert body["checks"]["queue"] == "ok"
    assert body["checks"]["database"].startswith("unreachable")


def test_readyz_names_an_unreachable_queue(tmp_path: Path) -> None:
    with (
        running_service(tmp_path / "data", CCBRIDGE_REDIS_URL="redis://127.0.0.1:1/0") as svc,
        client_for(svc) as c,
    ):
        response = c.get("/readyz")
    assert response.status_code == 503
    assert response.json()["failed"] == ["queue"]
    assert response.json()["checks"]["database"] == "ok"


def test_metrics_count_requests_by_route_template(client: Any) -> None:
    client.get("/healthz")
    client.get("/accounts/11111111-1111-1111-1111-111111111111")  # a templated route
    text = client.get("/metrics").text
    assert 'ccbridge_http_requests_total{method="GET",route="/healthz",status="200"} 1.0' in text
    assert 'route="/accounts/{account_id}"' in text
    assert "ccbridge_http_request_duration_seconds_bucket" in text


def test_metrics_show_budget_accounts_refreshes_and_cc_calls(service: Service, client: Any) -> None:
    sign_in(client, service)
    account_id = connect_account(client, service)
    with service.client(account_id) as cc:
        cc.account.get_account_by_id()
        cc.contact_lists.get_lists()
    service.accounts.refresh(account_id)
    text = client.get("/metrics").text
    assert 'ccbridge_cc_calls_total{status="200"} 2.0' in text
    client_id = service.client_id
    assert f'ccbridge_api_budget_used_today{{client_id="{client_id}"}} 2.0' in text
    assert f'ccbridge_api_budget_daily_limit{{client_id="{client_id}"}} 10000.0' in text
    assert 'ccbridge_linked_accounts{status="active"} 1.0' in text
    assert 'ccbridge_token_refreshes_total{outcome="refreshed"} 1.0' in text


def test_lead_capture_counters_are_exposed(service: Service, client: Any) -> None:
    service.metrics.count_submission("accepted")
    service.metrics.count_submission("accepted")
    service.metrics.count_delivery("delivered")
    text = client.get("/metrics").text
    assert 'ccbridge_submissions_total{outcome="accepted"} 2.0' in text
    assert 'ccbridge_deliveries_total{outcome="delivered"} 1.0' in text
