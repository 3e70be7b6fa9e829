"""Framework-free request and response types for the sandbox.

The sandbox's behaviour is a plain synchronous function from ``SandboxRequest`` to
``SandboxResponse``. Keeping it free of any web framework lets the same code run behind
an ASGI server, behind an httpx transport in-process (no sockets, no event loop), and in
benchmarks, with identical results.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from ccbridge.sandbox.errors import CCError

MAX_BODY_BYTES = 8 * 1024 * 1024
"""Bodies above this size are refused with 413 before they are parsed."""


@dataclass
class SandboxRequest:
    """One HTTP request as the sandbox sees it."""

    method: str
    path: str
    query: list[tuple[str, str]] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)  # lower-case names
    body: bytes = b""
    client_host: str = "127.0.0.1"

    @classmethod
    def build(
        cls,
        method: str,
        path: str,
        query_string: str = "",
        headers: list[tuple[str, str]] | dict[str, str] | None = None,
        body: bytes = b"",
        client_host: str = "127.0.0.1",
    ) -> SandboxRequest:
        items = headers.items() if isinstance(headers, dict) else (headers or [])
        hdrs: dict[str, str] = {}
        for name, value in items:
            key = name.lower()
            hdrs[key] = f"{hdrs[key]}, {value}" if key in hdrs else value
        return cls(
            method=method.upper(),
            path=path,
            query=parse_qsl(query_string, keep_blank_values=True),
            headers=hdrs,
            body=body,
            client_host=client_host,
        )

    # -- query helpers -------------------------------------------------------
    def q(self, name: str) -> str | None:
        """The first value of query parameter ``name``, or None."""
        for key, value in self.query:
            if key == name:
                return value
        return None

    def q_all(self, name: str) -> list[str]:
        return [value for key, value in self.query if key == name]

    def query_dict(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for key, value in self.query:
            out.setdefault(key, value)
        return out

    # -- body helpers --------------------------------------------------------
    @property
    def media_type(self) -> str:
        return self.headers.get("content-type", "").split(";", 1)[0].strip().lower()

    def json(self, *, area: str = "api") -> Any:
        """Parse a JSON body the way CC does: 415 for another media type, 400 if malformed."""
        if self.media_type not in ("application/json", "") and not self.media_type.endswith(
            "+json"
        ):
            raise CCError.unsupported_media_type(
                area, f"Content-Type '{self.media_type}' is not supported; use application/json."
            )
        if not self.body:
            raise CCError.bad_request(area, "The request body is empty; a JSON body is required.")
        try:
            return json.loads(self.body.decode("utf-8"))
        except UnicodeDecodeError:
            raise CCError.bad_request(area, "The request body is not valid UTF-8.") from None
        except json.JSONDecodeError as exc:
            raise CCError.bad_request(
                area, f"Malformed JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}."
            ) from None

    def form(self) -> dict[str, str]:
        """Parse an application/x-www-form-urlencoded body (first value of each name)."""
        if not self.body:
            return {}
        try:
            text = self.body.decode("utf-8")
        except UnicodeDecodeError:
            return {}
        out: dict[str, str] = {}
        for key, value in parse_qsl(text, keep_blank_values=True):
            out.setdefault(key, value)
        return out


@dataclass
class SandboxResponse:
    """One HTTP response. ``delay`` and ``drop`` are set only by injected faults."""

    status: int
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)
    delay: float = 0.0
    drop: bool = False

    def header(self, name: str) -> str | None:
        lname = name.lower()
        for key, value in self.headers:
            if key.lower() == lname:
                return value
        return None

    def json(self) -> Any:
        return json.loads(self.body)


def json_response(
    data: Any, status: int = 200, headers: list[tuple[str, str]] | None = None
) -> SandboxResponse:
    body = json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    return SandboxResponse(
        status=status,
        body=body,
        headers=[("content-type", "application/json"), *(headers or [])],
    )


def html_response(html: str, status: int = 200) -> SandboxResponse:
    return SandboxResponse(
        status=status,
        body=html.encode("utf-8"),
        headers=[
            ("content-type", "text/html; charset=utf-8"),
            ("cache-control", "no-store"),
            ("x-frame-options", "DENY"),
        ],
    )


def text_response(text: str, status: int = 200, media_type: str = "text/plain") -> SandboxResponse:
    return SandboxResponse(
        status=status,
        body=text.encode("utf-8"),
        headers=[("content-type", f"{media_type}; charset=utf-8")],
    )


def redirect_response(location: str, status: int = 302) -> SandboxResponse:
    return SandboxResponse(
        status=status, headers=[("location", location), ("cache-control", "no-store")]
    )


def empty_response(
    status: int = 204, headers: list[tuple[str, str]] | None = None
) -> SandboxResponse:
    return SandboxResponse(status=status, headers=list(headers or []))
