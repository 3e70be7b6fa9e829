"""Sandbox emulation of CC's Contacts operations (CC-V3-FACTS §3, §8, §11 facts 5-10).

The handlers parse and validate (``contact_input``), apply CC's consent rules
(``contact_lifecycle``) and render (``contact_rendering``). ``GET /contacts`` walks the
account's creation order from the cursor's position, so an unfiltered page costs
O(limit) however many contacts the account holds.

Choices where CC's documents are silent, made here once:

- ``status`` values are alternatives (OR). ``active`` means "not deleted"; the permission
  values (``unsubscribed``, ...) match undeleted contacts only, ``deleted`` the deleted ones.
- ``lists``/``tags`` match contacts in any of the given ids; ids that match no list simply
  find nothing. ``*_after``/``*_before`` are strict comparisons.
- ``segment_id`` is not evaluated against the segment's criteria: it answers every
  undeleted contact, always with 200 (never CC's 202 "still computing").
- A POST without ``permission_to_send`` stores ``implicit`` (UNVERIFIED default).
- Ids in a body that name no list, tag or custom field of the account are a 400.
- A PUT cannot opt back in a contact who unsubscribed themselves unless ``update_source``
  is ``Contact`` (409): CC says the account cannot send to them until they opt back in.
- A resubscribe request only records the pending confirmation; the control-plane route
  ``POST /_sandbox/contacts/{contact_id}/confirm_resubscribe`` plays the contact clicking
  the link, after which the contact is explicit and on the requested lists.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from ccbridge.sandbox import contact_input as ci
from ccbridge.sandbox.contact_lifecycle import (
    OPTED_IN,
    address_record,
    change_email_address,
    contact_by_sms,
    create_contact,
    delete_contact,
    full_sms_number,
    ms_now,
    new_email_address,
    permission_of,
    phone_record,
    revive_contact,
    set_permission,
    sms_permission_of,
    touch,
)
from ccbridge.sandbox.contact_rendering import SUB_RESOURCES, contact_json, parse_include
from ccbridge.sandbox.errors import CCError
from ccbridge.sandbox.http import SandboxRequest, SandboxResponse, empty_response, json_response
from ccbridge.sandbox.pagination import count, effective_query, next_links, take_page
from ccbridge.sandbox.params import (
    bool_param,
    csv_param,
    date_param,
    enum_csv_param,
    is_uuid,
    limit_param,
    require_object,
    require_uuid,
)
from ccbridge.sandbox.routing import Context, RouteTable
from ccbridge.sandbox.state import AccountData, Contact

routes = RouteTable()

AREA = "contacts"
DEFAULT_PERMISSION = "implicit"
STATUS_VALUES = (
    "all",
    "active",
    "deleted",
    "not_set",
    "pending_confirmation",
    "temp_hold",
    "unsubscribed",
)
SMS_STATUS_VALUES = ("all", "explicit", "unsubscribed", "pending_confirmation", "not_set")
MAX_LIST_FILTER = 25
MAX_TAG_FILTER = 50
MAX_XREFS = 500
NEW_SUBSCRIBER_DAYS = 30

POST_FIELDS = {
    "email_address",
    *ci.NAME_FIELDS,
    "create_source",
    "birthday_month",
    "birthday_day",
    "anniversary",
    *SUB_RESOURCES,
}
PUT_FIELDS = (POST_FIELDS - {"create_source"}) | {"update_source"}
PUT_READ_ONLY = {"contact_id", "create_source", "created_at", "updated_at", "deleted_at"}
SIGNUP_FIELDS = {
    "email_address",
    *ci.NAME_FIELDS,
    "phone_number",
    "list_memberships",
    "custom_fields",
    "anniversary",
    "birthday_month",
    "birthday_day",
    "street_address",
    "sms_channel",
}

Predicate = Callable[[Contact], bool]


def _now(ctx: Context) -> datetime:
    return ms_now(ctx.clock.now())


def _contact_or_404(ctx: Context) -> Contact:
    contact_id = require_uuid(AREA, "contact_id", ctx.params["contact_id"])
    contact = ctx.account.contacts.get(contact_id)
    if contact is None:
        raise CCError.not_found(AREA, f"No contact with contact_id {contact_id} in this account.")
    return contact


def _json_body(ctx: Context) -> dict[str, Any]:
    return require_object(AREA, ctx.request.json(area=AREA))


def _present(body: dict[str, Any], name: str) -> bool:
    return body.get(name) is not None


def _sub_resources_sent(body: dict[str, Any]) -> tuple[str, ...]:
    """Answer a write with the sub-resources it carried, so the client sees what was stored."""
    return tuple(name for name in SUB_RESOURCES if _present(body, name))


# -- GET /contacts -----------------------------------------------------------------------
@routes.operation("getContacts")
def get_contacts(ctx: Context) -> Any:
    req, start = effective_query(ctx.request, AREA)
    data = ctx.account
    limit = limit_param(req, AREA, default=50, maximum=500)
    include = parse_include(req.q("include"))
    include_count = bool_param(req, AREA, "include_count")
    candidates, predicates = _contact_selection(req, data)
    contacts = data.contacts

    def keep(contact_id: str) -> bool:
        contact = contacts.get(contact_id)
        return contact is not None and all(p(contact) for p in predicates)

    page, next_position = take_page(candidates, start, limit, keep)
    body: dict[str, Any] = {"contacts": [contact_json(contacts[cid], include) for cid in page]}
    if include_count:
        body["contacts_count"] = count(candidates, keep)
    links = next_links("/v3/contacts", req.query_dict(), next_position)
    if links is not None:
        body["_links"] = links
    return body


def _contact_selection(req: SandboxRequest, data: AccountData) -> tuple[list[str], list[Predicate]]:
    """The ids to walk (in creation order) and the tests each contact must pass."""
    if req.q("segment_id"):
        return _segment_selection(req, data)
    predicates: list[Predicate] = [
        _status_predicate(enum_csv_param(req, AREA, "status", STATUS_VALUES))
    ]
    predicates.extend(_membership_predicates(req))
    predicates.extend(_date_predicates(req))
    sms = enum_csv_param(req, AREA, "sms_status", SMS_STATUS_VALUES)
    if sms and "all" not in sms:
        wanted_sms = set(sms)
        predicates.append(lambda c: sms_permission_of(c) in wanted_sms)
    email = (req.q("email") or "").strip()
    if email:
        found = data.contact_by_email(email)
        return ([found.contact_id] if found else []), predicates
    return data.contact_order, predicates


def _status_predicate(statuses: list[str]) -> Predicate:
    if not statuses:
        return lambda c: c.deleted_at is None
    if "all" in statuses:
        return lambda c: True
    want_deleted = "deleted" in statuses
    want_active = "active" in statuses
    permissions = set(statuses) - {"deleted", "active"}

    def matches(contact: Contact) -> bool:
        if contact.deleted_at is not None:
            return want_deleted
        return want_active or permission_of(contact) in permissions

    return matches


def _id_filter(req: SandboxRequest, name: str, maximum: int) -> set[str]:
    ids = csv_param(req, name)
    if len(ids) > maximum:
        raise CCError.bad_request(AREA, f"{name} accepts at most {maximum} ids; got {len(ids)}.")
    for value in ids:
        if not is_uuid(value):
            raise CCError.bad_request(AREA, f"{name} contains '{value}', which is not a valid id.")
    return {value.lower() for value in ids}


def _membership_predicates(req: SandboxRequest) -> list[Predicate]:
    predicates: list[Predicate] = []
    lists = _id_filter(req, "lists", MAX_LIST_FILTER)
    if lists:
        predicates.append(lambda c: not lists.isdisjoint(c.list_memberships))
    tags = _id_filter(req, "tags", MAX_TAG_FILTER)
    if tags:
        predicates.append(lambda c: not tags.isdisjoint(c.taggings))
    return predicates


def _date_predicates(req: SandboxRequest) -> list[Predicate]:
    predicates: list[Predicate] = []

    def opt_out(c: Contact) -> datetime | None:
        return c.email_address.opt_out_date if c.email_address else None

    fields: tuple[tuple[str, Callable[[Contact], datetime | None]], ...] = (
        ("updated", lambda c: c.updated_at),
        ("created", lambda c: c.created_at),
        ("optout", opt_out),
    )
    for prefix, read in fields:
        after = date_param(req, AREA, f"{prefix}_after")
        before = date_param(req, AREA, f"{prefix}_before")
        if after is not None:
            predicates.append(_later_than(read, after))
        if before is not None:
            predicates.append(_earlier_than(read, before))
    return predicates


def _later_than(read: Callable[[Contact], datetime | None], when: datetime) -> Predicate:
    def test(contact: Contact) -> bool:
        value = read(contact)
        return value is not None and value > when

    return test


def _earlier_than(read: Callable[[Contact], datetime | None], when: datetime) -> Predicate:
    def test(contact: Contact) -> bool:
        value = read(contact)
        return value is not None and value < when

    return test


def _segment_selection(req: SandboxRequest, data: AccountData) -> tuple[list[str], list[Predicate]]:
    others = sorted({key for key, _ in req.query} - {"segment_id", "limit", "cursor"})
    if others:
        raise CCError.bad_request(
            AREA, f"segment_id can only be combined with limit; also got: {', '.join(others)}."
        )
    raw = req.q("segment_id") or ""
    if not raw.isdigit():
        raise CCError.bad_request(AREA, f"segment_id must be an integer; got '{raw}'.")
    segment = data.segments.get(int(raw))
    if segment is None or segment.deleted_at is not None:
        raise CCError.not_found(AREA, f"No segment with segment_id {raw} in this account.")
    return data.contact_order, [lambda c: c.deleted_at is None]


# -- GET/DELETE /contacts/{contact_id} -----------------------------------------------------------
@routes.operation("getContact")
def get_contact(ctx: Context) -> Any:
    contact = _contact_or_404(ctx)
    return contact_json(contact, parse_include(ctx.request.q("include")))


@routes.operation("deleteContact")
def delete_contact_op(ctx: Context) -> Any:
    delete_contact(_contact_or_404(ctx), _now(ctx))
    return None


# -- POST /contacts ---------------------------------------------------------------------
def _ensure_email_free(data: AccountData, address: str, own: Contact | None) -> None:
    other = data.contact_by_email(address)
    if other is not None and other is not own:
        hint = " That contact is deleted; a PUT on it revives it." if other.deleted_at else ""
        raise CCError.conflict(
            AREA,
            f"email_address.address '{address}' already exists for contact "
            f"{other.contact_id}.{hint}",
        )


def _ensure_sms_free(data: AccountData, channel: dict[str, Any], own: Contact | None) -> None:
    number = full_sms_number(channel)
    other = contact_by_sms(data, number) if number else None
    if other is not None and other is not own:
        raise CCError.conflict(
            AREA, f"sms_channel number {number} already belongs to contact {other.contact_id}."
        )


@routes.operation("createContact")
def create_contact_op(ctx: Context) -> Any:
    body = _json_body(ctx)
    ci.reject_unknown_keys(body, POST_FIELDS)
    data, now = ctx.account, _now(ctx)
    create_source = ci.source(body.get("create_source"), "create_source", required=True)
    assert create_source is not None
    names = ci.names(body)
    month, day = ci.birthday(body)
    anniversary = ci.anniversary(body.get("anniversary"))
    email = (
        ci.email_object(body["email_address"], put=False)
        if _present(body, "email_address")
        else None
    )
    sms = (
        ci.sms_channel(body["sms_channel"], create_source, now)
        if _present(body, "sms_channel")
        else None
    )
    if email is None and sms is None and not (names["first_name"] or names["last_name"]):
        raise CCError.bad_request(
            AREA,
            "A contact needs at least one of first_name, last_name, email_address or sms_channel.",
        )
    subs = _parse_sub_resources(ctx, body, create_source, now, existing=None)
    if email is not None:
        _ensure_email_free(data, email.address, None)
    if sms is not None:
        _ensure_sms_free(data, sms, None)
    contact = create_contact(
        data,
        now,
        create_source=create_source,
        email=new_email_address(
            email.address, email.permission or DEFAULT_PERMISSION, create_source, now
        )
        if email is not None
        else None,
        birthday_month=month,
        birthday_day=day,
        anniversary=anniversary,
        sms_channel=sms,
        first_name=names["first_name"],
        last_name=names["last_name"],
        job_title=names["job_title"],
        company_name=names["company_name"],
        **subs,
    )
    return json_response(contact_json(contact, _sub_resources_sent(body)), 201)


def _parse_sub_resources(
    ctx: Context, body: dict[str, Any], source: str, now: datetime, existing: Contact | None
) -> dict[str, Any]:
    """The sub-resources a POST or PUT body carries, validated; absent ones are left out."""
    data = ctx.account
    out: dict[str, Any] = {}
    if _present(body, "custom_fields"):
        out["custom_fields"] = ci.custom_fields(
            data, body["custom_fields"], max_items=ci.MAX_CUSTOM_FIELDS, signup=False
        )
    if _present(body, "phone_numbers"):
        out["phone_numbers"] = ci.phone_numbers(body["phone_numbers"], source, now, existing)
    if _present(body, "street_addresses"):
        out["street_addresses"] = ci.street_addresses(body["street_addresses"], now, existing)
    if _present(body, "list_memberships"):
        out["list_memberships"] = ci.list_ids(data, body["list_memberships"], "list_memberships")
    if _present(body, "taggings"):
        out["taggings"] = ci.tag_ids(data, body["taggings"], "taggings")
    if _present(body, "notes"):
        out["notes"] = ci.notes(body["notes"], now, existing)
    return out


# -- PUT /contacts/{contact_id} ----------------------------------------------------------------
@routes.operation("putContact")
def put_contact(ctx: Context) -> Any:
    contact = _contact_or_404(ctx)
    body = _json_body(ctx)
    ci.reject_unknown_keys(body, PUT_FIELDS | PUT_READ_ONLY)
    _check_read_only_echo(body, contact)
    data, now = ctx.account, _now(ctx)
    update_source = ci.source(body.get("update_source"), "update_source", required=True)
    assert update_source is not None
    if contact.deleted_at is not None and update_source != "Account":
        raise CCError.bad_request(
            AREA, "update_source must be Account to restore a deleted contact with PUT."
        )
    names = ci.names(body)
    month, day = ci.birthday(body)
    anniversary = ci.anniversary(body.get("anniversary"))
    email = (
        ci.email_object(body["email_address"], put=True)
        if _present(body, "email_address")
        else None
    )
    sms = (
        ci.sms_channel(body["sms_channel"], update_source, now)
        if _present(body, "sms_channel")
        else None
    )
    subs = _parse_sub_resources(ctx, body, update_source, now, existing=contact)
    has_email = email is not None or contact.email_address is not None
    has_sms = sms is not None or bool(contact.sms_channel)
    if not (has_email or has_sms or names["first_name"] or names["last_name"]):
        raise CCError.bad_request(
            AREA,
            "A contact needs at least one of first_name, last_name, email_address or sms_channel.",
        )
    if email is not None:
        _ensure_email_free(data, email.address, contact)
        _check_consent_change(contact, email, update_source)
    if sms is not None:
        _ensure_sms_free(data, sms, contact)

    # Everything is valid: apply. Top-level properties are replaced (omitted ones become
    # null); sub-resources only when the body carries them.
    for name, value in names.items():
        setattr(contact, name, value)
    contact.birthday_month, contact.birthday_day = month, day
    contact.anniversary = anniversary
    if email is not None:
        _apply_email(data, contact, email, update_source, now)
    if sms is not None:
        _replace_sms(contact, sms)
    for name, value in subs.items():
        setattr(contact, name, value)
    revive_contact(contact, now)
    touch(contact, now, update_source)
    return contact_json(contact, _sub_resources_sent(body))


def _check_read_only_echo(body: dict[str, Any], contact: Contact) -> None:
    """Accept a GET's read-only properties sent back, but never as a disguised change."""
    if _present(body, "contact_id") and str(body["contact_id"]).lower() != contact.contact_id:
        raise CCError.bad_request(
            AREA, f"contact_id in the body ({body['contact_id']}) differs from the one in the path."
        )
    if _present(body, "create_source") and body["create_source"] != contact.create_source:
        raise CCError.bad_request(
            AREA,
            f"create_source is set when a contact is created and cannot be changed "
            f"(it is {contact.create_source}).",
        )
    ci.read_only_timestamps(body, ("created_at", "updated_at", "deleted_at"))


