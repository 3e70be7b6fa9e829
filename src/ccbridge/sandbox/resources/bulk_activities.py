"""Sandbox emulation of CC's bulk activities (swagger tag "Bulk Activities").

Integrations move contacts in bulk through these endpoints: imports of up to 40,000
contacts, list and tag changes, bulk deletes and CSV exports. Each POST validates its body
at once (a 400 names the field), answers **201** with an activity in state ``initialized``,
and leaves the work to the activity engine (``ccbridge.sandbox.activities``), which runs
the registered worker when the activity completes on the sandbox clock — so a client must
poll ``GET /activities/{id}`` exactly as it would on CC (CC-V3-FACTS §5, §11 facts 11–13).

The workers live beside the data they need: imports in ``bulk_import``, contact selection,
membership, tagging and delete activities in ``bulk_contacts``, exports in
``contact_export``; ``list_delete``, ``contacts_tags_delete`` and ``custom_fields_delete``
are registered by the lists, tags and custom-fields modules, which own those deletions.

Choices where CC's documents leave room (each is also in the module it concerns):

- ``import_data`` above 40,000 contacts is a 400 (the limit is documented; a client should
  split the import). A JSON body above 4 MB is cut to the contacts in its first 4 MB, and a
  file to its first 4 MB and 40,000 lines, silently — CC's documented behaviour.
- Ids in a request body that name nothing (a target list, a tag, a segment) are a 400.
  Source ``contact_ids`` that name nothing are reported in ``activity_errors`` instead:
  CC documents them as processed in bulk, and one unknown id should not sink 499 others.
- ``GET /contact_exports/{id}`` answers 404 until the export has completed: the file does
  not exist before then (the swagger lists both 400 and 404 for this call).
- ``GET /activities`` lists the newest activity first.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from ccbridge.sandbox import pagination
from ccbridge.sandbox.activities import activity_json, start_activity
from ccbridge.sandbox.bulk_contacts import Source, select_contacts
from ccbridge.sandbox.bulk_import import (
    CSV_EMAIL_MAX,
    JSON_EMAIL_MAX,
    MAX_IMPORT_ROWS,
    SMS_PERMISSIONS,
    import_status,
    json_rows_within_limit,
    parse_import_csv,
)
from ccbridge.sandbox.contact_export import (
    COLUMNS,
    CUSTOM_FIELD_PREFIX,
    EMAIL_DEPENDENT_FIELDS,
    EXPORT_STATUSES,
    contacts_to_export,
)
from ccbridge.sandbox.errors import CCError
from ccbridge.sandbox.http import SandboxResponse, json_response, text_response
from ccbridge.sandbox.multipart_form import parse_form_data
from ccbridge.sandbox.params import (
    id_list_field,
    is_uuid,
    limit_param,
    reject_unknown,
    require_object,
    require_uuid,
)
from ccbridge.sandbox.routing import Context, RouteTable
from ccbridge.sandbox.state import AccountData, Activity

routes = RouteTable()

AREA = "activities"
COLLECTION_PATH = "/v3/activities"
LISTED_DAYS = 10
LIST_STATES = ("processing", "completed", "cancelled", "failed", "timed_out")
MAX_LIMIT = 500
DEFAULT_LIMIT = 50
MAX_TARGET_LISTS = 50
MAX_SOURCE_LISTS = 50
MAX_SOURCE_CONTACTS = 500
MAX_SOURCE_TAGS = 50
MAX_TAGS = 50
MAX_EXCLUDED = 500
MAX_EXPORT_EXCLUDED = 50
MAX_DELETE_LISTS = 100
MAX_DELETE_TAGS = 500
MAX_DELETE_CUSTOM_FIELDS = 100  # the swagger's maxItems: 0 is a known error (§10)


def bad(message: str) -> CCError:
    return CCError.bad_request(AREA, message)


def _body(ctx: Context) -> dict[str, Any]:
    return require_object(AREA, ctx.request.json(area=AREA))


IMPORT_STATUS_KEYS = frozenset(
    {
        "items_total_count",
        "person_count",
        "error_count",
        "correctable_count",
        "cannot_add_to_list_count",
    }
)
"""The status counters of CC's ActivityImport, the 201 body of both imports.

