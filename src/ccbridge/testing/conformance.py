"""Check the sandbox's responses against CC's official swagger.

The swagger is read from ``$CCBRIDGE_SPEC`` or ``../shared/spec/`` beside the checkout; it
is never bundled. Schemas are compiled once per process (the document is large). Each
response is matched to its operation by method and path template, then its JSON body is
validated against the schema the swagger gives for that status. CC documents no error
schemas per operation, so error bodies are checked against the general CC error shapes:
an array of ``{error_key, error_message}``, or a single object for 401 and 429.

Where CC's observed behaviour differs from its swagger, the sandbox follows CC and the
difference is listed in ``DEVIATIONS`` — the one place the project keeps them.
"""

from __future__ import annotations

import functools
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SPEC_FILENAME = "constant-contact-v3-swagger.yaml"

DEVIATIONS: dict[str, str] = {
    "401 body": "CC answers 401 with a single {error_key, error_message} object, not the "
    "documented array (CC-V3-FACTS §2, §10).",
    "429 body": "CC answers rate limiting with a single object {error_key: throttled} "
    "(observed), not an array; quota exhaustion uses error_key quota_exceeded (the key is "
    "UNVERIFIED). The 1,000-queued-activities 429 has no observed body and keeps CC's "
    "documented array form, so a 429 may be either shape.",
    "export href": "Export activities link results at /v3/contact_exports/{id}; the swagger's "
    "example says contacts_exports (CC-V3-FACTS §5, §10).",
    "maxItems 0": "custom_fields_delete.custom_field_ids and several list-membership arrays "
    "declare maxItems: 0; the sandbox applies the documented text limits instead (§10).",
    "sign_up_form email length": "sign_up_form accepts email_address up to 50 characters as "
    "its schema says, although a contact allows 80 (§10).",
    "contact_lists limit": "GET /contact_lists accepts limit up to 1000 (schema), not 500 "
    "(description) (§10).",
    "501": "Operations the sandbox does not emulate answer 501 with a CC-shaped array body; "
    "CC has no such status.",
    "413": "Request bodies over 8 MB are refused with 413 and a CC-shaped array body before "
    "they are parsed; CC documents no size limit for most operations.",
}

_GENERIC_ERROR: dict[str, Any] = {
    "type": "array",
    "minItems": 1,
    "items": {
        "type": "object",
        "required": ["error_key", "error_message"],
        "properties": {"error_key": {"type": "string"}, "error_message": {"type": "string"}},
    },
}
_SINGLE_ERROR: dict[str, Any] = {
    "type": "object",
    "required": ["error_key", "error_message"],
    "properties": {"error_key": {"type": "string"}, "error_message": {"type": "string"}},
}
_THROTTLE_ERROR: dict[str, Any] = {"anyOf": [_SINGLE_ERROR, _GENERIC_ERROR]}


def _error_schema(status: int) -> tuple[str, dict[str, Any]]:
    """The general CC error shape for a status, and a cache key for its validator."""
    if status == 401:
        return "error-single", _SINGLE_ERROR
    if status == 429:
        return "error-429", _THROTTLE_ERROR
    return "error-array", _GENERIC_ERROR


def find_spec() -> Path | None:
    """Where the swagger is, or None (tests that need it then skip with that reason)."""
    env = os.environ.get("CCBRIDGE_SPEC")
    if env:
        path = Path(env)
        return path if path.is_file() else None
    here = Path(__file__).resolve()
    for parent in here.parents:
        candidate = parent.parent / "shared" / "spec" / SPEC_FILENAME
        if candidate.is_file():
            return candidate
        candidate = parent / "shared" / "spec" / SPEC_FILENAME
        if candidate.is_file():
            return candidate
    return None


@dataclass
class _Operation:
    operation_id: str
    method: str
    regex: re.Pattern[str]
    literal_segments: int
    responses: dict[str, Any]
    produces: tuple[str, ...] = ("application/json",)


class SpecConformance:
    """Validates (method, path, status, body) against the swagger."""

    def __init__(self, spec_path: Path) -> None:
        import yaml

        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        with open(spec_path, encoding="utf-8") as fh:
            self.spec: dict[str, Any] = yaml.load(fh, Loader=loader)
        self.base_path = self.spec.get("basePath", "/v3")
        self._ops: list[_Operation] = []
        for path, item in self.spec["paths"].items():
            pattern = re.sub(r"\{[^}]+\}", "[^/]+", path)
            literal = sum(1 for s in path.split("/") if s and "{" not in s)
            for method, op in item.items():
                if method in ("get", "post", "put", "patch", "delete"):
                    self._ops.append(
                        _Operation(
                            op["operationId"],
                            method.upper(),
                            re.compile(f"^{pattern}/?$"),
                            literal,
                            op.get("responses", {}),
                            tuple(op.get("produces", self.spec.get("produces", []))),
                        )
                    )
        self._ops.sort(key=lambda o: -o.literal_segments)
        self._validators: dict[str, Any] = {}

    def operation_for(self, method: str, path: str) -> _Operation | None:
        if not path.startswith(self.base_path + "/"):
            return None
        rel = path[len(self.base_path) :]
        for op in self._ops:
            if op.method == method and op.regex.match(rel):
                return op
        return None

    def _validator(self, key: str, schema: dict[str, Any]) -> Any:
        validator = self._validators.get(key)
        if validator is None:
            from jsonschema import Draft4Validator

            root = {**schema, "definitions": self.spec["definitions"]}
            validator = Draft4Validator(root)
            self._validators[key] = validator
        return validator

    def check(
        self, method: str, path: str, status: int, body: bytes, content_type: str
    ) -> list[str]:
        """Violations for one response (empty when it conforms or is not a CC API call)."""
        op = self.operation_for(method, path)
        if op is None:
            return []
        where = f"{method} {path} -> {status} ({op.operation_id})"
        documented = op.responses.get(str(status))
        if status < 300 and documented is None:
            return [f"{where}: CC documents no {status} response for this operation"]
        if 300 <= status < 400:
            return []
        schema: dict[str, Any] | None
        if status >= 400:
            key, schema = _error_schema(status)
            if "json" not in content_type:
                return [f"{where}: an error body must be JSON, got content-type {content_type!r}"]
        else:
            schema = (documented or {}).get("schema")
            key = f"{op.operation_id}:{status}"
            if schema is None:
                if status == 204 and body:
                    return [f"{where}: a 204 response must have no body"]
                return []
            if "json" not in content_type:
                media = content_type.split(";", 1)[0].strip().lower()
                if schema.get("type") == "string" or media in op.produces:
                    # A documented non-JSON body (CSV exports): the swagger has no schema for it.
                    return []
                return [f"{where}: expected a JSON body, got content-type {content_type!r}"]
        try:
            data = json.loads(body) if body else None
        except ValueError:
            return [f"{where}: body is not valid JSON"]
        errors = sorted(self._validator(key, schema).iter_errors(data), key=lambda e: list(e.path))
        return [
            f"{where}: at {'/'.join(str(p) for p in e.absolute_path) or '(root)'}: {e.message}"
            for e in errors[:10]
        ]


@functools.lru_cache(maxsize=2)
def load_conformance(spec_path: str) -> SpecConformance:
    return SpecConformance(Path(spec_path))
