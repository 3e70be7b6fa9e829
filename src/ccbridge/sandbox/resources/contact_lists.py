"""Sandbox emulation of CC's contact lists (swagger tag "Contact Lists").

Lists are what CC campaigns are sent to, so integrations create, rename, count and delete
them constantly. This module keeps them faithful to CC (CC-V3-FACTS §4): unique names, at
most 1,000 lists per account, ``membership_count`` computed from the contacts themselves,
deleted lists kept with ``deleted_at`` (they stay visible with ``status=deleted``), the V2
``list_id_xrefs`` migration lookup, and — the part clients most often get wrong —
*asynchronous* deletion: ``DELETE`` answers 202 with an activity, and the list only goes
away when that activity completes on the sandbox clock. The ``list_delete`` worker that
does the deletion is registered here and shared with ``POST /activities/list_delete``.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

from ccbridge.sandbox import activities, pagination
from ccbridge.sandbox.clock import iso
from ccbridge.sandbox.errors import CCError
from ccbridge.sandbox.http import SandboxRequest, SandboxResponse, json_response
from ccbridge.sandbox.params import (
    bool_param,
    enum_csv_param,
    limit_param,
    reject_unknown,
    require_object,
    require_uuid,
    string_field,
)
from ccbridge.sandbox.routing import Context, RouteTable
from ccbridge.sandbox.state import AccountData, Activity, Contact, ContactList, new_id

routes = RouteTable()

AREA = "lists"
COLLECTION_PATH = "/v3/contact_lists"
MAX_LISTS_PER_ACCOUNT = 1_000
MAX_NAME_LENGTH = 255
MAX_DESCRIPTION_LENGTH = 255
MAX_XREF_IDS = 500
DEFAULT_LIMIT = 50
MAX_LIMIT = 1_000  # the swagger schema's maximum; its description says 500 (CC-V3-FACTS §10)

WRITABLE_FIELDS = {"name", "description", "favorite"}
READ_ONLY_FIELDS = {"list_id", "created_at", "updated_at", "deleted_at", "membership_count"}
"""Accepted and ignored on writes, so a client can GET a list, change it and PUT it back."""


# -- rendering -------------------------------------------------------------------------
def list_json(lst: ContactList, membership_count: int | None = None) -> dict[str, Any]:
    """CC's ContactList object; absent values are omitted (the swagger has no nulls)."""
    body: dict[str, Any] = {
        "list_id": lst.list_id,
        "name": lst.name,
        "favorite": lst.favorite,
        "created_at": iso(lst.created_at),
        "updated_at": iso(lst.updated_at),
    }
    if lst.description is not None:
        body["description"] = lst.description
    if lst.deleted_at is not None:
        body["deleted_at"] = iso(lst.deleted_at)
    if membership_count is not None:
        body["membership_count"] = membership_count
    return body


def delete_activity_json(activity: Activity) -> dict[str, Any]:
    """CC's ActivityDeleteListResponse: the activity fields DELETE /contact_lists returns."""
    return {
        "activity_id": activity.activity_id,
        "state": activity.state,
        "created_at": iso(activity.created_at),
        "updated_at": iso(activity.updated_at),
        "percent_done": activity.percent_done,
        "activity_errors": [str(error) for error in activity.activity_errors],
        "_links": {"self": {"href": activity_href(activity)}},
    }


def activity_href(activity: Activity) -> str:
    return f"/v3/activities/{activity.activity_id}"


# -- membership counts -------------------------------------------------------------------
def is_active_member(contact: Contact) -> bool:
    """Whether a contact counts under ``include_membership_count=active``: still in the
    account and not unsubscribed (CC counts only contacts it could mail)."""
    if contact.deleted_at is not None:
        return False
    email = contact.email_address
    return email is None or email.permission_to_send != "unsubscribed"


def membership_counts(data: AccountData, mode: str) -> Counter[str]:
    """Members per list_id in one pass over the contacts; ``mode`` is ``all`` or ``active``."""
    counts: Counter[str] = Counter()
    for contact in data.contacts.values():
        if mode == "active" and not is_active_member(contact):
            continue
        counts.update(set(contact.list_memberships))
    return counts


def _membership_mode(req: SandboxRequest) -> str | None:
    raw = req.q("include_membership_count")
    if raw is None or raw == "":
        return None
    if raw not in ("all", "active"):
        raise CCError.bad_request(
            AREA, f"include_membership_count must be 'all' or 'active'; got '{raw}'."
        )
    return raw


