"""Splitting an import into requests CC will take whole.

CC takes at most 40,000 contacts and 4 MB per JSON import and silently drops what is past
either limit (CC-V3-FACTS §5, §11 fact 12). So the planner cuts a new request *before* a
row would cross either limit, measuring the body exactly as the client will send it
(compact JSON, ASCII-escaped: the same ``json.dumps`` settings the client core uses).

The byte limit defaults to 4,000,000 rather than 4 MiB: CC does not say which it means,
and the smaller reading can never be wrong.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

MAX_IMPORT_CONTACTS = 40_000
"""Contacts per JSON import, and lines (header included) per CSV import."""

MAX_IMPORT_BYTES = 4_000_000
"""Bytes per import request body (JSON) or file (CSV)."""


def compact_json(value: Any) -> str:
    """JSON exactly as the client core serialises a request body."""
    return json.dumps(value, separators=(",", ":"))


@dataclass
class PlannedImport:
    """One JSON import request: its rows, and which input item each row came from."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    indexes: list[int] = field(default_factory=list)
    emails: list[str | None] = field(default_factory=list)
    size: int = 0  # bytes of the request body

    def body(self, list_ids: Sequence[str], sms_permission: str | None) -> dict[str, Any]:
        return import_body(self.rows, list_ids, sms_permission)


@dataclass(frozen=True)
class OversizedRow:
    """A row whose JSON alone is past the byte limit: it can never be imported."""

    index: int
    email: str | None
    size: int


def import_body(
    rows: list[dict[str, Any]], list_ids: Sequence[str], sms_permission: str | None
) -> dict[str, Any]:
    body: dict[str, Any] = {"import_data": rows, "list_ids": list(list_ids)}
    if sms_permission is not None:
        body["sms_permission_to_send"] = sms_permission
    return body


def plan_json_imports(
    rows: Iterable[tuple[int, dict[str, Any], str | None]],
    list_ids: Sequence[str],
    sms_permission: str | None,
    *,
    max_contacts: int = MAX_IMPORT_CONTACTS,
    max_bytes: int = MAX_IMPORT_BYTES,
) -> Iterator[PlannedImport | OversizedRow]:
    """Group ``(index, row, email)`` into imports within both limits, in input order.

    The body is ``{"import_data":[r1,r2,…],"list_ids":[…]…}``: its size is the envelope
    with an empty ``import_data``, plus each row, plus a comma between rows.
    """
    envelope = len(compact_json(import_body([], list_ids, sms_permission)))
    current = PlannedImport(size=envelope)
    for index, row, email in rows:
        row_size = len(compact_json(row))
        added = row_size + (1 if current.rows else 0)
        if current.rows and (len(current.rows) >= max_contacts or current.size + added > max_bytes):
            yield current
            current = PlannedImport(size=envelope)
            added = row_size
        if envelope + row_size > max_bytes:
            yield OversizedRow(index=index, email=email, size=envelope + row_size)
            continue
        current.rows.append(row)
        current.indexes.append(index)
        current.emails.append(email)
        current.size += added
    if current.rows:
        yield current
