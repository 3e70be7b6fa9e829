"""When to poll which activity: a pure schedule, shared by the sync and async waits.

Polling is not free: every GET counts against CC's 4/s and 10,000/day per application.
So rather than polling every activity on a fixed beat, the schedule learns how fast CC
is working through items (from any activity that has made progress, measured on CC's
own timestamps, so clock skew does not matter) and polls each activity about when it
should be finished. Until it knows a rate it probes only the oldest activity, backing off
exponentially (1 s, 2 s, 4 s, … up to ``max_delay``), as it also does for an activity
that is not moving (queued behind others at CC).

The schedule never sleeps or reads a clock: callers pass ``now`` (the client's clock).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ccbridge.bulk._results import Progress
from ccbridge.models.bulk_activities import Activity

SLACK = 0.25
"""Seconds added to an estimated finishing time, so the poll lands just after it."""


@dataclass
class _Watched:
    activity: Activity
    items: int  # what the activity works through (contacts, CSV lines)
    anchor: float  # our clock when CC created it (when its POST was answered)
    last_poll: float | None = None
    polls: int = 0
    next_at: float = 0.0


def _rate_of(activity: Activity, items: int) -> float | None:
    """Items per second the activity has been processed at, from CC's timestamps."""
    start = activity.created_at
    if start is None or items <= 0:
        return None
    if activity.succeeded and activity.completed_at is not None:
        elapsed = (activity.completed_at - start).total_seconds()
        return items / elapsed if elapsed > 0 else None
    if activity.state == "processing" and activity.updated_at is not None:
        done = items * activity.percent / 100.0
        elapsed = (activity.updated_at - start).total_seconds()
        if done > 0 and elapsed > 0:
            return done / elapsed
    return None


class ActivityWatch:
    """Tracks activities being waited for and says which to poll next, and when."""

    def __init__(self, *, min_delay: float = 1.0, max_delay: float = 30.0) -> None:
        self.min_delay = min_delay
        self.max_delay = max_delay
        self._watched: dict[str, _Watched] = {}
        self._rate: float | None = None
        self._best_percent = 0.0

    def add(self, activity: Activity, items: int, now: float) -> None:
        """Start watching an activity CC just created (or one already running)."""
        self._watched[activity.activity_id] = _Watched(activity, max(items, 1), now)
        self._learn(activity, max(items, 1))
        self._reschedule()

    def update(self, activity: Activity, now: float) -> None:
        """Record a poll's answer."""
        watched = self._watched[activity.activity_id]
        watched.activity = activity
        watched.last_poll = now
        watched.polls += 1
        self._learn(activity, watched.items)
        self._reschedule()

    @property
    def activities(self) -> list[Activity]:
        return [w.activity for w in self._watched.values()]

    def pending(self) -> list[str]:
        return [aid for aid, w in self._watched.items() if not w.activity.is_done]

    @property
    def all_done(self) -> bool:
        return not self.pending()

    def next_poll_at(self) -> float | None:
        """When the next poll is due (None when every activity has ended)."""
        due = [w.next_at for w in self._watched.values() if not w.activity.is_done]
        return min(due) if due else None

    def next_poll_at_for(self, activity_id: str) -> float:
        """When one activity is next due to be polled."""
        return self._watched[activity_id].next_at

    def due(self, now: float) -> list[str]:
        """Activities to poll now, oldest first."""
        return [
            aid
            for aid, w in self._watched.items()
            if not w.activity.is_done and w.next_at <= now + 1e-9
        ]

    def progress(self) -> Progress:
        """Overall progress, weighted by item counts and never going down."""
        watched = list(self._watched.values())
        total = sum(w.items for w in watched)
        done = sum(w.items * w.activity.percent / 100.0 for w in watched)
        percent = 100.0 * done / total if total else 100.0
        if watched and all(w.activity.is_done for w in watched):
            percent = 100.0 if all(w.activity.succeeded for w in watched) else percent
        self._best_percent = max(self._best_percent, round(percent, 2))
        return Progress(
            percent=self._best_percent,
            items_total=total,
            activities=tuple(w.activity for w in watched),
        )

    # -- scheduling -------------------------------------------------------------------------
    def _learn(self, activity: Activity, items: int) -> None:
        rate = _rate_of(activity, items)
        if rate is None:
            return
        # A running activity measures the rate well. A finished one only bounds it (CC
        # stamps completed_at when it notices, possibly well after the work ended), so it
        # is used only while nothing better is known.
        if activity.state == "processing" or self._rate is None:
            self._rate = rate

    def _reschedule(self) -> None:
        pending = [w for w in self._watched.values() if not w.activity.is_done]
        probe = min(pending, key=lambda w: w.anchor) if pending else None
        for watched in pending:
            watched.next_at = self._next_poll(watched, is_probe=watched is probe)

    def _next_poll(self, watched: _Watched, *, is_probe: bool) -> float:
        base = watched.last_poll if watched.last_poll is not None else watched.anchor
        earliest = base + self.min_delay
        latest = base + self.max_delay
        own_rate = _rate_of(watched.activity, watched.items)
        if own_rate is not None:
            remaining = watched.items * (100.0 - watched.activity.percent) / 100.0
            return min(max(base + remaining / own_rate + SLACK, earliest), latest)
        if self._rate is not None and watched.polls == 0:
            # Not yet polled: expect it done ``items / rate`` after CC created it.
            finish = watched.anchor + watched.items / self._rate + SLACK
            return min(max(finish, earliest), latest)
        # No estimate: back off. Activities other than the oldest wait one step longer,
        # so the oldest's answer (and its rate) usually arrives before they are polled.
        step = watched.polls + (0 if is_probe else 1)
        return base + min(self.max_delay, self.min_delay * float(2**step))


def sleep_for(watch: ActivityWatch, now: float, deadline: float | None) -> float | None:
    """Seconds to sleep before the next poll (0 if due), capped by ``deadline``.

    None means there is nothing left to wait for.
    """
    at = watch.next_poll_at()
    if at is None:
        return None
    if deadline is not None:
        at = min(at, deadline)
    return max(0.0, at - now)


def describe(activities: Sequence[Activity]) -> str:
    states = ", ".join(f"{a.activity_id} {a.state} {a.percent:.0f}%" for a in activities)
    return states or "no activities"
