"""Lead capture's admin API, as the service's ``ApiOperation`` values.

Being operations (not hand-written routes) gives them what every other admin API call
has: bearer-token auth, query and body validation that names the bad parameter or field,
the service's JSON error shape (``{"error": {"status", "code", "message"}}``) and a place
in ``/api/openapi.json``. The handlers are thin: each calls one ``LeadCapture`` method or
one reading function of the package and turns its refusals into ``ApiProblem``.

The public signup endpoint keeps CC's error shape (it stands in for CC to a site's
visitors); this API is for the service's operators, so it speaks the service's language.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from starlette.responses import Response, StreamingResponse

from ccbridge.leads.capture import LeadCapture
from ccbridge.leads.export import (
    SUBMISSION_STATUSES,
    evidence_for_email,
    list_submissions,
    submissions_csv,
)
from ccbridge.leads.forms import MAX_LISTS, STANDARD_FIELDS, FormDefinitionError, FormNotFoundError
from ccbridge.leads.outbox import DEAD, DELIVERED, HELD, PENDING
from ccbridge.web.api import ApiContext, ApiHandler, ApiOperation, ApiProblem, QueryParam

JSON = dict[str, Any]
TAG = "forms"
FORM_ID = {"form_id": "The signup form's id (as listed by GET /api/forms)."}
DELIVERY_STATES = (PENDING, HELD, DELIVERED, DEAD)

_TEXT = {"type": "string"}
_NULLABLE_TEXT = {"type": "string", "nullable": True}
FIELD_SCHEMA: JSON = {
    "type": "object",
    "additionalProperties": False,
    "required": ["name"],
    "properties": {
        "name": {
            "type": "string",
            "description": "A standard field ("
            + ", ".join(STANDARD_FIELDS)
            + ") or a name of your choice for a CC custom field.",
        },
        "label": _TEXT,
        "required": {"type": "boolean"},
        "custom_field_id": {
            "type": "string",
            "description": "The CC custom field this input fills (custom fields only).",
        },
        "cc_name": {"type": "string", "description": "The custom field's CC name (CSV column)."},
    },
}
_DEFINITION_PROPERTIES: JSON = {
    "name": {"type": "string", "minLength": 1, "maxLength": 200},
    "account_id": {"type": "string", "description": "The linked account the form belongs to."},
    "list_ids": {"type": "array", "maxItems": MAX_LISTS, "items": {"type": "string"}},
    "consent_text": {"type": "string", "minLength": 1, "maxLength": 2000},
    "fields": {
        "type": "array",
        # A bare string is short for {"name": ...}; the definition check sorts out the rest.
        "items": {"oneOf": [{"type": "string"}, FIELD_SCHEMA]},
    },
    "title": _TEXT,
    "intro": _NULLABLE_TEXT,
    "submit_label": _TEXT,
    "thank_you_message": _TEXT,
    "redirect_url": {**_NULLABLE_TEXT, "format": "uri"},
    "allowed_origins": {"type": "array", "items": {"type": "string"}},
    "min_fill_seconds": {"type": "number", "minimum": 0, "maximum": 3600},
    "max_token_age_seconds": {"type": "number", "minimum": 60, "maximum": 2592000},
    "rate_limit_per_minute": {"type": "integer", "minimum": 1, "maximum": 1000000},
    "captcha": {"type": "boolean"},
}
CREATE_SCHEMA: JSON = {
    "type": "object",
    "additionalProperties": False,
    "required": ["name", "account_id", "list_ids", "consent_text"],
    "properties": _DEFINITION_PROPERTIES,
}
UPDATE_SCHEMA: JSON = {
    "type": "object",
    "additionalProperties": False,
    "properties": {k: v for k, v in _DEFINITION_PROPERTIES.items() if k != "account_id"},
}
COUNTS_SCHEMA: JSON = {
    "type": "object",
    "properties": {k: {"type": "integer"} for k in (*DELIVERY_STATES, "flagged")},
}
FORM_SCHEMA: JSON = {
    "type": "object",
    "properties": {
        "id": _TEXT,
        "status": {"type": "string", "enum": ["active", "disabled"]},
        "consent_version": {"type": "integer"},
        "created_at": {"type": "string", "format": "date-time"},
        "updated_at": {"type": "string", "format": "date-time"},
        **_DEFINITION_PROPERTIES,
        "fields": {"type": "array", "items": FIELD_SCHEMA},
        "deliveries": COUNTS_SCHEMA,
    },
}
DELIVERY_SCHEMA: JSON = {
    "type": "object",
    "properties": {
        "id": _TEXT,
        "submission_id": _TEXT,
        "form_id": _TEXT,
        "account_id": _TEXT,
        "email": _TEXT,
        "state": {"type": "string", "enum": list(DELIVERY_STATES)},
        "attempts": {"type": "integer"},
        "next_attempt_at": {"type": "string", "format": "date-time"},
        "last_error": _NULLABLE_TEXT,
        "dead_reason": _NULLABLE_TEXT,
        "delivered_at": {"type": "string", "format": "date-time", "nullable": True},
        "cc_contact_id": _NULLABLE_TEXT,
        "cc_action": _NULLABLE_TEXT,
    },
}
EVIDENCE_PROPERTIES: JSON = {
    "submission_id": _TEXT,
    "form_id": _TEXT,
    "email": _TEXT,
    "fields": {"type": "object", "additionalProperties": {"type": "string"}},
    "consent_text": _TEXT,
    "consent_version": {"type": "integer"},
    "consented_at": {"type": "string", "format": "date-time"},
    "ip": _NULLABLE_TEXT,
    "user_agent": _NULLABLE_TEXT,
    "page_url": _NULLABLE_TEXT,
    "flagged_as_spam": {**_NULLABLE_TEXT, "description": "Why it was kept aside, if it was."},
    "delivered_at": {"type": "string", "format": "date-time", "nullable": True},
    "cc_contact_id": _NULLABLE_TEXT,
    "cc_action": _NULLABLE_TEXT,
}
SUBMISSION_SCHEMA: JSON = {
    "type": "object",
    "properties": {
        **EVIDENCE_PROPERTIES,
        "status": {"type": "string", "enum": list(SUBMISSION_STATUSES)},
        "delivery_id": _NULLABLE_TEXT,
        "attempts": {"type": "integer"},
        "last_error": _NULLABLE_TEXT,
        "dead_reason": _NULLABLE_TEXT,
    },
}
CONSENT_SCHEMA: JSON = {
    "type": "object",
    "properties": {
        "email": _TEXT,
        "submissions": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    **EVIDENCE_PROPERTIES,
                    "form_name": _NULLABLE_TEXT,
                    "list_ids": {"type": "array", "items": _TEXT},
                    "delivery_state": {**_NULLABLE_TEXT, "enum": [PENDING, DELIVERED, DEAD]},
                },
            },
        },
    },
}


def definition_problem(error: FormDefinitionError) -> ApiProblem:
    """A form definition refused by the library, named the way body validation names it."""
    where = "body" if error.field == "form" else f"body.{error.field}"
    return ApiProblem(400, "invalid_body", f"{where}: {error.message}")


def _refusals(handler: Callable[[ApiContext], Any]) -> ApiHandler:
    """Turn the package's refusals into API answers (400 for a definition, 404 for a form)."""

    @wraps(handler)
    def run(ctx: ApiContext) -> Any:
        try:
            return handler(ctx)
        except FormDefinitionError as error:
            raise definition_problem(error) from None
        except FormNotFoundError as error:
            raise ApiProblem(404, "not_found", str(error)) from None

    return run


