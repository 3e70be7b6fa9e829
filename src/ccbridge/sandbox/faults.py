"""Fault injection: rules that make the sandbox misbehave the way CC sometimes does.

Code that talks to CC must survive 5xx answers, throttling, slow or dropped connections,
tokens that die early and bulk activities that fail. These rules let a test provoke each
of those on purpose, deterministically.

A rule matches requests on ``/v3`` and ``/oauth2`` by method, path (a regular expression
searched in the path), client_id, which matching call it is (``nth``, 1-based; otherwise
every call), how many times it may fire (``times``), and a probability drawn from the
sandbox's seeded random generator. When it fires it can answer an error status with CC's
body for that status, add latency, drop the connection, treat the caller's access token as
expired or revoked, or make the bulk activities created by the matched request end
``failed``, ``timed_out`` or ``cancelled``.

Rule JSON (``POST /_sandbox/faults``)::

    {"match": {"method": "GET", "path": "^/v3/contacts", "client_id": "...",
               "nth": 2, "times": 1, "probability": 0.5},
     "action": {"status": 503, "error_key": "...", "error_message": "...",
                "latency_ms": 1500, "drop": true, "token": "expired" | "revoked",
                "activity": "failed" | "timed_out" | "cancelled"}}
"""

from __future__ import annotations

import math
import random
import re
from dataclasses import dataclass, field
from typing import Any

from ccbridge.sandbox.errors import CCError

ACTIVITY_ENDINGS = ("failed", "timed_out", "cancelled")
TOKEN_FAULTS = ("expired", "revoked")
METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
MAX_LATENCY_MS = 600_000

_MATCH_KEYS = frozenset({"method", "path", "client_id", "nth", "times", "probability"})
_ACTION_KEYS = frozenset(
    {"status", "error_key", "error_message", "latency_ms", "drop", "token", "activity"}
)

# CC-style error keys and messages for the statuses a fault may answer with. 401 and 429
# are CC's single-object bodies; everything else is CC's usual one-item array.
_DEFAULT_ERRORS: dict[int, tuple[str, str]] = {
    400: ("api.validation.error", "Bad request."),
    403: ("forbidden", "Forbidden"),
    404: ("not_found", "The requested resource was not found."),
    405: ("method_not_allowed", "Method not allowed."),
    409: ("conflict", "Conflict."),
    415: ("unsupported_media_type", "Unsupported Media Type."),
    500: ("server_error", "Internal Server Error"),
    502: ("bad_gateway", "Bad Gateway"),
    503: ("service_unavailable", "Service Unavailable"),
    504: ("gateway_timeout", "Gateway Timeout"),
}


class FaultSpecError(ValueError):
    """A fault rule sent to the control plane is malformed; the message names the field."""


@dataclass
class FaultRule:
    rule_id: int
    method: str | None = None
    path: str | None = None
    client_id: str | None = None
    nth: int | None = None
    times: int | None = None
    probability: float = 1.0
    status: int | None = None
    error_key: str | None = None
    error_message: str | None = None
    latency_ms: float = 0
    drop: bool = False
    token: str | None = None
    activity: str | None = None
    seen: int = 0  # matching requests so far (what ``nth`` counts)
    fired: int = 0  # times the action was applied (what ``times`` caps)
    _path_re: re.Pattern[str] | None = field(default=None, repr=False)

    def matches(self, method: str, path: str, client_id: str | None) -> bool:
        if self.method is not None and self.method != method:
            return False
        if self._path_re is not None and not self._path_re.search(path):
            return False
        return self.client_id is None or self.client_id == client_id

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.rule_id,
            "match": {
                "method": self.method,
                "path": self.path,
                "client_id": self.client_id,
                "nth": self.nth,
                "times": self.times,
                "probability": self.probability,
            },
            "action": {
                "status": self.status,
                "error_key": self.error_key,
                "error_message": self.error_message,
                "latency_ms": self.latency_ms,
                "drop": self.drop,
                "token": self.token,
                "activity": self.activity,
            },
            "seen": self.seen,
            "fired": self.fired,
        }


@dataclass
class FaultOutcome:
    """What the dispatcher must do for one request (the union of every rule that fired)."""

    error: CCError | None = None
    latency: float = 0.0
    drop: bool = False
    token: str | None = None
    activity: str | None = None
    rule_ids: list[int] = field(default_factory=list)


# -- parsing a rule ----------------------------------------------------------------
def _typed(block: dict[str, Any], key: str, kind: str, where: str) -> Any:
    """``block[key]`` checked against a JSON type name; None when absent or null."""
    value = block.get(key)
    if value is None:
        return None
    label = f"{where}.{key}"
    if kind == "integer" and (isinstance(value, bool) or not isinstance(value, int)):
        raise FaultSpecError(f"{label} must be an integer")
    if kind == "number":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise FaultSpecError(f"{label} must be a number")
        if not math.isfinite(value):
            raise FaultSpecError(f"{label} must be a finite number")
    if kind == "string" and not isinstance(value, str):
        raise FaultSpecError(f"{label} must be a string")
    if kind == "boolean" and not isinstance(value, bool):
        raise FaultSpecError(f"{label} must be true or false")
    return value


def _one_of(value: str | None, allowed: tuple[str, ...], label: str) -> str | None:
    if value is not None and value not in allowed:
        raise FaultSpecError(f"{label} must be one of {', '.join(allowed)}; got {value!r}")
    return value


