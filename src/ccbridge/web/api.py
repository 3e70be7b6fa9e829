"""The admin API's machinery: operations as data, bearer auth, validation, JSON errors, OpenAPI.

Each operation is an ``ApiOperation`` value: method, path, handler, and JSON schemas for
its query, body and answers. The same values produce the Starlette routes and the OpenAPI
3 document at ``/api/openapi.json``, so the document cannot drift from what is served.

Bad input never reaches a handler: unknown query parameters or body fields, wrong types,
a body that is not JSON, a wrong content type — each is a 4xx whose JSON names the
parameter or field and what is wrong::

    {"error": {"status": 400, "code": "invalid_body",
               "message": "body.app_reference: must be a string"}}

A handler signals its own refusals by raising ``ApiProblem``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ccbridge._errors import APIConnectionError, APIError, CCBridgeError
from ccbridge.config import ConfigError
from ccbridge.oauth.errors import (
    AccountDisconnectedError,
    AccountNotFoundError,
    ClientMismatchError,
    NeedsReauthError,
    RevokeFailedError,
)
from ccbridge.web.auth import ApiToken, AuthError

if TYPE_CHECKING:
    from ccbridge.service import Service

log = logging.getLogger("ccbridge.web.api")

MAX_BODY_BYTES = 64 * 1024
JSON = dict[str, Any]


class ApiProblem(Exception):
    """A 4xx (or 5xx) answer with a machine-readable code and a message for people."""

    def __init__(
        self, status: int, code: str, message: str, headers: Mapping[str, str] | None = None
    ):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})


def problem_for(exc: CCBridgeError) -> ApiProblem:
    """The answer for a library error that reached the API (never a bare 500)."""
    if isinstance(exc, AccountNotFoundError):
        return ApiProblem(404, "not_found", str(exc))
    if isinstance(exc, NeedsReauthError | AccountDisconnectedError | ClientMismatchError):
        return ApiProblem(409, "account_unusable", str(exc))
    if isinstance(exc, RevokeFailedError | APIConnectionError | APIError):
        return ApiProblem(502, "constant_contact_error", str(exc))
    if isinstance(exc, AuthError):
        return ApiProblem(400, "invalid_request", str(exc))
    if isinstance(exc, ConfigError):
        return ApiProblem(503, "not_configured", str(exc))
    log.warning("API request failed: %s: %s", type(exc).__name__, exc)
    return ApiProblem(502, "failed", f"{type(exc).__name__}: {exc}")


def problem_response(problem: ApiProblem) -> JSONResponse:
    body = {"error": {"status": problem.status, "code": problem.code, "message": problem.message}}
    return JSONResponse(body, status_code=problem.status, headers=problem.headers)


@dataclass(frozen=True)
class QueryParam:
    name: str
    schema: JSON
    description: str
    required: bool = False


@dataclass
class ApiContext:
    request: Request
    service: Service
    token: ApiToken | None
    path: dict[str, str]
    query: dict[str, Any]
    body: Any


ApiHandler = Callable[[ApiContext], Any]


@dataclass(frozen=True)
class ApiOperation:
    """One admin API operation; ``handler`` returns JSON (or ``(status, JSON)``)."""

    method: str
    path: str
    operation_id: str
    summary: str
    handler: ApiHandler
    tag: str = "admin"
    query: Sequence[QueryParam] = ()
    body: JSON | None = None
    response: JSON | None = None
    status: int = 200
    errors: Sequence[int] = (400, 401, 404)
    auth: bool = True
    path_params: Mapping[str, str] = field(default_factory=dict)
    response_media_type: str = "application/json"
    """What a success answer is (a CSV export answers ``text/csv``)."""


# -- a small JSON-schema subset validator (types, required, properties, enums, lengths) -----
def validate(value: Any, schema: JSON, where: str) -> list[str]:
    """Problems with ``value`` against ``schema``, each naming the field."""
    kind = schema.get("type")
    if value is None and schema.get("nullable"):
        return []
    checks: dict[str, Callable[[Any], bool]] = {
        "object": lambda v: isinstance(v, dict),
        "array": lambda v: isinstance(v, list),
        "string": lambda v: isinstance(v, str),
        "boolean": lambda v: isinstance(v, bool),
        "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    }
    if kind in checks and not checks[kind](value):
        article = "an" if kind in ("object", "array", "integer") else "a"
        return [f"{where}: must be {article} {kind}"]
    problems: list[str] = []
    if "enum" in schema and value not in schema["enum"]:
        allowed = ", ".join(str(v) for v in schema["enum"])
        problems.append(f"{where}: must be one of {allowed}; got {value!r}")
    if kind == "string":
        if len(value) < schema.get("minLength", 0):
            problems.append(
                f"{where}: must not be empty"
                if schema.get("minLength") == 1
                else f"{where}: too short"
            )
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            problems.append(f"{where}: must be at most {schema['maxLength']} characters")
        if schema.get("format") == "uri" and not value.startswith(("http://", "https://")):
            problems.append(f"{where}: must be an absolute http(s) URL")
    if kind == "integer":
        if "minimum" in schema and value < schema["minimum"]:
            problems.append(f"{where}: must be at least {schema['minimum']}")
        if "maximum" in schema and value > schema["maximum"]:
            problems.append(f"{where}: must be at most {schema['maximum']}")
    if kind == "array":
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            problems.append(f"{where}: at most {schema['maxItems']} items")
        for i, item in enumerate(value):
            problems += validate(item, schema.get("items", {}), f"{where}[{i}]")
    if kind == "object":
        properties: Mapping[str, JSON] = schema.get("properties", {})
        for name in schema.get("required", ()):
            if name not in value:
                problems.append(f"{where}.{name}: is required")
        if schema.get("additionalProperties") is False:
            for name in value:
                if name not in properties:
                    problems.append(f"{where}.{name}: is not a known field")
        for name, sub in properties.items():
            if name in value:
                problems += validate(value[name], sub, f"{where}.{name}")
    return problems


BOOLEAN_WORDS = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}


def _parse_query(request: Request, op: ApiOperation) -> dict[str, Any]:
    declared = {p.name: p for p in op.query}
    unknown = sorted(set(request.query_params) - set(declared))
    if unknown:
        names = ", ".join(unknown)
        known = ", ".join(declared) or "none"
        raise ApiProblem(
            400, "unknown_parameter", f"unknown query parameter(s): {names} (known: {known})"
        )
    values: dict[str, Any] = {}
    for name, param in declared.items():
        raw = request.query_params.get(name)
        if raw is None:
            if param.required:
                raise ApiProblem(400, "invalid_parameter", f"query.{name}: is required")
            continue
        value: Any = raw
        if param.schema.get("type") == "integer":
            try:
                value = int(raw)
            except ValueError:
                raise ApiProblem(
                    400, "invalid_parameter", f"query.{name}: must be an integer; got {raw!r}"
                ) from None
        elif param.schema.get("type") == "boolean":
            value = BOOLEAN_WORDS.get(raw.strip().lower())
            if value is None:
                raise ApiProblem(
                    400, "invalid_parameter", f"query.{name}: must be true or false; got {raw!r}"
                )
        problems = validate(value, param.schema, f"query.{name}")
        if problems:
            raise ApiProblem(400, "invalid_parameter", "; ".join(problems))
        values[name] = value
    return values


async def _parse_body(request: Request, op: ApiOperation) -> Any:
    raw = await request.body()
    if op.body is None:
        return None
    if not raw:
        if op.body.get("required", []):
            raise ApiProblem(400, "invalid_body", "the request needs a JSON body")
        return {}
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != "application/json":
        raise ApiProblem(
            415,
            "unsupported_media_type",
            f"send the body as application/json (got {media_type or 'no content type'})",
        )
    if len(raw) > MAX_BODY_BYTES:
        raise ApiProblem(413, "body_too_large", f"the body is larger than {MAX_BODY_BYTES} bytes")
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiProblem(400, "malformed_json", f"the body is not valid JSON ({exc})") from None
    problems = validate(body, op.body, "body")
    if problems:
        raise ApiProblem(400, "invalid_body", "; ".join(problems))
    return body


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


UNAUTHORIZED_HEADERS = {"WWW-Authenticate": 'Bearer realm="ccbridge"'}


def api_route(op: ApiOperation) -> Route:
    async def endpoint(request: Request) -> Response:
        service: Service = request.app.state.service
        try:
            token: ApiToken | None = None
            if op.auth:
                raw = _bearer(request)
                if raw is None:
                    raise ApiProblem(
                        401,
                        "unauthorized",
                        "send an admin API token: Authorization: Bearer <token> "
                        "(create one with `ccbridge admin token NAME`)",
                        UNAUTHORIZED_HEADERS,
                    )
                token = await anyio.to_thread.run_sync(service.admin.verify_token, raw)
                if token is None:
                    raise ApiProblem(
                        401,
                        "invalid_token",
                        "the API token is unknown, revoked or expired",
                        UNAUTHORIZED_HEADERS,
                    )
            query = _parse_query(request, op)
            body = await _parse_body(request, op)
            ctx = ApiContext(request, service, token, dict(request.path_params), query, body)
            result = await anyio.to_thread.run_sync(op.handler, ctx)
        except ApiProblem as problem:
            return problem_response(problem)
        except CCBridgeError as exc:
            return problem_response(problem_for(exc))
        if isinstance(result, Response):
            return result
        if isinstance(result, tuple):
            status, payload = result
            return JSONResponse(payload, status_code=status)
        return JSONResponse(result, status_code=op.status)

    endpoint.__name__ = op.operation_id
    return Route(op.path, endpoint, methods=[op.method], name=op.operation_id)


# -- OpenAPI --------------------------------------------------------------------------------
ERROR_SCHEMA: JSON = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["status", "code", "message"],
            "properties": {
                "status": {"type": "integer"},
                "code": {"type": "string"},
                "message": {"type": "string"},
            },
        }
    },
}

ERROR_TEXT = {
    400: "The request is malformed; the message names the parameter or field.",
    401: "No valid admin API token was sent.",
    404: "No such resource.",
    409: "The request conflicts with the resource's state.",
    413: "The body is too large.",
    415: "The body is not application/json.",
    502: "Constant Contact could not be reached or refused.",
    503: "A dependency is not available.",
}


def _clean(schema: JSON) -> JSON:
    """The schema as OpenAPI 3.0 wants it (our ``nullable`` is already OpenAPI's)."""
    return schema


def openapi_document(
    operations: Sequence[ApiOperation], *, title: str, version: str, server: str
) -> JSON:
    paths: dict[str, dict[str, Any]] = {}
    for op in operations:
        item: JSON = {
            "operationId": op.operation_id,
            "summary": op.summary,
            "tags": [op.tag],
            "responses": {
                str(op.status): {
                    "description": "Success.",
                    **(
                        {"content": {op.response_media_type: {"schema": _clean(op.response)}}}
                        if op.response is not None
                        else {}
                    ),
                },
            },
        }
        for status in sorted(
            {*op.errors, *((401,) if op.auth else ()), *((415,) if op.body else ())}
        ):
            item["responses"][str(status)] = {
                "description": ERROR_TEXT.get(status, "An error."),
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
            }
        parameters = [
            {
                "name": name,
                "in": "path",
                "required": True,
                "description": text,
                "schema": {"type": "string"},
            }
            for name, text in op.path_params.items()
        ]
        parameters += [
            {
                "name": p.name,
                "in": "query",
                "required": p.required,
                "description": p.description,
                "schema": p.schema,
            }
            for p in op.query
        ]
        if parameters:
            item["parameters"] = parameters
        if op.body is not None:
            item["requestBody"] = {
                "required": bool(op.body.get("required")),
                "content": {"application/json": {"schema": _clean(op.body)}},
            }
        if op.auth:
            item["security"] = [{"bearerAuth": []}]
        else:
            item["security"] = []
        paths.setdefault(op.path, {})[op.method.lower()] = item
    return {
        "openapi": "3.0.3",
        "info": {
            "title": title,
            "version": version,
            "description": "The admin API of a ccbridge service. Authenticate with an admin API "
            "token (`ccbridge admin token NAME`) sent as `Authorization: Bearer <token>`.",
        },
        "servers": [{"url": server}],
        "paths": paths,
        "components": {
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}},
            "schemas": {"Error": ERROR_SCHEMA},
        },
    }
