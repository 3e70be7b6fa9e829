"""The HTTP face of lead capture: public form endpoints and the admin API and pages.

Public (no authentication; a browser anywhere may call them):

- ``GET /forms/{id}``: the hosted signup page, plain accessible HTML that works without
  JavaScript (labels, required markers, an error summary with ``role=alert``).
- ``GET /forms/{id}/embed.js``: a script that renders the same form inside another site's
  page and posts it with ``fetch``.
- ``POST /forms/{id}/submissions``: JSON or ``application/x-www-form-urlencoded``. Answers
  202 ``{"submission_id"}`` to JSON callers once the submission is committed; a plain HTML
  form post gets ``303 See Other`` to the thank-you page (or the form's redirect), the
  post/redirect/get pattern that makes a reload harmless.
- ``OPTIONS`` on the same path: the CORS preflight. Only the form's allowed origins (and
  the service's own) get ``Access-Control-Allow-Origin``; a post that carries another
  ``Origin`` is refused with 403 and stores nothing.

Errors answer in the caller's language: a CC-shaped JSON array
``[{"error_key", "error_message"}]`` for JSON callers, an HTML page (the form again, with
the person's values and the problem) for browsers posting the plain form.

The admin API lives in ``ccbridge.leads.api`` (the service's ``ApiOperation`` values);
``admin_routes`` serves it in a standalone app behind a guard of the caller's choosing. The
dashboard pages live in ``ccbridge.leads.dashboard``.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import (
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
)
from starlette.routing import BaseRoute, Route

from ccbridge.leads.capture import LeadCapture, RequestInfo
from ccbridge.leads.forms import (
    HONEYPOT_FIELD,
    Form,
    FormDefinitionError,
    normalize_origin,
)
from ccbridge.leads.spam import retry_after_header
from ccbridge.leads.submissions import MAX_BODY_BYTES, InputError, media_type, parse_body

TEMPLATES = Path(__file__).parent / "templates"
AdminGuard = Callable[[Request], Awaitable[Response | None]]
"""Returns None to let an admin request through, or the response that refuses it."""

_env = Environment(
    loader=FileSystemLoader(str(TEMPLATES)),
    autoescape=select_autoescape(["html", "xml"], default_for_string=False),
    trim_blocks=True,
    lstrip_blocks=True,
)

PREFLIGHT_HEADERS = "content-type, accept, idempotency-key"


def render(name: str, **context: Any) -> str:
    return _env.get_template(name).render(**context)


# -- small request helpers -------------------------------------------------------------------
def wants_html(request: Request) -> bool:
    """A browser posting a plain form (or asking for HTML), rather than a script."""
    accept = request.headers.get("accept", "").lower()
    if "application/json" in accept:
        return False
    kind, _ = media_type(request.headers.get("content-type"))
    return kind == "application/x-www-form-urlencoded" or "text/html" in accept


def client_ip(request: Request, capture: LeadCapture) -> str | None:
    if capture.settings.trust_forwarded_for:
        forwarded = request.headers.get("x-forwarded-for")
        if forwarded:
            return forwarded.split(",")[0].strip()[:64] or None
    return request.client.host if request.client else None


def own_origin(request: Request) -> str:
    return f"{request.url.scheme}://{request.url.netloc}".lower()


def origin_allowed(request: Request, form: Form) -> bool | None:
    """True/False for a request with an ``Origin``; None when it has none (not a browser)."""
    origin = request.headers.get("origin")
    if origin is None:
        return None
    if origin == "null":
        return False
    try:
        normalized = normalize_origin(origin)
    except FormDefinitionError:
        return False
    return (
        normalized == normalize_origin(own_origin(request))
        or normalized in form.definition.allowed_origins
    )


def cors_headers(request: Request, form: Form | None) -> dict[str, str]:
    origin = request.headers.get("origin")
    if form is None or origin is None or not origin_allowed(request, form):
        return {"Vary": "Origin"}
    return {"Access-Control-Allow-Origin": origin, "Vary": "Origin"}


async def read_body(request: Request) -> bytes:
    """The body, refusing (413) as soon as it passes the limit instead of reading it all."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise InputError(
            413, f"the body is {declared} bytes; a signup may be at most {MAX_BODY_BYTES} bytes"
        )
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > MAX_BODY_BYTES:
                raise InputError(
                    413,
                    f"the body is over {MAX_BODY_BYTES} bytes; a signup may be at most {MAX_BODY_BYTES} bytes",
                )
            chunks.append(chunk)
    except ClientDisconnect:
        raise InputError(400, "the connection closed before the whole body arrived") from None
    return b"".join(chunks)


