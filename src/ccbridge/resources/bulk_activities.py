"""``client.bulk_activities``: bulk activities: imports, exports, list and tag memberships, deletes (``/activities``).

The operations themselves are generated from CC's operation table (``_generated.py``);
this module is where hand-written conveniences for the group live, so regenerating never
overwrites them.
"""

from __future__ import annotations

from ccbridge.resources._generated import AsyncBulkActivitiesOperations, BulkActivitiesOperations


class BulkActivities(BulkActivitiesOperations):
    """Sync operations on bulk activities: imports, exports, list and tag memberships, deletes."""


class AsyncBulkActivities(AsyncBulkActivitiesOperations):
    """Async operations on bulk activities: imports, exports, list and tag memberships, deletes."""
