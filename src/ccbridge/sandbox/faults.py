"""Fault injection: rules that make the sandbox misbehave the way CC sometimes does.

A rule matches requests by method, path (a regular expression searched in the path),
client_id, which matching call it is (``nth``, 1-based; or every call), how many times it
may fire, and a probability. When it fires it answers a status with a CC-shaped body,
adds latency, drops the connection, treats the caller's token as expired or revoked, or
makes the next bulk activity end failed / timed_out / cancelled.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from typing import Any

from ccbridge.sandbox.errors import CCError

_ACTIVITY_ENDINGS = ("failed", "timed_out", "cancelled")
_TOKEN_FAULTS = ("expired", "revoked")


class FaultSpecError(ValueError):
    """A fault rule sent to the control plane is malformed; the message says where."""


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
    latency_ms: int = 0
    drop: bool = False
    token: str | None = None
    activity: str | None = None
    seen: int = 0
    fired: int = 0
    _path_re: re.Pattern[str] | None = field(default=None, repr=False)

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
    """What the dispatcher must do for one request."""

    error: CCError | None = None
    latency: float = 0.0
    drop: bool = False
    token: str | None = None
    activity: str | None = None
    rule_ids: list[int] = field(default_factory=list)


def _opt(body: dict[str, Any], key: str, kind: type, where: str) -> Any:
    value = body.get(key)
    if value is None:
        return None
    if kind is int and (isinstance(value, bool) or not isinstance(value, int)):
        raise FaultSpecError(f"{where}.{key} must be an integer")
    if kind is float and (isinstance(value, bool) or not isinstance(value, (int, float))):
        raise FaultSpecError(f"{where}.{key} must be a number")
    if kind is str and not isinstance(value, str):
        raise FaultSpecError(f"{where}.{key} must be a string")
    if kind is bool and not isinstance(value, bool):
        raise FaultSpecError(f"{where}.{key} must be true or false")
    return value


class FaultInjector:
    def __init__(self, seed: int | None = None) -> None:
        self.rules: list[FaultRule] = []
        self._next_id = 1
        self._random = random.Random(seed)

    def clear(self) -> None:
        self.rules.clear()

    def add(self, spec: Any) -> FaultRule:
        """Add a rule from its JSON form: ``{"match": {...}, "action": {...}}``."""
        if not isinstance(spec, dict):
            raise FaultSpecError("a fault rule must be a JSON object with 'match' and 'action'")
        unknown = set(spec) - {"match", "action"}
        if unknown:
            raise FaultSpecError(f"unknown key(s) in the rule: {', '.join(sorted(unknown))}")
        match = spec.get("match") or {}
        action = spec.get("action")
        if not isinstance(match, dict):
            raise FaultSpecError("match must be an object")
        if not isinstance(action, dict) or not action:
            raise FaultSpecError("action is required and must be a non-empty object")
        allowed_match = {"method", "path", "client_id", "nth", "times", "probability"}
        allowed_action = {
            "status",
            "error_key",
            "error_message",
            "latency_ms",
            "drop",
            "token",
            "activity",
        }
        for name, allowed, block in (
            ("match", allowed_match, match),
            ("action", allowed_action, action),
        ):
            extra = set(block) - allowed
            if extra:
                raise FaultSpecError(f"unknown key(s) in {name}: {', '.join(sorted(extra))}")
        rule = FaultRule(rule_id=self._next_id)
        rule.method = _opt(match, "method", str, "match")
        rule.path = _opt(match, "path", str, "match")
        rule.client_id = _opt(match, "client_id", str, "match")
        rule.nth = _opt(match, "nth", int, "match")
        rule.times = _opt(match, "times", int, "match")
        probability = _opt(match, "probability", float, "match")
        rule.probability = 1.0 if probability is None else float(probability)
        if not 0.0 <= rule.probability <= 1.0:
            raise FaultSpecError("match.probability must be between 0 and 1")
        if rule.nth is not None and rule.nth < 1:
            raise FaultSpecError("match.nth counts from 1")
        if rule.path is not None:
            try:
                rule._path_re = re.compile(rule.path)
            except re.error as exc:
                raise FaultSpecError(
                    f"match.path is not a valid regular expression: {exc}"
                ) from None
        rule.status = _opt(action, "status", int, "action")
        if rule.status is not None and not 400 <= rule.status <= 599:
            raise FaultSpecError("action.status must be an error status (400-599)")
        rule.error_key = _opt(action, "error_key", str, "action")
        rule.error_message = _opt(action, "error_message", str, "action")
        rule.latency_ms = _opt(action, "latency_ms", int, "action") or 0
        if rule.latency_ms < 0 or rule.latency_ms > 600_000:
            raise FaultSpecError("action.latency_ms must be between 0 and 600000")
        rule.drop = bool(_opt(action, "drop", bool, "action"))
        rule.token = _opt(action, "token", str, "action")
        if rule.token is not None and rule.token not in _TOKEN_FAULTS:
            raise FaultSpecError(f"action.token must be one of {', '.join(_TOKEN_FAULTS)}")
        rule.activity = _opt(action, "activity", str, "action")
        if rule.activity is not None and rule.activity not in _ACTIVITY_ENDINGS:
            raise FaultSpecError(f"action.activity must be one of {', '.join(_ACTIVITY_ENDINGS)}")
        self._next_id += 1
        self.rules.append(rule)
        return rule

    def check(self, method: str, path: str, client_id: str | None) -> FaultOutcome | None:
        outcome: FaultOutcome | None = None
        for rule in self.rules:
            if rule.method and rule.method.upper() != method:
                continue
            if rule._path_re is not None and not rule._path_re.search(path):
                continue
            if rule.client_id and rule.client_id != client_id:
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
                outcome.error = _fault_error(rule)
        return outcome


def _fault_error(rule: FaultRule) -> CCError:
    status = rule.status or 500
    if status == 429:
        default = CCError.throttled()
    elif status == 401:
        default = CCError.unauthorized()
    else:
        default = CCError(
            status,
            {
                500: "server_error",
                502: "bad_gateway",
                503: "service_unavailable",
                504: "gateway_timeout",
            }.get(status, "sandbox.injected_fault"),
            {503: "Service Unavailable", 500: "Internal Server Error"}.get(
                status, "Injected fault"
            ),
        )
    if rule.error_key or rule.error_message:
        return CCError(
            status,
            rule.error_key or default.error_key,
            rule.error_message or default.error_message,
            single_object=default.single_object,
        )
    return default
