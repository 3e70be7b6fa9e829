"""How a contact changes over its life: creation, consent, deletion and revival.

Several sandbox features create or change contacts (``POST /contacts``, ``sign_up_form``,
bulk imports, list and tag activities). CC's consent rules must hold the same way for all
of them, so the rules live here once:

- ``opt_in_source`` is recorded the first time a contact is opted in and never changes;
- an opt-out records who did it (``opt_out_source``) and when;
- deleting hides a contact, strips its list memberships (a CC support engineer's account
  of what delete does) and keeps its email reserved; a revival clears ``deleted_at``.

Sub-resources are stored on ``Contact`` as plain dicts in CC's JSON field names, with
``datetime`` values for timestamps; ``phone_record``/``address_record``/``note_record``
build them so every producer stores the same shape.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from ccbridge.sandbox.state import AccountData, Contact, EmailAddress, new_id

PERMISSIONS = (
    "explicit",
    "implicit",
    "not_set",
    "pending_confirmation",
    "temp_hold",
    "unsubscribed",
)
"""The values of ``email_address.permission_to_send``."""

SOURCES = ("Contact", "Account")
"""Who acted: the values of create_source, update_source, opt_in_source, opt_out_source."""

OPTED_IN = ("explicit", "implicit")
"""Permissions that count as an opt-in and so record opt_in_source/opt_in_date."""

PHONE_KINDS = ("home", "work", "mobile", "other")
ADDRESS_KINDS = ("home", "work", "other")
SMS_PERMISSIONS = ("explicit", "unsubscribed", "pending_confirmation", "not_set")


def ms_now(now: datetime) -> datetime:
    """``now`` cut to whole milliseconds, the precision CC shows.

    Stored times must equal what clients read back, or an ``updated_after`` filter fed
    with a timestamp a client saw would match the same contact again.
    """
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def permission_of(contact: Contact) -> str:
    """The contact's email permission; a contact without an email counts as not_set."""
    return contact.email_address.permission_to_send if contact.email_address else "not_set"


def sms_permission_of(contact: Contact) -> str:
    """The contact's promotional SMS permission, or not_set when it has no SMS channel."""
    channel = contact.sms_channel
    if not channel:
        return "not_set"
    for consent in channel.get("sms_channel_consents") or []:
        if consent.get("consent_type", "promotional_sms") == "promotional_sms":
            return str(consent.get("sms_consent_permission") or "not_set")
    return "not_set"


def full_sms_number(channel: dict[str, Any] | None) -> str | None:
    """Dial code plus number, digits only: the key sign_up_form matches SMS contacts on."""
    if not channel or not channel.get("sms_address"):
        return None
    return f"{channel.get('dial_code') or ''}{channel['sms_address']}"


def contact_by_sms(data: AccountData, number: str) -> Contact | None:
    """The contact holding an SMS number (a scan: CC keeps no index we need elsewhere)."""
    for contact in data.contacts.values():
        if full_sms_number(contact.sms_channel) == number:
            return contact
    return None


# -- consent ---------------------------------------------------------------------
def new_email_address(
    address: str,
    permission: str,
    source: str,
    now: datetime,
    *,
    confirm_status: str = "off",
    opt_out_reason: str | None = None,
) -> EmailAddress:
    """A fresh email sub-resource with the consent fields CC records for ``permission``."""
    email = EmailAddress(
        address=address,
        permission_to_send="not_set",
        created_at=now,
        updated_at=now,
        confirm_status=confirm_status,
    )
    set_permission(email, permission, source, now, opt_out_reason=opt_out_reason)
    email.updated_at = now
    return email


def set_permission(
    email: EmailAddress,
    permission: str,
    source: str,
    now: datetime,
    *,
    opt_out_reason: str | None = None,
) -> None:
    """Move ``email`` to ``permission`` and record who did it.

    Opting in stamps ``opt_in_date`` and, only the first time, ``opt_in_source``; it also
    clears an earlier opt-out. Opting out stamps ``opt_out_source``/``opt_out_date`` and
    keeps the reason the contact gave. Staying in the same state changes nothing.
    """
    previous = email.permission_to_send
    if permission == previous:
        if permission == "unsubscribed" and opt_out_reason is not None:
            email.opt_out_reason = opt_out_reason
            email.updated_at = now
        return
    email.permission_to_send = permission
    email.updated_at = now
    if permission == "unsubscribed":
        email.opt_out_source = source
        email.opt_out_date = now
        email.opt_out_reason = opt_out_reason
        return
    if previous == "unsubscribed":
        email.opt_out_source = None
        email.opt_out_date = None
        email.opt_out_reason = None
    if permission in OPTED_IN:
        email.opt_in_date = now
        if email.opt_in_source is None:
            email.opt_in_source = source


