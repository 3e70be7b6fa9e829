"""Sandbox emulation of CC's contact custom fields (swagger tag "Contacts Custom Fields").

Custom fields are the account-defined columns of a contact (membership level, vehicle,
…); imports address them as ``cf:<name>`` and contacts carry up to 25 values. This module
keeps their definitions as CC does (CC-V3-FACTS §4): at most 100 per account, a ``label``
of at most 50 characters from which the read-only ``name`` is built by replacing blanks
with underscores, one of CC's data types, integer-numbered ``choices`` for the select
types (20 at most when shown as radio buttons or checkboxes, 100 as a dropdown), a PUT
that replaces ``label`` and ``choices``, and a synchronous DELETE (204) that also removes
the field's values from every contact. The ``custom_fields_delete`` worker used by
``POST /activities/custom_fields_delete`` is registered here too.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from ccbridge.sandbox import activities, pagination
from ccbridge.sandbox.clock import iso
from ccbridge.sandbox.errors import CCError
from ccbridge.sandbox.http import SandboxResponse, json_response
from ccbridge.sandbox.params import (
    limit_param,
    reject_unknown,
    require_object,
    require_uuid,
    string_field,
)
from ccbridge.sandbox.routing import Context, RouteTable
from ccbridge.sandbox.state import AccountData, Activity, CustomField, new_id

routes = RouteTable()

AREA = "custom_fields"
COLLECTION_PATH = "/v3/contact_custom_fields"
MAX_FIELDS_PER_ACCOUNT = 100
MAX_LABEL_LENGTH = 50
MAX_TYPE_LENGTH = 20
MAX_CHOICE_LABEL_LENGTH = 255
DEFAULT_LIMIT = 50
MAX_LIMIT = 100

FIELD_TYPES = (
    "string",
    "text_area",
    "number",
    "currency",
    "boolean",
    "date",
    "datetime",
    "single_select",
    "multi_select",
)
"""The data types CC's custom-field guide lists for ``type``."""
SELECT_TYPES = ("single_select", "multi_select")
DATE_TYPES = ("date", "datetime")
DISPLAY_TYPES = ("dropdown", "checkbox", "radio")
MAX_CHOICES = {"radio": 20, "checkbox": 20, "dropdown": 100}
MAX_CHOICES_DEFAULT = 100  # no display_type given: the schema's own cap

METADATA_FIELDS: dict[str, type] = {
    "display_type": str,
    "allow_negative": bool,
    "decimal_places": int,
    "currency_code": str,
    "integer": bool,
    "display_format": str,
}
READ_ONLY_FIELDS = {"custom_field_id", "name", "created_at", "updated_at"}
"""Accepted and ignored on writes, so a fetched field can be sent back as it is."""


# -- rendering -------------------------------------------------------------------------------
def custom_field_json(field: CustomField) -> dict[str, Any]:
    body: dict[str, Any] = {
        "custom_field_id": field.custom_field_id,
        "label": field.label,
        "name": field.name,
        "type": field.type,
        "created_at": iso(field.created_at),
        "updated_at": iso(field.updated_at),
    }
    if field.metadata:
        body["metadata"] = dict(field.metadata)
    if field.version is not None:
        body["version"] = field.version
    if field.choices:
        body["choices"] = [dict(choice) for choice in field.choices]
    return body


# -- validation ------------------------------------------------------------------------------------
def name_from_label(label: str) -> str:
    """CC's read-only ``name``: the label with its blanks replaced by underscores."""
    return re.sub(r"\s", "_", label.strip())


def _label(body: dict[str, Any]) -> str:
    label = string_field(AREA, body, "label", required=True, max_length=MAX_LABEL_LENGTH)
    assert label is not None
    if not label.strip():
        raise CCError.bad_request(AREA, "label must not be blank.")
    return label


