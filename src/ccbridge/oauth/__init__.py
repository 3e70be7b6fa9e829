"""Linked accounts: OAuth connect flows, a token vault, and refresh that never strands one.

The pieces, from the outside in:

- ``LinkedAccounts`` (``accounts.py``): the service — link, list, find by the app's own
  reference, hand out a ``Client``/``AsyncClient`` that refreshes transparently
  (``VaultTokenSource``), keep idle accounts alive, disconnect.
- ``connect.py`` / ``loopback.py``: the redirect flow (state bound to a browser session,
  single-use; PKCE S256), the device flow, and the CLI's loopback listener.
- ``protocol.py`` / ``verification.py``: OAuth2 as pure functions; JWT checks via the JWKS.
- ``vault.py`` / ``keys.py``: Fernet key ring, encryption at rest, rotation.
- ``coordination.py``: single-flight, token-endpoint pacing, needs_reauth notification.
"""

from ccbridge.oauth.accounts import (
    CurrentToken,
    KeepAliveReport,
    LinkedAccounts,
    VaultTokenSource,
)
from ccbridge.oauth.connect import DeviceAuthorization, PendingAuthorization
from ccbridge.oauth.coordination import NeedsReauthEvent
from ccbridge.oauth.errors import (
    AccountDisconnectedError,
    AccountNotFoundError,
    AuthorizationDeniedError,
    ClientMismatchError,
    CodeExchangeError,
    ConnectError,
    DeviceFlowExpiredError,
    InvalidStateError,
    LinkedAccountError,
    NeedsReauthError,
    OfflineAccessMissingError,
    RevokeFailedError,
    SessionMismatchError,
    StateExpiredError,
    StateReplayError,
    TokenRefreshError,
    TokenRefreshRetriableError,
    TokenVerificationError,
    VaultCorruptError,
    VaultError,
    VaultKeyError,
)
from ccbridge.oauth.protocol import Endpoints, OAuthClientConfig
from ccbridge.oauth.records import AuditEvent, LinkedAccount
from ccbridge.oauth.setup import oauth_config, open_linked_accounts, open_vault
from ccbridge.oauth.vault import KeyRing, KeySource, TokenVault

__all__ = [
    "AccountDisconnectedError",
    "AccountNotFoundError",
    "AuditEvent",
    "AuthorizationDeniedError",
    "ClientMismatchError",
    "CodeExchangeError",
    "ConnectError",
    "CurrentToken",
    "DeviceAuthorization",
    "DeviceFlowExpiredError",
    "Endpoints",
    "InvalidStateError",
    "KeepAliveReport",
    "KeyRing",
    "KeySource",
    "LinkedAccount",
    "LinkedAccountError",
    "LinkedAccounts",
    "NeedsReauthError",
    "NeedsReauthEvent",
    "OAuthClientConfig",
    "OfflineAccessMissingError",
    "PendingAuthorization",
    "RevokeFailedError",
    "SessionMismatchError",
    "StateExpiredError",
    "StateReplayError",
    "TokenRefreshError",
    "TokenRefreshRetriableError",
    "TokenVault",
    "TokenVerificationError",
    "VaultCorruptError",
    "VaultError",
    "VaultKeyError",
    "VaultTokenSource",
    "oauth_config",
    "open_linked_accounts",
    "open_vault",
]
