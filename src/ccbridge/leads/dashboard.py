"""The dashboard's *Signup forms* section: create and edit forms, see what came in, fix failures.

Pages (``page_route``: admin login, and the CSRF check on every POST, come with it):

- ``/forms``: every form with its delivery counts.
- ``/forms/admin/new`` and ``/forms/admin/{id}/edit``: the form editor. The account's
  lists and custom fields are fetched from CC through the account's client, so the admin
  ticks lists by name instead of copying ids.
- ``/forms/admin/{id}``: the embed snippet, the counts, dead letters with *Retry*, held
  signups, and the submissions (paged, filtered by status) with their consent evidence;
  flagged ones can be approved.

Handlers only translate between HTML forms and the library: a posted editor becomes a
definition dict that ``LeadCapture`` checks (``FormDefinitionError`` names the field);
a refusal re-renders the editor with everything the admin typed and that field marked.
No JavaScript: checkboxes, ``<details>`` and a read-only text area do the work.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from starlette.responses import Response
from starlette.routing import BaseRoute

from ccbridge._errors import CCBridgeError
from ccbridge.leads.capture import LeadCapture
from ccbridge.leads.export import SUBMISSION_STATUSES, list_submissions, submissions_csv
from ccbridge.leads.forms import (
    STANDARD_FIELDS,
    Form,
    FormDefinition,
    FormDefinitionError,
    custom_field_input_name,
)
from ccbridge.leads.outbox import DEAD, HELD
from ccbridge.leads.spam import SPAM_REASON_TEXT
from ccbridge.oauth import AccountNotFoundError, LinkedAccount
from ccbridge.web.pages import PageContext, page_route

if TYPE_CHECKING:
    from ccbridge.service import Service

log = logging.getLogger("ccbridge.leads.dashboard")

PAGE_SIZE = 25
OPTIONAL_FIELDS = tuple(name for name in STANDARD_FIELDS if name != "email_address")
TEXT_INPUTS = (
    "name",
    "title",
    "intro",
    "consent_text",
    "submit_label",
    "thank_you_message",
    "redirect_url",
    "allowed_origins",
    "min_fill_seconds",
)
LABELS = {
    "name": "Name",
    "account_id": "Linked account",
    "list_ids": "Lists",
    "lists": "Lists",
    "consent_text": "Consent text",
    "fields": "Fields",
    "title": "Heading",
    "intro": "Introduction",
    "submit_label": "Button text",
    "thank_you_message": "Thank-you message",
    "redirect_url": "Thank-you redirect",
    "allowed_origins": "Allowed origins",
    "min_fill_seconds": "Minimum fill time",
}
NOTICES = {
    "created": "The form was created. Put it on a site with the snippet below.",
    "saved": "The changes were saved.",
    "disabled": "The form is disabled: it accepts no new signups (accepted ones are still delivered).",
    "enabled": "The form accepts signups again.",
    "approved": "The submission was approved and queued for delivery.",
}


# -- what the editor shows ----------------------------------------------------------------------
@dataclass(frozen=True)
class ListChoice:
    list_id: str
    name: str
    members: int | None = None
    known: bool = True
    """False: the form names a list CC did not list now (deleted, or CC not reachable)."""


@dataclass(frozen=True)
class CustomFieldChoice:
    custom_field_id: str
    label: str
    cc_name: str


@dataclass
class Catalog:
    """The account's lists and custom fields at CC (one or two API calls), or the error."""

    lists: list[ListChoice] = field(default_factory=list)
    custom_fields: list[CustomFieldChoice] = field(default_factory=list)
    error: str | None = None


@dataclass
class FieldRow:
    """One optional field in the editor: a standard one, or a CC custom field."""

    key: str
    """The HTML name prefix: ``f.first_name`` or ``cf.<custom field id>``."""
    name: str
    label: str
    default_label: str
    ask: bool = False
    required: bool = False
    custom_field_id: str | None = None
    cc_name: str | None = None
    note: str | None = None


@dataclass
class Editor:
    """Everything the editor template needs; built from a form or from a post."""

    account_id: str
    account: LinkedAccount | None
    values: dict[str, str]
    email_label: str
    rows: list[FieldRow]
    selected_lists: list[str]
    list_ids_text: str = ""
    catalog: Catalog = field(default_factory=Catalog)
    error: str | None = None
    error_field: str | None = None

    @property
    def list_choices(self) -> list[ListChoice]:
        known = {c.list_id for c in self.catalog.lists}
        missing = [
            ListChoice(i, "not listed by Constant Contact now", known=False)
            for i in self.selected_lists
            if i not in known
        ]
        return [*self.catalog.lists, *missing]


