"""Sandbox emulation of CC's email_campaigns operations."""

from __future__ import annotations

from ccbridge.sandbox.routing import RouteTable

routes = RouteTable()
