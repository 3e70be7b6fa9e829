"""Email reporting: campaign summaries and per-campaign statistics."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from ccbridge.models._base import CCModel, PageLinks, links_field


class UniqueEmailCounts(CCModel):
    """Unique counts of a campaign: sends, opens, clicks, bounces, …"""

    sends: int | None = None
    opens: int | None = None
    clicks: int | None = None
    forwards: int | None = None
    optouts: int | None = None
    abuse: int | None = None
    bounces: int | None = None
    not_opened: int | None = None


class EmailCampaignSummary(CCModel):
    """One sent campaign in ``/reports/summary_reports/email_campaign_summaries``."""

    campaign_id: str
    campaign_type: str | None = None
    last_sent_date: datetime | None = None
    unique_counts: UniqueEmailCounts | None = None


class SummaryPercents(CCModel):
    """Rates across all campaigns of a summaries page, in percent."""

    open: float | None = None
    click: float | None = None
    did_not_open: float | None = None
    bounce: float | None = None
    unsubscribe: float | None = None


class EmailCampaignSummariesPage(CCModel):
    """One page of campaign summaries plus the aggregate rates."""

    bulk_email_campaign_summaries: list[EmailCampaignSummary] = Field(default_factory=list)
    aggregate_percents: SummaryPercents | None = None
    links: PageLinks | None = links_field()


class EmailStats(CCModel):
    """A campaign's counters (``em_sends``, ``em_opens``, … and the ``*_all`` variants)."""

    em_sends: int | None = None
    em_opens: int | None = None
    em_clicks: int | None = None
    em_bounces: int | None = None
    em_optouts: int | None = None
    em_forwards: int | None = None
    em_not_opened: int | None = None
    em_opens_all: int | None = None
    em_clicks_all: int | None = None


class EmailPercents(CCModel):
    """A campaign's rates in percent."""

    open: float | None = None
    click: float | None = None
    bounce: float | None = None
    unsubscribe: float | None = None
    did_not_open: float | None = None
    desktop_open: float | None = None
    desktop_click: float | None = None
    mobile_open: float | None = None
    mobile_click: float | None = None


class EmailCampaignStats(CCModel):
    """Statistics of one campaign from ``/reports/stats/email_campaigns/{ids}``."""

    campaign_id: str
    stats: EmailStats | None = None
    percents: EmailPercents | None = None
    last_refresh_time: datetime | None = None


class StatsError(CCModel):
    error_key: str | None = None
    error_message: str | None = None


class EmailCampaignStatsReport(CCModel):
    """The answer for several campaigns: ``results`` per campaign, ``errors`` for the rest."""

    results: list[EmailCampaignStats] = Field(default_factory=list)
    errors: list[StatsError] = Field(default_factory=list)
