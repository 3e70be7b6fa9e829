"""``client.email_campaigns``: email campaigns and their activities (``/emails``).

The operations themselves are generated from CC's operation table (``_generated.py``);
this module is where hand-written conveniences for the group live, so regenerating never
overwrites them.
"""

from __future__ import annotations

from ccbridge.resources._generated import AsyncEmailCampaignsOperations, EmailCampaignsOperations


class EmailCampaigns(EmailCampaignsOperations):
    """Sync operations on email campaigns and their activities."""


class AsyncEmailCampaigns(AsyncEmailCampaignsOperations):
    """Async operations on email campaigns and their activities."""
