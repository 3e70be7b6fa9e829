"""``client.custom_fields``: contact custom fields (``/contact_custom_fields``).

The operations themselves are generated from CC's operation table (``_generated.py``);
this module is where hand-written conveniences for the group live, so regenerating never
overwrites them.
"""

from __future__ import annotations

from ccbridge.resources._generated import (
    AsyncContactsCustomFieldsOperations,
    ContactsCustomFieldsOperations,
)


class CustomFields(ContactsCustomFieldsOperations):
    """Sync operations on contact custom fields."""


class AsyncCustomFields(AsyncContactsCustomFieldsOperations):
    """Async operations on contact custom fields."""
