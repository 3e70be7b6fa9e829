"""``client.email_scheduling``: scheduling, test sends, previews and send history of campaign activities.

The operations themselves are generated from CC's operation table (``_generated.py``);
this module is where hand-written conveniences for the group live, so regenerating never
overwrites them.
"""

from __future__ import annotations

from ccbridge.resources._generated import AsyncEmailSchedulingOperations, EmailSchedulingOperations


class EmailScheduling(EmailSchedulingOperations):
    """Sync operations on scheduling, test sends, previews and send history of campaign activities."""


class AsyncEmailScheduling(AsyncEmailSchedulingOperations):
    """Async operations on scheduling, test sends, previews and send history of campaign activities."""
