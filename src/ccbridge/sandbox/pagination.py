"""CC-style cursor pagination.

CC returns ``_links.next.href`` as a relative URL (``/v3/contacts?cursor=…``) whose cursor
is opaque base64 of the query that produced the page plus where the next page starts
(CC-V3-FACTS §2). The sandbox does the same: a request carrying ``cursor`` is answered from
the query stored inside it, so filters survive across pages and the href carries nothing
else. Collections are walked by position in a stable order, so a page costs O(limit) for
unfiltered lists, not O(collection).
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterable, Sequence
from typing import TypeVar
from urllib.parse import parse_qsl, urlencode

from ccbridge.sandbox.errors import CCError
from ccbridge.sandbox.http import SandboxRequest

T = TypeVar("T")


def encode_cursor(query: dict[str, str], next_position: int) -> str:
    payload = urlencode({**query, "next": str(next_position)})
    return base64.urlsafe_b64encode(payload.encode("utf-8")).decode("ascii").rstrip("=")


def decode_cursor(area: str, cursor: str) -> tuple[dict[str, str], int]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        text = base64.urlsafe_b64decode(padded.encode("ascii")).decode("utf-8")
        query = dict(parse_qsl(text, keep_blank_values=True))
        position = int(query.pop("next"))
    except (ValueError, KeyError, UnicodeError):
        raise CCError.bad_request(area, "cursor is not a valid pagination cursor.") from None
    if position < 0:
        raise CCError.bad_request(area, "cursor is not a valid pagination cursor.")
    return query, position


def effective_query(req: SandboxRequest, area: str) -> tuple[SandboxRequest, int]:
    """The request to answer and the start position: a cursor replaces the query it encodes."""
    cursor = req.q("cursor")
    if not cursor:
        return req, 0
    query, position = decode_cursor(area, cursor)
    # An explicit limit next to a cursor wins, as CC clients sometimes send both.
    if req.q("limit"):
        query["limit"] = req.q("limit") or ""
    replay = SandboxRequest(
        method=req.method,
        path=req.path,
        query=list(query.items()),
        headers=req.headers,
        body=req.body,
        client_host=req.client_host,
    )
    return replay, position


def take_page(
    items: Sequence[T], start: int, limit: int, keep: Callable[[T], bool] | None = None
) -> tuple[list[T], int | None]:
    """Up to ``limit`` items from ``start`` that pass ``keep``; and the next start, if any."""
    page: list[T] = []
    position = start
    total = len(items)
    while position < total:
        item = items[position]
        position += 1
        if keep is None or keep(item):
            page.append(item)
            if len(page) == limit:
                # Only promise a next page if one more matching item exists.
                probe = position
                while probe < total:
                    if keep is None or keep(items[probe]):
                        return page, position
                    probe += 1
                return page, None
    return page, None


def next_links(
    path: str, query: dict[str, str], next_position: int | None
) -> dict[str, dict[str, str]] | None:
    """The ``_links`` block for a page, or None on the last page."""
    if next_position is None:
        return None
    clean = {k: v for k, v in query.items() if k != "cursor"}
    return {"next": {"href": f"{path}?cursor={encode_cursor(clean, next_position)}"}}


def count(items: Iterable[T], keep: Callable[[T], bool] | None = None) -> int:
    return sum(1 for item in items if keep is None or keep(item))