def _check_consent_change(contact: Contact, email: ci.EmailInput, update_source: str) -> None:
    current = contact.email_address
    before = current.permission_to_send if current else None
    after = email.permission or before or DEFAULT_PERMISSION
    if email.opt_out_reason is not None and after != "unsubscribed":
        raise CCError.bad_request(
            AREA,
            "email_address.opt_out_reason can only be sent when the contact is unsubscribed.",
        )
    if (
        before == "unsubscribed"
        and after != "unsubscribed"
        and current is not None
        and current.opt_out_source == "Contact"
        and update_source != "Contact"
    ):
        raise CCError.conflict(
            AREA,
            "The contact unsubscribed themselves, so only the contact can opt back in: use "
            "update_source Contact for their own request, or PUT /contacts/resubscribe/{id}.",
        )
    opt_in_now = current.opt_in_source if current else None
    if opt_in_now is None and after in OPTED_IN and after != before:
        opt_in_now = update_source
    if email.opt_in_source is not None and email.opt_in_source != opt_in_now:
        raise CCError.bad_request(
            AREA,
            "email_address.opt_in_source is read-only: it records who first opted the contact "
            f"in ({opt_in_now or 'nobody yet'}).",
        )
    if after != "unsubscribed":
        opt_out_now = None
    elif before == "unsubscribed" and current is not None:
        opt_out_now = current.opt_out_source
    else:
        opt_out_now = update_source
    if email.opt_out_source is not None and email.opt_out_source != opt_out_now:
        raise CCError.bad_request(
            AREA,
            "email_address.opt_out_source is read-only: an unsubscribe records update_source "
            f"as the opt-out source ({opt_out_now or 'not opted out'}).",
        )


