"""Reading an import activity's ``activity_errors`` and pointing each at the caller's input.

CC reports per-row problems of an import as strings in ``activity_errors``. The sandbox
writes ``Row <n> (<email>): <problem>``, with ``<n>`` the 1-based position in
``import_data`` (JSON) or the file's record number counting the header as row 1 (CSV);
CC documents no exact wording, so the parser is lenient: ``Row``/``Line``/``Record``, an
optional ``#`` or ``No.``, an optional parenthesised email, and any separator. When the
email is there it is used to confirm the row, or to find it if the number looks shifted
by a line or two (a CSV header counted or not). A line that cannot be placed is still
reported, with ``index=None`` — an error is never dropped.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

_ROW_LINE = re.compile(
    r"""^\s*(?:row|line|record)\s*(?:\#|no\.?|number)?\s*(?P<number>\d+)
        \s*(?:\((?P<label>[^)]*)\))?\s*[:\-–—.,]?\s*(?P<message>.*)$""",
    re.IGNORECASE | re.VERBOSE | re.DOTALL,
)
_EMAIL_LIKE = re.compile(r"[^\s@()<>,;:]+@[^\s@()<>,;:]+")
_NO_EMAIL_LABELS = frozenset({"", "no email", "none", "n/a"})
_LABEL_LIMIT = 100  # CC's lines (like the sandbox's) may cut a long email short
_NEARBY = (0, -1, 1, -2, 2)


@dataclass(frozen=True)
class ImportRowProblem:
    """One problem with one input item, as CC reported it (or as ccbridge found it).

    ``index`` is the caller's position: the 0-based position in the iterable given to
    ``import_contacts``, or the 0-based data-record position in the file given to
    ``import_csv_file`` (the header is not counted). It is None only when the line could
    not be tied to a row. ``activity_id`` is None for rows ccbridge refused to send.
    """

    index: int | None
    message: str
    raw: str
    email: str | None = None
    row_number: int | None = None  # the row number CC used within its own import
    activity_id: str | None = None


@dataclass(frozen=True)
class ParsedLine:
    number: int | None
    email: str | None
    message: str


def parse_error_line(line: str) -> ParsedLine:
    """Split one ``activity_errors`` line into row number, email and problem."""
    match = _ROW_LINE.match(line)
    if match is None:
        found = _EMAIL_LIKE.search(line)
        return ParsedLine(None, found.group(0) if found else None, line.strip())
    label = (match.group("label") or "").strip()
    email = None if label.lower() in _NO_EMAIL_LABELS else label
    return ParsedLine(int(match.group("number")), email, match.group("message").strip() or line)


def _same_email(reported: str, sent: str | None) -> bool:
    if sent is None:
        return False
    a, b = reported.strip().lower(), sent.strip().lower()
    return a == b or (len(a) >= _LABEL_LIMIT and b.startswith(a))


def locate_row(parsed: ParsedLine, emails: Sequence[str | None], first_number: int) -> int | None:
    """The 0-based position within the import of the row a parsed line is about."""
    if parsed.number is not None:
        guess = parsed.number - first_number
        if parsed.email is None:
            return guess if 0 <= guess < len(emails) else None
        for shift in _NEARBY:
            position = guess + shift
            if 0 <= position < len(emails) and _same_email(parsed.email, emails[position]):
                return position
    if parsed.email is not None:
        matches = [i for i, sent in enumerate(emails) if _same_email(parsed.email, sent)]
        if len(matches) == 1:
            return matches[0]
    if parsed.number is not None:
        guess = parsed.number - first_number
        return guess if 0 <= guess < len(emails) else None
    return None


def map_activity_errors(
    lines: Sequence[str],
    indexes: Sequence[int],
    emails: Sequence[str | None],
    *,
    first_number: int,
    activity_id: str | None,
) -> list[ImportRowProblem]:
    """Every error line of one import, tied to the caller's index where possible."""
    errors: list[ImportRowProblem] = []
    for line in lines:
        parsed = parse_error_line(line)
        position = locate_row(parsed, emails, first_number)
        errors.append(
            ImportRowProblem(
                index=indexes[position] if position is not None else None,
                message=parsed.message,
                raw=line,
                email=parsed.email,
                row_number=parsed.number,
                activity_id=activity_id,
            )
        )
    return errors
