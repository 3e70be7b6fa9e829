"""``client.segments``: segments (``/segments``).

The operations themselves are generated from CC's operation table (``_generated.py``);
this module is where hand-written conveniences for the group live, so regenerating never
overwrites them.
"""

from __future__ import annotations

from ccbridge.resources._generated import AsyncSegmentsOperations, SegmentsOperations


class Segments(SegmentsOperations):
    """Sync operations on segments."""


class AsyncSegments(AsyncSegmentsOperations):
    """Async operations on segments."""
