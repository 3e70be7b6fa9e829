"""Sandbox emulation of CC's custom_fields operations."""

from __future__ import annotations

from ccbridge.sandbox.routing import RouteTable

routes = RouteTable()