def _apply_email(
    data: AccountData, contact: Contact, email: ci.EmailInput, source: str, now: datetime
) -> None:
    if contact.email_address is None:
        data.change_contact_email(contact, email.address)
        contact.email_address = new_email_address(
            email.address,
            email.permission or DEFAULT_PERMISSION,
            source,
            now,
            opt_out_reason=email.opt_out_reason,
        )
        return
    change_email_address(data, contact, email.address, now)
    if email.permission is not None or email.opt_out_reason is not None:
        permission = email.permission or contact.email_address.permission_to_send
        set_permission(
            contact.email_address, permission, source, now, opt_out_reason=email.opt_out_reason
        )


def _replace_sms(contact: Contact, channel: dict[str, Any]) -> None:
    """A new SMS channel keeps the old one's identity and creation source."""
    old = contact.sms_channel
    if old:
        channel["sms_channel_id"] = old.get("sms_channel_id", channel["sms_channel_id"])
        channel["create_source"] = old.get("create_source", channel["create_source"])
    contact.sms_channel = channel


# -- POST /contacts/sign_up_form ----------------------------------------------------------------
@routes.operation("createOrUpdateContact")
def sign_up_form(ctx: Context) -> Any:
    body = _json_body(ctx)
    ci.reject_unknown_keys(body, SIGNUP_FIELDS)
    data, now = ctx.account, _now(ctx)
    address = (
        ci.email_address(body["email_address"], "email_address", max_length=ci.SIGNUP_EMAIL_MAX)
        if _present(body, "email_address")
        else None
    )
    sms = ci.signup_sms_channel(body["sms_channel"], now) if _present(body, "sms_channel") else None
    if address is None and sms is None:
        raise CCError.bad_request(AREA, "email_address or sms_channel is required.")
    if not _present(body, "list_memberships"):
        raise CCError.bad_request(AREA, "list_memberships is required (1 to 50 list ids).")
    lists = ci.list_ids(data, body["list_memberships"], "list_memberships", min_items=1)
    signup = _SignupFields.parse(data, body)
    contact = _signup_match(data, address, sms)
    if contact is None:
        contact = _signup_create(data, now, address, sms, lists, signup)
        return json_response({"contact_id": contact.contact_id, "action": "created"}, 201)
    _signup_update(data, contact, now, address, sms, lists, signup)
    return json_response({"contact_id": contact.contact_id, "action": "updated"}, 200)


