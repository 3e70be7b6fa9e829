"""The web app factory: ``create_app(service)`` builds the whole ASGI application.

No module globals: everything hangs off the ``Service`` passed in, so a test builds as
many independent apps as it likes. What the app serves:

- the dashboard (``views.py``) and the admin API (``api_views.py``), plus whatever the
  service's extensions add (lead capture's forms);
- ``/healthz`` (the process is alive), ``/readyz`` (database and queue reachable, else 503
  naming the one that failed), ``/metrics`` (Prometheus), ``/api/openapi.json``;
- in sandbox mode, the sandbox itself on CC's paths (``/v3``, ``/oauth2/...``,
  ``/_sandbox``, ``/.well-known/...``): a dispatcher in front of Starlette hands those
  paths to ``SandboxASGI`` untouched, so the browser signs in to the sandbox on the same
  port while the service's own calls reach it in-process.

The lifespan starts the embedded worker (unless told not to) and stops it gracefully.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import anyio
import anyio.to_thread
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

import ccbridge
from ccbridge.web import api_views, views
from ccbridge.web.api import ApiOperation, api_route, openapi_document
from ccbridge.web.auth import LoginThrottle, digest
from ccbridge.web.pages import CORE_NAV, template_environment

if TYPE_CHECKING:
    from ccbridge.service import Service

log = logging.getLogger("ccbridge.web")

READY_TIMEOUT = 5.0
STATIC_DIR = Path(__file__).parent / "static"


# -- health ---------------------------------------------------------------------------------
async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    service: Service = request.app.state.service
    checks: dict[str, str] = {}
    for name, check in (("database", service.check_database), ("queue", service.check_queue)):
        try:
            with anyio.fail_after(READY_TIMEOUT):
                await anyio.to_thread.run_sync(check, abandon_on_cancel=True)
        except TimeoutError:
            checks[name] = f"no answer within {READY_TIMEOUT:g}s"
        except Exception as exc:
            checks[name] = f"unreachable ({type(exc).__name__})"
        else:
            checks[name] = "ok"
    failed = [name for name, result in checks.items() if result != "ok"]
    body: dict[str, Any] = {"status": "ready" if not failed else "unavailable", "checks": checks}
    if failed:
        body["failed"] = failed
    return JSONResponse(body, status_code=503 if failed else 200)


async def metrics(request: Request) -> Response:
    service: Service = request.app.state.service
    payload, content_type = await anyio.to_thread.run_sync(service.metrics.render)
    return Response(payload, media_type=content_type)


def _openapi_route(operations: Sequence[ApiOperation], extra_paths: dict[str, Any]) -> Route:
    async def openapi(request: Request) -> Response:
        service: Service = request.app.state.service
        document = openapi_document(
            operations,
            title="ccbridge admin API",
            version=ccbridge.__version__,
            server=service.settings.public_url,
        )
        for path, item in extra_paths.items():
            document["paths"].setdefault(path, {}).update(item)
        return JSONResponse(document)

    return Route("/api/openapi.json", openapi, methods=["GET"])


async def api_not_found(request: Request) -> Response:
    return JSONResponse(
        {
            "error": {
                "status": 404,
                "code": "not_found",
                "message": f"no API route {request.url.path}",
            }
        },
        status_code=404,
    )


# -- middleware -------------------------------------------------------------------------------
class ServiceMiddleware:
    """Counts requests per route template; adds the headers every answer may carry.

    The stricter page headers (content security policy, no framing) are set by
    ``page_route`` on dashboard pages only: public routes of extensions (a hosted signup
    form that redirects to the site owner's thank-you page) have needs of their own.
    """

    def __init__(self, app: ASGIApp, service: Service) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_with_headers(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                present = {k.lower() for k, _ in headers}
                for name, value in (
                    (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"same-origin"),
                ):
                    if name not in present:
                        headers.append((name, value))
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            method = scope.get("method", "GET")
            self.service.metrics.http_requests.labels(method, template, str(status)).inc()
            self.service.metrics.http_duration.labels(method, template).observe(
                time.perf_counter() - started
            )


class SandboxDispatcher:
    """Sends CC's paths to the in-process sandbox, everything else to the service."""

    def __init__(self, service_app: ASGIApp, sandbox_app: ASGIApp, prefixes: Sequence[str]) -> None:
        self.service_app = service_app
        self.sandbox_app = sandbox_app
        self.prefixes = tuple(prefixes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self._is_sandbox(scope["path"]):
            await self.sandbox_app(scope, receive, send)
        else:
            await self.service_app(scope, receive, send)

    def _is_sandbox(self, path: str) -> bool:
        return any(
            path == p.rstrip("/") or path.startswith(p if p.endswith("/") else p + "/")
            for p in self.prefixes
        )


# -- the factory ----------------------------------------------------------------------------------
def create_app(
    service: Service,
    *,
    run_worker: bool | None = None,
    close_service: bool = False,
    setup_code: str | None = None,
) -> ASGIApp:
    """The service's ASGI app; ``run_worker`` (default: the settings') starts the embedded
    worker at startup. ``close_service`` closes the service at the lifespan's end — the
    last point a server reliably reaches (uvicorn re-raises SIGTERM once it has stopped).
    ``setup_code`` enables ``/setup``, where the first admin is created (while none exists)."""
    embedded = service.settings.embedded_worker if run_worker is None else run_worker
    extensions = list(service.web_extensions)
    operations = api_views.operations() + [op for ext in extensions for op in ext.api]
    routes: list[BaseRoute] = [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
        _openapi_route(
            operations, {p: i for ext in extensions for p, i in ext.openapi_paths.items()}
        ),
        *[api_route(op) for op in operations],
        Mount("/static", app=StaticFiles(directory=str(STATIC_DIR)), name="static"),
        *views.routes(),
        *[route for ext in extensions for route in ext.routes],
        # Last, so that extensions' own /api routes are found first.
        Route("/api/{rest:path}", api_not_found, methods=["GET", "POST", "PUT", "PATCH", "DELETE"]),
    ]

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        from ccbridge.worker import EmbeddedWorker

        worker: EmbeddedWorker | None = None
        if embedded:
            worker = EmbeddedWorker(
                service.jobs,
                threads=service.settings.worker_threads,
                shutdown_timeout=service.settings.shutdown_timeout,
            )
            await anyio.to_thread.run_sync(worker.start)
        try:
            yield
        finally:
            if worker is not None:
                log.info(
                    "stopping the worker (waiting up to %.0fs for running jobs)",
                    service.settings.shutdown_timeout,
                )
                await anyio.to_thread.run_sync(worker.stop)
            if close_service:
                await anyio.to_thread.run_sync(service.close)
                log.info("ccbridge stopped cleanly")

    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.service = service
    app.state.templates = template_environment([e.templates for e in extensions if e.templates])
    app.state.nav = sorted(
        [*CORE_NAV, *[n for e in extensions for n in e.nav]], key=lambda n: n.order
    )
    app.state.login_throttle = LoginThrottle()
    app.state.operations = operations
    app.state.setup_code_hash = digest(setup_code) if setup_code else None
    oauth = service.accounts.oauth
    form_targets = ""
    if oauth is not None:
        parts = urlsplit(oauth.endpoints.authorize_url)
        form_targets = f"{parts.scheme}://{parts.netloc}"
    app.state.page_headers = page_headers(form_targets)
    wrapped: ASGIApp = ServiceMiddleware(app, service)
    if service.sandbox is not None and service.sandbox.sandbox is not None:
        from ccbridge.sandbox import SandboxASGI
        from ccbridge.service import SANDBOX_PATH_PREFIXES

        wrapped = SandboxDispatcher(
            wrapped, SandboxASGI(service.sandbox.sandbox), SANDBOX_PATH_PREFIXES
        )
    return wrapped


def page_headers(form_targets: str) -> dict[str, str]:
    """Headers of every dashboard page: no scripts, no framing, forms post here (or to CC)."""
    csp = (
        "default-src 'self'; style-src 'self'; img-src 'self' data:; script-src 'none'; "
        f"frame-ancestors 'none'; base-uri 'none'; form-action 'self' {form_targets}"
    ).strip()
    return {"Content-Security-Policy": csp, "X-Frame-Options": "DENY"}


def starlette_app(app: ASGIApp) -> Starlette:
    """The Starlette application inside what ``create_app`` returned (its routes, state)."""
    inner: Any = app
    while not isinstance(inner, Starlette):
        inner = inner.service_app if isinstance(inner, SandboxDispatcher) else inner.app
    return inner
