"""Server-rendered dashboard pages: sessions, CSRF, templates — one wrapper for all of them.

Every dashboard page is a small synchronous handler ``def handler(ctx: PageContext) ->
Response`` registered with ``page_route``. The wrapper does, in this order:

1. load the browser session from its cookie (``ccbridge_session``; the database holds
   only a hash of it);
2. for admin pages, send a visitor who is not signed in to ``/login`` (GET) or refuse
   (anything else);
3. for POST, accept only form bodies, and compare the form's ``csrf_token`` with the
   session's in constant time: a missing or wrong token is a 403 before the handler runs;
4. run the handler in a worker thread (database calls block);
5. set or clear the session cookie: HttpOnly, SameSite=Lax, Path=/, and Secure whenever
   the service is reached over https.

Handlers never see a POST that failed the CSRF check, so a page cannot forget it.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

import anyio.to_thread
import jinja2
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from ccbridge.web.auth import Session
from ccbridge.web.extension import NavItem

if TYPE_CHECKING:
    from ccbridge.service import Service

log = logging.getLogger("ccbridge.web")

SESSION_COOKIE = "ccbridge_session"
MAX_FORM_BYTES = 64 * 1024
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
TEMPLATES = Path(__file__).parent / "templates"

CORE_NAV = (
    NavItem("Overview", "/", 0),
    NavItem("Linked accounts", "/accounts", 10),
    NavItem("Bulk activities", "/activities", 20),
    NavItem("API budget", "/budget", 30),
)


def template_environment(extra_dirs: Sequence[Path] = ()) -> jinja2.Environment:
    loaders: list[jinja2.BaseLoader] = [jinja2.FileSystemLoader(str(TEMPLATES))]
    loaders += [jinja2.FileSystemLoader(str(d)) for d in extra_dirs]
    env = jinja2.Environment(
        loader=jinja2.ChoiceLoader(loaders),
        autoescape=jinja2.select_autoescape(["html", "xml"], default_for_string=True),
        undefined=jinja2.StrictUndefined,
    )
    env.filters["when"] = _when
    return env


def _when(value: Any) -> str:
    """A timestamp as ``2026-07-21 10:15 UTC`` (or a dash)."""
    if value is None:
        return "—"
    try:
        return str(value.strftime("%Y-%m-%d %H:%M UTC"))
    except AttributeError:
        return str(value)


@dataclass
class PageContext:
    """What a page handler gets: the request, the service, the session and the form."""

    request: Request
    service: Service
    session: Session | None
    form: Mapping[str, str] = field(default_factory=dict)
    new_session: Session | None = None
    end_session: bool = False

    @property
    def query(self) -> Mapping[str, str]:
        return self.request.query_params

    def ensure_session(self) -> Session:
        """The current session, or a new anonymous one (its cookie is set on the response)."""
        if self.new_session is not None:
            return self.new_session
        if self.session is not None:
            return self.session
        self.new_session = self.service.admin.create_session(None)
        return self.new_session

    @property
    def current(self) -> Session | None:
        return self.new_session or (None if self.end_session else self.session)

    def render(self, template: str, *, status: int = 200, **values: Any) -> Response:
        session = self.current
        env: jinja2.Environment = self.request.app.state.templates
        nav: list[NavItem] = self.request.app.state.nav
        html = env.get_template(template).render(
            service=self.service,
            sandbox=self.service.sandbox,
            banner=_banner(self.service),
            nav=nav if session is not None and session.is_admin else [],
            path=self.request.url.path,
            user=session.username if session is not None else None,
            csrf_token=session.csrf_token if session is not None else "",
            **values,
        )
        return HTMLResponse(html, status_code=status)

    def redirect(self, url: str) -> Response:
        return RedirectResponse(url, status_code=303)


def _banner(service: Service) -> str | None:
    from ccbridge.service import SANDBOX_BANNER

    return SANDBOX_BANNER if service.in_sandbox_mode else None


PageHandler = Callable[[PageContext], Response]


def page_route(
    path: str,
    handler: PageHandler,
    *,
    methods: Sequence[str] = ("GET",),
    admin: bool = True,
    name: str | None = None,
) -> Route:
    """A dashboard route: session, admin check, CSRF on POST, handler in a thread."""

    async def endpoint(request: Request) -> Response:
        service: Service = request.app.state.service
        raw = request.cookies.get(SESSION_COOKIE)
        session = await anyio.to_thread.run_sync(service.admin.load_session, raw)
        form: dict[str, str] = {}
        if request.method == "POST":
            refused = await _read_form(request, form)
            if refused is not None:
                return refused
            if not _csrf_ok(session, form.get("csrf_token")):
                log.info("refused a POST to %s: CSRF token missing or wrong", request.url.path)
                return _problem_page(
                    request,
                    service,
                    403,
                    "Form refused",
                    "This form was not sent from a page of this site, or it has expired "
                    "(the CSRF check failed). Reload the page and try again.",
                )
        if admin and (session is None or not session.is_admin):
            if request.method == "GET":
                target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)
            return _problem_page(request, service, 403, "Sign in first", "Sign in to do this.")
        ctx = PageContext(request, service, session, form)
        response = await anyio.to_thread.run_sync(handler, ctx)
        _apply_session_cookie(request, service, ctx, response)
        return _protect(request, response)

    endpoint.__name__ = name or handler.__name__
    return Route(path, endpoint, methods=list(methods), name=name or handler.__name__)


def _protect(request: Request, response: Response) -> Response:
    for name, value in request.app.state.page_headers.items():
        response.headers.setdefault(name, value)
    return response


async def _read_form(request: Request, form: dict[str, str]) -> Response | None:
    service: Service = request.app.state.service
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if not media_type and request.headers.get("content-length", "0") == "0":
        return None  # an empty post: no fields, so the CSRF check refuses it
    if media_type not in FORM_TYPES:
        return _problem_page(
            request, service, 415, "Unsupported form", "This page accepts HTML form posts only."
        )
    length = request.headers.get("content-length")
    if length is not None and (not length.isdigit() or int(length) > MAX_FORM_BYTES):
        return _problem_page(request, service, 413, "Form too large", "The form is too large.")
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        return _problem_page(request, service, 413, "Form too large", "The form is too large.")
    try:
        data = await request.form()
    except Exception:  # malformed multipart or encoding: the client's fault
        return _problem_page(request, service, 400, "Bad form", "The form could not be read.")
    for key, value in data.items():
        if isinstance(value, str):
            form[key] = value
    return None


def _csrf_ok(session: Session | None, token: str | None) -> bool:
    if session is None or not token:
        return False
    return hmac.compare_digest(token.encode(), session.csrf_token.encode())


def secure_request(request: Request, service: Service) -> bool:
    return service.settings.secure_cookies or request.url.scheme == "https"


def _apply_session_cookie(
    request: Request, service: Service, ctx: PageContext, response: Response
) -> None:
    secure = secure_request(request, service)
    if ctx.new_session is not None:
        max_age = int((ctx.new_session.expires_at - service.admin.now()).total_seconds())
        response.set_cookie(
            SESSION_COOKIE,
            ctx.new_session.raw_id,
            max_age=max(max_age, 60),
            path="/",
            httponly=True,
            samesite="lax",
            secure=secure,
        )
    elif ctx.end_session:
        response.delete_cookie(
            SESSION_COOKIE, path="/", httponly=True, samesite="lax", secure=secure
        )


def _problem_page(
    request: Request, service: Service, status: int, title: str, message: str
) -> Response:
    env: jinja2.Environment = request.app.state.templates
    html = env.get_template("problem.html").render(
        service=service,
        sandbox=service.sandbox,
        banner=_banner(service),
        nav=[],
        path=request.url.path,
        user=None,
        csrf_token="",
        title=title,
        message=message,
        status=status,
    )
    return _protect(request, HTMLResponse(html, status_code=status))


def safe_next(target: str | None) -> str:
    """A post-login destination on this site only (no open redirect)."""
    if not target:
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return "/"
    return target
