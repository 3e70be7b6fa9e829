"""Validation helpers for query parameters and JSON bodies, raising CC-shaped 400s.

Every message names the parameter or field and says what is wrong with it, as CC does.
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Any

from ccbridge.sandbox.clock import parse_iso
from ccbridge.sandbox.errors import CCError
from ccbridge.sandbox.http import SandboxRequest

UUID_RE = re.compile(
    r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
)
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def is_uuid(value: str) -> bool:
    return bool(UUID_RE.match(value))


def require_uuid(area: str, name: str, value: str) -> str:
    """CC answers a malformed id with 404 ('... is in an invalid format')."""
    if not is_uuid(value):
        raise CCError.not_found(area, f"{name} is in an invalid format.")
    return str(uuid.UUID(value))


def limit_param(
    req: SandboxRequest, area: str, default: int, maximum: int, minimum: int = 1
) -> int:
    raw = req.q("limit")
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise CCError.bad_request(area, f"limit must be an integer; got '{raw}'.") from None
    if not minimum <= value <= maximum:
        raise CCError.bad_request(
            area, f"limit must be between {minimum} and {maximum}; got {value}."
        )
    return value


def bool_param(req: SandboxRequest, area: str, name: str, default: bool = False) -> bool:
    raw = req.q(name)
    if raw is None or raw == "":
        return default
    if raw.lower() in ("true", "1"):
        return True
    if raw.lower() in ("false", "0"):
        return False
    raise CCError.bad_request(area, f"{name} must be true or false; got '{raw}'.")


def date_param(req: SandboxRequest, area: str, name: str) -> datetime | None:
    raw = req.q(name)
    if raw is None or raw == "":
        return None
    try:
        return parse_iso(raw)
    except ValueError:
        raise CCError.bad_request(
            area, f"{name} must be an ISO-8601 date-time; got '{raw}'."
        ) from None


def csv_param(req: SandboxRequest, name: str) -> list[str]:
    raw = req.q(name)
    if not raw:
        return []
    return [part.strip() for part in raw.split(",") if part.strip()]


def enum_csv_param(
    req: SandboxRequest, area: str, name: str, allowed: tuple[str, ...]
) -> list[str]:
    values = csv_param(req, name)
    for value in values:
        if value not in allowed:
            raise CCError.bad_request(
                area, f"{name} value '{value}' is not one of: {', '.join(allowed)}."
            )
    return values


def require_object(area: str, body: Any, where: str = "request body") -> dict[str, Any]:
    if not isinstance(body, dict):
        raise CCError.bad_request(area, f"The {where} must be a JSON object.")
    return body


def reject_unknown(area: str, body: dict[str, Any], allowed: set[str], where: str = "") -> None:
    unknown = sorted(set(body) - allowed)
    if unknown:
        prefix = f"{where}." if where else ""
        raise CCError.bad_request(
            area, f"Unknown field(s): {', '.join(prefix + u for u in unknown)}."
        )


def string_field(
    area: str,
    body: dict[str, Any],
    name: str,
    *,
    required: bool = False,
    max_length: int | None = None,
    min_length: int = 0,
    where: str = "",
) -> str | None:
    label = f"{where}.{name}" if where else name
    value = body.get(name)
    if value is None:
        if required:
            raise CCError.bad_request(area, f"{label} is required.")
        return None
    if not isinstance(value, str):
        raise CCError.bad_request(area, f"{label} must be a string.")
    if len(value) < min_length or (required and min_length == 0 and value == ""):
        raise CCError.bad_request(area, f"{label} must not be empty.")
    if max_length is not None and len(value) > max_length:
        raise CCError.bad_request(area, f"{label} must be at most {max_length} characters.")
    return value


def int_field(
    area: str,
    body: dict[str, Any],
    name: str,
    *,
    required: bool = False,
    minimum: int | None = None,
    maximum: int | None = None,
    where: str = "",
) -> int | None:
    label = f"{where}.{name}" if where else name
    value = body.get(name)
    if value is None:
        if required:
            raise CCError.bad_request(area, f"{label} is required.")
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise CCError.bad_request(area, f"{label} must be an integer.")
    if minimum is not None and value < minimum:
        raise CCError.bad_request(area, f"{label} must be at least {minimum}.")
    if maximum is not None and value > maximum:
        raise CCError.bad_request(area, f"{label} must be at most {maximum}.")
    return value


def id_list_field(
    area: str,
    body: dict[str, Any],
    name: str,
    *,
    required: bool = False,
    min_items: int = 0,
    max_items: int | None = None,
    where: str = "",
) -> list[str]:
    """A list of UUID strings, each validated and normalised."""
    label = f"{where}.{name}" if where else name
    value = body.get(name)
    if value is None:
        if required:
            raise CCError.bad_request(area, f"{label} is required.")
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise CCError.bad_request(area, f"{label} must be an array of id strings.")
    if len(value) < min_items:
        raise CCError.bad_request(area, f"{label} must contain at least {min_items} item(s).")
    if max_items is not None and len(value) > max_items:
        raise CCError.bad_request(area, f"{label} must contain at most {max_items} items.")
    out = []
    for item in value:
        if not is_uuid(item):
            raise CCError.bad_request(area, f"{label} contains '{item}', which is not a valid id.")
        out.append(str(uuid.UUID(item)))
    return out
