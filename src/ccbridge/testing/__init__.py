"""Test helpers for code that talks to Constant Contact: the sandbox as pytest fixtures
(``ccbridge.testing.plugin``), served over real HTTP (``live_server``, ``serve_sandbox``),
its OAuth pages driven like a browser (``ccbridge.testing.oauth_flow``), and real
PostgreSQL/Redis for the tests that need them (``ccbridge.testing.services``)."""

from ccbridge.testing.live import free_port, live_server, serve_sandbox

__all__ = ["free_port", "live_server", "serve_sandbox"]
