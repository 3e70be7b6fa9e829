"""``Client`` and ``AsyncClient``: Constant Contact's V3 API over httpx.

The two are twins over ``ClientCore`` (``_base_client.py``), which does everything that
does not wait. What is left here is the loop each call runs, once per attempt: wait for a
rate-limit slot, send, and then return, sleep and retry, or refresh the token once after a
401. The clients differ only in how they send, sleep and close.

The httpx transport is the one network seam: pass ``transport=SandboxTransport(sandbox)``
(or ``AsyncSandboxTransport``) to run against the in-process sandbox, with no sockets.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager, contextmanager
from types import TracebackType
from typing import Any

import anyio
import httpx

from ccbridge._auth import StaticToken, TokenSource, as_token_source
from ccbridge._base_client import (
    DEFAULT_BASE_URL,
    DEFAULT_MAX_RETRIES,
    DEFAULT_TIMEOUT,
    ClientCore,
    Done,
    Outcome,
    PreparedCall,
    Refresh,
)
from ccbridge._errors import InvalidArgumentError
from ccbridge._logging import RequestHook, ResponseHook
from ccbridge._pagination import AsyncPaginator, Paginator
from ccbridge._ratelimit import RateLimiter, backend_from_url, process_memory_backend
from ccbridge._types import AsyncSleep, Clock, SyncSleep
from ccbridge.resources import (
    Account,
    AsyncAccount,
    AsyncBulkActivities,
    AsyncContactLists,
    AsyncContacts,
    AsyncContactTags,
    AsyncCustomFields,
    AsyncEmailCampaigns,
    AsyncEmailScheduling,
    AsyncReporting,
    AsyncSegments,
    BulkActivities,
    ContactLists,
    Contacts,
    ContactTags,
    CustomFields,
    EmailCampaigns,
    EmailScheduling,
    Reporting,
    Segments,
)
from ccbridge.resources._generated import (
    AsyncAutomationsOperations,
    AsyncEmailCampaignsAbTestsOperations,
    AsyncEventsOperations,
    AsyncSocialOperations,
    AsyncTechnologyPartnersOperations,
    AsyncTechnologyPartnersWebhooksOperations,
    AutomationsOperations,
    EmailCampaignsAbTestsOperations,
    EventsOperations,
    SocialOperations,
    TechnologyPartnersOperations,
    TechnologyPartnersWebhooksOperations,
)

RateLimitOption = RateLimiter | str | None


def _limiter(option: RateLimitOption, clock: Clock) -> tuple[RateLimiter | None, bool]:
    """The limiter to use, and whether this client owns (and so closes) its backend."""
    if option is None:
        return None, False
    if isinstance(option, RateLimiter):
        return option, False
    if isinstance(option, str):
        backend = backend_from_url(option)
        return RateLimiter(backend, clock=clock), backend is not process_memory_backend()
    raise InvalidArgumentError(
        "rate_limit must be a RateLimiter, 'memory', 'sqlite:///path', 'redis://…' or None"
    )


class _ClientBase:
    """Constructor arguments and helpers common to both clients."""

    def __init__(
        self,
        token: str | TokenSource,
        *,
        client_id: str | None,
        base_url: str,
        timeout: float | httpx.Timeout | None,
        max_retries: int,
        rate_limit: RateLimitOption,
        default_headers: Mapping[str, str] | None,
        partner_api_key: str | None,
        on_request: Sequence[RequestHook],
        on_response: Sequence[ResponseHook],
        clock: Clock,
    ) -> None:
        self._token_source = as_token_source(token)
        # A fixed token cannot get better: after its 401 there is nothing to refresh.
        self._can_refresh = not isinstance(self._token_source, StaticToken)
        self._core = ClientCore(
            base_url=base_url,
            timeout=timeout,
            max_retries=max_retries,
            client_id=client_id,
            default_headers=default_headers,
            partner_api_key=partner_api_key,
            on_request=on_request,
            on_response=on_response,
            clock=clock,
        )
        self._limiter, self._owns_limiter = _limiter(rate_limit, clock)

    @property
    def base_url(self) -> str:
        return str(self._core.base_url)

    @property
    def token_source(self) -> TokenSource:
        return self._token_source

    @property
    def rate_limiter(self) -> RateLimiter | None:
        return self._limiter

    def now(self) -> float:
        """The client's clock (epoch seconds): what its waits and deadlines are measured on.

        Injectable, so long-running helpers (bulk activity polling) can run on a sandbox's
        clock in tests instead of real time.
        """
        return self._core.clock()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.base_url!r})"


class Client(_ClientBase):
    """A synchronous client for CC's V3 API.

    ``token`` is an access token or a ``TokenSource``. ``rate_limit`` paces requests to
    CC's limits for the client_id (``client_id``, else the token's ``cid`` claim):
    ``"memory"`` (one budget per process, the default), ``"sqlite:///path"`` (per machine),
    ``"redis://…"`` (across machines), a ``RateLimiter``, or None to switch pacing off.
    ``sleep`` and ``clock`` exist so tests (and the sandbox's virtual time) can replace
    waiting.
    """

    account: Account
    contacts: Contacts
    contact_lists: ContactLists
    contact_tags: ContactTags
    custom_fields: CustomFields
    segments: Segments
    bulk_activities: BulkActivities
    email_campaigns: EmailCampaigns
    ab_tests: EmailCampaignsAbTestsOperations
    email_scheduling: EmailScheduling
    reporting: Reporting
    automations: AutomationsOperations
    events: EventsOperations
    social: SocialOperations
    partner: TechnologyPartnersOperations
    webhooks: TechnologyPartnersWebhooksOperations

    def __init__(
        self,
        token: str | TokenSource,
        *,
        client_id: str | None = None,
        base_url: str = DEFAULT_BASE_URL,
        transport: httpx.BaseTransport | None = None,
        timeout: float | httpx.Timeout | None = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        rate_limit: RateLimitOption = "memory",
        default_headers: Mapping[str, str] | None = None,
        partner_api_key: str | None = None,
        on_request: Sequence[RequestHook] = (),
        on_response: Sequence[ResponseHook] = (),
        sleep: SyncSleep = time.sleep,
        clock: Clock = time.time,
    ) -> None:
        super().__init__(
            token,
            client_id=client_id,
            base_url=base_url,
            timeout=timeout,
            max_retries=max_retries,
            rate_limit=rate_limit,
            default_headers=default_headers,
            partner_api_key=partner_api_key,
            on_request=on_request,
            on_response=on_response,
            clock=clock,
        )
        self._sleep = sleep
        self._http = httpx.Client(transport=transport, follow_redirects=False)
        self.account = Account(self)
        self.contacts = Contacts(self)
        self.contact_lists = ContactLists(self)
        self.contact_tags = ContactTags(self)
        self.custom_fields = CustomFields(self)
        self.segments = Segments(self)
        self.bulk_activities = BulkActivities(self)
        self.email_campaigns = EmailCampaigns(self)
        self.ab_tests = EmailCampaignsAbTestsOperations(self)
        self.email_scheduling = EmailScheduling(self)
        self.reporting = Reporting(self)
        self.automations = AutomationsOperations(self)
        self.events = EventsOperations(self)
        self.social = SocialOperations(self)
        self.partner = TechnologyPartnersOperations(self)
        self.webhooks = TechnologyPartnersWebhooksOperations(self)

    # -- the generic calls ---------------------------------------------------------------
    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
    ) -> Any:
        """Call any path under the base URL (e.g. ``"/contacts"``); returns the parsed body."""
        return self._send(self._core.prepare(method, path, params=params, json_body=json))

    def paginate(
        self,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        items_key: str | None = None,
        parse_item: Callable[[Any], Any] | None = None,
    ) -> Paginator[Any]:
        """Lazily iterate the items of a CC collection at ``path``, following ``_links.next``."""
        first = self._core.prepare("GET", path, params=params)
        return self._paginator(first, items_key, parse_item)

    @contextmanager
    def stream(
        self, method: str, path: str, *, params: Mapping[str, Any] | None = None
    ) -> Iterator[httpx.Response]:
        """A successful response whose body is not yet read (for large CSV exports).

        Retries, pacing and token refresh apply until the response head arrives; the body
        is then the caller's to read (``iter_bytes``, ``iter_lines``) inside the block.
        """
        response = self._send(self._core.prepare(method, path, params=params, stream=True))
        try:
            yield response
        finally:
            response.close()

    # -- used by the resource classes ----------------------------------------------------
    def _operation(
        self,
        operation_id: str,
        *,
        path_params: Mapping[str, Any] | None = None,
        query: Mapping[str, Any] | None = None,
        body: Any = None,
        form: Mapping[str, Any] | None = None,
    ) -> Any:
        call = self._core.prepare_operation(
            operation_id, path_params=path_params, query=query, body=body, form=form
        )
        return self._send(call)

    def _paginate_operation(
        self,
        operation_id: str,
        *,
        items_key: str | None = None,
        path_params: Mapping[str, Any] | None = None,
        query: Mapping[str, Any] | None = None,
        parse_item: Callable[[Any], Any] | None = None,
    ) -> Paginator[Any]:
        # Arguments are checked now, before anything is sent, not at the first next().
        first = self._core.prepare_operation(operation_id, path_params=path_params, query=query)
        return self._paginator(first, items_key, parse_item)

    def _paginator(
        self,
        first: PreparedCall,
        items_key: str | None,
        parse_item: Callable[[Any], Any] | None,
    ) -> Paginator[Any]:
        return Paginator(
            lambda: self._send(first),
            lambda href: self._send(self._core.prepare_next_page(href, first.operation_id)),
            items_key=items_key,
            parse_item=parse_item,
        )

    # -- the send loop ---------------------------------------------------------------------
    def _send(self, call: PreparedCall) -> Any:
        core = self._core
        token = self._token_source.get_token()
        refreshed = False
        attempt = 0
        while True:
            attempt += 1
            if self._limiter is not None:
                self._limiter.acquire(core.rate_limit_key(token), self._sleep)
            request = core.build_request(call, token)
            core.before_send(call, attempt)
            started = time.perf_counter()
            outcome: Outcome
            try:
                response = self._http.send(request, stream=call.stream)
            except httpx.TransportError as exc:
                outcome = core.after_transport_error(call, exc, attempt, started)
            else:
                if call.stream and response.status_code >= 400:
                    response.read()
                    response.close()
                outcome = core.after_response(
                    call,
                    response,
                    attempt,
                    started,
                    can_refresh=self._can_refresh and not refreshed,
                )
            if isinstance(outcome, Done):
                return outcome.value
            if isinstance(outcome, Refresh):
                new_token = self._token_source.refresh(token)
                if new_token == token:
                    raise outcome.error  # the source has nothing better: the 401 stands
                token, refreshed = new_token, True
                continue
            self._sleep(outcome.delay)

    # -- lifecycle -----------------------------------------------------------------------
    def wait(self, seconds: float) -> None:
        """Sleep with the client's injectable sleep (see ``now``)."""
        self._sleep(seconds)

    def close(self) -> None:
        self._http.close()
        if self._owns_limiter and self._limiter is not None:
            self._limiter.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class AsyncClient(_ClientBase):
    """The asyncio (and trio, through anyio) twin of ``Client``; same arguments, same groups."""

    account: AsyncAccount
    contacts: AsyncContacts
    contact_lists: AsyncContactLists
    contact_tags: AsyncContactTags
    custom_fields: AsyncCustomFields
    segments: AsyncSegments
    bulk_activities: AsyncBulkActivities
    email_campaigns: AsyncEmailCampaigns
    ab_tests: AsyncEmailCampaignsAbTestsOperations
    email_scheduling: AsyncEmailScheduling
    reporting: AsyncReporting
    automations: AsyncAutomationsOperations
    events: AsyncEventsOperations
    social: AsyncSocialOperations
    partner: AsyncTechnologyPartnersOperations
    webhooks: AsyncTechnologyPartnersWebhooksOperations

    def __init__(
        self,
        token: str | TokenSource,
        *,
        client_id: str | None = None,
        base_url: str = DEFAULT_BASE_URL,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float | httpx.Timeout | None = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        rate_limit: RateLimitOption = "memory",
        default_headers: Mapping[str, str] | None = None,
        partner_api_key: str | None = None,
        on_request: Sequence[RequestHook] = (),
        on_response: Sequence[ResponseHook] = (),
        sleep: AsyncSleep = anyio.sleep,
        clock: Clock = time.time,
    ) -> None:
        super().__init__(
            token,
            client_id=client_id,
            base_url=base_url,
            timeout=timeout,
            max_retries=max_retries,
            rate_limit=rate_limit,
            default_headers=default_headers,
            partner_api_key=partner_api_key,
            on_request=on_request,
            on_response=on_response,
            clock=clock,
        )
        self._sleep = sleep
        self._http = httpx.AsyncClient(transport=transport, follow_redirects=False)
        self.account = AsyncAccount(self)
        self.contacts = AsyncContacts(self)
        self.contact_lists = AsyncContactLists(self)
        self.contact_tags = AsyncContactTags(self)
        self.custom_fields = AsyncCustomFields(self)
        self.segments = AsyncSegments(self)
        self.bulk_activities = AsyncBulkActivities(self)
        self.email_campaigns = AsyncEmailCampaigns(self)
        self.ab_tests = AsyncEmailCampaignsAbTestsOperations(self)
        self.email_scheduling = AsyncEmailScheduling(self)
        self.reporting = AsyncReporting(self)
        self.automations = AsyncAutomationsOperations(self)
        self.events = AsyncEventsOperations(self)
        self.social = AsyncSocialOperations(self)
        self.partner = AsyncTechnologyPartnersOperations(self)
        self.webhooks = AsyncTechnologyPartnersWebhooksOperations(self)

    # -- the generic calls ---------------------------------------------------------------
    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
    ) -> Any:
        """Call any path under the base URL (e.g. ``"/contacts"``); returns the parsed body."""
        return await self._send(self._core.prepare(method, path, params=params, json_body=json))

    def paginate(
        self,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        items_key: str | None = None,
        parse_item: Callable[[Any], Any] | None = None,
    ) -> AsyncPaginator[Any]:
        """Lazily iterate the items of a CC collection at ``path``, following ``_links.next``."""
        first = self._core.prepare("GET", path, params=params)
        return self._paginator(first, items_key, parse_item)

    @asynccontextmanager
    async def stream(
        self, method: str, path: str, *, params: Mapping[str, Any] | None = None
    ) -> AsyncIterator[httpx.Response]:
        """A successful response whose body is not yet read (for large CSV exports)."""
        response = await self._send(self._core.prepare(method, path, params=params, stream=True))
        try:
            yield response
        finally:
            await response.aclose()

    # -- used by the resource classes ----------------------------------------------------
    async def _operation(
        self,
        operation_id: str,
        *,
        path_params: Mapping[str, Any] | None = None,
        query: Mapping[str, Any] | None = None,
        body: Any = None,
        form: Mapping[str, Any] | None = None,
    ) -> Any:
        call = self._core.prepare_operation(
            operation_id, path_params=path_params, query=query, body=body, form=form
        )
        return await self._send(call)

    def _paginate_operation(
        self,
        operation_id: str,
        *,
        items_key: str | None = None,
        path_params: Mapping[str, Any] | None = None,
        query: Mapping[str, Any] | None = None,
        parse_item: Callable[[Any], Any] | None = None,
    ) -> AsyncPaginator[Any]:
        first = self._core.prepare_operation(operation_id, path_params=path_params, query=query)
        return self._paginator(first, items_key, parse_item)

    def _paginator(
        self,
        first: PreparedCall,
        items_key: str | None,
        parse_item: Callable[[Any], Any] | None,
    ) -> AsyncPaginator[Any]:
        async def fetch_first() -> Any:
            return await self._send(first)

        async def fetch_next(href: str) -> Any:
            return await self._send(self._core.prepare_next_page(href, first.operation_id))

        return AsyncPaginator(fetch_first, fetch_next, items_key=items_key, parse_item=parse_item)

    # -- the send loop ---------------------------------------------------------------------
    async def _send(self, call: PreparedCall) -> Any:
        core = self._core
        token = await self._token_source.aget_token()
        refreshed = False
        attempt = 0
        while True:
            attempt += 1
            if self._limiter is not None:
                await self._limiter.acquire_async(core.rate_limit_key(token), self._sleep)
            request = core.build_request(call, token)
            core.before_send(call, attempt)
            started = time.perf_counter()
            outcome: Outcome
            try:
                response = await self._http.send(request, stream=call.stream)
            except httpx.TransportError as exc:
                outcome = core.after_transport_error(call, exc, attempt, started)
            else:
                if call.stream and response.status_code >= 400:
                    await response.aread()
                    await response.aclose()
                outcome = core.after_response(
                    call,
                    response,
                    attempt,
                    started,
                    can_refresh=self._can_refresh and not refreshed,
                )
            if isinstance(outcome, Done):
                return outcome.value
            if isinstance(outcome, Refresh):
                new_token = await self._token_source.arefresh(token)
                if new_token == token:
                    raise outcome.error
                token, refreshed = new_token, True
                continue
            await self._sleep(outcome.delay)

    # -- lifecycle -----------------------------------------------------------------------
    async def wait(self, seconds: float) -> None:
        """Sleep with the client's injectable sleep (see ``now``)."""
        await self._sleep(seconds)

    async def aclose(self) -> None:
        await self._http.aclose()
        if self._owns_limiter and self._limiter is not None:
            self._limiter.close()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