# -- reading CC through the account's client ---------------------------------------------------
def fetch_catalog(service: Service, account: LinkedAccount | None) -> Catalog:
    """The account's lists and custom fields, so the admin picks them by name."""
    if account is None:
        return Catalog(error="the linked account no longer exists")
    if not account.is_active:
        return Catalog(error=f"the account is {account.status}; reconnect it to see its lists")
    if "contact_data" not in account.scopes:
        return Catalog(error="the account did not grant the contact_data scope")
    try:
        with service.client(account.id, max_retries=1) as client:
            lists = [
                ListChoice(item.list_id, item.name, item.membership_count)
                for item in client.contact_lists.iter(include_membership_count="all", limit=1000)
                if not item.is_deleted
            ]
            custom = [
                CustomFieldChoice(cf.custom_field_id, cf.label, cf.name or cf.label)
                for cf in client.custom_fields.iter(limit=100)
                if cf.custom_field_id
            ]
    except (CCBridgeError, OSError) as exc:
        log.info("could not read the lists of account %s: %s", account.id, exc)
        return Catalog(error=f"Constant Contact could not be asked for the lists: {exc}")
    return Catalog(sorted(lists, key=lambda c: c.name.lower()), custom)


def _rows(definition: FormDefinition | None, catalog: Catalog) -> list[FieldRow]:
    """Editor rows: the standard fields, then the account's custom fields, then any custom
    field the form fills that CC did not list now."""
    chosen = {f.name: f for f in definition.fields} if definition is not None else {}
    rows = []
    for name in OPTIONAL_FIELDS:
        f = chosen.get(name)
        default = STANDARD_FIELDS[name][0]
        rows.append(
            FieldRow(
                f"f.{name}",
                name,
                f.label if f else default,
                default,
                ask=f is not None,
                required=bool(f and f.required),
            )
        )
    by_id = {f.custom_field_id: f for f in chosen.values() if f.custom_field_id}
    taken = set(STANDARD_FIELDS) | set(chosen)
    for cf in catalog.custom_fields:
        f = by_id.pop(cf.custom_field_id, None)
        name = f.name if f else custom_field_input_name(cf.cc_name, taken)
        taken.add(name)
        rows.append(
            FieldRow(
                f"cf.{cf.custom_field_id}",
                name,
                f.label if f else cf.label,
                cf.label,
                ask=f is not None,
                required=bool(f and f.required),
                custom_field_id=cf.custom_field_id,
                cc_name=f.cc_name if f and f.cc_name else cf.cc_name,
                note=f"custom field {cf.cc_name}",
            )
        )
    for f in by_id.values():
        rows.append(
            FieldRow(
                f"cf.{f.custom_field_id}",
                f.name,
                f.label,
                f.label,
                ask=True,
                required=f.required,
                custom_field_id=f.custom_field_id,
                cc_name=f.cc_name,
                note="custom field not listed by Constant Contact now",
            )
        )
    return rows


def editor_for(service: Service, account_id: str, form: Form | None) -> Editor:
    """The editor filled from a stored form (or with a new form's defaults)."""
    account = _account_or_none(service, account_id)
    catalog = fetch_catalog(service, account)
    # A new form starts from the library's defaults (the same ones the API applies).
    d = form.definition if form is not None else FormDefinition("", account_id, (), "")
    values = {
        "name": d.name,
        "title": d.title,
        "intro": d.intro or "",
        "consent_text": d.consent_text,
        "submit_label": d.submit_label,
        "thank_you_message": d.thank_you_message,
        "redirect_url": d.redirect_url or "",
        "allowed_origins": "\n".join(d.allowed_origins),
        "min_fill_seconds": f"{d.min_fill_seconds:g}",
    }
    email = d.field("email_address")
    email_label = email.label if email else STANDARD_FIELDS["email_address"][0]
    rows = _rows(d, catalog)
    return Editor(account_id, account, values, email_label, rows, list(d.list_ids), "", catalog)


def _account_or_none(service: Service, account_id: str) -> LinkedAccount | None:
    try:
        return service.accounts.get(account_id)
    except AccountNotFoundError:
        return None


# -- from a posted editor to a definition ---------------------------------------------------------
_SPLIT = re.compile(r"[\s,]+")


