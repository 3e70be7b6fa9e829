"""Contact custom fields (``/contact_custom_fields``)."""

from __future__ import annotations

from datetime import datetime

from ccbridge.models._base import CCModel, LenientDate


class CustomFieldChoice(CCModel):
    """One choice of a single- or multi-select custom field (``choice_id`` is an integer)."""

    choice_id: int | None = None
    choice_label: str | None = None
    display_order: int | None = None
    custom_field_id: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    deleted_at: LenientDate | None = None


class CustomFieldMetadata(CCModel):
    """How a custom field is shown and checked (display type, decimals, currency, …)."""

    display_type: str | None = None
    allow_negative: bool | None = None
    decimal_places: int | None = None
    currency_code: str | None = None
    integer: bool | None = None
    display_format: str | None = None


class CustomField(CCModel):
    """A custom field of the account (at most 100). ``name`` is derived by CC from ``label``."""

    label: str
    type: str
    custom_field_id: str | None = None
    name: str | None = None
    metadata: CustomFieldMetadata | None = None
    version: int | None = None
    choices: list[CustomFieldChoice] | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
