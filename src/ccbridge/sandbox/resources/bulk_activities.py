"""Sandbox emulation of CC's bulk_activities operations."""

from __future__ import annotations

from ccbridge.sandbox.routing import RouteTable

routes = RouteTable()
