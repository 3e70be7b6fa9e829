"""Wiring the service: settings → database → vault and linked accounts → CC (or the sandbox)
→ rate limiter, metrics and job queue → extensions (lead capture) → web app and worker.

One function, ``build_service``, so ``ccbridge serve``, ``ccbridge worker`` and the tests
assemble exactly the same parts, and a job enqueued by one process finds the same job
registered in every other.

Which CC: with ``CCBRIDGE_CLIENT_ID`` (and secret and redirect URI) the real Constant
Contact (or a look-alike at ``CCBRIDGE_CC_AUTH_URL``). Without them, the sandbox runs
inside ``ccbridge serve``: the web app serves its OAuth pages and API on the same port (so
the browser can sign in to it), and the service's own calls reach it in-process through
``SandboxTransport``. Its state is kept in ``<data dir>/sandbox.sqlite`` so linked
accounts survive restarts. ``ccbridge worker`` processes in that mode reach the sandbox
over HTTP at ``CCBRIDGE_PUBLIC_URL``, where ``serve`` runs it.

Extensions: modules listed in ``EXTENSIONS`` (lead capture) are imported when present, and
those named in ``CCBRIDGE_EXTENSIONS`` must be; their ``install(service)`` adds jobs, web
routes and navigation entries.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select, text

from ccbridge._client import Client
from ccbridge._ratelimit import RateLimiter, RedisBackend, SQLiteBackend
from ccbridge.config import SANDBOX_DEMO_CLIENT_ID, ConfigError
from ccbridge.oauth import LinkedAccounts, OAuthClientConfig
from ccbridge.oauth.protocol import Endpoints
from ccbridge.oauth.setup import oauth_config, open_vault
from ccbridge.store import Database, open_database, upgrade
from ccbridge.store.schema import account_events, linked_accounts
from ccbridge.web.auth import SCRYPT_LOG_N, AdminStore
from ccbridge.web.budget import Budget, read_budget
from ccbridge.web.metrics import ServiceMetrics, counter_family, gauge_family
from ccbridge.web.settings import ServiceSettings
from ccbridge.worker import JobQueue, create_huey

if TYPE_CHECKING:
    from prometheus_client.core import Metric

    from ccbridge.sandbox import Sandbox
    from ccbridge.sandbox.persistence import SandboxStore
    from ccbridge.web.extension import WebExtension

log = logging.getLogger("ccbridge.service")

SANDBOX_BANNER = "SANDBOX — not connected to Constant Contact"
SANDBOX_PATH_PREFIXES = ("/v3", "/oauth2/", "/_sandbox", "/.well-known/")
EXTENSIONS: tuple[str, ...] = ("ccbridge.leads.service",)
"""Modules whose ``install(service)`` is called when they are installed."""

KEEP_ALIVE_JOB = "linked_accounts.keep_alive"
PURGE_SESSIONS_JOB = "web.purge_sessions"
DAY = 86_400

Progress = Callable[[str], None]


@dataclass
class SandboxInfo:
    """The sandbox running inside this service, and the demo login to show a newcomer."""

    sandbox: Sandbox | None
    store: SandboxStore | None
    client_id: str
    client_secret: str
    login: str
    password: str


@dataclass
class Service:
    """Every long-lived part of a running ccbridge service."""

    settings: ServiceSettings
    db: Database
    admin: AdminStore
    accounts: LinkedAccounts
    limiter: RateLimiter
    metrics: ServiceMetrics
    jobs: JobQueue
    sandbox: SandboxInfo | None = None
    web_extensions: list[WebExtension] = field(default_factory=list)
    on_close: list[Callable[[], None]] = field(default_factory=list)

    @property
    def in_sandbox_mode(self) -> bool:
        return self.sandbox is not None

    @property
    def client_id(self) -> str:
        oauth = self.accounts.oauth
        return oauth.client_id if oauth is not None else "unconfigured"

    def client(self, account_id: str, **options: Any) -> Client:
        """A ``Client`` for a linked account, paced by the shared budget and counted."""
        options.setdefault("rate_limit", self.limiter)
        options.setdefault("on_response", [self.metrics.cc_response_hook()])
        return self.accounts.client(account_id, **options)

    def budget(self) -> Budget:
        return read_budget(self.limiter, self.client_id)

    def add_web_extension(self, extension: WebExtension) -> None:
        self.web_extensions.append(extension)

    # -- health --------------------------------------------------------------------------
    def check_database(self) -> None:
        with self.db.read() as conn:
            conn.execute(text("SELECT 1"))

    def check_queue(self) -> None:
        self.jobs.ping()

    def close(self) -> None:
        for hook in reversed(self.on_close):
            try:
                hook()
            except Exception as exc:  # close everything else regardless
                log.warning("closing a service part failed: %s", exc)
        self.on_close.clear()


# -- building ------------------------------------------------------------------------------
def build_service(
    settings: ServiceSettings,
    *,
    role: str = "serve",
    migrate: bool = False,
    install_extensions: bool = True,
    scrypt_log_n: int = SCRYPT_LOG_N,
    progress: Progress | None = None,
) -> Service:
    """Assemble the service. ``role`` is "serve" (may run the sandbox in-process) or "worker"."""
    step = progress or (lambda _name: None)
    closers: list[Callable[[], None]] = []
    try:
        step("database")
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        db = _open_database(settings, migrate)
        closers.append(db.dispose)
        step("vault")
        vault = open_vault(settings.base)
        step("sandbox" if settings.uses_sandbox else "Constant Contact")
        sandbox, oauth, transports = _cc_target(settings, role, closers)
        accounts = LinkedAccounts.from_settings(
            settings.base,
            db,
            vault,
            oauth,
            transport=transports[0],
            async_transport=transports[1],
        )
        closers.append(accounts.close)
        step("rate limiter")
        limiter = _limiter(settings)
        closers.append(limiter.close)
        step("job queue")
        jobs = JobQueue(
            create_huey(
                name=settings.queue_name, data_dir=settings.data_dir, redis_url=settings.redis_url
            )
        )
        closers.append(jobs.close)
        metrics = ServiceMetrics()
        jobs.add_observer(metrics.observe_job)
        admin = AdminStore(
            db, session_lifetime=timedelta(hours=settings.session_hours), scrypt_log_n=scrypt_log_n
        )
        service = Service(
            settings=settings,
            db=db,
            admin=admin,
            accounts=accounts,
            limiter=limiter,
            metrics=metrics,
            jobs=jobs,
            sandbox=sandbox,
            on_close=closers,
        )
        _register_core_jobs(service)
        _register_metric_sources(service)
        if install_extensions:
            step("extensions")
            _install_extensions(service, (*EXTENSIONS, *settings.extensions))
        return service
    except BaseException:
        for close in reversed(closers):
            with contextlib.suppress(Exception):
                close()
        raise


def _open_database(settings: ServiceSettings, migrate: bool) -> Database:
    if migrate and not settings.base.embedded_database:
        db = Database(settings.base.effective_database_url, schema=settings.base.database_schema)
        try:
            upgrade(db)
        except Exception:
            db.dispose()
            raise
        return db
    return open_database(settings.base)


def _limiter(settings: ServiceSettings) -> RateLimiter:
    """The CC budget: Redis when scaled out (every machine), else a file in the data dir."""
    backend: RedisBackend | SQLiteBackend
    if settings.redis_url is not None:
        backend = RedisBackend(settings.redis_url)
    else:
        backend = SQLiteBackend(settings.data_dir / "ratelimit.sqlite")
    return RateLimiter(backend, per_second=settings.per_second, per_day=settings.daily_quota)


def _cc_target(
    settings: ServiceSettings, role: str, closers: list[Callable[[], None]]
) -> tuple[SandboxInfo | None, OAuthClientConfig | None, tuple[Any, Any]]:
    """(sandbox, OAuth client, (sync transport, async transport)) for these settings."""
    if not settings.uses_sandbox:
        return None, oauth_config(settings.base), (None, None)
    if role == "serve":
        return _embedded_sandbox(settings, closers)
    return _remote_sandbox(settings)


def _embedded_sandbox(
    settings: ServiceSettings, closers: list[Callable[[], None]]
) -> tuple[SandboxInfo, OAuthClientConfig, tuple[Any, Any]]:
    from ccbridge.cli.sandbox_cmd import DEMO_LOGIN, DEMO_PASSWORD, seed_demo
    from ccbridge.sandbox import AsyncSandboxTransport, SandboxTransport
    from ccbridge.sandbox.persistence import SandboxStore

    store = SandboxStore(settings.data_dir / "sandbox.sqlite")
    sandbox = store.open_sandbox(base_url=settings.public_url, rate_limits=True)
    client_id, secret, _ = seed_demo(sandbox, settings.public_url)
    app = sandbox.state.apps[client_id]
    if settings.callback_url not in app.redirect_uris:
        app.redirect_uris.insert(0, settings.callback_url)
    store.save(sandbox)
    store.start_autosave(sandbox)

    def save() -> None:
        store.stop()
        store.save(sandbox)

    closers.append(save)
    oauth = OAuthClientConfig(
        client_id=client_id,
        client_secret=secret,
        endpoints=Endpoints.okta_layout(settings.public_url, settings.public_url),
        redirect_uri=settings.callback_url,
    )
    info = SandboxInfo(sandbox, store, client_id, secret, DEMO_LOGIN, DEMO_PASSWORD)
    return info, oauth, (SandboxTransport(sandbox), AsyncSandboxTransport(sandbox))


def _remote_sandbox(
    settings: ServiceSettings,
) -> tuple[SandboxInfo | None, OAuthClientConfig | None, tuple[Any, Any]]:
    """A worker in sandbox mode talks to the sandbox that ``serve`` runs, over HTTP."""
    from ccbridge.cli.sandbox_cmd import DEMO_LOGIN, DEMO_PASSWORD
    from ccbridge.sandbox.persistence import SandboxStore

    path = settings.data_dir / "sandbox.sqlite"
    state = SandboxStore(path).load() if path.exists() else None
    app = state.apps.get(SANDBOX_DEMO_CLIENT_ID) if state is not None else None
    if app is None:
        log.warning(
            "no CC credentials and no sandbox state in %s: jobs that call CC will fail until "
            "`ccbridge serve` has run once (or set CCBRIDGE_CLIENT_ID ...)",
            settings.data_dir,
        )
        return None, None, (None, None)
    oauth = OAuthClientConfig(
        client_id=app.client_id,
        client_secret=app.client_secret,
        endpoints=Endpoints.okta_layout(settings.public_url, settings.public_url),
        redirect_uri=settings.callback_url,
    )
    info = SandboxInfo(None, None, app.client_id, app.client_secret, DEMO_LOGIN, DEMO_PASSWORD)
    return info, oauth, (None, None)


def _register_core_jobs(service: Service) -> None:
    def keep_alive() -> dict[str, Any]:
        if service.accounts.oauth is None:
            log.info("keep-alive skipped: no OAuth client is configured")
            return {}
        report = service.accounts.keep_alive()
        log.info(
            "keep-alive: %d checked, %d refreshed, %d need reauth, %d failed",
            report.checked,
            len(report.refreshed),
            len(report.needs_reauth),
            len(report.failed),
        )
        return {"checked": report.checked, "refreshed": len(report.refreshed)}

    service.jobs.register_periodic(KEEP_ALIVE_JOB, DAY, keep_alive)
    service.jobs.register_periodic(PURGE_SESSIONS_JOB, 3600, service.admin.purge_expired)


def _register_metric_sources(service: Service) -> None:
    def from_database() -> Iterable[Metric]:
        with service.db.read() as conn:
            events: dict[str, int] = dict(
                conn.execute(
                    select(account_events.c.event, func.count()).group_by(account_events.c.event)
                ).all()
            )
            statuses: dict[str, int] = dict(
                conn.execute(
                    select(linked_accounts.c.status, func.count()).group_by(
                        linked_accounts.c.status
                    )
                ).all()
            )
        refreshes = {
            "refreshed": float(events.get("refreshed", 0)),
            "refresh_failed": float(events.get("refresh_failed", 0)),
            "needs_reauth": float(events.get("needs_reauth", 0)),
        }
        yield counter_family(
            "ccbridge_token_refreshes",
            "Token refreshes of linked accounts by outcome (all processes; from the audit log).",
            "outcome",
            refreshes,
        )
        yield gauge_family(
            "ccbridge_linked_accounts",
            "Linked accounts by status.",
            ["status"],
            {(s,): float(statuses.get(s, 0)) for s in ("active", "needs_reauth", "disconnected")},
        )

    def budget() -> Iterable[Metric]:
        current = service.budget()
        yield gauge_family(
            "ccbridge_api_budget_used_today",
            "CC API requests counted today (UTC) for the client_id, shared by every process.",
            ["client_id"],
            {(current.client_id,): float(current.used)},
        )
        if current.daily_limit is not None:
            yield gauge_family(
                "ccbridge_api_budget_daily_limit",
                "The client_id's daily CC API quota.",
                ["client_id"],
                {(current.client_id,): float(current.daily_limit)},
            )

    service.metrics.add_source(from_database)
    service.metrics.add_source(budget)


def _install_extensions(service: Service, modules: Iterable[str]) -> None:
    for name in modules:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            # Only "this extension is not part of the installation" is tolerated; a missing
            # dependency *inside* an extension is a real error.
            if name in EXTENSIONS and exc.name is not None and name.startswith(exc.name):
                log.debug("extension %s is not installed", name)
                continue
            raise
        install = getattr(module, "install", None)
        if not callable(install):
            raise ConfigError(f"extension {name} has no install(service) function")
        install(service)
