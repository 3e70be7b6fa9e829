"""The I/O-free core shared by ``Client`` and ``AsyncClient``.

Everything about a call that does not wait on the network lives here: checking arguments
against CC's operation table, building the URL and headers, turning a response into a
value or an exception, deciding whether to retry or refresh the token, and resolving
``_links.next`` hrefs. The two clients only run the loop around it: acquire a rate-limit
slot, send, sleep. So the sync and async clients cannot drift apart in behaviour.

Each attempt ends in an ``Outcome``: ``Done`` (a value), ``Retry`` (wait, then send again)
or ``Refresh`` (CC said 401: get a new token once, then send again); anything final is
raised as an exception from ``ccbridge._errors``.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import httpx

from ccbridge._auth import client_id_from_jwt
from ccbridge._errors import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    AuthenticationError,
    InvalidArgumentError,
    PaginationError,
    ResponseParseError,
    error_from_response,
    request_id_of,
)
from ccbridge._logging import (
    RequestEvent,
    RequestHook,
    ResponseEvent,
    ResponseHook,
    emit_request,
    emit_response,
)
from ccbridge._retry import RetryPolicy, parse_retry_after
from ccbridge._spec.operations import OPERATIONS
from ccbridge._types import Clock, FileContent

DEFAULT_BASE_URL = "https://api.cc.email/v3"
DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=10.0)
DEFAULT_MAX_RETRIES = 3
USER_AGENT = "ccbridge-python"

OPERATIONS_BY_ID: dict[str, dict[str, Any]] = {op["operation_id"]: op for op in OPERATIONS}


@dataclass(frozen=True)
class PreparedCall:
    """One logical API call, ready to be sent (possibly several times)."""

    method: str
    url: httpx.URL
    path: str  # relative to the base URL, without the query: for logs and the retry policy
    operation_id: str | None = None
    json_body: Any = None
    has_json: bool = False
    files: Mapping[str, Any] | None = None
    form: Mapping[str, str] | None = None
    headers: Mapping[str, str] | None = None
    stream: bool = False


@dataclass(frozen=True)
class Done:
    value: Any


@dataclass(frozen=True)
class Retry:
    delay: float
    error: Exception


@dataclass(frozen=True)
class Refresh:
    error: AuthenticationError


Outcome = Done | Retry | Refresh


class ClientCore:
    """Configuration plus the pure steps of a call; owned by a ``Client``/``AsyncClient``."""

    def __init__(
        self,
        *,
        base_url: str = DEFAULT_BASE_URL,
        timeout: float | httpx.Timeout | None = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        client_id: str | None = None,
        default_headers: Mapping[str, str] | None = None,
        partner_api_key: str | None = None,
        on_request: Sequence[RequestHook] = (),
        on_response: Sequence[ResponseHook] = (),
        clock: Clock = time.time,
        rng: random.Random | None = None,
    ) -> None:
        self.base_url = _parse_base_url(base_url)
        self.timeout = timeout if isinstance(timeout, httpx.Timeout) else httpx.Timeout(timeout)
        self.retry = RetryPolicy.from_max_retries(max_retries)
        if client_id is not None and (not isinstance(client_id, str) or not client_id):
            raise InvalidArgumentError("client_id must be a non-empty string when given")
        self.client_id = client_id
        self.default_headers = dict(default_headers or {})
        self._partner_api_key = partner_api_key
        self.on_request = list(on_request)
        self.on_response = list(on_response)
        self.clock = clock
        self.rng = rng or random.Random()
        self._base_path = self.base_url.path.rstrip("/")

    # -- building calls ------------------------------------------------------------------
    def prepare(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
        has_json: bool = False,
        files: Mapping[str, Any] | None = None,
        form: Mapping[str, str] | None = None,
        operation_id: str | None = None,
        stream: bool = False,
    ) -> PreparedCall:
        """A call to ``path`` (relative to the base URL, e.g. ``/contacts``)."""
        if not isinstance(path, str) or not path.startswith("/"):
            raise InvalidArgumentError("path must be a string starting with '/' (e.g. '/contacts')")
        url = self.base_url.copy_with(path=self._base_path + path)
        pairs = _encode_query(params or {})
        if pairs:
            url = url.copy_with(params=pairs)
        return PreparedCall(
            method=method.upper(),
            url=url,
            path=path,
            operation_id=operation_id,
            json_body=json_body,
            has_json=has_json or json_body is not None,
            files=files,
            form=form,
            stream=stream,
        )

    def prepare_operation(
        self,
        operation_id: str,
        *,
        path_params: Mapping[str, Any] | None = None,
        query: Mapping[str, Any] | None = None,
        body: Any = None,
        form: Mapping[str, Any] | None = None,
    ) -> PreparedCall:
        """A call to one of CC's operations, its arguments checked against the operation table."""
        op = OPERATIONS_BY_ID.get(operation_id)
        if op is None:
            raise InvalidArgumentError(f"unknown CC operation {operation_id!r}")
        specs = {p["name"]: p for p in op["params"]}
        path = op["path"]
        for name, value in (path_params or {}).items():
            segment = _check_path_param(name, value, specs[name]["type"])
            path = path.replace("{" + name + "}", quote(segment, safe=""))
        params: dict[str, Any] = {}
        for name, value in (query or {}).items():
            spec = specs[name]
            if value is None:
                if spec["required"]:
                    raise InvalidArgumentError(f"{name} is required")
                continue
            params[name] = _check_query_param(name, value, spec["type"])
        if body is not None and not isinstance(body, Mapping):
            raise InvalidArgumentError(
                f"body must be a mapping (a JSON object), not {type(body).__name__}"
            )
        files, fields = _split_form(form or {}, specs)
        return self.prepare(
            op["method"],
            path,
            params=params,
            json_body=dict(body) if body is not None else None,
            files=files or None,
            form=fields or None,
            operation_id=operation_id,
        )

    def prepare_next_page(self, href: str, operation_id: str | None = None) -> PreparedCall:
        """A GET of a ``_links.next.href``, which CC gives relative to its origin."""
        target = self.base_url.join(href)
        if (target.scheme, target.host, target.port) != (
            self.base_url.scheme,
            self.base_url.host,
            self.base_url.port,
        ):
            # Following it would send the bearer token to another host.
            raise PaginationError(
                f"a next-page link points outside {self.origin}; not following it"
            )
        path = target.path
        if self._base_path and path.startswith(self._base_path + "/"):
            path = path[len(self._base_path) :]
        return PreparedCall(method="GET", url=target, path=path, operation_id=operation_id)

    @property
    def origin(self) -> str:
        return str(self.base_url.copy_with(path="/", query=None)).rstrip("/")

    def build_request(self, call: PreparedCall, token: str) -> httpx.Request:
        headers = {
            "Accept": "application/json",
            "User-Agent": USER_AGENT,
            **self.default_headers,
            **(call.headers or {}),
            "Authorization": f"Bearer {token}",
        }
        if self._partner_api_key and call.path.startswith("/partner/"):
            headers["x-api-key"] = self._partner_api_key
        content: bytes | None = None
        if call.has_json:
            headers["Content-Type"] = "application/json"
            content = json.dumps(call.json_body, separators=(",", ":")).encode("utf-8")
        return httpx.Request(
            call.method,
            call.url,
            headers=headers,
            content=content,
            files=call.files,
            data=call.form,
            extensions={"timeout": self.timeout.as_dict()},
        )

    def rate_limit_key(self, token: str) -> str:
        """CC counts requests per client_id: the given one, else the token's ``cid`` claim."""
        return self.client_id or client_id_from_jwt(token) or "default"

    # -- after an attempt ----------------------------------------------------------------
    def before_send(self, call: PreparedCall, attempt: int) -> None:
        emit_request(
            self.on_request, RequestEvent(call.method, call.path, attempt, call.operation_id)
        )

    def after_response(
        self,
        call: PreparedCall,
        response: httpx.Response,
        attempt: int,
        started: float,
        *,
        can_refresh: bool,
    ) -> Outcome:
        """Classify a response whose body has been read (for a stream: unless it succeeded)."""
        if response.status_code < 400:
            self._emit_response(call, attempt, started, response=response, outcome=None)
            return Done(response if call.stream else self.parse_body(call, response))
        error = error_from_response(response, method=call.method, path=call.path, now=self._now())
        outcome = self._after_error(call, error, response, attempt, can_refresh=can_refresh)
        self._emit_response(call, attempt, started, response=response, outcome=outcome)
        if outcome is None:
            raise error
        return outcome

    def _after_error(
        self,
        call: PreparedCall,
        error: APIError,
        response: httpx.Response,
        attempt: int,
        *,
        can_refresh: bool,
    ) -> Retry | Refresh | None:
        if isinstance(error, AuthenticationError) and can_refresh:
            return Refresh(error)
        delay = self.retry.delay_after_status(
            error.status,
            error.error_key,
            attempt,
            call.method,
            call.path,
            self.rng,
            parse_retry_after(response.headers.get("retry-after")),
        )
        return None if delay is None else Retry(delay, error)

    def after_transport_error(
        self, call: PreparedCall, exc: httpx.TransportError, attempt: int, started: float
    ) -> Retry:
        """Retry a transport failure when safe; otherwise raise it as a ccbridge error."""
        delay = self.retry.delay_after_error(exc, attempt, call.method, call.path, self.rng)
        error = _transport_error(exc, call)
        outcome = Retry(delay, error) if delay is not None else None
        self._emit_response(call, attempt, started, response=None, outcome=outcome, exc=exc)
        if outcome is None:
            raise error from exc
        return outcome

    def _emit_response(
        self,
        call: PreparedCall,
        attempt: int,
        started: float,
        *,
        response: httpx.Response | None,
        outcome: Outcome | None,
        exc: BaseException | None = None,
    ) -> None:
        error_name = None
        if exc is not None:
            error_name = type(exc).__name__
        elif isinstance(outcome, (Retry, Refresh)):
            error_name = type(outcome.error).__name__
        emit_response(
            self.on_response,
            ResponseEvent(
                method=call.method,
                path=call.path,
                attempt=attempt,
                status=response.status_code if response is not None else None,
                duration_ms=round((time.perf_counter() - started) * 1000, 3),
                request_id=request_id_of(response.headers) if response is not None else None,
                operation_id=call.operation_id,
                error=error_name,
                will_retry=isinstance(outcome, Retry),
                refreshing_token=isinstance(outcome, Refresh),
            ),
        )

    def parse_body(self, call: PreparedCall, response: httpx.Response) -> Any:
        """The response's value: parsed JSON, text for ``text/*`` (CSV exports), or None."""
        content = response.content
        if response.status_code == 204 or not content.strip():
            return None
        media_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
        if media_type.startswith("text/"):
            return response.text
        if media_type and media_type != "application/json" and not media_type.endswith("+json"):
            return content
        try:
            return json.loads(content)
        except (ValueError, UnicodeDecodeError):
            raise ResponseParseError(
                f"CC's answer to {call.method} {call.path} (HTTP {response.status_code}) "
                "is not valid JSON",
                body=content,
                status=response.status_code,
                method=call.method,
                path=call.path,
                request_id=request_id_of(response.headers),
            ) from None

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), tz=UTC)


