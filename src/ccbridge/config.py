"""Settings read from ``CCBRIDGE_*`` environment variables, checked once at start.

The CLI, the web service and the workers all need the same few answers: where the data
lives, which database, where the vault keys are, which OAuth client and which CC (the real
one or a sandbox). Reading them in one place means one spelling of every variable and one
error message per mistake, naming the variable, instead of a stack trace deep in a flow.

Secrets that pass through here (the client secret, vault keys from the environment) are
kept out of ``repr`` so a settings object can be logged.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from ccbridge._errors import CCBridgeError

DEFAULT_DATA_DIR = ".ccbridge"
DEFAULT_SANDBOX_URL = "http://127.0.0.1:8910"
"""Where ``ccbridge sandbox`` listens by default."""
SANDBOX_DEMO_CLIENT_ID = "sandbox-demo-app"
"""The application ``ccbridge sandbox`` registers at start (device flow enabled)."""
DEFAULT_SCOPES = ("account_read", "contact_data", "campaign_data", "offline_access")
DEFAULT_REFRESH_MARGIN = 300.0
DEFAULT_KEEPALIVE_DAYS = 30.0


class ConfigError(CCBridgeError):
    """A setting is missing or malformed; the message names the variable."""


def _text(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name)
    if value is None:
        return None
    value = value.strip()
    return value or None


def _number(env: Mapping[str, str], name: str, default: float, *, minimum: float) -> float:
    raw = _text(env, name)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number; got {raw!r}") from None
    if not math.isfinite(value) or value < minimum:
        raise ConfigError(f"{name} must be a finite number of at least {minimum:g}; got {raw!r}")
    return value


def _url(env: Mapping[str, str], name: str) -> str | None:
    raw = _text(env, name)
    if raw is None:
        return None
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"{name} must be an absolute http(s) URL; got {raw!r}")
    return raw.rstrip("/")


def _scopes(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    raw = _text(env, name)
    if raw is None:
        return DEFAULT_SCOPES
    scopes = tuple(s for s in raw.replace(",", " ").replace("+", " ").split() if s)
    if not scopes:
        raise ConfigError(f"{name} must name at least one scope")
    return scopes


@dataclass(frozen=True)
class Settings:
    """Everything ccbridge reads from the environment (see ``from_env`` for the names)."""

    data_dir: Path = Path(DEFAULT_DATA_DIR)
    database_url: str | None = None
    database_schema: str | None = None
    vault_keys: tuple[str, ...] | None = field(default=None, repr=False)
    vault_key_file: Path | None = None
    client_id: str | None = None
    client_secret: str | None = field(default=None, repr=False)
    redirect_uri: str | None = None
    cc_auth_url: str | None = None
    cc_api_url: str | None = None
    cc_issuer: str | None = None
    cc_jwks_url: str | None = None
    scopes: tuple[str, ...] = DEFAULT_SCOPES
    refresh_margin: float = DEFAULT_REFRESH_MARGIN
    keepalive_idle_days: float = DEFAULT_KEEPALIVE_DAYS
    reauth_webhook_url: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Read and check every ``CCBRIDGE_*`` setting; ``ConfigError`` names a bad one."""
        env = os.environ if env is None else env
        data_dir = Path(_text(env, "CCBRIDGE_DATA_DIR") or DEFAULT_DATA_DIR)
        keys_raw = _text(env, "CCBRIDGE_VAULT_KEYS")
        keys = tuple(k.strip() for k in keys_raw.split(",") if k.strip()) if keys_raw else None
        if keys_raw is not None and not keys:
            raise ConfigError("CCBRIDGE_VAULT_KEYS is set but holds no key")
        key_file = _text(env, "CCBRIDGE_VAULT_KEY_FILE")
        schema = _text(env, "CCBRIDGE_DATABASE_SCHEMA")
        if schema is not None and not schema.replace("_", "").isalnum():
            raise ConfigError(
                f"CCBRIDGE_DATABASE_SCHEMA must be letters, digits and underscores; got {schema!r}"
            )
        redirect = _url(env, "CCBRIDGE_REDIRECT_URI")
        if redirect is not None and "#" in redirect:
            raise ConfigError("CCBRIDGE_REDIRECT_URI must not contain a fragment (#...)")
        return cls(
            data_dir=data_dir,
            database_url=_text(env, "CCBRIDGE_DATABASE_URL"),
            database_schema=schema,
            vault_keys=keys,
            vault_key_file=Path(key_file) if key_file else None,
            client_id=_text(env, "CCBRIDGE_CLIENT_ID"),
            client_secret=_text(env, "CCBRIDGE_CLIENT_SECRET"),
            redirect_uri=redirect,
            cc_auth_url=_url(env, "CCBRIDGE_CC_AUTH_URL"),
            cc_api_url=_url(env, "CCBRIDGE_CC_API_URL"),
            cc_issuer=_url(env, "CCBRIDGE_CC_ISSUER"),
            cc_jwks_url=_url(env, "CCBRIDGE_CC_JWKS_URL"),
            scopes=_scopes(env, "CCBRIDGE_SCOPES"),
            refresh_margin=_number(
                env, "CCBRIDGE_REFRESH_MARGIN", DEFAULT_REFRESH_MARGIN, minimum=0
            ),
            keepalive_idle_days=_number(
                env, "CCBRIDGE_KEEPALIVE_DAYS", DEFAULT_KEEPALIVE_DAYS, minimum=0.001
            ),
            reauth_webhook_url=_url(env, "CCBRIDGE_REAUTH_WEBHOOK_URL"),
        )

    # -- derived values ------------------------------------------------------------------
    @property
    def embedded_database(self) -> bool:
        """True when no database URL was given: the SQLite file in the data directory."""
        return self.database_url is None

    @property
    def effective_database_url(self) -> str:
        if self.database_url is not None:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'ccbridge.db').as_posix()}"

    @property
    def effective_key_file(self) -> Path:
        return self.vault_key_file or self.data_dir / "vault.keys"

    @property
    def uses_sandbox(self) -> bool:
        """No CC credentials and no server given: talk to a local ``ccbridge sandbox``."""
        return self.client_id is None and self.cc_auth_url is None
