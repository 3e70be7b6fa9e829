"""What the sandbox knows about the HTML of a custom-code (format 5) email.

CC refuses custom-code HTML that is too long, that lacks the ``[[trackingImage]]`` open
tracker inside ``<body>``, or that carries template-language sequences (``[#``, ``${``,
``<@``) its renderer would choke on (CC-V3-FACTS §6). The same HTML later drives the
preview endpoint (variables filled in with the account owner's details, a plain-text
version generated from the markup) and the links that the sandbox's click reports use,
so all of that lives here, apart from the HTTP handlers.
"""

from __future__ import annotations

import hashlib
import html as htmllib
import re
from typing import Any

from ccbridge.sandbox.errors import CCError
from ccbridge.sandbox.state import Account

TRACKING_IMAGE = "[[trackingImage]]"
MAX_HTML_CHARS = 150_000
MAX_HTML_BYTES = 400 * 1024
FORBIDDEN_SEQUENCES = ("[#", "${", "<@")

_BODY_OPEN = re.compile(r"<body\b[^>]*>", re.IGNORECASE)
_BODY_CLOSE = re.compile(r"</body\s*>", re.IGNORECASE)
_HREF = re.compile(r"""<a\b[^>]*?\bhref\s*=\s*(?:"([^"]*)"|'([^']*)')""", re.IGNORECASE)
_VARIABLE = re.compile(r"\[\[\s*(.+?)\s*\]\]")
_FALLBACK = re.compile(r'^(.+?)\s+OR\s+"(.*)"$', re.IGNORECASE | re.DOTALL)


def check_html_content(area: str, html: str, label: str = "html_content") -> None:
    """Raise a 400 naming the first thing CC would refuse in custom-code HTML."""
    if len(html) > MAX_HTML_CHARS:
        raise CCError.bad_request(
            area, f"{label} is {len(html)} characters long; the maximum is {MAX_HTML_CHARS}."
        )
    if len(html.encode("utf-8")) > MAX_HTML_BYTES:
        raise CCError.bad_request(area, f"{label} is larger than the 400 KB allowed.")
    for sequence in FORBIDDEN_SEQUENCES:
        if sequence in html:
            raise CCError.bad_request(
                area,
                f"{label} contains '{sequence}', which custom code emails may not use "
                f"(none of {', '.join(repr(s) for s in FORBIDDEN_SEQUENCES)} is allowed).",
            )
    if TRACKING_IMAGE not in html:
        raise CCError.bad_request(
            area, f"{label} must contain {TRACKING_IMAGE} inside <body> so opens can be tracked."
        )
    if TRACKING_IMAGE not in body_of(html):
        raise CCError.bad_request(
            area, f"{label} has {TRACKING_IMAGE} outside the <body> element; move it inside."
        )


def body_of(html: str) -> str:
    """The content of the ``<body>`` element, or the whole text for an HTML fragment."""
    opening = _BODY_OPEN.search(html)
    if opening is None:
        return html
    closing = _BODY_CLOSE.search(html, opening.end())
    return html[opening.end() : closing.start() if closing else len(html)]


def links_in(html: str) -> list[str]:
    """Distinct link URLs in document order; these are what contacts can click."""
    seen: list[str] = []
    for match in _HREF.finditer(html):
        url = (match.group(1) if match.group(1) is not None else match.group(2) or "").strip()
        if url and not url.lower().startswith(("mailto:", "#", "javascript:")) and url not in seen:
            seen.append(url)
    return seen


def url_id(campaign_activity_id: str, url: str) -> str:
    """A stable numeric link id, shaped like CC's (a 13-digit number as a string)."""
    digest = hashlib.sha256(f"{campaign_activity_id}|{url}".encode()).digest()
    return str(1_100_000_000_000 + int.from_bytes(digest[:6], "big") % 900_000_000_000)


# -- previews -------------------------------------------------------------------------
def owner_variables(account: Account) -> dict[str, str]:
    """Values for personalization variables, taken from the account owner as CC does."""
    email = account.contact_email or account.login_email
    return {
        "firstname": account.first_name,
        "lastname": account.last_name,
        "emailaddress": email,
        "email": email,
        "companyname": account.organization_name,
        "organizationname": account.organization_name,
        "accountorganizationname": account.organization_name,
        "accountemail": email,
        "accountphone": account.organization_phone or account.phone,
        "accountwebsite": account.website,
        "website": account.website,
    }


