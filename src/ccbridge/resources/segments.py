"""``client.segments``: segments (``/segments``), typed.

Segment ids are integers, not UUIDs. ``segment_criteria`` is a JSON document sent as a
string; the methods here accept either the string or the decoded object.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ccbridge._errors import InvalidArgumentError
from ccbridge._pagination import AsyncPaginator, Paginator
from ccbridge.models.segments import Segment
from ccbridge.resources._checks import check_int, check_int_range, check_text, one_of
from ccbridge.resources._generated import AsyncSegmentsOperations, SegmentsOperations

CRITERIA_MAX = 20_000
MAX_PAGE = 1000
SORT_FIELDS = ("date", "name")

Criteria = str | Mapping[str, Any]


def _criteria(value: Criteria) -> str:
    if isinstance(value, Mapping):
        value = json.dumps(value, separators=(",", ":"))
    text = check_text("segment_criteria", value, CRITERIA_MAX, min_length=1)
    try:
        json.loads(text)
    except ValueError:
        raise InvalidArgumentError("segment_criteria must be a JSON document") from None
    return text


def _body(name: str, criteria: Criteria) -> dict[str, Any]:
    return {
        "name": check_text("name", name, 255, min_length=1),
        "segment_criteria": _criteria(criteria),
    }


def _query(sort_by: str | None, limit: int | None) -> dict[str, Any]:
    return {
        "sort_by": one_of("sort_by", sort_by, SORT_FIELDS) if sort_by is not None else None,
        "limit": str(check_int_range("limit", limit, 1, MAX_PAGE)) if limit is not None else None,
    }


def _parse_segment(data: Any) -> Segment:
    return Segment.parse(data, source="GET /segments")


class Segments(SegmentsOperations):
    """Sync operations on segments."""

    def iter(self, *, sort_by: str | None = None, limit: int | None = None) -> Paginator[Segment]:
        """Every segment (without criteria; ``get`` one for those)."""
        return self._client._paginate_operation(
            "getAccountSegments",
            items_key="segments",
            query=_query(sort_by, limit),
            parse_item=_parse_segment,
        )

    def get(self, segment_id: int) -> Segment:
        data = self.get_segment_detail(check_int("segment_id", segment_id))
        return Segment.parse(data, source="GET /segments/{segment_id}")

    def create(self, name: str, segment_criteria: Criteria) -> Segment:
        return Segment.parse(
            self.create_segment(body=_body(name, segment_criteria)), source="POST /segments"
        )

    def update(self, segment_id: int, *, name: str, segment_criteria: Criteria) -> Segment:
        """Replace the name and the criteria (CC wants both, even if one is unchanged)."""
        data = self.update_segment(
            check_int("segment_id", segment_id), body=_body(name, segment_criteria)
        )
        return Segment.parse(data, source="PUT /segments/{segment_id}")

    def rename(self, segment_id: int, name: str) -> Segment:
        data = self.update_segment_name(
            check_int("segment_id", segment_id),
            body={"name": check_text("name", name, 255, min_length=1)},
        )
        return Segment.parse(data, source="PATCH /segments/{segment_id}/name")

    def delete(self, segment_id: int) -> None:
        self.delete_segment(check_int("segment_id", segment_id))


class AsyncSegments(AsyncSegmentsOperations):
    """Async operations on segments (the twins of ``Segments``)."""

    def iter(
        self, *, sort_by: str | None = None, limit: int | None = None
    ) -> AsyncPaginator[Segment]:
        """Every segment (without criteria)."""
        return self._client._paginate_operation(
            "getAccountSegments",
            items_key="segments",
            query=_query(sort_by, limit),
            parse_item=_parse_segment,
        )

    async def get(self, segment_id: int) -> Segment:
        data = await self.get_segment_detail(check_int("segment_id", segment_id))
        return Segment.parse(data, source="GET /segments/{segment_id}")

    async def create(self, name: str, segment_criteria: Criteria) -> Segment:
        return Segment.parse(
            await self.create_segment(body=_body(name, segment_criteria)), source="POST /segments"
        )

    async def update(self, segment_id: int, *, name: str, segment_criteria: Criteria) -> Segment:
        """Replace the name and the criteria."""
        data = await self.update_segment(
            check_int("segment_id", segment_id), body=_body(name, segment_criteria)
        )
        return Segment.parse(data, source="PUT /segments/{segment_id}")

    async def rename(self, segment_id: int, name: str) -> Segment:
        data = await self.update_segment_name(
            check_int("segment_id", segment_id),
            body={"name": check_text("name", name, 255, min_length=1)},
        )
        return Segment.parse(data, source="PATCH /segments/{segment_id}/name")

    async def delete(self, segment_id: int) -> None:
        await self.delete_segment(check_int("segment_id", segment_id))