def json_error(error: InputError, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(error.body(), status_code=error.status, headers=headers)


# -- the public endpoints ---------------------------------------------------------------------
class PublicForms:
    """Handlers of the public endpoints, bound to one ``LeadCapture``."""

    def __init__(self, capture: LeadCapture, *, banner: str | None = None) -> None:
        self.capture = capture
        self.banner = banner
        """Shown atop every hosted page (the service's sandbox warning), or None."""

    def render(self, name: str, **context: Any) -> str:
        return render(name, banner=self.banner, **context)

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/forms/{form_id}", self.page, methods=["GET", "HEAD"]),
            Route("/forms/{form_id}/embed.js", self.embed, methods=["GET", "HEAD"]),
            Route("/forms/{form_id}/thanks", self.thanks, methods=["GET", "HEAD"]),
            Route("/forms/{form_id}/submissions", self.submit, methods=["POST"]),
            Route("/forms/{form_id}/submissions", self.preflight, methods=["OPTIONS"]),
        ]

    def _form_or_error_page(self, request: Request) -> Form | Response:
        try:
            return self.capture.public_form(request.path_params["form_id"])
        except InputError as error:
            return HTMLResponse(
                self.render("message.html", title="Signup form unavailable", message=error.message),
                status_code=error.status,
            )

    def _page_context(self, request: Request, form: Form, **extra: Any) -> dict[str, Any]:
        return {
            "form": form,
            "d": form.definition,
            "action": f"/forms/{form.id}/submissions",
            "token": self.capture.tokens.issue(form.id),
            "idempotency_key": secrets.token_urlsafe(18),
            "honeypot": HONEYPOT_FIELD,
            "page_url": str(request.url),
            "values": {},
            "error": None,
            "error_field": None,
            **extra,
        }

    async def page(self, request: Request) -> Response:
        form = self._form_or_error_page(request)
        if isinstance(form, Response):
            return form
        html = self.render("form.html", **self._page_context(request, form))
        return HTMLResponse(html, headers={"Cache-Control": "no-store"})

    async def thanks(self, request: Request) -> Response:
        form = self.capture.forms.find(request.path_params["form_id"])
        if form is None:
            return HTMLResponse(
                self.render(
                    "message.html", title="Signup form unavailable", message="No such form."
                ),
                status_code=404,
            )
        return HTMLResponse(self.render("thanks.html", d=form.definition))

    async def embed(self, request: Request) -> Response:
        try:
            form = self.capture.public_form(request.path_params["form_id"])
        except InputError as error:
            message = json.dumps(error.message)
            script = f"console.error('ccbridge signup form: ' + {message});\n"
            return Response(script, status_code=error.status, media_type="text/javascript")
        base = own_origin(request)
        d = form.definition
        config = {
            "formId": form.id,
            "action": f"{base}/forms/{form.id}/submissions",
            "title": d.title,
            "intro": d.intro,
            "fields": [
                {
                    "name": f.name,
                    "label": f.label,
                    "required": f.required,
                    "type": f.input_type,
                    "autocomplete": f.autocomplete,
                    "maxLength": f.max_length,
                }
                for f in d.fields
            ],
            "consentText": d.consent_text,
            "submitLabel": d.submit_label,
            "thankYou": d.thank_you_message,
            "redirect": d.redirect_url,
            "token": self.capture.tokens.issue(form.id),
            "honeypot": HONEYPOT_FIELD,
        }
        # ``<`` escaped so the JSON can never close a script element it is pasted into.
        config_js = json.dumps(config).replace("<", "\\u003c")
        script = render("embed.js", config=config_js)
        return Response(
            script,
            media_type="text/javascript",
            headers={"Cache-Control": "no-store", "Access-Control-Allow-Origin": "*"},
        )

    async def preflight(self, request: Request) -> Response:
        try:
            form = self.capture.public_form(request.path_params["form_id"])
        except InputError as error:
            return json_error(error)
        if not origin_allowed(request, form):
            return json_error(
                InputError(
                    403, "this origin may not post to this form", key="forms.api.origin_not_allowed"
                )
            )
        return Response(
            status_code=204,
            headers={
                **cors_headers(request, form),
                "Access-Control-Allow-Methods": "POST",
                "Access-Control-Allow-Headers": PREFLIGHT_HEADERS,
                "Access-Control-Max-Age": "600",
            },
        )

    async def submit(self, request: Request) -> Response:
        html = wants_html(request)
        form: Form | None = None
        values: dict[str, Any] = {}
        try:
            form = self.capture.public_form(request.path_params["form_id"])
            if origin_allowed(request, form) is False:
                raise InputError(
                    403, "this origin may not post to this form", key="forms.api.origin_not_allowed"
                )
            wait = self.capture.check_rate(form, client_ip(request, self.capture))
            if wait:
                return self._too_many(request, form, wait, html)
            values = parse_body(request.headers.get("content-type"), await read_body(request))
            header_key = request.headers.get("idempotency-key")
            if header_key and "idempotency_key" not in values:
                values["idempotency_key"] = header_key
            accepted = await self.capture.accept(
                form,
                values,
                RequestInfo(
                    ip=client_ip(request, self.capture),
                    user_agent=request.headers.get("user-agent"),
                    referer=request.headers.get("referer"),
                ),
            )
        except InputError as error:
            return self._refuse(request, form, values, error, html)
        headers = {**cors_headers(request, form), "X-Submission-Id": accepted.submission_id}
        if html:
            target = form.definition.redirect_url or f"/forms/{form.id}/thanks"
            return RedirectResponse(target, status_code=303, headers=headers)
        return JSONResponse(
            {"submission_id": accepted.submission_id, "status": "accepted"},
            status_code=202,
            headers=headers,
        )

    def _too_many(self, request: Request, form: Form, wait: float, html: bool) -> Response:
        headers = {**cors_headers(request, form), "Retry-After": retry_after_header(wait)}
        message = f"too many signups right now; try again in {retry_after_header(wait)} seconds"
        if html:
            page = self.render("message.html", title="Please try again shortly", message=message)
            return HTMLResponse(page, status_code=429, headers=headers)
        return JSONResponse(
            [{"error_key": "throttled", "error_message": message}], status_code=429, headers=headers
        )

    def _refuse(
        self,
        request: Request,
        form: Form | None,
        values: dict[str, Any],
        error: InputError,
        html: bool,
    ) -> Response:
        headers = cors_headers(request, form)
        if not html:
            return json_error(error, headers)
        if form is not None and error.status == 400:
            kept = {k: str(v) for k, v in values.items() if isinstance(v, str | int | float)}
            # People read "Email: …", not the field's programmatic name.
            message = error.message
            field = form.definition.field(error.field) if error.field else None
            if field is not None and message.startswith(f"{field.name}: "):
                message = f"{field.label}: {message[len(field.name) + 2 :]}"
            context = self._page_context(
                request, form, values=kept, error=message, error_field=error.field
            )
            if kept.get("page_url"):
                context["page_url"] = kept["page_url"]
            return HTMLResponse(
                self.render("form.html", **context), status_code=400, headers=headers
            )
        title = (
            "Signup form unavailable"
            if error.status in (404, 409)
            else "The signup was not accepted"
        )
        page = self.render("message.html", title=title, message=error.message)
        return HTMLResponse(page, status_code=error.status, headers=headers)


