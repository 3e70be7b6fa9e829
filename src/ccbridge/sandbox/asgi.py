"""The ASGI face of the sandbox, served by uvicorn in ``ccbridge sandbox``.

Handling runs in a worker thread so a slow request never blocks the event loop, and an
injected delay is an ``asyncio.sleep`` so it holds up only its own connection. Bodies over
``MAX_BODY_BYTES`` are read and thrown away (so the client can finish sending and read the
answer) and answered 413 without being parsed. A dropped-connection fault sends the status
line with a promised body length, then returns without the body: the server closes the
connection and the client sees it die mid-response (ASGI has no way to close a connection
before the status line).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import anyio.to_thread

from ccbridge.sandbox.app import Sandbox
from ccbridge.sandbox.http import MAX_BODY_BYTES, SandboxRequest, SandboxResponse

log = logging.getLogger("ccbridge.sandbox")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


def _encode_header(value: str) -> bytes:
    try:
        return value.encode("latin-1")
    except UnicodeEncodeError:
        return value.encode("utf-8")


class SandboxASGI:
    """An ASGI 3 application serving one ``Sandbox``.

    ``on_shutdown`` runs at the lifespan shutdown, the last point a server reliably reaches:
    uvicorn re-raises SIGTERM once it has stopped, so code after ``uvicorn.run`` may never
    run. ``ccbridge sandbox --data`` saves the state there.
    """

    def __init__(self, sandbox: Sandbox, on_shutdown: Callable[[], None] | None = None) -> None:
        self.sandbox = sandbox
        self.on_shutdown = on_shutdown

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
        elif scope["type"] == "http":
            await self._http(scope, receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self.on_shutdown is not None:
                    try:
                        await anyio.to_thread.run_sync(self.on_shutdown)
                    except Exception as exc:
                        log.error("sandbox shutdown hook failed: %s", exc)
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        body, too_large = await self._read_body(receive)
        client = scope.get("client") or ("127.0.0.1", 0)
        request = SandboxRequest.build(
            method=scope["method"],
            path=scope["path"],
            query_string=scope.get("query_string", b"").decode("latin-1"),
            headers=[(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]],
            body=body,
            client_host=client[0],
        )
        if too_large:
            response = self.sandbox.refuse_too_large(request, MAX_BODY_BYTES)
        else:
            response = await anyio.to_thread.run_sync(self.sandbox.handle, request)
        if response.delay:
            await asyncio.sleep(response.delay)
        await self._send(response, send)

    @staticmethod
    async def _read_body(receive: Receive) -> tuple[bytes, bool]:
        """The body, or (b"", True) once it passes MAX_BODY_BYTES (the rest is drained)."""
        body = bytearray()
        too_large = False
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                break
            chunk = message.get("body", b"")
            if too_large or len(body) + len(chunk) > MAX_BODY_BYTES:
                too_large = True
                body.clear()
            elif chunk:
                body.extend(chunk)
            if not message.get("more_body"):
                break
        return bytes(body), too_large

    @staticmethod
    async def _send(response: SandboxResponse, send: Send) -> None:
        headers = [
            (k.lower().encode("latin-1"), _encode_header(v))
            for k, v in response.headers
            if k.lower() != "content-length"
        ]
        if response.drop:
            # Promise a body and never send it: the server closes the connection.
            headers.append((b"content-length", b"1024"))
            await send(
                {"type": "http.response.start", "status": response.status, "headers": headers}
            )
            return
        headers.append((b"content-length", str(len(response.body)).encode()))
        await send({"type": "http.response.start", "status": response.status, "headers": headers})
        await send({"type": "http.response.body", "body": response.body})
