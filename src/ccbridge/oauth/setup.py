"""Building a ``LinkedAccounts`` from settings: which CC, which client, which keys.

Three targets, decided by the settings (``Settings.from_env``) and an optional sandbox URL:

- a sandbox (``--sandbox-url``, or nothing configured at all: ``ccbridge sandbox`` on
  127.0.0.1:8910 with its demo application): endpoints from the sandbox's discovery
  metadata, so the issuer matches the URL the sandbox was started with;
- a CC look-alike at ``CCBRIDGE_CC_AUTH_URL`` / ``CCBRIDGE_CC_API_URL`` (same discovery);
- the real CC when ``CCBRIDGE_CLIENT_ID`` is set without a server URL.
"""

from __future__ import annotations

from typing import Any

import httpx

from ccbridge.config import DEFAULT_SANDBOX_URL, SANDBOX_DEMO_CLIENT_ID, ConfigError, Settings
from ccbridge.oauth.accounts import LinkedAccounts
from ccbridge.oauth.protocol import Endpoints, OAuthClientConfig, discover_endpoints
from ccbridge.oauth.vault import KeySource, TokenVault
from ccbridge.store import open_database


def oauth_config(
    settings: Settings,
    *,
    sandbox_url: str | None = None,
    transport: httpx.BaseTransport | None = None,
) -> OAuthClientConfig:
    """The OAuth client and endpoints these settings point at."""
    if sandbox_url is not None or settings.uses_sandbox:
        base = (sandbox_url or DEFAULT_SANDBOX_URL).rstrip("/")
        with httpx.Client(transport=transport, timeout=10.0) as http:
            endpoints = discover_endpoints(base, base, http=http)
        return OAuthClientConfig(
            client_id=settings.client_id or SANDBOX_DEMO_CLIENT_ID,
            client_secret=settings.client_secret,
            endpoints=endpoints,
            redirect_uri=settings.redirect_uri,
        )
    if settings.client_id is None:
        raise ConfigError("CCBRIDGE_CLIENT_ID is required to talk to CCBRIDGE_CC_AUTH_URL")
    if settings.cc_auth_url is not None:
        api = settings.cc_api_url or settings.cc_auth_url
        with httpx.Client(transport=transport, timeout=10.0) as http:
            endpoints = discover_endpoints(settings.cc_auth_url, api, http=http)
        if settings.cc_issuer or settings.cc_jwks_url:
            endpoints = Endpoints(
                **{
                    **endpoints.__dict__,
                    "issuer": settings.cc_issuer or endpoints.issuer,
                    "jwks_url": settings.cc_jwks_url or endpoints.jwks_url,
                }
            )
    else:
        endpoints = Endpoints.constant_contact()
        if settings.cc_api_url:
            endpoints = Endpoints(**{**endpoints.__dict__, "api_base_url": settings.cc_api_url})
    return OAuthClientConfig(
        client_id=settings.client_id,
        client_secret=settings.client_secret,
        endpoints=endpoints,
        redirect_uri=settings.redirect_uri,
    )


def open_vault(settings: Settings) -> TokenVault:
    return TokenVault.from_source(KeySource.from_settings(settings))


def open_linked_accounts(
    settings: Settings | None = None,
    *,
    sandbox_url: str | None = None,
    with_oauth: bool = True,
    transport: httpx.BaseTransport | None = None,
    **options: Any,
) -> LinkedAccounts:
    """A ready ``LinkedAccounts``: database (migrated if embedded), vault, OAuth client."""
    settings = settings or Settings.from_env()
    db = open_database(settings)
    vault = open_vault(settings)
    oauth = (
        oauth_config(settings, sandbox_url=sandbox_url, transport=transport) if with_oauth else None
    )
    service = LinkedAccounts.from_settings(
        settings, db, vault, oauth, transport=transport, **options
    )
    service.owns_database = True
    return service
