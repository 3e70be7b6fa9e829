"""httpx transports that hand requests straight to a ``Sandbox`` — no sockets, no server.

``SandboxTransport`` serves sync ``httpx.Client`` and ``AsyncSandboxTransport`` serves
``httpx.AsyncClient``. Injected latency is honoured against the request's read timeout
(raising ``httpx.ReadTimeout`` as a real socket would), and a dropped connection raises
``httpx.RemoteProtocolError`` as httpx does when a server hangs up.
"""

from __future__ import annotations

import asyncio
import time

import httpx

from ccbridge.sandbox.app import Sandbox
from ccbridge.sandbox.http import SandboxRequest, SandboxResponse


def _to_sandbox(request: httpx.Request, body: bytes) -> SandboxRequest:
    return SandboxRequest.build(
        method=request.method,
        path=request.url.path,
        query_string=request.url.query.decode("ascii"),
        headers=[(k.decode("latin-1"), v.decode("latin-1")) for k, v in request.headers.raw],
        body=body,
    )


def _read_timeout(request: httpx.Request) -> float | None:
    timeout = request.extensions.get("timeout") or {}
    value = timeout.get("read")
    return float(value) if value is not None else None


def _to_httpx(response: SandboxResponse, request: httpx.Request) -> httpx.Response:
    return httpx.Response(
        status_code=response.status,
        headers=response.headers,
        content=response.body,
        request=request,
    )


class SandboxTransport(httpx.BaseTransport):
    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.sandbox.handle(_to_sandbox(request, request.read()))
        if response.delay:
            limit = _read_timeout(request)
            if limit is not None and response.delay > limit:
                time.sleep(limit)
                raise httpx.ReadTimeout(
                    "sandbox fault: response delayed past the read timeout", request=request
                )
            time.sleep(response.delay)
        if response.drop:
            raise httpx.RemoteProtocolError(
                "Server disconnected without sending a response.", request=request
            )
        return _to_httpx(response, request)


class AsyncSandboxTransport(httpx.AsyncBaseTransport):
    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = await request.aread()
        response = self.sandbox.handle(_to_sandbox(request, body))
        if response.delay:
            limit = _read_timeout(request)
            if limit is not None and response.delay > limit:
                await asyncio.sleep(limit)
                raise httpx.ReadTimeout(
                    "sandbox fault: response delayed past the read timeout", request=request
                )
            await asyncio.sleep(response.delay)
        if response.drop:
            raise httpx.RemoteProtocolError(
                "Server disconnected without sending a response.", request=request
            )
        return _to_httpx(response, request)
