"""``client.bulk_activities``: CC's bulk jobs (``/activities``), plus helpers that make them
safe to use at any size.

CC silently drops what is past 40,000 contacts or 4 MB of an import, reports bad rows only
as lines of text on the finished activity, and leaves the caller to poll. The helpers
here (``import_contacts``, ``import_csv_file``, ``wait_for_activity``, ``wait_for_import``,
``export_contacts_csv``) split imports within both limits, poll on a schedule that learns
CC's pace, tie every error line back to the caller's row, and stream exports to disk. The
decisions are made by the I/O-free parts in ``ccbridge.bulk``; the two classes below only
send, poll and sleep, with the client's sleep and clock (which the test fixtures turn into
sandbox-clock advances).

The generated methods (``get_activity``, ``bulk_import_contacts_json``, …) stay available
and return CC's JSON as-is.
"""

from __future__ import annotations

import functools
import os
from collections.abc import (
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
    Iterator,
    Mapping,
    Sequence,
)
from contextlib import AbstractAsyncContextManager, AbstractContextManager, contextmanager
from pathlib import Path
from typing import IO, Any, Protocol, cast

import anyio
import httpx

from ccbridge._errors import CCBridgeError, InvalidArgumentError, RateLimitError
from ccbridge._pagination import AsyncPaginator, Paginator
from ccbridge._retry import THROTTLED_KEYS
from ccbridge.bulk._csv_split import CsvPart, CsvSplitter, open_text
from ccbridge.bulk._plan import (
    MAX_IMPORT_BYTES,
    MAX_IMPORT_CONTACTS,
    OversizedRow,
    PlannedImport,
    plan_json_imports,
)
from ccbridge.bulk._results import (
    ActivityWaitTimeout,
    BulkImportError,
    ExportFailedError,
    ExportResult,
    ImportResult,
    ProgressCallback,
)
from ccbridge.bulk._session import (
    MAX_IMPORT_LISTS,
    BulkSession,
    CsvSource,
    Destination,
    check_destination,
    check_ids,
    check_limits,
    check_progress,
    check_sms_permission,
    check_source,
    check_timeout,
    export_body,
    export_file_path,
    prepare_rows,
)
from ccbridge.bulk._watch import describe, sleep_for
from ccbridge.models.bulk_activities import Activity
from ccbridge.models.contacts import Contact
from ccbridge.resources._generated import AsyncBulkActivitiesOperations, BulkActivitiesOperations

ContactInput = Mapping[str, Any] | Contact
QUEUE_FULL_RETRIES = 6
"""How often to retry an import refused because 1,000 activities are queued, when none of
this import's own activities are left to wait for."""

DOWNLOAD_CHUNK = 64 * 1024


class _SyncInternals(Protocol):
    def now(self) -> float: ...

    def wait(self, seconds: float) -> None: ...

    def stream(
        self, method: str, path: str, *, params: Mapping[str, Any] | None = None
    ) -> AbstractContextManager[httpx.Response]: ...


class _AsyncInternals(Protocol):
    def now(self) -> float: ...

    async def wait(self, seconds: float) -> None: ...

    def stream(
        self, method: str, path: str, *, params: Mapping[str, Any] | None = None
    ) -> AbstractAsyncContextManager[httpx.Response]: ...


def _parse_activity(data: Any) -> Activity:
    return Activity.parse(data, source="GET /activities")


def _activity_id(activity: Any) -> str:
    if isinstance(activity, Activity):
        return activity.activity_id
    if isinstance(activity, str) and activity.strip():
        return activity.strip()
    raise InvalidArgumentError(f"activity must be an activity id or an Activity, not {activity!r}")


def _items_of(activity: Activity) -> int:
    status = activity.status
    total = status.items_total_count if status is not None else None
    return total if total else 1


def _queue_full(exc: RateLimitError) -> bool:
    """CC's 429 for 1,000 queued activities (not the per-second throttle)."""
    return (exc.error_key or "") not in THROTTLED_KEYS