class _SignupFields:
    """sign_up_form's optional properties, validated; None means 'not sent, leave alone'."""

    def __init__(self) -> None:
        self.names: dict[str, str] = {}
        self.birthday: tuple[int | None, int | None] = (None, None)
        self.anniversary: str | None = None
        self.phone: str | None = None
        self.street: dict[str, Any] | None = None
        self.custom_fields: list[dict[str, Any]] = []

    @classmethod
    def parse(cls, data: AccountData, body: dict[str, Any]) -> _SignupFields:
        out = cls()
        for name, value in ci.names(body).items():
            if value is not None:
                out.names[name] = value
        out.birthday = ci.birthday(body)
        out.anniversary = ci.anniversary(body.get("anniversary"))
        if _present(body, "phone_number"):
            out.phone = ci.phone_number_text(body["phone_number"], "phone_number")
        if _present(body, "street_address"):
            street = ci.require_dict(body["street_address"], "street_address")
            ci.reject_unknown_keys(
                street,
                {"kind", "street", "city", "state", "postal_code", "country"},
                "street_address",
            )
            out.street = ci.street_address_fields(street, "street_address")
        if _present(body, "custom_fields"):
            out.custom_fields = ci.custom_fields(
                data, body["custom_fields"], max_items=ci.MAX_SIGNUP_CUSTOM_FIELDS, signup=True
            )
        return out


