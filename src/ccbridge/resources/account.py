"""``client.account``: the account's summary, physical address, emails and user privileges
(``/account``), with typed reads.

Campaigns may be sent only from the account's CONFIRMED email addresses, which
``emails(confirm_status="CONFIRMED")`` lists.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ccbridge._errors import InvalidArgumentError
from ccbridge.models.account import AccountEmail, AccountPhysicalAddress, AccountSummary
from ccbridge.resources._checks import one_of
from ccbridge.resources._generated import AccountServicesOperations, AsyncAccountServicesOperations

EXTRA_FIELDS = ("physical_address", "company_logo")
CONFIRM_STATUSES = ("CONFIRMED", "UNCONFIRMED")


def _extra(extra_fields: Sequence[str] | None) -> str | None:
    if extra_fields is None:
        return None
    if isinstance(extra_fields, str):
        raise InvalidArgumentError("extra_fields must be a list, e.g. ['physical_address']")
    for name in extra_fields:
        one_of("extra_fields", name, EXTRA_FIELDS)
    return ",".join(extra_fields) or None


def _status(confirm_status: str | None) -> str | None:
    return one_of("confirm_status", confirm_status, CONFIRM_STATUSES) if confirm_status else None


def _emails(data: Any) -> list[AccountEmail]:
    return AccountEmail.parse_list(data, source="GET /account/emails")


class Account(AccountServicesOperations):
    """Sync operations on the account."""

    def summary(self, *, extra_fields: Sequence[str] | None = None) -> AccountSummary:
        """The account's organisation and owner details (``extra_fields``: physical_address,
        company_logo)."""
        data = self.get_account_by_id(extra_fields=_extra(extra_fields))
        return AccountSummary.parse(data, source="GET /account/summary")

    def physical_address(self) -> AccountPhysicalAddress:
        data = self.get_physical_address()
        return AccountPhysicalAddress.parse(data, source="GET /account/summary/physical_address")

    def emails(self, *, confirm_status: str | None = None) -> list[AccountEmail]:
        """The account's email addresses (``confirm_status``: CONFIRMED or UNCONFIRMED)."""
        return _emails(self.retrieve_email_addresses(confirm_status=_status(confirm_status)))


class AsyncAccount(AsyncAccountServicesOperations):
    """Async operations on the account (the twins of ``Account``)."""

    async def summary(self, *, extra_fields: Sequence[str] | None = None) -> AccountSummary:
        """The account's organisation and owner details."""
        data = await self.get_account_by_id(extra_fields=_extra(extra_fields))
        return AccountSummary.parse(data, source="GET /account/summary")

    async def physical_address(self) -> AccountPhysicalAddress:
        data = await self.get_physical_address()
        return AccountPhysicalAddress.parse(data, source="GET /account/summary/physical_address")

    async def emails(self, *, confirm_status: str | None = None) -> list[AccountEmail]:
        """The account's email addresses."""
        return _emails(await self.retrieve_email_addresses(confirm_status=_status(confirm_status)))
