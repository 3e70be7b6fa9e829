"""Segments (``/segments``); unlike most CC ids, ``segment_id`` is an integer."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from ccbridge.models._base import CCModel


class Segment(CCModel):
    """A segment; ``segment_criteria`` (a JSON string) only on a single segment's GET."""

    segment_id: int | None = None
    name: str | None = None
    segment_criteria: str | None = None
    created_at: datetime | None = None
    edited_at: datetime | None = None

    def criteria(self) -> Any:
        """``segment_criteria`` decoded from its JSON string (None when absent or not JSON)."""
        if self.segment_criteria is None:
            return None
        try:
            return json.loads(self.segment_criteria)
        except ValueError:
            return None
