"""Type aliases shared by the client core, the resources and their generated methods."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import IO, Any, TypeAlias

QueryValue: TypeAlias = str | int | bool | list[str] | None
"""A query parameter as a caller passes it; None means "leave it out"."""

Query: TypeAlias = Mapping[str, QueryValue]

JSONBody: TypeAlias = Mapping[str, Any]

FileContent: TypeAlias = (
    bytes | IO[bytes] | tuple[str, bytes | IO[bytes]] | tuple[str, bytes | IO[bytes], str]
)
"""A file for a multipart upload: bytes, a binary file, or (name, content[, content type])."""

SyncSleep: TypeAlias = Callable[[float], None]
AsyncSleep: TypeAlias = Callable[[float], Awaitable[None]]
Clock: TypeAlias = Callable[[], float]
