"""``client.account``: the account's summary, physical address, emails and user privileges (``/account``).

The operations themselves are generated from CC's operation table (``_generated.py``);
this module is where hand-written conveniences for the group live, so regenerating never
overwrites them.
"""

from __future__ import annotations

from ccbridge.resources._generated import AccountServicesOperations, AsyncAccountServicesOperations


class Account(AccountServicesOperations):
    """Sync operations on the account's summary, physical address, emails and user privileges."""


class AsyncAccount(AsyncAccountServicesOperations):
    """Async operations on the account's summary, physical address, emails and user privileges."""
