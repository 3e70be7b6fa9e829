"""Routes as data.

A resource module builds a ``RouteTable`` and registers handlers by CC's operationId:
the method, path and required scopes come from the operation table generated from CC's
swagger, so a sandbox route cannot drift from CC's path. Control-plane and OAuth routes
register plain method/path pairs. Every known CC operation without a handler answers 501.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ccbridge._spec.operations import OPERATIONS

if TYPE_CHECKING:
    from ccbridge.sandbox.app import Sandbox
    from ccbridge.sandbox.faults import FaultOutcome
    from ccbridge.sandbox.http import SandboxRequest
    from ccbridge.sandbox.state import AccessTokenRecord, AccountData, App

OPERATIONS_BY_ID: dict[str, dict[str, Any]] = {op["operation_id"]: op for op in OPERATIONS}

Handler = Callable[["Context"], Any]


@dataclass
class Context:
    """What a handler gets: the request, the sandbox, path parameters and, on /v3, the caller."""

    request: SandboxRequest
    sandbox: Sandbox
    params: dict[str, str]
    operation_id: str | None = None
    token: AccessTokenRecord | None = None
    app: App | None = None
    data: AccountData | None = None  # the calling account's data (on /v3 routes)
    fault: FaultOutcome | None = None  # injected faults that fired for this request

    @property
    def account(self) -> AccountData:
        assert self.data is not None, "only /v3 routes have a calling account"
        return self.data

    @property
    def state(self) -> Any:
        return self.sandbox.state

    @property
    def clock(self) -> Any:
        return self.sandbox.clock


@dataclass
class Route:
    method: str
    path: str  # a CC-style template, e.g. /v3/contacts/{contact_id}
    handler: Handler
    kind: str  # "api" (/v3, bearer auth), "oauth", "control", "page"
    operation_id: str | None = None
    scopes: tuple[str, ...] = ()
    regex: re.Pattern[str] = field(init=False)
    literal_segments: int = field(init=False)

    def __post_init__(self) -> None:
        pattern = re.sub(r"\{([A-Za-z_][A-Za-z0-9_]*)\}", r"(?P<\1>[^/]+)", self.path)
        self.regex = re.compile(f"^{pattern}/?$")
        self.literal_segments = sum(1 for seg in self.path.split("/") if seg and "{" not in seg)


class RouteTable:
    """A list of routes a module contributes; merged by the sandbox at start."""

    def __init__(self) -> None:
        self.routes: list[Route] = []

    def operation(self, operation_id: str) -> Callable[[Handler], Handler]:
        """Register the handler of a CC API operation, by its swagger operationId."""
        op = OPERATIONS_BY_ID[operation_id]

        def register(fn: Handler) -> Handler:
            self.routes.append(
                Route(
                    method=op["method"],
                    path="/v3" + op["path"],
                    handler=fn,
                    kind="api",
                    operation_id=operation_id,
                    scopes=tuple(op["scopes"]),
                )
            )
            return fn

        return register

    def route(self, method: str, path: str, kind: str) -> Callable[[Handler], Handler]:
        def register(fn: Handler) -> Handler:
            self.routes.append(Route(method=method.upper(), path=path, handler=fn, kind=kind))
            return fn

        return register


class Router:
    def __init__(self, routes: list[Route]) -> None:
        # Literal segments win over placeholders: /contacts/counts before /contacts/{id}.
        self.routes = sorted(routes, key=lambda r: -r.literal_segments)

    def match(self, method: str, path: str) -> tuple[Route | None, dict[str, str], bool]:
        """(route, path params, path_exists). path_exists is True when only the method differs."""
        path_exists = False
        for route in self.routes:
            m = route.regex.match(path)
            if m is None:
                continue
            if route.method == method or (method == "HEAD" and route.method == "GET"):
                return route, m.groupdict(), True
            path_exists = True
        return None, {}, path_exists
