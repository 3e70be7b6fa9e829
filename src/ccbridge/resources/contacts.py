"""``client.contacts``: contacts (``/contacts``), typed.

The generated methods (``get_contacts``, ``create_contact``, …) return CC's JSON as-is.
The methods added here take plain arguments, check them before anything is sent (an
``InvalidArgumentError`` names the argument), and return models. Compliance facts shape
the signatures: ``create_source``/``update_source`` must say truthfully who acted
(CC-V3-FACTS §8), so they have no default; ``sign_up`` is for genuine sign-ups only, since
it re-permissions even unsubscribed contacts.
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from ccbridge._errors import InvalidArgumentError, ResponseParseError
from ccbridge._pagination import AsyncPaginator, Paginator
from ccbridge.models.contacts import (
    Contact,
    ContactsCounts,
    ContactsPage,
    PhoneNumber,
    SignUpResult,
    StreetAddress,
    contact_put_body,
)
from ccbridge.resources._checks import (
    check_email,
    check_id,
    check_ids,
    check_int_range,
    check_text,
    one_of,
)
from ccbridge.resources._generated import AsyncContactsOperations, ContactsOperations

SOURCES = ("Account", "Contact")
INCLUDES = (
    "custom_fields",
    "list_memberships",
    "phone_numbers",
    "street_addresses",
    "taggings",
    "notes",
)
STATUSES = (
    "all",
    "active",
    "deleted",
    "not_set",
    "pending_confirmation",
    "temp_hold",
    "unsubscribed",
)
PERMISSIONS = (
    "explicit",
    "implicit",
    "not_set",
    "pending_confirmation",
    "temp_hold",
    "unsubscribed",
)
SMS_STATUSES = ("all", "explicit", "unsubscribed", "pending_confirmation", "not_set")
MAX_PAGE = 500
MAX_FILTER_LISTS = 25
MAX_FILTER_TAGS = 50
MAX_LISTS = 50
MAX_TAGS = 50
EMAIL_MAX = 80
SIGNUP_EMAIL_MAX = 50
NAME_MAX = 50

DateLike = datetime | str


# -- argument checks and bodies (shared by both classes) ---------------------------------------
def _csv(
    name: str, value: str | Sequence[str] | None, allowed: Sequence[str] | None = None
) -> str | None:
    if value is None:
        return None
    items = [v.strip() for v in value.split(",")] if isinstance(value, str) else list(value)
    if not items or not all(isinstance(v, str) and v for v in items):
        raise InvalidArgumentError(f"{name} must be a non-empty list of strings")
    if allowed is not None:
        for item in items:
            one_of(name, item, allowed)
    return ",".join(items)


def _date(name: str, value: DateLike | None) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise InvalidArgumentError(f"{name} must be timezone-aware (CC compares in UTC)")
        return value.isoformat()
    if isinstance(value, str) and value.strip():
        return value.strip()
    raise InvalidArgumentError(f"{name} must be a datetime or an ISO-8601 string")


def contacts_query(
    *,
    status: str | Sequence[str] | None,
    email: str | None,
    lists: Sequence[str] | None,
    tags: Sequence[str] | None,
    updated_after: DateLike | None,
    updated_before: DateLike | None,
    created_after: DateLike | None,
    created_before: DateLike | None,
    include: str | Sequence[str] | None,
    include_count: bool | None,
    limit: int | None,
) -> dict[str, Any]:
    if limit is not None:
        check_int_range("limit", limit, 1, MAX_PAGE)
    if include_count is not None and not isinstance(include_count, bool):
        raise InvalidArgumentError("include_count must be True or False")
    return {
        "status": _csv("status", status, STATUSES),
        "email": check_email("email", email, EMAIL_MAX) if email is not None else None,
        "lists": ",".join(check_ids("lists", lists, maximum=MAX_FILTER_LISTS)) if lists else None,
        "tags": ",".join(check_ids("tags", tags, maximum=MAX_FILTER_TAGS)) if tags else None,
        "updated_after": _date("updated_after", updated_after),
        "updated_before": _date("updated_before", updated_before),
        "created_after": _date("created_after", created_after),
        "created_before": _date("created_before", created_before),
        "include": _csv("include", include, INCLUDES),
        "include_count": include_count,
        "limit": limit,
    }


def _birthday(month: int | None, day: int | None) -> dict[str, int]:
    if (month is None) != (day is None):
        raise InvalidArgumentError("birthday_month and birthday_day must be given together")
    if month is None or day is None:
        return {}
    check_int_range("birthday_month", month, 1, 12)
    check_int_range("birthday_day", day, 1, 31)
    return {"birthday_month": month, "birthday_day": day}


def _names(**names: str | None) -> dict[str, str]:
    return {
        name: check_text(name, value, NAME_MAX)
        for name, value in names.items()
        if value is not None
    }


def _sub_resources(name: str, items: Sequence[Any] | None, model: type[Any]) -> list[Any] | None:
    if items is None:
        return None
    if isinstance(items, (str, bytes, Mapping)):
        raise InvalidArgumentError(f"{name} must be a list")
    out = []
    for position, item in enumerate(items):
        if isinstance(item, model):
            out.append(item.to_api())
        elif isinstance(item, Mapping):
            out.append(dict(item))
        else:
            raise InvalidArgumentError(
                f"{name}[{position}] must be a {model.__name__} or a mapping"
            )
    return out


def create_body(
    email: str | None,
    *,
    create_source: str,
    permission_to_send: str | None,
    first_name: str | None,
    last_name: str | None,
    job_title: str | None,
    company_name: str | None,
    birthday_month: int | None,
    birthday_day: int | None,
    anniversary: str | None,
    list_ids: Sequence[str] | None,
    tag_ids: Sequence[str] | None,
    custom_fields: Mapping[str, str] | None,
    phone_numbers: Sequence[PhoneNumber | Mapping[str, Any]] | None,
    street_addresses: Sequence[StreetAddress | Mapping[str, Any]] | None,
) -> dict[str, Any]:
    """``POST /contacts`` body; CC needs a create_source and an email or a name."""
    body: dict[str, Any] = {"create_source": one_of("create_source", create_source, SOURCES)}
    if email is not None:
        body["email_address"] = {"address": check_email("email", email, EMAIL_MAX)}
        if permission_to_send is not None:
            body["email_address"]["permission_to_send"] = one_of(
                "permission_to_send", permission_to_send, PERMISSIONS
            )
    elif permission_to_send is not None:
        raise InvalidArgumentError("permission_to_send needs an email")
    body.update(
        _names(
            first_name=first_name,
            last_name=last_name,
            job_title=job_title,
            company_name=company_name,
        )
    )
    if not {"email_address", "first_name", "last_name"} & set(body):
        raise InvalidArgumentError("a contact needs an email, a first_name or a last_name")
    body.update(_birthday(birthday_month, birthday_day))
    if anniversary is not None:
        body["anniversary"] = check_text("anniversary", anniversary, 10)
    if list_ids is not None:
        body["list_memberships"] = check_ids("list_ids", list_ids, maximum=MAX_LISTS)
    if tag_ids is not None:
        body["taggings"] = check_ids("tag_ids", tag_ids, maximum=MAX_TAGS)
    if custom_fields is not None:
        body["custom_fields"] = _custom_field_values(custom_fields, 25)
    phones = _sub_resources("phone_numbers", phone_numbers, PhoneNumber)
    if phones is not None:
        body["phone_numbers"] = phones
    addresses = _sub_resources("street_addresses", street_addresses, StreetAddress)
    if addresses is not None:
        body["street_addresses"] = addresses
    return body


def _custom_field_values(values: Mapping[str, str], maximum: int) -> list[dict[str, str]]:
    if not isinstance(values, Mapping):
        raise InvalidArgumentError("custom_fields must map custom_field_id to value")
    if len(values) > maximum:
        raise InvalidArgumentError(f"custom_fields has {len(values)} values; CC takes {maximum}")
    out = []
    for field_id, value in values.items():
        check_id("custom_fields key", field_id)
        out.append({"custom_field_id": field_id, "value": check_text(field_id, value, 255)})
    return out


def sign_up_body(
    email: str,
    list_ids: Sequence[str],
    *,
    first_name: str | None,
    last_name: str | None,
    job_title: str | None,
    company_name: str | None,
    phone_number: str | None,
    anniversary: str | None,
    birthday_month: int | None,
    birthday_day: int | None,
    custom_fields: Mapping[str, str] | None,
    street_address: StreetAddress | Mapping[str, Any] | None,
) -> dict[str, Any]:
    """``POST /contacts/sign_up_form`` body: the email is a plain string of at most 50."""
    body: dict[str, Any] = {
        "email_address": check_email("email", email, SIGNUP_EMAIL_MAX),
        "list_memberships": check_ids("list_ids", list_ids, maximum=MAX_LISTS, required=True),
    }
    body.update(
        _names(
            first_name=first_name,
            last_name=last_name,
            job_title=job_title,
            company_name=company_name,
        )
    )
    if phone_number is not None:
        body["phone_number"] = check_text("phone_number", phone_number, 25)
    if anniversary is not None:
        body["anniversary"] = check_text("anniversary", anniversary, 10)
    body.update(_birthday(birthday_month, birthday_day))
    if custom_fields is not None:
        body["custom_fields"] = _custom_field_values(custom_fields, 50)
    if street_address is not None:
        address = (
            street_address.to_api()
            if isinstance(street_address, StreetAddress)
            else dict(street_address)
        )
        if not address.get("kind"):
            raise InvalidArgumentError("street_address needs a kind (home, work or other)")
        body["street_address"] = address
    return body


def _update_body(contact: Contact, update_source: str) -> tuple[str, dict[str, Any]]:
    if not isinstance(contact, Contact):
        raise InvalidArgumentError(
            f"contact must be a Contact (as get() returns it), not {type(contact).__name__}"
        )
    if not contact.contact_id:
        raise InvalidArgumentError("contact has no contact_id: create it instead of updating")
    return contact.contact_id, contact_put_body(
        contact, one_of("update_source", update_source, SOURCES)
    )


def _first_contact(data: Any) -> Contact | None:
    page = ContactsPage.parse(data, source="GET /contacts")
    return page.contacts[0] if page.contacts else None


def _contact(data: Any, source: str) -> Contact:
    return Contact.parse(data, source=source)


def _parse_listed_contact(data: Any) -> Contact:
    return Contact.parse(data, source="GET /contacts")


def _sign_up_result(data: Any) -> SignUpResult:
    if data is None:
        raise ResponseParseError("POST /contacts/sign_up_form answered without a body", body=b"")
    return SignUpResult.parse(data, source="POST /contacts/sign_up_form")


class Contacts(ContactsOperations):
    """Sync operations on contacts."""

    def list(
        self,
        *,
        status: str | Sequence[str] | None = None,
        email: str | None = None,
        lists: Sequence[str] | None = None,
        tags: Sequence[str] | None = None,
        updated_after: DateLike | None = None,
        updated_before: DateLike | None = None,
        created_after: DateLike | None = None,
        created_before: DateLike | None = None,
        include: str | Sequence[str] | None = None,
        include_count: bool | None = None,
        limit: int | None = None,
    ) -> ContactsPage:
        """One page of contacts (use ``iter`` for all of them).

        CC leaves deleted contacts out unless ``status`` includes ``all`` or ``deleted``,
        and sends sub-resources only when ``include`` names them.
        """
        query = contacts_query(
            status=status,
            email=email,
            lists=lists,
            tags=tags,
            updated_after=updated_after,
            updated_before=updated_before,
            created_after=created_after,
            created_before=created_before,
            include=include,
            include_count=include_count,
            limit=limit,
        )
        return ContactsPage.parse(
            self._client._operation("getContacts", query=query), source="GET /contacts"
        )

    def iter(
        self,
        *,
        status: str | Sequence[str] | None = None,
        email: str | None = None,
        lists: Sequence[str] | None = None,
        tags: Sequence[str] | None = None,
        updated_after: DateLike | None = None,
        updated_before: DateLike | None = None,
        created_after: DateLike | None = None,
        created_before: DateLike | None = None,
        include: str | Sequence[str] | None = None,
        limit: int | None = None,
    ) -> Paginator[Contact]:
        """Every matching contact, page after page (``limit`` is the page size, ≤ 500)."""
        query = contacts_query(
            status=status,
            email=email,
            lists=lists,
            tags=tags,
            updated_after=updated_after,
            updated_before=updated_before,
            created_after=created_after,
            created_before=created_before,
            include=include,
            include_count=None,
            limit=limit,
        )
        return self._client._paginate_operation(
            "getContacts", items_key="contacts", query=query, parse_item=_parse_listed_contact
        )

    def get(self, contact_id: str, *, include: str | Sequence[str] | None = None) -> Contact:
        """One contact (deleted ones too); ``NotFoundError`` when there is none."""
        data = self._client._operation(
            "getContact",
            path_params={"contact_id": check_id("contact_id", contact_id)},
            query={"include": _csv("include", include, INCLUDES)},
        )
        return _contact(data, "GET /contacts/{contact_id}")

    def find(self, email: str, *, include: str | Sequence[str] | None = None) -> Contact | None:
        """The contact with this email, deleted or not, or None (CC answers an unknown email
        with an empty page, not 404)."""
        data = self._client._operation(
            "getContacts",
            query={
                "email": check_email("email", email, EMAIL_MAX),
                "status": "all",
                "include": _csv("include", include, INCLUDES),
            },
        )
        return _first_contact(data)

    def find_by_email(self, email: str, *, include: str | None = None) -> dict[str, Any] | None:
        """Like ``find``, but CC's JSON as-is (kept for code written against it)."""
        page = self.get_contacts(
            email=check_email("email", email, EMAIL_MAX), status="all", include=include
        )
        contacts = page.get("contacts") if isinstance(page, dict) else None
        if not isinstance(contacts, builtins.list):
            raise ResponseParseError(
                "GET /contacts answered without a 'contacts' list", body=repr(page)[:500].encode()
            )
        first = contacts[0] if contacts else None
        return first if isinstance(first, dict) else None

    def create(
        self,
        email: str | None = None,
        *,
        create_source: str,
        permission_to_send: str | None = None,
        first_name: str | None = None,
        last_name: str | None = None,
        job_title: str | None = None,
        company_name: str | None = None,
        birthday_month: int | None = None,
        birthday_day: int | None = None,
        anniversary: str | None = None,
        list_ids: Sequence[str] | None = None,
        tag_ids: Sequence[str] | None = None,
        custom_fields: Mapping[str, str] | None = None,
        phone_numbers: Sequence[PhoneNumber | Mapping[str, Any]] | None = None,
        street_addresses: Sequence[StreetAddress | Mapping[str, Any]] | None = None,
    ) -> Contact:
        """Create a contact; ``ConflictError`` if the email is taken (even by a deleted one).

        ``create_source`` is ``"Account"`` when your organisation adds the contact and
        ``"Contact"`` when the person did it themselves.
        """
        body = create_body(
            email,
            create_source=create_source,
            permission_to_send=permission_to_send,
            first_name=first_name,
            last_name=last_name,
            job_title=job_title,
            company_name=company_name,
            birthday_month=birthday_month,
            birthday_day=birthday_day,
            anniversary=anniversary,
            list_ids=list_ids,
            tag_ids=tag_ids,
            custom_fields=custom_fields,
            phone_numbers=phone_numbers,
            street_addresses=street_addresses,
        )
        return _contact(self.create_contact(body=body), "POST /contacts")

    def update(self, contact: Contact, *, update_source: str) -> Contact:
        """Make CC's contact equal to ``contact`` (typically one from ``get``, then changed).

        CC clears top-level properties a PUT leaves out, so what is ``None`` on the model
        ends up empty; sub-resources the model does not hold (not fetched with
        ``include``) are left as they are. Updating a deleted contact restores it (CC wants
        ``update_source="Account"`` for that).
        """
        contact_id, body = _update_body(contact, update_source)
        return _contact(self.put_contact(contact_id, body=body), "PUT /contacts/{contact_id}")

    def delete(self, contact_id: str) -> None:
        """Delete a contact (it can be restored later; an unsubscribed one cannot re-join)."""
        self.delete_contact(check_id("contact_id", contact_id))

    def sign_up(
        self,
        email: str,
        list_ids: Sequence[str],
        *,
        first_name: str | None = None,
        last_name: str | None = None,
        job_title: str | None = None,
        company_name: str | None = None,
        phone_number: str | None = None,
        anniversary: str | None = None,
        birthday_month: int | None = None,
        birthday_day: int | None = None,
        custom_fields: Mapping[str, str] | None = None,
        street_address: StreetAddress | Mapping[str, Any] | None = None,
    ) -> SignUpResult:
        """Create or update a contact from a sign-up form, adding it to ``list_ids``.

        Only for a person who signed up themselves: CC records explicit consent from the
        contact and does so even for a contact who had unsubscribed (CC-V3-FACTS §8).
        Updates are partial: lists and custom fields are added, nothing is removed.
        """
        body = sign_up_body(
            email,
            list_ids,
            first_name=first_name,
            last_name=last_name,
            job_title=job_title,
            company_name=company_name,
            phone_number=phone_number,
            anniversary=anniversary,
            birthday_month=birthday_month,
            birthday_day=birthday_day,
            custom_fields=custom_fields,
            street_address=street_address,
        )
        return _sign_up_result(self.create_or_update_contact(body=body))

    def counts(self, *, include_new_subscribers: bool = False) -> ContactsCounts:
        """Contacts by permission (and those who joined in the last 30 days, when asked)."""
        data = self.count_contact(include="new_subscriber" if include_new_subscribers else None)
        return ContactsCounts.parse(data, source="GET /contacts/counts")


