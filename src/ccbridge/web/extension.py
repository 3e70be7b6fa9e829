"""How another part of ccbridge (lead capture) adds itself to the web app.

An extension's ``install(service)`` (see ``ccbridge.service.EXTENSIONS``) calls
``service.add_web_extension(WebExtension(...))`` with:

- ``routes``: Starlette routes. Dashboard pages should be built with
  ``ccbridge.web.pages.page_route`` (admin login, CSRF on every POST form, the sandbox
  banner and the navigation come with it); public endpoints (a hosted signup form, its
  submissions) are plain Starlette routes with their own rules.
- ``nav``: entries for the dashboard's navigation bar.
- ``api``: admin API operations (``ccbridge.web.api.ApiOperation``): bearer-token auth,
  JSON errors and a place in ``/api/openapi.json`` come with them.
- ``templates``: a directory of Jinja2 templates; they can ``{% extends "base.html" %}``.
- ``openapi_paths``: OpenAPI 3 path items for API routes that are plain Starlette routes
  rather than ``ApiOperation`` values, merged into ``/api/openapi.json``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from starlette.routing import BaseRoute

if TYPE_CHECKING:
    from ccbridge.web.api import ApiOperation


@dataclass(frozen=True)
class NavItem:
    """A link in the dashboard's navigation; lower ``order`` comes first."""

    label: str
    path: str
    order: int = 50


@dataclass
class WebExtension:
    name: str
    routes: Sequence[BaseRoute] = ()
    nav: Sequence[NavItem] = ()
    api: Sequence[ApiOperation] = field(default_factory=list)
    templates: Path | None = None
    openapi_paths: Mapping[str, Any] = field(default_factory=dict)