def _not_sent(current: PlannedImport, rest: Iterable[PlannedImport | OversizedRow]) -> list[int]:
    indexes = list(current.indexes)
    for plan in rest:
        if isinstance(plan, PlannedImport):
            indexes.extend(plan.indexes)
    return indexes


def _part_name(file_name: str, number: int) -> str:
    stem = file_name[:-4] if file_name.lower().endswith(".csv") else file_name
    return f"{stem}-part{number}.csv"


def _file_name(path: Path | None, file_name: str | None) -> str:
    if file_name is not None:
        if not isinstance(file_name, str) or not file_name.strip():
            raise InvalidArgumentError("file_name must be a non-empty string")
        return file_name
    return path.name if path is not None else "contacts.csv"


@contextmanager
def _csv_text(source: Any, path: Path | None) -> Iterator[IO[str]]:
    """A text view of the CSV source for one pass; a caller's stream is left open."""
    if path is not None:
        with open(path, "rb") as raw:
            text, _ = open_text(raw)
            yield text
        return
    text, binary = open_text(source)
    try:
        yield text
    finally:
        if binary is not None:
            cast(Any, text).detach()  # hand the caller's binary stream back unclosed


def _rewind_point(source: Any, path: Path | None) -> int | None:
    """Where to seek back to for a second pass, or None when the source cannot seek."""
    if path is not None:
        return 0
    try:
        return int(source.tell()) if source.seekable() else None
    except (AttributeError, OSError, ValueError):
        return None


def _write_all(chunks: Iterable[bytes], out: IO[bytes]) -> int:
    written = 0
    for chunk in chunks:
        out.write(chunk)
        written += len(chunk)
    return written