class FormsApi:
    """The handlers, bound to one ``LeadCapture``."""

    def __init__(self, capture: LeadCapture) -> None:
        self.capture = capture

    def list_forms(self, ctx: ApiContext) -> Any:
        forms = self.capture.forms.list(account_id=ctx.query.get("account_id"))
        return {"forms": [f.to_json() for f in forms]}

    def create_form(self, ctx: ApiContext) -> Any:
        return 201, self.capture.create_form(ctx.body).to_json()

    def show_form(self, ctx: ApiContext) -> Any:
        form = self.capture.forms.get(ctx.path["form_id"])
        return {**form.to_json(), "deliveries": self.capture.outbox.counts(form_id=form.id)}

    def update_form(self, ctx: ApiContext) -> Any:
        return self.capture.update_form(ctx.path["form_id"], ctx.body).to_json()

    def disable_form(self, ctx: ApiContext) -> Any:
        return self.capture.set_form_active(ctx.path["form_id"], False).to_json()

    def enable_form(self, ctx: ApiContext) -> Any:
        return self.capture.set_form_active(ctx.path["form_id"], True).to_json()

    def form_submissions(self, ctx: ApiContext) -> Any:
        form = self.capture.forms.get(ctx.path["form_id"])
        page = list_submissions(
            self.capture.db,
            form_id=form.id,
            status=ctx.query.get("status"),
            limit=ctx.query.get("limit", 50),
            offset=ctx.query.get("offset", 0),
        )
        return {
            "form_id": form.id,
            "total": page.total,
            "offset": page.offset,
            "submissions": [item.to_json() for item in page.items],
        }

    def export_csv(self, ctx: ApiContext) -> Response:
        form = self.capture.forms.get(ctx.path["form_id"])
        chunks = submissions_csv(
            self.capture.db,
            form_id=form.id,
            evidence=ctx.query.get("evidence", True),
            include_flagged=ctx.query.get("include_flagged", False),
        )
        return StreamingResponse(
            iter(list(chunks)),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="form-{form.id}.csv"'},
        )

    def list_deliveries(self, ctx: ApiContext) -> Any:
        views = self.capture.outbox.deliveries(
            state=ctx.query.get("state"),
            form_id=ctx.query.get("form_id"),
            limit=ctx.query.get("limit", 100),
        )
        return {"deliveries": [v.to_json() for v in views]}

    def retry_dead(self, ctx: ApiContext) -> Any:
        body = ctx.body or {}
        count = self.capture.retry_dead(ids=body.get("ids"), form_id=body.get("form_id"))
        return {"retried": count}

    def approve(self, ctx: ApiContext) -> Any:
        submission_id = ctx.path["submission_id"]
        try:
            delivery_id = self.capture.approve(submission_id)
        except LookupError:
            raise ApiProblem(404, "not_found", f"no submission has id {submission_id!r}") from None
        return {"submission_id": submission_id, "delivery_id": delivery_id}

    def consent(self, ctx: ApiContext) -> Any:
        email = ctx.query["email"].strip()
        if "@" not in email:
            raise ApiProblem(
                400,
                "invalid_parameter",
                "query.email: must be an email address like ada@example.com",
            )
        return {"email": email.lower(), "submissions": evidence_for_email(self.capture.db, email)}


