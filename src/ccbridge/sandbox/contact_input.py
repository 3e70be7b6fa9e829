"""Validation of the contact fields clients send, with CC's limits (CC-V3-FACTS §3).

``POST /contacts``, ``PUT /contacts/{id}`` and ``POST /contacts/sign_up_form`` share most
fields but not their shapes, so each field has one validator here that names the exact
field (``phone_numbers[1].kind``) in its 400 and returns plain values ready to store.
Nothing a client sends is dropped: unknown fields are refused, and read-only fields
echoed back from a GET are accepted only where they cannot hide an intended change.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ccbridge.sandbox.clock import parse_iso
from ccbridge.sandbox.contact_lifecycle import (
    ADDRESS_KINDS,
    PERMISSIONS,
    PHONE_KINDS,
    SMS_PERMISSIONS,
    SOURCES,
    address_record,
    note_record,
    phone_record,
)
from ccbridge.sandbox.errors import CCError
from ccbridge.sandbox.params import EMAIL_RE, is_uuid
from ccbridge.sandbox.state import AccountData, Contact, new_id

AREA = "contacts"

NAME_FIELDS = ("first_name", "last_name", "job_title", "company_name")
NAME_MAX = 50
EMAIL_MAX = 80
SIGNUP_EMAIL_MAX = 50  # sign_up_form's schema allows fewer characters (§10)
OPT_OUT_REASON_MAX = 255
MAX_CUSTOM_FIELDS = 25
MAX_SIGNUP_CUSTOM_FIELDS = 50
CUSTOM_FIELD_VALUE_MAX = 255
MAX_PHONES = 3
PHONE_MAX = 25
MAX_ADDRESSES = 3
STREET_MAX = 255
ADDRESS_PART_MAX = 50
MAX_LISTS = 50
MAX_TAGS = 50
MAX_NOTES = 150
NOTE_MAX = 2000

_MDY = re.compile(r"^(\d{1,2})([/-])(\d{1,2})\2(\d{4})$")
_YMD = re.compile(r"^(\d{4})([/-])(\d{1,2})\2(\d{1,2})$")


def bad(message: str) -> CCError:
    return CCError.bad_request(AREA, message)


def label(where: str, name: str) -> str:
    return f"{where}.{name}" if where else name


def reject_unknown_keys(body: dict[str, Any], allowed: set[str], where: str = "") -> None:
    unknown = sorted(set(body) - allowed)
    if unknown:
        names = ", ".join(label(where, name) for name in unknown)
        raise bad(f"Unknown field(s): {names}.")


def require_dict(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise bad(f"{where} must be a JSON object.")
    return value


def require_list(value: Any, where: str, max_items: int, min_items: int = 0) -> list[Any]:
    if not isinstance(value, list):
        raise bad(f"{where} must be an array.")
    if len(value) < min_items:
        raise bad(f"{where} must contain at least {min_items} item(s).")
    if len(value) > max_items:
        raise bad(f"{where} must contain at most {max_items} items; got {len(value)}.")
    return value


def text(
    value: Any, where: str, *, max_length: int, required: bool = False, allow_empty: bool = True
) -> str | None:
    if value is None:
        if required:
            raise bad(f"{where} is required.")
        return None
    if not isinstance(value, str):
        raise bad(f"{where} must be a string.")
    if not value.strip() and (required or not allow_empty):
        raise bad(f"{where} must not be empty.")
    if len(value) > max_length:
        raise bad(f"{where} must be at most {max_length} characters; got {len(value)}.")
    return value


def source(value: Any, where: str, *, required: bool) -> str | None:
    if value is None and not required:
        return None
    if value not in SOURCES:
        if value is None:
            raise bad(f"{where} is required; use Contact or Account.")
        raise bad(f"{where} must be Contact or Account; got {value!r}.")
    return str(value)


def email_address(value: Any, where: str, *, max_length: int = EMAIL_MAX) -> str:
    address = text(value, where, max_length=max_length, required=True)
    assert address is not None
    if not EMAIL_RE.match(address):
        raise bad(f"{where} '{address}' is not a valid email address.")
    return address


def permission(value: Any, where: str) -> str | None:
    if value is None:
        return None
    if value not in PERMISSIONS:
        raise bad(f"{where} must be one of: {', '.join(PERMISSIONS)}; got {value!r}.")
    return str(value)


# -- core properties ---------------------------------------------------------------------
def names(body: dict[str, Any]) -> dict[str, str | None]:
    return {name: text(body.get(name), name, max_length=NAME_MAX) for name in NAME_FIELDS}


def birthday(body: dict[str, Any]) -> tuple[int | None, int | None]:
    """birthday_month and birthday_day: integers, valid together, sent together."""
    month, day = body.get("birthday_month"), body.get("birthday_day")
    for name, value in (("birthday_month", month), ("birthday_day", day)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise bad(f"{name} must be an integer.")
    if (month is None) != (day is None):
        missing = "birthday_day" if day is None else "birthday_month"
        raise bad(f"birthday_month and birthday_day must be sent together; {missing} is missing.")
    if month is None or day is None:
        return None, None
    if not 1 <= month <= 12:
        raise bad(f"birthday_month must be between 1 and 12; got {month}.")
    last_day = calendar.monthrange(2000, month)[1]  # a leap year, so 29 February is valid
    if not 1 <= day <= last_day:
        raise bad(f"birthday_day must be between 1 and {last_day} for month {month}; got {day}.")
    return month, day


def anniversary(value: Any, where: str = "anniversary") -> str | None:
    """One of CC's eight date layouts (M/D/YYYY, YYYY-M-D, ...), at most 10 characters."""
    raw = text(value, where, max_length=10)
    if raw is None or raw == "":
        return raw
    year = month = day = 0
    if m := _MDY.match(raw):
        month, day, year = int(m.group(1)), int(m.group(3)), int(m.group(4))
    elif m := _YMD.match(raw):
        year, month, day = int(m.group(1)), int(m.group(3)), int(m.group(4))
    else:
        raise bad(
            f"{where} '{raw}' is not a date in one of the accepted layouts: MM/DD/YYYY, "
            "M/D/YYYY, YYYY/MM/DD, YYYY/M/D, YYYY-MM-DD, YYYY-M-D, M-D-YYYY, M-DD-YYYY."
        )
    try:
        datetime(year, month, day)
    except ValueError:
        raise bad(f"{where} '{raw}' is not a real calendar date.") from None
    return raw


