"""The vault: encryption at rest, the key ring, rotation, and the errors it gives."""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from ccbridge.config import Settings
from ccbridge.oauth import (
    KeyRing,
    KeySource,
    LinkedAccounts,
    TokenVault,
    VaultCorruptError,
    VaultKeyError,
)
from ccbridge.oauth.keys import drop_key, key_report, reencrypt, rotate
from ccbridge.oauth.vault import read_key_file
from ccbridge.sandbox import Sandbox
from tests.oauth.conftest import new_key
from tests.oauth.support import link_via_web, stored_tokens


def _ciphertext(accounts: LinkedAccounts, account_id: str) -> tuple[str, str]:
    with accounts.db.read() as conn:
        row = conn.execute(
            sa.text(
                "SELECT token_ciphertext, key_fingerprint FROM ccbridge_linked_accounts WHERE id = :i"
            ),
            {"i": account_id},
        ).one()
    return str(row[0]), str(row[1])


def test_first_run_generates_a_0600_key_file_and_says_so(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = Settings.from_env({"CCBRIDGE_DATA_DIR": str(tmp_path / "data")})
    caplog.set_level(logging.WARNING, "ccbridge.oauth.vault")
    vault = TokenVault.from_source(KeySource.from_settings(settings))
    key_file = tmp_path / "data" / "vault.keys"
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    fp = vault.ring.primary.fingerprint
    assert f"generated a new vault key (fingerprint {fp})" in caplog.text
    assert vault.ring.primary.key.decode() not in caplog.text  # never the key itself
    # A second start reuses it, silently.
    caplog.clear()
    again = TokenVault.from_source(KeySource.from_settings(settings))
    assert again.ring.fingerprints == [fp] and "generated" not in caplog.text


def test_keys_from_the_environment_newest_first(tmp_path: Path) -> None:
    old, new = new_key(), new_key()
    settings = Settings.from_env(
        {
            "CCBRIDGE_DATA_DIR": str(tmp_path),
            "CCBRIDGE_VAULT_KEYS": f"{new.key.decode()},{old.key.decode()}",
        }
    )
    vault = TokenVault.from_source(KeySource.from_settings(settings))
    assert vault.ring.fingerprints == [new.fingerprint, old.fingerprint]
    assert not (tmp_path / "vault.keys").exists()  # nothing generated when keys are given
    old_only = TokenVault(KeyRing([old], "old"))
    ciphertext, fp = old_only.encrypt(b"secret")
    assert vault.decrypt(ciphertext, fp, what="x") == b"secret"  # any key decrypts
    assert vault.encrypt(b"x")[1] == new.fingerprint  # the newest encrypts


def test_a_malformed_key_names_where_it_came_from(tmp_path: Path) -> None:
    settings = Settings.from_env(
        {"CCBRIDGE_DATA_DIR": str(tmp_path), "CCBRIDGE_VAULT_KEYS": "not-a-key"}
    )
    with pytest.raises(VaultKeyError, match="key #1 of CCBRIDGE_VAULT_KEYS") as info:
        KeySource.from_settings(settings).load()
    assert "not-a-key" not in str(info.value)


def test_tokens_are_encrypted_and_name_their_key(
    accounts: LinkedAccounts, browser: httpx.Client
) -> None:
    account = link_via_web(accounts, browser)
    tokens = stored_tokens(accounts, account.id)
    ciphertext, fp = _ciphertext(accounts, account.id)
    assert fp == accounts.vault.ring.primary.fingerprint == account.key_fingerprint
    assert tokens.access_token not in ciphertext and tokens.refresh_token not in ciphertext


def test_corrupted_ciphertext_is_a_specific_error_naming_the_account(
    accounts: LinkedAccounts, browser: httpx.Client
) -> None:
    account = link_via_web(accounts, browser)
    ciphertext, _ = _ciphertext(accounts, account.id)
    damaged = ciphertext[:40] + ("A" if ciphertext[40] != "A" else "B") + ciphertext[41:]
    with accounts.db.write() as conn:
        conn.execute(
            sa.text("UPDATE ccbridge_linked_accounts SET token_ciphertext = :c"), {"c": damaged}
        )
    with pytest.raises(VaultCorruptError) as info:
        accounts.token_source(account.id).get_token()
    assert info.value.account_id == account.id and account.id in str(info.value)
    assert accounts.get(account.id).status == "active"  # a vault problem is not CC's verdict


def test_a_missing_or_wrong_key_is_a_key_error_naming_the_account(
    accounts: LinkedAccounts, browser: httpx.Client, cc_sandbox: Sandbox
) -> None:
    account = link_via_web(accounts, browser)
    stranger = LinkedAccounts(
        accounts.db,
        TokenVault(KeyRing([new_key()], "other ring")),
        accounts.oauth,
        clock=cc_sandbox.clock.time,
    )
    with pytest.raises(VaultKeyError) as info:
        stranger.token_source(account.id).get_token()
    assert info.value.account_id == account.id
    assert account.key_fingerprint in str(info.value) and "restore that key" in str(info.value)
    stranger.close()


def test_rotation_reencrypts_every_row_and_old_rows_stay_readable(
    accounts: LinkedAccounts, browser: httpx.Client, tmp_path: Path, cc_sandbox: Sandbox
) -> None:
    source = KeySource(key_file=tmp_path / "vault.keys")
    vault = TokenVault.from_source(source)
    service = LinkedAccounts(
        accounts.db,
        vault,
        accounts.oauth,
        transport=accounts._transport,
        clock=cc_sandbox.clock.time,
        sleep=cc_sandbox.advance_clock,
    )
    account = link_via_web(service, browser)
    tokens = stored_tokens(service, account.id)
    old_fp = vault.ring.primary.fingerprint

    # Step 1 only (a new key first, no re-encryption yet): old rows still decrypt.
    from ccbridge.oauth.vault import _parse_key, generate_key, write_key_file

    newer = _parse_key(generate_key(), "k")
    write_key_file(source.key_file, [newer, *vault.ring.keys])  # type: ignore[arg-type]
    reloaded = TokenVault.from_source(source, create=False)
    assert (
        reloaded.decrypt_tokens(*_ciphertext(service, account.id), account_id=account.id) == tokens
    )

    # The whole rotation: another new key, and every row moves to it, reporting progress.
    seen: list[tuple[int, int]] = []
    new_fp, count, rotated = rotate(
        service.db, source, progress=lambda done, total: seen.append((done, total))
    )
    assert count == 1
    assert seen[0] == (0, 1) and seen[-1] == (1, 1)
    assert read_key_file(source.key_file)[0].fingerprint == new_fp  # type: ignore[arg-type]
    assert _ciphertext(service, account.id)[1] == new_fp
    assert (
        rotated.decrypt_tokens(*_ciphertext(service, account.id), account_id=account.id) == tokens
    )
    report = {k.fingerprint: k for k in key_report(service.db, rotated)}
    assert report[new_fp].rows == 1 and report[new_fp].primary and report[old_fp].rows == 0
    events = [e for e in service.audit_log(account.id) if e.event == "key_rotated"]
    assert events[-1].detail == {"from_key": old_fp, "to_key": new_fp}
    # A process started before the rotation (old ring) reloads the key file and keeps working.
    assert (
        service.vault.decrypt_tokens(*_ciphertext(service, account.id), account_id=account.id)
        == tokens
    )
    # The token version did not change: a rotation is not a refresh.
    assert service.get(account.id).token_version == account.token_version
    service.close()


def test_an_old_key_can_be_dropped_only_when_no_row_uses_it(
    accounts: LinkedAccounts, browser: httpx.Client, tmp_path: Path, cc_sandbox: Sandbox
) -> None:
    from ccbridge.oauth.vault import _parse_key, generate_key, write_key_file

    source = KeySource(key_file=tmp_path / "vault.keys")
    vault = TokenVault.from_source(source)
    old_fp = vault.ring.primary.fingerprint
    service = LinkedAccounts(
        accounts.db,
        vault,
        accounts.oauth,
        transport=accounts._transport,
        clock=cc_sandbox.clock.time,
        sleep=cc_sandbox.advance_clock,
    )
    link_via_web(service, browser)
    write_key_file(source.key_file, [_parse_key(generate_key(), "k"), *vault.ring.keys])  # type: ignore[arg-type]
    with pytest.raises(VaultKeyError, match="still encrypts 1 row"):
        drop_key(service.db, source, old_fp)
    assert reencrypt(service.db, TokenVault.from_source(source, create=False)) == 1
    drop_key(service.db, source, old_fp)
    assert old_fp not in [k.fingerprint for k in read_key_file(source.key_file)]  # type: ignore[arg-type]
    with pytest.raises(VaultKeyError, match="newest key"):
        drop_key(service.db, source, read_key_file(source.key_file)[0].fingerprint)  # type: ignore[arg-type]
    service.close()


def test_rotate_refuses_keys_from_the_environment(db: object) -> None:
    source = KeySource(env_keys=(new_key().key.decode(),))
    with pytest.raises(VaultKeyError, match="CCBRIDGE_VAULT_KEYS"):
        rotate(db, source)  # type: ignore[arg-type]
