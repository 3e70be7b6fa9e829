"""Sandbox emulation of CC's contact_tags operations."""

from __future__ import annotations

from ccbridge.sandbox.routing import RouteTable

routes = RouteTable()
