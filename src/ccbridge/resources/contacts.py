"""``client.contacts``: contacts (``/contacts``), plus hand-written conveniences.

The operations themselves are generated from CC's operation table (``_generated.py``);
this module is where additions for the group live, so regenerating never overwrites them.
"""

from __future__ import annotations

from typing import Any

from ccbridge._errors import InvalidArgumentError, ResponseParseError
from ccbridge.resources._generated import AsyncContactsOperations, ContactsOperations


def _check_email(email: Any) -> str:
    if not isinstance(email, str) or "@" not in email.strip():
        raise InvalidArgumentError(f"email must be an email address, not {email!r}")
    return email.strip()


def _only_contact(page: Any) -> dict[str, Any] | None:
    contacts = page.get("contacts") if isinstance(page, dict) else None
    if not isinstance(contacts, list):
        raise ResponseParseError(
            "GET /contacts answered without a 'contacts' list", body=repr(page)[:500].encode()
        )
    first = contacts[0] if contacts else None
    return first if isinstance(first, dict) else None


class Contacts(ContactsOperations):
    """Sync operations on contacts."""

    def find_by_email(self, email: str, *, include: str | None = None) -> dict[str, Any] | None:
        """The contact with this email address in any status (deleted ones too), or None.

        CC answers an unknown email with an empty list rather than 404 (CC-V3-FACTS §11.7),
        and hides deleted contacts unless asked for ``status=all``.
        """
        page = self.get_contacts(email=_check_email(email), status="all", include=include)
        return _only_contact(page)


class AsyncContacts(AsyncContactsOperations):
    """Async operations on contacts."""

    async def find_by_email(
        self, email: str, *, include: str | None = None
    ) -> dict[str, Any] | None:
        """The contact with this email address in any status (deleted ones too), or None."""
        page = await self.get_contacts(email=_check_email(email), status="all", include=include)
        return _only_contact(page)