# -- references to other account resources ---------------------------------------------------
def list_ids(
    data: AccountData, value: Any, where: str, *, max_items: int = MAX_LISTS, min_items: int = 0
) -> list[str]:
    """Existing, undeleted list ids; duplicates collapse (they would add nothing)."""
    ids = uuid_list(value, where, max_items, min_items)
    for list_id in ids:
        found = data.lists.get(list_id)
        if found is None or found.deleted_at is not None:
            raise bad(f"{where} contains '{list_id}', which is not a list in this account.")
    return list(dict.fromkeys(ids))


def tag_ids(data: AccountData, value: Any, where: str, *, max_items: int = MAX_TAGS) -> list[str]:
    ids = uuid_list(value, where, max_items)
    for tag_id in ids:
        if tag_id not in data.tags:
            raise bad(f"{where} contains '{tag_id}', which is not a tag in this account.")
    return list(dict.fromkeys(ids))


def uuid_list(value: Any, where: str, max_items: int, min_items: int = 0) -> list[str]:
    items = require_list(value, where, max_items, min_items)
    out: list[str] = []
    for index, item in enumerate(items):
        if not isinstance(item, str) or not is_uuid(item):
            raise bad(f"{where}[{index}] must be an id in UUID format; got {item!r}.")
        out.append(item.lower())
    return out


def custom_fields(
    data: AccountData, value: Any, where: str = "custom_fields", *, max_items: int, signup: bool
) -> list[dict[str, Any]]:
    """Custom-field values; each field must exist in the account, each appear once."""
    items = require_list(value, where, max_items)
    allowed = {"custom_field_id", "value"} if signup else {"custom_field_id", "value", "choice_ids"}
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    for index, raw in enumerate(items):
        at = f"{where}[{index}]"
        item = require_dict(raw, at)
        reject_unknown_keys(item, allowed, at)
        field_id = item.get("custom_field_id")
        if field_id is None:
            raise bad(f"{at}.custom_field_id is required.")
        if not isinstance(field_id, str) or not is_uuid(field_id):
            raise bad(f"{at}.custom_field_id must be an id in UUID format; got {field_id!r}.")
        field_id = field_id.lower()
        field = data.custom_fields.get(field_id)
        if field is None:
            raise bad(f"{at}.custom_field_id '{field_id}' is not a custom field in this account.")
        if field_id in seen:
            raise bad(f"{at}.custom_field_id '{field_id}' appears more than once.")
        seen.add(field_id)
        record: dict[str, Any] = {"custom_field_id": field_id}
        field_value = text(item.get("value"), f"{at}.value", max_length=CUSTOM_FIELD_VALUE_MAX)
        if field_value is not None:
            _check_field_type(field.type, field_value, f"{at}.value")
            record["value"] = field_value
        if "choice_ids" in item:
            record["choice_ids"] = _choice_ids(field.choices, item["choice_ids"], at)
        if "value" not in record and not record.get("choice_ids"):
            raise bad(f"{at} needs a value (or choice_ids for a choice field).")
        out.append(record)
    return out


