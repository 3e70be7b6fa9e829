"""``--data FILE``: the sandbox's state survives a restart; a bad file is refused clearly."""

from __future__ import annotations

import pickle
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from ccbridge.sandbox import Sandbox, SandboxTransport, activities
from ccbridge.sandbox.persistence import FORMAT_VERSION, SandboxStore, SandboxStoreError
from ccbridge.sandbox.state import Contact, EmailAddress, new_id

PROBE = "/v3/partner/accounts"  # answers 501 once the token is accepted


def _raw(sandbox: Sandbox) -> httpx.Client:
    return httpx.Client(base_url=sandbox.base_url, transport=SandboxTransport(sandbox))


def _bearer(sandbox: Sandbox, token: str) -> httpx.Client:
    return httpx.Client(
        base_url=sandbox.base_url,
        transport=SandboxTransport(sandbox),
        headers={"Authorization": f"Bearer {token}"},
    )


def _populate(sandbox: Sandbox) -> dict[str, Any]:
    """An app, an account with one extra contact, a token, and an advanced clock."""
    with _raw(sandbox) as raw:
        app = raw.post("/_sandbox/apps", json={"name": "Kept", "redirect_uris": []}).json()
        account = raw.post("/_sandbox/accounts", json={"email": "kept@example.com"}).json()
        token = raw.post(
            "/_sandbox/grants",
            json={"client_id": app["client_id"], "account_id": account["account_id"]},
        ).json()
        raw.post("/_sandbox/clock", json={"advance_seconds": 3600})
    data = sandbox.state.accounts[account["account_id"]]
    now = sandbox.clock.now()
    contact = Contact(
        contact_id=new_id(),
        sequence_id=data.take_sequence(),
        created_at=now,
        updated_at=now,
        create_source="Account",
        email_address=EmailAddress(
            address="kept.contact@example.com",
            permission_to_send="implicit",
            created_at=now,
            updated_at=now,
        ),
        first_name="Kept",
    )
    data.add_contact(contact)
    return {"app": app, "account": account, "token": token, "contact_id": contact.contact_id}


@pytest.fixture
def data_file(tmp_path: Path) -> Path:
    return tmp_path / "sandbox.db"


@pytest.fixture
def store(data_file: Path) -> Iterator[SandboxStore]:
    store = SandboxStore(data_file)
    yield store
    store.stop()


def test_new_file_gives_a_fresh_sandbox(store: SandboxStore) -> None:
    assert store.load() is None
    sandbox = store.open_sandbox(rate_limits=False)
    assert sandbox.state.accounts == {} and sandbox.state.apps == {}
    assert sandbox.state.settings.rate_limits is False


def test_roundtrip_keeps_accounts_contacts_tokens_and_clock(
    store: SandboxStore, data_file: Path
) -> None:
    first = store.open_sandbox(rate_limits=False)
    kept = _populate(first)
    offset = first.clock.offset_seconds
    store.save(first)

    second = SandboxStore(data_file).open_sandbox(rate_limits=False)
    account_id = kept["account"]["account_id"]
    assert kept["app"]["client_id"] in second.state.apps
    assert second.state.apps[kept["app"]["client_id"]].client_secret == kept["app"]["client_secret"]
    data = second.state.accounts[account_id]
    assert data.account.login_email == "kept@example.com"
    assert data.contacts[kept["contact_id"]].first_name == "Kept"
    assert data.contact_by_email("KEPT.contact@example.com") is not None  # the index survives
    assert second.clock.offset_seconds == offset >= 3600
    with _bearer(second, kept["token"]["access_token"]) as client:
        assert client.get(PROBE).status_code == 501  # the old token is still accepted
    refreshed = _raw(second).post(
        "/oauth2/default/v1/token",
        data={"grant_type": "refresh_token", "refresh_token": kept["token"]["refresh_token"]},
        auth=(kept["app"]["client_id"], kept["app"]["client_secret"]),
    )
    assert refreshed.status_code == 200, refreshed.text


def test_tokens_need_the_stored_signing_key(store: SandboxStore) -> None:
    first = store.open_sandbox(rate_limits=False)
    kept = _populate(first)
    store.save(first)
    state = store.load()
    assert state is not None
    other_key = _other_key_pem()
    stranger = Sandbox(rate_limits=False, state=state, signing_key_pem=other_key)
    with _bearer(stranger, kept["token"]["access_token"]) as client:
        assert client.get(PROBE).status_code == 401
    assert store.signing_key() == first.issuer.key_pem  # the key is stored once and reused


