"""Sandbox emulation of CC's contact_lists operations."""

from __future__ import annotations

from ccbridge.sandbox.routing import RouteTable

routes = RouteTable()