def _check_field_type(field_type: str, value: str, where: str) -> None:
    if field_type in ("number", "currency") and value != "":
        try:
            float(value)
        except ValueError:
            raise bad(
                f"{where} must be a number for a {field_type} field; got '{value}'."
            ) from None


def _choice_ids(choices: list[dict[str, Any]], value: Any, at: str) -> list[str]:
    where = f"{at}.choice_ids"
    items = require_list(value, where, max_items=max(len(choices), 1))
    known = {str(choice.get("choice_id")) for choice in choices}
    out: list[str] = []
    for index, item in enumerate(items):
        if isinstance(item, bool) or not isinstance(item, str | int):
            raise bad(f"{where}[{index}] must be a choice id string.")
        if str(item) not in known:
            raise bad(f"{where}[{index}] '{item}' is not a choice of this custom field.")
        out.append(str(item))
    return out


# -- phones, addresses, notes ---------------------------------------------------------------
_PHONE_READ_ONLY = {"phone_number_id", "created_at", "updated_at", "create_source", "update_source"}
_ADDRESS_READ_ONLY = {"street_address_id", "created_at", "updated_at"}
_ADDRESS_PARTS = ("street", "city", "state", "postal_code", "country")


def phone_number_text(value: Any, where: str) -> str:
    number = text(value, where, max_length=PHONE_MAX, required=True)
    assert number is not None
    if not any(ch.isdigit() for ch in number):
        raise bad(f"{where} '{number}' contains no digits.")
    return number


def phone_kind(value: Any, where: str) -> str:
    if value is None:
        return "other"
    if value not in PHONE_KINDS:
        raise bad(f"{where} must be one of: {', '.join(PHONE_KINDS)}; got {value!r}.")
    return str(value)


def phone_numbers(
    value: Any, source_name: str, now: datetime, existing: Contact | None
) -> list[dict[str, Any]]:
    """Phone records to store. With ``existing`` (a PUT) a known ``phone_number_id`` keeps
    its identity and creation details; on POST ids cannot be sent."""
    items = require_list(value, "phone_numbers", MAX_PHONES)
    allowed = {"phone_number", "kind"} | (_PHONE_READ_ONLY if existing else set())
    known = {p.get("phone_number_id"): p for p in existing.phone_numbers} if existing else {}
    out: list[dict[str, Any]] = []
    for index, raw in enumerate(items):
        at = f"phone_numbers[{index}]"
        item = require_dict(raw, at)
        reject_unknown_keys(item, allowed, at)
        number = phone_number_text(item.get("phone_number"), f"{at}.phone_number")
        kind = phone_kind(item.get("kind"), f"{at}.kind")
        old = _known_record(known, item.get("phone_number_id"), f"{at}.phone_number_id")
        record = phone_record(number, kind, source_name, now)
        if old is not None:
            record["phone_number_id"] = old["phone_number_id"]
            record["created_at"] = old.get("created_at", now)
            record["create_source"] = old.get("create_source", source_name)
        out.append(record)
    return out


def street_address_fields(item: dict[str, Any], at: str) -> dict[str, Any]:
    kind = item.get("kind")
    if kind is None:
        raise bad(f"{at}.kind is required; use one of: {', '.join(ADDRESS_KINDS)}.")
    if kind not in ADDRESS_KINDS:
        raise bad(f"{at}.kind must be one of: {', '.join(ADDRESS_KINDS)}; got {kind!r}.")
    fields: dict[str, Any] = {"kind": kind}
    for part in _ADDRESS_PARTS:
        limit = STREET_MAX if part == "street" else ADDRESS_PART_MAX
        fields[part] = text(item.get(part), f"{at}.{part}", max_length=limit)
    return fields


def street_addresses(value: Any, now: datetime, existing: Contact | None) -> list[dict[str, Any]]:
    items = require_list(value, "street_addresses", MAX_ADDRESSES)
    allowed = {"kind", *_ADDRESS_PARTS} | (_ADDRESS_READ_ONLY if existing else set())
    known = {a.get("street_address_id"): a for a in existing.street_addresses} if existing else {}
    out: list[dict[str, Any]] = []
    for index, raw in enumerate(items):
        at = f"street_addresses[{index}]"
        item = require_dict(raw, at)
        reject_unknown_keys(item, allowed, at)
        fields = street_address_fields(item, at)
        old = _known_record(known, item.get("street_address_id"), f"{at}.street_address_id")
        record = address_record(fields, now)
        if old is not None:
            record["street_address_id"] = old["street_address_id"]
            record["created_at"] = old.get("created_at", now)
        out.append(record)
    return out