def _field_type(body: dict[str, Any]) -> str:
    value = string_field(AREA, body, "type", required=True, max_length=MAX_TYPE_LENGTH)
    if value not in FIELD_TYPES:
        raise CCError.bad_request(AREA, f"type '{value}' is not one of: {', '.join(FIELD_TYPES)}.")
    assert value is not None
    return value


def _metadata(body: dict[str, Any], field_type: str) -> dict[str, Any] | None:
    raw = body.get("metadata")
    if raw is None:
        return None
    meta = require_object(AREA, raw, "metadata property")
    reject_unknown(AREA, meta, set(METADATA_FIELDS), where="metadata")
    for key, expected in METADATA_FIELDS.items():
        value = meta.get(key)
        if value is None:
            continue
        if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
            kind = {str: "a string", bool: "a boolean", int: "an integer"}[expected]
            raise CCError.bad_request(AREA, f"metadata.{key} must be {kind}.")
    display_type = meta.get("display_type")
    if display_type is not None:
        if field_type not in SELECT_TYPES:
            raise CCError.bad_request(
                AREA, "metadata.display_type applies only to single_select and multi_select."
            )
        if display_type not in DISPLAY_TYPES:
            raise CCError.bad_request(
                AREA, f"metadata.display_type must be one of: {', '.join(DISPLAY_TYPES)}."
            )
    places = meta.get("decimal_places")
    if meta.get("integer") is False and (places is None or not 1 <= places <= 4):
        raise CCError.bad_request(
            AREA, "metadata.decimal_places must be between 1 and 4 when metadata.integer is false."
        )
    if places is not None and not 0 <= places <= 4:
        raise CCError.bad_request(AREA, "metadata.decimal_places must be between 0 and 4.")
    code = meta.get("currency_code")
    if code is not None and not re.fullmatch(r"[A-Za-z]{3}", code):
        raise CCError.bad_request(AREA, "metadata.currency_code must be a three-letter code.")
    return {k: v for k, v in meta.items() if v is not None} or None


def _version(body: dict[str, Any], field_type: str) -> int | None:
    value = body.get("version")
    if value is None:
        return None
    if isinstance(value, bool) or value not in (1, 2):
        raise CCError.bad_request(AREA, "version must be 1 (legacy string dates) or 2.")
    if field_type not in DATE_TYPES:
        raise CCError.bad_request(AREA, "version applies only to date and datetime fields.")
    return int(value)


def _choice_limit(metadata: dict[str, Any] | None) -> int:
    display_type = (metadata or {}).get("display_type") or ""
    return MAX_CHOICES.get(display_type, MAX_CHOICES_DEFAULT)