class BulkActivities(BulkActivitiesOperations):
    """Sync operations on bulk activities, and the bulk helpers."""

    # -- reading activities -------------------------------------------------------------
    def get(self, activity_id: str) -> Activity:
        """One activity's current state."""
        data = self.get_activity(_activity_id(activity_id))
        return Activity.parse(data, source="GET /activities/{activity_id}")

    def iter(self, *, state: str | None = None, limit: int | None = None) -> Paginator[Activity]:
        """Activities of the past 10 days, newest first, fetched lazily."""
        return self._client._paginate_operation(
            "getActivityStatusCollection",
            items_key="activities",
            query={"limit": limit, "state": state},
            parse_item=_parse_activity,
        )

    # -- waiting --------------------------------------------------------------------------
    def wait_for_activity(
        self,
        activity: str | Activity,
        *,
        progress: ProgressCallback | None = None,
        timeout: float | None = None,
    ) -> Activity:
        """Poll until the activity ends (completed, failed, cancelled or timed_out).

        Returns its final state, whichever it is. ``progress`` is called with a
        ``Progress`` each time the percentage grows; ``timeout`` (seconds) raises
        ``ActivityWaitTimeout`` if the activity is still running by then.
        """
        activity_id = _activity_id(activity)
        callback, limit = check_progress(progress), check_timeout(timeout)
        current = activity if isinstance(activity, Activity) else self.get(activity_id)
        session = BulkSession(progress=callback)
        session.watch.add(current, _items_of(current), self._now())
        self._wait(session, limit)
        return session.watch.activities[0]

    def wait_for_import(
        self,
        result: ImportResult,
        *,
        progress: ProgressCallback | None = None,
        timeout: float | None = None,
    ) -> ImportResult:
        """Wait for the activities of an import started with ``wait=False`` (or interrupted)
        and read their errors onto the input rows."""
        if not isinstance(result, ImportResult):
            raise InvalidArgumentError("result must be the ImportResult an import returned")
        session = BulkSession.resume(result, progress=check_progress(progress), now=self._now())
        self._wait(session, check_timeout(timeout))
        session.sort_errors()
        return session.result

    # -- imports --------------------------------------------------------------------------
    def import_contacts(
        self,
        contacts: Iterable[ContactInput],
        list_ids: Sequence[str],
        *,
        sms_permission_to_send: str | None = None,
        wait: bool = True,
        progress: ProgressCallback | None = None,
        timeout: float | None = None,
        max_contacts: int = MAX_IMPORT_CONTACTS,
        max_bytes: int = MAX_IMPORT_BYTES,
    ) -> ImportResult:
        """Import any number of contacts through as many JSON imports as CC's limits need.

        ``contacts`` are mappings keyed by CC's import columns (``email``, ``first_name``,
        ``home_phone``, ``cf:<custom field name>``, …) or ``Contact`` models. Every item is
        checked before the first request. With ``wait`` (the default) the call returns when
        every import has ended, with each error CC reported tied to the position of its
        item in ``contacts``. A request that fails part-way raises ``BulkImportError``,
        which says what was and was not sent.
        """
        ids = check_ids("list_ids", list_ids, maximum=MAX_IMPORT_LISTS, required=True)
        sms = check_sms_permission(sms_permission_to_send)
        check_limits(max_contacts, max_bytes)
        callback, limit = check_progress(progress), check_timeout(timeout)
        rows = prepare_rows(contacts)
        session = BulkSession(progress=callback)
        plans = plan_json_imports(rows, ids, sms, max_contacts=max_contacts, max_bytes=max_bytes)
        for plan in plans:
            if isinstance(plan, OversizedRow):
                session.reject(plan, max_bytes)
                continue
            send = functools.partial(self.bulk_import_contacts_json, body=plan.body(ids, sms))
            try:
                answer = self._submit(session, send)
                activity = Activity.parse(answer, source="POST /activities/contacts_json_import")
            except CCBridgeError as exc:
                raise BulkImportError(
                    f"the import stopped after {len(session.result.batches)} request(s): {exc}",
                    session.result,
                    _not_sent(plan, plans),
                ) from exc
            session.add_batch(
                activity,
                plan.indexes,
                plan.emails,
                size_bytes=plan.size,
                first_row_number=1,
                items=len(plan.rows),
                now=self._now(),
            )
            plan.rows = []  # sent: no need to keep the payload
        if wait:
            self._wait(session, limit)
        session.sort_errors()
        return session.result

    def import_csv_file(
        self,
        source: CsvSource,
        list_ids: Sequence[str],
        *,
        sms_permission_to_send: str | None = None,
        wait: bool = True,
        progress: ProgressCallback | None = None,
        timeout: float | None = None,
        max_lines: int = MAX_IMPORT_CONTACTS,
        max_bytes: int = MAX_IMPORT_BYTES,
        file_name: str | None = None,
    ) -> ImportResult:
        """Import a contacts CSV file of any size, re-cut into files CC reads whole.

        ``source`` is a path or a stream (binary UTF-8, or text). Each part keeps the
        header and stays within ``max_lines`` lines (header included) and ``max_bytes``.
        Error ``index`` values are 0-based data-record positions in the original file. A
        seekable source is read once first, so encoding and CSV errors are found before
        anything is sent.
        """
        ids = check_ids("list_ids", list_ids, maximum=MAX_IMPORT_LISTS, required=True)
        sms = check_sms_permission(sms_permission_to_send)
        check_limits(max_lines, max_bytes, lines=True)
        callback, limit = check_progress(progress), check_timeout(timeout)
        path = check_source(source)
        name = _file_name(path, file_name)
        start = _rewind_point(source, path)
        if start is not None:
            with _csv_text(source, path) as text:
                CsvSplitter(text, max_lines=max_lines, max_bytes=max_bytes).count_records()
            if path is None:
                source.seek(start)  # type: ignore[union-attr]
        session = BulkSession(progress=callback)
        with _csv_text(source, path) as text:
            splitter = CsvSplitter(text, max_lines=max_lines, max_bytes=max_bytes)
            parts = splitter.parts()
            number = 0
            while True:
                try:
                    part = next(parts, None)
                except InvalidArgumentError as exc:
                    if not session.result.batches:
                        raise
                    raise BulkImportError(
                        f"the file became unreadable after {number} part(s) were sent: {exc}",
                        session.result,
                        [],
                        resume_from=splitter.records_read,
                    ) from exc
                if part is None:
                    break
                number += 1
                self._send_csv_part(session, part, _part_name(name, number), ids, sms)
            session.reject_records(splitter.oversized, "the line or byte limit of one import")
        if wait:
            self._wait(session, limit)
        session.sort_errors()
        return session.result

    def _send_csv_part(
        self, session: BulkSession, part: CsvPart, name: str, ids: list[str], sms: str | None
    ) -> None:
        send = functools.partial(
            self.contacts_csv_import,
            file=(name, part.content, "text/csv"),
            list_ids=",".join(ids),
            sms_permission_to_send=sms,
        )
        try:
            answer = self._submit(session, send)
            activity = Activity.parse(answer, source="POST /activities/contacts_file_import")
        except CCBridgeError as exc:
            raise BulkImportError(
                f"the import stopped at {name}: {exc}",
                session.result,
                list(part.indexes),
            ) from exc
        session.add_batch(
            activity,
            part.indexes,
            part.emails,
            size_bytes=len(part.content),
            first_row_number=2,  # CC counts the header as row 1
            items=part.lines,
            now=self._now(),
        )

    # -- exports --------------------------------------------------------------------------
    def export_contacts_csv(
        self,
        destination: Destination,
        *,
        list_ids: Sequence[str] | None = None,
        contact_ids: Sequence[str] | None = None,
        tag_ids: Sequence[str] | None = None,
        segment_id: int | None = None,
        new_subscriber: bool | None = None,
        status: str | None = None,
        fields: Sequence[str] | None = None,
        exclude_contact_ids: Sequence[str] | None = None,
        progress: ProgressCallback | None = None,
        timeout: float | None = None,
    ) -> ExportResult:
        """Export contacts to CSV: start the export, wait for it, stream the file out.

        The file is copied to ``destination`` (a path, or a binary stream) a chunk at a
        time, never held whole in memory. A path is written under a temporary name and
        renamed when complete, so a failed download leaves no half file behind. Without a
        source (``list_ids``, ``contact_ids``, ``tag_ids``, ``segment_id``,
        ``new_subscriber``) CC exports every contact.
        """
        body = export_body(
            list_ids=list_ids,
            contact_ids=contact_ids,
            tag_ids=tag_ids,
            segment_id=segment_id,
            new_subscriber=new_subscriber,
            status=status,
            fields=fields,
            exclude_contact_ids=exclude_contact_ids,
        )
        path = check_destination(destination)
        callback, limit = check_progress(progress), check_timeout(timeout)
        started = Activity.parse(
            self.post_contacts_export(body=body), source="POST /activities/contact_exports"
        )
        session = BulkSession(progress=callback)
        session.watch.add(started, _items_of(started), self._now())
        self._wait(session, limit)
        final = session.watch.activities[0]
        if not final.succeeded:
            raise ExportFailedError(
                f"the export {final.activity_id} ended {final.state}; CC made no file "
                f"({'; '.join(final.activity_errors) or 'no errors given'})",
                final,
            )
        written = self._download(export_file_path(final), destination, path)
        return ExportResult(final, written, str(path) if path is not None else None)

    def _download(self, file_path: str, destination: Any, path: Path | None) -> int:
        client = cast(_SyncInternals, self._client)
        with client.stream("GET", file_path) as response:
            chunks = response.iter_bytes(DOWNLOAD_CHUNK)
            if path is None:
                return _write_all(chunks, destination)
            partial = path.with_name(path.name + ".part")
            try:
                with open(partial, "wb") as out:
                    written = _write_all(chunks, out)
                os.replace(partial, path)
            except BaseException:
                partial.unlink(missing_ok=True)
                raise
            return written

    # -- the loops ------------------------------------------------------------------------
    def _now(self) -> float:
        return cast(_SyncInternals, self._client).now()

    def _sleep(self, seconds: float) -> None:
        cast(_SyncInternals, self._client).wait(seconds)

    def _submit(self, session: BulkSession, send: Callable[[], Any]) -> Any:
        """Send one import; if CC's queue of activities is full, wait for room and resend."""
        refused = 0
        while True:
            try:
                return send()
            except RateLimitError as exc:
                if not _queue_full(exc):
                    raise
                # CC refused before acting, so sending again cannot import anything twice.
                if session.watch.pending():
                    self._wait(session, None, until_one_ends=True)
                elif refused < QUEUE_FULL_RETRIES:
                    self._sleep(min(60.0, 5.0 * 2**refused))
                    refused += 1
                else:
                    raise

    def _wait(
        self, session: BulkSession, timeout: float | None, *, until_one_ends: bool = False
    ) -> None:
        watch = session.watch
        deadline = self._now() + timeout if timeout is not None else None
        pending_at_start = len(watch.pending())
        session.report_progress()
        while watch.pending():
            if until_one_ends and len(watch.pending()) < pending_at_start:
                return
            now = self._now()
            delay = sleep_for(watch, now, deadline) or 0.0
            if delay > 0:
                self._sleep(delay)
                now = max(self._now(), now + delay)
            overdue = deadline is not None and now >= deadline
            for activity_id in watch.pending() if overdue else watch.due(now):
                session.observe(self.get(activity_id), self._now())
            session.report_progress()
            if overdue and watch.pending():
                raise ActivityWaitTimeout(
                    f"still running after {timeout:g} s: {describe(watch.activities)}",
                    watch.activities,
                )