def _known_record(
    known: dict[Any, dict[str, Any]], record_id: Any, where: str
) -> dict[str, Any] | None:
    if record_id is None:
        return None
    found = known.get(record_id) or known.get(str(record_id).lower())
    if found is None:
        raise bad(f"{where} '{record_id}' is not one of this contact's records.")
    return found


def notes(value: Any, now: datetime, existing: Contact | None) -> list[dict[str, Any]]:
    items = require_list(value, "notes", MAX_NOTES)
    known = {n.get("note_id"): n for n in existing.notes} if existing else {}
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    for index, raw in enumerate(items):
        at = f"notes[{index}]"
        item = require_dict(raw, at)
        reject_unknown_keys(item, {"note_id", "created_at", "content"}, at)
        content = text(item.get("content"), f"{at}.content", max_length=NOTE_MAX, required=True)
        assert content is not None
        note_id = item.get("note_id")
        if note_id is not None:
            if not isinstance(note_id, str) or not is_uuid(note_id):
                raise bad(f"{at}.note_id must be an id in UUID format; got {note_id!r}.")
            note_id = note_id.lower()
            if note_id in seen:
                raise bad(f"{at}.note_id '{note_id}' appears more than once.")
            seen.add(note_id)
        created = _timestamp(item.get("created_at"), f"{at}.created_at")
        if created is None and note_id in known:
            old_created = known[note_id].get("created_at")
            created = old_created if isinstance(old_created, datetime) else None
        out.append(note_record(content, now, note_id=note_id, created_at=created))
    return out


def _timestamp(value: Any, where: str) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise bad(f"{where} must be an ISO-8601 date-time string.")
    try:
        return parse_iso(value)
    except ValueError:
        raise bad(f"{where} must be an ISO-8601 date-time; got '{value}'.") from None


def read_only_timestamps(body: dict[str, Any], names_: tuple[str, ...], where: str = "") -> None:
    """Read-only timestamps may be echoed back from a GET, but they must still be dates."""
    for name in names_:
        value = body.get(name)
        if value is not None and not isinstance(value, str):
            raise bad(f"{label(where, name)} is read-only and, when sent, must be a string.")


# -- SMS ------------------------------------------------------------------------------------
def _digits(value: Any, where: str, min_len: int, max_len: int) -> str:
    if not isinstance(value, str):
        raise bad(f"{where} must be a string of digits.")
    digits = value[1:] if value.startswith("+") else value
    if not digits.isdigit() or not min_len <= len(digits) <= max_len:
        raise bad(f"{where} must be {min_len}-{max_len} digits; got '{value}'.")
    return digits


def sms_channel(value: Any, source_name: str, now: datetime) -> dict[str, Any]:
    """The ``ContactSmsChannel`` of POST/PUT: a full number (dial code + number) and consents.

    The dial code is split off as the digits before the last ten; ten digits alone are
    taken as a US number (dial code 1).
    """
    where = "sms_channel"
    body = require_dict(value, where)
    reject_unknown_keys(body, {"full_sms_address", "sms_channel_consents"}, where)
    if body.get("full_sms_address") is None:
        raise bad(f"{where}.full_sms_address is required.")
    full = _digits(body["full_sms_address"], f"{where}.full_sms_address", 10, 15)
    dial_code = full[:-10] or "1"
    if body.get("sms_channel_consents") is None:
        raise bad(f"{where}.sms_channel_consents is required.")
    consents = _consents(
        body["sms_channel_consents"],
        f"{where}.sms_channel_consents",
        required={"sms_consent_permission", "consent_type"},
        optional={"consent_medium_details"},
        now=now,
    )
    return _channel(
        full[-10:], dial_code, "US" if dial_code == "1" else None, consents, source_name
    )


