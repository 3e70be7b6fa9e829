"""Bulk activities as state machines on the sandbox clock.

An activity is created ``initialized``, becomes ``processing`` once the clock moves past its
creation, and finishes ``completed`` when its items are done at the configured rate
(``settings.activity_items_per_second``) — or ``failed``/``cancelled``/``timed_out`` when a
fault says so. Its effect on the account (contacts imported, lists deleted, ...) is applied
by a worker function, registered per activity kind, exactly once when it completes, so a
client polling it sees the same order of events as on CC.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable
from datetime import datetime
from typing import Any

from ccbridge.sandbox.clock import iso
from ccbridge.sandbox.errors import CCError
from ccbridge.sandbox.state import AccountData, Activity, SandboxSettings, new_id

Worker = Callable[[AccountData, Activity, datetime], None]
"""Applies a finished activity's effect and fills in its status counters and errors."""

WORKERS: dict[str, Worker] = {}

log = logging.getLogger("ccbridge.sandbox")

TERMINAL_STATES = ("completed", "failed", "cancelled", "timed_out")


def worker(kind: str) -> Callable[[Worker], Worker]:
    def register(fn: Worker) -> Worker:
        WORKERS[kind] = fn
        return fn

    return register


def queued_count(data: AccountData) -> int:
    return sum(1 for a in data.activities.values() if a.state not in TERMINAL_STATES)


def start_activity(
    data: AccountData,
    settings: SandboxSettings,
    now: datetime,
    kind: str,
    items_total: int,
    payload: dict[str, Any] | None = None,
    *,
    status: dict[str, Any] | None = None,
    source_file_name: str | None = None,
    fail_with: str | None = None,
) -> Activity:
    """Queue a new activity, refusing with 429 past CC's cap of queued activities."""
    if queued_count(data) >= settings.max_queued_activities:
        # No body of this 429 has been observed, so it keeps CC's documented array form
        # (unlike the observed single-object rate-limit 429).
        raise CCError(
            429,
            "activities.api.too_many_requests",
            f"There are already {settings.max_queued_activities} queued activities in this "
            "account; wait for some to finish.",
        )
    activity = Activity(
        activity_id=new_id(),
        kind=kind,
        state="initialized",
        created_at=now,
        updated_at=now,
        items_total=max(items_total, 0),
        items_per_second=settings.activity_items_per_second,
        payload=payload or {},
        status=dict(status or {}),
        source_file_name=source_file_name,
        fail_with=fail_with,
    )
    data.activities[activity.activity_id] = activity
    return activity


def advance(data: AccountData, activity: Activity, now: datetime) -> None:
    """Bring one activity up to ``now`` on the sandbox clock."""
    if activity.state in TERMINAL_STATES:
        return
    elapsed = (now - activity.created_at).total_seconds()
    if elapsed <= 0:
        return
    if activity.started_at is None:
        activity.started_at = now
    done = min(int(elapsed * activity.items_per_second), activity.items_total)
    activity.updated_at = now
    if activity.fail_with is not None and (
        done >= max(activity.items_total // 2, 1) or done >= activity.items_total
    ):
        # A faulted activity never completes: it stops about halfway, as a real failure would.
        _finish(activity, activity.fail_with, now, done)
        _sync_status(activity)
        activity.activity_errors.append(
            f"The activity ended as {activity.fail_with} (injected by a sandbox fault)."
        )
        return
    if done < activity.items_total:
        activity.state = "processing"
        activity.items_completed = done
        activity.percent_done = min(99, int(100 * done / max(activity.items_total, 1)))
        return
    # The counters read "all done" before the worker runs, so a worker may correct them
    # (say, when fewer items existed by then than when the activity was created).
    before = activity.items_completed
    activity.items_completed = activity.items_total
    _sync_status(activity)
    run = WORKERS.get(activity.kind)
    if run is not None and not activity.applied:
        activity.applied = True
        try:
            run(data, activity, now)
        except Exception:
            # A worker bug must not turn every later request into a 500: end this one failed.
            log.error("activity worker %s failed:\n%s", activity.kind, traceback.format_exc())
            _finish(activity, "failed", now, before)
            _sync_status(activity)
            activity.activity_errors.append("The sandbox could not process this activity.")
            return
    _finish(activity, "completed", now, activity.items_total)
    activity.percent_done = 100


def _finish(activity: Activity, state: str, now: datetime, completed: int) -> None:
    activity.state = state
    activity.items_completed = completed
    activity.percent_done = min(100, int(100 * completed / max(activity.items_total, 1)))
    activity.completed_at = now


def _sync_status(activity: Activity) -> None:
    """Copy the engine's item counts into the status block, where the kind reports them."""
    status = activity.status
    if "items_total_count" in status:
        status["items_total_count"] = activity.items_total
    if "items_completed_count" in status:
        status["items_completed_count"] = activity.items_completed


def advance_all(data: AccountData, now: datetime) -> None:
    for activity in list(data.activities.values()):
        if activity.state not in TERMINAL_STATES:
            advance(data, activity, now)


def activity_json(activity: Activity, *, errors_as_objects: bool = False) -> dict[str, Any]:
    """CC's Activity object; which status counters appear depends on the kind.

    ``items_total_count``/``items_completed_count`` follow the engine while the activity
    runs when a kind's status block carries them, so a poller watches them grow; once it
    has ended they read what the worker recorded. ``activity_errors``
    are strings in every Activity schema but one: DELETE /contact_tags answers with
    ``[{"message": ...}]`` objects, which ``errors_as_objects=True`` produces.
    """
    body: dict[str, Any] = {
        "activity_id": activity.activity_id,
        "state": activity.state,
        "created_at": iso(activity.created_at),
        "updated_at": iso(activity.updated_at),
        "percent_done": activity.percent_done,
        "activity_errors": _render_errors(activity.activity_errors, errors_as_objects),
        "_links": {"self": {"href": f"/v3/activities/{activity.activity_id}"}},
    }
    if activity.started_at is not None:
        body["started_at"] = iso(activity.started_at)
    if activity.completed_at is not None:
        body["completed_at"] = iso(activity.completed_at)
    if activity.source_file_name:
        body["source_file_name"] = activity.source_file_name
    if activity.status:
        if activity.state not in TERMINAL_STATES:
            _sync_status(activity)
        body["status"] = dict(activity.status)
    if activity.kind == "contact_exports":
        body["_links"]["results"] = {"href": f"/v3/contact_exports/{activity.activity_id}"}
    return body


def _render_errors(errors: list[Any], as_objects: bool) -> list[Any]:
    out: list[Any] = []
    for error in errors:
        message = error.get("message", "") if isinstance(error, dict) else str(error)
        out.append({"message": message} if as_objects else message)
    return out
