"""The bookkeeping of one bulk import or export, shared by the sync and async helpers.

An ``BulkSession`` collects the batches sent, watches their activities and, as each
activity ends, reads its ``activity_errors`` back onto the caller's rows. The helpers on
``client.bulk_activities`` only send, poll and sleep around it. The argument checks every
helper runs before its first request live here too.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from ccbridge._errors import InvalidArgumentError
from ccbridge.bulk._plan import MAX_IMPORT_BYTES, MAX_IMPORT_CONTACTS, OversizedRow
from ccbridge.bulk._results import ImportBatch, ImportResult, Progress, ProgressCallback
from ccbridge.bulk._row_errors import ImportRowProblem, map_activity_errors
from ccbridge.bulk._rows import row_email, to_import_row
from ccbridge.bulk._watch import ActivityWatch
from ccbridge.models.bulk_activities import Activity

MAX_IMPORT_LISTS = 50
MAX_EXPORT_CONTACT_IDS = 500
MAX_EXPORT_LISTS = 50
MAX_EXPORT_TAGS = 50
SMS_PERMISSIONS = ("not_set", "explicit")
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")

Destination = str | os.PathLike[str] | IO[bytes]
CsvSource = str | os.PathLike[str] | IO[bytes] | IO[str]


# -- argument checks ------------------------------------------------------------------------
def check_ids(name: str, value: Any, *, maximum: int, required: bool) -> list[str]:
    """A list of CC UUID ids (lists, tags, contacts), 1..maximum of them."""
    if value is None:
        if required:
            raise InvalidArgumentError(f"{name} is required: a list of 1 to {maximum} ids")
        return []
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        raise InvalidArgumentError(f"{name} must be a list of ids, not {type(value).__name__}")
    ids = list(value)
    if required and not ids:
        raise InvalidArgumentError(f"{name} must name at least one id")
    if len(ids) > maximum:
        raise InvalidArgumentError(f"{name} names {len(ids)} ids; CC takes at most {maximum}")
    for position, item in enumerate(ids):
        if not isinstance(item, str) or not _UUID.match(item):
            raise InvalidArgumentError(f"{name}[{position}] is not an id (a UUID): {item!r}")
    return ids


def check_sms_permission(value: Any) -> str | None:
    if value is not None and value not in SMS_PERMISSIONS:
        raise InvalidArgumentError(
            f"sms_permission_to_send must be one of {', '.join(SMS_PERMISSIONS)}, not {value!r}"
        )
    return value  # type: ignore[no-any-return]


def check_limits(max_contacts: Any, max_bytes: Any, *, lines: bool = False) -> None:
    what = "max_lines" if lines else "max_contacts"
    if isinstance(max_contacts, bool) or not isinstance(max_contacts, int):
        raise InvalidArgumentError(f"{what} must be an integer")
    if not (2 if lines else 1) <= max_contacts <= MAX_IMPORT_CONTACTS:
        raise InvalidArgumentError(
            f"{what} must be between {2 if lines else 1} and {MAX_IMPORT_CONTACTS:,} "
            "(CC drops what is past 40,000)"
        )
    if isinstance(max_bytes, bool) or not isinstance(max_bytes, int):
        raise InvalidArgumentError("max_bytes must be an integer")
    if not 1024 <= max_bytes <= 4 * 1024 * 1024:
        raise InvalidArgumentError("max_bytes must be between 1,024 and 4 MiB")


def check_timeout(timeout: Any) -> float | None:
    if timeout is None:
        return None
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0:
        raise InvalidArgumentError(f"timeout must be a positive number of seconds, not {timeout!r}")
    return float(timeout)


def check_progress(progress: Any) -> ProgressCallback | None:
    if progress is not None and not callable(progress):
        raise InvalidArgumentError("progress must be a callable taking a Progress, or None")
    return progress  # type: ignore[no-any-return]


def prepare_rows(contacts: Any) -> list[tuple[int, dict[str, Any], str | None]]:
    """Every input item as ``(index, import row, email)``, all checked before any request."""
    if isinstance(contacts, (str, bytes, Mapping)) or not isinstance(contacts, Iterable):
        raise InvalidArgumentError(
            "contacts must be an iterable of contacts (mappings of import columns or Contact "
            f"models), not {type(contacts).__name__}"
        )
    prepared = []
    for index, item in enumerate(contacts):
        row = to_import_row(item, index)
        prepared.append((index, row, row_email(row)))
    if not prepared:
        raise InvalidArgumentError("contacts is empty: there is nothing to import")
    return prepared


def check_destination(destination: Any) -> Path | None:
    """The path to write to (its folder must exist), or None for a writable binary stream."""
    if isinstance(destination, (str, os.PathLike)):
        path = Path(destination)
        if not path.parent.is_dir():
            raise InvalidArgumentError(f"destination's folder does not exist: {path.parent}")
        if path.is_dir():
            raise InvalidArgumentError(f"destination is a folder, not a file: {path}")
        return path
    if not callable(getattr(destination, "write", None)):
        raise InvalidArgumentError(
            "destination must be a file path or a binary stream with a write() method"
        )
    return None


def check_source(source: Any) -> Path | None:
    """The CSV file to read, or None for a readable stream."""
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.is_file():
            raise InvalidArgumentError(f"source is not a file: {path}")
        return path
    if not callable(getattr(source, "read", None)):
        raise InvalidArgumentError("source must be a file path or a readable stream")
    return None


def export_body(
    *,
    list_ids: Sequence[str] | None,
    contact_ids: Sequence[str] | None,
    tag_ids: Sequence[str] | None,
    segment_id: int | None,
    new_subscriber: bool | None,
    status: str | None,
    fields: Sequence[str] | None,
    exclude_contact_ids: Sequence[str] | None,
) -> dict[str, Any]:
    """``POST /activities/contact_exports`` body; at most one source of contacts."""
    body: dict[str, Any] = {}
    sources = []
    for name, value, maximum in (
        ("contact_ids", contact_ids, MAX_EXPORT_CONTACT_IDS),
        ("list_ids", list_ids, MAX_EXPORT_LISTS),
        ("tag_ids", tag_ids, MAX_EXPORT_TAGS),
    ):
        if value is not None:
            body[name] = check_ids(name, value, maximum=maximum, required=True)
            sources.append(name)
    if segment_id is not None:
        if isinstance(segment_id, bool) or not isinstance(segment_id, int):
            raise InvalidArgumentError(f"segment_id must be an integer, not {segment_id!r}")
        body["segment_id"] = segment_id
        sources.append("segment_id")
    if new_subscriber is not None:
        if not isinstance(new_subscriber, bool):
            raise InvalidArgumentError("new_subscriber must be True or False")
        if new_subscriber:
            body["new_subscriber"] = True
            if "list_ids" not in sources:  # with list_ids it narrows the lists, CC allows that
                sources.append("new_subscriber")
    if len(sources) > 1:
        raise InvalidArgumentError(
            "give at most one of contact_ids, list_ids, tag_ids, segment_id, new_subscriber; "
            f"got {', '.join(sources)}"
        )
    if status is not None:
        if not isinstance(status, str) or not status:
            raise InvalidArgumentError("status must be a non-empty string")
        body["status"] = status
    if fields is not None:
        if isinstance(fields, str) or not all(isinstance(f, str) and f for f in fields):
            raise InvalidArgumentError("fields must be a list of export field names")
        if not fields:
            raise InvalidArgumentError("fields must name at least one field (or be None for all)")
        body["fields"] = list(fields)
    if exclude_contact_ids is not None:
        ids = check_ids("exclude_contact_ids", exclude_contact_ids, maximum=10**6, required=False)
        if ids:
            body["exclude"] = {"contact_ids": ids}
    return body


def export_file_path(activity: Activity) -> str:
    """The client path of the export's CSV (``/contact_exports/{id}``), from its results link.

    CC's own documentation once spelled the link ``contacts_exports``; the file id is the
    link's last segment either way, so that is what is used.
    """
    href = activity.results_href
    file_id = href.rstrip("/").rsplit("/", 1)[-1] if href else activity.activity_id
    return f"/contact_exports/{file_id}"


# -- one import's bookkeeping ----------------------------------------------------------------
@dataclass
class _Reported:
    percent: float = -1.0


class BulkSession:
    """Batches sent, their activities watched, errors mapped as each activity ends."""

    def __init__(
        self,
        *,
        progress: ProgressCallback | None,
        min_delay: float = 1.0,
        max_delay: float = 30.0,
    ) -> None:
        self.result = ImportResult()
        self.watch = ActivityWatch(min_delay=min_delay, max_delay=max_delay)
        self._progress = progress
        self._reported = _Reported()
        self._batches: dict[str, ImportBatch] = {}

    @classmethod
    def resume(
        cls, result: ImportResult, *, progress: ProgressCallback | None, now: float
    ) -> BulkSession:
        """A session over an earlier (or interrupted) import, to wait for its activities."""
        session = cls(progress=progress)
        session.result = result
        for batch in result.batches:
            session._batches[batch.activity.activity_id] = batch
            session.watch.add(batch.activity, batch.contacts, now)
            session._collect_errors(batch)
        return session

    def add_batch(
        self,
        activity: Activity,
        indexes: Sequence[int],
        emails: Sequence[str | None],
        *,
        size_bytes: int,
        first_row_number: int,
        items: int,
        now: float,
    ) -> None:
        batch = ImportBatch(
            activity=activity,
            indexes=indexes,
            emails=emails,
            size_bytes=size_bytes,
            first_row_number=first_row_number,
        )
        self.result.batches.append(batch)
        self.result.items_submitted += len(indexes)
        self._batches[activity.activity_id] = batch
        self.watch.add(activity, items, now)
        self._collect_errors(batch)

    def reject(self, row: OversizedRow, limit: int) -> None:
        self.result.errors.append(
            ImportRowProblem(
                index=row.index,
                email=row.email,
                message=(
                    f"not sent: this contact alone makes a {row.size:,}-byte import request, "
                    f"past the {limit:,}-byte limit"
                ),
                raw="",
            )
        )

    def reject_records(self, indexes: Iterable[int], limit_text: str) -> None:
        for index in indexes:
            self.result.errors.append(
                ImportRowProblem(
                    index=index,
                    message=f"not sent: this CSV record alone is past {limit_text}",
                    raw="",
                )
            )

    def observe(self, activity: Activity, now: float) -> None:
        """A poll's answer for one of the session's activities."""
        self.watch.update(activity, now)
        batch = self._batches.get(activity.activity_id)
        if batch is not None:
            batch.activity = activity
            self._collect_errors(batch)

    def report_progress(self) -> None:
        if self._progress is None:
            return
        progress: Progress = self.watch.progress()
        if progress.percent > self._reported.percent:
            self._reported.percent = progress.percent
            self._progress(progress)

    def _collect_errors(self, batch: ImportBatch) -> None:
        if batch.errors_mapped or not batch.activity.is_done:
            return
        batch.errors_mapped = True
        self.result.errors.extend(
            map_activity_errors(
                batch.activity.activity_errors,
                batch.indexes,
                batch.emails,
                first_number=batch.first_row_number,
                activity_id=batch.activity.activity_id,
            )
        )

    def sort_errors(self) -> None:
        """Errors in input order (unplaced ones last), whatever order activities ended in."""
        self.result.errors.sort(key=lambda e: (e.index is None, e.index or 0))


DEFAULT_LIMITS = (MAX_IMPORT_CONTACTS, MAX_IMPORT_BYTES)
