"""The account (``/account``): its summary, physical address and email addresses."""

from __future__ import annotations

from datetime import datetime

from ccbridge.models._base import CCModel


class AccountPhysicalAddress(CCModel):
    """The organization's postal address."""

    address_line1: str | None = None
    address_line2: str | None = None
    address_line3: str | None = None
    city: str | None = None
    state_code: str | None = None
    state_name: str | None = None
    postal_code: str | None = None
    country_code: str | None = None


class CompanyLogo(CCModel):
    url: str | None = None
    external_url: str | None = None
    internal_id: str | None = None


class AccountSummary(CCModel):
    """``GET /account/summary``; ``physical_address``/``company_logo`` only when asked for."""

    encoded_account_id: str | None = None
    encoded_partner_id: str | None = None
    organization_name: str | None = None
    organization_phone: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    contact_email: str | None = None
    contact_phone: str | None = None
    country_code: str | None = None
    state_code: str | None = None
    time_zone_id: str | None = None
    website: str | None = None
    physical_address: AccountPhysicalAddress | None = None
    company_logo: CompanyLogo | None = None


class AccountEmail(CCModel):
    """An email address of the account; only ``CONFIRMED`` ones may send campaigns."""

    email_address: str
    email_id: int | None = None
    confirm_status: str | None = None
    confirm_time: datetime | None = None
    confirm_source_type: str | None = None
    roles: list[str] | None = None
    pending_roles: list[str] | None = None

    @property
    def confirmed(self) -> bool:
        return self.confirm_status == "CONFIRMED"
