"""The ASGI face of the sandbox, served by uvicorn in ``ccbridge sandbox``.

Handling runs in a worker thread so a slow request (or an injected delay) never blocks
the event loop. A dropped-connection fault starts a response and hangs up before its
body is complete, which clients see as a broken connection.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import anyio.to_thread

from ccbridge.sandbox.app import Sandbox
from ccbridge.sandbox.errors import CCError
from ccbridge.sandbox.http import MAX_BODY_BYTES, SandboxRequest, SandboxResponse

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


class SandboxASGI:
    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        body = bytearray()
        too_large = False
        while True:
            message = await receive()
            chunk = message.get("body", b"")
            if len(body) + len(chunk) > MAX_BODY_BYTES:
                too_large = True
            elif chunk:
                body.extend(chunk)
            if not message.get("more_body"):
                break
        if too_large:
            err = CCError(
                413, "request.too_large", f"The request body exceeds {MAX_BODY_BYTES} bytes."
            )
            response = SandboxResponse(413, err.body(), [("content-type", "application/json")])
        else:
            client = scope.get("client") or ("127.0.0.1", 0)
            request = SandboxRequest.build(
                method=scope["method"],
                path=scope["path"],
                query_string=scope.get("query_string", b"").decode("latin-1"),
                headers=[(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]],
                body=bytes(body),
                client_host=client[0],
            )
            response = await anyio.to_thread.run_sync(self.sandbox.handle, request)
        if response.delay:
            await asyncio.sleep(response.delay)
        headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in response.headers]
        if response.drop:
            # Promise a body, send none, hang up: the client sees the connection die.
            headers.append((b"content-length", b"1024"))
            await send(
                {"type": "http.response.start", "status": response.status, "headers": headers}
            )
            raise ConnectionAbortedError("sandbox fault: connection dropped")
        headers.append((b"content-length", str(len(response.body)).encode()))
        await send({"type": "http.response.start", "status": response.status, "headers": headers})
        await send({"type": "http.response.body", "body": response.body})
