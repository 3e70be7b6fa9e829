"""Keeping bots off the list without making people prove they are human.

Each defence here is small and independent, so a test can exercise each one alone:

- ``RenderTokens``: the page that shows the form carries an HMAC-signed token with the
  form id and the moment it was rendered. A post that arrives sooner than the form's
  minimum fill time, or carries no valid token, was not typed by a person reading the
  page. Only the server's secret can make a token, so a bot cannot forge an older one.
- The honeypot (``check_honeypot``): an input hidden from people and from assistive
  technology. A post that fills it *or leaves it out* (a bot that posts straight to the
  endpoint without loading the page) is spam.
- ``SlidingWindowLimiter``: per-IP and per-form limits; the caller answers 429 with
  ``Retry-After``.
- ``CaptchaVerifier``: a hook for any captcha service; the form asks for it per form.
- ``check_email``: syntax and the shape of the domain, and CC's 50-character limit for
  ``sign_up_form``. This rejects typing mistakes with a 400 the person can fix.

What happens to a post caught by the token or the honeypot is decided by the caller
(``capture.py``): it is kept and flagged, never delivered, and answered exactly like a
good one, so a bot learns nothing from the answer.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
import re
import secrets
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

SIGNUP_EMAIL_MAX = 50
"""``sign_up_form`` accepts at most 50 characters (a contact allows 80; CC-V3-FACTS §10)."""


# -- render tokens ----------------------------------------------------------------------------
@dataclass(frozen=True)
class TokenVerdict:
    """Why a token is unacceptable (``reason``), or None when it is fine."""

    reason: str | None
    age: float | None = None

    @property
    def ok(self) -> bool:
        return self.reason is None


class RenderTokens:
    """Signed ``form_id|rendered_at|nonce`` tokens (HMAC-SHA256 with the server's secret)."""

    def __init__(
        self, secret: bytes | Sequence[bytes], *, clock: Callable[[], float] = time.time
    ) -> None:
        secrets_ = [secret] if isinstance(secret, bytes) else list(secret)
        if not secrets_ or any(len(s) < 16 for s in secrets_):
            raise ValueError("render-token secrets must be at least 16 bytes")
        # The first secret signs; any of them verifies, so a rotated key ring keeps the
        # tokens of pages rendered just before the rotation valid.
        self._secrets = secrets_
        self.clock = clock

    def _sign(self, payload: bytes, secret: bytes | None = None) -> str:
        key = self._secrets[0] if secret is None else secret
        digest = hmac.new(key, b"ccbridge form token\x00" + payload, hashlib.sha256)
        return base64.urlsafe_b64encode(digest.digest()[:18]).decode("ascii")

    def issue(self, form_id: str) -> str:
        rendered_ms = int(self.clock() * 1000)
        payload = f"{form_id}|{rendered_ms}|{secrets.token_urlsafe(9)}".encode()
        body = base64.urlsafe_b64encode(payload).decode("ascii").rstrip("=")
        return f"{body}.{self._sign(payload)}"

    def check(
        self, token: str | None, form_id: str, *, min_age: float, max_age: float
    ) -> TokenVerdict:
        if not token:
            return TokenVerdict("missing_token")
        try:
            body, signature = token.split(".", 1)
            payload = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        except (ValueError, UnicodeEncodeError):
            return TokenVerdict("bad_token")
        if not any(hmac.compare_digest(signature, self._sign(payload, k)) for k in self._secrets):
            return TokenVerdict("bad_token")
        try:
            token_form, rendered_ms, _nonce = payload.decode().split("|", 2)
            rendered = int(rendered_ms) / 1000
        except (ValueError, UnicodeDecodeError):
            return TokenVerdict("bad_token")
        if token_form != form_id:
            return TokenVerdict("wrong_form")
        age = self.clock() - rendered
        if age < min_age:
            return TokenVerdict("too_fast", age)
        if age > max_age:
            return TokenVerdict("expired_token", age)
        return TokenVerdict(None, age)


# -- honeypot -------------------------------------------------------------------------------------
def check_honeypot(values: Mapping[str, Any], field: str) -> str | None:
    """``honeypot_filled`` / ``honeypot_missing``, or None when the trap is intact."""
    if field not in values:
        return "honeypot_missing"
    value = values[field]
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return "honeypot_filled"


# -- rate limits ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Limit:
    """At most ``count`` events per ``period`` seconds."""

    count: int
    period: float = 60.0


class SlidingWindowLimiter:
    """Exact sliding-window counters in memory, one deque of times per key.

    ``hit`` either records the event and returns 0, or returns the seconds until the oldest
    event in the window leaves it (what ``Retry-After`` should say). Refused events are not
    recorded, so someone who keeps retrying is not locked out longer than the window.
    A process-local limit is the right scope for a single web process; several web
    processes each enforce it, which multiplies the effective limit by their number.
    """

    def __init__(self, *, clock: Callable[[], float] = time.monotonic, max_keys: int = 100_000):
        self.clock = clock
        self._lock = threading.Lock()
        self._events: dict[str, deque[float]] = {}
        self._max_keys = max_keys

    def hit(self, key: str, limit: Limit) -> float:
        now = self.clock()
        with self._lock:
            events = self._events.get(key)
            if events is None:
                if len(self._events) >= self._max_keys:
                    self._forget_idle(now, limit.period)
                events = self._events[key] = deque()
            while events and events[0] <= now - limit.period:
                events.popleft()
            if len(events) >= limit.count:
                return max(events[len(events) - limit.count] + limit.period - now, 0.001)
            events.append(now)
            return 0.0

    def _forget_idle(self, now: float, period: float) -> None:
        for key in [k for k, v in self._events.items() if not v or v[-1] <= now - period]:
            del self._events[key]

    def reset(self) -> None:
        with self._lock:
            self._events.clear()


def retry_after_header(seconds: float) -> str:
    """Whole seconds, rounded up, at least 1 (``Retry-After`` takes an integer)."""
    return str(max(1, math.ceil(seconds)))


# -- captcha -------------------------------------------------------------------------------------------
class CaptchaVerifier(Protocol):
    """Checks a captcha response with its provider (hCaptcha, Turnstile, reCAPTCHA...).

    Return True when the provider confirms a person solved it, False when it says they did
    not (the post is refused with a 400 the person can act on). An exception means the
    provider could not be asked: the signup is then kept but flagged ``captcha_unchecked``
    for an admin to approve, rather than lost or delivered unchecked.
    """

    def __call__(self, response: str, remote_ip: str | None) -> bool | Awaitable[bool]: ...


# -- email ------------------------------------------------------------------------------------------------
_LOCAL_RE = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$")
_LABEL_RE = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_TLD_RE = re.compile(r"^([a-z]{2,63}|xn--[a-z0-9-]{2,59})$")


def check_email(raw: str) -> tuple[str | None, str | None]:
    """(normalised address, None) or (None, what is wrong, in words a person understands).

    Syntax: one ``@``, a dot-atom local part of at most 64 characters. Domain shape: at
    least two labels, each 1–63 letters, digits or hyphens not at either end, and a top
    level that is alphabetic (or an IDN ``xn--`` label); an internationalised domain is
    converted to its ASCII form first. The domain is lower-cased (domains are not case
    sensitive; local parts may be, so they are kept as typed).
    """
    text = raw.strip()
    if not text:
        return None, "is required"
    if text.count("@") != 1:
        return None, "must be an email address like name@example.com"
    local, domain = text.split("@")
    if not local or len(local) > 64 or not _LOCAL_RE.match(local):
        return None, "has an invalid part before the @"
    try:
        ascii_domain = domain.encode("idna").decode("ascii").lower()
    except UnicodeError:
        return None, "has an invalid domain after the @"
    labels = ascii_domain.split(".")
    if len(labels) < 2 or not all(_LABEL_RE.match(label) for label in labels):
        return None, "has an invalid domain after the @ (like example.com)"
    if not _TLD_RE.match(labels[-1]):
        return None, "has a domain whose last part is not a top-level domain"
    address = f"{local}@{ascii_domain}"
    if len(address) > SIGNUP_EMAIL_MAX:
        return None, f"is {len(address)} characters long; at most {SIGNUP_EMAIL_MAX} are accepted"
    return address, None


SPAM_REASON_TEXT = {
    "honeypot_filled": "the hidden trap field was filled in (people never see it; bots do)",
    "honeypot_missing": "the hidden trap field was left out (the post did not come from the form)",
    "missing_token": "no render token (the post did not come from a page of the form)",
    "bad_token": "a forged or damaged render token",
    "wrong_form": "a render token of another form",
    "expired_token": "the page was older than the form allows",
    "too_fast": "sent faster than the minimum fill time",
    "captcha_unavailable": "the form asks for a captcha but no verifier is configured",
    "captcha_unchecked": "the captcha could not be checked (the verifier failed)",
}
"""Why a submission was kept aside, in words for the person reviewing it."""
