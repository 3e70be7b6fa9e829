"""``client.reporting``: every reporting operation: email, contact, landing-page and SMS reports (``/reports``).

The operations themselves are generated from CC's operation table (``_generated.py``);
this module is where hand-written conveniences for the group live, so regenerating never
overwrites them.
"""

from __future__ import annotations

from ccbridge.resources._generated import AsyncReportingOperations, ReportingOperations


class Reporting(ReportingOperations):
    """Sync operations on every reporting operation: email, contact, landing-page and SMS reports."""


class AsyncReporting(AsyncReportingOperations):
    """Async operations on every reporting operation: email, contact, landing-page and SMS reports."""