def _other_key_pem() -> bytes:
    from joserfc.jwk import RSAKey

    pem: bytes = RSAKey.generate_key(2048, private=True).as_pem(private=True)
    return pem


def test_rate_limit_choice_is_per_run_not_per_file(store: SandboxStore, data_file: Path) -> None:
    store.save(store.open_sandbox(rate_limits=False))
    assert SandboxStore(data_file).open_sandbox(rate_limits=True).state.settings.rate_limits


def test_autosave_round_saves_only_after_a_change(store: SandboxStore, data_file: Path) -> None:
    sandbox = store.open_sandbox(rate_limits=False)
    sandbox.dirty = False
    assert store.save_if_dirty(sandbox) is False
    assert store.load() is None  # nothing written for an unchanged sandbox
    with _raw(sandbox) as raw:
        raw.get("/_sandbox/clock")
        assert sandbox.dirty is False  # reading changes nothing
        raw.post("/_sandbox/accounts", json={"email": "later@example.com"})
    assert sandbox.dirty is True
    assert store.save_if_dirty(sandbox) is True
    assert sandbox.dirty is False
    saved = SandboxStore(data_file).load()
    assert saved is not None and saved.account_by_login("later@example.com") is not None


def test_a_failed_save_keeps_the_sandbox_dirty(
    store: SandboxStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    sandbox = store.open_sandbox(rate_limits=False)
    sandbox.dirty = True

    def broken() -> Any:
        raise SandboxStoreError("disk full")

    monkeypatch.setattr(store, "_db", broken)
    with pytest.raises(SandboxStoreError):
        store.save_if_dirty(sandbox)
    assert sandbox.dirty is True  # the next autosave round tries again


def test_progressing_activities_mark_the_sandbox_dirty_even_on_get(store: SandboxStore) -> None:
    sandbox = store.open_sandbox(rate_limits=False)
    kept = _populate(sandbox)
    data = sandbox.state.accounts[kept["account"]["account_id"]]
    activity = activities.start_activity(
        data, sandbox.state.settings, sandbox.clock.now(), "sandbox_test_probe", 10
    )
    sandbox.dirty = False
    sandbox.advance_clock(60)
    sandbox.dirty = False
    with _bearer(sandbox, kept["token"]["access_token"]) as client:
        client.get(PROBE)
    assert activity.state == "completed"
    assert sandbox.dirty is True


def test_autosave_thread_starts_and_stops(store: SandboxStore) -> None:
    sandbox = store.open_sandbox(rate_limits=False)
    store.start_autosave(sandbox, interval=3600)
    assert store._thread is not None and store._thread.is_alive()
    thread = store._thread
    store.stop()
    assert not thread.is_alive()


# -- files that cannot be used -------------------------------------------------------------
def test_a_file_that_is_not_sqlite_is_refused(data_file: Path) -> None:
    data_file.write_bytes(b"this is not a database, just some text" * 100)
    with pytest.raises(SandboxStoreError) as caught:
        SandboxStore(data_file)
    assert str(data_file) in str(caught.value)
    assert "not a usable sandbox data file" in str(caught.value)


def test_a_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SandboxStoreError) as caught:
        SandboxStore(tmp_path)
    assert str(tmp_path) in str(caught.value)


def _write_row(path: Path, format_version: int, blob: bytes) -> None:
    SandboxStore(path)  # creates the tables
    with sqlite3.connect(path) as db:
        db.execute(
            "INSERT INTO sandbox_state (id, format, state) VALUES (1, ?, ?)",
            (format_version, blob),
        )
    db.close()


def test_a_corrupt_state_blob_is_refused_with_a_clear_message(data_file: Path) -> None:
    _write_row(data_file, FORMAT_VERSION, b"\x80\x05garbage that is not a pickle")
    with pytest.raises(SandboxStoreError) as caught:
        SandboxStore(data_file).load()
    message = str(caught.value)
    assert str(data_file) in message
    assert "cannot be read" in message and "Start with a new file" in message


def test_another_format_version_is_refused(data_file: Path) -> None:
    _write_row(data_file, FORMAT_VERSION + 1, pickle.dumps({}))
    with pytest.raises(SandboxStoreError) as caught:
        SandboxStore(data_file).load()
    assert f"format {FORMAT_VERSION + 1}" in str(caught.value)


def test_a_pickle_of_something_else_is_refused(data_file: Path) -> None:
    _write_row(data_file, FORMAT_VERSION, pickle.dumps({"not": "state"}))
    with pytest.raises(SandboxStoreError) as caught:
        SandboxStore(data_file).load()
    assert "not sandbox state" in str(caught.value)
