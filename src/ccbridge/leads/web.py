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

Admin (mounted by the service behind its login; see ``admin_routes``): form CRUD, delivery
listings, dead-letter retry, approving flagged submissions, consent evidence per email and
the CSV export.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Awaitable, Callable
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
    StreamingResponse,
)
from starlette.routing import BaseRoute, Route

from ccbridge.leads.capture import LeadCapture, RequestInfo
from ccbridge.leads.export import evidence_for_email, submissions_csv
from ccbridge.leads.forms import (
    HONEYPOT_FIELD,
    Form,
    FormDefinitionError,
    FormNotFoundError,
    normalize_origin,
)
from ccbridge.leads.outbox import DEAD, DELIVERED, HELD, PENDING
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

    def __init__(self, capture: LeadCapture) -> None:
        self.capture = capture

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
                render("message.html", title="Signup form unavailable", message=error.message),
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
        html = render("form.html", **self._page_context(request, form))
        return HTMLResponse(html, headers={"Cache-Control": "no-store"})

    async def thanks(self, request: Request) -> Response:
        form = self.capture.forms.find(request.path_params["form_id"])
        if form is None:
            return HTMLResponse(
                render("message.html", title="Signup form unavailable", message="No such form."),
                status_code=404,
            )
        return HTMLResponse(render("thanks.html", d=form.definition))

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
            page = render("message.html", title="Please try again shortly", message=message)
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
            return HTMLResponse(render("form.html", **context), status_code=400, headers=headers)
        title = (
            "Signup form unavailable"
            if error.status in (404, 409)
            else "The signup was not accepted"
        )
        page = render("message.html", title=title, message=error.message)
        return HTMLResponse(page, status_code=error.status, headers=headers)


# -- the admin API and pages -------------------------------------------------------------------
def _admin_error(
    status: int, message: str, key: str = "forms.api.validation.error"
) -> JSONResponse:
    return JSONResponse([{"error_key": key, "error_message": message}], status_code=status)


