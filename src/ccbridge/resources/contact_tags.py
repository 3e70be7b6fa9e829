"""``client.contact_tags``: contact tags (``/contact_tags``).

The operations themselves are generated from CC's operation table (``_generated.py``);
this module is where hand-written conveniences for the group live, so regenerating never
overwrites them.
"""

from __future__ import annotations

from ccbridge.resources._generated import AsyncContactTagsOperations, ContactTagsOperations


class ContactTags(ContactTagsOperations):
    """Sync operations on contact tags."""


class AsyncContactTags(AsyncContactTagsOperations):
    """Async operations on contact tags."""
