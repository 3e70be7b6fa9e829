"""Service settings: environment variables plus an optional TOML file, checked at start,
with errors naming the setting (and the file when the value came from it)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ccbridge.config import ConfigError
from ccbridge.web.settings import ServiceSettings


def _toml(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "ccbridge.toml"
    path.write_text(text)
    return path


def test_defaults_are_the_embedded_sandbox_mode() -> None:
    s = ServiceSettings.load({})
    assert s.uses_sandbox and not s.scaled_out
    assert s.public_url == "http://127.0.0.1:8000"
    assert s.callback_url == "http://127.0.0.1:8000/connect/callback"
    assert s.embedded_worker and s.daily_quota == 10_000 and s.per_second == 4


def test_file_values_are_read_and_the_environment_wins(tmp_path: Path) -> None:
    path = _toml(
        tmp_path,
        'port = 9000\nqueue_name = "from-file"\nscopes = ["contact_data", "account_read"]\nembedded_worker = false\n',
    )
    s = ServiceSettings.load({"CCBRIDGE_QUEUE_NAME": "from-env"}, config_file=path)
    assert s.port == 9000 and s.public_url == "http://127.0.0.1:9000"
    assert s.queue_name == "from-env"
    assert s.base.scopes == ("contact_data", "account_read")
    assert s.embedded_worker is False
    origins = {name: origin for name, _value, origin in s.describe()}
    assert origins["CCBRIDGE_PORT"] == "file" and origins["CCBRIDGE_QUEUE_NAME"] == "env"
    assert origins["CCBRIDGE_HOST"] == "default"


def test_config_file_from_the_environment_variable(tmp_path: Path) -> None:
    path = _toml(tmp_path, "worker_threads = 5\n")
    assert ServiceSettings.load({"CCBRIDGE_CONFIG": str(path)}).worker_threads == 5


@pytest.mark.parametrize(
    ("env", "fragment"),
    [
        ({"CCBRIDGE_PORT": "eighty"}, "CCBRIDGE_PORT must be a whole number"),
        ({"CCBRIDGE_PORT": "70000"}, "CCBRIDGE_PORT must be between 1 and 65535"),
        ({"CCBRIDGE_PUBLIC_URL": "ftp://x"}, "CCBRIDGE_PUBLIC_URL must be an absolute http(s) URL"),
        ({"CCBRIDGE_REDIS_URL": "http://x"}, "CCBRIDGE_REDIS_URL must be a redis://"),
        ({"CCBRIDGE_EMBEDDED_WORKER": "maybe"}, "CCBRIDGE_EMBEDDED_WORKER must be true or false"),
        ({"CCBRIDGE_LOG_LEVEL": "loud"}, "CCBRIDGE_LOG_LEVEL must be one of"),
        (
            {"CCBRIDGE_SHUTDOWN_TIMEOUT": "-1"},
            "CCBRIDGE_SHUTDOWN_TIMEOUT must be a number of at least 0",
        ),
        ({"CCBRIDGE_REFRESH_MARGIN": "soon"}, "CCBRIDGE_REFRESH_MARGIN must be a number"),
        ({"CCBRIDGE_EXTENSIONS": "not a module"}, "CCBRIDGE_EXTENSIONS"),
        (
            {"CCBRIDGE_CLIENT_ID": "abc"},
            "CCBRIDGE_CLIENT_ID is set but CCBRIDGE_REDIRECT_URI is not",
        ),
        (
            {"CCBRIDGE_CLIENT_SECRET": "s"},
            "CCBRIDGE_CLIENT_SECRET is set but CCBRIDGE_CLIENT_ID is not",
        ),
    ],
)
def test_bad_values_name_the_setting(env: dict[str, str], fragment: str) -> None:
    with pytest.raises(ConfigError) as caught:
        ServiceSettings.load(env)
    assert fragment in str(caught.value)


def test_file_errors_name_the_file_and_key(tmp_path: Path) -> None:
    with pytest.raises(
        ConfigError, match=r"CCBRIDGE_PORT \(`port` in .*ccbridge.toml\) must be a whole number"
    ):
        ServiceSettings.load({}, config_file=_toml(tmp_path, 'port = "x"\n'))
    with pytest.raises(ConfigError, match=r"unknown setting `colour`"):
        ServiceSettings.load({}, config_file=_toml(tmp_path, 'colour = "red"\n'))
    with pytest.raises(ConfigError, match=r"without the CCBRIDGE_ prefix"):
        ServiceSettings.load({}, config_file=_toml(tmp_path, "CCBRIDGE_PORT = 1\n"))
    with pytest.raises(ConfigError, match=r"not valid TOML"):
        ServiceSettings.load({}, config_file=_toml(tmp_path, "port = \n"))
    with pytest.raises(ConfigError, match=r"does not exist"):
        ServiceSettings.load({}, config_file=tmp_path / "missing.toml")
    with pytest.raises(ConfigError, match=r"CCBRIDGE_REFRESH_MARGIN \(`refresh_margin` in"):
        ServiceSettings.load({}, config_file=_toml(tmp_path, 'refresh_margin = "x"\n'))


def test_real_credentials_switch_off_the_sandbox() -> None:
    s = ServiceSettings.load(
        {
            "CCBRIDGE_CLIENT_ID": "my-app",
            "CCBRIDGE_CLIENT_SECRET": "top-secret-value",
            "CCBRIDGE_REDIRECT_URI": "https://ccbridge.example/connect/callback",
            "CCBRIDGE_REDIS_URL": "redis://:hunter2@redis.internal:6379/0",
            "CCBRIDGE_DATABASE_URL": "postgresql+psycopg://ccb:pw123@db.internal/ccb",
        }
    )
    assert not s.uses_sandbox and s.scaled_out
    assert s.callback_url == "https://ccbridge.example/connect/callback"
    shown = {name: value for name, value, _origin in s.describe()}
    printed = repr(shown)
    for secret in ("top-secret-value", "hunter2", "pw123"):
        assert secret not in printed
    assert shown["CCBRIDGE_CLIENT_SECRET"] == "****"
    assert shown["CCBRIDGE_REDIS_URL"] == "redis://:****@redis.internal:6379/0"


def test_cli_host_and_port_move_the_public_url_unless_it_was_set() -> None:
    assert (
        ServiceSettings.load({}).with_listen("0.0.0.0", 9100).public_url == "http://127.0.0.1:9100"
    )
    fixed = ServiceSettings.load({"CCBRIDGE_PUBLIC_URL": "https://ccb.example"})
    assert fixed.with_listen(None, 9100).public_url == "https://ccb.example"
    assert fixed.secure_cookies
