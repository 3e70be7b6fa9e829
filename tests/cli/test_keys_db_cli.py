"""``ccbridge keys`` and ``ccbridge db``."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from typer.testing import CliRunner

from ccbridge.cli.main import app
from ccbridge.oauth.vault import read_key_file


def _run(tmp_path: Path, *args: str, **env: str) -> object:
    return CliRunner().invoke(app, list(args), env={"CCBRIDGE_DATA_DIR": str(tmp_path), **env})


def test_db_upgrade_and_current(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/shared.db"
    before = _run(tmp_path, "db", "current", CCBRIDGE_DATABASE_URL=url)
    assert "revision none" in before.output and "needs `ccbridge db upgrade`" in before.output  # type: ignore[attr-defined]
    up = _run(tmp_path, "db", "upgrade", CCBRIDGE_DATABASE_URL=url)
    assert up.exit_code == 0 and "from empty to revision" in up.output  # type: ignore[attr-defined]
    again = _run(tmp_path, "db", "upgrade", CCBRIDGE_DATABASE_URL=url)
    assert "already at revision" in again.output  # type: ignore[attr-defined]
    assert "up to date" in _run(tmp_path, "db", "current", CCBRIDGE_DATABASE_URL=url).output  # type: ignore[attr-defined]


def test_keys_list_rotate_drop(tmp_path: Path) -> None:
    listed = _run(tmp_path, "keys", "list")
    assert listed.exit_code == 0, listed.output  # type: ignore[attr-defined]
    key_file = tmp_path / "vault.keys"
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    first = read_key_file(key_file)[0].fingerprint
    assert first in listed.output and "newest (encrypts)" in listed.output  # type: ignore[attr-defined]
    rotated = _run(tmp_path, "keys", "rotate")
    assert rotated.exit_code == 0 and "0 row(s) re-encrypted" in rotated.output  # type: ignore[attr-defined]
    keys = read_key_file(key_file)
    assert [k.fingerprint for k in keys][1] == first
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    dropped = _run(tmp_path, "keys", "drop", first)
    assert dropped.exit_code == 0, dropped.output  # type: ignore[attr-defined]
    assert [k.fingerprint for k in read_key_file(key_file)] == [keys[0].fingerprint]
    newest = _run(tmp_path, "keys", "drop", keys[0].fingerprint)
    assert newest.exit_code == 1 and "newest key" in newest.output  # type: ignore[attr-defined]


def test_keys_rotate_with_environment_keys_explains_what_to_do(tmp_path: Path) -> None:
    key = CliRunner().invoke(app, ["keys", "generate"]).output.strip()
    result = _run(tmp_path, "keys", "rotate", CCBRIDGE_VAULT_KEYS=key)
    assert result.exit_code == 1  # type: ignore[attr-defined]
    assert "ccbridge keys reencrypt" in result.output and key not in result.output  # type: ignore[attr-defined]