def _signup_match(
    data: AccountData, address: str | None, sms: dict[str, Any] | None
) -> Contact | None:
    """The contact a sign-up is about: by email first, else by SMS number."""
    by_email = data.contact_by_email(address) if address else None
    number = full_sms_number(sms)
    by_sms = contact_by_sms(data, number) if number else None
    if by_email is not None and by_sms is not None and by_email is not by_sms:
        raise CCError.conflict(
            AREA,
            f"email_address belongs to contact {by_email.contact_id} but the sms_channel number "
            f"belongs to contact {by_sms.contact_id}.",
        )
    if by_email is None and by_sms is not None and address and by_sms.email_address is not None:
        raise CCError.conflict(
            AREA,
            f"The sms_channel number belongs to contact {by_sms.contact_id}, which has another "
            "email address.",
        )
    return by_email or by_sms


def _signup_create(
    data: AccountData,
    now: datetime,
    address: str | None,
    sms: dict[str, Any] | None,
    lists: list[str],
    signup: _SignupFields,
) -> Contact:
    if len(signup.custom_fields) > ci.MAX_CUSTOM_FIELDS:
        raise CCError.bad_request(
            AREA, f"custom_fields: a contact holds at most {ci.MAX_CUSTOM_FIELDS} values."
        )
    confirmed_opt_in = data.account.confirmed_opt_in
    email = None
    if address is not None:
        email = new_email_address(
            address,
            "pending_confirmation" if confirmed_opt_in else "explicit",
            "Contact",
            now,
            confirm_status="pending" if confirmed_opt_in else "off",
        )
    month, day = signup.birthday
    return create_contact(
        data,
        now,
        create_source="Contact",
        email=email,
        birthday_month=month,
        birthday_day=day,
        anniversary=signup.anniversary,
        custom_fields=signup.custom_fields,
        phone_numbers=[phone_record(signup.phone, "other", "Contact", now)] if signup.phone else [],
        street_addresses=[address_record(signup.street, now)] if signup.street else [],
        list_memberships=lists,
        sms_channel=sms,
        first_name=signup.names.get("first_name"),
        last_name=signup.names.get("last_name"),
        job_title=signup.names.get("job_title"),
        company_name=signup.names.get("company_name"),
    )


