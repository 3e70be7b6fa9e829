"""Sandbox emulation of CC's Account Services operations (``/account/...``).

Integrations read the account summary and physical address (the address is printed in
every email footer) and, above all, the account's email addresses: only CONFIRMED ones may
be used as a campaign's ``from_email``/``reply_to_email`` (CC-V3-FACTS §6). A new address
starts UNCONFIRMED, as on CC, where the owner must click the link CC mails to it; the
sandbox offers ``confirm_account_email`` for the control plane and tests to play that part.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ccbridge.sandbox.clock import iso
from ccbridge.sandbox.errors import CCError
from ccbridge.sandbox.http import json_response
from ccbridge.sandbox.params import (
    EMAIL_RE,
    enum_csv_param,
    reject_unknown,
    require_object,
    string_field,
)
from ccbridge.sandbox.routing import Context, RouteTable
from ccbridge.sandbox.state import Account, AccountData, AccountEmail

routes = RouteTable()

AREA = "account"
MAX_EMAIL = 80
MAX_PHONE = 25
MAX_ADDRESS_LINE = 80
STATE_COUNTRIES = ("US", "CA")
_TWO_LETTERS = re.compile(r"^[A-Za-z]{2}$")

SUMMARY_FIELDS = (
    "contact_email",
    "contact_phone",
    "country_code",
    "first_name",
    "last_name",
    "organization_name",
    "organization_phone",
    "state_code",
    "time_zone_id",
    "website",
)
ADDRESS_FIELDS = (
    "address_line1",
    "address_line2",
    "address_line3",
    "city",
    "state_code",
    "state_name",
    "postal_code",
    "country_code",
)
CONFIRM_STATUS = {"CONFIRMED": "CONFIRMED", "C": "CONFIRMED", "UNCONFIRMED": "UNCONFIRMED"}
CONFIRM_STATUS["U"] = "UNCONFIRMED"
ROLE_CODES = {"C": "CONTACT", "B": "BILLING", "J": "JOURNALING", "R": "REPLY_TO", "O": "OTHER"}
ROLE_CODES.update({name: name for name in ROLE_CODES.values()})

OWNER_PRIVILEGES = (
    "account:read",
    "account:update",
    "campaign:read",
    "campaign:write",
    "campaign:send",
    "campaign:delete",
    "contacts:read",
    "contacts:write",
    "contacts:lists:read",
    "contacts:lists:write",
    "customer-journey:read",
    "customer-journey:create",
    "customer-journey:update",
    "ui:campaign:metrics",
)
"""Every privilege CC's operations name: the account owner holds them all."""


# -- summary ----------------------------------------------------------------------------
def summary_json(account: Account) -> dict[str, Any]:
    """CC's CustomerPut view of the account; empty values are left out."""
    values = {
        "contact_email": account.contact_email or account.login_email,
        "contact_phone": account.phone,
        "country_code": account.country_code,
        "encoded_account_id": account.account_id,
        "first_name": account.first_name,
        "last_name": account.last_name,
        "organization_name": account.organization_name,
        "organization_phone": account.organization_phone,
        "state_code": account.state_code,
        "time_zone_id": account.time_zone_id,
        "website": account.website,
    }
    return {key: value for key, value in values.items() if value}


@routes.operation("getAccountById")
def get_summary(ctx: Context) -> Any:
    account = ctx.account.account
    extra = enum_csv_param(ctx.request, AREA, "extra_fields", ("physical_address", "company_logo"))
    body = summary_json(account)
    if "physical_address" in extra and account.physical_address:
        body["physical_address"] = dict(account.physical_address)
    if "company_logo" in extra and account.company_logo:
        body["company_logo"] = dict(account.company_logo)
    return body


