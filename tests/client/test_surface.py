"""The public surface: every CC operation reachable, sync and async twins identical,
the generated code up to date, ``ccbridge.__all__`` pinned."""

from __future__ import annotations

import inspect
import subprocess
import sys
from pathlib import Path

import ccbridge
from ccbridge import AsyncClient, Client
from ccbridge._spec.operations import OPERATIONS
from ccbridge.resources import ASYNC_GROUPS, SYNC_GROUPS
from ccbridge.resources._generated import GROUPS, TAGS

ROOT = Path(__file__).resolve().parents[2]


def _public_methods(cls: type) -> dict[str, object]:
    return {
        name: member
        for name, member in inspect.getmembers(cls, inspect.isfunction)
        if not name.startswith("_")
    }


def _normalised(signature: inspect.Signature) -> tuple[list[str], str]:
    params = [str(p) for p in signature.parameters.values()]
    ret = str(signature.return_annotation).replace("AsyncPaginator", "Paginator")
    return params, ret


def test_both_clients_have_the_same_resource_groups() -> None:
    sync_client = Client("t", rate_limit=None)
    async_client = AsyncClient("t", rate_limit=None)
    assert set(SYNC_GROUPS) == set(ASYNC_GROUPS) == set(GROUPS)
    for name in SYNC_GROUPS:
        assert isinstance(getattr(sync_client, name), SYNC_GROUPS[name])
        assert isinstance(getattr(async_client, name), ASYNC_GROUPS[name])
    sync_client.close()
    assert set(Client.__annotations__) == set(AsyncClient.__annotations__) == set(GROUPS)


def test_sync_and_async_methods_have_identical_signatures() -> None:
    checked = 0
    for name, sync_cls in SYNC_GROUPS.items():
        async_cls = ASYNC_GROUPS[name]
        sync_methods = _public_methods(sync_cls)
        async_methods = _public_methods(async_cls)
        assert sync_methods.keys() == async_methods.keys(), name
        for method_name, sync_fn in sync_methods.items():
            async_fn = async_methods[method_name]
            assert _normalised(inspect.signature(sync_fn)) == _normalised(
                inspect.signature(async_fn)
            ), f"{name}.{method_name}"
            returns_paginator = "Paginator" in str(inspect.signature(sync_fn).return_annotation)
            # request methods are coroutines on the async side; iterators are not
            assert inspect.iscoroutinefunction(async_fn) is not returns_paginator
            checked += 1
    assert checked > len(OPERATIONS)


def test_every_operation_has_a_method_in_its_group() -> None:
    operation_ids = set()
    for name, sync_cls in SYNC_GROUPS.items():
        for method in _public_methods(sync_cls).values():
            doc = inspect.getdoc(method) or ""
            if "(operationId ``" in doc and not method.__name__.startswith("iter_"):
                op_id = doc.split("(operationId ``")[1].split("``")[0]
                operation_ids.add(op_id)
                tag = next(op["tag"] for op in OPERATIONS if op["operation_id"] == op_id)
                assert tag in TAGS[name]
    assert operation_ids == {op["operation_id"] for op in OPERATIONS}
    assert len(operation_ids) == 128


def test_generated_resources_are_up_to_date() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "gen_client.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_public_api_is_pinned() -> None:
    assert sorted(ccbridge.__all__) == sorted(
        [
            "DEFAULT_BASE_URL",
            "DEFAULT_TOKEN_URL",
            "APIConnectionError",
            "APIError",
            "APITimeoutError",
            "AsyncClient",
            "AsyncPaginator",
            "AuthenticationError",
            "BadRequestError",
            "CCBridgeError",
            "Client",
            "ConflictError",
            "ErrorDetail",
            "InvalidArgumentError",
            "MemoryBackend",
            "NotFoundError",
            "NotImplementedBySandbox",
            "OAuthError",
            "Page",
            "PaginationError",
            "Paginator",
            "PermissionDeniedError",
            "QuotaExceededError",
            "RateLimitBackend",
            "RateLimitError",
            "RateLimiter",
            "RateLimits",
            "RedisBackend",
            "RefreshingTokenSource",
            "RequestEvent",
            "ResponseEvent",
            "ResponseParseError",
            "RetryPolicy",
            "SQLiteBackend",
            "ServerError",
            "StaticToken",
            "TokenSet",
            "TokenSource",
            "UnsupportedMediaTypeError",
            "__version__",
            "AccountEmail",
            "AccountSummary",
            "Activity",
            "CampaignActivity",
            "Contact",
            "ContactList",
            "ContactsPage",
            "CustomField",
            "EmailAddress",
            "EmailCampaign",
            "PhoneNumber",
            "Segment",
            "StreetAddress",
            "Tag",
            "ActivityWaitTimeout",
            "BulkImportError",
            "ExportFailedError",
            "ExportResult",
            "ImportResult",
            "ImportRowProblem",
            "Progress",
        ]
    )
    for name in ccbridge.__all__:
        assert hasattr(ccbridge, name), name


def test_every_error_derives_from_the_one_root() -> None:
    errors = [
        getattr(ccbridge, n)
        for n in ccbridge.__all__
        if n.endswith("Error") or n == "NotImplementedBySandbox"
    ]
    assert errors
    for cls in errors:
        assert issubclass(cls, ccbridge.CCBridgeError), cls