def signup_sms_channel(value: Any, now: datetime) -> dict[str, Any]:
    """sign_up_form's SMS channel: number, dial code and country code given separately."""
    where = "sms_channel"
    body = require_dict(value, where)
    allowed = {"sms_address", "dial_code", "country_code", "sms_channel_consents"}
    reject_unknown_keys(body, allowed, where)
    for name in sorted(allowed):
        if body.get(name) is None:
            raise bad(f"{where}.{name} is required.")
    number = _digits(body["sms_address"], f"{where}.sms_address", 4, 15)
    dial_code = _digits(body["dial_code"], f"{where}.dial_code", 1, 4)
    country = body["country_code"]
    if not isinstance(country, str) or not re.fullmatch(r"[A-Za-z]{2}", country):
        raise bad(f"{where}.country_code must be a two-letter ISO country code; got {country!r}.")
    consents = _consents(
        body["sms_channel_consents"],
        f"{where}.sms_channel_consents",
        required={
            "sms_consent_permission",
            "consent_type",
            "consent_medium_type",
            "consent_medium_url",
            "consent_medium_details",
        },
        optional={"advertised_frequency", "advertised_interval"},
        now=now,
    )
    return _channel(number, dial_code, country.upper(), consents, "Contact")


def _channel(
    number: str,
    dial_code: str,
    country: str | None,
    consents: list[dict[str, Any]],
    source_name: str,
) -> dict[str, Any]:
    return {
        "sms_channel_id": new_id(),
        "sms_address": number,
        "dial_code": dial_code,
        "country_code": country,
        "create_source": source_name,
        "update_source": source_name,
        "sms_channel_consents": consents,
    }


def _consents(
    value: Any, where: str, *, required: set[str], optional: set[str], now: datetime
) -> list[dict[str, Any]]:
    items = require_list(value, where, max_items=1, min_items=1)
    out: list[dict[str, Any]] = []
    for index, raw in enumerate(items):
        at = f"{where}[{index}]"
        item = require_dict(raw, at)
        reject_unknown_keys(item, required | optional, at)
        for name in sorted(required):
            if item.get(name) is None:
                raise bad(f"{at}.{name} is required.")
        if item["consent_type"] != "promotional_sms":
            raise bad(f"{at}.consent_type must be promotional_sms; got {item['consent_type']!r}.")
        perm = item["sms_consent_permission"]
        if perm not in SMS_PERMISSIONS:
            raise bad(
                f"{at}.sms_consent_permission must be one of: {', '.join(SMS_PERMISSIONS)}; "
                f"got {perm!r}."
            )
        consent: dict[str, Any] = {
            "sms_consent_permission": perm,
            "consent_type": "promotional_sms",
        }
        for name in sorted((required | optional) - {"sms_consent_permission", "consent_type"}):
            if item.get(name) is None:
                continue
            if name == "advertised_frequency":
                freq = item[name]
                if isinstance(freq, bool) or not isinstance(freq, int) or freq < 1:
                    raise bad(f"{at}.advertised_frequency must be a positive integer.")
                consent[name] = str(freq)
            else:
                consent[name] = text(item[name], f"{at}.{name}", max_length=255)
        if perm == "explicit":
            consent["opt_in_date"] = now
        elif perm == "unsubscribed":
            consent["opt_out_date"] = now
        consent["created_at"] = now
        consent["updated_at"] = now
        out.append(consent)
    return out


@dataclass
class EmailInput:
    """A validated ``email_address`` object from a POST or PUT body."""

    address: str
    permission: str | None
    opt_out_reason: str | None
    opt_in_source: str | None = None
    opt_out_source: str | None = None


_EMAIL_READ_ONLY_TIMES = ("created_at", "updated_at", "opt_in_date", "opt_out_date")


def email_object(value: Any, *, put: bool) -> EmailInput:
    """The ``email_address`` object of a POST (address, permission) or a PUT.

    A PUT may echo back the read-only fields of a GET; the caller checks that the
    sources among them do not ask for a change the sandbox would not make.
    """
    where = "email_address"
    body = require_dict(value, where)
    allowed = {"address", "permission_to_send"}
    if put:
        allowed |= {"opt_out_reason", "confirm_status", "opt_in_source", "opt_out_source"}
        allowed |= set(_EMAIL_READ_ONLY_TIMES)
        read_only_timestamps(body, _EMAIL_READ_ONLY_TIMES, where)
    reject_unknown_keys(body, allowed, where)
    address = email_address(body.get("address"), f"{where}.address")
    perm = permission(body.get("permission_to_send"), f"{where}.permission_to_send")
    reason = text(
        body.get("opt_out_reason"), f"{where}.opt_out_reason", max_length=OPT_OUT_REASON_MAX
    )
    if reason is not None and perm not in (None, "unsubscribed"):
        raise bad(
            f"{where}.opt_out_reason can only be sent with permission_to_send 'unsubscribed'."
        )
    return EmailInput(
        address=address,
        permission=perm,
        opt_out_reason=reason,
        opt_in_source=source(body.get("opt_in_source"), f"{where}.opt_in_source", required=False),
        opt_out_source=source(
            body.get("opt_out_source"), f"{where}.opt_out_source", required=False
        ),
    )
