"""The redirect flow for a command-line program: a one-shot listener on 127.0.0.1.

RFC 8252 §7.3: a native app receives the authorization response on a loopback address.
``ccbridge connect --loopback`` starts this listener on the host and port of its redirect
URI *before* showing the authorize URL, waits for one request on the redirect path that
carries a ``code`` or an ``error``, answers the browser with a short page, and hands the
parameters to ``complete_authorization`` (state check, PKCE code exchange, JWT checks).
The CLI process is the "browser session" the state is bound to: a random id that never
leaves the process.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

from ccbridge.config import ConfigError
from ccbridge.oauth.errors import ConnectError
from ccbridge.oauth.records import LinkedAccount

if TYPE_CHECKING:
    from ccbridge.oauth.accounts import LinkedAccounts

LOOPBACK_HOSTS = {"127.0.0.1": "127.0.0.1", "localhost": "127.0.0.1", "[::1]": "::1", "::1": "::1"}

_DONE_PAGE = (
    "<!doctype html><html lang=en><head><meta charset=utf-8><title>ccbridge</title></head>"
    "<body style='font-family:system-ui,sans-serif;margin:3rem'><h1>{title}</h1>"
    "<p>{text}</p></body></html>"
)


class CallbackTimeoutError(ConnectError):
    """No authorization response reached the loopback listener in time."""


def loopback_address(redirect_uri: str) -> tuple[str, int, str]:
    """(bind host, port, path) of a loopback redirect URI, or ``ConfigError``."""
    parts = urlsplit(redirect_uri)
    host = parts.hostname or ""
    key = f"[{host}]" if ":" in host else host
    if parts.scheme != "http" or key not in LOOPBACK_HOSTS or parts.port is None:
        raise ConfigError(
            "the loopback flow needs a redirect URI like http://127.0.0.1:8765/callback "
            f"(http, a loopback host and an explicit port); got {redirect_uri!r}"
        )
    return LOOPBACK_HOSTS[key], parts.port, parts.path or "/"


class CallbackListener:
    """Serves one authorization response on a loopback address, in a background thread."""

    def __init__(self, redirect_uri: str) -> None:
        host, port, path = loopback_address(redirect_uri)
        self.path = path
        self._result: dict[str, str] | None = None
        self._arrived = threading.Event()
        listener = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                params = dict(parse_qsl(parts.query, keep_blank_values=True))
                if parts.path != listener.path or not ({"code", "error"} & params.keys()):
                    self._answer(404, "Not found", "This address only receives the OAuth callback.")
                    return
                if listener._arrived.is_set():
                    self._answer(409, "Already received", "This sign-in was already completed.")
                    return
                listener._result = params
                listener._arrived.set()
                if "error" in params:
                    self._answer(200, "Not connected", "The authorization was not granted.")
                else:
                    self._answer(
                        200, "Connected", "You can close this window and return to the terminal."
                    )

            def _answer(self, status: int, title: str, text: str) -> None:
                body = _DONE_PAGE.format(title=title, text=text).encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                return  # the query string holds the code: never log it

        try:
            self._server = ThreadingHTTPServer((host, port), Handler)
        except OSError as exc:
            raise ConfigError(
                f"cannot listen on {host}:{port} for the OAuth callback ({exc.strerror or exc})"
            ) from None
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> CallbackListener:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def wait(self, timeout: float | None) -> dict[str, str]:
        if not self._arrived.wait(timeout):
            raise CallbackTimeoutError(
                "no authorization response arrived at the loopback address in time"
            )
        assert self._result is not None
        return self._result


def connect_with_loopback(
    accounts: LinkedAccounts,
    *,
    app_reference: str,
    redirect_uri: str,
    scopes: Sequence[str] | None,
    show_url: Callable[[str], None],
    timeout: float | None = 300.0,
) -> LinkedAccount:
    """Run the whole redirect flow through a loopback listener; returns the linked account."""
    session_id = secrets.token_urlsafe(32)
    with CallbackListener(redirect_uri) as listener:
        pending = accounts.start_authorization(
            session_id=session_id,
            app_reference=app_reference,
            scopes=scopes,
            redirect_uri=redirect_uri,
            use_pkce=True,
        )
        show_url(pending.url)
        params = listener.wait(timeout)
    return accounts.complete_authorization(params, session_id=session_id)