# -- lookups and validation ----------------------------------------------------------------
def find_list(data: AccountData, raw_id: str, *, allow_deleted: bool) -> ContactList:
    """The list named in the path; 404 when malformed, unknown, or deleted (if not allowed)."""
    list_id = require_uuid(AREA, "list_id", raw_id)
    lst = data.lists.get(list_id)
    if lst is None:
        raise CCError.not_found(AREA, f"No contact list with list_id {list_id} was found.")
    if lst.deleted_at is not None and not allow_deleted:
        raise CCError.not_found(AREA, f"The contact list {list_id} has been deleted.")
    return lst


def _favorite(body: dict[str, Any]) -> bool:
    # CC's own guide sends "favorite": "true" as a string, and CC accepts it.
    value = body.get("favorite")
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise CCError.bad_request(AREA, "favorite must be a boolean (true or false).")


def _list_input(body: Any) -> tuple[str, str | None, bool]:
    """Validate a ListInput body; returns (name, description, favorite)."""
    obj = require_object(AREA, body)
    reject_unknown(AREA, obj, WRITABLE_FIELDS | READ_ONLY_FIELDS)
    name = string_field(AREA, obj, "name", required=True, max_length=MAX_NAME_LENGTH)
    assert name is not None
    if not name.strip():
        raise CCError.bad_request(AREA, "name must not be blank.")
    description = string_field(AREA, obj, "description", max_length=MAX_DESCRIPTION_LENGTH)
    return name, description, _favorite(obj)


def _ensure_unique_name(data: AccountData, name: str, except_id: str | None = None) -> None:
    """List names are unique among the account's lists that are not deleted.

    Compared without regard to case: the stricter reading, so code that passes here also
    passes on CC.
    """
    wanted = name.casefold()
    for lst in data.lists.values():
        if lst.deleted_at is None and lst.list_id != except_id and lst.name.casefold() == wanted:
            raise CCError.conflict(
                AREA, f"A contact list named '{lst.name}' already exists (list_id {lst.list_id})."
            )


def active_list_count(data: AccountData) -> int:
    return sum(1 for lst in data.lists.values() if lst.deleted_at is None)


# -- handlers ----------------------------------------------------------------------------------
@routes.operation("getLists")
def get_lists(ctx: Context) -> dict[str, Any]:
    req, start = pagination.effective_query(ctx.request, AREA)
    limit = limit_param(req, AREA, DEFAULT_LIMIT, MAX_LIMIT)
    include_count = bool_param(req, AREA, "include_count")
    mode = _membership_mode(req)
    statuses = set(enum_csv_param(req, AREA, "status", ("all", "active", "deleted")))
    channel = req.q("channel_type") or "email"
    if channel not in ("email", "sms"):
        raise CCError.bad_request(AREA, f"channel_type must be 'email' or 'sms'; got '{channel}'.")
    # Validated for the caller's sake; the sandbox keeps email lists only, with no SMS members.
    bool_param(req, AREA, "include_sms_membership_count")
    name = req.q("name") or None

    want_active = not statuses or bool(statuses & {"all", "active"})
    want_deleted = bool(statuses & {"all", "deleted"})

    def keep(lst: ContactList) -> bool:
        if name is not None and lst.name != name:
            return False
        return want_deleted if lst.deleted_at is not None else want_active

    items = list(ctx.account.lists.values()) if channel == "email" else []
    page, next_position = pagination.take_page(items, start, limit, keep)
    counts = membership_counts(ctx.account, mode) if mode else None
    body: dict[str, Any] = {
        "lists": [
            list_json(lst, counts[lst.list_id] if counts is not None else None) for lst in page
        ]
    }
    if include_count:
        body["lists_count"] = pagination.count(items, keep)
    links = pagination.next_links(COLLECTION_PATH, req.query_dict(), next_position)
    if links:
        body["_links"] = links
    return body


