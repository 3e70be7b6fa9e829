"""ccbridge: Constant Contact V3 for Python.

The public API is flat: everything a user needs is importable from ``ccbridge`` itself.
"""

from ccbridge._auth import (
    DEFAULT_TOKEN_URL,
    RefreshingTokenSource,
    StaticToken,
    TokenSet,
    TokenSource,
)
from ccbridge._base_client import DEFAULT_BASE_URL
from ccbridge._client import AsyncClient, Client
from ccbridge._errors import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    CCBridgeError,
    ConflictError,
    ErrorDetail,
    InvalidArgumentError,
    NotFoundError,
    NotImplementedBySandbox,
    OAuthError,
    PaginationError,
    PermissionDeniedError,
    QuotaExceededError,
    RateLimitError,
    ResponseParseError,
    ServerError,
    UnsupportedMediaTypeError,
)
from ccbridge._logging import RequestEvent, ResponseEvent
from ccbridge._pagination import AsyncPaginator, Page, Paginator
from ccbridge._ratelimit import (
    MemoryBackend,
    RateLimitBackend,
    RateLimiter,
    RateLimits,
    RedisBackend,
    SQLiteBackend,
)
from ccbridge._retry import RetryPolicy

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_TOKEN_URL",
    "APIConnectionError",
    "APIError",
    "APITimeoutError",
    "AsyncClient",
    "AsyncPaginator",
    "AuthenticationError",
    "BadRequestError",
    "CCBridgeError",
    "Client",
    "ConflictError",
    "ErrorDetail",
    "InvalidArgumentError",
    "MemoryBackend",
    "NotFoundError",
    "NotImplementedBySandbox",
    "OAuthError",
    "Page",
    "PaginationError",
    "Paginator",
    "PermissionDeniedError",
    "QuotaExceededError",
    "RateLimitBackend",
    "RateLimitError",
    "RateLimiter",
    "RateLimits",
    "RedisBackend",
    "RefreshingTokenSource",
    "RequestEvent",
    "ResponseEvent",
    "ResponseParseError",
    "RetryPolicy",
    "SQLiteBackend",
    "ServerError",
    "StaticToken",
    "TokenSet",
    "TokenSource",
    "UnsupportedMediaTypeError",
    "__version__",
]
