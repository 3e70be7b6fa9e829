"""``client.custom_fields``: contact custom fields (``/contact_custom_fields``), typed.

An account holds at most 100 custom fields. A PUT replaces ``label`` and ``choices``
(other properties cannot change after creation).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ccbridge._errors import InvalidArgumentError
from ccbridge._pagination import AsyncPaginator, Paginator
from ccbridge.models.custom_fields import CustomField, CustomFieldMetadata
from ccbridge.resources._checks import check_id, check_int_range, check_text
from ccbridge.resources._generated import (
    AsyncContactsCustomFieldsOperations,
    ContactsCustomFieldsOperations,
)

LABEL_MAX = 50
TYPE_MAX = 20
CHOICE_MAX = 255
MAX_CHOICES = 100
MAX_PAGE = 100

Choices = Sequence[str | Mapping[str, Any]]


def _choices(choices: Choices | None) -> list[dict[str, Any]] | None:
    """Choices as CC takes them: a plain label gets the next display position."""
    if choices is None:
        return None
    if isinstance(choices, (str, bytes)) or not isinstance(choices, Sequence):
        raise InvalidArgumentError("choices must be a list of labels or choice mappings")
    if len(choices) > MAX_CHOICES:
        raise InvalidArgumentError(f"choices has {len(choices)} items; CC takes {MAX_CHOICES}")
    out: list[dict[str, Any]] = []
    for position, choice in enumerate(choices):
        if isinstance(choice, str):
            label = check_text(f"choices[{position}]", choice, CHOICE_MAX, min_length=1)
            out.append({"choice_label": label, "display_order": position + 1})
        elif isinstance(choice, Mapping):
            out.append(dict(choice))
        else:
            raise InvalidArgumentError(f"choices[{position}] must be a label or a mapping")
    return out


def _create_body(
    label: str,
    type: str,
    choices: Choices | None,
    metadata: CustomFieldMetadata | Mapping[str, Any] | None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "label": check_text("label", label, LABEL_MAX, min_length=1),
        "type": check_text("type", type, TYPE_MAX, min_length=1),
    }
    parsed = _choices(choices)
    if parsed is not None:
        body["choices"] = parsed
    if metadata is not None:
        if isinstance(metadata, CustomFieldMetadata):
            body["metadata"] = metadata.to_api()
        elif isinstance(metadata, Mapping):
            body["metadata"] = dict(metadata)
        else:
            raise InvalidArgumentError("metadata must be a CustomFieldMetadata or a mapping")
    return body


def _put_body(label: str, choices: Choices | None) -> dict[str, Any]:
    body: dict[str, Any] = {"label": check_text("label", label, LABEL_MAX, min_length=1)}
    parsed = _choices(choices)
    if parsed is not None:
        body["choices"] = parsed
    return body


def _parse_field(data: Any) -> CustomField:
    return CustomField.parse(data, source="GET /contact_custom_fields")


def _limit(limit: int | None) -> int | None:
    return check_int_range("limit", limit, 1, MAX_PAGE) if limit is not None else None


class CustomFields(ContactsCustomFieldsOperations):
    """Sync operations on contact custom fields."""

    def iter(self, *, limit: int | None = None) -> Paginator[CustomField]:
        """Every custom field of the account (``limit``: page size, at most 100)."""
        return self._client._paginate_operation(
            "getCustomFields",
            items_key="custom_fields",
            query={"limit": _limit(limit)},
            parse_item=_parse_field,
        )

    def get(self, custom_field_id: str) -> CustomField:
        data = self.get_custom_field(check_id("custom_field_id", custom_field_id))
        return CustomField.parse(data, source="GET /contact_custom_fields/{custom_field_id}")

    def create(
        self,
        label: str,
        type: str,
        *,
        choices: Choices | None = None,
        metadata: CustomFieldMetadata | Mapping[str, Any] | None = None,
    ) -> CustomField:
        """Create a custom field (``type``: ``string``, ``date``, ``number``,
        ``single_select``, …; select types take ``choices``)."""
        data = self.post_custom_fields(body=_create_body(label, type, choices, metadata))
        return CustomField.parse(data, source="POST /contact_custom_fields")

    def update(
        self, custom_field_id: str, *, label: str, choices: Choices | None = None
    ) -> CustomField:
        """Replace the label (and the choices, when given)."""
        data = self.put_custom_field(
            check_id("custom_field_id", custom_field_id), body=_put_body(label, choices)
        )
        return CustomField.parse(data, source="PUT /contact_custom_fields/{custom_field_id}")

    def delete(self, custom_field_id: str) -> None:
        """Delete the custom field (and every contact's value for it)."""
        self.delete_custom_field(check_id("custom_field_id", custom_field_id))


class AsyncCustomFields(AsyncContactsCustomFieldsOperations):
    """Async operations on contact custom fields (the twins of ``CustomFields``)."""

    def iter(self, *, limit: int | None = None) -> AsyncPaginator[CustomField]:
        """Every custom field of the account."""
        return self._client._paginate_operation(
            "getCustomFields",
            items_key="custom_fields",
            query={"limit": _limit(limit)},
            parse_item=_parse_field,
        )

    async def get(self, custom_field_id: str) -> CustomField:
        data = await self.get_custom_field(check_id("custom_field_id", custom_field_id))
        return CustomField.parse(data, source="GET /contact_custom_fields/{custom_field_id}")

    async def create(
        self,
        label: str,
        type: str,
        *,
        choices: Choices | None = None,
        metadata: CustomFieldMetadata | Mapping[str, Any] | None = None,
    ) -> CustomField:
        """Create a custom field."""
        data = await self.post_custom_fields(body=_create_body(label, type, choices, metadata))
        return CustomField.parse(data, source="POST /contact_custom_fields")

    async def update(
        self, custom_field_id: str, *, label: str, choices: Choices | None = None
    ) -> CustomField:
        """Replace the label (and the choices, when given)."""
        data = await self.put_custom_field(
            check_id("custom_field_id", custom_field_id), body=_put_body(label, choices)
        )
        return CustomField.parse(data, source="PUT /contact_custom_fields/{custom_field_id}")

    async def delete(self, custom_field_id: str) -> None:
        """Delete the custom field."""
        await self.delete_custom_field(check_id("custom_field_id", custom_field_id))
