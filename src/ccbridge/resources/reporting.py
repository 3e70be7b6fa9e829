"""``client.reporting``: email, contact, landing-page and SMS reports (``/reports``), with
typed methods for the email reports integrations use most.

``email_campaign_stats`` takes up to 150 campaign ids; CC answers 404 for all of them if
any one is malformed, so ids are checked before the request.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ccbridge._pagination import AsyncPaginator, Paginator
from ccbridge.models.reporting import (
    EmailCampaignStatsReport,
    EmailCampaignSummariesPage,
    EmailCampaignSummary,
)
from ccbridge.resources._checks import check_ids, check_int_range
from ccbridge.resources._generated import AsyncReportingOperations, ReportingOperations

MAX_SUMMARY_PAGE = 500
MAX_STATS_CAMPAIGNS = 150


def _limit(limit: int | None) -> str | None:
    return str(check_int_range("limit", limit, 1, MAX_SUMMARY_PAGE)) if limit is not None else None


def _ids(campaign_ids: Sequence[str]) -> str:
    return ",".join(
        check_ids("campaign_ids", campaign_ids, maximum=MAX_STATS_CAMPAIGNS, required=True)
    )


def _parse_summary(data: Any) -> EmailCampaignSummary:
    return EmailCampaignSummary.parse(data, source="GET /reports/summary_reports")


class Reporting(ReportingOperations):
    """Sync reporting operations."""

    def email_campaign_summaries(self, *, limit: int | None = None) -> EmailCampaignSummariesPage:
        """The newest sent campaigns' counts, with the rates across them (one page)."""
        data = self.get_all_bulk_email_campaign_summaries(limit=_limit(limit))
        return EmailCampaignSummariesPage.parse(
            data, source="GET /reports/summary_reports/email_campaign_summaries"
        )

    def iter_campaign_summaries(
        self, *, limit: int | None = None
    ) -> Paginator[EmailCampaignSummary]:
        """Every sent campaign's summary, newest first, page after page."""
        return self._client._paginate_operation(
            "getAllBulkEmailCampaignSummaries",
            items_key="bulk_email_campaign_summaries",
            query={"limit": _limit(limit)},
            parse_item=_parse_summary,
        )

    def email_campaign_stats(self, campaign_ids: Sequence[str]) -> EmailCampaignStatsReport:
        """Statistics of up to 150 campaigns."""
        data = self.get_email_summary(_ids(campaign_ids))
        return EmailCampaignStatsReport.parse(data, source="GET /reports/stats/email_campaigns")


class AsyncReporting(AsyncReportingOperations):
    """Async reporting operations (the twins of ``Reporting``)."""

    async def email_campaign_summaries(
        self, *, limit: int | None = None
    ) -> EmailCampaignSummariesPage:
        """The newest sent campaigns' counts, with the rates across them (one page)."""
        data = await self.get_all_bulk_email_campaign_summaries(limit=_limit(limit))
        return EmailCampaignSummariesPage.parse(
            data, source="GET /reports/summary_reports/email_campaign_summaries"
        )

    def iter_campaign_summaries(
        self, *, limit: int | None = None
    ) -> AsyncPaginator[EmailCampaignSummary]:
        """Every sent campaign's summary, newest first, page after page."""
        return self._client._paginate_operation(
            "getAllBulkEmailCampaignSummaries",
            items_key="bulk_email_campaign_summaries",
            query={"limit": _limit(limit)},
            parse_item=_parse_summary,
        )

    async def email_campaign_stats(self, campaign_ids: Sequence[str]) -> EmailCampaignStatsReport:
        """Statistics of up to 150 campaigns."""
        data = await self.get_email_summary(_ids(campaign_ids))
        return EmailCampaignStatsReport.parse(data, source="GET /reports/stats/email_campaigns")