def _signup_update(
    data: AccountData,
    contact: Contact,
    now: datetime,
    address: str | None,
    sms: dict[str, Any] | None,
    lists: list[str],
    signup: _SignupFields,
) -> None:
    """A partial update: only what the form sent changes; lists and custom fields append."""
    merged_lists = list(dict.fromkeys([*contact.list_memberships, *lists]))
    if len(merged_lists) > ci.MAX_LISTS:
        raise CCError.bad_request(
            AREA,
            f"list_memberships: the contact would be in {len(merged_lists)} lists; "
            f"at most {ci.MAX_LISTS} are allowed.",
        )
    merged_fields = _merge_custom_fields(contact.custom_fields, signup.custom_fields)
    phones = _merge_phone(contact, signup.phone, now)
    streets = _merge_street(contact, signup.street, now)

    for name, value in signup.names.items():
        setattr(contact, name, value)
    if signup.birthday != (None, None):
        contact.birthday_month, contact.birthday_day = signup.birthday
    if signup.anniversary is not None:
        contact.anniversary = signup.anniversary
    contact.list_memberships = merged_lists
    contact.custom_fields = merged_fields
    contact.phone_numbers = phones
    contact.street_addresses = streets
    if sms is not None:
        _replace_sms(contact, sms)
    if address is not None:
        if contact.email_address is None:
            data.change_contact_email(contact, address)
            contact.email_address = new_email_address(address, "explicit", "Contact", now)
        else:
            # CC sets explicit permission on every sign-up, even over an unsubscribe.
            set_permission(contact.email_address, "explicit", "Contact", now)
    revive_contact(contact, now)
    touch(contact, now, "Contact")


