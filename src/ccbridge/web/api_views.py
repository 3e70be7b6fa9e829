"""The admin API: what the dashboard does, as JSON for programs (operations as data).

Accounts (list, show, disconnect), connect links (the API caller is an application, not
the browser that will give consent, so it gets a single-use link to hand to its user),
bulk activities and today's API budget.
"""

from __future__ import annotations

from typing import Any

from ccbridge.oauth import AccountNotFoundError
from ccbridge.web.api import ApiContext, ApiOperation, ApiProblem, QueryParam
from ccbridge.web.auth import TICKET_LIFETIME
from ccbridge.web.views import DEFAULT_APP_REFERENCE, list_activities

ACCOUNT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "id": {"type": "string"},
        "app_reference": {"type": "string"},
        "client_id": {"type": "string"},
        "issuer": {"type": "string"},
        "cc_account_id": {"type": "string"},
        "platform_user_id": {"type": "string", "nullable": True},
        "organization_name": {"type": "string", "nullable": True},
        "contact_email": {"type": "string", "nullable": True},
        "encoded_account_id": {"type": "string", "nullable": True},
        "scopes": {"type": "array", "items": {"type": "string"}},
        "status": {"type": "string", "enum": ["active", "needs_reauth", "disconnected"]},
        "status_reason": {"type": "string", "nullable": True},
        "linked_at": {"type": "string", "format": "date-time"},
        "last_refreshed_at": {"type": "string", "format": "date-time", "nullable": True},
        "access_expires_at": {"type": "string", "format": "date-time", "nullable": True},
        "needs_reauth_at": {"type": "string", "format": "date-time", "nullable": True},
        "disconnected_at": {"type": "string", "format": "date-time", "nullable": True},
        "key_fingerprint": {"type": "string", "nullable": True},
        "has_tokens": {"type": "boolean"},
    },
}
ACCOUNT_ID = {"account_id": "The linked account's id (as listed by GET /api/accounts)."}


def _account_or_404(ctx: ApiContext) -> Any:
    account_id = ctx.path["account_id"]
    try:
        return ctx.service.accounts.get(account_id)
    except AccountNotFoundError:
        raise ApiProblem(404, "not_found", f"no linked account has id {account_id!r}") from None


def list_accounts(ctx: ApiContext) -> Any:
    accounts = ctx.service.accounts.list(
        app_reference=ctx.query.get("app_reference"), status=ctx.query.get("status")
    )
    return {"accounts": [a.to_json() for a in accounts]}


def show_account(ctx: ApiContext) -> Any:
    account = _account_or_404(ctx)
    events = ctx.service.accounts.audit_log(account.id, limit=50)
    return {
        **account.to_json(),
        "events": [
            {"event": e.event, "occurred_at": e.occurred_at.isoformat(), "detail": e.detail}
            for e in events
        ],
    }


def disconnect_account(ctx: ApiContext) -> Any:
    _account_or_404(ctx)
    force = bool((ctx.body or {}).get("force", False))
    account = ctx.service.accounts.disconnect(ctx.path["account_id"], force=force)
    return account.to_json()


def create_connect_link(ctx: ApiContext) -> Any:
    body = ctx.body or {}
    reference = str(body.get("app_reference") or DEFAULT_APP_REFERENCE).strip()
    if not reference:
        raise ApiProblem(400, "invalid_body", "body.app_reference: must not be blank")
    scopes = tuple(body["scopes"]) if body.get("scopes") else None
    if ctx.service.accounts.oauth is None:
        raise ApiProblem(503, "not_configured", "no OAuth client is configured")
    raw, expires = ctx.service.admin.create_ticket(
        reference, scopes=scopes, return_url=body.get("return_url")
    )
    url = f"{ctx.service.settings.public_url}/connect/start?ticket={raw}"
    return 201, {"connect_url": url, "app_reference": reference, "expires_at": expires.isoformat()}


def account_activities(ctx: ApiContext) -> Any:
    account = _account_or_404(ctx)
    if not account.is_active:
        raise ApiProblem(
            409, "account_unusable", f"linked account {account.id} is {account.status}"
        )
    group = list_activities(ctx.service, account, limit=ctx.query.get("limit", 20))
    if group.error is not None:
        raise ApiProblem(502, "constant_contact_error", group.error)
    return {"account_id": account.id, "activities": group.activities}


