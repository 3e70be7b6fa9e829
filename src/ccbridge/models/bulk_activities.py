"""Bulk activities (``/activities``): CC's asynchronous jobs, read while they run.

Every bulk endpoint answers with some variant of one Activity object (ActivityImport,
ActivityExportStatus, ActivityGeneric, …) that differ only in which ``status`` counters
they carry and in one detail: the tag-delete variant lists its errors as
``{"message": ...}`` objects instead of strings. One ``Activity`` model reads them all; the
errors are always strings on the model.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BeforeValidator, Field

from ccbridge.models._base import CCModel, Link, PageLinks, links_field

TERMINAL_STATES = frozenset({"completed", "failed", "cancelled", "timed_out"})
"""States an activity never leaves (CC-V3-FACTS §5)."""


def _error_text(value: Any) -> Any:
    if isinstance(value, dict):
        message = value.get("message")
        return str(message) if message is not None else str(value)
    return value


ActivityErrorText = Annotated[str, BeforeValidator(_error_text)]


class ActivityStatus(CCModel):
    """The per-kind counters; which ones appear depends on the kind of activity."""

    items_total_count: int | None = None
    items_completed_count: int | None = None
    person_count: int | None = None
    error_count: int | None = None
    correctable_count: int | None = None
    cannot_add_to_list_count: int | None = None
    list_count: int | None = None


class ActivityLinks(CCModel):
    """``self`` (the activity) and, for exports, ``results`` (the CSV file)."""

    self_: Link | None = Field(default=None, alias="self")
    results: Link | None = None


class Activity(CCModel):
    """A bulk activity: initialized → processing → completed, failed, cancelled or timed_out."""

    activity_id: str
    state: str
    created_at: datetime | None = None
    updated_at: datetime | None = None
    started_at: datetime | None = None
    completed_at: datetime | None = None
    source_file_name: str | None = None
    percent_done: int | None = None
    activity_errors: list[ActivityErrorText] = Field(default_factory=list)
    status: ActivityStatus | None = None
    links: ActivityLinks | None = links_field()

    @property
    def is_done(self) -> bool:
        """Whether the activity has ended, successfully or not."""
        return self.state in TERMINAL_STATES

    @property
    def succeeded(self) -> bool:
        return self.state == "completed"

    @property
    def percent(self) -> float:
        """Progress in percent: ``percent_done``, else derived from the item counters."""
        if self.state == "completed":
            return 100.0
        if self.percent_done is not None:
            return float(min(max(self.percent_done, 0), 100))
        status = self.status
        if status and status.items_total_count and status.items_completed_count is not None:
            return min(100.0, 100.0 * status.items_completed_count / status.items_total_count)
        return 0.0

    @property
    def results_href(self) -> str | None:
        """For a completed export: the link to its CSV file."""
        results = self.links.results if self.links is not None else None
        return results.href if results is not None else None


class ActivitiesPage(CCModel):
    """One page of ``GET /activities`` (activities of the past 10 days)."""

    activities: list[Activity] = Field(default_factory=list)
    links: PageLinks | None = links_field()
