"""No plaintext token in a dump of the database, nor in the captured logs.

Everything that handles tokens runs here — linking, refreshing (rotating), a refused
refresh, a connect flow left pending, disconnecting — and then the actual token strings
seen along the way are searched for in the dump and in every log record.
"""

from __future__ import annotations

import logging

import httpx
import pytest

from ccbridge.oauth import LinkedAccounts, TokenRefreshRetriableError
from ccbridge.sandbox import Sandbox
from tests.oauth.support import dump_database, link_via_web, stored_tokens

DAY = 86_400


def test_database_dump_and_logs_hold_no_plaintext_token(
    accounts: LinkedAccounts,
    browser: httpx.Client,
    cc_sandbox: Sandbox,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    secrets: set[str] = set()
    account = link_via_web(accounts, browser)
    first = stored_tokens(accounts, account.id)
    secrets |= {first.access_token, first.refresh_token or ""}
    cc_sandbox.advance_clock(DAY + 1)
    accounts.token_source(account.id).get_token()
    second = stored_tokens(accounts, account.id)
    secrets |= {second.access_token, second.refresh_token or ""}
    assert second.refresh_token != first.refresh_token  # rotated: both are in play
    rule = cc_sandbox.faults.add({"match": {"path": "/token$"}, "action": {"status": 503}})
    cc_sandbox.advance_clock(DAY + 1)
    with pytest.raises(TokenRefreshRetriableError):
        accounts.token_source(account.id).get_token()
    cc_sandbox.faults.remove(rule.rule_id)
    pending = accounts.start_authorization(
        session_id="s", app_reference="t2", scopes=["contact_data"]
    )
    secrets.add(pending.state)
    dump = dump_database(accounts.db)
    assert "ccbridge_linked_accounts" in dump and account.id in dump  # the dump is real
    accounts.disconnect(account.id)
    dump += dump_database(accounts.db)
    secrets.discard("")
    logs = (
        "\n".join(f"{r.getMessage()} {r.args!r} {r.__dict__!r}" for r in caplog.records)
        + caplog.text
    )
    assert caplog.records, "the flow logs something"
    for secret in secrets:
        assert secret not in dump
        assert secret not in logs
    # And the JWTs' recognisable prefix does not appear either.
    assert "eyJ" not in dump