# -- the admin API ------------------------------------------------------------------------------
def admin_routes(capture: LeadCapture, guard: AdminGuard | None = None) -> list[BaseRoute]:
    """The admin API (``/api/forms``, ``/api/deliveries``, ...) for a standalone app.

    The same ``ApiOperation`` values the service serves (``ccbridge.leads.api``), with the
    same validation and JSON errors, but without the service's API tokens: ``guard`` (if
    given) decides who may call them. Inside ``ccbridge serve`` they are installed as the
    service's own operations instead, behind its admin API tokens.
    """
    from ccbridge.leads.api import operations
    from ccbridge.web.api import api_route

    routes: list[BaseRoute] = []
    for op in operations(capture):
        route = api_route(replace(op, auth=False))
        routes.append(
            Route(route.path, _guarded(route.endpoint, guard), methods=[op.method], name=route.name)
        )
    return routes


def _guarded(
    endpoint: Callable[[Request], Awaitable[Response]], guard: AdminGuard | None
) -> Callable[[Request], Awaitable[Response]]:
    async def run(request: Request) -> Response:
        if guard is not None:
            refused = await guard(request)
            if refused is not None:
                return refused
        return await endpoint(request)

    run.__name__ = endpoint.__name__
    return run


def public_routes(capture: LeadCapture, *, banner: str | None = None) -> list[BaseRoute]:
    """The public endpoints, to mount in any Starlette app; ``banner`` tops hosted pages."""
    return PublicForms(capture, banner=banner).routes()


def create_forms_app(
    capture: LeadCapture, *, admin_guard: AdminGuard | None = None, admin: bool = True
) -> Starlette:
    """A standalone app with the lead-capture routes (tests, benchmarks, small deployments)."""
    routes = public_routes(capture)
    if admin:
        routes += admin_routes(capture, admin_guard)

    async def health(request: Request) -> Response:
        return PlainTextResponse("ok")

    routes.append(Route("/healthz", health, methods=["GET"]))
    app = Starlette(routes=routes)
    app.state.service = None  # the admin operations here take no service API token
    return app
