"""Lazy iteration over CC's cursor-paginated collections.

A CC collection page holds its items under one key (``contacts``, ``lists``, …) and, unless
it is the last page, ``_links.next.href``: a *relative* URL such as
``/v3/contacts?cursor=…`` whose opaque cursor encodes the original query, page size
included (CC-V3-FACTS §2). A paginator fetches the first page only when iteration starts
and each further page only when the previous one is used up. If CC ever hands back a link
it already gave, iterating would loop forever; the paginator raises ``PaginationError``
instead. Items can be turned into models on the way out with ``parse_item``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar
from urllib.parse import parse_qs, urlsplit

from ccbridge._errors import PaginationError, ResponseParseError

T = TypeVar("T")


@dataclass(frozen=True)
class Page:
    """One page of a collection: the parsed body, its items, and the next link if any."""

    data: Any
    items: list[Any] = field(default_factory=list)
    next_href: str | None = None


def next_href_of(data: Any) -> str | None:
    """``_links.next.href`` of a page body, or None on the last page."""
    if not isinstance(data, dict):
        return None
    links = data.get("_links")
    nxt = links.get("next") if isinstance(links, dict) else None
    href = nxt.get("href") if isinstance(nxt, dict) else None
    return href if isinstance(href, str) and href else None


def items_of(data: Any, items_key: str | None) -> list[Any]:
    """The items of a page: under ``items_key``, or the page's only list-valued field."""
    if isinstance(data, list):
        return data
    if not isinstance(data, dict):
        raise ResponseParseError(
            "a collection page is not a JSON object", body=repr(data)[:500].encode()
        )
    if items_key is not None:
        value = data.get(items_key, [])
        if not isinstance(value, list):
            raise ResponseParseError(
                f"the page's {items_key!r} field is not a list", body=repr(data)[:500].encode()
            )
        return value
    lists = [k for k, v in data.items() if isinstance(v, list) and k != "_links"]
    if len(lists) == 1:
        return list(data[lists[0]])
    if not lists:
        return []
    raise ResponseParseError(
        f"cannot tell which field holds the items ({', '.join(sorted(lists))}); pass items_key",
        body=repr(data)[:500].encode(),
    )


def _cursor_identity(href: str) -> str:
    """What makes a next link 'the same': its cursor if it has one, else the whole link."""
    query = parse_qs(urlsplit(href).query)
    cursors = query.get("cursor")
    return f"cursor={cursors[0]}" if cursors else href


class _CursorGuard:
    def __init__(self) -> None:
        self._seen: set[str] = set()

    def check(self, href: str) -> None:
        identity = _cursor_identity(href)
        if identity in self._seen:
            raise PaginationError(
                "CC returned a next-page link it had already returned; stopping instead of "
                "looping over the same pages again"
            )
        self._seen.add(identity)


def _to_page(data: Any, items_key: str | None) -> Page:
    return Page(data=data, items=items_of(data, items_key), next_href=next_href_of(data))


class Paginator(Generic[T]):
    """Iterate a collection's items lazily; ``pages()`` yields whole pages instead."""

    def __init__(
        self,
        fetch_first: Callable[[], Any],
        fetch_next: Callable[[str], Any],
        *,
        items_key: str | None = None,
        parse_item: Callable[[Any], T] | None = None,
    ) -> None:
        self._fetch_first = fetch_first
        self._fetch_next = fetch_next
        self._items_key = items_key
        self._parse_item = parse_item

    def pages(self) -> Iterator[Page]:
        guard = _CursorGuard()
        page = _to_page(self._fetch_first(), self._items_key)
        yield page
        while page.next_href is not None:
            guard.check(page.next_href)
            page = _to_page(self._fetch_next(page.next_href), self._items_key)
            yield page

    def __iter__(self) -> Iterator[T]:
        parse = self._parse_item
        for page in self.pages():
            for item in page.items:
                yield parse(item) if parse is not None else item


class AsyncPaginator(Generic[T]):
    """The async twin of ``Paginator``: ``async for item in …`` / ``async for page in .pages()``."""

    def __init__(
        self,
        fetch_first: Callable[[], Awaitable[Any]],
        fetch_next: Callable[[str], Awaitable[Any]],
        *,
        items_key: str | None = None,
        parse_item: Callable[[Any], T] | None = None,
    ) -> None:
        self._fetch_first = fetch_first
        self._fetch_next = fetch_next
        self._items_key = items_key
        self._parse_item = parse_item

    async def pages(self) -> AsyncIterator[Page]:
        guard = _CursorGuard()
        page = _to_page(await self._fetch_first(), self._items_key)
        yield page
        while page.next_href is not None:
            guard.check(page.next_href)
            page = _to_page(await self._fetch_next(page.next_href), self._items_key)
            yield page

    async def __aiter__(self) -> AsyncIterator[T]:
        parse = self._parse_item
        async for page in self.pages():
            for item in page.items:
                yield parse(item) if parse is not None else item
