"""An ASGI app, the sandbox above all, served over real HTTP for the length of a test.

Most tests reach the sandbox in-process through its httpx transport. Code that opens its
own sockets cannot: another HTTP library, a browser, a subprocess or a second process that
must share one sandbox. ``live_server`` runs uvicorn in a background thread on a loopback
port, waits until it accepts connections, and always stops it, so such a test needs one
line instead of a hand-rolled server.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any

from ccbridge.sandbox import Sandbox, SandboxASGI
from ccbridge.sandbox.asgi import Receive, Scope, Send

ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

HOST = "127.0.0.1"
STARTUP_SECONDS = 10.0
SHUTDOWN_SECONDS = 10.0


@contextmanager
def live_server(app: ASGIApp, **uvicorn_options: Any) -> Iterator[str]:
    """Serve ``app`` on a free 127.0.0.1 port; yields its root URL (``http://127.0.0.1:N``).

    ``uvicorn_options`` go to ``uvicorn.Config`` (e.g. ``lifespan="off"``).
    """
    sock = _listening_socket()
    with _serving(app, sock, uvicorn_options):
        yield _root_url(sock)


@contextmanager
def serve_sandbox(**sandbox_options: Any) -> Iterator[Sandbox]:
    """A new ``Sandbox`` served over HTTP; its ``base_url`` is the server's root URL.

    The sandbox is created here rather than passed in because the URL it is served on
    must be known when it is built: its token issuer, discovery documents and links name
    it. ``sandbox_options`` are ``Sandbox``'s own (``rate_limits``, ``settings``, ...).
    The returned object is the live sandbox, so a test can seed or inspect it in-process
    (under ``sandbox.lock``) while other code talks to it over the socket.
    """
    sock = _listening_socket()
    try:
        sandbox = Sandbox(base_url=_root_url(sock), **sandbox_options)
    except BaseException:
        sock.close()
        raise
    with _serving(SandboxASGI(sandbox), sock, {}):
        yield sandbox


def free_port() -> int:
    """A 127.0.0.1 port nothing listens on right now.

    For a server that binds its own socket (a subprocess) or a redirect URI that must not
    answer. Another process could take the port before it is used; ``live_server`` avoids
    that race by handing uvicorn the socket it has already bound.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def _listening_socket() -> socket.socket:
    # IPPROTO_TCP explicitly: asyncio turns Nagle off (TCP_NODELAY) only on sockets whose
    # proto says TCP, and uvicorn writes headers and body separately, so with proto 0 every
    # answer would wait ~40 ms for the client's delayed ACK.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((HOST, 0))
    return sock


def _root_url(sock: socket.socket) -> str:
    return f"http://{HOST}:{sock.getsockname()[1]}"


@contextmanager
def _serving(app: ASGIApp, sock: socket.socket, options: dict[str, Any]) -> Iterator[None]:
    """uvicorn on the already-bound ``sock`` in a daemon thread, stopped on the way out.

    Handing uvicorn the bound socket means no other process can take the port between
    choosing it and listening on it.
    """
    import uvicorn  # only when a test asks for a real server

    settings: dict[str, Any] = {"log_level": "warning", "access_log": False, **options}
    server = uvicorn.Server(uvicorn.Config(app, **settings))
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="ccbridge-live-server", daemon=True
    )
    thread.start()
    try:
        _wait_until_started(server, thread)
        yield
    finally:
        server.should_exit = True
        thread.join(SHUTDOWN_SECONDS)
        sock.close()
    if thread.is_alive():  # reached only when the test itself passed, so nothing is masked
        raise RuntimeError("the live server did not stop")


def _wait_until_started(server: Any, thread: threading.Thread) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError("the live server's thread died during start-up")
        if time.monotonic() > deadline:
            raise RuntimeError(f"the live server did not start within {STARTUP_SECONDS:.0f}s")
        time.sleep(0.01)  # start-up readiness poll, not a timing assumption