The stored status also tracks ``items_completed_count``, which ``GET /activities/{id}``
(CC's general Activity schema) reports; ActivityImport has no such property.
"""


def _created(activity: Activity, status_keys: frozenset[str] | None = None) -> SandboxResponse:
    """201 with the activity, its status block cut to what this POST's schema declares."""
    body = activity_json(activity)
    if status_keys is not None and "status" in body:
        body["status"] = {k: v for k, v in body["status"].items() if k in status_keys}
    return json_response(body, 201)


def _ids(
    body: dict[str, Any],
    name: str,
    *,
    maximum: int,
    required: bool = False,
    where: str = "",
) -> list[str]:
    """A required-or-optional array of UUIDs, normalised and without repeats."""
    ids = id_list_field(
        AREA,
        body,
        name,
        required=required,
        min_items=1 if required else 0,
        max_items=maximum,
        where=where,
    )
    return list(dict.fromkeys(ids))


# -- what request bodies may name -----------------------------------------------------------
def _require_lists(data: AccountData, ids: list[str], label: str) -> None:
    for list_id in ids:
        lst = data.lists.get(list_id)
        if lst is None or lst.deleted_at is not None:
            raise bad(f"{label} contains '{list_id}', which is not a contact list in this account.")


def _require_tags(data: AccountData, ids: list[str], label: str) -> None:
    for tag_id in ids:
        if tag_id not in data.tags:
            raise bad(f"{label} contains '{tag_id}', which is not a tag in this account.")


def _require_segment(data: AccountData, segment_id: int, label: str) -> None:
    segment = data.segments.get(segment_id)
    if segment is None or segment.deleted_at is not None:
        raise bad(f"{label} {segment_id} is not a segment in this account.")


def _sms_permission(value: Any, label: str) -> str:
    if value is None:
        return "not_set"
    if value not in SMS_PERMISSIONS:
        raise bad(f"{label} must be one of: {', '.join(SMS_PERMISSIONS)}; got {value!r}.")
    return str(value)


# -- sources ----------------------------------------------------------------------------------
SOURCE_ARRAYS = {
    "list_ids": MAX_SOURCE_LISTS,
    "contact_ids": MAX_SOURCE_CONTACTS,
    "tag_ids": MAX_SOURCE_TAGS,
}
SOURCE_FLAGS = ("all_active_contacts", "new_subscriber")
MEMBERSHIP_ADD_SOURCES = (
    "list_ids",
    "contact_ids",
    "all_active_contacts",
    "tag_ids",
    "engagement_level",
    "segment_id",
)
MEMBERSHIP_REMOVE_SOURCES = (
    "list_ids",
    "contact_ids",
    "all_active_contacts",
    "engagement_level",
    "tag_ids",
)
TAGGING_SOURCES = ("contact_ids", "list_ids", "tag_ids", "all_active_contacts", "new_subscriber")
EXCLUDABLE_SOURCES = ("list_ids", "all_active_contacts")
"""CC applies ``exclude`` only to these sources of membership and tagging activities."""


def _parse_source(data: AccountData, body: dict[str, Any], allowed: tuple[str, ...]) -> Source:
    """The one contact source a membership or tagging body names, checked as CC does."""
    raw = body.get("source")
    if raw is None:
        raise bad(f"source is required: an object naming one of {', '.join(allowed)}.")
    source = require_object(AREA, raw, "source")
    reject_unknown(AREA, source, set(allowed), "source")
    chosen: list[tuple[str, Any]] = []
    for name in allowed:
        if name not in source or source[name] is None:
            continue
        value = _source_value(data, source, name)
        if value is not None:
            chosen.append((name, value))
    if len(chosen) != 1:
        got = ", ".join(name for name, _ in chosen) or "none"
        raise bad(f"source must name exactly one of {', '.join(allowed)}; got {got}.")
    kind, value = chosen[0]
    return Source(kind=kind, value=value)


def _source_value(data: AccountData, source: dict[str, Any], name: str) -> Any:
    """The validated value of one source key; None when it selects nothing (a false flag)."""
    label = f"source.{name}"
    value = source[name]
    if name in SOURCE_ARRAYS:
        ids = _ids(source, name, maximum=SOURCE_ARRAYS[name], required=True, where="source")
        if name == "list_ids":
            _require_lists(data, ids, label)
        elif name == "tag_ids":
            _require_tags(data, ids, label)
        return ids
    if name in SOURCE_FLAGS:
        if not isinstance(value, bool):
            raise bad(f"{label} must be true or false.")
        return True if value else None
    if name == "segment_id":
        if isinstance(value, bool) or not isinstance(value, int):
            raise bad(f"{label} must be an integer.")
        _require_segment(data, value, label)
        return value
    if name == "engagement_level":
        if not isinstance(value, str) or not value.strip():
            raise bad(f"{label} must be a non-empty string.")
        return value.strip()
    raise bad(f"Unknown field: {label}.")  # pragma: no cover - allowed lists above


def _parse_exclude(body: dict[str, Any], source: Source | None, maximum: int) -> list[str]:
    raw = body.get("exclude")
    if raw is None:
        return []
    exclude = require_object(AREA, raw, "exclude")
    reject_unknown(AREA, exclude, {"contact_ids"}, "exclude")
    ids = _ids(exclude, "contact_ids", maximum=maximum, where="exclude")
    if ids and source is not None and source.kind not in EXCLUDABLE_SOURCES:
        raise bad(
            "exclude applies only when source is list_ids or all_active_contacts; "
            f"this source is {source.kind}."
        )
    return ids


def _count(data: AccountData, source: Source, now: datetime) -> int:
    return len(select_contacts(data, source, now))


# -- imports ------------------------------------------------------------------------------------
@routes.operation("bulkImportContactsJSON")
def import_json(ctx: Context) -> SandboxResponse:
    """Queue a JSON import; rows are checked one by one when the activity runs."""
    data = ctx.account
    body = _body(ctx)
    reject_unknown(AREA, body, {"import_data", "list_ids", "sms_permission_to_send"})
    rows = body.get("import_data")
    if rows is None:
        raise bad("import_data is required: an array of contacts to import.")
    if not isinstance(rows, list):
        raise bad("import_data must be an array of contact objects.")
    if not rows:
        raise bad("import_data must contain at least one contact.")
    if len(rows) > MAX_IMPORT_ROWS:
        raise bad(
            f"import_data holds {len(rows)} contacts; one import takes at most "
            f"{MAX_IMPORT_ROWS:,}. Split it into several imports."
        )
    for index, row in enumerate(rows):
        if not isinstance(row, dict):
            raise bad(f"import_data[{index}] must be a JSON object.")
    list_ids = _ids(body, "list_ids", maximum=MAX_TARGET_LISTS, required=True)
    _require_lists(data, list_ids, "list_ids")
    sms_permission = _sms_permission(body.get("sms_permission_to_send"), "sms_permission_to_send")
    rows = json_rows_within_limit(rows, len(ctx.request.body))
    activity = start_activity(
        data,
        ctx.state.settings,
        ctx.clock.now(),
        "contacts_json_import",
        len(rows),
        {
            "rows": rows,
            "first_row_number": 1,
            "list_ids": list_ids,
            "sms_permission_to_send": sms_permission,
            "email_max": JSON_EMAIL_MAX,
        },
        status=import_status(len(rows), len(rows)),
    )
    return _created(activity, IMPORT_STATUS_KEYS)


FILE_FORM_FIELDS = {"file", "list_ids", "sms_permission_to_send"}


@routes.operation("contactsCSVImport")
def import_file(ctx: Context) -> SandboxResponse:
    """Queue a CSV import sent as multipart/form-data (415 for any other media type)."""
    data = ctx.account
    parts = parse_form_data(ctx.request, AREA)
    unknown = sorted(set(parts) - FILE_FORM_FIELDS)
    if unknown:
        raise bad(f"Unknown form field(s): {', '.join(unknown)}.")
    upload = parts.get("file")
    if upload is None:
        raise bad("file is required: the CSV file to import, as a multipart file part.")
    if upload.filename and "." in upload.filename:
        extension = upload.filename.rsplit(".", 1)[1].lower()
        if extension != "csv":
            raise CCError.unsupported_media_type(
                AREA, f"file '{upload.filename}' is not a .csv file; CC imports CSV files only."
            )
    list_ids = _form_list_ids(parts["list_ids"].text() if "list_ids" in parts else None)
    _require_lists(data, list_ids, "list_ids")
    raw_permission = (
        parts["sms_permission_to_send"].text() if "sms_permission_to_send" in parts else None
    )
    sms_permission = _sms_permission(
        raw_permission.strip() if raw_permission else None, "sms_permission_to_send"
    )
    names = {cf.name for cf in data.custom_fields.values()}
    parsed = parse_import_csv(upload.data, names, sms_permission, AREA)
    activity = start_activity(
        data,
        ctx.state.settings,
        ctx.clock.now(),
        "contacts_file_import",
        parsed.lines,
        {
            "rows": parsed.rows,
            "row_problems": parsed.row_problems,
            "first_row_number": 2,  # the header is row 1
            "list_ids": list_ids,
            "sms_permission_to_send": sms_permission,
            "email_max": CSV_EMAIL_MAX,
        },
        status=import_status(parsed.lines, len(parsed.rows)),
        source_file_name=upload.filename or None,
    )
    return _created(activity, IMPORT_STATUS_KEYS)


def _form_list_ids(raw: str | None) -> list[str]:
    """``list_ids`` of the file import: one comma-separated string of 1–50 list ids."""
    if raw is None or not raw.strip():
        raise bad("list_ids is required: a comma-separated string of up to 50 list ids.")
    ids = [part.strip() for part in raw.split(",") if part.strip()]
    for list_id in ids:
        if not is_uuid(list_id):
            raise bad(f"list_ids contains '{list_id}', which is not a valid id.")
    ids = list(dict.fromkeys(list_id.lower() for list_id in ids))
    if len(ids) > MAX_TARGET_LISTS:
        raise bad(f"list_ids names {len(ids)} lists; at most {MAX_TARGET_LISTS} are allowed.")
    return ids


# -- list memberships ------------------------------------------------------------------------------
def _membership_activity(ctx: Context, kind: str, allowed: tuple[str, ...]) -> SandboxResponse:
    data = ctx.account
    body = _body(ctx)
    reject_unknown(AREA, body, {"source", "exclude", "list_ids"})
    source = _parse_source(data, body, allowed)
    source.exclude = _parse_exclude(body, source, MAX_EXCLUDED)
    list_ids = _ids(body, "list_ids", maximum=MAX_TARGET_LISTS, required=True)
    _require_lists(data, list_ids, "list_ids")
    now = ctx.clock.now()
    total = _count(data, source, now)
    activity = start_activity(
        data,
        ctx.state.settings,
        now,
        kind,
        total,
        {"source": source.to_payload(), "list_ids": list_ids},
        status={
            "items_total_count": total,
            "items_completed_count": 0,
            "list_count": len(list_ids),
        },
    )
    return _created(activity)


@routes.operation("postListAddContact")
def add_list_memberships(ctx: Context) -> SandboxResponse:
    return _membership_activity(ctx, "add_list_memberships", MEMBERSHIP_ADD_SOURCES)


@routes.operation("postListRemoveContact")
def remove_list_memberships(ctx: Context) -> SandboxResponse:
    return _membership_activity(ctx, "remove_list_memberships", MEMBERSHIP_REMOVE_SOURCES)


# -- bulk contact delete ----------------------------------------------------------------------------
@routes.operation("postContactDelete")
def delete_contacts(ctx: Context) -> SandboxResponse:
    data = ctx.account
    body = _body(ctx)
    reject_unknown(AREA, body, {"contact_ids", "list_ids"})
    contact_ids = _ids(body, "contact_ids", maximum=MAX_SOURCE_CONTACTS)
    list_ids = _ids(body, "list_ids", maximum=MAX_SOURCE_LISTS)
    if bool(contact_ids) == bool(list_ids):
        raise bad("Send exactly one of contact_ids (up to 500) or list_ids (up to 50).")
    status: dict[str, Any] = {"items_total_count": 0, "items_completed_count": 0}
    if list_ids:
        _require_lists(data, list_ids, "list_ids")
        source = Source(kind="list_ids", value=list_ids)
        status["list_count"] = len(list_ids)
    else:
        source = Source(kind="contact_ids", value=contact_ids)
    now = ctx.clock.now()
    total = len(select_contacts(data, source, now, keep_deleted=True))
    status["items_total_count"] = total
    activity = start_activity(
        data,
        ctx.state.settings,
        now,
        "contact_delete",
        total,
        {"source": source.to_payload()},
        status=status,
    )
    return _created(activity)


# -- taggings ----------------------------------------------------------------------------------------
def _tagging_activity(ctx: Context, kind: str) -> SandboxResponse:
    data = ctx.account
    body = _body(ctx)
    reject_unknown(AREA, body, {"source", "exclude", "tag_ids"})
    source = _parse_source(data, body, TAGGING_SOURCES)
    source.exclude = _parse_exclude(body, source, MAX_EXCLUDED)
    tag_ids = _ids(body, "tag_ids", maximum=MAX_TAGS, required=True)
    _require_tags(data, tag_ids, "tag_ids")
    now = ctx.clock.now()
    total = _count(data, source, now)
    activity = start_activity(
        data,
        ctx.state.settings,
        now,
        kind,
        total,
        {"source": source.to_payload(), "tag_ids": tag_ids},
        status={"items_total_count": total, "items_completed_count": 0},
    )
    return _created(activity)


@routes.operation("postTagAddContact")
def add_taggings(ctx: Context) -> SandboxResponse:
    return _tagging_activity(ctx, "contacts_taggings_add")


@routes.operation("postTagRemoveContact")
def remove_taggings(ctx: Context) -> SandboxResponse:
    return _tagging_activity(ctx, "contacts_taggings_remove")


# -- deletions whose workers live with their resources ---------------------------------------------
@routes.operation("postTagDelete")
def delete_tags(ctx: Context) -> SandboxResponse:
    data = ctx.account
    body = _body(ctx)
    reject_unknown(AREA, body, {"tag_ids"})
    tag_ids = _ids(body, "tag_ids", maximum=MAX_DELETE_TAGS, required=True)
    _require_tags(data, tag_ids, "tag_ids")
    activity = start_activity(
        data,
        ctx.state.settings,
        ctx.clock.now(),
        "contacts_tags_delete",
        len(tag_ids),
        {"tag_ids": tag_ids},
        status={"items_total_count": len(tag_ids), "items_completed_count": 0},
    )
    return _created(activity)


@routes.operation("postListDelete")
def delete_lists(ctx: Context) -> SandboxResponse:
    data = ctx.account
    body = _body(ctx)
    reject_unknown(AREA, body, {"list_ids"})
    list_ids = _ids(body, "list_ids", maximum=MAX_DELETE_LISTS, required=True)
    _require_lists(data, list_ids, "list_ids")
    activity = start_activity(
        data,
        ctx.state.settings,
        ctx.clock.now(),
        "list_delete",
        len(list_ids),
        {"list_ids": list_ids},
        status={"list_count": len(list_ids)},
    )
    return _created(activity)


@routes.operation("postCustomFieldDelete")
def delete_custom_fields(ctx: Context) -> SandboxResponse:
    data = ctx.account
    body = _body(ctx)
    reject_unknown(AREA, body, {"custom_field_ids"})
    field_ids = _ids(body, "custom_field_ids", maximum=MAX_DELETE_CUSTOM_FIELDS, required=True)
    for field_id in field_ids:
        if field_id not in data.custom_fields:
            raise bad(
                f"custom_field_ids contains '{field_id}', which is not a custom field "
                "in this account."
            )
    activity = start_activity(
        data,
        ctx.state.settings,
        ctx.clock.now(),
        "custom_fields_delete",
        len(field_ids),
        {"custom_field_ids": field_ids},
    )
    return _created(activity)


# -- exports --------------------------------------------------------------------------------------------
EXPORT_KEYS = {
    "contact_ids",
    "list_ids",
    "tag_ids",
    "segment_id",
    "new_subscriber",
    "fields",
    "status",
    "exclude",
}
EXPORT_COMBINATIONS = {
    # source -> the other filters CC lets it be combined with
    "contact_ids": {"status"},
    "list_ids": {"status", "exclude", "new_subscriber"},
    "tag_ids": set(),
    "segment_id": set(),
    "new_subscriber": {"list_ids", "exclude"},
}


@routes.operation("postContactsExport")
def export_contacts(ctx: Context) -> SandboxResponse:
    data = ctx.account
    body = _body(ctx)
    reject_unknown(AREA, body, EXPORT_KEYS)
    payload: dict[str, Any] = {"fields": _export_fields(data, body)}
    status = body.get("status")
    if status is not None:
        if status not in EXPORT_STATUSES:
            raise bad(f"status must be one of: {', '.join(EXPORT_STATUSES)}; got {status!r}.")
        payload["status"] = status
    source = _export_source(data, body)
    exclude = _parse_exclude(body, None, MAX_EXPORT_EXCLUDED)
    if source is None:
        payload["exclude"] = exclude
    else:
        source.exclude = exclude
        payload["source"] = source.to_payload()
    now = ctx.clock.now()
    total = len(contacts_to_export(data, payload, now))
    activity = start_activity(
        data,
        ctx.state.settings,
        now,
        "contact_exports",
        total,
        payload,
        status={"items_total_count": total, "items_completed_count": 0},
    )
    return _created(activity)


def _export_source(data: AccountData, body: dict[str, Any]) -> Source | None:
    """The export's source (None: the whole account), with CC's exclusivity rules."""
    present = {
        key
        for key in EXPORT_KEYS - {"fields"}
        if body.get(key) is not None and body.get(key) is not False
    }
    if "new_subscriber" in body and not isinstance(body["new_subscriber"], bool):
        raise bad("new_subscriber must be true or false.")
    sources = [key for key in EXPORT_COMBINATIONS if key in present]
    if "list_ids" in sources and "new_subscriber" in sources:
        sources.remove("new_subscriber")  # list members who subscribed in the last 30 days
    if len(sources) > 1:
        raise bad(
            f"Only one of {', '.join(EXPORT_COMBINATIONS)} may be sent; got {', '.join(sources)}."
        )
    if not sources:
        return None
    kind = sources[0]
    extra = present - {kind} - EXPORT_COMBINATIONS[kind]
    if extra:
        raise bad(f"{kind} cannot be combined with {', '.join(sorted(extra))}.")
    if kind == "segment_id":
        value = body["segment_id"]
        if isinstance(value, bool) or not isinstance(value, int):
            raise bad("segment_id must be an integer.")
        _require_segment(data, value, "segment_id")
        return Source(kind="segment_id", value=value)
    if kind == "new_subscriber":
        return Source(kind="new_subscriber", value=True)
    maximum = {
        "contact_ids": MAX_SOURCE_CONTACTS,
        "list_ids": MAX_SOURCE_LISTS,
        "tag_ids": MAX_SOURCE_TAGS,
    }[kind]
    ids = _ids(body, kind, maximum=maximum, required=True)
    if kind == "list_ids":
        _require_lists(data, ids, "list_ids")
        if body.get("new_subscriber") is True:
            return Source(kind="list_new_subscribers", value=ids)
    elif kind == "tag_ids":
        _require_tags(data, ids, "tag_ids")
    return Source(kind=kind, value=ids)


def _export_fields(data: AccountData, body: dict[str, Any]) -> list[str] | None:
    raw = body.get("fields")
    if raw is None:
        return None
    if not isinstance(raw, list) or not all(isinstance(f, str) for f in raw):
        raise bad("fields must be an array of field names.")
    if not raw:
        raise bad("fields must name at least one field, or be left out to export them all.")
    names = {cf.name for cf in data.custom_fields.values()}
    fields = list(dict.fromkeys(f.strip() for f in raw))
    for name in fields:
        if name.startswith(CUSTOM_FIELD_PREFIX):
            if name[len(CUSTOM_FIELD_PREFIX) :] not in names:
                raise bad(f"fields names '{name}', which is not a custom field of this account.")
        elif name not in COLUMNS:
            raise bad(
                f"fields names '{name}', which is not an export field; use one of "
                f"{', '.join(COLUMNS)} or cf:<custom field name>."
            )
    needs_email = [f for f in fields if f in EMAIL_DEPENDENT_FIELDS]
    if needs_email and "email_address" not in fields:
        raise bad(f"fields must include email_address to export {', '.join(needs_email)}.")
    return fields


@routes.operation("getContactsExport")
def get_export_file(ctx: Context) -> SandboxResponse:
    """The export's CSV once its activity has completed; 404 before (no file exists yet)."""
    data = ctx.account
    export_id = require_uuid(AREA, "file_export_id", ctx.params["file_export_id"])
    activity = data.activities.get(export_id)
    if activity is None or activity.kind != "contact_exports":
        raise CCError.not_found(AREA, f"No contact export with file_export_id {export_id}.")
    text = data.exports.get(export_id)
    if activity.state != "completed" or text is None:
        raise CCError.not_found(
            AREA,
            f"The export file {export_id} is not available: its activity is {activity.state}. "
            f"Poll /v3/activities/{export_id} until it is completed.",
        )
    response = text_response(text, media_type="text/csv")
    response.headers.append(
        ("content-disposition", f'attachment; filename="contacts-export-{export_id}.csv"')
    )
    return response


# -- reading activities ---------------------------------------------------------------------------------
@routes.operation("getActivityStatusCollection")
def list_activities(ctx: Context) -> dict[str, Any]:
    """Activities of the past 10 days on the sandbox clock, newest first, cursor-paged."""
    req, after = pagination.effective_keyset_query(ctx.request, AREA)
    limit = limit_param(req, AREA, DEFAULT_LIMIT, MAX_LIMIT)
    state = req.q("state")
    if state is not None and state not in LIST_STATES:
        raise bad(f"state must be one of: {', '.join(LIST_STATES)}; got '{state}'.")
    since = ctx.clock.now() - timedelta(days=LISTED_DAYS)
    recent = sorted(
        (a for a in ctx.account.activities.values() if a.created_at >= since),
        key=_newest_first_key,
    )
    page, next_after = pagination.keyset_page(
        recent,
        _newest_first_key,
        after,
        limit,
        keep=(lambda a: a.state == state) if state else None,
    )
    body: dict[str, Any] = {"activities": [activity_json(a) for a in page]}
    links = pagination.keyset_links(COLLECTION_PATH, req.query_dict(), next_after)
    if links:
        body["_links"] = links
    return body


_FAR_FUTURE_US = 10**17


def _newest_first_key(activity: Activity) -> str:
    """A key that sorts ascending newest-first and is unique (the id breaks ties)."""
    micros = int(activity.created_at.timestamp() * 1_000_000)
    return f"{_FAR_FUTURE_US - micros:018d}-{activity.activity_id}"


@routes.operation("getActivity")
def get_activity(ctx: Context) -> dict[str, Any]:
    activity_id = require_uuid(AREA, "activity_id", ctx.params["activity_id"])
    activity = ctx.account.activities.get(activity_id)
    if activity is None:
        raise CCError.not_found(AREA, f"No activity with activity_id {activity_id}.")
    return activity_json(activity)
