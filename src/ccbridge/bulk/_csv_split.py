"""Cutting a contacts CSV file into files CC imports whole.

CC reads at most 40,000 lines (the header included) and 4 MB of an import file and drops
the rest without a word (CC-V3-FACTS §5). So a big file is re-cut into parts that stay
inside both limits, each starting with the original header, and sent one by one: nothing
is lost. The file is read as CSV records, not text lines, so a quoted value spanning
several lines is never split; a record's lines all count towards the line limit.

Records are written back with Python's CSV writer (RFC 4180 quoting, CRLF line ends), so
the parts may quote differently from the original but hold the same values. Records with
no value at all carry no contact and are not sent; they still count in the record
positions reported back to the caller, which are 0-based positions of data records in the
original file (the header is not counted).
"""

from __future__ import annotations

import csv
import io
from array import array
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO

from ccbridge._errors import InvalidArgumentError
from ccbridge.bulk._plan import MAX_IMPORT_BYTES, MAX_IMPORT_CONTACTS

IDENTITY_COLUMNS = ("email", "sms_number")


@dataclass
class CsvPart:
    """One file to upload, and where each of its data rows came from."""

    content: bytes
    indexes: array[int] = field(default_factory=lambda: array("q"))
    emails: list[str | None] = field(default_factory=list)
    lines: int = 0

    @property
    def rows(self) -> int:
        return len(self.indexes)


class _RecordWriter:
    """Serialises one record at a time to CSV text (reusing one buffer)."""

    def __init__(self) -> None:
        self._buffer = io.StringIO()
        self._writer = csv.writer(self._buffer, lineterminator="\r\n")

    def text(self, record: list[str]) -> str:
        self._buffer.seek(0)
        self._buffer.truncate()
        self._writer.writerow(record)
        return self._buffer.getvalue()


def open_text(stream: IO[bytes] | IO[str]) -> tuple[IO[str], IO[bytes] | None]:
    """A text view of ``stream`` (UTF-8, BOM dropped) and the binary stream it wraps, if any."""
    if isinstance(stream, io.TextIOBase):
        return stream, None
    binary: IO[bytes] = stream  # type: ignore[assignment]
    return io.TextIOWrapper(binary, encoding="utf-8-sig", newline=""), binary


class CsvSplitter:
    """Reads a contacts CSV and yields ``CsvPart``s within CC's limits."""

    def __init__(
        self,
        text: IO[str],
        *,
        max_lines: int = MAX_IMPORT_CONTACTS,
        max_bytes: int = MAX_IMPORT_BYTES,
    ) -> None:
        self._reader = csv.reader(text)
        self._writer = _RecordWriter()
        self.max_lines = max_lines
        self.max_bytes = max_bytes
        header = self._next_record(-1)
        if header is None or not any(cell.strip() for cell in header):
            raise InvalidArgumentError("the CSV file is empty: it needs a header row")
        self.header = header
        names = [cell.strip().lower() for cell in header]
        if not any(name in names for name in IDENTITY_COLUMNS):
            raise InvalidArgumentError(
                "the CSV file's header needs an 'email' or an 'sms_number' column; it has "
                + ", ".join(repr(c) for c in header)
            )
        self.email_column = names.index("email") if "email" in names else None
        header_text = self._writer.text(header)
        self._header_bytes = header_text.encode("utf-8")
        self._header_lines = header_text.count("\n")
        if self._header_lines + 1 > max_lines or len(self._header_bytes) >= max_bytes:
            raise InvalidArgumentError("the CSV file's header alone is past CC's import limits")
        self.records_read = 0
        self.oversized: list[int] = []  # records too big to fit in any part

    def _next_record(self, index: int) -> list[str] | None:
        try:
            return next(self._reader, None)
        except UnicodeDecodeError as exc:
            where = "in the header" if index < 0 else f"at data record {index}"
            raise InvalidArgumentError(
                f"the CSV file is not UTF-8 text (a bad byte {where}: {exc.reason})"
            ) from None
        except csv.Error as exc:
            where = "in the header" if index < 0 else f"at data record {index}"
            raise InvalidArgumentError(f"the CSV file is not valid CSV {where}: {exc}") from None

    def _new_part(self) -> tuple[CsvPart, list[bytes], int]:
        return (
            CsvPart(content=b"", lines=self._header_lines),
            [self._header_bytes],
            len(self._header_bytes),
        )

    def parts(self) -> Iterator[CsvPart]:
        part, pieces, size = self._new_part()
        index = 0
        while True:
            record = self._next_record(index)
            if record is None:
                break
            position = index
            index += 1
            self.records_read = index
            if not any(cell.strip() for cell in record):
                continue
            text = self._writer.text(record)
            data = text.encode("utf-8")
            lines = text.count("\n")
            if part.rows and (
                part.lines + lines > self.max_lines or size + len(data) > self.max_bytes
            ):
                part.content = b"".join(pieces)
                yield part
                part, pieces, size = self._new_part()
            if part.lines + lines > self.max_lines or size + len(data) > self.max_bytes:
                self.oversized.append(position)
                continue
            pieces.append(data)
            size += len(data)
            part.lines += lines
            part.indexes.append(position)
            part.emails.append(self._email(record))
        if part.rows:
            part.content = b"".join(pieces)
            yield part

    def count_records(self) -> int:
        """Read (and check) the rest of the file without keeping it; the data record count."""
        index = 0
        while self._next_record(index) is not None:
            index += 1
        self.records_read = index
        return index

    def _email(self, record: list[str]) -> str | None:
        column = self.email_column
        if column is None or column >= len(record):
            return None
        value = record[column].strip()
        return value or None


def validate_csv(text: IO[str]) -> int:
    """Read a whole file once to find encoding and CSV errors before anything is sent.

    Returns the number of data records.
    """
    splitter = CsvSplitter(text)
    return splitter.count_records()
