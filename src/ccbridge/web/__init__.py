"""The service's web app: dashboard, admin API, health and metrics (Starlette + Jinja2).

``create_app(service)`` builds it (``ccbridge.service.build_service`` assembles the
service); ``page_route`` and ``ApiOperation`` are how pages and API operations are added,
by this package and by extensions (``WebExtension``).
"""

from ccbridge.web.api import ApiContext, ApiOperation, ApiProblem, QueryParam
from ccbridge.web.app import create_app
from ccbridge.web.extension import NavItem, WebExtension
from ccbridge.web.pages import PageContext, page_route

__all__ = [
    "ApiContext",
    "ApiOperation",
    "ApiProblem",
    "NavItem",
    "PageContext",
    "QueryParam",
    "WebExtension",
    "create_app",
    "page_route",
]
