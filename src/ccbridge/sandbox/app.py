"""The sandbox: one object holding the emulated CC state and answering requests.

``Sandbox.handle`` is the single entry point used by the ASGI adapter (``ccbridge sandbox``),
the in-process httpx transports and the benchmarks. It routes the request, authenticates
``/v3`` calls with the bearer JWT, enforces scopes and CC's rate limits, applies injected
faults, advances bulk activities on the sandbox clock, calls the handler, and logs the
request with secrets redacted.
"""

from __future__ import annotations

import base64
import binascii
import importlib
import logging
import threading
import time
import traceback
from typing import Any
from urllib.parse import unquote

from ccbridge._spec.operations import OPERATIONS
from ccbridge.sandbox import activities
from ccbridge.sandbox.clock import SandboxClock, iso
from ccbridge.sandbox.errors import CCError, OAuthError
from ccbridge.sandbox.faults import FaultInjector, fault_error
from ccbridge.sandbox.http import SandboxRequest, SandboxResponse, json_response
from ccbridge.sandbox.ratelimit import RateLimiter
from ccbridge.sandbox.requestlog import RequestLog, redact_pairs, scrub_secrets
from ccbridge.sandbox.routing import Context, Route, Router, RouteTable
from ccbridge.sandbox.state import AccessTokenRecord, AccountData, SandboxSettings, SandboxState
from ccbridge.sandbox.tokens import TokenIssuer

log = logging.getLogger("ccbridge.sandbox")

RESOURCE_MODULES = (
    "account",
    "contacts",
    "contact_lists",
    "contact_tags",
    "custom_fields",
    "segments",
    "bulk_activities",
    "email_campaigns",
    "email_scheduling",
    "reporting",
)
"""One module per swagger tag group under ``ccbridge.sandbox.resources``."""

SHELL_MODULES = ("ccbridge.sandbox.oauth_server", "ccbridge.sandbox.control")

DEFAULT_BASE_URL = "http://sandbox.ccbridge.test"


def _collect_routes() -> list[Route]:
    routes: list[Route] = []
    implemented: set[str] = set()
    modules = [f"ccbridge.sandbox.resources.{name}" for name in RESOURCE_MODULES]
    for module_name in [*modules, *SHELL_MODULES]:
        module = importlib.import_module(module_name)
        table: RouteTable = module.routes
        routes.extend(table.routes)
        implemented.update(r.operation_id for r in table.routes if r.operation_id)
    for op in OPERATIONS:
        if op["operation_id"] not in implemented:
            routes.append(_not_implemented_route(op))
    return routes


def _not_implemented_route(op: dict[str, Any]) -> Route:
    def handler(ctx: Context) -> Any:
        raise CCError.not_implemented(op["operation_id"], op["method"], op["path"])

    return Route(
        method=op["method"],
        path="/v3" + op["path"],
        handler=handler,
        kind="api",
        operation_id=op["operation_id"],
        scopes=tuple(op["scopes"]),
    )


