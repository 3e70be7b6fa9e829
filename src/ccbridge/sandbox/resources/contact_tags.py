"""Sandbox emulation of CC's contact tags (swagger tag "Contact Tags").

Tags are CC's lightweight labels on contacts (at most 50 per contact). Integrations create
them by name, rename them, count how many contacts carry each, and delete them. As on CC
(CC-V3-FACTS §4): names are unique (case does not make a new name), ``tag_source`` is fixed
at creation, the collection pages with a cursor, and ``DELETE`` is asynchronous — it
answers 202 with an ``ActivityGeneric`` and the tag disappears (and is stripped from every
contact) only when the ``contacts_tags_delete`` activity completes on the sandbox clock.
That worker is registered here and shared with ``POST /activities/contacts_tags_delete``.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

from ccbridge.sandbox import activities, pagination
from ccbridge.sandbox.clock import iso
from ccbridge.sandbox.errors import CCError
from ccbridge.sandbox.http import SandboxResponse, json_response
from ccbridge.sandbox.params import (
    bool_param,
    limit_param,
    reject_unknown,
    require_object,
    require_uuid,
    string_field,
)
from ccbridge.sandbox.routing import Context, RouteTable
from ccbridge.sandbox.state import AccountData, Activity, Tag, new_id

routes = RouteTable()

AREA = "tags"
COLLECTION_PATH = "/v3/contact_tags"
MAX_NAME_LENGTH = 255
DEFAULT_LIMIT = 50
MAX_LIMIT = 500

READ_ONLY_FIELDS = {"tag_id", "created_at", "updated_at", "contacts_count"}
"""Accepted and ignored on writes, so a fetched tag can be sent back as it is."""


# -- rendering ------------------------------------------------------------------------------
def tag_json(tag: Tag, contacts_count: int | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "tag_id": tag.tag_id,
        "name": tag.name,
        "created_at": iso(tag.created_at),
        "updated_at": iso(tag.updated_at),
    }
    if tag.tag_source is not None:
        body["tag_source"] = tag.tag_source
    if contacts_count is not None:
        body["contacts_count"] = contacts_count
    return body


def generic_activity_json(activity: Activity) -> dict[str, Any]:
    """CC's ActivityGeneric, the body of DELETE /contact_tags/{id}.

    It differs from the common Activity object: each error is an object ``{message}``
    rather than a string, and the status carries the tag counts.
    """
    return {
        "activity_id": activity.activity_id,
        "state": activity.state,
        "created_at": iso(activity.created_at),
        "updated_at": iso(activity.updated_at),
        "percent_done": activity.percent_done,
        "activity_errors": [{"message": str(error)} for error in activity.activity_errors],
        "status": {
            "items_total_count": activity.items_total,
            "items_completed_count": activity.items_completed,
        },
        "_links": {"self": {"href": f"/v3/activities/{activity.activity_id}"}},
    }


# -- helpers -------------------------------------------------------------------------------------
def tag_counts(data: AccountData) -> Counter[str]:
    """Contacts per tag_id, counting only contacts that are not deleted."""
    counts: Counter[str] = Counter()
    for contact in data.contacts.values():
        if contact.deleted_at is None:
            counts.update(set(contact.taggings))
    return counts


def _sort_key(tag: Tag) -> str:
    # Creation order; the id breaks ties so the order is total (keyset cursors need that).
    return f"{tag.created_at.strftime('%Y%m%d%H%M%S%f')}|{tag.tag_id}"


def find_tag(data: AccountData, raw_id: str) -> Tag:
    tag_id = require_uuid(AREA, "tag_id", raw_id)
    tag = data.tags.get(tag_id)
    if tag is None:
        raise CCError.not_found(AREA, f"No tag with tag_id {tag_id} was found.")
    return tag


def _tag_name(body: dict[str, Any]) -> str:
    name = string_field(AREA, body, "name", required=True, min_length=1, max_length=MAX_NAME_LENGTH)
    assert name is not None
    if not name.strip():
        raise CCError.bad_request(AREA, "name must not be blank.")
    return name


def _ensure_unique_name(data: AccountData, name: str, except_id: str | None = None) -> None:
    """Tag names are unique per account regardless of case."""
    wanted = name.casefold()
    for tag in data.tags.values():
        if tag.tag_id != except_id and tag.name.casefold() == wanted:
            raise CCError.conflict(
                AREA, f"A tag named '{tag.name}' already exists (tag_id {tag.tag_id})."
            )


# -- handlers -------------------------------------------------------------------------------------
@routes.operation("getTags")
def get_tags(ctx: Context) -> dict[str, Any]:
    req, after = pagination.effective_keyset_query(ctx.request, AREA)
    limit = limit_param(req, AREA, DEFAULT_LIMIT, MAX_LIMIT)
    include_count = bool_param(req, AREA, "include_count")
    ordered = sorted(ctx.account.tags.values(), key=_sort_key)
    page, resume_after = pagination.keyset_page(ordered, _sort_key, after, limit)
    counts = tag_counts(ctx.account) if include_count else None
    body: dict[str, Any] = {
        "tags": [tag_json(tag, counts[tag.tag_id] if counts is not None else None) for tag in page]
    }
    links = pagination.keyset_links(COLLECTION_PATH, req.query_dict(), resume_after)
    if links:
        body["_links"] = links
    return body


@routes.operation("postTag")
def post_tag(ctx: Context) -> SandboxResponse:
    data = ctx.account
    body = require_object(AREA, ctx.request.json(area=AREA))
    reject_unknown(AREA, body, {"name", "tag_source"} | READ_ONLY_FIELDS)
    name = _tag_name(body)
    tag_source = string_field(AREA, body, "tag_source")
    _ensure_unique_name(data, name)
    now = ctx.clock.now()
    tag = Tag(tag_id=new_id(), name=name, created_at=now, updated_at=now, tag_source=tag_source)
    data.tags[tag.tag_id] = tag
    return json_response(tag_json(tag), 201)


@routes.operation("getTag")
def get_tag(ctx: Context) -> dict[str, Any]:
    data = ctx.account
    tag = find_tag(data, ctx.params["tag_id"])
    include_count = bool_param(ctx.request, AREA, "include_count")
    return tag_json(tag, tag_counts(data)[tag.tag_id] if include_count else None)


@routes.operation("putTag")
def put_tag(ctx: Context) -> dict[str, Any]:
    """Rename a tag. Its ``tag_source`` is fixed at creation; sending a different one is a 400
    rather than a silent no-op, so the caller learns it did not change."""
    data = ctx.account
    tag = find_tag(data, ctx.params["tag_id"])
    body = require_object(AREA, ctx.request.json(area=AREA))
    reject_unknown(AREA, body, {"name", "tag_source"} | READ_ONLY_FIELDS)
    name = _tag_name(body)
    if "tag_source" in body and body["tag_source"] != tag.tag_source:
        raise CCError.bad_request(
            AREA, "tag_source cannot be changed; it is set only when the tag is created."
        )
    _ensure_unique_name(data, name, except_id=tag.tag_id)
    tag.name = name
    tag.updated_at = ctx.clock.now()
    return tag_json(tag)


@routes.operation("deleteTag")
def delete_tag(ctx: Context) -> SandboxResponse:
    """Queue the deletion and answer 202; the tag goes when the activity completes."""
    data = ctx.account
    tag = find_tag(data, ctx.params["tag_id"])
    activity = activities.start_activity(
        data,
        ctx.state.settings,
        ctx.clock.now(),
        "contacts_tags_delete",
        items_total=1,  # CC counts this activity's items in tags
        payload={"tag_ids": [tag.tag_id]},
        status={"items_total_count": 1, "items_completed_count": 0},
    )
    return json_response(generic_activity_json(activity), 202)


# -- the asynchronous part ---------------------------------------------------------------------
@activities.worker("contacts_tags_delete")
def apply_tags_delete(data: AccountData, activity: Activity, now: datetime) -> None:
    """Delete the tags in ``payload["tag_ids"]`` and untag every contact that carried them.

    Runs once, when the activity completes. Tags already gone by then are reported in
    ``activity_errors``; the status counts the tags asked for and the tags deleted.
    """
    tag_ids = list(activity.payload.get("tag_ids", []))
    deleted: set[str] = set()
    for tag_id in tag_ids:
        if data.tags.pop(tag_id, None) is None:
            activity.activity_errors.append(
                f"Tag {tag_id} was not deleted: it does not exist or is already deleted."
            )
        else:
            deleted.add(tag_id)
    if deleted:
        for contact in data.contacts.values():
            if deleted.intersection(contact.taggings):
                contact.taggings = [tid for tid in contact.taggings if tid not in deleted]
                contact.updated_at = now
    activity.status["items_total_count"] = len(tag_ids)
    activity.status["items_completed_count"] = len(deleted)