def operations(capture: LeadCapture) -> list[ApiOperation]:
    """Lead capture's admin API operations, bound to ``capture``."""
    api = FormsApi(capture)
    limit = QueryParam(
        "limit", {"type": "integer", "minimum": 1, "maximum": 1000}, "How many to return."
    )
    return [
        ApiOperation(
            "GET",
            "/api/forms",
            "listForms",
            "List signup forms (oldest first).",
            _refusals(api.list_forms),
            tag=TAG,
            query=(
                QueryParam(
                    "account_id",
                    {"type": "string", "minLength": 1, "maxLength": 36},
                    "Only the forms of this linked account.",
                ),
            ),
            response={
                "type": "object",
                "properties": {"forms": {"type": "array", "items": FORM_SCHEMA}},
            },
            errors=(400,),
        ),
        ApiOperation(
            "POST",
            "/api/forms",
            "createForm",
            "Create a signup form for a linked account and one or more of its lists.",
            _refusals(api.create_form),
            tag=TAG,
            body=CREATE_SCHEMA,
            response=FORM_SCHEMA,
            status=201,
            errors=(400, 413),
        ),
        ApiOperation(
            "GET",
            "/api/forms/{form_id}",
            "getForm",
            "A signup form with its delivery counts.",
            _refusals(api.show_form),
            tag=TAG,
            response=FORM_SCHEMA,
            path_params=FORM_ID,
            errors=(404,),
        ),
        ApiOperation(
            "PATCH",
            "/api/forms/{form_id}",
            "updateForm",
            "Change a signup form (a new consent text bumps its consent version).",
            _refusals(api.update_form),
            tag=TAG,
            body=UPDATE_SCHEMA,
            response=FORM_SCHEMA,
            path_params=FORM_ID,
            errors=(400, 404, 413),
        ),
        ApiOperation(
            "POST",
            "/api/forms/{form_id}/disable",
            "disableForm",
            "Stop accepting signups on the form (what was accepted is still delivered).",
            _refusals(api.disable_form),
            tag=TAG,
            response=FORM_SCHEMA,
            path_params=FORM_ID,
            errors=(404,),
        ),
        ApiOperation(
            "POST",
            "/api/forms/{form_id}/enable",
            "enableForm",
            "Accept signups on the form again.",
            _refusals(api.enable_form),
            tag=TAG,
            response=FORM_SCHEMA,
            path_params=FORM_ID,
            errors=(404,),
        ),
        ApiOperation(
            "GET",
            "/api/forms/{form_id}/submissions",
            "listFormSubmissions",
            "The form's submissions, newest first, with their consent evidence and status.",
            _refusals(api.form_submissions),
            tag=TAG,
            query=(
                QueryParam(
                    "status",
                    {"type": "string", "enum": list(SUBMISSION_STATUSES)},
                    "Only submissions in this status.",
                ),
                limit,
                QueryParam(
                    "offset", {"type": "integer", "minimum": 0}, "How many to skip (paging)."
                ),
            ),
            response={
                "type": "object",
                "properties": {
                    "form_id": _TEXT,
                    "total": {"type": "integer"},
                    "offset": {"type": "integer"},
                    "submissions": {"type": "array", "items": SUBMISSION_SCHEMA},
                },
            },
            path_params=FORM_ID,
            errors=(400, 404),
        ),
        ApiOperation(
            "GET",
            "/api/forms/{form_id}/export.csv",
            "exportFormSubmissions",
            "The form's submissions as CSV in CC's contact-import columns, then the evidence.",
            _refusals(api.export_csv),
            tag=TAG,
            query=(
                QueryParam(
                    "evidence",
                    {"type": "boolean"},
                    "Append the consent evidence columns (default true; false gives a file "
                    "CC's importer takes as it is).",
                ),
                QueryParam(
                    "include_flagged",
                    {"type": "boolean"},
                    "Include submissions flagged as spam (default false).",
                ),
            ),
            response={"type": "string"},
            response_media_type="text/csv",
            path_params=FORM_ID,
            errors=(400, 404),
        ),
        ApiOperation(
            "GET",
            "/api/deliveries",
            "listDeliveries",
            "The outbox: deliveries to CC, newest first.",
            _refusals(api.list_deliveries),
            tag=TAG,
            query=(
                QueryParam(
                    "state",
                    {"type": "string", "enum": list(DELIVERY_STATES)},
                    "Only deliveries in this state (held: the account must be reconnected).",
                ),
                QueryParam(
                    "form_id",
                    {"type": "string", "minLength": 1, "maxLength": 36},
                    "Only this form's.",
                ),
                limit,
            ),
            response={
                "type": "object",
                "properties": {"deliveries": {"type": "array", "items": DELIVERY_SCHEMA}},
            },
            errors=(400,),
        ),
        ApiOperation(
            "POST",
            "/api/deliveries/retry-dead",
            "retryDeadDeliveries",
            "Put dead letters back in line once their cause is fixed: all, one form's, or some.",
            _refusals(api.retry_dead),
            tag=TAG,
            body={
                "type": "object",
                "additionalProperties": False,
                "properties": {
                    "form_id": {"type": "string", "minLength": 1, "maxLength": 36},
                    "ids": {
                        "type": "array",
                        "maxItems": 1000,
                        "items": {"type": "string", "minLength": 1, "maxLength": 36},
                        "description": "Delivery or submission ids.",
                    },
                },
            },
            response={"type": "object", "properties": {"retried": {"type": "integer"}}},
            errors=(400, 413),
        ),
        ApiOperation(
            "POST",
            "/api/submissions/{submission_id}/approve",
            "approveSubmission",
            "Deliver a submission that was flagged as spam after all (a person checked it).",
            _refusals(api.approve),
            tag=TAG,
            response={
                "type": "object",
                "properties": {"submission_id": _TEXT, "delivery_id": _TEXT},
            },
            path_params={"submission_id": "The submission's id."},
            errors=(404,),
        ),
        ApiOperation(
            "GET",
            "/api/consent",
            "getConsentEvidence",
            "Proof of consent for one email address: every submission, oldest first.",
            _refusals(api.consent),
            tag=TAG,
            query=(
                QueryParam(
                    "email",
                    {"type": "string", "minLength": 3, "maxLength": 320},
                    "The email address (case does not matter).",
                    required=True,
                ),
            ),
            response=CONSENT_SCHEMA,
            errors=(400,),
        ),
    ]
