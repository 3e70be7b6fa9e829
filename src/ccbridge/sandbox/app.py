"""The sandbox: one object holding the emulated CC state and answering requests.

``Sandbox.handle`` is the single entry point used by the ASGI adapter (``ccbridge sandbox``),
the in-process httpx transports and the benchmarks. It routes the request, authenticates
``/v3`` calls with the bearer JWT, enforces scopes and CC's rate limits, applies injected
faults, advances bulk activities on the sandbox clock, calls the handler, and logs the
request with secrets redacted.
"""

from __future__ import annotations

import importlib
import logging
import threading
import time
import traceback
from typing import Any

from ccbridge._spec.operations import OPERATIONS
from ccbridge.sandbox import activities
from ccbridge.sandbox.clock import SandboxClock, iso
from ccbridge.sandbox.errors import CCError, OAuthError
from ccbridge.sandbox.faults import FaultInjector, FaultOutcome
from ccbridge.sandbox.http import SandboxRequest, SandboxResponse, json_response
from ccbridge.sandbox.ratelimit import RateLimiter
from ccbridge.sandbox.requestlog import RequestLog, redact_pairs
from ccbridge.sandbox.routing import Context, Route, Router, RouteTable
from ccbridge.sandbox.state import SandboxSettings, SandboxState
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
    """A stateful emulator of Constant Contact's V3 API and its OAuth2 server."""

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
        s = self.state.settings
        self.api_limiter = RateLimiter(s.per_second, s.per_day)
        self.token_limiter = RateLimiter(s.token_per_second, None)

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
            fault: FaultOutcome | None = None
            try:
                response, fault = self._dispatch(ctx)
            except CCError as exc:
                response = SandboxResponse(
                    exc.status, exc.body(), [("content-type", "application/json")]
                )
            except OAuthError as exc:
                response = SandboxResponse(
                    exc.status,
                    exc.body(),
                    [("content-type", "application/json"), ("cache-control", "no-store")],
                )
            except Exception:  # a sandbox bug must still answer like CC, and be visible
                log.error("sandbox handler failed:\n%s", traceback.format_exc())
                response = SandboxResponse(
                    500,
                    CCError(500, "server_error", "Internal Server Error").body(),
                    [("content-type", "application/json")],
                )
            if fault is not None:
                response.delay += fault.latency
                response.drop = response.drop or fault.drop
            if request.method not in ("GET", "HEAD"):
                self.dirty = True
            self.requests.add(
                {
                    "time": iso(self.clock.now()),
                    "method": request.method,
                    "path": request.path,
                    "query": redact_pairs(request.query),
                    "status": response.status,
                    "operation_id": ctx.operation_id,
                    "client_id": ctx.app.client_id if ctx.app else None,
                    "account_id": ctx.token.account_id if ctx.token else None,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 3),
                    "faults": fault.rule_ids if fault else [],
                }
            )
        return response

    def _dispatch(self, ctx: Context) -> tuple[SandboxResponse, FaultOutcome | None]:
        request = ctx.request
        route, params, path_exists = self.router.match(request.method, request.path)
        if route is None:
            if request.path.startswith("/v3/") and path_exists:
                raise CCError(
                    405, "method_not_allowed", f"{request.method} is not allowed on {request.path}."
                )
            if request.path.startswith("/v3/"):
                raise CCError(
                    404, "not_found", f"No Constant Contact API resource at {request.path}."
                )
            if path_exists:
                raise CCError(405, "method_not_allowed", f"{request.method} is not allowed here.")
            raise CCError(404, "not_found", f"Nothing at {request.path}.")
        ctx.params = params
        ctx.operation_id = route.operation_id
        fault: FaultOutcome | None = None
        if route.kind == "api":
            fault = self._authenticate(ctx, route)
        elif route.kind == "oauth":
            fault = self.faults.check(request.method, request.path, None)
            if fault is not None and fault.error is not None:
                return SandboxResponse(
                    fault.error.status, fault.error.body(), [("content-type", "application/json")]
                ), fault
        result = route.handler(ctx)
        if fault is not None and fault.activity and ctx.data is not None:
            self._fail_newest_activity(ctx, fault.activity)
        return _as_response(result), fault

    def _authenticate(self, ctx: Context, route: Route) -> FaultOutcome | None:
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
        fault = self.faults.check(request.method, request.path, app.client_id)
        if fault is not None and fault.token:
            if fault.token == "revoked":
                self.issuer.revoke_family(self.state, record.family_id or "")
                record.revoked = True
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
        activities.advance_all(data, self.clock.now())
        return fault

    def _fail_newest_activity(self, ctx: Context, ending: str) -> None:
        data = ctx.account
        newest = max(data.activities.values(), key=lambda a: a.created_at, default=None)
        if newest is not None and newest.state not in activities.TERMINAL_STATES:
            newest.fail_with = ending

    # -- conveniences for tests and the CLI ------------------------------------------
    def api_usage(self, client_id: str) -> int:
        return self.api_limiter.used_today(client_id, self.clock.time())


def _as_response(result: Any) -> SandboxResponse:
    if isinstance(result, SandboxResponse):
        return result
    if result is None:
        return SandboxResponse(204)
    return json_response(result)
