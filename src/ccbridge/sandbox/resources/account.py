"""Sandbox emulation of CC's account operations."""

from __future__ import annotations

from ccbridge.sandbox.routing import RouteTable

routes = RouteTable()
