"""The errors of linking accounts and keeping their tokens alive.

All derive from ``CCBridgeError``. Each names what went wrong and, where one is involved,
the linked account (by ccbridge's id, never by a token); none carries a token, code or
secret. Three families matter to callers:

- the account needs its owner (``NeedsReauthError``) or was disconnected on purpose
  (``AccountDisconnectedError``): retrying will not help;
- ``TokenRefreshRetriableError``: CC throttled, failed or could not be reached; the account
  is still active and a later attempt will work;
- connect-flow errors (``InvalidStateError`` and its kin, ``AuthorizationDeniedError``,
  ``CodeExchangeError``, ``TokenVerificationError``, ``OfflineAccessMissingError``): the
  link was refused and nothing was stored.
"""

from __future__ import annotations

from ccbridge._errors import CCBridgeError


class LinkedAccountError(CCBridgeError):
    """A problem with one linked account; ``account_id`` is ccbridge's id for it."""

    def __init__(self, message: str, *, account_id: str | None = None) -> None:
        super().__init__(message)
        self.account_id = account_id


class AccountNotFoundError(LinkedAccountError):
    """No linked account has this id."""


class NeedsReauthError(LinkedAccountError):
    """CC no longer accepts the account's refresh token: its owner must connect it again."""


class AccountDisconnectedError(LinkedAccountError):
    """The account was disconnected; its tokens are gone."""


class TokenRefreshError(LinkedAccountError):
    """CC refused a refresh for a reason that is not the account's (e.g. wrong client secret).

    The account stays active: fix the configuration and try again.
    """


class TokenRefreshRetriableError(LinkedAccountError):
    """CC throttled (429), failed (5xx) or could not be reached during a refresh.

    The account stays active and its stored tokens are unchanged: try again later.
    """


class ClientMismatchError(LinkedAccountError):
    """The account was linked through another OAuth client or server than the one configured."""


class RevokeFailedError(LinkedAccountError):
    """CC's revoke endpoint could not be reached or failed; the tokens were kept."""


# -- the vault -------------------------------------------------------------------------
class VaultError(CCBridgeError):
    """The token vault cannot encrypt or decrypt."""

    def __init__(self, message: str, *, account_id: str | None = None) -> None:
        super().__init__(message)
        self.account_id = account_id


class VaultKeyError(VaultError):
    """A key is missing from the key ring, malformed, or the ring cannot be loaded or changed."""


class VaultCorruptError(VaultError):
    """A stored ciphertext does not decrypt with the key that wrote it (damaged data)."""


# -- connect flows ---------------------------------------------------------------------
class ConnectError(CCBridgeError):
    """Linking an account failed; nothing was stored."""


class InvalidStateError(ConnectError):
    """The callback's ``state`` is missing, unknown or was altered."""


class StateReplayError(InvalidStateError):
    """The ``state`` was already used: a callback is accepted once."""


class StateExpiredError(InvalidStateError):
    """The authorization took too long; start again."""


class SessionMismatchError(InvalidStateError):
    """The ``state`` was issued to another browser session (a forged or leaked callback)."""


class AuthorizationDeniedError(ConnectError):
    """The authorization server sent an error instead of a code (e.g. the owner denied)."""

    def __init__(self, error: str, description: str | None = None) -> None:
        self.error = error
        self.error_description = description
        text = f"{error}: {description}" if description else error
        super().__init__(f"the authorization was not granted ({text})")


class CodeExchangeError(ConnectError):
    """CC refused to exchange the authorization or device code for tokens."""

    def __init__(self, message: str, *, error: str | None = None, status: int | None = None):
        super().__init__(message)
        self.error = error
        self.status = status


class DeviceFlowExpiredError(ConnectError):
    """The device code expired before the owner approved it."""


class TokenVerificationError(ConnectError):
    """The access token is not a valid CC token for this client (signature or a claim).

    ``reason`` is one of: malformed, signature, issuer, audience, expired, client_id,
    claims, jwks.
    """

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class OfflineAccessMissingError(ConnectError):
    """CC issued no refresh token: the ``offline_access`` scope was not granted."""
