"""``ccbridge forms``: create, list, show, disable and retry-dead, through the real CLI."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from ccbridge.cli.main import app
from ccbridge.leads.outbox import SignupOutbox
from ccbridge.store import Database, upgrade
from tests.leads.support import add_linked_account

LIST_ID = "5f0e7a2c-1111-4a4a-9b9b-0123456789ab"


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {"CCBRIDGE_DATA_DIR": str(tmp_path / "data")}


@pytest.fixture
def db(env: dict[str, str]) -> Any:
    database = Database(f"sqlite:///{env['CCBRIDGE_DATA_DIR']}/ccbridge.db")
    upgrade(database)
    yield database
    database.dispose()


def run(env: dict[str, str], *args: str) -> Any:
    return CliRunner().invoke(app, ["forms", *args], env=env)


def create(env: dict[str, str], account: str, *extra: str) -> Any:
    return run(
        env,
        "create",
        "--account",
        account,
        "--name",
        "Spring",
        "--list",
        LIST_ID,
        "--consent-text",
        "Send me news.",
        "--field",
        "first_name!",
        "--field",
        "book:0b6c1f7e-2222-4b4b-8c8c-0123456789ab:favourite_book",
        "--origin",
        "https://Shop.Example:443",
        *extra,
    )


def test_create_list_show_disable(env: dict[str, str], db: Database) -> None:
    account = add_linked_account(db)
    created = create(env, account)
    assert created.exit_code == 0, created.output
    form = json.loads(created.output)
    assert form["status"] == "active" and form["consent_version"] == 1
    assert [f["name"] for f in form["fields"]] == ["email_address", "first_name", "book"]
    assert form["fields"][1]["required"] is True
    assert form["fields"][2] == {
        "name": "book",
        "label": "Book",
        "required": False,
        "custom_field_id": "0b6c1f7e-2222-4b4b-8c8c-0123456789ab",
        "cc_name": "favourite_book",
    }
    assert form["allowed_origins"] == ["https://shop.example"]

    listed = run(env, "list", "--json")
    assert listed.exit_code == 0
    assert [f["id"] for f in json.loads(listed.output)] == [form["id"]]
    table = run(env, "list")
    assert form["id"] in table.output and "Spring" in table.output

    shown = run(env, "show", form["id"])
    assert json.loads(shown.output)["deliveries"]["pending"] == 0

    disabled = run(env, "disable", form["id"])
    assert disabled.exit_code == 0
    assert json.loads(run(env, "show", form["id"]).output)["status"] == "disabled"


def test_mistakes_are_one_line_errors(env: dict[str, str], db: Database) -> None:
    unknown_account = create(env, "no-such-account")
    assert unknown_account.exit_code == 1
    assert "account_id: no linked account has id 'no-such-account'" in unknown_account.output
    account = add_linked_account(db)
    bad_field = run(
        env,
        "create",
        "--account",
        account,
        "--name",
        "x",
        "--list",
        LIST_ID,
        "--consent-text",
        "c",
        "--field",
        "shoe_size",
    )
    assert bad_field.exit_code == 1
    assert "fields[0].custom_field_id" in bad_field.output
    assert "Traceback" not in bad_field.output
    missing = run(env, "show", "nope")
    assert missing.exit_code == 1 and "no form has id 'nope'" in missing.output
    assert run(env, "retry-dead").exit_code == 2


def test_retry_dead_from_the_cli(env: dict[str, str], db: Database) -> None:
    from ccbridge.leads import LeadCapture
    from ccbridge.leads.capture import RequestInfo
    from tests.leads.conftest import SECRET, signup
    from tests.leads.support import FakeClock

    account = add_linked_account(db)
    form_id = json.loads(create(env, account).output)["id"]
    clock = FakeClock()
    capture = LeadCapture(db, secret=SECRET, clock=clock)
    form = capture.forms.get(form_id)
    token = capture.tokens.issue(form_id)
    clock.advance(5)
    for email in ("x1@example.com", "x2@example.com"):
        capture.accept_sync(form, signup(token, email=email), RequestInfo(None, None))
    outbox = SignupOutbox(db, clock=clock)
    for claim in outbox.claim("w", limit=10):
        outbox.bury(claim, reason="CC answered HTTP 400")
    [one, _] = outbox.deliveries(state="dead")

    by_id = run(env, "retry-dead", "--id", one.id)
    assert by_id.exit_code == 0 and "1 dead deliveries queued again" in by_id.output
    rest = run(env, "retry-dead", "--form", form_id)
    assert "1 dead deliveries queued again" in rest.output
    assert "no dead deliveries matched" in run(env, "retry-dead", "--all").output
    assert outbox.counts()["dead"] == 0 and outbox.counts()["pending"] == 2