@routes.operation("putCustomerById")
def put_summary(ctx: Context) -> Any:
    data = ctx.account
    body = require_object(AREA, ctx.request.json(area=AREA))
    # encoded_account_id is read-only: clients may send back what they read, and CC ignores it.
    reject_unknown(AREA, body, {*SUMMARY_FIELDS, "encoded_account_id"})
    changes: dict[str, str] = {}
    for name in SUMMARY_FIELDS:
        value = string_field(
            AREA, body, name, max_length=MAX_PHONE if name == "contact_phone" else None
        )
        if value is not None:
            changes[name] = value.strip()
    _check_summary_changes(data, changes)
    _apply_summary_changes(data.account, changes)
    return summary_json(data.account)


def _check_summary_changes(data: AccountData, changes: dict[str, str]) -> None:
    account = data.account
    email = changes.get("contact_email")
    if email is not None and email.lower() not in data.confirmed_emails():
        raise CCError.bad_request(
            AREA, f"contact_email '{email}' is not a confirmed email address of this account."
        )
    for name in ("country_code", "state_code"):
        value = changes.get(name)
        if value is not None and value and not _TWO_LETTERS.match(value):
            raise CCError.bad_request(AREA, f"{name} must be a two-letter ISO code; got '{value}'.")
    country = changes.get("country_code", account.country_code).upper()
    if country == "US" and not changes.get("state_code", account.state_code):
        raise CCError.bad_request(AREA, "state_code is required when country_code is US.")
    zone = changes.get("time_zone_id")
    if zone is not None:
        try:
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError, OSError):
            raise CCError.bad_request(
                AREA, f"time_zone_id '{zone}' is not an IANA time zone (e.g. US/Eastern)."
            ) from None
    for name in ("first_name", "last_name", "organization_name"):
        if changes.get(name) == "":
            raise CCError.bad_request(AREA, f"{name} must not be empty.")


def _apply_summary_changes(account: Account, changes: dict[str, str]) -> None:
    attribute = {"contact_phone": "phone"}
    for name, value in changes.items():
        if name in ("country_code", "state_code"):
            value = value.upper()
        setattr(account, attribute.get(name, name), value)


# -- physical address ---------------------------------------------------------------------
def _address_input(ctx: Context) -> dict[str, str]:
    """An AccountPhysicalAddress as CC wants it: state_code for US/CA, state_name elsewhere."""
    body = require_object(AREA, ctx.request.json(area=AREA))
    reject_unknown(AREA, body, set(ADDRESS_FIELDS))
    out: dict[str, str] = {}
    for name in ADDRESS_FIELDS:
        required = name in ("address_line1", "city", "country_code")
        limit = MAX_ADDRESS_LINE if name.startswith("address_line") else None
        value = string_field(AREA, body, name, required=required, max_length=limit)
        if value is not None:
            if not value.strip():
                raise CCError.bad_request(AREA, f"{name} must not be empty.")
            out[name] = value.strip()
    if not _TWO_LETTERS.match(out["country_code"]):
        raise CCError.bad_request(AREA, "country_code must be a two-letter ISO 3166-1 code.")
    out["country_code"] = country = out["country_code"].upper()
    if country in STATE_COUNTRIES:
        for name in ("state_code", "postal_code"):
            if name not in out:
                raise CCError.bad_request(
                    AREA, f"{name} is required when country_code is {country}."
                )
        if "state_name" in out:
            raise CCError.bad_request(
                AREA, "state_name is only for countries other than US and CA; use state_code."
            )
        if not _TWO_LETTERS.match(out["state_code"]):
            raise CCError.bad_request(AREA, "state_code must be a two-letter code.")
        out["state_code"] = out["state_code"].upper()
    elif "state_code" in out:
        raise CCError.bad_request(
            AREA, f"state_code is only for US and CA addresses; use state_name for {country}."
        )
    return out


@routes.operation("getPhysicalAddress")
def get_physical_address(ctx: Context) -> Any:
    address = ctx.account.account.physical_address
    if not address:
        raise CCError.not_found(AREA, "This account has no physical address yet.")
    return dict(address)


@routes.operation("addPhysicalAddress")
def add_physical_address(ctx: Context) -> Any:
    account = ctx.account.account
    address = _address_input(ctx)
    if account.physical_address:
        raise CCError.conflict(
            AREA, "This account already has a physical address; change it with PUT."
        )
    account.physical_address = address
    return json_response(dict(address), 201)