def fill_variables(
    html: str, values: dict[str, str], *, tracking: str = "", keep_unknown: bool = True
) -> str:
    """Replace ``[[name]]`` / ``[[name OR "fallback"]]`` with ``values``.

    Unknown variables stay visible in previews (so a misspelt one shows), or give way to
    their fallback where nothing personal may appear (the permalink).
    """

    def replace(match: re.Match[str]) -> str:
        inner = match.group(1)
        if inner == "trackingImage":
            return tracking
        fallback: str | None = None
        fb = _FALLBACK.match(inner)
        if fb is not None:
            inner, fallback = fb.group(1), fb.group(2)
        key = re.sub(r"[^a-z0-9]", "", inner.lower())
        if key not in values:
            return match.group(0) if keep_unknown else htmllib.escape(fallback or "")
        value = values[key]
        return htmllib.escape(value) if value else htmllib.escape(fallback or "")

    return _VARIABLE.sub(replace, html)


def footer_html(address: dict[str, Any] | None) -> str:
    """The sender block CC appends to every email: organization and physical address."""
    if not address:
        return ""
    parts = [
        address.get("address_line1"),
        address.get("address_line2"),
        address.get("address_line3"),
        address.get("city"),
        address.get("state_code") or address.get("state_non_us_name"),
        address.get("postal_code"),
        address.get("country_code"),
    ]
    line = ", ".join(htmllib.escape(str(p)) for p in parts if p)
    org = htmllib.escape(str(address.get("organization_name") or ""))
    return f'<div class="footer"><p>{org}</p><p>{line}</p><p>Unsubscribe</p></div>'


def preview_html(html: str, account: Account, address: dict[str, Any] | None) -> str:
    """The HTML a preview shows: variables filled from the owner, tracker removed, footer added."""
    return with_footer(fill_variables(html, owner_variables(account)), address)


def with_footer(html: str, address: dict[str, Any] | None) -> str:
    """The HTML with CC's sender footer placed at the end of its body."""
    footer = footer_html(address)
    closing = _BODY_CLOSE.search(html)
    if closing is None:
        return html + footer
    return html[: closing.start()] + footer + html[closing.start() :]


_DROP_BLOCKS = re.compile(r"<(head|style|script|title)\b.*?</\1\s*>", re.IGNORECASE | re.DOTALL)
_COMMENTS = re.compile(r"<!--.*?-->", re.DOTALL)
_ANCHOR = re.compile(
    r"""<a\b[^>]*?\bhref\s*=\s*(?:"([^"]*)"|'([^']*)')[^>]*>(.*?)</a\s*>""",
    re.IGNORECASE | re.DOTALL,
)
_LINE_BREAKS = re.compile(r"<br\s*/?>", re.IGNORECASE)
_BLOCK_ENDS = re.compile(
    r"</(p|div|h[1-6]|tr|li|ul|ol|table|blockquote|section|header|footer)\s*>", re.IGNORECASE
)
_LIST_ITEM = re.compile(r"<li\b[^>]*>", re.IGNORECASE)
_TAGS = re.compile(r"<[^>]+>", re.DOTALL)
_SPACES = re.compile(r"[ \t\r\f\v\u00a0]+")


def html_to_text(html: str) -> str:
    """A readable plain-text rendering: block elements become lines, links keep their URL."""

    def anchor(match: re.Match[str]) -> str:
        url = match.group(1) if match.group(1) is not None else match.group(2) or ""
        label = _TAGS.sub("", match.group(3)).strip()
        if not url or url.startswith("#") or label == url:
            return label or url
        return f"{label} ({url})" if label else url

    text = _COMMENTS.sub("", _DROP_BLOCKS.sub("", html))
    text = _ANCHOR.sub(anchor, text)
    text = _LINE_BREAKS.sub("\n", text)
    text = _BLOCK_ENDS.sub("\n", text)
    text = _LIST_ITEM.sub("\n- ", text)
    text = htmllib.unescape(_TAGS.sub("", text))
    lines: list[str] = []
    for raw in text.split("\n"):
        line = _SPACES.sub(" ", raw).strip()
        if line or (lines and lines[-1]):
            lines.append(line)
    return "\n".join(lines).strip()