def touch(contact: Contact, now: datetime, source: str | None = None) -> None:
    """Record that the contact changed (and who changed it, when known)."""
    contact.updated_at = now
    if source is not None:
        contact.update_source = source


# -- creation, deletion, revival ------------------------------------------------------
def create_contact(
    data: AccountData,
    now: datetime,
    *,
    create_source: str,
    email: EmailAddress | None = None,
    first_name: str | None = None,
    last_name: str | None = None,
    job_title: str | None = None,
    company_name: str | None = None,
    birthday_month: int | None = None,
    birthday_day: int | None = None,
    anniversary: str | None = None,
    custom_fields: list[dict[str, Any]] | None = None,
    phone_numbers: list[dict[str, Any]] | None = None,
    street_addresses: list[dict[str, Any]] | None = None,
    list_memberships: Iterable[str] = (),
    taggings: Iterable[str] = (),
    notes: list[dict[str, Any]] | None = None,
    sms_channel: dict[str, Any] | None = None,
) -> Contact:
    """Create a contact, give it the next V2-style sequence id, and index it.

    The caller has already validated the values and checked the email is free
    (``data.contact_by_email``); this only builds and stores.
    """
    contact = Contact(
        contact_id=new_id(),
        sequence_id=data.take_sequence(),
        created_at=now,
        updated_at=now,
        create_source=create_source,
        update_source=create_source,
        email_address=email,
        first_name=first_name,
        last_name=last_name,
        job_title=job_title,
        company_name=company_name,
        birthday_month=birthday_month,
        birthday_day=birthday_day,
        anniversary=anniversary,
        custom_fields=list(custom_fields or []),
        phone_numbers=list(phone_numbers or []),
        street_addresses=list(street_addresses or []),
        list_memberships=list(dict.fromkeys(list_memberships)),
        taggings=list(dict.fromkeys(taggings)),
        notes=list(notes or []),
        sms_channel=sms_channel,
    )
    data.add_contact(contact)
    return contact


def delete_contact(contact: Contact, now: datetime) -> None:
    """Hide the contact the way CC does; its email stays taken so a POST still gets 409."""
    if contact.deleted_at is not None:
        return
    contact.deleted_at = now
    contact.list_memberships = []
    contact.updated_at = now


def revive_contact(contact: Contact, now: datetime) -> None:
    if contact.deleted_at is not None:
        contact.deleted_at = None
        contact.updated_at = now


def change_email_address(data: AccountData, contact: Contact, address: str, now: datetime) -> None:
    """Give the contact a new address, keeping the account's email index right."""
    assert contact.email_address is not None
    if contact.email_address.address == address:
        return
    data.change_contact_email(contact, address)
    contact.email_address.address = address
    contact.email_address.updated_at = now


# -- sub-resource records ---------------------------------------------------------------
def phone_record(
    number: str, kind: str, source: str, now: datetime, *, phone_number_id: str | None = None
) -> dict[str, Any]:
    return {
        "phone_number_id": phone_number_id or new_id(),
        "phone_number": number,
        "kind": kind,
        "create_source": source,
        "update_source": source,
        "created_at": now,
        "updated_at": now,
    }


def address_record(
    fields: dict[str, Any], now: datetime, *, street_address_id: str | None = None
) -> dict[str, Any]:
    """``fields`` holds kind plus any of street, city, state, postal_code, country."""
    record: dict[str, Any] = {"street_address_id": street_address_id or new_id()}
    for name in ("kind", "street", "city", "state", "postal_code", "country"):
        if fields.get(name) is not None:
            record[name] = fields[name]
    record["created_at"] = now
    record["updated_at"] = now
    return record


def note_record(
    content: str, now: datetime, *, note_id: str | None = None, created_at: datetime | None = None
) -> dict[str, Any]:
    return {"note_id": note_id or new_id(), "created_at": created_at or now, "content": content}
