"""Bulk helpers: imports of any size, waiting on activities, CSV exports that stream.

The I/O lives on ``client.bulk_activities`` (``import_contacts``, ``import_csv_file``,
``wait_for_activity``, ``wait_for_import``, ``export_contacts_csv``, sync and async);
this package holds the parts that do not wait — splitting imports within CC's limits,
reading activity errors back onto input rows, deciding when to poll — and the result
types.
"""

from __future__ import annotations

from ccbridge.bulk._plan import MAX_IMPORT_BYTES, MAX_IMPORT_CONTACTS
from ccbridge.bulk._results import (
    ActivityWaitTimeout,
    BulkImportError,
    ExportFailedError,
    ExportResult,
    ImportBatch,
    ImportResult,
    Progress,
    ProgressCallback,
)
from ccbridge.bulk._row_errors import ImportRowProblem, parse_error_line

__all__ = [
    "MAX_IMPORT_BYTES",
    "MAX_IMPORT_CONTACTS",
    "ActivityWaitTimeout",
    "BulkImportError",
    "ExportFailedError",
    "ExportResult",
    "ImportBatch",
    "ImportResult",
    "ImportRowProblem",
    "Progress",
    "ProgressCallback",
    "parse_error_line",
]
