"""Contact imports (JSON and CSV) applied the way CC applies them when the activity finishes.

Both import endpoints reduce their input to the same thing — a list of rows, each a
``{column: value}`` dict keyed by CC's import column names — and share one worker, so a
CSV row and a JSON object with the same content have the same effect.

What the worker does (CC-V3-FACTS §5, §8, §11 fact 12):

- A new email becomes a contact with ``permission_to_send=implicit``,
  ``opt_in_source=Account`` and ``create_source=Account``.
- An existing contact gets only the supplied properties updated; its permission is kept.
  Empty values (``""``, JSON ``null``, an empty CSV cell) count as "not supplied", so an
  import never erases data.
- A *deleted* contact whose email is imported again is revived: CC documents deleted
  contacts as revivable, unlike unsubscribed ones, and lists import as a way back in.
- An unsubscribed contact is updated but not added to the lists; it is counted in
  ``status.cannot_add_to_list_count``.
- A contact keeps at most 50 lists, 3 phone numbers, 3 street addresses and 25 custom
  fields; a row that would push a contact past one of these is refused as a whole.

Per-row problems never fail the request. Each becomes one string in ``activity_errors``::

    Row <n> (<email or "no email">): <what is wrong>

``<n>`` is the 1-based position in ``import_data`` for JSON imports, and the CSV record
number counting the header as row 1 for file imports (what a spreadsheet shows). A row
with a problem is skipped entirely. Bad email format, birthday/anniversary format and rows
with neither email nor SMS number are "correctable" (``status.correctable_count``); every
other problem counts in ``status.error_count``.
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from ccbridge.sandbox.activities import worker
from ccbridge.sandbox.contact_lifecycle import (
    address_record,
    create_contact,
    full_sms_number,
    ms_now,
    new_email_address,
    phone_record,
    revive_contact,
)
from ccbridge.sandbox.errors import CCError
from ccbridge.sandbox.params import EMAIL_RE
from ccbridge.sandbox.state import AccountData, Activity, Contact, CustomField, new_id

MAX_IMPORT_ROWS = 40_000
"""JSON: contacts per import. CSV: lines per file, the header included."""
MAX_IMPORT_BYTES = 4 * 1024 * 1024
MAX_LISTS_PER_CONTACT = 50
MAX_CUSTOM_FIELDS_PER_CONTACT = 25
MAX_PHONES_PER_CONTACT = 3
MAX_ADDRESSES_PER_CONTACT = 3
JSON_EMAIL_MAX = 50  # the JSON import schema's limit
CSV_EMAIL_MAX = 80  # the file import documents none; a contact's address allows 80
PHONE_MAX = 25  # the import schema allows 50, but a contact's phone_number holds 25
CUSTOM_FIELD_VALUE_MAX = 255
SMS_PERMISSIONS = ("not_set", "explicit")
US_DIAL_CODE = "1"  # CC imports US SMS numbers only

NAME_FIELDS = {"first_name": 50, "last_name": 50, "job_title": 50, "company_name": 50}
PHONE_KEYS = {
    # ``phone`` is the default kind (other); an explicit ``other_phone`` wins over it.
    "phone": "other",
    "home_phone": "home",
    "work_phone": "work",
    "mobile_phone": "mobile",
    "other_phone": "other",
}
ADDRESS_PARTS = {"street": 255, "street2": 255, "city": 50, "state": 50, "zip": 50, "country": 50}
ADDRESS_KEYS: dict[str, tuple[str, str]] = {
    f"{prefix}{part}": (kind, part)
    for prefix, kind in (("", "home"), ("home_", "home"), ("work_", "work"), ("other_", "other"))
    for part in ADDRESS_PARTS
}
ADDRESS_KEYS["home country"] = ("home", "country")  # CC's schema spells it with a blank
OTHER_KEYS = ("email", "sms_number", "sms_consent_date", "birthday_month", "birthday_day")
KNOWN_KEYS = frozenset([*NAME_FIELDS, *PHONE_KEYS, *ADDRESS_KEYS, *OTHER_KEYS, "anniversary"])
CUSTOM_FIELD_PREFIX = "cf:"

_Y_FIRST = re.compile(r"^(\d{4})([/-])(\d{1,2})\2(\d{1,2})$")
_M_FIRST = re.compile(r"^(\d{1,2})([/-])(\d{1,2})\2(\d{4})$")
_SMS_RE = re.compile(r"^(\d{3})-?(\d{3})-?(\d{4})$")


# -- row parsing ---------------------------------------------------------------------------
@dataclass(slots=True)
class ImportRow:
    """One row, validated and normalised; only the properties it supplies are set."""

    email: str | None = None
    sms_number: str | None = None
    sms_consent_date: datetime | None = None
    fields: dict[str, Any] = field(default_factory=dict)
    phones: dict[str, str] = field(default_factory=dict)  # kind -> number
    addresses: dict[str, dict[str, str]] = field(default_factory=dict)  # kind -> part -> value
    custom_fields: dict[str, str] = field(default_factory=dict)  # custom_field_id -> value


class RowProblem(Exception):
    """Why one row cannot be imported; ``correctable`` follows CC's ActivityImport counters."""

    def __init__(self, message: str, correctable: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.correctable = correctable


@dataclass
class ImportSettings:
    """What every row of one import is checked against."""

    custom_fields_by_name: dict[str, CustomField]
    email_max: int
    sms_permission: str


def parse_import_date(value: str) -> date | None:
    """CC's import date formats (YYYY-MM-DD, M/D/YYYY, ...), or None when not one of them."""
    text = value.strip()
    m = _Y_FIRST.match(text)
    if m:
        year, month, day = int(m.group(1)), int(m.group(3)), int(m.group(4))
    else:
        m = _M_FIRST.match(text)
        if not m:
            return None
        month, day, year = int(m.group(1)), int(m.group(3)), int(m.group(4))
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _text(key: str, value: Any) -> str | None:
    """A supplied value as stripped text; None when it counts as not supplied."""
    if value is None:
        return None
    if isinstance(value, str):
        text = value.strip()
        return text or None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise RowProblem(f"{key} must be a string.")
    return str(value)


def _birthday_part(key: str, value: str, maximum: int) -> int:
    try:
        number = int(value)
    except ValueError:
        raise RowProblem(f"{key} must be a whole number; got '{value}'.", True) from None
    if not 1 <= number <= maximum:
        raise RowProblem(f"{key} must be between 1 and {maximum}; got {number}.", True)
    return number


def parse_row(raw: dict[str, Any], settings: ImportSettings) -> ImportRow:
    """Validate one row; raises RowProblem naming the first thing wrong with it."""
    row = ImportRow()
    phone_values: dict[str, str] = {}
    address_values: dict[str, str] = {}
    for key, value in raw.items():
        text = _text(key, value)
        if text is None:
            continue
        if key in NAME_FIELDS:
            if len(text) > NAME_FIELDS[key]:
                raise RowProblem(f"{key} is longer than {NAME_FIELDS[key]} characters.")
            row.fields[key] = text
        elif key == "email":
            if len(text) > settings.email_max:
                raise RowProblem(f"email is longer than {settings.email_max} characters.")
            if not EMAIL_RE.match(text):
                raise RowProblem(f"email '{text}' is not a valid email address.", True)
            row.email = text
        elif key in PHONE_KEYS:
            if len(text) > PHONE_MAX:
                raise RowProblem(f"{key} is longer than {PHONE_MAX} characters.")
            phone_values[key] = text
        elif key in ADDRESS_KEYS:
            part = ADDRESS_KEYS[key][1]
            if len(text) > ADDRESS_PARTS[part]:
                raise RowProblem(f"{key} is longer than {ADDRESS_PARTS[part]} characters.")
            address_values[key] = text
        elif key.startswith(CUSTOM_FIELD_PREFIX):
            name = key[len(CUSTOM_FIELD_PREFIX) :]
            custom_field = settings.custom_fields_by_name.get(name)
            if custom_field is None:
                raise RowProblem(f"{key} does not name a custom field of this account.")
            if len(text) > CUSTOM_FIELD_VALUE_MAX:
                raise RowProblem(f"{key} is longer than {CUSTOM_FIELD_VALUE_MAX} characters.")
            row.custom_fields[custom_field.custom_field_id] = text
        elif key == "birthday_month":
            row.fields["birthday_month"] = _birthday_part(key, text, 12)
        elif key == "birthday_day":
            row.fields["birthday_day"] = _birthday_part(key, text, 31)
        elif key == "anniversary":
            day = parse_import_date(text)
            if day is None:
                raise RowProblem(f"anniversary '{text}' is not a date CC accepts.", True)
            row.fields["anniversary"] = day.isoformat()
        elif key == "sms_number":
            m = _SMS_RE.match(text)
            if m is None:
                raise RowProblem(
                    f"sms_number '{text}' is not a US number like 1231231234 or 123-123-1234."
                )
            row.sms_number = "".join(m.groups())
        elif key == "sms_consent_date":
            day = parse_import_date(text)
            if day is None:
                raise RowProblem(f"sms_consent_date '{text}' is not a date CC accepts.")
            row.sms_consent_date = datetime(day.year, day.month, day.day, tzinfo=UTC)
        else:
            raise RowProblem(f"'{key}' is not an import property.")
    _check_birthday(row)
    if row.email is None and row.sms_number is None:
        raise RowProblem("the row has neither an email nor an sms_number.", True)
    if len(row.custom_fields) > MAX_CUSTOM_FIELDS_PER_CONTACT:
        raise RowProblem(
            f"a contact can hold at most {MAX_CUSTOM_FIELDS_PER_CONTACT} custom fields."
        )
    if (
        row.sms_number is not None
        and settings.sms_permission == "explicit"
        and row.sms_consent_date is None
    ):
        raise RowProblem("sms_consent_date is required when sms_permission_to_send is explicit.")
    for key, kind in PHONE_KEYS.items():  # dict order: explicit other_phone after phone
        if key in phone_values:
            row.phones[kind] = phone_values[key]
    _collect_addresses(row, address_values)
    return row


def _check_birthday(row: ImportRow) -> None:
    month = row.fields.get("birthday_month")
    day = row.fields.get("birthday_day")
    if (month is None) != (day is None):
        raise RowProblem("birthday_month and birthday_day must be given together.", True)


def _collect_addresses(row: ImportRow, values: dict[str, str]) -> None:
    # Unprefixed keys (kind home) first, so an explicit home_* value wins over them.
    for key in sorted(values, key=lambda k: k in ADDRESS_PARTS, reverse=True):
        kind, part = ADDRESS_KEYS[key]
        row.addresses.setdefault(kind, {})[part] = values[key]
    for kind, parts in row.addresses.items():
        street2 = parts.pop("street2", None)
        if street2 is not None:
            # CC appends line two to the street; the contact has a single street field.
            street = f"{parts['street']} {street2}" if parts.get("street") else street2
            if len(street) > ADDRESS_PARTS["street"]:
                raise RowProblem(
                    f"the {kind} street with street2 appended is longer than "
                    f"{ADDRESS_PARTS['street']} characters."
                )
            parts["street"] = street


def row_error(number: int, raw: dict[str, Any], message: str) -> str:
    """The documented ``activity_errors`` line for one row."""
    email = raw.get("email")
    text = "" if email is None else str(email).strip()
    label = text or "no email"
    return f"Row {number} ({label[:100]}): {message}"


# -- applying rows ---------------------------------------------------------------------------
@dataclass
class ImportCounters:
    person_count: int = 0
    error_count: int = 0
    correctable_count: int = 0
    cannot_add_to_list_count: int = 0


class _Importer:
    """Applies parsed rows to one account; lookups are O(1) so 40,000 rows stay fast."""

    def __init__(
        self, data: AccountData, now: datetime, list_ids: list[str], sms_permission: str
    ) -> None:
        self.data = data
        self.now = now
        self.list_ids = list_ids
        self.sms_permission = sms_permission
        self._sms_index: dict[str, Contact] | None = None

    def sms_index(self) -> dict[str, Contact]:
        """Contacts by full SMS number (dial code + number), built once per import."""
        if self._sms_index is None:
            self._sms_index = {}
            for contact in self.data.contacts.values():
                number = full_sms_number(contact.sms_channel)
                if number:
                    self._sms_index[number] = contact
        return self._sms_index

    def find(self, row: ImportRow) -> Contact | None:
        if row.email is not None:
            contact = self.data.contact_by_email(row.email)
            if contact is not None:
                return contact
        if row.sms_number is not None:
            return self.sms_index().get(US_DIAL_CODE + row.sms_number)
        return None

    def apply(self, row: ImportRow) -> bool:
        """Create or update the row's contact; True when it could not join the lists."""
        contact = self.find(row)
        if row.sms_number is not None:
            owner = self.sms_index().get(US_DIAL_CODE + row.sms_number)
            if owner is not None and owner is not contact:
                raise RowProblem(f"sms_number {row.sms_number} belongs to another contact.")
        current = contact.email_address if contact is not None else None
        if row.email is not None and current is not None and not _same(current.address, row.email):
            raise RowProblem(
                f"sms_number {row.sms_number} belongs to a contact with another email."
            )
        if contact is None:
            contact = self._create(row)
            joined = self._join_lists(contact, check_only=False)
        else:
            self._check_capacity(contact, row)
            joined = self._join_lists(contact, check_only=True)
            self._update(contact, row)
            if joined:
                self._join_lists(contact, check_only=False)
        return not joined

    def _create(self, row: ImportRow) -> Contact:
        # Bulk imports always record implicit permission given by the account (§8).
        email = (
            new_email_address(row.email, "implicit", "Account", self.now)
            if row.email is not None
            else None
        )
        contact = create_contact(self.data, self.now, create_source="Account", email=email)
        self._set_properties(contact, row)
        return contact

    def _update(self, contact: Contact, row: ImportRow) -> None:
        revive_contact(contact, self.now)  # importing a deleted contact brings it back
        if row.email is not None and contact.email_address is None:
            # An SMS-only contact gains the email; that address is new, so implicit/Account.
            self.data.change_contact_email(contact, row.email)
            contact.email_address = new_email_address(row.email, "implicit", "Account", self.now)
        contact.updated_at = self.now
        contact.update_source = "Account"
        self._set_properties(contact, row)

    def _check_capacity(self, contact: Contact, row: ImportRow) -> None:
        phone_kinds = {p.get("kind") for p in contact.phone_numbers}
        new_phones = sum(1 for kind in row.phones if kind not in phone_kinds)
        if len(contact.phone_numbers) + new_phones > MAX_PHONES_PER_CONTACT:
            raise RowProblem(
                f"the contact would have more than {MAX_PHONES_PER_CONTACT} phone numbers."
            )
        address_kinds = {a.get("kind") for a in contact.street_addresses}
        new_addresses = sum(1 for kind in row.addresses if kind not in address_kinds)
        if len(contact.street_addresses) + new_addresses > MAX_ADDRESSES_PER_CONTACT:
            raise RowProblem(
                f"the contact would have more than {MAX_ADDRESSES_PER_CONTACT} street addresses."
            )
        field_ids = {f.get("custom_field_id") for f in contact.custom_fields}
        new_fields = sum(1 for fid in row.custom_fields if fid not in field_ids)
        if len(contact.custom_fields) + new_fields > MAX_CUSTOM_FIELDS_PER_CONTACT:
            raise RowProblem(
                f"the contact would have more than {MAX_CUSTOM_FIELDS_PER_CONTACT} custom fields."
            )

    def _join_lists(self, contact: Contact, *, check_only: bool) -> bool:
        """Add the import's lists; False when the contact is unsubscribed (CC skips it)."""
        email = contact.email_address
        if email is not None and email.permission_to_send == "unsubscribed":
            return False
        missing = [lid for lid in self.list_ids if lid not in contact.list_memberships]
        if len(contact.list_memberships) + len(missing) > MAX_LISTS_PER_CONTACT:
            raise RowProblem(
                f"the contact is in {len(contact.list_memberships)} lists; adding "
                f"{len(missing)} more would pass the limit of {MAX_LISTS_PER_CONTACT}."
            )
        if not check_only:
            contact.list_memberships.extend(missing)
        return True

    def _set_properties(self, contact: Contact, row: ImportRow) -> None:
        for name, value in row.fields.items():
            setattr(contact, name, value)
        for kind, number in row.phones.items():
            self._set_phone(contact, kind, number)
        for kind, parts in row.addresses.items():
            self._set_address(contact, kind, parts)
        for field_id, value in row.custom_fields.items():
            self._set_custom_field(contact, field_id, value)
        if row.sms_number is not None:
            self._set_sms(contact, row)

    def _set_phone(self, contact: Contact, kind: str, number: str) -> None:
        for phone in contact.phone_numbers:
            if phone.get("kind") == kind:
                phone.update(phone_number=number, update_source="Account", updated_at=self.now)
                return
        contact.phone_numbers.append(phone_record(number, kind, "Account", self.now))

    def _set_address(self, contact: Contact, kind: str, parts: dict[str, str]) -> None:
        values = {("postal_code" if p == "zip" else p): v for p, v in parts.items()}
        for address in contact.street_addresses:
            if address.get("kind") == kind:
                address.update(values, updated_at=self.now)
                return
        contact.street_addresses.append(address_record({"kind": kind, **values}, self.now))

    def _set_custom_field(self, contact: Contact, field_id: str, value: str) -> None:
        for entry in contact.custom_fields:
            if entry.get("custom_field_id") == field_id:
                entry["value"] = value
                return
        contact.custom_fields.append({"custom_field_id": field_id, "value": value})

    def _set_sms(self, contact: Contact, row: ImportRow) -> None:
        assert row.sms_number is not None
        consent: dict[str, Any] = {
            "sms_consent_permission": self.sms_permission,
            "consent_type": "promotional_sms",
            "created_at": self.now,
            "updated_at": self.now,
        }
        if self.sms_permission == "explicit" and row.sms_consent_date is not None:
            consent["opt_in_date"] = row.sms_consent_date
        channel = contact.sms_channel
        if channel is None:
            contact.sms_channel = {
                "sms_channel_id": new_id(),
                "sms_address": row.sms_number,
                "dial_code": US_DIAL_CODE,
                "country_code": "US",
                "create_source": "Account",
                "update_source": "Account",
                "sms_channel_consents": [consent],
            }
        else:
            old = full_sms_number(channel)
            if old:
                self.sms_index().pop(old, None)
            channel.update(
                sms_address=row.sms_number,
                dial_code=US_DIAL_CODE,
                country_code="US",
                update_source="Account",
                sms_channel_consents=[consent],
            )
        self.sms_index()[US_DIAL_CODE + row.sms_number] = contact


def _same(a: str, b: str) -> bool:
    return a.strip().lower() == b.strip().lower()


def run_import(data: AccountData, activity: Activity, now: datetime) -> None:
    """The worker for both import kinds: apply every row and fill in CC's counters."""
    now = ms_now(now)
    payload = activity.payload
    rows: list[dict[str, Any]] = payload["rows"]
    first_number: int = payload.get("first_row_number", 1)
    row_problems: dict[int, str] = payload.get("row_problems", {})
    live_lists = [
        lid
        for lid in payload["list_ids"]
        if lid in data.lists and data.lists[lid].deleted_at is None
    ]
    sms_permission = payload.get("sms_permission_to_send") or "not_set"
    settings = ImportSettings(
        custom_fields_by_name={cf.name: cf for cf in data.custom_fields.values()},
        email_max=payload.get("email_max", JSON_EMAIL_MAX),
        sms_permission=sms_permission,
    )
    importer = _Importer(data, now, live_lists, sms_permission)
    counters = ImportCounters()
    errors = activity.activity_errors
    for index, raw in enumerate(rows):
        counters.person_count += 1
        number = first_number + index
        try:
            if index in row_problems:
                raise RowProblem(row_problems[index])
            if importer.apply(parse_row(raw, settings)):
                counters.cannot_add_to_list_count += 1
        except RowProblem as problem:
            if problem.correctable:
                counters.correctable_count += 1
            else:
                counters.error_count += 1
            errors.append(row_error(number, raw, problem.message))
    activity.status.update(
        person_count=counters.person_count,
        error_count=counters.error_count,
        correctable_count=counters.correctable_count,
        cannot_add_to_list_count=counters.cannot_add_to_list_count,
    )


worker("contacts_json_import")(run_import)
worker("contacts_file_import")(run_import)


def import_status(items_total: int, person_count: int) -> dict[str, Any]:
    """The ActivityImport status block as it reads when the activity is created."""
    return {
        "items_total_count": items_total,
        "items_completed_count": 0,
        "person_count": person_count,
        "error_count": 0,
        "correctable_count": 0,
        "cannot_add_to_list_count": 0,
    }


# -- request-time helpers --------------------------------------------------------------------
def json_rows_within_limit(rows: list[dict[str, Any]], body_size: int) -> list[dict[str, Any]]:
    """The rows whose text falls inside CC's first 4 MB; CC drops the rest of a bigger body.

    The cut is estimated from each row's compact JSON length, which is close to where the
    row sits in the body for the compact payloads clients send.
    """
    if body_size <= MAX_IMPORT_BYTES:
        return rows
    used = len('{"import_data":[]}')
    for index, row in enumerate(rows):
        used += len(json.dumps(row, separators=(",", ":"), ensure_ascii=False).encode()) + 1
        if used > MAX_IMPORT_BYTES:
            return rows[:index]
    return rows


@dataclass
class CsvImport:
    """A parsed import file: rows keyed by column, and CC's counts for the status block."""

    rows: list[dict[str, str]]
    row_problems: dict[int, str]
    lines: int  # records read, the header included (ActivityImport items_total_count)


def parse_import_csv(
    content: bytes, custom_field_names: set[str], sms_permission: str, area: str
) -> CsvImport:
    """Read an import file as CC does: truncated to 4 MB and 40,000 lines, header first.

    The truncation is silent, as on CC. Problems with the file as a whole (not UTF-8, no
    header, no email/sms_number column, unknown or duplicate columns) are 400s; problems
    with single records are left for the worker to report per row.
    """
    if len(content) > MAX_IMPORT_BYTES:
        head = content[:MAX_IMPORT_BYTES]
        cut = head.rfind(b"\n")
        content = head[: cut + 1] if cut >= 0 else b""
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CCError.bad_request(
            area, f"file is not valid UTF-8 text (bad byte at offset {exc.start})."
        ) from None
    text = text.removeprefix("\ufeff")
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader, None)
        if not header or not any(cell.strip() for cell in header):
            raise CCError.bad_request(area, "file has no header row naming its columns.")
        columns = _check_header(header, custom_field_names, sms_permission, area)
        rows: list[dict[str, str]] = []
        problems: dict[int, str] = {}
        lines = 1
        for record in reader:
            if lines >= MAX_IMPORT_ROWS:
                break  # CC processes 40,000 lines, the header included, and drops the rest
            lines += 1
            if not any(cell.strip() for cell in record):
                continue
            if len(record) > len(columns) and any(c.strip() for c in record[len(columns) :]):
                problems[len(rows)] = (
                    f"the record has {len(record)} values but the header names "
                    f"{len(columns)} columns."
                )
            rows.append({columns[i]: v for i, v in enumerate(record[: len(columns)]) if v})
    except csv.Error as exc:
        raise CCError.bad_request(area, f"file is not valid CSV: {exc}.") from None
    if not rows:
        raise CCError.bad_request(area, "file has a header but no contact rows.")
    return CsvImport(rows=rows, row_problems=problems, lines=lines)


def _check_header(
    header: list[str], custom_field_names: set[str], sms_permission: str, area: str
) -> list[str]:
    columns: list[str] = []
    for cell in header:
        name = cell.strip()
        if name.lower().startswith(CUSTOM_FIELD_PREFIX):
            cf_name = name[len(CUSTOM_FIELD_PREFIX) :]
            if cf_name not in custom_field_names:
                raise CCError.bad_request(
                    area, f"file column '{name}' does not name a custom field of this account."
                )
            name = CUSTOM_FIELD_PREFIX + cf_name
        else:
            name = name.lower()
            if name not in KNOWN_KEYS:
                raise CCError.bad_request(area, f"file column '{cell}' is not a column CC imports.")
        if name in columns:
            raise CCError.bad_request(area, f"file names column '{name}' twice.")
        columns.append(name)
    if "email" not in columns and "sms_number" not in columns:
        raise CCError.bad_request(
            area, "file must have an 'email' or an 'sms_number' column; it has neither."
        )
    if (
        "sms_number" in columns
        and sms_permission == "explicit"
        and "sms_consent_date" not in columns
    ):
        raise CCError.bad_request(
            area,
            "file needs an 'sms_consent_date' column when sms_permission_to_send is explicit.",
        )
    return columns