class AsyncContacts(AsyncContactsOperations):
    """Async operations on contacts (the twins of ``Contacts``)."""

    async def list(
        self,
        *,
        status: str | Sequence[str] | None = None,
        email: str | None = None,
        lists: Sequence[str] | None = None,
        tags: Sequence[str] | None = None,
        updated_after: DateLike | None = None,
        updated_before: DateLike | None = None,
        created_after: DateLike | None = None,
        created_before: DateLike | None = None,
        include: str | Sequence[str] | None = None,
        include_count: bool | None = None,
        limit: int | None = None,
    ) -> ContactsPage:
        """One page of contacts; see ``Contacts.list``."""
        query = contacts_query(
            status=status,
            email=email,
            lists=lists,
            tags=tags,
            updated_after=updated_after,
            updated_before=updated_before,
            created_after=created_after,
            created_before=created_before,
            include=include,
            include_count=include_count,
            limit=limit,
        )
        return ContactsPage.parse(
            await self._client._operation("getContacts", query=query), source="GET /contacts"
        )

    def iter(
        self,
        *,
        status: str | Sequence[str] | None = None,
        email: str | None = None,
        lists: Sequence[str] | None = None,
        tags: Sequence[str] | None = None,
        updated_after: DateLike | None = None,
        updated_before: DateLike | None = None,
        created_after: DateLike | None = None,
        created_before: DateLike | None = None,
        include: str | Sequence[str] | None = None,
        limit: int | None = None,
    ) -> AsyncPaginator[Contact]:
        """Every matching contact, page after page; ``async for contact in …``."""
        query = contacts_query(
            status=status,
            email=email,
            lists=lists,
            tags=tags,
            updated_after=updated_after,
            updated_before=updated_before,
            created_after=created_after,
            created_before=created_before,
            include=include,
            include_count=None,
            limit=limit,
        )
        return self._client._paginate_operation(
            "getContacts", items_key="contacts", query=query, parse_item=_parse_listed_contact
        )

    async def get(self, contact_id: str, *, include: str | Sequence[str] | None = None) -> Contact:
        """One contact (deleted ones too); ``NotFoundError`` when there is none."""
        data = await self._client._operation(
            "getContact",
            path_params={"contact_id": check_id("contact_id", contact_id)},
            query={"include": _csv("include", include, INCLUDES)},
        )
        return _contact(data, "GET /contacts/{contact_id}")

    async def find(
        self, email: str, *, include: str | Sequence[str] | None = None
    ) -> Contact | None:
        """The contact with this email, deleted or not, or None."""
        data = await self._client._operation(
            "getContacts",
            query={
                "email": check_email("email", email, EMAIL_MAX),
                "status": "all",
                "include": _csv("include", include, INCLUDES),
            },
        )
        return _first_contact(data)

    async def find_by_email(
        self, email: str, *, include: str | None = None
    ) -> dict[str, Any] | None:
        """Like ``find``, but CC's JSON as-is (kept for code written against it)."""
        page = await self.get_contacts(
            email=check_email("email", email, EMAIL_MAX), status="all", include=include
        )
        contacts = page.get("contacts") if isinstance(page, dict) else None
        if not isinstance(contacts, builtins.list):
            raise ResponseParseError(
                "GET /contacts answered without a 'contacts' list", body=repr(page)[:500].encode()
            )
        first = contacts[0] if contacts else None
        return first if isinstance(first, dict) else None

    async def create(
        self,
        email: str | None = None,
        *,
        create_source: str,
        permission_to_send: str | None = None,
        first_name: str | None = None,
        last_name: str | None = None,
        job_title: str | None = None,
        company_name: str | None = None,
        birthday_month: int | None = None,
        birthday_day: int | None = None,
        anniversary: str | None = None,
        list_ids: Sequence[str] | None = None,
        tag_ids: Sequence[str] | None = None,
        custom_fields: Mapping[str, str] | None = None,
        phone_numbers: Sequence[PhoneNumber | Mapping[str, Any]] | None = None,
        street_addresses: Sequence[StreetAddress | Mapping[str, Any]] | None = None,
    ) -> Contact:
        """Create a contact; see ``Contacts.create``."""
        body = create_body(
            email,
            create_source=create_source,
            permission_to_send=permission_to_send,
            first_name=first_name,
            last_name=last_name,
            job_title=job_title,
            company_name=company_name,
            birthday_month=birthday_month,
            birthday_day=birthday_day,
            anniversary=anniversary,
            list_ids=list_ids,
            tag_ids=tag_ids,
            custom_fields=custom_fields,
            phone_numbers=phone_numbers,
            street_addresses=street_addresses,
        )
        return _contact(await self.create_contact(body=body), "POST /contacts")

    async def update(self, contact: Contact, *, update_source: str) -> Contact:
        """Make CC's contact equal to ``contact``; see ``Contacts.update``."""
        contact_id, body = _update_body(contact, update_source)
        return _contact(await self.put_contact(contact_id, body=body), "PUT /contacts/{contact_id}")

    async def delete(self, contact_id: str) -> None:
        """Delete a contact."""
        await self.delete_contact(check_id("contact_id", contact_id))

    async def sign_up(
        self,
        email: str,
        list_ids: Sequence[str],
        *,
        first_name: str | None = None,
        last_name: str | None = None,
        job_title: str | None = None,
        company_name: str | None = None,
        phone_number: str | None = None,
        anniversary: str | None = None,
        birthday_month: int | None = None,
        birthday_day: int | None = None,
        custom_fields: Mapping[str, str] | None = None,
        street_address: StreetAddress | Mapping[str, Any] | None = None,
    ) -> SignUpResult:
        """Create or update a contact from a sign-up form; see ``Contacts.sign_up``."""
        body = sign_up_body(
            email,
            list_ids,
            first_name=first_name,
            last_name=last_name,
            job_title=job_title,
            company_name=company_name,
            phone_number=phone_number,
            anniversary=anniversary,
            birthday_month=birthday_month,
            birthday_day=birthday_day,
            custom_fields=custom_fields,
            street_address=street_address,
        )
        return _sign_up_result(await self.create_or_update_contact(body=body))

    async def counts(self, *, include_new_subscribers: bool = False) -> ContactsCounts:
        """Contacts by permission."""
        data = await self.count_contact(
            include="new_subscriber" if include_new_subscribers else None
        )
        return ContactsCounts.parse(data, source="GET /contacts/counts")


__all__ = ["AsyncContacts", "Contacts"]
