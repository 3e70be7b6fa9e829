"""The bulk helpers against the in-process sandbox, sync and async.

What CC does (CC-V3-FACTS §5): one import takes at most 40,000 contacts / 40,000 CSV lines
and 4 MB, and silently drops the rest; bad rows are reported only as ``activity_errors``
lines on the finished activity; exports are fetched as ``text/csv`` once completed.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import httpx
import pytest

from ccbridge import AsyncClient, Client, InvalidArgumentError
from ccbridge.bulk import (
    ActivityWaitTimeout,
    BulkImportError,
    ExportFailedError,
    ImportResult,
    Progress,
)
from ccbridge.sandbox import Sandbox
from ccbridge.sandbox.state import AccountData

TOTAL = 100_000
# index -> (what is wrong with it, words CC's error line must contain)
BAD_ROWS: dict[int, tuple[dict[str, Any], str]] = {
    7: ({"email": "not-an-email"}, "not a valid email"),
    39_999: ({"email": "last@of-first-batch"}, "not a valid email"),
    40_000: ({"first_name": "Nobody"}, "neither an email nor an sms_number"),
    55_555: (
        {"email": "bday@example.com", "birthday_month": 13, "birthday_day": 1},
        "birthday_month",
    ),
    77_777: ({"email": "cf@example.com", "cf:no_such_field": "x"}, "custom field"),
    99_999: ({"email": "bad@@example.com"}, "not a valid email"),
}


def _contacts() -> list[dict[str, Any]]:
    contacts: list[dict[str, Any]] = [
        {"email": f"person{i}@example.com", "first_name": f"P{i}", "last_name": "Bulk"}
        for i in range(TOTAL)
    ]
    for index, (row, _) in BAD_ROWS.items():
        contacts[index] = row
    return contacts


def _list_id(account: AccountData) -> str:
    return next(iter(account.lists))


def _v3_calls(sandbox: Sandbox) -> list[tuple[str, str]]:
    return [
        (e["method"], e["path"]) for e in sandbox.requests.entries() if e["path"].startswith("/v3/")
    ]


def _check_100k_result(result: ImportResult, percents: list[float]) -> None:
    assert result.finished and not result.failed_batches
    assert [b.contacts for b in result.batches] == [40_000, 40_000, 20_000]
    assert all(b.size_bytes <= 4_000_000 for b in result.batches)
    assert result.items_submitted == TOTAL
    by_index = result.errors_by_index()
    assert set(by_index) == set(BAD_ROWS)
    for index, (_, words) in BAD_ROWS.items():
        (error,) = by_index[index]
        assert words in error.message, (index, error)
    assert not result.unplaced_errors
    assert percents and percents == sorted(set(percents)) and percents[-1] == 100.0


def test_import_100k_contacts_maps_every_error_to_its_input_row(
    cc_client: Client, cc_sandbox: Sandbox, cc_account: AccountData
) -> None:
    percents: list[float] = []
    result = cc_client.bulk_activities.import_contacts(
        _contacts(), [_list_id(cc_account)], progress=lambda p: percents.append(p.percent)
    )
    _check_100k_result(result, percents)
    posts = [c for c in _v3_calls(cc_sandbox) if c[0] == "POST"]
    assert len(posts) == 3
    # every good row is in the account (counted through the API), plus the owner contact
    page = cc_client.contacts.list(include_count=True, limit=1)
    assert page.contacts_count == TOTAL - len(BAD_ROWS) + 1
    landed = cc_client.contacts.find("person99998@example.com", include="list_memberships")
    assert landed is not None and landed.list_memberships == [_list_id(cc_account)]
    assert landed.permission_to_send == "implicit"


async def test_async_import_100k_contacts_maps_every_error_to_its_input_row(
    cc_async_client: AsyncClient, cc_account: AccountData
) -> None:
    percents: list[float] = []
    result = await cc_async_client.bulk_activities.import_contacts(
        iter(_contacts()), [_list_id(cc_account)], progress=lambda p: percents.append(p.percent)
    )
    _check_100k_result(result, percents)
    page = await cc_async_client.contacts.list(include_count=True, limit=1)
    assert page.contacts_count == TOTAL - len(BAD_ROWS) + 1


def test_import_splits_by_bytes_before_contacts(cc_client: Client, cc_account: AccountData) -> None:
    # ~260 bytes a contact: 4 MB is reached long before 40,000 contacts
    contacts = [
        {"email": f"wide{i}@example.com", "street": "s" * 200, "city": "Springfield"}
        for i in range(30_000)
    ]
    result = cc_client.bulk_activities.import_contacts(contacts, [_list_id(cc_account)])
    assert len(result.batches) == 2 and result.ok
    assert result.batches[0].contacts < 20_000  # cut by size, not by count
    assert all(3_900_000 < b.size_bytes <= 4_000_000 for b in result.batches[:1])
    assert cc_client.contacts.list(include_count=True, limit=1).contacts_count == 30_001


def test_import_waits_for_room_when_cc_queue_of_activities_is_full(
    cc_client: Client, cc_sandbox: Sandbox, cc_account: AccountData
) -> None:
    cc_sandbox.state.settings.max_queued_activities = 1
    contacts = [{"email": f"q{i}@example.com"} for i in range(30)]
    result = cc_client.bulk_activities.import_contacts(
        contacts, [_list_id(cc_account)], max_contacts=10
    )
    assert len(result.batches) == 3 and result.ok
    statuses = [e["status"] for e in cc_sandbox.requests.entries() if e["method"] == "POST"]
    assert 429 in statuses  # CC refused while the queue was full; nothing was lost
    assert cc_client.contacts.list(include_count=True, limit=1).contacts_count == 31


def test_import_that_fails_part_way_says_what_was_not_sent(
    cc_client: Client, cc_raw: httpx.Client, cc_account: AccountData
) -> None:
    cc_raw.post(
        "/_sandbox/faults",
        json={
            "match": {"method": "POST", "path": "contacts_json_import", "nth": 2},
            "action": {"status": 400},
        },
    ).raise_for_status()
    contacts = [{"email": f"f{i}@example.com"} for i in range(25)]
    with pytest.raises(BulkImportError) as caught:
        cc_client.bulk_activities.import_contacts(contacts, [_list_id(cc_account)], max_contacts=10)
    error = caught.value
    assert len(error.result.batches) == 1
    assert error.not_submitted == list(range(10, 25)) and error.resume_from == 10
    finished = cc_client.bulk_activities.wait_for_import(error.result)
    assert finished.finished and finished.ok


def test_a_failed_import_activity_is_reported(
    cc_client: Client, cc_raw: httpx.Client, cc_account: AccountData
) -> None:
    cc_raw.post(
        "/_sandbox/faults",
        json={"match": {"path": "contacts_json_import"}, "action": {"activity": "failed"}},
    ).raise_for_status()
    result = cc_client.bulk_activities.import_contacts(
        [{"email": "x@example.com"}, {"email": "y@example.com"}], [_list_id(cc_account)]
    )
    assert result.finished and not result.ok
    assert [b.activity.state for b in result.failed_batches] == ["failed"]
    assert result.unplaced_errors  # the activity's own error line is kept


def test_bad_arguments_fail_before_any_request(
    cc_client: Client, cc_sandbox: Sandbox, cc_account: AccountData
) -> None:
    good = [{"email": f"g{i}@example.com"} for i in range(50_000)]
    bad = [*good, {"email": "z@example.com", "colour": "red"}]
    with pytest.raises(InvalidArgumentError, match=r"contacts\[50000\] has the key 'colour'"):
        cc_client.bulk_activities.import_contacts(bad, [_list_id(cc_account)])
    with pytest.raises(InvalidArgumentError, match=r"list_ids\[0\]"):
        cc_client.bulk_activities.import_contacts(good, ["General Interest"])
    with pytest.raises(InvalidArgumentError, match="list_ids"):
        cc_client.bulk_activities.import_contacts(good, [])
    with pytest.raises(InvalidArgumentError, match="max_contacts"):
        cc_client.bulk_activities.import_contacts(good, [_list_id(cc_account)], max_contacts=50_000)
    with pytest.raises(InvalidArgumentError, match="one of contact_ids"):
        cc_client.bulk_activities.export_contacts_csv(
            io.BytesIO(), list_ids=[_list_id(cc_account)], segment_id=1
        )
    assert _v3_calls(cc_sandbox) == []


# -- waiting ------------------------------------------------------------------------------------
def test_wait_for_activity_reports_growing_progress_and_returns_the_final_state(
    cc_client: Client, cc_sandbox: Sandbox, cc_account: AccountData
) -> None:
    cc_sandbox.state.settings.activity_items_per_second = 100.0
    started = cc_client.bulk_activities.import_contacts(
        [{"email": f"w{i}@example.com"} for i in range(2_000)], [_list_id(cc_account)], wait=False
    )
    assert not started.finished
    seen: list[Progress] = []
    final = cc_client.bulk_activities.wait_for_activity(
        started.activity_ids[0], progress=seen.append
    )
    assert final.state == "completed" and final.status and final.status.person_count == 2_000
    percents = [p.percent for p in seen]
    assert len(percents) >= 2 and percents == sorted(set(percents)) and percents[-1] == 100.0
    assert seen[-1].done


def test_wait_for_activity_gives_up_at_the_timeout(
    cc_client: Client, cc_sandbox: Sandbox, cc_account: AccountData
) -> None:
    cc_sandbox.state.settings.activity_items_per_second = 10.0
    started = cc_client.bulk_activities.import_contacts(
        [{"email": f"t{i}@example.com"} for i in range(1_000)], [_list_id(cc_account)], wait=False
    )
    before = cc_sandbox.clock.time()
    with pytest.raises(ActivityWaitTimeout) as caught:
        cc_client.bulk_activities.wait_for_activity(started.activities[0], timeout=20)
    waited = cc_sandbox.clock.time() - before
    assert 20 <= waited < 21
    assert caught.value.activities[0].state == "processing"


async def test_async_wait_for_import_finishes_a_started_import(
    cc_async_client: AsyncClient, cc_account: AccountData
) -> None:
    started = await cc_async_client.bulk_activities.import_contacts(
        [{"email": "ok@example.com"}, {"email": "nope"}], [_list_id(cc_account)], wait=False
    )
    result = await cc_async_client.bulk_activities.wait_for_import(started)
    assert result.finished and result.error_indexes == {1}


# -- CSV files ----------------------------------------------------------------------------------
def _csv_file(rows: int) -> tuple[bytes, set[int]]:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["email", "first_name", "job_title"])
    bad = {3, rows - 2_000, rows - 1}
    for i in range(rows):
        email = f"csv{i}@example.com" if i not in bad else f"broken-{i}"
        title = "Poet\nand painter" if i == 20_000 else "Tester"  # a value spanning two lines
        writer.writerow([email, f"C{i}", title])
    return out.getvalue().encode(), bad


def test_csv_file_past_40000_lines_is_split_and_nothing_is_dropped(
    cc_client: Client, cc_account: AccountData, tmp_path: Path
) -> None:
    content, bad = _csv_file(90_000)
    path = tmp_path / "people.csv"
    path.write_bytes(content)
    result = cc_client.bulk_activities.import_csv_file(path, [_list_id(cc_account)])
    assert len(result.batches) == 3 and result.finished and not result.failed_batches
    assert all(b.activity.source_file_name.startswith("people-part") for b in result.batches)  # type: ignore[union-attr]
    assert sum(b.contacts for b in result.batches) == 90_000
    assert result.error_indexes == bad and not result.unplaced_errors
    assert cc_client.contacts.list(include_count=True, limit=1).contacts_count == 90_000 - 3 + 1
    poet = cc_client.contacts.find("csv20000@example.com")
    assert poet is not None and poet.job_title == "Poet\nand painter"


def test_the_same_file_sent_whole_loses_its_tail(
    cc_client: Client, cc_account: AccountData
) -> None:
    # What import_csv_file exists for: CC (and the sandbox) silently keep 40,000 lines.
    content, _ = _csv_file(45_000)
    answer = cc_client.bulk_activities.contacts_csv_import(
        file=("people.csv", content, "text/csv"), list_ids=_list_id(cc_account)
    )
    cc_client.bulk_activities.wait_for_activity(answer["activity_id"])
    assert cc_client.contacts.list(include_count=True, limit=1).contacts_count < 45_000


async def test_async_csv_import_from_a_stream(
    cc_async_client: AsyncClient, cc_account: AccountData
) -> None:
    content, bad = _csv_file(41_000)
    stream = io.BytesIO(b"\xef\xbb\xbf" + content)  # with a byte-order mark, as Excel writes
    result = await cc_async_client.bulk_activities.import_csv_file(
        stream, [_list_id(cc_account)], file_name="crm-dump.csv"
    )
    # 40,000 lines a part: the header, and one record that spans two lines
    assert [b.contacts for b in result.batches] == [39_998, 1_002]
    assert result.error_indexes == bad
    assert not stream.closed  # the caller's stream is left open
    page = await cc_async_client.contacts.list(include_count=True, limit=1)
    assert page.contacts_count == 41_000 - 3 + 1


def test_csv_that_is_not_utf8_is_refused_before_anything_is_sent(
    cc_client: Client, cc_sandbox: Sandbox, cc_account: AccountData
) -> None:
    content, _ = _csv_file(50_000)
    broken = content + "café@example.com,É,x\n".encode("latin-1")
    with pytest.raises(InvalidArgumentError, match="not UTF-8"):
        cc_client.bulk_activities.import_csv_file(io.BytesIO(broken), [_list_id(cc_account)])
    assert _v3_calls(cc_sandbox) == []


# -- exports ------------------------------------------------------------------------------------
class _RecordingStream(io.BytesIO):
    def __init__(self) -> None:
        super().__init__()
        self.writes = 0

    def write(self, data: Any) -> int:
        self.writes += 1
        return super().write(data)


def test_export_streams_the_csv_to_a_stream(cc_client: Client, cc_account: AccountData) -> None:
    contacts = [{"email": f"e{i}@example.com", "first_name": f"E{i}"} for i in range(20_000)]
    cc_client.bulk_activities.import_contacts(contacts, [_list_id(cc_account)])
    out = _RecordingStream()
    result = cc_client.bulk_activities.export_contacts_csv(
        out, list_ids=[_list_id(cc_account)], fields=["email_address", "first_name"]
    )
    assert result.activity.succeeded and result.bytes_written == len(out.getvalue())
    assert out.writes > 1  # written a chunk at a time, not in one piece
    rows = list(csv.DictReader(io.StringIO(out.getvalue().decode())))
    # the imported contacts, and the account owner who was on the list already
    expected = {c["email"] for c in contacts} | {"owner@example.com"}
    assert {r["email_address"] for r in rows} == expected and len(rows) == len(expected)
    assert {r["first_name"] for r in rows if r["email_address"] == "e5@example.com"} == {"E5"}


async def test_async_export_writes_a_file(
    cc_async_client: AsyncClient, cc_account: AccountData, tmp_path: Path
) -> None:
    await cc_async_client.bulk_activities.import_contacts(
        [{"email": f"a{i}@example.com"} for i in range(500)], [_list_id(cc_account)]
    )
    target = tmp_path / "export.csv"
    result = await cc_async_client.bulk_activities.export_contacts_csv(
        target, fields=["email_address"]
    )
    assert result.path == str(target) and not (tmp_path / "export.csv.part").exists()
    lines = target.read_text().splitlines()
    assert lines[0] == "email_address" and len(lines) == 1 + 500 + 1  # header, imports, owner


def test_export_that_fails_leaves_no_file(
    cc_client: Client, cc_raw: httpx.Client, tmp_path: Path
) -> None:
    cc_raw.post(
        "/_sandbox/faults",
        json={"match": {"path": "contact_exports"}, "action": {"activity": "cancelled"}},
    ).raise_for_status()
    target = tmp_path / "export.csv"
    with pytest.raises(ExportFailedError) as caught:
        cc_client.bulk_activities.export_contacts_csv(target)
    assert caught.value.activity.state == "cancelled"
    assert list(tmp_path.iterdir()) == []
