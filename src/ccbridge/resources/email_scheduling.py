"""``client.email_scheduling``: sending, scheduling, test sends, previews and send history of
campaign activities, typed.

Only a campaign's primary_email activity can be scheduled, only in DRAFT, DONE or ERROR
and once recipients are set; ``send_now`` is CC's ``scheduled_date: "0"``. Test sends go
to at most 5 addresses per call and 50 per day, with no personalisation
(CC-V3-FACTS §6, §11 fact 15).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from ccbridge._errors import InvalidArgumentError
from ccbridge.models.email_campaigns import CampaignPreview, EmailSchedule, SendHistoryEntry
from ccbridge.resources._checks import check_email, check_id, check_text
from ccbridge.resources._generated import AsyncEmailSchedulingOperations, EmailSchedulingOperations

MAX_TEST_RECIPIENTS = 5
MESSAGE_MAX = 500
SEND_NOW = "0"


def _scheduled_date(when: datetime | date) -> str:
    if isinstance(when, datetime):
        if when.tzinfo is None:
            raise InvalidArgumentError("when must be timezone-aware (CC schedules in UTC)")
        return when.isoformat()
    if isinstance(when, date):
        return when.isoformat()
    raise InvalidArgumentError(f"when must be a datetime or a date, not {type(when).__name__}")


def _test_body(email_addresses: Sequence[str], personal_message: str | None) -> dict[str, Any]:
    if isinstance(email_addresses, str) or not isinstance(email_addresses, Sequence):
        raise InvalidArgumentError("email_addresses must be a list of email addresses")
    if not 1 <= len(email_addresses) <= MAX_TEST_RECIPIENTS:
        raise InvalidArgumentError(
            f"email_addresses must hold 1 to {MAX_TEST_RECIPIENTS} addresses; "
            f"got {len(email_addresses)}"
        )
    body: dict[str, Any] = {
        "email_addresses": [
            check_email(f"email_addresses[{i}]", address, 80)
            for i, address in enumerate(email_addresses)
        ]
    }
    if personal_message is not None:
        body["personal_message"] = check_text("personal_message", personal_message, MESSAGE_MAX)
    return body


def _schedules(data: Any, source: str) -> list[EmailSchedule]:
    return EmailSchedule.parse_list(data if data is not None else [], source=source)


class EmailScheduling(EmailSchedulingOperations):
    """Sync operations on sending and scheduling campaign activities."""

    def schedule(self, campaign_activity_id: str, when: datetime | date) -> list[EmailSchedule]:
        """Send the activity at ``when``."""
        data = self.schedule_email_campaign_activity(
            check_id("campaign_activity_id", campaign_activity_id),
            body={"scheduled_date": _scheduled_date(when)},
        )
        return _schedules(data, "POST /emails/activities/{campaign_activity_id}/schedules")

    def send_now(self, campaign_activity_id: str) -> list[EmailSchedule]:
        """Send the activity now (a resend of a DONE activity reaches only new contacts)."""
        data = self.schedule_email_campaign_activity(
            check_id("campaign_activity_id", campaign_activity_id),
            body={"scheduled_date": SEND_NOW},
        )
        return _schedules(data, "POST /emails/activities/{campaign_activity_id}/schedules")

    def schedules(self, campaign_activity_id: str) -> list[EmailSchedule]:
        """The activity's schedule (empty unless it is SCHEDULED)."""
        data = self.retrieve_email_schedules(check_id("campaign_activity_id", campaign_activity_id))
        return _schedules(data, "GET /emails/activities/{campaign_activity_id}/schedules")

    def unschedule(self, campaign_activity_id: str) -> None:
        """Cancel a schedule; the activity returns to the status it had before."""
        self.unschedule_email_campaign_activity(
            check_id("campaign_activity_id", campaign_activity_id)
        )

    def test_send(
        self,
        campaign_activity_id: str,
        email_addresses: Sequence[str],
        *,
        personal_message: str | None = None,
    ) -> None:
        """Send a test to at most 5 addresses (CC allows 50 test recipients a day)."""
        self.test_send_campaign_activity(
            check_id("campaign_activity_id", campaign_activity_id),
            body=_test_body(email_addresses, personal_message),
        )

    def preview(self, campaign_activity_id: str) -> CampaignPreview:
        data = self.retrieve_email_campaign_activity_preview(
            check_id("campaign_activity_id", campaign_activity_id)
        )
        return CampaignPreview.parse(data, source="GET /emails/activities/{id}/previews")

    def send_history(self, campaign_activity_id: str) -> list[SendHistoryEntry]:
        data = self.retrieve_email_send_history(
            check_id("campaign_activity_id", campaign_activity_id)
        )
        return SendHistoryEntry.parse_list(
            data if data is not None else [], source="GET /emails/activities/{id}/send_history"
        )


class AsyncEmailScheduling(AsyncEmailSchedulingOperations):
    """Async operations on sending and scheduling (the twins of ``EmailScheduling``)."""

    async def schedule(
        self, campaign_activity_id: str, when: datetime | date
    ) -> list[EmailSchedule]:
        """Send the activity at ``when``."""
        data = await self.schedule_email_campaign_activity(
            check_id("campaign_activity_id", campaign_activity_id),
            body={"scheduled_date": _scheduled_date(when)},
        )
        return _schedules(data, "POST /emails/activities/{campaign_activity_id}/schedules")

    async def send_now(self, campaign_activity_id: str) -> list[EmailSchedule]:
        """Send the activity now."""
        data = await self.schedule_email_campaign_activity(
            check_id("campaign_activity_id", campaign_activity_id),
            body={"scheduled_date": SEND_NOW},
        )
        return _schedules(data, "POST /emails/activities/{campaign_activity_id}/schedules")

    async def schedules(self, campaign_activity_id: str) -> list[EmailSchedule]:
        """The activity's schedule."""
        data = await self.retrieve_email_schedules(
            check_id("campaign_activity_id", campaign_activity_id)
        )
        return _schedules(data, "GET /emails/activities/{campaign_activity_id}/schedules")

    async def unschedule(self, campaign_activity_id: str) -> None:
        """Cancel a schedule."""
        await self.unschedule_email_campaign_activity(
            check_id("campaign_activity_id", campaign_activity_id)
        )

    async def test_send(
        self,
        campaign_activity_id: str,
        email_addresses: Sequence[str],
        *,
        personal_message: str | None = None,
    ) -> None:
        """Send a test to at most 5 addresses."""
        await self.test_send_campaign_activity(
            check_id("campaign_activity_id", campaign_activity_id),
            body=_test_body(email_addresses, personal_message),
        )

    async def preview(self, campaign_activity_id: str) -> CampaignPreview:
        data = await self.retrieve_email_campaign_activity_preview(
            check_id("campaign_activity_id", campaign_activity_id)
        )
        return CampaignPreview.parse(data, source="GET /emails/activities/{id}/previews")

    async def send_history(self, campaign_activity_id: str) -> list[SendHistoryEntry]:
        data = await self.retrieve_email_send_history(
            check_id("campaign_activity_id", campaign_activity_id)
        )
        return SendHistoryEntry.parse_list(
            data if data is not None else [], source="GET /emails/activities/{id}/send_history"
        )