def _parse_base_url(base_url: str) -> httpx.URL:
    if not isinstance(base_url, str) or not base_url:
        raise InvalidArgumentError("base_url must be a non-empty URL string")
    url = httpx.URL(base_url.rstrip("/"))
    if url.scheme not in ("http", "https") or not url.host:
        raise InvalidArgumentError(
            f"base_url must be an absolute http(s) URL such as {DEFAULT_BASE_URL}"
        )
    if url.query:
        raise InvalidArgumentError("base_url must not have a query string")
    return url


def _transport_error(exc: httpx.TransportError, call: PreparedCall) -> APIConnectionError:
    kind = type(exc).__name__
    if isinstance(exc, httpx.TimeoutException):
        return APITimeoutError(
            f"{call.method} {call.path} timed out ({kind})", method=call.method, path=call.path
        )
    return APIConnectionError(
        f"{call.method} {call.path} failed: {kind}: {exc}", method=call.method, path=call.path
    )


def _check_path_param(name: str, value: Any, spec_type: str) -> str:
    if spec_type == "integer":
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidArgumentError(f"{name} must be an integer, not {type(value).__name__}")
        return str(value)
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise InvalidArgumentError(f"{name} must be a string, not {type(value).__name__}")
    text = str(value)
    if not text.strip():
        raise InvalidArgumentError(f"{name} must not be empty")
    return text


