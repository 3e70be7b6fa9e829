"""Sandbox emulation of CC's email_scheduling operations."""

from __future__ import annotations

from ccbridge.sandbox.routing import RouteTable

routes = RouteTable()