def editor_from_post(
    service: Service, account_id: str, posted: Mapping[str, str], catalog: Catalog
) -> Editor:
    """The editor exactly as the admin sent it (to save it, or show it again with an error)."""
    values = {name: posted.get(name, "") for name in TEXT_INPUTS}
    rows: list[FieldRow] = []
    for name in OPTIONAL_FIELDS:
        key = f"f.{name}"
        default = STANDARD_FIELDS[name][0]
        rows.append(
            FieldRow(
                key,
                name,
                posted.get(f"{key}.label", default),
                default,
                ask=f"{key}.ask" in posted,
                required=f"{key}.required" in posted,
            )
        )
    custom_keys = [
        k[: -len(".name")] for k in posted if k.startswith("cf.") and k.endswith(".name")
    ]
    for key in custom_keys:
        custom_id = key[len("cf.") :]
        rows.append(
            FieldRow(
                key,
                posted[f"{key}.name"],
                posted.get(f"{key}.label", ""),
                posted.get(f"{key}.default_label", ""),
                ask=f"{key}.ask" in posted,
                required=f"{key}.required" in posted,
                custom_field_id=custom_id,
                cc_name=posted.get(f"{key}.cc_name") or None,
                note=posted.get(f"{key}.note") or None,
            )
        )
    selected = [k[len("list.") :] for k in posted if k.startswith("list.")]
    return Editor(
        account_id,
        _account_or_none(service, account_id),
        values,
        posted.get("f.email_address.label", ""),
        rows,
        selected,
        posted.get("list_ids_text", ""),
        catalog,
    )


def definition_from(editor: Editor) -> tuple[dict[str, Any], list[str]]:
    """The definition the library checks, and the editor row key of each ``fields[i]``."""
    v = editor.values
    fields: list[dict[str, Any]] = [{"name": "email_address", "required": True}]
    keys = ["f.email_address"]
    if editor.email_label.strip():
        fields[0]["label"] = editor.email_label
    for row in editor.rows:
        if not row.ask:
            continue
        item: dict[str, Any] = {"name": row.name, "required": row.required}
        if row.label.strip():
            item["label"] = row.label
        if row.custom_field_id is not None:
            item["custom_field_id"] = row.custom_field_id
            if row.cc_name:
                item["cc_name"] = row.cc_name
        fields.append(item)
        keys.append(row.key)
    list_ids = [*editor.selected_lists]
    list_ids += [i for i in _SPLIT.split(editor.list_ids_text) if i and i not in list_ids]
    definition: dict[str, Any] = {
        "name": v["name"],
        "list_ids": list_ids,
        "consent_text": v["consent_text"],
        "fields": fields,
        "title": v["title"],
        "intro": v["intro"],
        "submit_label": v["submit_label"],
        "thank_you_message": v["thank_you_message"],
        "redirect_url": v["redirect_url"],
        "allowed_origins": [o for o in v["allowed_origins"].split() if o],
    }
    fill = v["min_fill_seconds"].strip()
    if fill:
        try:
            definition["min_fill_seconds"] = float(fill)
        except ValueError:
            definition["min_fill_seconds"] = fill  # the library names what is wrong with it
    return definition, keys


def explain(error: FormDefinitionError, keys: list[str]) -> tuple[str, str | None]:
    """A message for people and the editor input to mark, from a definition refusal."""
    where = error.field
    match = re.match(r"fields\[(\d+)\](?:\.(\w+))?$", where)
    if match:
        index, part = int(match.group(1)), match.group(2)
        key = keys[index] if index < len(keys) else None
        target = f"{key}.label" if key and part == "label" else "fields"
        return f"Fields: {error.message}", target
    if where == "list_ids" and not error.message.startswith("names "):
        return "Lists: tick at least one list to add people to.", "lists"
    if where.startswith("list_ids"):
        return f"Lists: {error.message}", "lists"
    if where == "form":
        return error.message, None
    return f"{LABELS.get(where, where)}: {error.message}", where


