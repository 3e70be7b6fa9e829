"""The I/O-free parts of the bulk helpers: splitting within CC's limits, reading error lines
back onto rows, turning inputs into import rows, and the polling schedule."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from ccbridge import InvalidArgumentError
from ccbridge.bulk._csv_split import CsvSplitter
from ccbridge.bulk._plan import OversizedRow, PlannedImport, compact_json, plan_json_imports
from ccbridge.bulk._row_errors import locate_row, map_activity_errors, parse_error_line
from ccbridge.bulk._rows import to_import_row
from ccbridge.bulk._watch import ActivityWatch
from ccbridge.models import Activity, Contact, EmailAddress, PhoneNumber, StreetAddress

LIST_ID = "0a1b2c3d-0000-4000-8000-000000000001"


def _rows(n: int, extra: str = "") -> list[tuple[int, dict[str, Any], str | None]]:
    return [
        (i, {"email": f"p{i}@example.com", "first_name": f"P{i}{extra}"}, f"p{i}@example.com")
        for i in range(n)
    ]


def _plans(rows: Any, **limits: int) -> list[PlannedImport | OversizedRow]:
    return list(plan_json_imports(rows, [LIST_ID], None, **limits))


# -- JSON planning ------------------------------------------------------------------------------
def test_plans_never_pass_the_contact_limit_and_keep_input_order() -> None:
    plans = _plans(_rows(100_000))
    sizes = [len(p.rows) for p in plans if isinstance(p, PlannedImport)]
    assert sizes == [40_000, 40_000, 20_000]
    indexes = [i for p in plans if isinstance(p, PlannedImport) for i in p.indexes]
    assert indexes == list(range(100_000))


def test_planned_size_is_the_exact_size_of_the_body_sent() -> None:
    rows = _rows(500, extra="é☃")  # non-ASCII is escaped, as the client core sends it
    (plan,) = _plans(rows)
    assert isinstance(plan, PlannedImport)
    sent = json.dumps(plan.body([LIST_ID], None), separators=(",", ":")).encode("utf-8")
    assert plan.size == len(sent)


def test_plans_never_pass_the_byte_limit() -> None:
    big = [(i, {"email": f"p{i}@example.com", "street": "x" * 200}, None) for i in range(3000)]
    plans = _plans(big, max_bytes=100_000)
    assert len(plans) > 1
    for plan in plans:
        assert isinstance(plan, PlannedImport)
        body = compact_json(plan.body([LIST_ID], None)).encode()
        assert len(body) == plan.size <= 100_000
    # …and fill each request as far as the limit allows
    first = plans[0]
    assert isinstance(first, PlannedImport)
    assert first.size + len(compact_json(big[len(first.rows)][1])) + 1 > 100_000


def test_a_row_too_big_for_any_request_is_reported_not_dropped() -> None:
    rows = [
        (0, {"email": "a@x.co"}, "a@x.co"),
        (1, {"street": "y" * 5000}, None),
        (2, {"email": "b@x.co"}, "b@x.co"),
    ]
    plans = _plans(rows, max_bytes=2000)
    oversized = [p for p in plans if isinstance(p, OversizedRow)]
    assert [o.index for o in oversized] == [1]
    sent = [i for p in plans if isinstance(p, PlannedImport) for i in p.indexes]
    assert sent == [0, 2]


# -- error lines --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("line", "number", "email", "message"),
    [
        ("Row 12 (a@b.co): email is bad.", 12, "a@b.co", "email is bad."),
        (
            "Row 3 (no email): the row has neither an email nor an sms_number.",
            3,
            None,
            "the row has neither an email nor an sms_number.",
        ),
        (
            "row #7 - birthday_day must be between 1 and 31",
            7,
            None,
            "birthday_day must be between 1 and 31",
        ),
        ("Line 9: bad phone", 9, None, "bad phone"),
        ("Record No. 4 (x@y.org) invalid", 4, "x@y.org", "invalid"),
        (
            "Contact x@y.org could not be added",
            None,
            "x@y.org",
            "Contact x@y.org could not be added",
        ),
        ("Something went wrong", None, None, "Something went wrong"),
    ],
)
def test_error_lines_are_parsed_leniently(
    line: str, number: int | None, email: str | None, message: str
) -> None:
    parsed = parse_error_line(line)
    assert (parsed.number, parsed.email, parsed.message) == (number, email, message)


def test_rows_are_located_by_number_and_confirmed_or_found_by_email() -> None:
    emails = ["a@x.co", "b@x.co", "c@x.co", None, "e@x.co"]
    assert locate_row(parse_error_line("Row 2 (b@x.co): bad"), emails, 1) == 1
    # numbered with the header counted (off by one): the email finds the right row
    assert locate_row(parse_error_line("Row 4 (c@x.co): bad"), emails, 1) == 2
    # no number, only an email
    assert locate_row(parse_error_line("e@x.co was refused"), emails, 1) == 4
    # no email: the number decides
    assert locate_row(parse_error_line("Row 4 (no email): bad"), emails, 1) == 3
    # out of range and no email match: cannot be placed
    assert locate_row(parse_error_line("Row 99: bad"), emails, 1) is None


def test_every_error_line_is_kept_even_when_it_cannot_be_placed() -> None:
    errors = map_activity_errors(
        ["Row 1 (a@x.co): bad", "The sandbox could not process this activity."],
        [10, 11],
        ["a@x.co", "b@x.co"],
        first_number=1,
        activity_id="act",
    )
    assert [(e.index, e.activity_id) for e in errors] == [(10, "act"), (None, "act")]
    assert errors[1].raw == "The sandbox could not process this activity."


# -- inputs to rows -----------------------------------------------------------------------------
def test_flat_mappings_pass_through_and_none_values_are_dropped() -> None:
    assert to_import_row({"email": "a@x.co", "cf:shoe": "42", "job_title": None}, 0) == {
        "email": "a@x.co",
        "cf:shoe": "42",
    }
    assert to_import_row({"email": "a@x.co", "home_country": "US"}, 0)["country"] == "US"


def test_contacts_are_flattened_to_import_columns() -> None:
    contact = Contact(
        email_address=EmailAddress(address="a@x.co"),
        first_name="Ann",
        birthday_month=5,
        birthday_day=6,
        phone_numbers=[PhoneNumber(phone_number="1", kind="work"), PhoneNumber(phone_number="2")],
        street_addresses=[
            StreetAddress(kind="home", city="Oslo", postal_code="0150"),
            StreetAddress(kind="work", city="Bergen"),
        ],
    )
    assert to_import_row(contact, 0) == {
        "email": "a@x.co",
        "first_name": "Ann",
        "birthday_month": 5,
        "birthday_day": 6,
        "work_phone": "1",
        "phone": "2",
        "city": "Oslo",
        "zip": "0150",
        "work_city": "Bergen",
    }
    # the same contact as CC's JSON mapping
    assert to_import_row(contact.to_api(), 3) == to_import_row(contact, 3)


@pytest.mark.parametrize(
    ("item", "words"),
    [
        (
            {"email": "a@x.co", "favourite_colour": "red"},
            "contacts[4] has the key 'favourite_colour'",
        ),
        ({"email": ["a@x.co"]}, "contacts[4].email must be a string"),
        ("a@x.co", "contacts[4] must be a mapping"),
        (
            Contact(email_address=EmailAddress(address="a@x.co"), list_memberships=["l"]),
            "contacts[4].list_memberships",
        ),
        (
            Contact(
                email_address=EmailAddress(address="a@x.co"),
                custom_fields=[{"custom_field_id": "c", "value": "v"}],
            ),
            "cf:<custom field name>",
        ),
    ],
)
def test_inputs_that_cannot_be_imported_are_refused_by_index(item: Any, words: str) -> None:
    with pytest.raises(InvalidArgumentError) as caught:
        to_import_row(item, 4)
    assert words in str(caught.value)


# -- CSV splitting ------------------------------------------------------------------------------
def _csv_bytes(rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue().encode()


def _read_part(content: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(content.decode())))


def test_csv_parts_repeat_the_header_and_respect_both_limits() -> None:
    rows = [["Email", "first_name"], *[[f"p{i}@x.co", f"P{i}"] for i in range(250)]]
    splitter = CsvSplitter(io.StringIO(_csv_bytes(rows).decode()), max_lines=100, max_bytes=2000)
    parts = list(splitter.parts())
    seen: list[list[str]] = []
    for part in parts:
        records = _read_part(part.content)
        assert records[0] == ["Email", "first_name"]
        assert part.content.count(b"\n") <= 100 and len(part.content) <= 2000
        seen.extend(records[1:])
        assert list(part.emails) == [r[0] for r in records[1:]]
    assert seen == rows[1:]
    assert [i for p in parts for i in p.indexes] == list(range(250))


def test_csv_multiline_values_stay_whole_and_blank_records_keep_their_position() -> None:
    rows = [["email", "notes_ignored_by_us"], ["a@x.co", "line1\nline2"], ["", ""], ["c@x.co", "x"]]
    text = _csv_bytes(rows).decode().replace("notes_ignored_by_us", "first_name")
    (part,) = CsvSplitter(io.StringIO(text)).parts()
    assert _read_part(part.content)[1] == ["a@x.co", "line1\nline2"]
    assert list(part.indexes) == [0, 2]  # the blank record (position 1) carried no contact
    assert part.lines == 1 + 2 + 1


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("", "empty"),
        ("first_name,last_name\nA,B\n", "'email' or an 'sms_number' column"),
    ],
)
def test_csv_files_without_a_usable_header_are_refused(text: str, words: str) -> None:
    with pytest.raises(InvalidArgumentError) as caught:
        CsvSplitter(io.StringIO(text))
    assert words in str(caught.value)


# -- the polling schedule -----------------------------------------------------------------------
T0 = datetime(2024, 1, 1, tzinfo=UTC)


def _activity(aid: str, state: str, percent: int, seconds: float, **extra: Any) -> Activity:
    return Activity.parse(
        {
            "activity_id": aid,
            "state": state,
            "percent_done": percent,
            "created_at": T0.isoformat(),
            "updated_at": (T0 + timedelta(seconds=seconds)).isoformat(),
            **extra,
        }
    )


def test_schedule_probes_the_oldest_then_polls_each_about_when_it_should_end() -> None:
    watch = ActivityWatch(min_delay=1.0, max_delay=30.0)
    watch.add(_activity("a", "initialized", 0, 0), 40_000, now=0.0)
    watch.add(_activity("b", "initialized", 0, 0), 20_000, now=0.0)
    assert watch.next_poll_at() == 1.0
    assert watch.due(1.0) == ["a"]  # only the oldest is probed while no rate is known
    watch.update(_activity("a", "processing", 12, 1.0), now=1.0)  # 4,800 items/s
    # a: 35,200 items left → ~7.3 s; b (not yet polled): 20,000 items → ~4.2 s after creation
    assert watch.due(4.0) == []
    assert watch.due(4.5) == ["b"]
    assert 8.0 < watch.next_poll_at_for("a") < 9.0


def test_schedule_backs_off_exponentially_when_nothing_moves() -> None:
    watch = ActivityWatch(min_delay=1.0, max_delay=8.0)
    watch.add(_activity("a", "initialized", 0, 0), 10, now=0.0)
    times = []
    now = 0.0
    for _ in range(6):
        now = watch.next_poll_at() or 0.0
        times.append(now)
        watch.update(_activity("a", "initialized", 0, now), now=now)
    assert [b - a for a, b in zip([0.0, *times], times, strict=False)] == [1, 2, 4, 8, 8, 8]


def test_progress_is_weighted_by_size_and_never_goes_down() -> None:
    watch = ActivityWatch()
    watch.add(_activity("a", "processing", 50, 1), 30_000, now=0.0)
    watch.add(_activity("b", "processing", 0, 1), 10_000, now=0.0)
    assert watch.progress().percent == 37.5
    watch.update(_activity("a", "processing", 40, 2), now=2.0)  # a report going backwards
    assert watch.progress().percent == 37.5
    watch.update(
        _activity("a", "completed", 100, 3, completed_at=(T0 + timedelta(seconds=3)).isoformat()),
        now=3.0,
    )
    watch.update(
        _activity("b", "completed", 100, 3, completed_at=(T0 + timedelta(seconds=3)).isoformat()),
        now=3.0,
    )
    assert watch.progress().percent == 100.0 and watch.all_done
