"""Signup form definitions: what a form asks, what it promises, and where its leads go.

A form belongs to one linked account and adds people to one or more of that account's
lists. Its definition is checked here, once, when it is created or changed, against the
limits CC applies to ``POST /contacts/sign_up_form`` (CC-V3-FACTS §3.3, §4): 1–50 lists, an
email of at most 50 characters, names and titles of at most 50, a phone number of at most
25, custom-field values of at most 255 and at most 25 of them. A definition that passes
here produces requests CC accepts, so a person's signup does not fail later at delivery
for a reason the form's owner could have been told about up front.

The consent text is versioned: every change of its wording bumps ``consent_version``, and
every submission stores the exact text and version the person saw.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import insert, select, update

from ccbridge._errors import CCBridgeError
from ccbridge.leads.schema import forms as forms_table
from ccbridge.store.database import Database

ACTIVE = "active"
DISABLED = "disabled"

STANDARD_FIELDS: dict[str, tuple[str, int, str]] = {
    # name: (default label, CC's maximum length, HTML input type)
    "email_address": ("Email address", 50, "email"),
    "first_name": ("First name", 50, "text"),
    "last_name": ("Last name", 50, "text"),
    "phone_number": ("Phone number", 25, "tel"),
    "company_name": ("Company", 50, "text"),
    "job_title": ("Job title", 50, "text"),
}
AUTOCOMPLETE = {
    "email_address": "email",
    "first_name": "given-name",
    "last_name": "family-name",
    "phone_number": "tel",
    "company_name": "organization",
    "job_title": "organization-title",
}
CUSTOM_VALUE_MAX = 255
MAX_CUSTOM_FIELDS = 25
MAX_LISTS = 50
CONSENT_TEXT_MAX = 2000

HONEYPOT_FIELD = "website"
"""The trap: hidden from people, tempting to bots. It must be present and empty."""
TOKEN_FIELD = "form_token"
IDEMPOTENCY_FIELD = "idempotency_key"
CONSENT_FIELD = "consent"
PAGE_URL_FIELD = "page_url"
CAPTCHA_FIELD = "captcha_response"
RESERVED_NAMES = frozenset(
    {HONEYPOT_FIELD, TOKEN_FIELD, IDEMPOTENCY_FIELD, CONSENT_FIELD, PAGE_URL_FIELD, CAPTCHA_FIELD}
)

_NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
_UUID_RE = re.compile(
    r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
)


class FormDefinitionError(CCBridgeError, ValueError):
    """A form definition is not acceptable; ``field`` names the offending part."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class FormNotFoundError(CCBridgeError, LookupError):
    """No form has this id."""


@dataclass(frozen=True)
class FormField:
    """One input of a form. Custom fields carry the CC custom field they fill."""

    name: str
    label: str
    required: bool = False
    custom_field_id: str | None = None
    cc_name: str | None = None
    """The custom field's CC ``name`` (its ``cf:`` column in CC's CSV import)."""

    @property
    def is_custom(self) -> bool:
        return self.custom_field_id is not None

    @property
    def max_length(self) -> int:
        return STANDARD_FIELDS[self.name][1] if self.name in STANDARD_FIELDS else CUSTOM_VALUE_MAX

    @property
    def input_type(self) -> str:
        return STANDARD_FIELDS[self.name][2] if self.name in STANDARD_FIELDS else "text"

    @property
    def autocomplete(self) -> str:
        return AUTOCOMPLETE.get(self.name, "off")

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "label": self.label, "required": self.required}
        if self.custom_field_id is not None:
            out["custom_field_id"] = self.custom_field_id
        if self.cc_name is not None:
            out["cc_name"] = self.cc_name
        return out


@dataclass(frozen=True)
class FormDefinition:
    """Everything an admin decides about a form (the record adds id, status, versions)."""

    name: str
    account_id: str
    list_ids: tuple[str, ...]
    consent_text: str
    fields: tuple[FormField, ...] = (FormField("email_address", "Email address", True),)
    title: str = "Sign up"
    intro: str | None = None
    submit_label: str = "Sign up"
    thank_you_message: str = "Thank you for signing up."
    redirect_url: str | None = None
    allowed_origins: tuple[str, ...] = ()
    min_fill_seconds: float = 3.0
    max_token_age_seconds: float = 86_400.0
    rate_limit_per_minute: int = 600
    captcha: bool = False

    def field(self, name: str) -> FormField | None:
        for f in self.fields:
            if f.name == name:
                return f
        return None

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "account_id": self.account_id,
            "list_ids": list(self.list_ids),
            "consent_text": self.consent_text,
            "fields": [f.to_json() for f in self.fields],
            "title": self.title,
            "intro": self.intro,
            "submit_label": self.submit_label,
            "thank_you_message": self.thank_you_message,
            "redirect_url": self.redirect_url,
            "allowed_origins": list(self.allowed_origins),
            "min_fill_seconds": self.min_fill_seconds,
            "max_token_age_seconds": self.max_token_age_seconds,
            "rate_limit_per_minute": self.rate_limit_per_minute,
            "captcha": self.captcha,
        }


