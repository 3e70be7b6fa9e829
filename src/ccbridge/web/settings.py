"""The service's settings: ``CCBRIDGE_*`` variables plus an optional TOML file, checked once.

``ccbridge.config.Settings`` already reads what linked accounts need (data directory,
database, vault keys, the OAuth client). The service needs a few more answers — where to
listen, which URL the browser sees, whether a Redis is shared by several processes, how
long a shutdown may take — and one more source: a TOML file (``CCBRIDGE_CONFIG`` or
``--config``) so a deployment can keep its settings in one reviewed file.

The file uses the variable names without the prefix, in lower case (``client_id``,
``redis_url``, ``port``). Environment variables win over the file, so a secret can stay
out of it. Every problem is reported at start, naming the setting and where it came from,
instead of surfacing later as a stack trace deep in a request.
"""

from __future__ import annotations

import math
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ccbridge.config import ConfigError, Settings

PREFIX = "CCBRIDGE_"

BASE_KEYS = (
    "data_dir",
    "database_url",
    "database_schema",
    "vault_keys",
    "vault_key_file",
    "client_id",
    "client_secret",
    "redirect_uri",
    "cc_auth_url",
    "cc_api_url",
    "cc_issuer",
    "cc_jwks_url",
    "scopes",
    "refresh_margin",
    "keepalive_days",
    "reauth_webhook_url",
)
"""Keys read by ``ccbridge.config.Settings``."""

SERVICE_KEYS = (
    "host",
    "port",
    "public_url",
    "redis_url",
    "queue_name",
    "worker_threads",
    "embedded_worker",
    "shutdown_timeout",
    "session_hours",
    "per_second",
    "daily_quota",
    "worker_metrics_port",
    "log_level",
    "extensions",
)
"""Keys only the service reads (``ServiceSettings``)."""

SECRET_KEYS = frozenset({"client_secret", "vault_keys"})
URL_KEYS_WITH_PASSWORDS = frozenset({"database_url", "redis_url"})
LOG_LEVELS = ("debug", "info", "warning", "error")


@dataclass(frozen=True)
class ConfigSource:
    """Where each setting's value came from: the environment, the file, or the default."""

    values: dict[str, str]
    origins: dict[str, str]
    file: Path | None

    def origin(self, key: str) -> str:
        return self.origins.get(key, "default")

    def name(self, key: str) -> str:
        """How to name a setting in a message: its variable and, if it came from it, the file."""
        variable = PREFIX + key.upper()
        if self.origins.get(key) == "file" and self.file is not None:
            return f"{variable} (`{key}` in {self.file})"
        return variable


def _toml_value(key: str, value: Any, path: Path) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | str):
        return str(value)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return ",".join(value)
    raise ConfigError(
        f"`{key}` in {path} must be a string, number, boolean or list of strings; "
        f"got {type(value).__name__}"
    )


def read_config_file(path: Path) -> dict[str, str]:
    """The TOML file's settings as variable-style strings; unknown keys are an error."""
    try:
        data = tomllib.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"CCBRIDGE_CONFIG: the config file {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(
            f"CCBRIDGE_CONFIG: the config file {path} cannot be read ({type(exc).__name__})"
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"CCBRIDGE_CONFIG: {path} is not valid TOML ({exc})") from None
    known = set(BASE_KEYS) | set(SERVICE_KEYS)
    values: dict[str, str] = {}
    for key, value in data.items():
        if key not in known:
            hint = (
                " (write names without the CCBRIDGE_ prefix)"
                if key.upper().startswith(PREFIX)
                else ""
            )
            raise ConfigError(f"unknown setting `{key}` in {path}{hint}")
        values[key] = _toml_value(key, value, path)
    return values


def gather(env: Mapping[str, str] | None = None, config_file: Path | None = None) -> ConfigSource:
    """Merge the file (if any) under the environment; remember each value's origin."""
    env = os.environ if env is None else env
    file_name = config_file or (
        Path(env[PREFIX + "CONFIG"]) if env.get(PREFIX + "CONFIG") else None
    )
    values: dict[str, str] = {}
    origins: dict[str, str] = {}
    if file_name is not None:
        for key, value in read_config_file(file_name).items():
            values[key] = value
            origins[key] = "file"
    for key in (*BASE_KEYS, *SERVICE_KEYS):
        raw = env.get(PREFIX + key.upper())
        if raw is not None and raw.strip():
            values[key] = raw
            origins[key] = "env"
    return ConfigSource(values, origins, file_name)


# -- small parsers that name the setting --------------------------------------------------
def _int(source: ConfigSource, key: str, default: int, *, low: int, high: int) -> int:
    raw = source.values.get(key)
    if raw is None:
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        raise ConfigError(f"{source.name(key)} must be a whole number; got {raw!r}") from None
    if not low <= value <= high:
        raise ConfigError(f"{source.name(key)} must be between {low} and {high}; got {value}")
    return value