def budget(ctx: ApiContext) -> Any:
    return ctx.service.budget().to_json()


def operations() -> list[ApiOperation]:
    return [
        ApiOperation(
            "GET",
            "/api/accounts",
            "listAccounts",
            "List linked accounts (oldest first).",
            list_accounts,
            tag="accounts",
            query=(
                QueryParam(
                    "status",
                    {"type": "string", "enum": ["active", "needs_reauth", "disconnected"]},
                    "Only accounts in this status.",
                ),
                QueryParam(
                    "app_reference",
                    {"type": "string", "minLength": 1, "maxLength": 255},
                    "Only accounts linked for this app reference.",
                ),
            ),
            response={
                "type": "object",
                "properties": {"accounts": {"type": "array", "items": ACCOUNT_SCHEMA}},
            },
            errors=(400,),
        ),
        ApiOperation(
            "GET",
            "/api/accounts/{account_id}",
            "getAccount",
            "A linked account and its recent audit events.",
            show_account,
            tag="accounts",
            response=ACCOUNT_SCHEMA,
            path_params=ACCOUNT_ID,
        ),
        ApiOperation(
            "POST",
            "/api/accounts/{account_id}/disconnect",
            "disconnectAccount",
            "Revoke the grant at CC and delete the account's tokens (force: delete even if CC cannot be reached).",
            disconnect_account,
            tag="accounts",
            body={
                "type": "object",
                "additionalProperties": False,
                "properties": {"force": {"type": "boolean"}},
            },
            response=ACCOUNT_SCHEMA,
            errors=(400, 404, 409, 502),
            path_params=ACCOUNT_ID,
        ),
        ApiOperation(
            "POST",
            "/api/connect-links",
            "createConnectLink",
            f"A single-use link (valid {int(TICKET_LIFETIME.total_seconds() // 60)} minutes) that starts CC's consent in the browser that opens it.",
            create_connect_link,
            tag="accounts",
            body={
                "type": "object",
                "additionalProperties": False,
                "properties": {
                    "app_reference": {"type": "string", "minLength": 1, "maxLength": 255},
                    "scopes": {
                        "type": "array",
                        "maxItems": 20,
                        "items": {"type": "string", "minLength": 1, "maxLength": 100},
                    },
                    "return_url": {"type": "string", "format": "uri", "maxLength": 2000},
                },
            },
            response={
                "type": "object",
                "properties": {
                    "connect_url": {"type": "string"},
                    "app_reference": {"type": "string"},
                    "expires_at": {"type": "string", "format": "date-time"},
                },
            },
            status=201,
            errors=(400, 503),
        ),
        ApiOperation(
            "GET",
            "/api/accounts/{account_id}/activities",
            "listAccountActivities",
            "The account's recent bulk activities at CC with their progress (one CC API call).",
            account_activities,
            tag="activities",
            query=(
                QueryParam(
                    "limit",
                    {"type": "integer", "minimum": 1, "maximum": 500},
                    "How many activities (CC's page size).",
                ),
            ),
            response={
                "type": "object",
                "properties": {
                    "account_id": {"type": "string"},
                    "activities": {"type": "array", "items": {"type": "object"}},
                },
            },
            errors=(400, 404, 409, 502),
            path_params=ACCOUNT_ID,
        ),
        ApiOperation(
            "GET",
            "/api/budget",
            "getBudget",
            "Today's CC API budget of the client_id (UTC day), as counted by the shared rate limiter.",
            budget,
            tag="budget",
            response={
                "type": "object",
                "properties": {
                    "client_id": {"type": "string"},
                    "used_today": {"type": "integer"},
                    "daily_limit": {"type": "integer", "nullable": True},
                    "remaining": {"type": "integer", "nullable": True},
                    "resets_at": {"type": "string", "format": "date-time"},
                    "shared_by": {"type": "string"},
                },
            },
            errors=(),
        ),
    ]
