"""Vault key management: list, rotate, re-encrypt, drop.

Rotation is two steps that can be apart in time: put a new key first in the ring (every
process must have it before rows depend on it), then re-encrypt every row with it. With a
key file, ``rotate`` does both (processes that started earlier reload the file when they
meet a fingerprint they do not know). With ``CCBRIDGE_VAULT_KEYS`` the operator changes the
environment and runs ``reencrypt``. An old key can be dropped only when no row uses it.

Re-encrypting locks each row like a refresh does, so it can run while the application is
serving; it does not count as a token change (``token_version`` stays).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select, update

from ccbridge.oauth import records
from ccbridge.oauth.errors import VaultKeyError
from ccbridge.oauth.vault import KeySource, TokenVault, _parse_key, generate_key, write_key_file
from ccbridge.store.database import Database
from ccbridge.store.schema import linked_accounts, oauth_states


@dataclass(frozen=True)
class KeyInfo:
    fingerprint: str
    primary: bool
    in_ring: bool
    rows: int


def key_report(db: Database, vault: TokenVault) -> list[KeyInfo]:
    """Every key in the ring (newest first), then fingerprints rows use that the ring lacks."""
    with db.read() as conn:
        usage = records.key_usage(conn)
    ring = vault.ring
    infos = [KeyInfo(fp, i == 0, True, usage.get(fp, 0)) for i, fp in enumerate(ring.fingerprints)]
    for fp, count in sorted(usage.items(), key=lambda kv: str(kv[0])):
        if fp is not None and ring.get(fp) is None:
            infos.append(KeyInfo(fp, False, False, count))
    return infos


Progress = Callable[[int, int], None]
"""Called with (rows done, rows to do) as re-encryption goes, for a progress bar."""


def reencrypt(
    db: Database,
    vault: TokenVault,
    *,
    clock: Callable[[], float] | None = None,
    progress: Progress | None = None,
) -> int:
    """Re-encrypt every row not yet under the newest key; returns how many changed."""
    primary = vault.ring.primary.fingerprint
    now = datetime.fromtimestamp(clock(), UTC) if clock else datetime.now(UTC)
    changed = 0
    with db.read() as conn:
        account_ids = [
            r.id
            for r in conn.execute(
                select(linked_accounts.c.id, linked_accounts.c.key_fingerprint).where(
                    linked_accounts.c.token_ciphertext.is_not(None)
                )
            )
            if r.key_fingerprint != primary
        ]
        state_keys = [
            r.state_hash
            for r in conn.execute(
                select(oauth_states.c.state_hash, oauth_states.c.key_fingerprint).where(
                    oauth_states.c.verifier_ciphertext.is_not(None)
                )
            )
            if r.key_fingerprint != primary
        ]
    total = len(account_ids) + len(state_keys)
    done = 0
    if progress:
        progress(done, total)
    for account_id in account_ids:
        done += 1
        if progress:
            progress(done, total)
        with db.write() as conn:
            row = db.lock_row(conn, linked_accounts, linked_accounts.c.id == account_id)
            if row is None or row.token_ciphertext is None or row.key_fingerprint == primary:
                continue
            plain = vault.decrypt(
                row.token_ciphertext, row.key_fingerprint, what=f"linked account {row.id}"
            )
            ciphertext, fp = vault.encrypt(plain)
            records.update_account(
                conn, row.id, {"token_ciphertext": ciphertext, "key_fingerprint": fp}
            )
            records.add_event(
                conn,
                row.id,
                records.KEY_ROTATED,
                now,
                {"from_key": row.key_fingerprint, "to_key": fp},
            )
            changed += 1
    for state_hash in state_keys:
        done += 1
        if progress:
            progress(done, total)
        with db.write() as conn:
            row = db.lock_row(conn, oauth_states, oauth_states.c.state_hash == state_hash)
            if row is None or row.verifier_ciphertext is None or row.key_fingerprint == primary:
                continue
            plain = vault.decrypt(
                row.verifier_ciphertext, row.key_fingerprint, what="a pending authorization"
            )
            ciphertext, fp = vault.encrypt(plain)
            conn.execute(
                update(oauth_states)
                .where(oauth_states.c.state_hash == state_hash)
                .values(verifier_ciphertext=ciphertext, key_fingerprint=fp)
            )
            changed += 1
    return changed


def rotate(
    db: Database,
    source: KeySource,
    *,
    clock: Callable[[], float] | None = None,
    progress: Progress | None = None,
) -> tuple[str, int, TokenVault]:
    """Add a new newest key to the key file and re-encrypt every row with it.

    Returns (new fingerprint, rows re-encrypted, the vault with the new ring).
    """
    if source.from_environment or source.key_file is None:
        raise VaultKeyError(
            "the vault keys come from CCBRIDGE_VAULT_KEYS, which ccbridge cannot change: put a "
            "new key (from `ccbridge keys generate`) first in that variable in every process, "
            "then run `ccbridge keys reencrypt`"
        )
    ring = source.load(create=True)
    new_key = _parse_key(generate_key(), "a generated key")
    write_key_file(source.key_file, [new_key, *ring.keys])
    vault = TokenVault.from_source(source, create=False)
    count = reencrypt(db, vault, clock=clock, progress=progress)
    return new_key.fingerprint, count, vault


def drop_key(db: Database, source: KeySource, fingerprint: str) -> None:
    """Remove an old key from the key file; refused while any row still uses it."""
    if source.from_environment or source.key_file is None:
        raise VaultKeyError(
            "the vault keys come from CCBRIDGE_VAULT_KEYS: remove the key from that variable"
        )
    ring = source.load(create=False)
    key = ring.get(fingerprint)
    if key is None:
        raise VaultKeyError(f"no key with fingerprint {fingerprint} is in {ring.source}")
    if key is ring.primary:
        raise VaultKeyError(
            f"key {fingerprint} is the newest key, which encrypts new tokens; rotate first"
        )
    with db.read() as conn:
        used = records.key_usage(conn).get(fingerprint, 0)
    if used:
        raise VaultKeyError(
            f"key {fingerprint} still encrypts {used} row(s); run `ccbridge keys reencrypt` first"
        )
    write_key_file(source.key_file, [k for k in ring.keys if k.fingerprint != fingerprint])
