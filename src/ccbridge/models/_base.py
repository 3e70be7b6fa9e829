"""What every ccbridge model shares: drift tolerance, a quiet repr, one way to fail.

CC's swagger drifts and CC adds fields without notice, so a model keeps every field it does
not know (``extra="allow"``: readable as attributes and through ``model_extra``) and treats
every field the swagger does not mark required as optional. When a response really cannot
be read as the model (a required id missing, a number where an object belongs), ``parse``
raises ``ResponseParseError`` carrying the body, naming the model and the exact path of the
problem, instead of letting a pydantic traceback escape from deep inside the client.

Models hold data only: none of them performs I/O.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, datetime
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from ccbridge._errors import ResponseParseError

M = TypeVar("M", bound="CCModel")

_BODY_LIMIT = 100_000
"""How much of an unparseable body an error keeps (bytes): enough to diagnose, bounded."""


def _date_part(value: Any) -> Any:
    """Accept a full timestamp where CC documents a bare date (``2024-01-02T...`` → the date)."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, str) and len(value) > 10 and value[4:5] == "-" and value[10] in "T ":
        return value[:10]
    return value


LenientDate = Annotated[date, BeforeValidator(_date_part)]
"""A date that also accepts a timestamp, for the fields CC documents as dates."""


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, (list, dict)) and not value)


class CCModel(BaseModel):
    """Base of every model: unknown fields kept, ``_links`` readable as ``links``."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    @classmethod
    def parse(cls: type[M], data: Any, *, source: str | None = None) -> M:
        """Read CC's JSON as this model; ``ResponseParseError`` (with the body) if it cannot.

        ``source`` says where the data came from (``"GET /contacts/{contact_id}"``) for the
        error message.
        """
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise ResponseParseError(
                _parse_message(cls, exc, source), body=_as_body(data)
            ) from None

    @classmethod
    def parse_list(cls: type[M], data: Any, *, source: str | None = None) -> list[M]:
        """Read a JSON array of this model."""
        if not isinstance(data, list):
            where = f" from {source}" if source else ""
            raise ResponseParseError(
                f"expected a JSON array of {cls.__name__}{where}, got {type(data).__name__}",
                body=_as_body(data),
            )
        return [cls.parse(item, source=source) for item in data]

    def to_api(self) -> dict[str, Any]:
        """The model as CC's JSON (aliases such as ``_links`` restored, unset fields left out)."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        # A repr shows what the object holds: empty and unset fields are noise.
        for name, value in super().__repr_args__():
            if not _empty(value):
                yield name, value


class Link(CCModel):
    """A hypermedia link: ``{"href": "/v3/..."}``."""

    href: str | None = None


class PageLinks(CCModel):
    """``_links`` of a collection page; ``next`` is absent on the last page."""

    next: Link | None = None


def links_field() -> Any:
    """A ``links`` field read from (and written back to) CC's ``_links``."""
    return Field(default=None, alias="_links")


def _parse_message(cls: type[CCModel], exc: ValidationError, source: str | None) -> str:
    problems = []
    for error in exc.errors()[:5]:
        path = ".".join(str(part) for part in error["loc"]) or "(the body)"
        problems.append(f"{path}: {error['msg']}")
    more = exc.error_count() - len(problems)
    tail = f" (and {more} more)" if more > 0 else ""
    where = f" from {source}" if source else ""
    return f"CC's answer{where} does not fit {cls.__name__}: " + "; ".join(problems) + tail


def _as_body(data: Any) -> bytes:
    try:
        text = json.dumps(data, default=str)
    except (TypeError, ValueError):
        text = repr(data)
    return text.encode("utf-8")[:_BODY_LIMIT]