class Sandbox:
    """A stateful emulator of Constant Contact's V3 API and its OAuth2 server.

    When ``state`` is given (a restored ``--data`` file) its settings win over
    ``rate_limits``/``settings``. ``fault_seed`` seeds the random draws of fault rules
    that have a probability, so a flaky-network test replays identically.
    """

    def __init__(
        self,
        *,
        base_url: str = DEFAULT_BASE_URL,
        rate_limits: bool = True,
        settings: SandboxSettings | None = None,
        state: SandboxState | None = None,
        signing_key_pem: bytes | None = None,
        fault_seed: int | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.state = state or SandboxState(settings=settings or SandboxSettings())
        if state is None:
            self.state.settings.rate_limits = rate_limits
        self.clock = SandboxClock(self.state.clock_offset)
        self.issuer = TokenIssuer(self.base_url + "/oauth2/default", signing_key_pem)
        self.router = Router(_collect_routes())
        self.faults = FaultInjector(seed=fault_seed)
        self.requests = RequestLog()
        self.lock = threading.RLock()
        self._reset_limiters()
        self.dirty = False  # set after any state-changing request; used by --data persistence

    # -- lifecycle --------------------------------------------------------------
    def _reset_limiters(self) -> None:
        """Fresh limiters with nothing counted (on start and on reset)."""
        s = self.state.settings
        self.api_limiter = RateLimiter(s.per_second, s.per_day)
        self.token_limiter = RateLimiter(s.token_per_second, None)

    def apply_settings(self) -> None:
        """Make changed limits take effect without forgetting today's counts."""
        s = self.state.settings
        self.api_limiter.configure(s.per_second, s.per_day)
        self.token_limiter.configure(s.token_per_second, None)
        self.dirty = True

    def reset(self) -> None:
        """Forget everything but the signing key (tokens minted before are then unknown)."""
        with self.lock:
            settings = self.state.settings
            self.state = SandboxState(settings=settings)
            self.clock = SandboxClock(0.0)
            self.faults.clear()
            self.requests.clear()
            self._reset_limiters()
            self.dirty = True

    def advance_clock(self, seconds: float) -> None:
        with self.lock:
            self.clock.advance(seconds)
            self.state.clock_offset = self.clock.offset_seconds
            self.dirty = True

    # -- the one entry point -------------------------------------------------------
    def handle(self, request: SandboxRequest) -> SandboxResponse:
        started = time.perf_counter()
        with self.lock:
            ctx = Context(request=request, sandbox=self, params={})
            try:
                response = self._dispatch(ctx)
            except CCError as exc:
                response = _cc_error_response(exc)
            except OAuthError as exc:
                response = _oauth_error_response(exc)
            except Exception:  # a sandbox bug must still answer like CC, and be visible
                # The traceback may quote request values; keep credentials out of the log.
                log.error(
                    "sandbox handler failed on %s %s:\n%s",
                    request.method,
                    request.path,
                    scrub_secrets(traceback.format_exc(), request),
                )
                response = _cc_error_response(CCError(500, "server_error", "Internal Server Error"))
            if ctx.fault is not None:
                response.delay += ctx.fault.latency
                response.drop = response.drop or ctx.fault.drop
            if request.method == "HEAD":
                response.body = b""
            if request.method not in ("GET", "HEAD"):
                self.dirty = True
            self._log_request(ctx, response, started)
        return response

    def refuse_too_large(self, request: SandboxRequest, limit: int) -> SandboxResponse:
        """Answer (and log) a request whose body exceeded ``limit`` bytes; nothing is parsed."""
        started = time.perf_counter()
        error = CCError(413, "request.too_large", f"The request body exceeds {limit} bytes.")
        response = _cc_error_response(error)
        with self.lock:
            self._log_request(Context(request=request, sandbox=self, params={}), response, started)
        return response

    def _log_request(self, ctx: Context, response: SandboxResponse, started: float) -> None:
        request = ctx.request
        if ctx.app is not None:
            client_id: str | None = ctx.app.client_id
        elif request.path.startswith("/oauth2/"):
            client_id = oauth_client_id(request)
        else:
            client_id = None
        self.requests.add(
            {
                "time": iso(self.clock.now()),
                "method": request.method,
                "path": request.path,
                "query": redact_pairs(request.query, request.path),
                "status": response.status,
                "operation_id": ctx.operation_id,
                "client_id": client_id,
                "account_id": ctx.token.account_id if ctx.token else None,
                "duration_ms": round((time.perf_counter() - started) * 1000, 3),
                "faults": list(ctx.fault.rule_ids) if ctx.fault else [],
            }
        )

    def _dispatch(self, ctx: Context) -> SandboxResponse:
        request = ctx.request
        route, params, path_exists = self.router.match(request.method, request.path)
        if route is None:
            raise _no_route(request, path_exists)
        ctx.params = params
        ctx.operation_id = route.operation_id
        activities_before: set[str] = set()
        if route.kind == "api":
            self._authenticate(ctx, route)
            if ctx.fault is not None and ctx.fault.activity:
                activities_before = set(ctx.account.activities)
        elif route.kind == "oauth":
            ctx.fault = self.faults.check(request.method, request.path, oauth_client_id(request))
            if ctx.fault is not None and ctx.fault.error is not None:
                raise _as_oauth_error(ctx.fault.error)
        result = route.handler(ctx)
        if ctx.fault is not None and ctx.fault.activity and ctx.data is not None:
            self._fail_new_activities(ctx.data, activities_before, ctx.fault.activity)
        return _as_response(result)

    def _authenticate(self, ctx: Context, route: Route) -> None:
        """Bearer token, then faults, rate limits and scopes, in the order CC's gateway would."""
        request = ctx.request
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise CCError.unauthorized()
        record = self.issuer.verify_access_token(self.state, self.clock, token.strip())
        if record is None:
            raise CCError.unauthorized()
        app = self.state.apps.get(record.client_id)
        data = self.state.accounts.get(record.account_id)
        if app is None or data is None:
            raise CCError.unauthorized()
        ctx.token, ctx.app, ctx.data = record, app, data
        fault = ctx.fault = self.faults.check(request.method, request.path, app.client_id)
        if fault is not None and fault.token:
            self._kill_token(record, fault.token)
            raise CCError.unauthorized()
        if self.state.settings.rate_limits:
            verdict = self.api_limiter.check(app.client_id, self.clock.time())
            if verdict == "throttled":
                raise CCError.throttled()
            if verdict == "quota":
                raise CCError.quota_exceeded()
        if fault is not None and fault.error is not None:
            raise fault.error
        granted = set(record.scope.split())
        if route.scopes and not granted.intersection(route.scopes):
            raise CCError.forbidden(
                f"This operation needs one of the scopes: {', '.join(route.scopes)}."
            )
        if activities.queued_count(data):
            self.dirty = True  # progressing activities change state even on a GET
            activities.advance_all(data, self.clock.now())

    def _kill_token(self, record: AccessTokenRecord, how: str) -> None:
        """An injected token fault: 'expired' ends this access token (its refresh token still
        works); 'revoked' ends the whole consent, refresh tokens included, for good."""
        if how == "revoked":
            if record.family_id:
                self.issuer.revoke_family(self.state, record.family_id)
            record.revoked = True
        else:
            record.expires_at = min(record.expires_at, self.clock.time())
        self.dirty = True

    def _fail_new_activities(self, data: AccountData, before: set[str], ending: str) -> None:
        """Make the bulk activities the matched request created end as ``ending``."""
        for activity_id, activity in data.activities.items():
            if activity_id not in before and activity.state not in activities.TERMINAL_STATES:
                activity.fail_with = ending

    # -- conveniences for tests and the CLI ------------------------------------------
    def api_usage(self, client_id: str) -> int:
        """API requests counted today (UTC, sandbox clock) for one client_id."""
        return self.api_limiter.used_today(client_id, self.clock.time())


def oauth_client_id(request: SandboxRequest) -> str | None:
    """The client_id an OAuth request names: Basic credentials, then query, then form body.

    The client_id is public, so it may be logged and matched by fault rules.
    """
    header = request.headers.get("authorization", "")
    scheme, _, credentials = header.partition(" ")
    if scheme.lower() == "basic" and credentials.strip():
        try:
            decoded = base64.b64decode(credentials.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            decoded = ""
        user = unquote(decoded.partition(":")[0])
        if user:
            return user
    from_query = request.q("client_id")
    if from_query:
        return from_query
    if request.media_type == "application/x-www-form-urlencoded":
        return request.form().get("client_id") or None
    return None


def _no_route(request: SandboxRequest, path_exists: bool) -> CCError:
    if path_exists:
        return CCError(
            405, "method_not_allowed", f"{request.method} is not allowed on {request.path}."
        )
    if request.path.startswith("/v3/"):
        return CCError(404, "not_found", f"No Constant Contact API resource at {request.path}.")
    return CCError(404, "not_found", f"Nothing at {request.path}.")


_OAUTH_FAULT_ERRORS = {
    400: "invalid_request",
    401: "invalid_client",
    403: "access_denied",
    429: "rate_limited",  # what the sandbox's own token-endpoint throttling answers
    503: "temporarily_unavailable",
}


def _as_oauth_error(error: CCError) -> OAuthError:
    """An injected fault on an OAuth endpoint, in RFC 6749's shape that OAuth clients parse.

    A rule's own ``error_key`` is used as the OAuth ``error`` when it set one; CC-style
    defaults (``throttled``, ``*.api.*``) are mapped to the nearest OAuth code.
    """
    default = fault_error(error.status)
    if error.error_key != default.error_key:
        code = error.error_key
    else:
        code = _OAUTH_FAULT_ERRORS.get(error.status) or (
            "server_error" if error.status >= 500 else "invalid_request"
        )
    return OAuthError(code, error.error_message, error.status)


def _cc_error_response(exc: CCError) -> SandboxResponse:
    return SandboxResponse(exc.status, exc.body(), [("content-type", "application/json")])


def _oauth_error_response(exc: OAuthError) -> SandboxResponse:
    return SandboxResponse(
        exc.status,
        exc.body(),
        [("content-type", "application/json"), ("cache-control", "no-store")],
    )


def _as_response(result: Any) -> SandboxResponse:
    if isinstance(result, SandboxResponse):
        return result
    if result is None:
        return SandboxResponse(204)
    return json_response(result)