@routes.operation("createList")
def create_list(ctx: Context) -> SandboxResponse:
    data = ctx.account
    name, description, favorite = _list_input(ctx.request.json(area=AREA))
    if active_list_count(data) >= MAX_LISTS_PER_ACCOUNT:
        raise CCError.bad_request(
            AREA,
            f"The account already has {MAX_LISTS_PER_ACCOUNT} contact lists, the most CC allows; "
            "delete a list before creating another.",
        )
    _ensure_unique_name(data, name)
    now = ctx.clock.now()
    lst = ContactList(
        list_id=new_id(),
        name=name,
        created_at=now,
        updated_at=now,
        description=description,
        favorite=favorite,
        sequence_id=data.take_sequence(),
    )
    data.lists[lst.list_id] = lst
    return json_response(list_json(lst), 201)


@routes.operation("getList")
def get_list(ctx: Context) -> dict[str, Any]:
    data = ctx.account
    lst = find_list(data, ctx.params["list_id"], allow_deleted=True)
    mode = _membership_mode(ctx.request)
    count = membership_counts(data, mode)[lst.list_id] if mode else None
    return list_json(lst, count)


@routes.operation("putList")
def put_list(ctx: Context) -> dict[str, Any]:
    """A PUT replaces the list: an omitted description is cleared, favorite becomes false."""
    data = ctx.account
    lst = find_list(data, ctx.params["list_id"], allow_deleted=False)
    name, description, favorite = _list_input(ctx.request.json(area=AREA))
    _ensure_unique_name(data, name, except_id=lst.list_id)
    lst.name, lst.description, lst.favorite = name, description, favorite
    lst.updated_at = ctx.clock.now()
    return list_json(lst)


@routes.operation("deleteListActivity")
def delete_list(ctx: Context) -> SandboxResponse:
    """Queue the deletion and answer 202 at once; the list goes when the activity completes."""
    data = ctx.account
    lst = find_list(data, ctx.params["list_id"], allow_deleted=False)
    members = membership_counts(data, "all")[lst.list_id]
    activity = activities.start_activity(
        data,
        ctx.state.settings,
        ctx.clock.now(),
        "list_delete",
        items_total=max(members, 1),  # big lists take longer to delete, as on CC
        payload={"list_ids": [lst.list_id]},
    )
    return json_response(
        delete_activity_json(activity), 202, headers=[("location", activity_href(activity))]
    )


@routes.operation("getListIdXrefs")
def get_list_id_xrefs(ctx: Context) -> dict[str, Any]:
    """Map V2 list ids (our ``sequence_id``) to V3 list_ids; unknown ids are left out."""
    raw = ctx.request.q("sequence_ids")
    if raw is None or not raw.strip():
        raise CCError.bad_request(AREA, "sequence_ids is required: a comma-separated list of ids.")
    wanted: set[int] = set()
    for part in raw.split(","):
        text = part.strip()
        if not text.isdigit():
            raise CCError.bad_request(
                AREA, f"sequence_ids contains '{text}', which is not a V2 list id (digits only)."
            )
        wanted.add(int(text))
    if len(wanted) > MAX_XREF_IDS:
        raise CCError.bad_request(
            AREA, f"sequence_ids accepts at most {MAX_XREF_IDS} ids; got {len(wanted)}."
        )
    found = sorted(
        (lst for lst in ctx.account.lists.values() if lst.sequence_id in wanted),
        key=lambda lst: lst.sequence_id,
    )
    return {
        "xrefs": [{"sequence_id": str(lst.sequence_id), "list_id": lst.list_id} for lst in found]
    }


# -- the asynchronous part ---------------------------------------------------------------------
@activities.worker("list_delete")
def apply_list_delete(data: AccountData, activity: Activity, now: datetime) -> None:
    """Delete the lists in ``payload["list_ids"]`` and drop them from every contact.

    Runs once, when the activity completes. Lists that are unknown or already deleted by
    then are reported in ``activity_errors``; ``status.list_count`` says how many went.
    """
    deleted: set[str] = set()
    for list_id in activity.payload.get("list_ids", []):
        lst = data.lists.get(list_id)
        if lst is None or lst.deleted_at is not None:
            activity.activity_errors.append(
                f"Contact list {list_id} was not deleted: it does not exist or is already deleted."
            )
            continue
        lst.deleted_at = now
        lst.updated_at = now
        deleted.add(list_id)
    if deleted:
        for contact in data.contacts.values():
            if deleted.intersection(contact.list_memberships):
                contact.list_memberships = [
                    lid for lid in contact.list_memberships if lid not in deleted
                ]
                contact.updated_at = now
    activity.status["list_count"] = len(deleted)
