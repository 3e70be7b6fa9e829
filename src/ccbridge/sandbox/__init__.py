"""A local, stateful emulator of Constant Contact's V3 API and its OAuth2 server."""

from ccbridge.sandbox.app import Sandbox
from ccbridge.sandbox.asgi import SandboxASGI
from ccbridge.sandbox.transport import AsyncSandboxTransport, SandboxTransport

__all__ = ["AsyncSandboxTransport", "Sandbox", "SandboxASGI", "SandboxTransport"]