def _choices(
    data: AccountData,
    body: dict[str, Any],
    field_type: str,
    metadata: dict[str, Any] | None,
    existing: list[dict[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    """Validate ``choices`` and give each an integer ``choice_id``.

    On a PUT (``existing`` given) a choice carrying a ``choice_id`` updates that choice;
    one without gets a new id. Ids come from the account's sequence, so a removed choice's
    id is never reused for a different answer.
    """
    raw = body.get("choices")
    if field_type not in SELECT_TYPES:
        if raw:
            raise CCError.bad_request(
                AREA, "choices applies only to single_select and multi_select fields."
            )
        return []
    if not isinstance(raw, list) or not raw:
        raise CCError.bad_request(
            AREA, f"choices is required for a {field_type} field: an array of at least 1 choice."
        )
    limit = _choice_limit(metadata)
    if len(raw) > limit:
        shown = (metadata or {}).get("display_type") or "this"
        raise CCError.bad_request(
            AREA, f"choices has {len(raw)} items; a {shown} field allows at most {limit}."
        )
    known = {c["choice_id"] for c in existing or []}
    allowed = {"choice_label", "display_order"} | ({"choice_id"} if existing is not None else set())
    out: list[dict[str, Any]] = []
    seen_labels: set[str] = set()
    seen_ids: set[int] = set()
    for index, item in enumerate(raw):
        where = f"choices[{index}]"
        choice = require_object(AREA, item, where)
        reject_unknown(AREA, choice, allowed, where=where)
        label = string_field(
            AREA,
            choice,
            "choice_label",
            required=True,
            max_length=MAX_CHOICE_LABEL_LENGTH,
            where=where,
        )
        assert label is not None
        if label.casefold() in seen_labels:
            raise CCError.bad_request(AREA, f"{where}.choice_label '{label}' appears twice.")
        seen_labels.add(label.casefold())
        order = choice.get("display_order", index + 1)
        if isinstance(order, bool) or not isinstance(order, int):
            raise CCError.bad_request(AREA, f"{where}.display_order must be an integer.")
        choice_id = choice.get("choice_id")
        if choice_id is not None and (
            isinstance(choice_id, bool) or choice_id not in known or choice_id in seen_ids
        ):
            raise CCError.bad_request(
                AREA,
                f"{where}.choice_id {choice_id!r} is not a choice of this custom field "
                "(or appears twice).",
            )
        if choice_id is not None:
            seen_ids.add(choice_id)
        out.append({"choice_id": choice_id, "choice_label": label, "display_order": order})
    # New ids only once everything is valid, so a refused request consumes none.
    for choice in out:
        if choice["choice_id"] is None:
            choice["choice_id"] = data.take_sequence()
    return out


def _ensure_unique(data: AccountData, label: str, except_id: str | None = None) -> None:
    """Labels, and the names built from them, are unique per account regardless of case."""
    wanted_label, wanted_name = label.casefold(), name_from_label(label).casefold()
    for field in data.custom_fields.values():
        if field.custom_field_id == except_id:
            continue
        if field.label.casefold() == wanted_label or field.name.casefold() == wanted_name:
            raise CCError.conflict(
                AREA,
                f"A custom field with label '{field.label}' (name '{field.name}') already "
                f"exists (custom_field_id {field.custom_field_id}).",
            )


def find_field(data: AccountData, raw_id: str) -> CustomField:
    field_id = require_uuid(AREA, "custom_field_id", raw_id)
    field = data.custom_fields.get(field_id)
    if field is None:
        raise CCError.not_found(AREA, f"No custom field with custom_field_id {field_id} was found.")
    return field


def _sort_key(field: CustomField) -> str:
    return f"{field.created_at.strftime('%Y%m%d%H%M%S%f')}|{field.custom_field_id}"


# -- effects on contacts ---------------------------------------------------------------------------
def remove_fields(data: AccountData, field_ids: set[str], now: datetime) -> None:
    """Delete definitions and every contact's value for them."""
    for field_id in field_ids:
        data.custom_fields.pop(field_id, None)
    for contact in data.contacts.values():
        kept = [cf for cf in contact.custom_fields if cf.get("custom_field_id") not in field_ids]
        if len(kept) != len(contact.custom_fields):
            contact.custom_fields = kept
            contact.updated_at = now


def _drop_choices(data: AccountData, field_id: str, gone: set[int], now: datetime) -> None:
    """Remove choices that a PUT dropped from the contacts that had picked them."""
    for contact in data.contacts.values():
        for value in contact.custom_fields:
            if value.get("custom_field_id") != field_id:
                continue
            picked = value.get("choice_ids") or []
            if gone.intersection(picked):
                value["choice_ids"] = [cid for cid in picked if cid not in gone]
                contact.updated_at = now


# -- handlers --------------------------------------------------------------------------------------
@routes.operation("getCustomFields")
def get_custom_fields(ctx: Context) -> dict[str, Any]:
    req, after = pagination.effective_keyset_query(ctx.request, AREA)
    limit = limit_param(req, AREA, DEFAULT_LIMIT, MAX_LIMIT)
    ordered = sorted(ctx.account.custom_fields.values(), key=_sort_key)
    page, resume_after = pagination.keyset_page(ordered, _sort_key, after, limit)
    body: dict[str, Any] = {"custom_fields": [custom_field_json(f) for f in page]}
    links = pagination.keyset_links(COLLECTION_PATH, req.query_dict(), resume_after)
    if links:
        body["_links"] = links
    return body


@routes.operation("postCustomFields")
def post_custom_field(ctx: Context) -> SandboxResponse:
    data = ctx.account
    body = require_object(AREA, ctx.request.json(area=AREA))
    reject_unknown(
        AREA, body, {"label", "type", "metadata", "choices", "version"} | READ_ONLY_FIELDS
    )
    label = _label(body)
    field_type = _field_type(body)
    metadata = _metadata(body, field_type)
    version = _version(body, field_type)
    if len(data.custom_fields) >= MAX_FIELDS_PER_ACCOUNT:
        raise CCError.bad_request(
            AREA,
            f"The account already has {MAX_FIELDS_PER_ACCOUNT} custom fields, the most CC "
            "allows; delete one before creating another.",
        )
    _ensure_unique(data, label)
    choices = _choices(data, body, field_type, metadata)
    now = ctx.clock.now()
    field = CustomField(
        custom_field_id=new_id(),
        label=label,
        name=name_from_label(label),
        type=field_type,
        created_at=now,
        updated_at=now,
        metadata=metadata,
        version=version,
        choices=choices,
    )
    data.custom_fields[field.custom_field_id] = field
    return json_response(custom_field_json(field), 201)


@routes.operation("getCustomField")
def get_custom_field(ctx: Context) -> dict[str, Any]:
    return custom_field_json(find_field(ctx.account, ctx.params["custom_field_id"]))


@routes.operation("putCustomField")
def put_custom_field(ctx: Context) -> dict[str, Any]:
    """Replace ``label`` and ``choices``.

    CC overwrites omitted properties with null. A field cannot exist without a label, and a
    select field without choices, so omitting those is a 400 here rather than a broken
    field; on other types an omitted ``choices`` simply stays empty. ``type``, ``metadata``
    and ``version`` cannot change: sent unchanged (a GET-modify-PUT round trip) they are
    accepted, sent different they are refused so the caller knows.
    """
    data = ctx.account
    field = find_field(data, ctx.params["custom_field_id"])
    body = require_object(AREA, ctx.request.json(area=AREA))
    reject_unknown(
        AREA, body, {"label", "choices", "type", "metadata", "version"} | READ_ONLY_FIELDS
    )
    current = {"type": field.type, "metadata": field.metadata, "version": field.version}
    for key, value in current.items():
        if key in body and body[key] != value:
            raise CCError.bad_request(
                AREA, f"{key} cannot be changed with PUT; only label and choices can."
            )
    label = _label(body)
    _ensure_unique(data, label, except_id=field.custom_field_id)
    choices = _choices(data, body, field.type, field.metadata, existing=field.choices)
    now = ctx.clock.now()
    gone = {c["choice_id"] for c in field.choices} - {c["choice_id"] for c in choices}
    if gone:
        _drop_choices(data, field.custom_field_id, gone, now)
    field.label = label
    field.name = name_from_label(label)
    field.choices = choices
    field.updated_at = now
    return custom_field_json(field)


@routes.operation("deleteCustomField")
def delete_custom_field(ctx: Context) -> None:
    data = ctx.account
    field = find_field(data, ctx.params["custom_field_id"])
    remove_fields(data, {field.custom_field_id}, ctx.clock.now())


# -- the asynchronous part (POST /activities/custom_fields_delete) --------------------------------
@activities.worker("custom_fields_delete")
def apply_custom_fields_delete(data: AccountData, activity: Activity, now: datetime) -> None:
    """Delete the fields in ``payload["custom_field_ids"]`` and their values on contacts.

    Runs once, when the activity completes; fields already gone are reported in
    ``activity_errors``.
    """
    present: set[str] = set()
    for field_id in activity.payload.get("custom_field_ids", []):
        if field_id in data.custom_fields:
            present.add(field_id)
        else:
            activity.activity_errors.append(
                f"Custom field {field_id} was not deleted: it does not exist."
            )
    remove_fields(data, present, now)
