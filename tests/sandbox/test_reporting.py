"""Email reports in the sandbox, built to CC-V3-FACTS §7.

The figures of a sandbox send are derived from contact ids, so the tests assert what must
hold for any send: the counts match the eligible contacts, the reports agree with one
another, and every per-contact row is accounted for.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from ccbridge.sandbox import Sandbox
from ccbridge.sandbox.state import AccountData
from tests.sandbox.campaign_support import (
    activity_id,
    add_contact,
    create_campaign,
    new_list,
    send_now,
    sent_campaign,
    target_lists,
)

RECIPIENTS = 60


def _error(response: httpx.Response) -> str:
    body = response.json()
    assert isinstance(body, list) and body, body
    return str(body[0]["error_message"])


def _all_rows(
    http: httpx.Client, path: str, limit: int = 500, **filters: str
) -> list[dict[str, Any]]:
    """Every row of a tracking report, following the next links page by page."""
    rows: list[dict[str, Any]] = []
    page = http.get(path, params={"limit": str(limit), **filters}).json()
    rows += page["tracking_activities"]
    while page.get("_links", {}).get("next"):
        page = http.get(page["_links"]["next"]["href"].removeprefix("/v3")).json()
        rows += page["tracking_activities"]
    return rows


@pytest.fixture
def sent(
    cc_http: httpx.Client, cc_sandbox: Sandbox, cc_account: AccountData
) -> tuple[dict[str, Any], str, list[Any]]:
    return sent_campaign(cc_http, cc_sandbox, cc_account, RECIPIENTS, "Report")


# -- summaries ------------------------------------------------------------------------------
def test_summary_counts_match_the_send(
    cc_http: httpx.Client, sent: tuple[dict[str, Any], str, list[Any]]
) -> None:
    campaign, _, _ = sent
    response = cc_http.get("/reports/summary_reports/email_campaign_summaries")
    assert response.status_code == 200
    body = response.json()
    [summary] = body["bulk_email_campaign_summaries"]
    assert summary["campaign_id"] == campaign["campaign_id"]
    counts = summary["unique_counts"]
    assert counts["sends"] == RECIPIENTS
    assert counts["opens"] + counts["not_opened"] + counts["bounces"] == counts["sends"]
    assert counts["clicks"] <= counts["opens"]
    assert counts["forwards"] <= counts["opens"]
    assert counts["optouts"] <= counts["sends"] - counts["bounces"]
    delivered = counts["sends"] - counts["bounces"]
    percents = body["aggregate_percents"]
    assert percents["open"] == round(100 * counts["opens"] / delivered, 1)
    assert percents["bounce"] == round(100 * counts["bounces"] / counts["sends"], 1)
    assert all(0 <= value <= 100 for value in percents.values())


def test_summaries_leave_out_unsent_campaigns_and_list_newest_first(
    cc_http: httpx.Client, cc_sandbox: Sandbox, cc_account: AccountData
) -> None:
    create_campaign(cc_http, "Never sent")
    first, _, _ = sent_campaign(cc_http, cc_sandbox, cc_account, 2, "First")
    cc_sandbox.advance_clock(600)
    second, _, _ = sent_campaign(cc_http, cc_sandbox, cc_account, 2, "Second")
    summaries = cc_http.get("/reports/summary_reports/email_campaign_summaries").json()
    ids = [s["campaign_id"] for s in summaries["bulk_email_campaign_summaries"]]
    assert ids == [second["campaign_id"], first["campaign_id"]]
    page = cc_http.get(
        "/reports/summary_reports/email_campaign_summaries", params={"limit": 1}
    ).json()
    assert [s["campaign_id"] for s in page["bulk_email_campaign_summaries"]] == ids[:1]
    following = cc_http.get(page["_links"]["next"]["href"].removeprefix("/v3")).json()
    assert [s["campaign_id"] for s in following["bulk_email_campaign_summaries"]] == ids[1:]
    assert "_links" not in following


@pytest.mark.parametrize("limit", ["0", "501", "many"])
def test_summaries_reject_bad_limit(cc_http: httpx.Client, limit: str) -> None:
    response = cc_http.get(
        "/reports/summary_reports/email_campaign_summaries", params={"limit": limit}
    )
    assert response.status_code == 400 and "limit" in _error(response)


# -- stats ------------------------------------------------------------------------------------
def test_campaign_stats_agree_with_the_summary(
    cc_http: httpx.Client, sent: tuple[dict[str, Any], str, list[Any]]
) -> None:
    campaign, _, _ = sent
    response = cc_http.get(f"/reports/stats/email_campaigns/{campaign['campaign_id']}")
    assert response.status_code == 200
    [result] = response.json()["results"]
    stats = result["stats"]
    summary = cc_http.get("/reports/summary_reports/email_campaign_summaries").json()
    counts = summary["bulk_email_campaign_summaries"][0]["unique_counts"]
    assert stats["em_sends"] == counts["sends"] == RECIPIENTS
    assert stats["em_opens"] == counts["opens"]
    assert stats["em_clicks"] == counts["clicks"]
    assert stats["em_bounces"] == counts["bounces"]
    assert stats["em_optouts"] == counts["optouts"]
    assert stats["em_not_opened"] == counts["not_opened"]
    assert stats["em_opens_all"] >= stats["em_opens"]
    assert stats["em_clicks_all"] >= stats["em_clicks"]
    assert stats["em_opens_all"] == sum(
        stats[f"em_opens_all_{d}"] for d in ("computer", "mobile", "tablet", "other", "none")
    )
    assert all(0 <= value <= 100 for value in result["percents"].values())
    assert "last_refresh_time" in result


def test_campaign_stats_for_an_unsent_campaign_are_zero(cc_http: httpx.Client) -> None:
    campaign = create_campaign(cc_http, "Quiet")
    [result] = cc_http.get(f"/reports/stats/email_campaigns/{campaign['campaign_id']}").json()[
        "results"
    ]
    assert result["stats"]["em_sends"] == 0 and result["percents"]["open"] == 0


def test_one_unknown_campaign_id_makes_the_whole_request_404(
    cc_http: httpx.Client, sent: tuple[dict[str, Any], str, list[Any]]
) -> None:
    campaign, _, _ = sent
    unknown = "00000000-0000-0000-0000-000000000000"
    both = cc_http.get(f"/reports/stats/email_campaigns/{campaign['campaign_id']},{unknown}")
    assert both.status_code == 404
    malformed = cc_http.get(f"/reports/stats/email_campaigns/{campaign['campaign_id']},nope")
    assert malformed.status_code == 404
    many = ",".join([campaign["campaign_id"]] * 151)
    assert cc_http.get(f"/reports/stats/email_campaigns/{many}").status_code == 400


def test_activity_stats_list_missing_ids_under_errors(
    cc_http: httpx.Client, sent: tuple[dict[str, Any], str, list[Any]]
) -> None:
    campaign, primary, _ = sent
    unsent = activity_id(create_campaign(cc_http, "Unsent"))
    unknown = "00000000-0000-0000-0000-000000000000"
    response = cc_http.get(f"/reports/stats/email_campaign_activities/{primary},{unsent},{unknown}")
    assert response.status_code == 200
    body = response.json()
    [result] = body["results"]
    assert result["campaign_activity_id"] == primary
    assert result["campaign_id"] == campaign["campaign_id"]
    assert result["stats"]["em_sends"] == RECIPIENTS
    bounce_reasons = [k for k in result["stats"] if k.startswith("em_bounces_")]
    assert sum(result["stats"][k] for k in bounce_reasons) == result["stats"]["em_bounces"]
    assert len(body["errors"]) == 2
    messages = " ".join(e["error_message"] for e in body["errors"])
    assert unsent in messages and unknown in messages
    malformed = cc_http.get(f"/reports/stats/email_campaign_activities/{primary},bad")
    assert malformed.status_code == 404
    eleven = ",".join([primary] * 11)
    assert cc_http.get(f"/reports/stats/email_campaign_activities/{eleven}").status_code == 400


# -- tracking reports ----------------------------------------------------------------------------
def test_sends_report_lists_every_recipient(
    cc_http: httpx.Client, sent: tuple[dict[str, Any], str, list[Any]]
) -> None:
    _, primary, contacts = sent
    rows = _all_rows(cc_http, f"/reports/email_reports/{primary}/tracking/sends", limit=25)
    assert sorted(r["contact_id"] for r in rows) == sorted(c.contact_id for c in contacts)
    assert {r["tracking_activity_type"] for r in rows} == {"em_sends"}
    assert {r["campaign_activity_id"] for r in rows} == {primary}


def test_tracking_reports_agree_with_the_stats(
    cc_http: httpx.Client, sent: tuple[dict[str, Any], str, list[Any]]
) -> None:
    _, primary, _ = sent
    stats = cc_http.get(f"/reports/stats/email_campaign_activities/{primary}").json()["results"][0][
        "stats"
    ]
    base = f"/reports/email_reports/{primary}/tracking"
    expected = {
        "sends": stats["em_sends"],
        "opens": stats["em_opens_all"],
        "unique_opens": stats["em_opens"],
        "didnotopens": stats["em_not_opened"],
        "clicks": stats["em_clicks_all"],
        "forwards": stats["em_forwards"],
        "optouts": stats["em_optouts"],
        "bounces": stats["em_bounces"],
    }
    rows = {kind: _all_rows(cc_http, f"{base}/{kind}") for kind in expected}
    assert {kind: len(found) for kind, found in rows.items()} == expected
    openers = {r["contact_id"] for r in rows["unique_opens"]}
    assert {r["contact_id"] for r in rows["opens"]} == openers
    assert {r["contact_id"] for r in rows["clicks"]} <= openers
    assert not openers & {r["contact_id"] for r in rows["didnotopens"]}
    assert not openers & {r["contact_id"] for r in rows["bounces"]}
    assert {r["link_url"] for r in rows["clicks"]} <= {
        "https://example.com/news",
        "https://example.com/shop",
    }
    times = [r["created_time"] for r in rows["opens"]]
    assert times == sorted(times, reverse=True)  # newest first


def test_opt_outs_unsubscribe_the_contact(
    cc_http: httpx.Client,
    cc_account: AccountData,
    sent: tuple[dict[str, Any], str, list[Any]],
) -> None:
    _, primary, contacts = sent
    rows = _all_rows(cc_http, f"/reports/email_reports/{primary}/tracking/optouts")
    opted_out = {r["contact_id"] for r in rows}
    for contact in contacts:
        address = cc_account.contacts[contact.contact_id].email_address
        assert address is not None
        unsubscribed = address.permission_to_send == "unsubscribed"
        assert unsubscribed == (contact.contact_id in opted_out)


def test_links_report_counts_unique_clickers(
    cc_http: httpx.Client, sent: tuple[dict[str, Any], str, list[Any]]
) -> None:
    _, primary, _ = sent
    clicks = _all_rows(cc_http, f"/reports/email_reports/{primary}/tracking/clicks")
    report = cc_http.get(
        f"/reports/email_reports/{primary}/links", params={"no_clicks": "true"}
    ).json()
    counts = {c["link_url"]: c["unique_clicks"] for c in report["link_click_counts"]}
    assert set(counts) == {"https://example.com/news", "https://example.com/shop"}
    for url, unique in counts.items():
        assert unique == len({r["contact_id"] for r in clicks if r["link_url"] == url})
    for entry in report["link_click_counts"]:
        by_link = _all_rows(
            cc_http,
            f"/reports/email_reports/{primary}/tracking/clicks",
            url_id=entry["url_id"],
        )
        assert len(by_link) == sum(1 for r in clicks if r["link_url"] == entry["link_url"])
        assert {r["link_url"] for r in by_link} <= {entry["link_url"]}


def test_an_unsent_activity_has_empty_tracking_reports(cc_http: httpx.Client) -> None:
    primary = activity_id(create_campaign(cc_http, "Quiet reports"))
    for kind in ("sends", "opens", "optouts", "bounces"):
        response = cc_http.get(f"/reports/email_reports/{primary}/tracking/{kind}")
        assert response.status_code == 200
        assert response.json()["tracking_activities"] == []


def test_tracking_reports_validate_their_input(
    cc_http: httpx.Client, sent: tuple[dict[str, Any], str, list[Any]]
) -> None:
    campaign, primary, _ = sent
    base = f"/reports/email_reports/{primary}/tracking"
    assert cc_http.get(f"{base}/sends", params={"limit": "501"}).status_code == 400
    assert cc_http.get(f"{base}/bounces", params={"bounce_code": "Q"}).status_code == 400
    assert cc_http.get(f"{base}/clicks", params={"url_id": "abc"}).status_code == 400
    unknown = "00000000-0000-0000-0000-000000000000"
    assert cc_http.get(f"/reports/email_reports/{unknown}/tracking/sends").status_code == 404
    assert cc_http.get("/reports/email_reports/bad/tracking/opens").status_code == 404
    permalink = activity_id(campaign, "permalink")
    assert cc_http.get(f"/reports/email_reports/{permalink}/tracking/sends").status_code == 404


def test_bounce_code_filter(
    cc_http: httpx.Client, sent: tuple[dict[str, Any], str, list[Any]]
) -> None:
    _, primary, _ = sent
    base = f"/reports/email_reports/{primary}/tracking/bounces"
    every = _all_rows(cc_http, base)
    by_code = {code: _all_rows(cc_http, base, bounce_code=code) for code in "BDFSVXZ"}
    for code, rows in by_code.items():
        assert {r["bounce_code"] for r in rows} <= {code}
    assert sum(len(rows) for rows in by_code.values()) == len(every)


def test_a_resend_adds_to_the_figures(
    cc_http: httpx.Client, cc_sandbox: Sandbox, cc_account: AccountData
) -> None:
    list_id = new_list(cc_sandbox, cc_account, "Growing")
    for n in range(4):
        add_contact(cc_sandbox, cc_account, f"early{n}@example.net", [list_id])
    campaign = create_campaign(cc_http, "Growing")
    primary = activity_id(campaign)
    target_lists(cc_http, primary, [list_id])
    send_now(cc_http, cc_sandbox, primary)
    for n in range(3):
        add_contact(cc_sandbox, cc_account, f"later{n}@example.net", [list_id])
    send_now(cc_http, cc_sandbox, primary)
    stats = cc_http.get(f"/reports/stats/email_campaigns/{campaign['campaign_id']}").json()
    assert stats["results"][0]["stats"]["em_sends"] == 7
    rows = _all_rows(cc_http, f"/reports/email_reports/{primary}/tracking/sends")
    assert len(rows) == len({r["contact_id"] for r in rows}) == 7