@dataclass(frozen=True)
class Form:
    """A stored form: its definition plus identity, status and consent version."""

    id: str
    status: str
    consent_version: int
    definition: FormDefinition
    created_at: datetime
    updated_at: datetime

    @property
    def is_active(self) -> bool:
        return self.status == ACTIVE

    @property
    def account_id(self) -> str:
        return self.definition.account_id

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "status": self.status,
            "consent_version": self.consent_version,
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
            **self.definition.to_json(),
        }


# -- checking a definition ------------------------------------------------------------------
def _text(data: Mapping[str, Any], key: str, *, required: bool, max_len: int) -> str | None:
    value = data.get(key)
    if value is None:
        if required:
            raise FormDefinitionError(key, "is required")
        return None
    if not isinstance(value, str):
        raise FormDefinitionError(key, f"must be a string, not {type(value).__name__}")
    value = value.strip()
    if not value:
        if required:
            raise FormDefinitionError(key, "must not be empty")
        return None
    if len(value) > max_len:
        raise FormDefinitionError(key, f"is {len(value)} characters long; at most {max_len}")
    return value


def normalize_origin(raw: str, where: str = "allowed_origins") -> str:
    """``scheme://host[:port]`` in lower case, as a browser sends it in ``Origin``."""
    if not isinstance(raw, str):
        raise FormDefinitionError(where, f"{raw!r} is not a string")
    parts = urlsplit(raw.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise FormDefinitionError(
            where, f"{raw!r} is not an http(s) origin like https://example.com"
        )
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username:
        raise FormDefinitionError(
            where, f"{raw!r} must be an origin only (scheme, host and port; no path)"
        )
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    default_port = 443 if parts.scheme == "https" else 80
    port = "" if parts.port in (None, default_port) else f":{parts.port}"
    return f"{parts.scheme}://{host}{port}"


def custom_field_input_name(cc_name: str, taken: Collection[str] = ()) -> str:
    """A form input name for a CC custom field (CC's names may hold any character).

    Lower-case letters, digits and underscores, never a standard or reserved name, and not
    one of ``taken`` (the form's other fields).
    """
    base = re.sub(r"[^a-z0-9_]+", "_", cc_name.lower()).strip("_")[:36] or "custom"
    if not base[0].isalpha() or base in STANDARD_FIELDS or base in RESERVED_NAMES:
        base = f"cf_{base}"[:36]
    name, n = base, 2
    while name in taken:
        name, n = f"{base}_{n}", n + 1
    return name


def _field(raw: Any, index: int) -> FormField:
    where = f"fields[{index}]"
    if isinstance(raw, str):
        raw = {"name": raw}
    if not isinstance(raw, Mapping):
        raise FormDefinitionError(where, "must be an object with a name")
    unknown = set(raw) - {"name", "label", "required", "custom_field_id", "cc_name"}
    if unknown:
        raise FormDefinitionError(where, f"unknown properties: {', '.join(sorted(unknown))}")
    name = raw.get("name")
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise FormDefinitionError(
            f"{where}.name", "must be lower-case letters, digits and underscores (1-40)"
        )
    if name in RESERVED_NAMES:
        raise FormDefinitionError(f"{where}.name", f"'{name}' is reserved by the form itself")
    required = raw.get("required", name == "email_address")
    if not isinstance(required, bool):
        raise FormDefinitionError(f"{where}.required", "must be true or false")
    custom_id = raw.get("custom_field_id")
    if name in STANDARD_FIELDS:
        if custom_id is not None:
            raise FormDefinitionError(
                f"{where}.custom_field_id", f"'{name}' is a standard field, not a custom one"
            )
        default_label = STANDARD_FIELDS[name][0]
    else:
        if not isinstance(custom_id, str) or not _UUID_RE.match(custom_id):
            raise FormDefinitionError(
                f"{where}.custom_field_id",
                f"'{name}' is not a standard field ({', '.join(STANDARD_FIELDS)}), so it needs "
                "the UUID of the CC custom field it fills",
            )
        default_label = name.replace("_", " ").capitalize()
    label = _text(raw, "label", required=False, max_len=200) or default_label
    cc_name = _text(raw, "cc_name", required=False, max_len=50)
    if name == "email_address":
        required = True  # a signup is keyed by its email address
    return FormField(name, label, required, custom_id, cc_name)


def _fields(raw: Any) -> tuple[FormField, ...]:
    if raw is None:
        return (FormField("email_address", "Email address", True),)
    if not isinstance(raw, Sequence) or isinstance(raw, str):
        raise FormDefinitionError("fields", "must be a list of fields")
    fields = [_field(item, i) for i, item in enumerate(raw)]
    names = [f.name for f in fields]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise FormDefinitionError("fields", f"names a field twice: {', '.join(duplicates)}")
    if "email_address" not in names:
        fields.insert(0, FormField("email_address", "Email address", True))
    custom = [f for f in fields if f.is_custom]
    if len(custom) > MAX_CUSTOM_FIELDS:
        raise FormDefinitionError(
            "fields",
            f"has {len(custom)} custom fields; a CC contact holds at most {MAX_CUSTOM_FIELDS}",
        )
    ids = [f.custom_field_id for f in custom]
    if len(set(ids)) != len(ids):
        raise FormDefinitionError("fields", "maps two fields to the same CC custom field")
    return tuple(fields)


def _list_ids(raw: Any) -> tuple[str, ...]:
    if not isinstance(raw, Sequence) or isinstance(raw, str) or not raw:
        raise FormDefinitionError("list_ids", f"must list 1 to {MAX_LISTS} CC list ids")
    ids: list[str] = []
    for i, item in enumerate(raw):
        if not isinstance(item, str) or not _UUID_RE.match(item.strip()):
            raise FormDefinitionError(f"list_ids[{i}]", f"{item!r} is not a CC list id (a UUID)")
        if item.strip().lower() not in ids:
            ids.append(item.strip().lower())
    if len(ids) > MAX_LISTS:
        raise FormDefinitionError(
            "list_ids", f"names {len(ids)} lists; CC accepts at most {MAX_LISTS}"
        )
    return tuple(ids)


def _number(data: Mapping[str, Any], key: str, default: float, lo: float, hi: float) -> float:
    value = data.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not lo <= value <= hi:
        raise FormDefinitionError(key, f"must be a number from {lo:g} to {hi:g}")
    return float(value)


DEFINITION_KEYS = frozenset(FormDefinition.__dataclass_fields__)


def parse_definition(data: Mapping[str, Any]) -> FormDefinition:
    """Check a definition given as JSON-like data; ``FormDefinitionError`` names the problem."""
    if not isinstance(data, Mapping):
        raise FormDefinitionError("form", "must be a JSON object")
    unknown = set(data) - DEFINITION_KEYS
    if unknown:
        raise FormDefinitionError("form", f"unknown properties: {', '.join(sorted(unknown))}")
    account_id = _text(data, "account_id", required=True, max_len=36)
    assert account_id is not None
    redirect = _text(data, "redirect_url", required=False, max_len=2000)
    if redirect is not None:
        parts = urlsplit(redirect)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise FormDefinitionError("redirect_url", "must be an absolute http(s) URL")
    origins_raw = data.get("allowed_origins") or []
    if not isinstance(origins_raw, Sequence) or isinstance(origins_raw, str):
        raise FormDefinitionError("allowed_origins", "must be a list of origins")
    origins = tuple(dict.fromkeys(normalize_origin(o) for o in origins_raw))
    captcha = data.get("captcha", False)
    if not isinstance(captcha, bool):
        raise FormDefinitionError("captcha", "must be true or false")
    return FormDefinition(
        name=_text(data, "name", required=True, max_len=200) or "",
        account_id=account_id,
        list_ids=_list_ids(data.get("list_ids")),
        consent_text=_text(data, "consent_text", required=True, max_len=CONSENT_TEXT_MAX) or "",
        fields=_fields(data.get("fields")),
        title=_text(data, "title", required=False, max_len=200) or "Sign up",
        intro=_text(data, "intro", required=False, max_len=2000),
        submit_label=_text(data, "submit_label", required=False, max_len=60) or "Sign up",
        thank_you_message=_text(data, "thank_you_message", required=False, max_len=2000)
        or "Thank you for signing up.",
        redirect_url=redirect,
        allowed_origins=origins,
        min_fill_seconds=_number(data, "min_fill_seconds", 3.0, 0.0, 3600.0),
        max_token_age_seconds=_number(data, "max_token_age_seconds", 86_400.0, 60.0, 2_592_000.0),
        rate_limit_per_minute=int(_number(data, "rate_limit_per_minute", 600, 1, 1_000_000)),
        captcha=captcha,
    )


# -- storage ------------------------------------------------------------------------------------
def _definition_from_json(text: str) -> FormDefinition:
    data = json.loads(text)
    fields = tuple(
        FormField(f["name"], f["label"], f["required"], f.get("custom_field_id"), f.get("cc_name"))
        for f in data.pop("fields")
    )
    return FormDefinition(
        **{
            **data,
            "fields": fields,
            "list_ids": tuple(data["list_ids"]),
            "allowed_origins": tuple(data["allowed_origins"]),
        }
    )


def _form_from_row(row: Any) -> Form:
    return Form(
        id=row.id,
        status=row.status,
        consent_version=int(row.consent_version),
        definition=_definition_from_json(row.definition),
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


@dataclass
class FormStore:
    """Create, read, change and disable forms in the database."""

    db: Database
    clock: Callable[[], float] = field(default=lambda: datetime.now(UTC).timestamp())
    account_exists: Callable[[str], bool] | None = None
    """Checks that a form's account is a linked account; None skips the check."""

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), UTC)

    def create(self, definition: FormDefinition | Mapping[str, Any]) -> Form:
        if not isinstance(definition, FormDefinition):
            definition = parse_definition(definition)
        self._check_account(definition.account_id)
        now = self.now()
        form_id = str(uuid.uuid4())
        with self.db.write() as conn:
            conn.execute(
                insert(forms_table).values(
                    id=form_id,
                    account_id=definition.account_id,
                    name=definition.name,
                    status=ACTIVE,
                    definition=json.dumps(definition.to_json(), sort_keys=True),
                    consent_text=definition.consent_text,
                    consent_version=1,
                    created_at=now,
                    updated_at=now,
                )
            )
        return self.get(form_id)

    def _check_account(self, account_id: str) -> None:
        if self.account_exists is not None and not self.account_exists(account_id):
            raise FormDefinitionError("account_id", f"no linked account has id {account_id!r}")

    def get(self, form_id: str) -> Form:
        with self.db.read() as conn:
            row = conn.execute(select(forms_table).where(forms_table.c.id == form_id)).first()
        if row is None:
            raise FormNotFoundError(f"no form has id {form_id!r}")
        return _form_from_row(row)

    def find(self, form_id: str) -> Form | None:
        try:
            return self.get(form_id)
        except FormNotFoundError:
            return None

    def list(self, *, account_id: str | None = None) -> list[Form]:
        stmt = select(forms_table).order_by(forms_table.c.created_at, forms_table.c.id)
        if account_id is not None:
            stmt = stmt.where(forms_table.c.account_id == account_id)
        with self.db.read() as conn:
            return [_form_from_row(r) for r in conn.execute(stmt)]

    def update(self, form_id: str, changes: Mapping[str, Any]) -> Form:
        """Apply ``changes`` (definition properties); a new consent wording bumps the version."""
        if "account_id" in changes:
            raise FormDefinitionError(
                "account_id", "cannot change: a form's submissions belong to its account"
            )
        current = self.get(form_id)
        merged = {**current.definition.to_json(), **changes}
        definition = parse_definition(merged)
        version = current.consent_version
        if definition.consent_text != current.definition.consent_text:
            version += 1
        with self.db.write() as conn:
            conn.execute(
                update(forms_table)
                .where(forms_table.c.id == form_id)
                .values(
                    name=definition.name,
                    definition=json.dumps(definition.to_json(), sort_keys=True),
                    consent_text=definition.consent_text,
                    consent_version=version,
                    updated_at=self.now(),
                )
            )
        return self.get(form_id)

    def set_status(self, form_id: str, status: str) -> Form:
        if status not in (ACTIVE, DISABLED):
            raise FormDefinitionError("status", f"must be {ACTIVE} or {DISABLED}")
        with self.db.write() as conn:
            result = conn.execute(
                update(forms_table)
                .where(forms_table.c.id == form_id)
                .values(status=status, updated_at=self.now())
            )
        if result.rowcount == 0:
            raise FormNotFoundError(f"no form has id {form_id!r}")
        return self.get(form_id)

    def disable(self, form_id: str) -> Form:
        return self.set_status(form_id, DISABLED)

    def enable(self, form_id: str) -> Form:
        return self.set_status(form_id, ACTIVE)