class AdminForms:
    """Admin handlers; every one runs ``guard`` first (the service's login check)."""

    STATES = (PENDING, HELD, DELIVERED, DEAD)

    def __init__(self, capture: LeadCapture, guard: AdminGuard | None = None) -> None:
        self.capture = capture
        self.guard = guard

    def routes(
        self, api_prefix: str = "/admin/api", page_prefix: str | None = "/admin"
    ) -> list[BaseRoute]:
        """The API routes, and the standalone HTML pages unless ``page_prefix`` is None."""
        a, p = api_prefix, page_prefix
        g = self._guarded
        routes: list[BaseRoute] = [
            Route(f"{a}/forms", g(self.list_forms), methods=["GET"]),
            Route(f"{a}/forms", g(self.create_form), methods=["POST"]),
            Route(f"{a}/forms/{{form_id}}", g(self.show_form), methods=["GET"]),
            Route(f"{a}/forms/{{form_id}}", g(self.update_form), methods=["PATCH"]),
            Route(f"{a}/forms/{{form_id}}/disable", g(self.disable_form), methods=["POST"]),
            Route(f"{a}/forms/{{form_id}}/enable", g(self.enable_form), methods=["POST"]),
            Route(f"{a}/forms/{{form_id}}/export.csv", g(self.export_csv), methods=["GET"]),
            Route(f"{a}/deliveries", g(self.list_deliveries), methods=["GET"]),
            Route(f"{a}/deliveries/retry-dead", g(self.retry_dead), methods=["POST"]),
            Route(f"{a}/submissions/{{submission_id}}/approve", g(self.approve), methods=["POST"]),
            Route(f"{a}/consent", g(self.consent), methods=["GET"]),
        ]
        if p is not None:
            routes.append(Route(f"{p}/forms", g(self.forms_page), methods=["GET"]))
            routes.append(Route(f"{p}/forms/{{form_id}}", g(self.form_page), methods=["GET"]))
        return routes

    def _guarded(
        self, handler: Callable[[Request], Awaitable[Response]]
    ) -> Callable[[Request], Awaitable[Response]]:
        async def run(request: Request) -> Response:
            if self.guard is not None:
                refused = await self.guard(request)
                if refused is not None:
                    return refused
            return await handler(request)

        run.__name__ = handler.__name__
        return run

    async def _json(self, request: Request) -> Any:
        kind, _ = media_type(request.headers.get("content-type"))
        if kind != "application/json":
            raise InputError(415, "send the form definition as application/json")
        try:
            return json.loads((await read_body(request)).decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise InputError(400, "the body is not valid UTF-8 JSON") from None

    async def list_forms(self, request: Request) -> Response:
        account = request.query_params.get("account_id")
        forms = self.capture.forms.list(account_id=account)
        return JSONResponse({"forms": [f.to_json() for f in forms]})

    async def create_form(self, request: Request) -> Response:
        try:
            form = self.capture.forms.create(await self._json(request))
        except InputError as error:
            return json_error(error)
        except FormDefinitionError as error:
            return _admin_error(400, str(error))
        return JSONResponse(form.to_json(), status_code=201)

    def _form(self, request: Request) -> Form:
        return self.capture.forms.get(request.path_params["form_id"])

    async def show_form(self, request: Request) -> Response:
        try:
            form = self._form(request)
        except FormNotFoundError as error:
            return _admin_error(404, str(error), "forms.api.not_found")
        body = form.to_json()
        body["deliveries"] = self.capture.outbox.counts(form_id=form.id)
        return JSONResponse(body)

    async def update_form(self, request: Request) -> Response:
        try:
            changes = await self._json(request)
            if not isinstance(changes, dict):
                raise InputError(400, "send an object of the properties to change")
            form = self.capture.forms.update(request.path_params["form_id"], changes)
        except InputError as error:
            return json_error(error)
        except FormNotFoundError as error:
            return _admin_error(404, str(error), "forms.api.not_found")
        except FormDefinitionError as error:
            return _admin_error(400, str(error))
        self.capture.forget_cached()
        return JSONResponse(form.to_json())

    async def _set_status(self, request: Request, enable: bool) -> Response:
        try:
            form_id = request.path_params["form_id"]
            form = (
                self.capture.forms.enable(form_id)
                if enable
                else self.capture.forms.disable(form_id)
            )
        except FormNotFoundError as error:
            return _admin_error(404, str(error), "forms.api.not_found")
        self.capture.forget_cached()
        return JSONResponse(form.to_json())

    async def disable_form(self, request: Request) -> Response:
        return await self._set_status(request, enable=False)

    async def enable_form(self, request: Request) -> Response:
        return await self._set_status(request, enable=True)

    async def export_csv(self, request: Request) -> Response:
        try:
            form = self._form(request)
        except FormNotFoundError as error:
            return _admin_error(404, str(error), "forms.api.not_found")
        evidence = request.query_params.get("evidence", "true").lower() not in ("false", "0", "no")
        flagged = request.query_params.get("include_flagged", "false").lower() in (
            "true",
            "1",
            "yes",
        )
        chunks = submissions_csv(
            self.capture.db, form_id=form.id, evidence=evidence, include_flagged=flagged
        )
        return StreamingResponse(
            iter(list(chunks)),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="form-{form.id}.csv"'},
        )

    async def list_deliveries(self, request: Request) -> Response:
        state = request.query_params.get("state")
        if state is not None and state not in self.STATES:
            return _admin_error(400, f"state must be one of {', '.join(self.STATES)}")
        limit_raw = request.query_params.get("limit", "100")
        if not limit_raw.isdigit() or not 1 <= int(limit_raw) <= 1000:
            return _admin_error(400, "limit must be a whole number from 1 to 1000")
        views = self.capture.outbox.deliveries(
            state=state, form_id=request.query_params.get("form_id"), limit=int(limit_raw)
        )
        return JSONResponse({"deliveries": [v.to_json() for v in views]})

    async def retry_dead(self, request: Request) -> Response:
        body: Any = {}
        if request.headers.get("content-length", "0") not in ("", "0"):
            try:
                body = await self._json(request)
            except InputError as error:
                return json_error(error)
        if not isinstance(body, dict) or set(body) - {"ids", "form_id"}:
            return _admin_error(400, "the body may have 'ids' (a list) and 'form_id' only")
        ids = body.get("ids")
        if ids is not None and (
            not isinstance(ids, list) or not all(isinstance(i, str) for i in ids)
        ):
            return _admin_error(400, "ids must be a list of delivery or submission ids")
        count = self.capture.outbox.retry_dead(ids=ids, form_id=body.get("form_id"))
        if count and self.capture.on_accepted is not None:
            self.capture.on_accepted()
        return JSONResponse({"retried": count})

    async def approve(self, request: Request) -> Response:
        try:
            delivery_id = self.capture.outbox.approve(request.path_params["submission_id"])
        except LookupError as error:
            return _admin_error(404, str(error.args[0]), "forms.api.not_found")
        if self.capture.on_accepted is not None:
            self.capture.on_accepted()
        return JSONResponse({"delivery_id": delivery_id})

    async def consent(self, request: Request) -> Response:
        email = request.query_params.get("email", "").strip()
        if not email or "@" not in email:
            return _admin_error(400, "email: give the email address to export evidence for")
        return JSONResponse(
            {"email": email.lower(), "submissions": evidence_for_email(self.capture.db, email)}
        )

    async def forms_page(self, request: Request) -> Response:
        rows = [(f, self.capture.outbox.counts(form_id=f.id)) for f in self.capture.forms.list()]
        return HTMLResponse(render("admin_forms.html", rows=rows))

    async def form_page(self, request: Request) -> Response:
        try:
            form = self._form(request)
        except FormNotFoundError as error:
            return HTMLResponse(
                render("message.html", title="Not found", message=str(error)), status_code=404
            )
        return HTMLResponse(
            render(
                "admin_form.html",
                form=form,
                d=form.definition,
                counts=self.capture.outbox.counts(form_id=form.id),
                dead=self.capture.outbox.deliveries(state=DEAD, form_id=form.id, limit=50),
                held=self.capture.outbox.deliveries(state=HELD, form_id=form.id, limit=50),
            )
        )


def public_routes(capture: LeadCapture) -> list[BaseRoute]:
    """The public endpoints, to mount in any Starlette app."""
    return PublicForms(capture).routes()


def admin_routes(capture: LeadCapture, guard: AdminGuard | None = None) -> list[BaseRoute]:
    """The admin API (``/admin/api/...``) and pages (``/admin/forms``), behind ``guard``."""
    return AdminForms(capture, guard).routes()


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
    return Starlette(routes=routes)
