"""Tokens encrypted at rest, with a key ring that can be rotated without downtime.

A database dump, a backup or a read-only SQL injection must not hand out refresh tokens:
each linked account's tokens are stored as one Fernet ciphertext (AES-128-CBC + HMAC), and
the keys live outside the database — in ``CCBRIDGE_VAULT_KEYS`` (comma-separated, newest
first) or in a key file (``CCBRIDGE_VAULT_KEY_FILE``, default ``<data dir>/vault.keys``,
one key per line, newest first, mode 0600).

The newest key encrypts; every key in the ring decrypts (the idea of ``MultiFernet``). Each
row stores the fingerprint of the key that wrote it, so ``ccbridge keys list`` can show
which keys are still needed, a key can be dropped only when no row uses it, and a failure
says precisely what is wrong: ``VaultKeyError`` when the row's key is not in the ring,
``VaultCorruptError`` when the right key does not decrypt it (damaged data). Both name the
account, never the token.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import stat
import tempfile
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from ccbridge.config import Settings
from ccbridge.oauth.errors import VaultCorruptError, VaultKeyError

log = logging.getLogger("ccbridge.oauth.vault")

ENV_KEYS = "CCBRIDGE_VAULT_KEYS"


def fingerprint(key: bytes) -> str:
    """A short public name for a key (a hash prefix: it reveals nothing about the key)."""
    return hashlib.sha256(b"ccbridge vault key\x00" + key).hexdigest()[:16]


def generate_key() -> bytes:
    return Fernet.generate_key()


@dataclass(frozen=True)
class VaultKey:
    key: bytes = field(repr=False)
    fingerprint: str


def _parse_key(raw: str | bytes, where: str) -> VaultKey:
    key = raw.encode("ascii") if isinstance(raw, str) else raw
    try:
        Fernet(key)
    except (ValueError, TypeError):
        raise VaultKeyError(
            f"{where} is not a Fernet key (32 url-safe base64-encoded bytes); generate one "
            "with `ccbridge keys generate`"
        ) from None
    return VaultKey(key, fingerprint(key))


class KeyRing:
    """Keys newest first; ``source`` says where they came from (for messages)."""

    def __init__(self, keys: Sequence[VaultKey], source: str) -> None:
        if not keys:
            raise VaultKeyError(f"the vault key ring from {source} is empty")
        seen: dict[str, VaultKey] = {}
        for key in keys:
            seen.setdefault(key.fingerprint, key)
        self.keys: tuple[VaultKey, ...] = tuple(seen.values())
        self.source = source
        self._fernet = MultiFernet([Fernet(k.key) for k in self.keys])

    @property
    def primary(self) -> VaultKey:
        return self.keys[0]

    @property
    def fingerprints(self) -> list[str]:
        return [k.fingerprint for k in self.keys]

    def get(self, fp: str) -> VaultKey | None:
        return next((k for k in self.keys if k.fingerprint == fp), None)

    def encrypt(self, data: bytes) -> str:
        return self._fernet.encrypt(data).decode("ascii")

    def __repr__(self) -> str:
        return f"KeyRing(fingerprints={self.fingerprints!r}, source={self.source!r})"


# -- where keys live -------------------------------------------------------------------
def read_key_file(path: Path) -> list[VaultKey]:
    try:
        mode = path.stat().st_mode
        text = path.read_text("ascii")
    except FileNotFoundError:
        raise VaultKeyError(f"the vault key file {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise VaultKeyError(
            f"the vault key file {path} cannot be read ({exc.__class__.__name__})"
        ) from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        log.warning("the vault key file %s can be read by other users; chmod 600 it", path)
    keys = []
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if line and not line.startswith("#"):
            keys.append(_parse_key(line, f"line {number} of the vault key file {path}"))
    if not keys:
        raise VaultKeyError(f"the vault key file {path} holds no key")
    return keys


def write_key_file(path: Path, keys: Sequence[VaultKey]) -> None:
    """Replace the key file atomically, readable by its owner only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    body = (
        "# ccbridge vault keys, newest first. Keep this file secret and backed up:\n"
        "# without its keys the stored tokens cannot be decrypted.\n"
        + "".join(k.key.decode("ascii") + "\n" for k in keys)
    )
    fd, tmp = tempfile.mkstemp(prefix=".vault.keys.", dir=str(path.parent))
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(body)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _create_key_file(path: Path) -> None:
    """A first key, created exclusively (two processes starting at once keep one key)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    key = _parse_key(generate_key(), "a generated key")
    body = (
        "# ccbridge vault keys, newest first. Keep this file secret and backed up:\n"
        "# without its keys the stored tokens cannot be decrypted.\n"
        + key.key.decode("ascii")
        + "\n"
    )
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(body)
        handle.flush()
        os.fsync(handle.fileno())
    log.warning(
        "generated a new vault key (fingerprint %s) in %s with mode 0600; back this file up: "
        "without it the stored tokens cannot be decrypted",
        key.fingerprint,
        path,
    )


@dataclass(frozen=True)
class KeySource:
    """Where the key ring is loaded from: the environment or a key file."""

    env_keys: tuple[str, ...] | None = field(default=None, repr=False)
    key_file: Path | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> KeySource:
        if settings.vault_keys is not None:
            return cls(env_keys=settings.vault_keys)
        return cls(key_file=settings.effective_key_file)

    @property
    def from_environment(self) -> bool:
        return self.env_keys is not None

    @property
    def description(self) -> str:
        return ENV_KEYS if self.env_keys is not None else f"key file {self.key_file}"

    def load(self, *, create: bool = True) -> KeyRing:
        """The ring; with ``create`` a missing key file is generated (0600) and logged."""
        if self.env_keys is not None:
            keys = [
                _parse_key(raw, f"key #{i} of {ENV_KEYS}")
                for i, raw in enumerate(self.env_keys, start=1)
            ]
            return KeyRing(keys, ENV_KEYS)
        assert self.key_file is not None
        if create and not self.key_file.exists():
            _create_key_file(self.key_file)
        return KeyRing(read_key_file(self.key_file), f"key file {self.key_file}")


# -- the vault ------------------------------------------------------------------------------
@dataclass(frozen=True)
class StoredTokens:
    """The secrets of one linked account, as they are encrypted together."""

    access_token: str = field(repr=False)
    refresh_token: str | None = field(repr=False)

    def to_bytes(self) -> bytes:
        return json.dumps(
            {"v": 1, "access_token": self.access_token, "refresh_token": self.refresh_token}
        ).encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> StoredTokens:
        obj = json.loads(data)
        if not isinstance(obj, dict) or not isinstance(obj.get("access_token"), str):
            raise ValueError("not a token record")
        refresh = obj.get("refresh_token")
        return cls(obj["access_token"], refresh if isinstance(refresh, str) else None)


class TokenVault:
    """Encrypts with the ring's newest key; decrypts with the key the row names.

    ``reload`` (normally ``KeySource.load``) is tried once when a row names a key this
    process does not have yet: another process may have rotated the keys since we started.
    """

    def __init__(self, ring: KeyRing, *, reload: Callable[[], KeyRing] | None = None) -> None:
        self._ring = ring
        self._reload = reload
        self._lock = threading.Lock()

    @classmethod
    def from_source(cls, source: KeySource, *, create: bool = True) -> TokenVault:
        return cls(source.load(create=create), reload=lambda: source.load(create=False))

    @property
    def ring(self) -> KeyRing:
        return self._ring

    def encrypt(self, data: bytes) -> tuple[str, str]:
        """(ciphertext, fingerprint of the key used)."""
        ring = self._ring
        return ring.encrypt(data), ring.primary.fingerprint

    def decrypt(self, ciphertext: str, key_fingerprint: str | None, *, what: str) -> bytes:
        """Plaintext; ``what`` names the owner in errors (e.g. "linked account <id>")."""
        key = self._key_for(key_fingerprint, what)
        try:
            return Fernet(key.key).decrypt(ciphertext.encode("ascii"))
        except (InvalidToken, UnicodeEncodeError, ValueError):
            raise VaultCorruptError(
                f"the stored tokens of {what} do not decrypt with their key {key.fingerprint}: "
                "the ciphertext is damaged (the account must be connected again)"
            ) from None

    def _key_for(self, key_fingerprint: str | None, what: str) -> VaultKey:
        if not key_fingerprint:
            raise VaultCorruptError(f"the stored tokens of {what} name no vault key")
        key = self._ring.get(key_fingerprint)
        if key is None and self._reload is not None:
            with self._lock:
                with contextlib.suppress(VaultKeyError):
                    self._ring = self._reload()
                key = self._ring.get(key_fingerprint)
        if key is None:
            raise VaultKeyError(
                f"the stored tokens of {what} were encrypted with vault key {key_fingerprint}, "
                f"which is not in the key ring ({self._ring.source}: "
                f"{', '.join(self._ring.fingerprints)}); restore that key",
                account_id=None,
            )
        return key

    def encrypt_tokens(self, tokens: StoredTokens) -> tuple[str, str]:
        return self.encrypt(tokens.to_bytes())

    def decrypt_tokens(
        self, ciphertext: str, key_fingerprint: str | None, *, account_id: str
    ) -> StoredTokens:
        what = f"linked account {account_id}"
        try:
            plain = self.decrypt(ciphertext, key_fingerprint, what=what)
        except (VaultKeyError, VaultCorruptError) as exc:
            exc.account_id = account_id
            raise
        try:
            return StoredTokens.from_bytes(plain)
        except (ValueError, UnicodeDecodeError):
            raise VaultCorruptError(
                f"the stored tokens of {what} decrypt to something that is not a token record",
                account_id=account_id,
            ) from None