# -- the pages --------------------------------------------------------------------------------------
class FormsDashboard:
    """The page handlers, bound to one ``LeadCapture``."""

    def __init__(self, capture: LeadCapture) -> None:
        self.capture = capture

    def routes(self) -> list[BaseRoute]:
        # ``new`` before ``{form_id}``; all of them before the public ``/forms/{form_id}/...``.
        return [
            page_route("/forms", self.list_page, name="leads_forms"),
            page_route("/forms/admin/new", self.new_page, name="leads_form_new"),
            page_route(
                "/forms/admin/new", self.create, methods=("POST",), name="leads_form_create"
            ),
            page_route("/forms/admin/{form_id}", self.detail_page, name="leads_form"),
            page_route("/forms/admin/{form_id}/edit", self.edit_page, name="leads_form_edit"),
            page_route(
                "/forms/admin/{form_id}/edit", self.save, methods=("POST",), name="leads_form_save"
            ),
            page_route(
                "/forms/admin/{form_id}/status",
                self.set_status,
                methods=("POST",),
                name="leads_form_status",
            ),
            page_route(
                "/forms/admin/{form_id}/retry", self.retry, methods=("POST",), name="leads_retry"
            ),
            page_route(
                "/forms/admin/{form_id}/approve",
                self.approve,
                methods=("POST",),
                name="leads_approve",
            ),
            page_route(
                "/forms/admin/{form_id}/export.csv", self.export_csv, name="leads_form_export"
            ),
        ]

    # -- list ----------------------------------------------------------------------------------
    def list_page(self, ctx: PageContext) -> Response:
        accounts = {a.id: a for a in ctx.service.accounts.list()}
        rows = [
            (f, accounts.get(f.account_id), self.capture.outbox.counts(form_id=f.id))
            for f in self.capture.forms.list()
        ]
        return ctx.render("leads_forms.html", rows=rows, has_accounts=bool(accounts))

    # -- create ----------------------------------------------------------------------------------
    def _usable_accounts(self, ctx: PageContext) -> list[LinkedAccount]:
        return [a for a in ctx.service.accounts.list() if a.status != "disconnected"]

    def new_page(self, ctx: PageContext) -> Response:
        accounts = self._usable_accounts(ctx)
        chosen = ctx.query.get("account_id", "")
        if not chosen and len(accounts) == 1:
            chosen = accounts[0].id
        if not chosen or chosen not in {a.id for a in accounts}:
            error = "Choose one of the linked accounts." if chosen else None
            return ctx.render(
                "leads_choose_account.html",
                accounts=accounts,
                error=error,
                status=400 if chosen else 200,
            )
        editor = editor_for(ctx.service, chosen, None)
        return self._editor_page(ctx, editor, None, accounts)

    def create(self, ctx: PageContext) -> Response:
        accounts = self._usable_accounts(ctx)
        account_id = ctx.form.get("account_id", "")
        if account_id not in {a.id for a in accounts}:
            return ctx.render(
                "leads_choose_account.html",
                accounts=accounts,
                error="Choose one of the linked accounts.",
                status=400,
            )
        editor = editor_from_post(ctx.service, account_id, ctx.form, Catalog())
        definition, keys = definition_from(editor)
        try:
            form = self.capture.create_form({**definition, "account_id": account_id})
        except FormDefinitionError as error:
            return self._refused(ctx, editor, error, keys, None, accounts)
        who = ctx.current.username if ctx.current is not None else None
        log.info("form %s created from the dashboard by %s", form.id, who)
        return ctx.redirect(f"/forms/admin/{form.id}?notice=created")

    # -- edit ------------------------------------------------------------------------------------
    def _form(self, ctx: PageContext) -> Form | None:
        return self.capture.forms.find(ctx.request.path_params["form_id"])

    def _missing(self, ctx: PageContext) -> Response:
        return ctx.render(
            "problem.html",
            status=404,
            title="No such signup form",
            message=f"No signup form has id {ctx.request.path_params['form_id']}.",
        )

    def edit_page(self, ctx: PageContext) -> Response:
        form = self._form(ctx)
        if form is None:
            return self._missing(ctx)
        return self._editor_page(ctx, editor_for(ctx.service, form.account_id, form), form, [])

    def save(self, ctx: PageContext) -> Response:
        form = self._form(ctx)
        if form is None:
            return self._missing(ctx)
        editor = editor_from_post(ctx.service, form.account_id, ctx.form, Catalog())
        definition, keys = definition_from(editor)
        try:
            self.capture.update_form(form.id, definition)
        except FormDefinitionError as error:
            return self._refused(ctx, editor, error, keys, form, [])
        return ctx.redirect(f"/forms/admin/{form.id}?notice=saved")

    def _refused(
        self,
        ctx: PageContext,
        editor: Editor,
        error: FormDefinitionError,
        keys: list[str],
        form: Form | None,
        accounts: list[LinkedAccount],
    ) -> Response:
        # The lists are shown again by name: ask CC once more (only on this error path).
        editor.catalog = fetch_catalog(ctx.service, editor.account)
        known = {r.key for r in editor.rows}
        fresh = _rows(None, editor.catalog)
        editor.rows += [r for r in fresh if r.key not in known]
        editor.error, editor.error_field = explain(error, keys)
        return self._editor_page(ctx, editor, form, accounts, status=400)

    def _editor_page(
        self,
        ctx: PageContext,
        editor: Editor,
        form: Form | None,
        accounts: list[LinkedAccount],
        *,
        status: int = 200,
    ) -> Response:
        return ctx.render(
            "leads_form_edit.html",
            status=status,
            e=editor,
            form=form,
            accounts=accounts,
            labels=LABELS,
        )

    # -- detail ------------------------------------------------------------------------------------
    def detail_page(self, ctx: PageContext) -> Response:
        form = self._form(ctx)
        if form is None:
            return self._missing(ctx)
        status = ctx.query.get("status") or None
        if status not in (None, *SUBMISSION_STATUSES):
            status = None
        page_number = _page_number(ctx.query.get("page"))
        page = list_submissions(
            self.capture.db,
            form_id=form.id,
            status=status,
            limit=PAGE_SIZE,
            offset=(page_number - 1) * PAGE_SIZE,
        )
        counts = self.capture.outbox.counts(form_id=form.id)
        base = ctx.service.settings.public_url.rstrip("/")
        notice = NOTICES.get(ctx.query.get("notice", ""))
        if ctx.query.get("notice") == "retried":
            count = ctx.query.get("n", "0")
            notice = (
                f"{count} dead letter{'' if count == '1' else 's'} put back in line for delivery."
            )
        return ctx.render(
            "leads_form.html",
            form=form,
            d=form.definition,
            account=_account_or_none(ctx.service, form.account_id),
            counts=counts,
            total_all=sum(counts.values()),
            dead=self.capture.outbox.deliveries(state=DEAD, form_id=form.id, limit=100),
            held=self.capture.outbox.deliveries(state=HELD, form_id=form.id, limit=100),
            page=page,
            page_number=page_number,
            pages=max(1, math.ceil(page.total / PAGE_SIZE)),
            status_filter=status,
            statuses=SUBMISSION_STATUSES,
            spam_reasons=SPAM_REASON_TEXT,
            hosted_url=f"{base}/forms/{form.id}",
            embed_snippet=embed_snippet(base, form.id),
            notice=notice,
            link=lambda s, p=1: _submissions_link(form.id, s, p),
        )

    def export_csv(self, ctx: PageContext) -> Response:
        form = self._form(ctx)
        if form is None:
            return self._missing(ctx)
        evidence = ctx.query.get("evidence", "true") != "false"
        text = "".join(submissions_csv(self.capture.db, form_id=form.id, evidence=evidence))
        return Response(
            text,
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="form-{form.id}.csv"'},
        )

    # -- actions -------------------------------------------------------------------------------------
    def set_status(self, ctx: PageContext) -> Response:
        form = self._form(ctx)
        if form is None:
            return self._missing(ctx)
        active = ctx.form.get("active") == "1"
        self.capture.set_form_active(form.id, active)
        return ctx.redirect(f"/forms/admin/{form.id}?notice={'enabled' if active else 'disabled'}")

    def retry(self, ctx: PageContext) -> Response:
        form = self._form(ctx)
        if form is None:
            return self._missing(ctx)
        delivery_id = ctx.form.get("delivery_id") or None
        count = self.capture.retry_dead(ids=[delivery_id] if delivery_id else None, form_id=form.id)
        return ctx.redirect(f"/forms/admin/{form.id}?notice=retried&n={count}#dead-letters")

    def approve(self, ctx: PageContext) -> Response:
        form = self._form(ctx)
        if form is None:
            return self._missing(ctx)
        submission_id = ctx.form.get("submission_id", "")
        try:
            self.capture.approve(submission_id)
        except LookupError:
            return ctx.render(
                "problem.html",
                status=404,
                title="No such submission",
                message=f"No submission has id {submission_id}.",
            )
        return ctx.redirect(f"/forms/admin/{form.id}?notice=approved#submissions")


def embed_snippet(base_url: str, form_id: str) -> str:
    """The markup a site owner pastes: a place for the form, and the script that fills it."""
    return (
        f'<div data-ccbridge-form="{form_id}"></div>\n'
        f'<script src="{base_url}/forms/{form_id}/embed.js" async></script>'
    )


def _page_number(raw: str | None) -> int:
    return int(raw) if raw and raw.isdigit() and 0 < int(raw) < 1_000_000 else 1


def _submissions_link(form_id: str, status: str | None, page: int = 1) -> str:
    """The detail page showing one page of submissions, optionally of one status."""
    query: dict[str, Any] = {}
    if status:
        query["status"] = status
    if page > 1:
        query["page"] = page
    suffix = f"?{urlencode(query)}" if query else ""
    return f"/forms/admin/{form_id}{suffix}#submissions"
