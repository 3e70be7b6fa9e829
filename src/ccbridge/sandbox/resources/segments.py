"""Sandbox emulation of CC's segments (swagger tag "Segments").

A segment is a saved contact query that campaigns can be sent to instead of lists. This
module stores segments the way CC's API presents them: integer ``segment_id``\\s (not UUIDs,
CC-V3-FACTS §2), unique names, ``segment_criteria`` kept as the escaped JSON *string* the
client sent, a collection that hides deleted segments and sorts by name or by edit date,
and a detail view that still shows a deleted segment (CC keeps them so campaign history
can name them).

The sandbox does **not** evaluate ``segment_criteria``: it checks only that the string is
a JSON object within CC's size limit. Which contacts a segment would select is outside
what this emulator models.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from ccbridge.sandbox import pagination
from ccbridge.sandbox.clock import iso
from ccbridge.sandbox.errors import CCError
from ccbridge.sandbox.http import SandboxRequest, SandboxResponse, json_response
from ccbridge.sandbox.params import reject_unknown, require_object, string_field
from ccbridge.sandbox.routing import Context, RouteTable
from ccbridge.sandbox.state import AccountData, Segment

routes = RouteTable()

AREA = "segments"
COLLECTION_PATH = "/v3/segments"
MAX_CRITERIA_LENGTH = 20_000
DEFAULT_LIMIT = 1_000
MAX_LIMIT = 1_000  # CC documents only the default; the sandbox does not page past it
SORT_ORDERS = ("date", "name")
MAX_INT32 = 2**31 - 1

READ_ONLY_FIELDS = {"segment_id", "created_at", "edited_at"}
"""Accepted and ignored on writes, so a fetched segment can be sent back as it is."""

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_KEY_CEILING = 10**17  # above any microsecond timestamp this century, for descending keys


# -- rendering --------------------------------------------------------------------------------
def segment_summary_json(segment: Segment) -> dict[str, Any]:
    """CC's SegmentMaster: what the collection shows (no criteria)."""
    return {
        "name": segment.name,
        "segment_id": segment.segment_id,
        "created_at": iso(segment.created_at),
        "edited_at": iso(segment.edited_at),
    }


def segment_json(segment: Segment) -> dict[str, Any]:
    """CC's SegmentDetail."""
    return {**segment_summary_json(segment), "segment_criteria": segment.segment_criteria}


# -- validation --------------------------------------------------------------------------------
def find_segment(data: AccountData, raw_id: str, *, allow_deleted: bool) -> Segment:
    """The segment named in the path; a malformed id is a 404, as CC answers bad ids."""
    text = raw_id.strip()
    if not text.isdigit() or int(text) > MAX_INT32:
        raise CCError.not_found(AREA, f"segment_id '{raw_id}' is in an invalid format.")
    segment = data.segments.get(int(text))
    if segment is None:
        raise CCError.not_found(AREA, f"No segment with segment_id {int(text)} was found.")
    if segment.deleted_at is not None and not allow_deleted:
        raise CCError.not_found(AREA, f"The segment {segment.segment_id} has been deleted.")
    return segment


def _name(body: dict[str, Any]) -> str:
    name = string_field(AREA, body, "name", required=True)
    assert name is not None
    if not name.strip():
        raise CCError.bad_request(AREA, "name must not be blank.")
    return name


def _criteria(body: dict[str, Any]) -> str:
    criteria = string_field(
        AREA, body, "segment_criteria", required=True, max_length=MAX_CRITERIA_LENGTH
    )
    assert criteria is not None
    try:
        parsed = json.loads(criteria)
    except ValueError:
        raise CCError.bad_request(
            AREA, "segment_criteria must be a JSON object encoded as a single string."
        ) from None
    if not isinstance(parsed, dict):
        raise CCError.bad_request(
            AREA, "segment_criteria must be a JSON object encoded as a single string."
        )
    return criteria


def _ensure_unique_name(data: AccountData, name: str, except_id: int | None = None) -> None:
    """Names are unique among segments that are not deleted, regardless of case."""
    wanted = name.casefold()
    for segment in data.segments.values():
        if (
            segment.deleted_at is None
            and segment.segment_id != except_id
            and segment.name.casefold() == wanted
        ):
            raise CCError.conflict(
                AREA,
                f"A segment named '{segment.name}' already exists "
                f"(segment_id {segment.segment_id}).",
            )


