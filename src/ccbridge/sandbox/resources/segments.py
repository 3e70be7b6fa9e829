"""Sandbox emulation of CC's segments operations."""

from __future__ import annotations

from ccbridge.sandbox.routing import RouteTable

routes = RouteTable()
