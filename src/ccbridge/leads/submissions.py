"""Reading a signup post: the body as sent, then the values the form asked for.

Posts come from two kinds of sender: a browser submitting a plain HTML form
(``application/x-www-form-urlencoded``) and JavaScript or a server sending JSON. Both are
reduced to one flat ``{name: value}`` mapping and then checked against the form. Every
refusal is an ``InputError`` with an HTTP status and a message that names the field and
what is wrong, so the answer can tell the person (or developer) exactly what to fix.

Limits follow CC's ``sign_up_form`` (CC-V3-FACTS §3.3): a value that passes here is a value
CC accepts.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from ccbridge.leads.forms import (
    CAPTCHA_FIELD,
    CONSENT_FIELD,
    HONEYPOT_FIELD,
    IDEMPOTENCY_FIELD,
    PAGE_URL_FIELD,
    TOKEN_FIELD,
    FormDefinition,
)
from ccbridge.leads.spam import check_email

MAX_BODY_BYTES = 16 * 1024
"""A signup is a few short fields; anything larger is not one."""
MAX_IDEMPOTENCY_KEY = 200
MAX_PAGE_URL = 2000
JSON_TYPES = ("application/json",)
FORM_TYPES = ("application/x-www-form-urlencoded",)
CONSENT_YES = frozenset({"on", "true", "yes", "1", "y", "agree", "agreed"})
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class InputError(Exception):
    """A post refused with ``status``; ``field`` names what is wrong (or None)."""

    def __init__(
        self, status: int, message: str, *, field: str | None = None, key: str = ""
    ) -> None:
        super().__init__(message)
        self.status = status
        self.field = field
        self.message = message
        self.error_key = key or {
            400: "forms.api.validation.error",
            404: "forms.api.not_found",
            409: "forms.api.conflict",
            413: "forms.api.payload_too_large",
            415: "forms.api.unsupported_media_type",
        }.get(status, "forms.api.error")

    def body(self) -> list[dict[str, str]]:
        """CC's error shape: an array of ``{error_key, error_message}``."""
        return [{"error_key": self.error_key, "error_message": self.message}]


def media_type(content_type: str | None) -> tuple[str, str | None]:
    """(media type in lower case, charset or None)."""
    if not content_type:
        return "", None
    parts = [p.strip() for p in content_type.split(";")]
    charset = None
    for p in parts[1:]:
        if p.lower().startswith("charset="):
            charset = p.split("=", 1)[1].strip().strip('"').lower()
    return parts[0].lower(), charset


def parse_body(content_type: str | None, body: bytes) -> dict[str, Any]:
    """The post as a flat mapping; InputError 413/415/400 for what cannot be read."""
    if len(body) > MAX_BODY_BYTES:
        raise InputError(
            413, f"the body is {len(body)} bytes; a signup may be at most {MAX_BODY_BYTES} bytes"
        )
    kind, charset = media_type(content_type)
    if kind not in JSON_TYPES + FORM_TYPES:
        raise InputError(
            415,
            f"Content-Type {kind or '(none)'!s} is not accepted; send application/json or "
            "application/x-www-form-urlencoded",
        )
    if charset not in (None, "utf-8", "utf8"):
        raise InputError(415, f"charset {charset} is not accepted; send UTF-8")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(400, f"the body is not valid UTF-8 (byte {exc.start})") from None
    if kind in JSON_TYPES:
        return _json_values(text)
    return _form_values(text)


def _json_values(text: str) -> dict[str, Any]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(
            400, f"the body is not valid JSON ({exc.msg} at line {exc.lineno})"
        ) from None
    if not isinstance(data, dict):
        raise InputError(400, "the JSON body must be an object of field names to values")
    for name, value in data.items():
        if value is not None and not isinstance(value, str | bool | int | float):
            raise InputError(
                400, f"{name}: must be a string, not a {type(value).__name__}", field=name
            )
    return data


def _form_values(text: str) -> dict[str, Any]:
    try:
        pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=False, errors="strict")
    except UnicodeDecodeError:
        raise InputError(400, "the body has percent-escapes that are not valid UTF-8") from None
    except ValueError as exc:
        raise InputError(400, f"the form body cannot be read ({exc})") from None
    values: dict[str, Any] = {}
    for name, value in pairs:
        if name in values:
            raise InputError(400, f"{name}: sent more than once", field=name)
        values[name] = value
    return values


@dataclass(frozen=True)
class CleanSubmission:
    """A post checked against its form: what CC gets, plus the evidence and controls."""

    email: str
    fields: dict[str, str]
    """Field name → value, only the fields the person filled in (email included)."""
    page_url: str | None
    idempotency_key: str | None
    token: str | None
    captcha_response: str | None


def _as_text(name: str, value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else ""
    text = str(value).strip()
    if _CONTROL.search(text):
        raise InputError(400, f"{name}: contains control characters", field=name)
    return text


def _consent_given(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    return isinstance(value, str) and value.strip().lower() in CONSENT_YES


def clean(definition: FormDefinition, values: Mapping[str, Any]) -> CleanSubmission:
    """Check ``values`` against the form; InputError 400 names the first problem found."""
    known = {f.name for f in definition.fields}
    controls = {
        HONEYPOT_FIELD,
        TOKEN_FIELD,
        IDEMPOTENCY_FIELD,
        CONSENT_FIELD,
        PAGE_URL_FIELD,
        CAPTCHA_FIELD,
    }
    unknown = sorted(set(values) - known - controls)
    if unknown:
        raise InputError(
            400,
            f"unknown field(s) {', '.join(unknown)}; this form accepts {', '.join(sorted(known))}",
            field=unknown[0],
        )
    fields: dict[str, str] = {}
    for f in definition.fields:
        text = _as_text(f.name, values.get(f.name))
        if not text:
            if f.required:
                raise InputError(400, f"{f.name}: {f.label} is required", field=f.name)
            continue
        if len(text) > f.max_length:
            raise InputError(
                400,
                f"{f.name}: {f.label} is {len(text)} characters long; at most {f.max_length}",
                field=f.name,
            )
        fields[f.name] = text
    email, problem = check_email(fields["email_address"])
    if email is None:
        raise InputError(400, f"email_address: the email address {problem}", field="email_address")
    fields["email_address"] = email
    if not _consent_given(values.get(CONSENT_FIELD)):
        raise InputError(
            400,
            f"{CONSENT_FIELD}: the person must tick the consent box to sign up",
            field=CONSENT_FIELD,
        )
    key = _as_text(IDEMPOTENCY_FIELD, values.get(IDEMPOTENCY_FIELD)) or None
    if key is not None and len(key) > MAX_IDEMPOTENCY_KEY:
        raise InputError(
            400,
            f"{IDEMPOTENCY_FIELD}: at most {MAX_IDEMPOTENCY_KEY} characters",
            field=IDEMPOTENCY_FIELD,
        )
    page_url = _as_text(PAGE_URL_FIELD, values.get(PAGE_URL_FIELD)) or None
    if page_url is not None and len(page_url) > MAX_PAGE_URL:
        page_url = page_url[:MAX_PAGE_URL]
    return CleanSubmission(
        email=email,
        fields=fields,
        page_url=page_url,
        idempotency_key=key,
        token=_as_text(TOKEN_FIELD, values.get(TOKEN_FIELD)) or None,
        captcha_response=_as_text(CAPTCHA_FIELD, values.get(CAPTCHA_FIELD)) or None,
    )
