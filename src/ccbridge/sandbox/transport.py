"""httpx transports that hand requests straight to a ``Sandbox`` — no sockets, no server.

``SandboxTransport`` serves sync ``httpx.Client`` and ``AsyncSandboxTransport`` serves
``httpx.AsyncClient``. They behave like the HTTP server where it matters to a client:
bodies over ``MAX_BODY_BYTES`` get 413, injected latency is honoured against the request's
read timeout (raising ``httpx.ReadTimeout`` once the timeout has elapsed, as a socket
would), and a dropped connection raises ``httpx.RemoteProtocolError`` as httpx does when a
server hangs up. As on a real server, the request has been processed when either happens.
"""

from __future__ import annotations

import asyncio
import time

import httpx

from ccbridge.sandbox.app import Sandbox
from ccbridge.sandbox.http import MAX_BODY_BYTES, SandboxRequest, SandboxResponse


def _to_sandbox(request: httpx.Request, body: bytes) -> SandboxRequest:
    return SandboxRequest.build(
        method=request.method,
        path=request.url.path,
        query_string=request.url.query.decode("ascii"),
        headers=[(k.decode("latin-1"), v.decode("latin-1")) for k, v in request.headers.raw],
        body=body,
    )


def _answer(sandbox: Sandbox, request: httpx.Request, body: bytes) -> SandboxResponse:
    if len(body) > MAX_BODY_BYTES:
        return sandbox.refuse_too_large(_to_sandbox(request, b""), MAX_BODY_BYTES)
    return sandbox.handle(_to_sandbox(request, body))


def _read_timeout(request: httpx.Request) -> float | None:
    timeout = request.extensions.get("timeout") or {}
    value = timeout.get("read")
    return float(value) if value is not None else None


def _times_out(response: SandboxResponse, request: httpx.Request) -> float | None:
    """How long to wait before raising ReadTimeout, or None when the delay fits."""
    limit = _read_timeout(request)
    if response.delay and limit is not None and response.delay > limit:
        return limit
    return None


def _timeout_error(request: httpx.Request) -> httpx.ReadTimeout:
    return httpx.ReadTimeout(
        "sandbox fault: the response was delayed past the read timeout", request=request
    )


def _finish(response: SandboxResponse, request: httpx.Request) -> httpx.Response:
    if response.drop:
        raise httpx.RemoteProtocolError(
            "Server disconnected without sending a response.", request=request
        )
    return httpx.Response(
        status_code=response.status,
        headers=response.headers,
        content=response.body,
        request=request,
    )


class SandboxTransport(httpx.BaseTransport):
    """Serves a sync ``httpx.Client`` from a ``Sandbox`` in the same process."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = _answer(self.sandbox, request, request.read())
        timeout = _times_out(response, request)
        if timeout is not None:
            time.sleep(timeout)
            raise _timeout_error(request)
        if response.delay:
            time.sleep(response.delay)
        return _finish(response, request)


class AsyncSandboxTransport(httpx.AsyncBaseTransport):
    """Serves an ``httpx.AsyncClient`` from a ``Sandbox`` in the same process.

    The sandbox itself is synchronous and fast; only injected latency awaits.
    """

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = _answer(self.sandbox, request, await request.aread())
        timeout = _times_out(response, request)
        if timeout is not None:
            await asyncio.sleep(timeout)
            raise _timeout_error(request)
        if response.delay:
            await asyncio.sleep(response.delay)
        return _finish(response, request)
