"""What every resource group is built on: a handle on the client that sends its calls.

Resource classes (generated and hand-written) only describe operations; sending, retrying,
pacing and error mapping are the client's. They see the client through the two small
protocols below, so the resources package does not import the client module.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol

from ccbridge._pagination import AsyncPaginator, Paginator


class SyncOperationSender(Protocol):
    def _operation(
        self,
        operation_id: str,
        *,
        path_params: Mapping[str, Any] | None = None,
        query: Mapping[str, Any] | None = None,
        body: Any = None,
        form: Mapping[str, Any] | None = None,
    ) -> Any: ...

    def _paginate_operation(
        self,
        operation_id: str,
        *,
        items_key: str | None = None,
        path_params: Mapping[str, Any] | None = None,
        query: Mapping[str, Any] | None = None,
        parse_item: Callable[[Any], Any] | None = None,
    ) -> Paginator[Any]: ...


class AsyncOperationSender(Protocol):
    async def _operation(
        self,
        operation_id: str,
        *,
        path_params: Mapping[str, Any] | None = None,
        query: Mapping[str, Any] | None = None,
        body: Any = None,
        form: Mapping[str, Any] | None = None,
    ) -> Any: ...

    def _paginate_operation(
        self,
        operation_id: str,
        *,
        items_key: str | None = None,
        path_params: Mapping[str, Any] | None = None,
        query: Mapping[str, Any] | None = None,
        parse_item: Callable[[Any], Any] | None = None,
    ) -> AsyncPaginator[Any]: ...


class SyncResource:
    """Base of the sync resource groups (``client.contacts`` …)."""

    def __init__(self, client: SyncOperationSender) -> None:
        self._client = client

    def __repr__(self) -> str:
        return f"<{type(self).__name__}>"


class AsyncResource:
    """Base of the async resource groups (``async_client.contacts`` …)."""

    def __init__(self, client: AsyncOperationSender) -> None:
        self._client = client

    def __repr__(self) -> str:
        return f"<{type(self).__name__}>"
