"""Argument checks for the typed resource methods: fail before any request, naming the
argument and what is wrong with it (the generated methods check only types)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

from ccbridge._errors import InvalidArgumentError

_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def check_text(name: str, value: Any, max_length: int, *, min_length: int = 0) -> str:
    if not isinstance(value, str):
        raise InvalidArgumentError(f"{name} must be a string, not {type(value).__name__}")
    if len(value) > max_length:
        raise InvalidArgumentError(f"{name} is {len(value)} characters; CC allows {max_length}")
    if len(value.strip()) < min_length:
        raise InvalidArgumentError(f"{name} must not be empty")
    return value


def check_email(name: str, value: Any, max_length: int) -> str:
    text = check_text(name, value, max_length, min_length=1).strip()
    if not _EMAIL.match(text):
        raise InvalidArgumentError(f"{name} is not an email address: {value!r}")
    return text


def check_id(name: str, value: Any) -> str:
    """A CC resource id (a UUID)."""
    if not isinstance(value, str) or not _UUID.match(value.strip()):
        raise InvalidArgumentError(f"{name} must be an id (a UUID), not {value!r}")
    return value.strip()


def check_ids(name: str, value: Any, *, maximum: int, required: bool = False) -> list[str]:
    if value is None or isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        raise InvalidArgumentError(f"{name} must be a list of ids, not {value!r}")
    ids = list(value)
    if required and not ids:
        raise InvalidArgumentError(f"{name} must name at least one id")
    if len(ids) > maximum:
        raise InvalidArgumentError(f"{name} names {len(ids)} ids; CC takes at most {maximum}")
    for position, item in enumerate(ids):
        check_id(f"{name}[{position}]", item)
    return [item.strip() for item in ids]


def check_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidArgumentError(f"{name} must be an integer, not {value!r}")
    return value


def check_int_range(name: str, value: Any, low: int, high: int) -> int:
    number = check_int(name, value)
    if not low <= number <= high:
        raise InvalidArgumentError(f"{name} must be between {low} and {high}, not {number}")
    return number


def one_of(name: str, value: Any, allowed: Sequence[str]) -> str:
    if value not in allowed:
        raise InvalidArgumentError(f"{name} must be one of {', '.join(allowed)}; got {value!r}")
    return str(value)


def check_bool(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise InvalidArgumentError(f"{name} must be True or False, not {value!r}")
    return value
