"""The sandbox's OAuth2 authorization server under ``/oauth2/default/v1/``."""

from __future__ import annotations

from typing import Any

from ccbridge.sandbox.http import json_response
from ccbridge.sandbox.routing import Context, RouteTable

routes = RouteTable()


@routes.route("GET", "/oauth2/default/v1/keys", "oauth")
def keys(ctx: Context) -> Any:
    return json_response(ctx.sandbox.issuer.jwks())