def _check_query_param(name: str, value: Any, spec_type: str) -> Any:
    if spec_type == "boolean":
        if not isinstance(value, bool):
            raise InvalidArgumentError(f"{name} must be True or False, not {value!r}")
        return value
    if spec_type == "integer":
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidArgumentError(f"{name} must be an integer, not {value!r}")
        return value
    if spec_type == "array":
        if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
            raise InvalidArgumentError(f"{name} must be a list of strings, not {value!r}")
        if not all(isinstance(v, str) for v in value):
            raise InvalidArgumentError(f"{name} must contain only strings")
        return list(value)
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise InvalidArgumentError(f"{name} must be a string, not {value!r}")
    return value


def _encode_query(params: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Query pairs: booleans as true/false, lists repeated (CC's arrays are multi-valued)."""
    pairs: list[tuple[str, str]] = []
    for name, value in params.items():
        if value is None:
            continue
        values = value if isinstance(value, (list, tuple)) else [value]
        for item in values:
            if isinstance(item, bool):
                pairs.append((name, "true" if item else "false"))
            else:
                pairs.append((name, str(item)))
    return pairs


def _split_form(
    form: Mapping[str, Any], specs: Mapping[str, dict[str, Any]]
) -> tuple[dict[str, FileContent], dict[str, str]]:
    files: dict[str, FileContent] = {}
    fields: dict[str, str] = {}
    for name, value in form.items():
        spec = specs[name]
        if value is None:
            if spec["required"]:
                raise InvalidArgumentError(f"{name} is required")
            continue
        if spec["type"] == "file":
            if isinstance(value, str):
                raise InvalidArgumentError(
                    f"{name} must be bytes, a binary file or (filename, content), not a str"
                )
            files[name] = value
        else:
            fields[name] = str(_check_query_param(name, value, spec["type"]))
    return files, fields