@routes.operation("putPhysicalAddress")
def put_physical_address(ctx: Context) -> Any:
    account = ctx.account.account
    # A PUT replaces the whole address: fields left out are removed, as CC documents.
    account.physical_address = _address_input(ctx)
    return dict(account.physical_address)


# -- account emails ---------------------------------------------------------------------
def account_email_json(email: AccountEmail) -> dict[str, Any]:
    body: dict[str, Any] = {
        "email_address": email.email_address,
        "email_id": email.email_id,
        "confirm_status": email.confirm_status,
        "roles": list(email.roles),
        "pending_roles": list(email.pending_roles),
    }
    if email.confirm_time is not None:
        body["confirm_time"] = iso(email.confirm_time)
    if email.confirm_source_type:
        body["confirm_source_type"] = email.confirm_source_type
    return body


@routes.operation("retrieveEmailAddresses")
def list_account_emails(ctx: Context) -> Any:
    account = ctx.account.account
    req = ctx.request
    filters = {
        name: req.q(name)
        for name in ("confirm_status", "role_code", "email_address")
        if req.q(name) not in (None, "")
    }
    if len(filters) > 1:
        raise CCError.bad_request(
            AREA,
            "Filter by one of confirm_status, role_code or email_address at a time; got "
            f"{', '.join(sorted(filters))}.",
        )
    emails = list(account.emails)
    if "confirm_status" in filters:
        status = CONFIRM_STATUS.get(str(filters["confirm_status"]).upper())
        if status is None:
            raise CCError.bad_request(
                AREA, "confirm_status must be CONFIRMED (C) or UNCONFIRMED (U)."
            )
        emails = [e for e in emails if e.confirm_status == status]
    if "role_code" in filters:
        role = ROLE_CODES.get(str(filters["role_code"]).upper())
        if role is None:
            raise CCError.bad_request(
                AREA, "role_code must be one of CONTACT, BILLING, JOURNALING, REPLY_TO or OTHER."
            )
        emails = [e for e in emails if role in e.roles]
    if "email_address" in filters:
        wanted = str(filters["email_address"]).strip().lower()
        emails = [e for e in emails if e.email_address.lower() == wanted]
    return [account_email_json(e) for e in emails]


@routes.operation("addAccountEmailAddress")
def add_account_email(ctx: Context) -> Any:
    account = ctx.account.account
    body = require_object(AREA, ctx.request.json(area=AREA))
    reject_unknown(AREA, body, {"email_address"})
    address = string_field(AREA, body, "email_address", required=True, max_length=MAX_EMAIL)
    assert address is not None
    address = address.strip()
    if not EMAIL_RE.match(address):
        raise CCError.bad_request(AREA, f"email_address '{address}' is not a valid email address.")
    if any(e.email_address.lower() == address.lower() for e in account.emails):
        raise CCError.conflict(AREA, f"'{address}' is already an email address of this account.")
    email = AccountEmail(
        email_id=max((e.email_id for e in account.emails), default=0) + 1,
        email_address=address,
        confirm_status="UNCONFIRMED",
    )
    account.emails.append(email)
    return json_response(
        {
            "email_address": email.email_address,
            "email_id": email.email_id,
            "confirm_status": email.confirm_status,
        },
        201,
    )


def confirm_account_email(data: AccountData, address: str, now: datetime) -> AccountEmail | None:
    """Do what clicking CC's confirmation link does; None when the address is not listed."""
    for email in data.account.emails:
        if email.email_address.lower() == address.strip().lower():
            if email.confirm_status != "CONFIRMED":
                email.confirm_status = "CONFIRMED"
                email.confirm_time = now
                email.confirm_source_type = "SITE_OWNER"
            return email
    return None


# -- privileges ---------------------------------------------------------------------------
@routes.operation("getUserPrivileges")
def user_privileges(ctx: Context) -> Any:
    return [
        {"privilege_id": number, "privilege_name": name}
        for number, name in enumerate(OWNER_PRIVILEGES, start=1)
    ]
