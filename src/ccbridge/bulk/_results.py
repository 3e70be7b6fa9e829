"""What the bulk helpers return, and the errors only they raise."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from ccbridge._errors import CCBridgeError
from ccbridge.bulk._row_errors import ImportRowProblem
from ccbridge.models.bulk_activities import Activity


@dataclass(frozen=True)
class Progress:
    """How far one or more activities have got, for a progress callback.

    ``percent`` never goes down between two calls of one wait; ``items_total`` is the
    number of contacts (or CSV lines) the activities cover.
    """

    percent: float
    items_total: int
    activities: tuple[Activity, ...]

    @property
    def done(self) -> bool:
        return all(a.is_done for a in self.activities)


ProgressCallback = Callable[[Progress], None]


@dataclass
class ImportBatch:
    """One import request sent to CC and the activity it started.

    ``indexes`` are the caller's positions of the rows in it, in the order sent; ``emails``
    are their emails (to confirm which row an error line is about).
    """

    activity: Activity
    indexes: Sequence[int]
    emails: Sequence[str | None]
    size_bytes: int
    first_row_number: int  # how CC numbers the first row: 1 for JSON, 2 for CSV (header)
    errors_mapped: bool = False

    @property
    def contacts(self) -> int:
        return len(self.indexes)


@dataclass
class ImportResult:
    """The outcome of ``import_contacts`` / ``import_csv_file``.

    ``errors`` holds every problem: the ones CC reported (tied to the caller's input
    positions) and rows ccbridge refused to send. ``ok`` is True when every import
    activity completed and no row had a problem.
    """

    batches: list[ImportBatch] = field(default_factory=list)
    errors: list[ImportRowProblem] = field(default_factory=list)
    items_submitted: int = 0

    @property
    def activities(self) -> list[Activity]:
        return [b.activity for b in self.batches]

    @property
    def activity_ids(self) -> list[str]:
        return [b.activity.activity_id for b in self.batches]

    @property
    def finished(self) -> bool:
        """Whether every import activity has ended (the errors are then complete)."""
        return all(b.activity.is_done for b in self.batches)

    @property
    def failed_batches(self) -> list[ImportBatch]:
        """Imports that ended failed, cancelled or timed out: their rows may not all be in."""
        return [b for b in self.batches if b.activity.is_done and not b.activity.succeeded]

    @property
    def ok(self) -> bool:
        return self.finished and not self.failed_batches and not self.errors

    @property
    def error_indexes(self) -> set[int]:
        """Input positions with at least one problem."""
        return {e.index for e in self.errors if e.index is not None}

    @property
    def unplaced_errors(self) -> list[ImportRowProblem]:
        """Error lines that could not be tied to an input row (kept, never dropped)."""
        return [e for e in self.errors if e.index is None]

    def errors_by_index(self) -> dict[int, list[ImportRowProblem]]:
        grouped: dict[int, list[ImportRowProblem]] = {}
        for error in self.errors:
            if error.index is not None:
                grouped.setdefault(error.index, []).append(error)
        return grouped


@dataclass
class ExportResult:
    """A finished contact export: its activity and how much CSV was written where."""

    activity: Activity
    bytes_written: int
    path: str | None = None


class ActivityWaitTimeout(CCBridgeError):
    """Waiting for activities ran past the caller's ``timeout``; they may still finish.

    ``activities`` are the last states seen, so the caller can resume with their ids.
    """

    def __init__(self, message: str, activities: Sequence[Activity]) -> None:
        super().__init__(message)
        self.activities = list(activities)


class BulkImportError(CCBridgeError):
    """An import stopped part-way: some requests were sent, the rest were not.

    ``result`` holds the batches CC accepted (their activities run on; pass it to
    ``wait_for_import``). ``not_submitted`` lists the input positions known not to have
    been sent; ``resume_from`` is the first position not sent (for a CSV file read as a
    stream, the records after it were never read). The original error is the
    ``__cause__``.
    """

    def __init__(
        self,
        message: str,
        result: ImportResult,
        not_submitted: Sequence[int],
        resume_from: int | None = None,
    ) -> None:
        super().__init__(message)
        self.result = result
        self.not_submitted = list(not_submitted)
        self.resume_from = (
            resume_from if resume_from is not None else min(self.not_submitted, default=None)
        )


class ExportFailedError(CCBridgeError):
    """The export activity ended without a file (failed, cancelled or timed out)."""

    def __init__(self, message: str, activity: Activity) -> None:
        super().__init__(message)
        self.activity = activity
