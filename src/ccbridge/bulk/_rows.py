"""Turning what a caller hands ``import_contacts`` into CC's JSON import rows.

A JSON import row is a flat object keyed by CC's import column names (``email``,
``first_name``, ``home_phone``, ``work_city``, ``cf:<custom field name>``, …;
CC-V3-FACTS §5). Callers may pass such flat mappings, or contacts in the shape CC returns
them (a ``Contact`` model or a mapping with an ``email_address`` object), which are
flattened here. Everything is checked before the first request, and anything that cannot
be expressed in an import is refused with the input's index rather than dropped.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from ccbridge._errors import InvalidArgumentError
from ccbridge.models.contacts import Contact

_NAMES = ("first_name", "last_name", "job_title", "company_name")
_ADDRESS_PARTS = ("street", "street2", "city", "state", "zip", "country")
IMPORT_KEYS = frozenset(
    [
        "email",
        *_NAMES,
        "birthday_month",
        "birthday_day",
        "anniversary",
        "phone",
        "home_phone",
        "work_phone",
        "mobile_phone",
        "other_phone",
        *_ADDRESS_PARTS,
        *(f"{kind}_{part}" for kind in ("home", "work", "other") for part in _ADDRESS_PARTS),
        "home country",  # CC's own schema spells the home country key with a blank
        "sms_number",
        "sms_consent_date",
    ]
)
"""The keys of a JSON import row, besides ``cf:<name>`` (from CC's JsonImportContact)."""

CUSTOM_FIELD_PREFIX = "cf:"
_CONTACT_SHAPE_KEYS = frozenset({"email_address", "phone_numbers", "street_addresses"})
_PHONE_KEY_BY_KIND = {
    "home": "home_phone",
    "work": "work_phone",
    "mobile": "mobile_phone",
    "other": "other_phone",
}
_ADDRESS_PREFIX_BY_KIND = {"home": "", "work": "work_", "other": "other_"}


def to_import_row(item: Any, index: int) -> dict[str, Any]:
    """One caller item as a JSON import row; ``InvalidArgumentError`` naming ``contacts[i]``."""
    if isinstance(item, Contact):
        return contact_to_row(item, index)
    if not isinstance(item, Mapping):
        raise InvalidArgumentError(
            f"contacts[{index}] must be a mapping of import columns or a Contact, "
            f"not {type(item).__name__}"
        )
    if _CONTACT_SHAPE_KEYS.intersection(item) and isinstance(item.get("email_address"), Mapping):
        try:
            contact = Contact.model_validate(item)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise InvalidArgumentError(f"contacts[{index}].{where}: {first['msg']}") from None
        return contact_to_row(contact, index)
    return _flat_row(item, index)


def _flat_row(item: Mapping[Any, Any], index: int) -> dict[str, Any]:
    row: dict[str, Any] = {}
    for key, value in item.items():
        if not isinstance(key, str):
            raise InvalidArgumentError(f"contacts[{index}] has a key that is not a string: {key!r}")
        if value is None:
            continue
        name = "country" if key == "home_country" else key
        if name not in IMPORT_KEYS and not (
            name.startswith(CUSTOM_FIELD_PREFIX) and len(name) > len(CUSTOM_FIELD_PREFIX)
        ):
            raise InvalidArgumentError(
                f"contacts[{index}] has the key {key!r}, which is not a CC import column "
                "(use email, first_name, …, home_phone, work_city, … or cf:<custom field name>)"
            )
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise InvalidArgumentError(
                f"contacts[{index}].{key} must be a string or a number, not {type(value).__name__}"
            )
        row[name] = value
    return row


def contact_to_row(contact: Contact, index: int) -> dict[str, Any]:
    """A contact in CC's resource shape, flattened to import columns."""
    where = f"contacts[{index}]"
    for name in ("list_memberships", "taggings", "notes", "sms_channel", "custom_fields"):
        if getattr(contact, name):
            raise InvalidArgumentError(
                f"{where}.{name} cannot be expressed in a contact import: "
                + _WHY_NOT_IMPORTABLE[name]
            )
    row: dict[str, Any] = {}
    if contact.email is not None:
        row["email"] = contact.email
    for name in (*_NAMES, "birthday_month", "birthday_day", "anniversary"):
        value = getattr(contact, name)
        if value is not None:
            row[name] = value
    for position, phone in enumerate(contact.phone_numbers or ()):
        if phone.phone_number is None:
            continue
        key = _PHONE_KEY_BY_KIND.get(phone.kind or "", "phone")
        if key in row:
            raise InvalidArgumentError(
                f"{where}.phone_numbers[{position}]: a second {phone.kind or 'unnamed'} phone "
                "number; an import takes one number per kind"
            )
        row[key] = phone.phone_number
    for position, address in enumerate(contact.street_addresses or ()):
        prefix = _ADDRESS_PREFIX_BY_KIND.get(address.kind)
        if prefix is None:
            raise InvalidArgumentError(
                f"{where}.street_addresses[{position}].kind must be home, work or other, "
                f"not {address.kind!r}"
            )
        for part, value in (
            ("street", address.street),
            ("city", address.city),
            ("state", address.state),
            ("zip", address.postal_code),
            ("country", address.country),
        ):
            if value is not None:
                row[prefix + part] = value
    return row


_WHY_NOT_IMPORTABLE = {
    "list_memberships": "pass the lists as list_ids (they apply to every contact of the import)",
    "taggings": "tag the contacts afterwards with a contacts_taggings_add activity",
    "notes": "imports carry no notes",
    "sms_channel": "give the number as an 'sms_number' column in a mapping instead",
    "custom_fields": "imports name custom fields by name; pass a mapping with "
    "'cf:<custom field name>' keys instead",
}


def row_email(row: Mapping[str, Any]) -> str | None:
    """The row's email as CC will echo it in an error line (stripped), if it has one."""
    value = row.get("email")
    if value is None:
        return None
    text = str(value).strip()
    return text or None