def _parse_match(rule: FaultRule, match: dict[str, Any]) -> None:
    method = _typed(match, "method", "string", "match")
    rule.method = _one_of(method.upper() if method else None, METHODS, "match.method")
    rule.path = _typed(match, "path", "string", "match")
    if rule.path is not None:
        try:
            rule._path_re = re.compile(rule.path)
        except re.error as exc:
            raise FaultSpecError(f"match.path is not a valid regular expression: {exc}") from None
    rule.client_id = _typed(match, "client_id", "string", "match")
    rule.nth = _typed(match, "nth", "integer", "match")
    if rule.nth is not None and rule.nth < 1:
        raise FaultSpecError("match.nth counts matching calls from 1; it must be at least 1")
    rule.times = _typed(match, "times", "integer", "match")
    if rule.times is not None and rule.times < 1:
        raise FaultSpecError("match.times must be at least 1 (delete the rule to disable it)")
    probability = _typed(match, "probability", "number", "match")
    rule.probability = 1.0 if probability is None else float(probability)
    if not 0.0 <= rule.probability <= 1.0:
        raise FaultSpecError("match.probability must be between 0 and 1")


def _parse_action(rule: FaultRule, action: dict[str, Any]) -> None:
    rule.status = _typed(action, "status", "integer", "action")
    if rule.status is not None and not 400 <= rule.status <= 599:
        raise FaultSpecError("action.status must be an error status (400-599)")
    rule.error_key = _typed(action, "error_key", "string", "action")
    rule.error_message = _typed(action, "error_message", "string", "action")
    if rule.status is None and (rule.error_key or rule.error_message):
        raise FaultSpecError("action.error_key and action.error_message need action.status")
    latency = _typed(action, "latency_ms", "number", "action") or 0
    if not 0 <= latency <= MAX_LATENCY_MS:
        raise FaultSpecError(f"action.latency_ms must be between 0 and {MAX_LATENCY_MS}")
    rule.latency_ms = latency
    rule.drop = bool(_typed(action, "drop", "boolean", "action"))
    rule.token = _one_of(_typed(action, "token", "string", "action"), TOKEN_FAULTS, "action.token")
    rule.activity = _one_of(
        _typed(action, "activity", "string", "action"), ACTIVITY_ENDINGS, "action.activity"
    )
    if not (rule.status or rule.latency_ms or rule.drop or rule.token or rule.activity):
        raise FaultSpecError("action does nothing: set status, latency_ms, drop, token or activity")


def parse_rule(rule_id: int, spec: Any) -> FaultRule:
    """A rule from its JSON form, or ``FaultSpecError`` naming the first problem."""
    if not isinstance(spec, dict):
        raise FaultSpecError("a fault rule must be a JSON object with 'match' and 'action'")
    unknown = sorted(set(spec) - {"match", "action"})
    if unknown:
        raise FaultSpecError(f"unknown key(s) in the rule: {', '.join(unknown)}")
    match = spec.get("match")
    action = spec.get("action")
    if match is None:
        match = {}
    if not isinstance(match, dict):
        raise FaultSpecError("match must be an object")
    if action is None:
        raise FaultSpecError("action is required")
    if not isinstance(action, dict):
        raise FaultSpecError("action must be an object")
    for name, allowed, block in (("match", _MATCH_KEYS, match), ("action", _ACTION_KEYS, action)):
        extra = sorted(set(block) - allowed)
        if extra:
            raise FaultSpecError(
                f"unknown key(s) in {name}: {', '.join(extra)} "
                f"(known: {', '.join(sorted(allowed))})"
            )
    rule = FaultRule(rule_id=rule_id)
    _parse_match(rule, match)
    _parse_action(rule, action)
    return rule


# -- applying rules ----------------------------------------------------------------
class FaultInjector:
    """The active rules, in the order they were added, and the seeded random they draw on."""

    def __init__(self, seed: int | None = None) -> None:
        self.rules: list[FaultRule] = []
        self._next_id = 1
        self._random = random.Random(seed)

    def clear(self) -> None:
        self.rules.clear()

    def add(self, spec: Any) -> FaultRule:
        """Add a rule from its JSON form: ``{"match": {...}, "action": {...}}``."""
        rule = parse_rule(self._next_id, spec)
        self._next_id += 1
        self.rules.append(rule)
        return rule

    def remove(self, rule_id: int) -> bool:
        """Delete one rule; False when no rule has that id."""
        for index, rule in enumerate(self.rules):
            if rule.rule_id == rule_id:
                del self.rules[index]
                return True
        return False

    def check(self, method: str, path: str, client_id: str | None) -> FaultOutcome | None:
        """The combined outcome of every rule that fires for this request, or None."""
        outcome: FaultOutcome | None = None
        for rule in self.rules:
            if not rule.matches(method, path, client_id):
                continue
            rule.seen += 1
            if rule.nth is not None and rule.seen != rule.nth:
                continue
            if rule.times is not None and rule.fired >= rule.times:
                continue
            if rule.probability < 1.0 and self._random.random() >= rule.probability:
                continue
            rule.fired += 1
            outcome = outcome or FaultOutcome()
            outcome.rule_ids.append(rule.rule_id)
            outcome.latency += rule.latency_ms / 1000.0
            outcome.drop = outcome.drop or rule.drop
            outcome.token = outcome.token or rule.token
            outcome.activity = outcome.activity or rule.activity
            if rule.status is not None and outcome.error is None:
                outcome.error = fault_error(rule.status, rule.error_key, rule.error_message)
        return outcome


def fault_error(status: int, error_key: str | None = None, message: str | None = None) -> CCError:
    """The CC-shaped error a fault answers with; key and message may be overridden."""
    if status == 401:
        default = CCError.unauthorized()
    elif status == 429:
        default = CCError.throttled()
    else:
        key, text = _DEFAULT_ERRORS.get(status, ("sandbox.injected_fault", "Injected fault."))
        default = CCError(status, key, text)
    return CCError(
        status,
        error_key or default.error_key,
        message or default.error_message,
        single_object=default.single_object,
    )