def _limit(req: SandboxRequest) -> int:
    # The swagger types this limit as a string; it must still hold a whole number.
    raw = req.q("limit")
    if raw is None or raw == "":
        return DEFAULT_LIMIT
    if not raw.strip().isdigit() or not 1 <= int(raw) <= MAX_LIMIT:
        raise CCError.bad_request(
            AREA, f"limit must be a whole number from 1 to {MAX_LIMIT}; got '{raw}'."
        )
    return int(raw)


def _sort_by(req: SandboxRequest) -> str:
    value = req.q("sort_by") or "date"
    if value not in SORT_ORDERS:
        raise CCError.bad_request(AREA, f"sort_by must be 'date' or 'name'; got '{value}'.")
    return value


def _key_by_name(segment: Segment) -> str:
    return f"{segment.name.casefold()}\x00{segment.segment_id:010d}"


def _key_by_date(segment: Segment) -> str:
    # Newest edit first: invert the timestamp so ascending keys give descending dates.
    micros = (segment.edited_at - _EPOCH) // timedelta(microseconds=1)
    return f"{_KEY_CEILING - micros:018d}|{segment.segment_id:010d}"


# -- handlers ----------------------------------------------------------------------------------------
@routes.operation("getAccountSegments")
def get_segments(ctx: Context) -> dict[str, Any]:
    req, after = pagination.effective_keyset_query(ctx.request, AREA)
    limit = _limit(req)
    key = _key_by_name if _sort_by(req) == "name" else _key_by_date
    live = sorted((s for s in ctx.account.segments.values() if s.deleted_at is None), key=key)
    page, resume_after = pagination.keyset_page(live, key, after, limit)
    body: dict[str, Any] = {"segments": [segment_summary_json(s) for s in page]}
    links = pagination.keyset_links(COLLECTION_PATH, req.query_dict(), resume_after)
    if links:
        body["_links"] = links
    return body


@routes.operation("createSegment")
def create_segment(ctx: Context) -> SandboxResponse:
    data = ctx.account
    body = require_object(AREA, ctx.request.json(area=AREA))
    reject_unknown(AREA, body, {"name", "segment_criteria"} | READ_ONLY_FIELDS)
    name = _name(body)
    criteria = _criteria(body)
    _ensure_unique_name(data, name)
    now = ctx.clock.now()
    segment = Segment(
        segment_id=max(data.segments, default=0) + 1,
        name=name,
        segment_criteria=criteria,
        created_at=now,
        edited_at=now,
    )
    data.segments[segment.segment_id] = segment
    return json_response(segment_json(segment), 201)


@routes.operation("getSegmentDetail")
def get_segment(ctx: Context) -> dict[str, Any]:
    return segment_json(find_segment(ctx.account, ctx.params["segment_id"], allow_deleted=True))


@routes.operation("updateSegment")
def update_segment(ctx: Context) -> dict[str, Any]:
    """Replace name and criteria; CC requires both even when only one changes."""
    data = ctx.account
    segment = find_segment(data, ctx.params["segment_id"], allow_deleted=False)
    body = require_object(AREA, ctx.request.json(area=AREA))
    reject_unknown(AREA, body, {"name", "segment_criteria"} | READ_ONLY_FIELDS)
    name = _name(body)
    criteria = _criteria(body)
    _ensure_unique_name(data, name, except_id=segment.segment_id)
    segment.name, segment.segment_criteria = name, criteria
    segment.edited_at = ctx.clock.now()
    return segment_json(segment)


@routes.operation("updateSegmentName")
def rename_segment(ctx: Context) -> dict[str, Any]:
    data = ctx.account
    segment = find_segment(data, ctx.params["segment_id"], allow_deleted=False)
    body = require_object(AREA, ctx.request.json(area=AREA))
    reject_unknown(AREA, body, {"name"})
    name = _name(body)
    _ensure_unique_name(data, name, except_id=segment.segment_id)
    segment.name = name
    segment.edited_at = ctx.clock.now()
    return segment_json(segment)


@routes.operation("deleteSegment")
def delete_segment(ctx: Context) -> None:
    """Mark the segment deleted: gone from the collection, still readable by its id."""
    segment = find_segment(ctx.account, ctx.params["segment_id"], allow_deleted=False)
    segment.deleted_at = ctx.clock.now()