def _merge_custom_fields(
    current: list[dict[str, Any]], incoming: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    merged = {cf["custom_field_id"]: dict(cf) for cf in current}
    for cf in incoming:
        merged[cf["custom_field_id"]] = {**merged.get(cf["custom_field_id"], {}), **cf}
    if len(merged) > ci.MAX_CUSTOM_FIELDS:
        raise CCError.bad_request(
            AREA,
            f"custom_fields: the contact would hold {len(merged)} custom field values; "
            f"at most {ci.MAX_CUSTOM_FIELDS} are allowed.",
        )
    return list(merged.values())


def _merge_phone(contact: Contact, number: str | None, now: datetime) -> list[dict[str, Any]]:
    """Add the form's phone unless the contact has it; at three phones, replace the 'other' one."""
    phones = [dict(p) for p in contact.phone_numbers]
    if number is None or any(p.get("phone_number") == number for p in phones):
        return phones
    if len(phones) < ci.MAX_PHONES:
        return [*phones, phone_record(number, "other", "Contact", now)]
    for phone in phones:
        if phone.get("kind") == "other":
            phone.update(phone_number=number, update_source="Contact", updated_at=now)
            return phones
    raise CCError.bad_request(
        AREA,
        f"phone_number: the contact already has {ci.MAX_PHONES} phone numbers and none of "
        "kind 'other' to replace.",
    )


def _merge_street(
    contact: Contact, street: dict[str, Any] | None, now: datetime
) -> list[dict[str, Any]]:
    """The form's address replaces the contact's address of the same kind, else is added."""
    addresses = [dict(a) for a in contact.street_addresses]
    if street is None:
        return addresses
    for index, existing in enumerate(addresses):
        if existing.get("kind") == street["kind"]:
            replacement = address_record(
                street, now, street_address_id=existing.get("street_address_id")
            )
            replacement["created_at"] = existing.get("created_at", now)
            addresses[index] = replacement
            return addresses
    if len(addresses) >= ci.MAX_ADDRESSES:
        raise CCError.bad_request(
            AREA,
            f"street_address: the contact already has {ci.MAX_ADDRESSES} addresses and none "
            f"of kind '{street['kind']}' to replace.",
        )
    return [*addresses, address_record(street, now)]


# -- GET /contacts/counts -------------------------------------------------------------------
@routes.operation("countContact")
def count_contacts(ctx: Context) -> Any:
    include = (ctx.request.q("include") or "").strip()
    if include not in ("", "new_subscriber"):
        raise CCError.bad_request(AREA, f"include must be new_subscriber; got '{include}'.")
    tallies = {"explicit": 0, "implicit": 0, "pending_confirmation": 0, "unsubscribed": 0}
    total = new_subscribers = 0
    since = ctx.clock.now().timestamp() - NEW_SUBSCRIBER_DAYS * 86_400
    for contact in ctx.account.contacts.values():
        if contact.deleted_at is not None:
            continue
        total += 1
        permission = permission_of(contact)
        if permission in tallies:
            tallies[permission] += 1
        email = contact.email_address
        if (
            permission in OPTED_IN
            and email is not None
            and email.opt_in_date is not None
            and email.opt_in_date.timestamp() >= since
        ):
            new_subscribers += 1
    body: dict[str, Any] = {
        "total": total,
        "explicit": tallies["explicit"],
        "implicit": tallies["implicit"],
        "pending": tallies["pending_confirmation"],
        "unsubscribed": tallies["unsubscribed"],
    }
    if include:
        body["new_subscriber"] = new_subscribers
    return body


# -- PUT /contacts/resubscribe/{contact_id} ------------------------------------------------------
@routes.operation("resubscribeContact")
def resubscribe(ctx: Context) -> Any:
    contact = _contact_or_404(ctx)
    body = _json_body(ctx)
    ci.reject_unknown_keys(body, {"list_ids"})
    if not _present(body, "list_ids"):
        raise CCError.bad_request(AREA, "list_ids is required (the lists to resubscribe to).")
    lists = ci.list_ids(ctx.account, body["list_ids"], "list_ids", min_items=1)
    if permission_of(contact) != "unsubscribed":
        raise CCError.conflict(
            AREA,
            f"Contact {contact.contact_id} is not unsubscribed (permission_to_send is "
            f"{permission_of(contact)}); only unsubscribed contacts can be asked to resubscribe.",
        )
    if contact.resubscribe_sent:
        raise CCError.conflict(
            AREA,
            f"A resubscribe confirmation email was already sent to contact {contact.contact_id}; "
            "CC sends it only once per contact.",
        )
    contact.resubscribe_sent = True
    contact.resubscribe_list_ids = lists
    return empty_response(200)


def confirm_resubscribe(contact: Contact, now: datetime) -> None:
    """The contact clicked the link in the resubscribe email: they opt back in themselves."""
    assert contact.email_address is not None
    set_permission(contact.email_address, "explicit", "Contact", now)
    merged = list(dict.fromkeys([*contact.list_memberships, *contact.resubscribe_list_ids]))
    contact.list_memberships = merged[: ci.MAX_LISTS]
    contact.resubscribe_list_ids = []
    revive_contact(contact, now)
    touch(contact, now, "Contact")


@routes.route("POST", "/_sandbox/contacts/{contact_id}/confirm_resubscribe", "control")
def confirm_resubscribe_control(ctx: Context) -> SandboxResponse:
    """Control plane: play the contact confirming a pending resubscribe email."""
    contact_id = ctx.params["contact_id"].lower()
    for data in ctx.state.accounts.values():
        contact = data.contacts.get(contact_id)
        if contact is None:
            continue
        if not contact.resubscribe_sent or permission_of(contact) != "unsubscribed":
            return json_response(
                {
                    "error": "bad_request",
                    "message": "no resubscribe email is awaiting confirmation",
                },
                400,
            )
        confirm_resubscribe(contact, ms_now(ctx.clock.now()))
        return json_response(contact_json(contact, ("list_memberships",)))
    return json_response({"error": "not_found", "message": f"no contact {contact_id}"}, 404)


# -- GET /contacts/contact_id_xrefs -----------------------------------------------------------
@routes.operation("getContactIdXrefs")
def contact_id_xrefs(ctx: Context) -> Any:
    raw = csv_param(ctx.request, "sequence_ids")
    if not raw:
        raise CCError.bad_request(
            AREA, "sequence_ids is required (comma-separated V2 contact ids)."
        )
    if len(raw) > MAX_XREFS:
        raise CCError.bad_request(
            AREA, f"sequence_ids accepts at most {MAX_XREFS} ids; got {len(raw)}."
        )
    for value in raw:
        if not value.isdigit():
            raise CCError.bad_request(
                AREA, f"sequence_ids contains '{value}', which is not a V2 contact id (digits)."
            )
    wanted = {int(value) for value in raw}
    found = sorted(
        (contact.sequence_id, contact.contact_id)
        for contact in ctx.account.contacts.values()
        if contact.sequence_id in wanted
    )
    return {"xrefs": [{"sequence_id": str(seq), "contact_id": cid} for seq, cid in found]}