def _float(source: ConfigSource, key: str, default: float, *, low: float) -> float:
    raw = source.values.get(key)
    if raw is None:
        return default
    try:
        value = float(raw.strip())
    except ValueError:
        raise ConfigError(f"{source.name(key)} must be a number; got {raw!r}") from None
    if not math.isfinite(value) or value < low:
        raise ConfigError(f"{source.name(key)} must be a number of at least {low:g}; got {raw!r}")
    return value


def _bool(source: ConfigSource, key: str, default: bool) -> bool:
    raw = source.values.get(key)
    if raw is None:
        return default
    text = raw.strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{source.name(key)} must be true or false; got {raw!r}")


def _public_url(source: ConfigSource, host: str, port: int) -> str:
    raw = source.values.get("public_url")
    if raw is None:
        shown = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
        if ":" in shown and not shown.startswith("["):
            shown = f"[{shown}]"
        return f"http://{shown}:{port}"
    parts = urlsplit(raw.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(
            f"{source.name('public_url')} must be an absolute http(s) URL; got {raw!r}"
        )
    if parts.query or parts.fragment:
        raise ConfigError(f"{source.name('public_url')} must not have a query or fragment")
    return raw.strip().rstrip("/")


def _redis_url(source: ConfigSource) -> str | None:
    raw = source.values.get("redis_url")
    if raw is None:
        return None
    if urlsplit(raw.strip()).scheme not in ("redis", "rediss", "unix"):
        raise ConfigError(
            f"{source.name('redis_url')} must be a redis://, rediss:// or unix:// URL"
        )
    return raw.strip()


def _modules(source: ConfigSource) -> tuple[str, ...]:
    raw = source.values.get("extensions")
    if raw is None:
        return ()
    names = tuple(n.strip() for n in raw.split(",") if n.strip())
    for name in names:
        if not all(part.isidentifier() for part in name.split(".")):
            raise ConfigError(f"{source.name('extensions')}: {name!r} is not a Python module name")
    return names


def _base_settings(source: ConfigSource) -> Settings:
    env = {PREFIX + k.upper(): v for k, v in source.values.items() if k in BASE_KEYS}
    try:
        return Settings.from_env(env)
    except ConfigError as exc:
        # Settings names the variable; add the file when that is where the value was.
        message = str(exc)
        for key in BASE_KEYS:
            variable = PREFIX + key.upper()
            if message.startswith(variable) and source.origin(key) == "file":
                message = source.name(key) + message[len(variable) :]
                break
        raise ConfigError(message) from None


@dataclass(frozen=True)
class ServiceSettings:
    """Everything ``ccbridge serve`` and ``ccbridge worker`` need, validated."""

    base: Settings
    host: str = "127.0.0.1"
    port: int = 8000
    public_url: str = "http://127.0.0.1:8000"
    redis_url: str | None = field(default=None, repr=False)
    queue_name: str = "ccbridge"
    worker_threads: int = 2
    embedded_worker: bool = True
    shutdown_timeout: float = 30.0
    session_hours: float = 12.0
    per_second: int = 4
    daily_quota: int = 10_000
    worker_metrics_port: int | None = None
    log_level: str = "info"
    extensions: tuple[str, ...] = ()
    source: ConfigSource | None = field(default=None, repr=False, compare=False)

    @classmethod
    def load(
        cls, env: Mapping[str, str] | None = None, *, config_file: Path | None = None
    ) -> ServiceSettings:
        """Read the environment (and the TOML file); ``ConfigError`` names a bad setting."""
        source = gather(env, config_file)
        base = _base_settings(source)
        host = (source.values.get("host") or "127.0.0.1").strip()
        port = _int(source, "port", 8000, low=1, high=65535)
        log_level = (source.values.get("log_level") or "info").strip().lower()
        if log_level not in LOG_LEVELS:
            raise ConfigError(f"{source.name('log_level')} must be one of {', '.join(LOG_LEVELS)}")
        queue_name = (source.values.get("queue_name") or "ccbridge").strip()
        if not queue_name.replace("_", "").replace("-", "").isalnum():
            raise ConfigError(
                f"{source.name('queue_name')} must be letters, digits, '-' and '_'; got {queue_name!r}"
            )
        metrics_port = source.values.get("worker_metrics_port")
        settings = cls(
            base=base,
            host=host,
            port=port,
            public_url=_public_url(source, host, port),
            redis_url=_redis_url(source),
            queue_name=queue_name,
            worker_threads=_int(source, "worker_threads", 2, low=1, high=64),
            embedded_worker=_bool(source, "embedded_worker", True),
            shutdown_timeout=_float(source, "shutdown_timeout", 30.0, low=0),
            session_hours=_float(source, "session_hours", 12.0, low=0.01),
            per_second=_int(source, "per_second", 4, low=1, high=1000),
            daily_quota=_int(source, "daily_quota", 10_000, low=1, high=100_000_000),
            worker_metrics_port=(
                _int(source, "worker_metrics_port", 0, low=1, high=65535) if metrics_port else None
            ),
            log_level=log_level,
            extensions=_modules(source),
            source=source,
        )
        settings.check_credentials()
        return settings

    def with_listen(self, host: str | None, port: int | None) -> ServiceSettings:
        """The settings with ``--host``/``--port`` applied (the public URL follows unless set)."""
        from dataclasses import replace

        new_host = host if host is not None else self.host
        new_port = port if port is not None else self.port
        public = self.public_url
        if self.source is None or "public_url" not in self.source.values:
            shown = "127.0.0.1" if new_host in ("0.0.0.0", "::", "") else new_host
            if ":" in shown and not shown.startswith("["):
                shown = f"[{shown}]"
            public = f"http://{shown}:{new_port}"
        return replace(self, host=new_host, port=new_port, public_url=public)

    def check_credentials(self) -> None:
        """Real CC needs a client id and a redirect URI together; a half set is a mistake."""
        b = self.base
        if b.client_id is None and (b.client_secret or b.redirect_uri):
            given = "CCBRIDGE_CLIENT_SECRET" if b.client_secret else "CCBRIDGE_REDIRECT_URI"
            raise ConfigError(
                f"{given} is set but CCBRIDGE_CLIENT_ID is not: set all of CCBRIDGE_CLIENT_ID, "
                "CCBRIDGE_CLIENT_SECRET and CCBRIDGE_REDIRECT_URI to use Constant Contact, or "
                "none of them to use the built-in sandbox"
            )
        if b.client_id is not None and b.redirect_uri is None:
            raise ConfigError(
                "CCBRIDGE_CLIENT_ID is set but CCBRIDGE_REDIRECT_URI is not: CC sends the browser "
                f"back to it after consent (for this service: {self.public_url}/connect/callback)"
            )
        if b.client_id is None and b.cc_auth_url is not None:
            raise ConfigError("CCBRIDGE_CC_AUTH_URL is set but CCBRIDGE_CLIENT_ID is not")

    # -- derived values ------------------------------------------------------------------
    @property
    def uses_sandbox(self) -> bool:
        """No CC credentials: the service runs the sandbox alongside itself."""
        return self.base.client_id is None

    @property
    def scaled_out(self) -> bool:
        """A Redis is configured: the queue and the API budget are shared between processes."""
        return self.redis_url is not None

    @property
    def secure_cookies(self) -> bool:
        return self.public_url.startswith("https://")

    @property
    def callback_url(self) -> str:
        """Where CC sends the browser back: the configured redirect URI, else our own route."""
        return self.base.redirect_uri or f"{self.public_url}/connect/callback"

    @property
    def data_dir(self) -> Path:
        return self.base.data_dir

    def describe(self) -> list[tuple[str, str, str]]:
        """(setting, effective value with secrets masked, origin) for ``config check``."""
        source = self.source or ConfigSource({}, {}, None)
        b = self.base
        shown: dict[str, Any] = {
            "data_dir": b.data_dir,
            "database_url": b.effective_database_url,
            "database_schema": b.database_schema,
            "vault_keys": b.vault_keys,
            "vault_key_file": b.effective_key_file if b.vault_keys is None else None,
            "client_id": b.client_id or "(sandbox demo app)",
            "client_secret": b.client_secret,
            "redirect_uri": self.callback_url,
            "cc_auth_url": b.cc_auth_url,
            "cc_api_url": b.cc_api_url,
            "cc_issuer": b.cc_issuer,
            "cc_jwks_url": b.cc_jwks_url,
            "scopes": " ".join(b.scopes),
            "refresh_margin": b.refresh_margin,
            "keepalive_days": b.keepalive_idle_days,
            "reauth_webhook_url": b.reauth_webhook_url,
            "host": self.host,
            "port": self.port,
            "public_url": self.public_url,
            "redis_url": self.redis_url,
            "queue_name": self.queue_name,
            "worker_threads": self.worker_threads,
            "embedded_worker": self.embedded_worker,
            "shutdown_timeout": self.shutdown_timeout,
            "session_hours": self.session_hours,
            "per_second": self.per_second,
            "daily_quota": self.daily_quota,
            "worker_metrics_port": self.worker_metrics_port,
            "log_level": self.log_level,
            "extensions": ",".join(self.extensions) or None,
        }
        rows = []
        for key, value in shown.items():
            rows.append((PREFIX + key.upper(), mask(key, value), source.origin(key)))
        return rows


def mask(key: str, value: Any) -> str:
    """A value fit to print: secrets replaced, passwords in URLs hidden."""
    if value is None:
        return "-"
    if key in SECRET_KEYS:
        count = len(value) if isinstance(value, tuple) else 1
        return "****" if count == 1 else f"**** ({count} keys)"
    text = str(value)
    if key in URL_KEYS_WITH_PASSWORDS:
        return hide_password(text)
    return text


def hide_password(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":****@", 1)
    return parts._replace(netloc=netloc).geturl()