class AsyncBulkActivities(AsyncBulkActivitiesOperations):
    """Async operations on bulk activities, and the bulk helpers (the twins of the sync ones)."""

    # -- reading activities -------------------------------------------------------------
    async def get(self, activity_id: str) -> Activity:
        """One activity's current state."""
        data = await self.get_activity(_activity_id(activity_id))
        return Activity.parse(data, source="GET /activities/{activity_id}")

    def iter(
        self, *, state: str | None = None, limit: int | None = None
    ) -> AsyncPaginator[Activity]:
        """Activities of the past 10 days, newest first, fetched lazily."""
        return self._client._paginate_operation(
            "getActivityStatusCollection",
            items_key="activities",
            query={"limit": limit, "state": state},
            parse_item=_parse_activity,
        )

    # -- waiting --------------------------------------------------------------------------
    async def wait_for_activity(
        self,
        activity: str | Activity,
        *,
        progress: ProgressCallback | None = None,
        timeout: float | None = None,
    ) -> Activity:
        """Poll until the activity ends; see ``BulkActivities.wait_for_activity``."""
        activity_id = _activity_id(activity)
        callback, limit = check_progress(progress), check_timeout(timeout)
        current = activity if isinstance(activity, Activity) else await self.get(activity_id)
        session = BulkSession(progress=callback)
        session.watch.add(current, _items_of(current), self._now())
        await self._wait(session, limit)
        return session.watch.activities[0]

    async def wait_for_import(
        self,
        result: ImportResult,
        *,
        progress: ProgressCallback | None = None,
        timeout: float | None = None,
    ) -> ImportResult:
        """Wait for an import's activities and read their errors onto the input rows."""
        if not isinstance(result, ImportResult):
            raise InvalidArgumentError("result must be the ImportResult an import returned")
        session = BulkSession.resume(result, progress=check_progress(progress), now=self._now())
        await self._wait(session, check_timeout(timeout))
        session.sort_errors()
        return session.result

    # -- imports --------------------------------------------------------------------------
    async def import_contacts(
        self,
        contacts: Iterable[ContactInput],
        list_ids: Sequence[str],
        *,
        sms_permission_to_send: str | None = None,
        wait: bool = True,
        progress: ProgressCallback | None = None,
        timeout: float | None = None,
        max_contacts: int = MAX_IMPORT_CONTACTS,
        max_bytes: int = MAX_IMPORT_BYTES,
    ) -> ImportResult:
        """Import any number of contacts; see ``BulkActivities.import_contacts``."""
        ids = check_ids("list_ids", list_ids, maximum=MAX_IMPORT_LISTS, required=True)
        sms = check_sms_permission(sms_permission_to_send)
        check_limits(max_contacts, max_bytes)
        callback, limit = check_progress(progress), check_timeout(timeout)
        rows = prepare_rows(contacts)
        session = BulkSession(progress=callback)
        plans = plan_json_imports(rows, ids, sms, max_contacts=max_contacts, max_bytes=max_bytes)
        for plan in plans:
            if isinstance(plan, OversizedRow):
                session.reject(plan, max_bytes)
                continue
            send = functools.partial(self.bulk_import_contacts_json, body=plan.body(ids, sms))
            try:
                answer = await self._submit(session, send)
                activity = Activity.parse(answer, source="POST /activities/contacts_json_import")
            except CCBridgeError as exc:
                raise BulkImportError(
                    f"the import stopped after {len(session.result.batches)} request(s): {exc}",
                    session.result,
                    _not_sent(plan, plans),
                ) from exc
            session.add_batch(
                activity,
                plan.indexes,
                plan.emails,
                size_bytes=plan.size,
                first_row_number=1,
                items=len(plan.rows),
                now=self._now(),
            )
            plan.rows = []
        if wait:
            await self._wait(session, limit)
        session.sort_errors()
        return session.result

    async def import_csv_file(
        self,
        source: CsvSource,
        list_ids: Sequence[str],
        *,
        sms_permission_to_send: str | None = None,
        wait: bool = True,
        progress: ProgressCallback | None = None,
        timeout: float | None = None,
        max_lines: int = MAX_IMPORT_CONTACTS,
        max_bytes: int = MAX_IMPORT_BYTES,
        file_name: str | None = None,
    ) -> ImportResult:
        """Import a contacts CSV file of any size; see ``BulkActivities.import_csv_file``.

        The file is read in the event loop's thread: parts are at most 4 MB, and reading
        one is quick next to uploading it.
        """
        ids = check_ids("list_ids", list_ids, maximum=MAX_IMPORT_LISTS, required=True)
        sms = check_sms_permission(sms_permission_to_send)
        check_limits(max_lines, max_bytes, lines=True)
        callback, limit = check_progress(progress), check_timeout(timeout)
        path = check_source(source)
        name = _file_name(path, file_name)
        start = _rewind_point(source, path)
        if start is not None:
            with _csv_text(source, path) as text:
                CsvSplitter(text, max_lines=max_lines, max_bytes=max_bytes).count_records()
            if path is None:
                source.seek(start)  # type: ignore[union-attr]
        session = BulkSession(progress=callback)
        with _csv_text(source, path) as text:
            splitter = CsvSplitter(text, max_lines=max_lines, max_bytes=max_bytes)
            parts = splitter.parts()
            number = 0
            while True:
                try:
                    part = next(parts, None)
                except InvalidArgumentError as exc:
                    if not session.result.batches:
                        raise
                    raise BulkImportError(
                        f"the file became unreadable after {number} part(s) were sent: {exc}",
                        session.result,
                        [],
                        resume_from=splitter.records_read,
                    ) from exc
                if part is None:
                    break
                number += 1
                await self._send_csv_part(session, part, _part_name(name, number), ids, sms)
            session.reject_records(splitter.oversized, "the line or byte limit of one import")
        if wait:
            await self._wait(session, limit)
        session.sort_errors()
        return session.result

    async def _send_csv_part(
        self, session: BulkSession, part: CsvPart, name: str, ids: list[str], sms: str | None
    ) -> None:
        send = functools.partial(
            self.contacts_csv_import,
            file=(name, part.content, "text/csv"),
            list_ids=",".join(ids),
            sms_permission_to_send=sms,
        )
        try:
            answer = await self._submit(session, send)
            activity = Activity.parse(answer, source="POST /activities/contacts_file_import")
        except CCBridgeError as exc:
            raise BulkImportError(
                f"the import stopped at {name}: {exc}",
                session.result,
                list(part.indexes),
            ) from exc
        session.add_batch(
            activity,
            part.indexes,
            part.emails,
            size_bytes=len(part.content),
            first_row_number=2,
            items=part.lines,
            now=self._now(),
        )

    # -- exports --------------------------------------------------------------------------
    async def export_contacts_csv(
        self,
        destination: Destination,
        *,
        list_ids: Sequence[str] | None = None,
        contact_ids: Sequence[str] | None = None,
        tag_ids: Sequence[str] | None = None,
        segment_id: int | None = None,
        new_subscriber: bool | None = None,
        status: str | None = None,
        fields: Sequence[str] | None = None,
        exclude_contact_ids: Sequence[str] | None = None,
        progress: ProgressCallback | None = None,
        timeout: float | None = None,
    ) -> ExportResult:
        """Export contacts to CSV, streamed; see ``BulkActivities.export_contacts_csv``."""
        body = export_body(
            list_ids=list_ids,
            contact_ids=contact_ids,
            tag_ids=tag_ids,
            segment_id=segment_id,
            new_subscriber=new_subscriber,
            status=status,
            fields=fields,
            exclude_contact_ids=exclude_contact_ids,
        )
        path = check_destination(destination)
        callback, limit = check_progress(progress), check_timeout(timeout)
        started = Activity.parse(
            await self.post_contacts_export(body=body), source="POST /activities/contact_exports"
        )
        session = BulkSession(progress=callback)
        session.watch.add(started, _items_of(started), self._now())
        await self._wait(session, limit)
        final = session.watch.activities[0]
        if not final.succeeded:
            raise ExportFailedError(
                f"the export {final.activity_id} ended {final.state}; CC made no file "
                f"({'; '.join(final.activity_errors) or 'no errors given'})",
                final,
            )
        written = await self._download(export_file_path(final), destination, path)
        return ExportResult(final, written, str(path) if path is not None else None)

    async def _download(self, file_path: str, destination: Any, path: Path | None) -> int:
        client = cast(_AsyncInternals, self._client)
        async with client.stream("GET", file_path) as response:
            chunks = response.aiter_bytes(DOWNLOAD_CHUNK)
            if path is None:
                return await _awrite_all(chunks, destination)
            partial = anyio.Path(path.with_name(path.name + ".part"))
            try:
                async with await anyio.open_file(partial, "wb") as out:
                    written = 0
                    async for chunk in chunks:
                        await out.write(chunk)
                        written += len(chunk)
                await partial.replace(path)
            except BaseException:
                await partial.unlink(missing_ok=True)
                raise
            return written

    # -- the loops ------------------------------------------------------------------------
    def _now(self) -> float:
        return cast(_AsyncInternals, self._client).now()

    async def _sleep(self, seconds: float) -> None:
        await cast(_AsyncInternals, self._client).wait(seconds)

    async def _submit(self, session: BulkSession, send: Callable[[], Awaitable[Any]]) -> Any:
        refused = 0
        while True:
            try:
                return await send()
            except RateLimitError as exc:
                if not _queue_full(exc):
                    raise
                if session.watch.pending():
                    await self._wait(session, None, until_one_ends=True)
                elif refused < QUEUE_FULL_RETRIES:
                    await self._sleep(min(60.0, 5.0 * 2**refused))
                    refused += 1
                else:
                    raise

    async def _wait(
        self, session: BulkSession, timeout: float | None, *, until_one_ends: bool = False
    ) -> None:
        watch = session.watch
        deadline = self._now() + timeout if timeout is not None else None
        pending_at_start = len(watch.pending())
        session.report_progress()
        while watch.pending():
            if until_one_ends and len(watch.pending()) < pending_at_start:
                return
            now = self._now()
            delay = sleep_for(watch, now, deadline) or 0.0
            if delay > 0:
                await self._sleep(delay)
                now = max(self._now(), now + delay)
            overdue = deadline is not None and now >= deadline
            for activity_id in watch.pending() if overdue else watch.due(now):
                session.observe(await self.get(activity_id), self._now())
            session.report_progress()
            if overdue and watch.pending():
                raise ActivityWaitTimeout(
                    f"still running after {timeout:g} s: {describe(watch.activities)}",
                    watch.activities,
                )


async def _awrite_all(chunks: AsyncIterator[bytes], out: IO[bytes]) -> int:
    written = 0
    async for chunk in chunks:
        out.write(chunk)
        written += len(chunk)
    return written
