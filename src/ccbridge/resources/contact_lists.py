"""``client.contact_lists``: contact lists (``/contact_lists``).

The operations themselves are generated from CC's operation table (``_generated.py``);
this module is where hand-written conveniences for the group live, so regenerating never
overwrites them.
"""

from __future__ import annotations

from ccbridge.resources._generated import AsyncContactListsOperations, ContactListsOperations


class ContactLists(ContactListsOperations):
    """Sync operations on contact lists."""


class AsyncContactLists(AsyncContactListsOperations):
    """Async operations on contact lists."""
