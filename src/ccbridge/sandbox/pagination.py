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
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TypeVar
from urllib.parse import parse_qsl, urlencode

from ccbridge.sandbox.errors import CCError
from ccbridge.sandbox.http import SandboxRequest

T = TypeVar("T")


QueryLike = Mapping[str, str] | Sequence[tuple[str, str]]
"""A query as a dict, or as (name, value) pairs when a parameter may repeat."""


def _pairs(query: QueryLike) -> list[tuple[str, str]]:
    return list(query.items()) if isinstance(query, Mapping) else list(query)


def encode_cursor(query: QueryLike, next_position: int) -> str:
    pairs = [(k, v) for k, v in _pairs(query) if k not in ("cursor", "next")]
    payload = urlencode([*pairs, ("next", str(next_position))])
    return base64.urlsafe_b64encode(payload.encode("utf-8")).decode("ascii").rstrip("=")


def _decode_pairs(area: str, cursor: str) -> tuple[list[tuple[str, str]], int]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        text = base64.urlsafe_b64decode(padded.encode("ascii")).decode("utf-8")
        pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=True)
        positions = [v for k, v in pairs if k == "next"]
        position = int(positions[-1])
    except (ValueError, IndexError, UnicodeError):
        raise CCError.bad_request(area, "cursor is not a valid pagination cursor.") from None
    if position < 0:
        raise CCError.bad_request(area, "cursor is not a valid pagination cursor.")
    return [(k, v) for k, v in pairs if k != "next"], position


def decode_cursor(area: str, cursor: str) -> tuple[dict[str, str], int]:
    """The query a cursor encodes (first value of each name) and its start position."""
    pairs, position = _decode_pairs(area, cursor)
    query: dict[str, str] = {}
    for key, value in pairs:
        query.setdefault(key, value)
    return query, position


def effective_query(req: SandboxRequest, area: str) -> tuple[SandboxRequest, int]:
    """The request to answer and the start position: a cursor replaces the query it encodes."""
    cursor = req.q("cursor")
    if not cursor:
        return req, 0
    pairs, position = _decode_pairs(area, cursor)
    # An explicit limit next to a cursor wins, as CC clients sometimes send both.
    limit = req.q("limit")
    if limit:
        pairs = [(k, v) for k, v in pairs if k != "limit"] + [("limit", limit)]
    replay = SandboxRequest(
        method=req.method,
        path=req.path,
        query=pairs,
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
    path: str, query: QueryLike, next_position: int | None
) -> dict[str, dict[str, str]] | None:
    """The ``_links`` block for a page, or None on the last page.

    Pass ``req.query`` (pairs) rather than ``req.query_dict()`` when a filter may repeat.
    """
    if next_position is None:
        return None
    return {"next": {"href": f"{path}?cursor={encode_cursor(query, next_position)}"}}


def count(items: Iterable[T], keep: Callable[[T], bool] | None = None) -> int:
    return sum(1 for item in items if keep is None or keep(item))


# -- keyset cursors ------------------------------------------------------------------
# Position cursors skip an item when an earlier one is hard-deleted between two pages
# (tags and custom fields are removed, not flagged), and repeat or skip items when the sort
# field changes (segments sorted by edit date). These cursors carry the sort key of the last
# item served instead, so the next page starts right after it whatever happened meanwhile.
# CC's own tag cursor works this way: it decodes to ``limit=…&next=<tag id>``.


def effective_keyset_query(req: SandboxRequest, area: str) -> tuple[SandboxRequest, str | None]:
    """The request to answer and the sort key to resume after (None on the first page)."""
    cursor = req.q("cursor")
    if not cursor:
        return req, None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        text = base64.urlsafe_b64decode(padded.encode("ascii")).decode("utf-8")
        query = dict(parse_qsl(text, keep_blank_values=True))
    except (ValueError, UnicodeError):
        raise CCError.bad_request(area, "cursor is not a valid pagination cursor.") from None
    after = query.pop("after", "")
    if not after:
        raise CCError.bad_request(area, "cursor is not a valid pagination cursor.")
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
    return replay, after


def keyset_page(
    items: Iterable[T],
    key: Callable[[T], str],
    after: str | None,
    limit: int,
    keep: Callable[[T], bool] | None = None,
) -> tuple[list[T], str | None]:
    """Up to ``limit`` items (given sorted ascending by ``key``) whose key is above ``after``
    and that pass ``keep``; and the key to resume after when more such items exist."""
    page: list[T] = []
    for item in items:
        if after is not None and key(item) <= after:
            continue
        if keep is not None and not keep(item):
            continue
        if len(page) == limit:
            return page, key(page[-1])
        page.append(item)
    return page, None


def keyset_links(
    path: str, query: dict[str, str], after: str | None
) -> dict[str, dict[str, str]] | None:
    """The ``_links`` block for a keyset page, or None on the last page."""
    if after is None:
        return None
    clean = {k: v for k, v in query.items() if k != "cursor"}
    payload = urlencode({**clean, "after": after})
    token = base64.urlsafe_b64encode(payload.encode("utf-8")).decode("ascii").rstrip("=")
    return {"next": {"href": f"{path}?cursor={token}"}}
