"""``ccbridge admin`` and ``ccbridge config check``."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.cli.serve_support import ServeProcess, run_cli


def test_admin_create_token_and_revoke(tmp_path: Path) -> None:
    env = {"CCBRIDGE_DATA_DIR": str(tmp_path / "d")}
    created = run_cli(
        ["admin", "create", "alice", "--password-stdin"], env, "a long enough password\n"
    )
    assert created.returncode == 0, created.stderr
    assert "admin 'alice' created" in created.stdout
    again = run_cli(
        ["admin", "create", "alice", "--password-stdin"], env, "a long enough password\n"
    )
    assert again.returncode == 1 and "already exists" in again.stderr
    weak = run_cli(["admin", "create", "bob", "--password-stdin"], env, "short\n")
    assert weak.returncode == 1 and "at least 10 characters" in weak.stderr
    assert run_cli(["admin", "list"], env).stdout.split() == ["alice"]
    token = run_cli(["admin", "token", "ci"], env)
    assert token.returncode == 0
    raw = token.stdout.strip()
    assert raw.startswith("ccb_") and len(raw) > 40
    listing = run_cli(["admin", "tokens"], env).stdout
    assert "ci" in listing and raw not in listing
    token_id = token.stderr.split()[1]
    assert run_cli(["admin", "revoke", token_id], env).returncode == 0
    assert run_cli(["admin", "revoke", token_id], env).returncode == 1


def test_admin_token_works_against_a_running_service(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with ServeProcess(data) as serve:
        raw = run_cli(["admin", "token", "api"], serve.env).stdout.strip()
        ok = httpx.get(serve.url + "/api/budget", headers={"Authorization": f"Bearer {raw}"})
        assert ok.status_code == 200 and ok.json()["client_id"] == "sandbox-demo-app"
        assert httpx.get(serve.url + "/api/budget").status_code == 401
        serve.stop()


def test_config_check_prints_masked_settings(tmp_path: Path) -> None:
    config = tmp_path / "ccbridge.toml"
    config.write_text(
        'port = 9100\nclient_id = "my-app"\nredirect_uri = "https://x.example/connect/callback"\n'
    )
    result = run_cli(
        ["config", "check", "--config", str(config)],
        {"CCBRIDGE_DATA_DIR": str(tmp_path / "d"), "CCBRIDGE_CLIENT_SECRET": "s3cret-value"},
    )
    assert result.returncode == 0, result.stderr
    assert "s3cret-value" not in result.stdout
    lines = {
        line.split()[0]: line.split()[1:]
        for line in result.stdout.splitlines()
        if line.startswith("CCBRIDGE_")
    }
    assert lines["CCBRIDGE_PORT"] == ["9100", "file"]
    assert lines["CCBRIDGE_CLIENT_SECRET"] == ["****", "env"]
    assert "mode: Constant Contact as client_id my-app" in result.stdout
    assert "configuration OK" in result.stdout


def test_config_check_names_the_bad_setting(tmp_path: Path) -> None:
    config = tmp_path / "ccbridge.toml"
    config.write_text('worker_threads = "many"\n')
    result = run_cli(
        ["config", "check", "--config", str(config)], {"CCBRIDGE_DATA_DIR": str(tmp_path / "d")}
    )
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.strip() == (
        f"ccbridge: configuration error: CCBRIDGE_WORKER_THREADS (`worker_threads` in {config}) "
        "must be a whole number; got 'many'"
    )
    bad_db = run_cli(["config", "check"], {"CCBRIDGE_DATABASE_URL": "mysql://x/y"})
    assert bad_db.returncode == 2 and "CCBRIDGE_DATABASE_URL" in bad_db.stderr
