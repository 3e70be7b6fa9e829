"""The dashboard's pages: sign-in, overview, linked accounts, connect flow, activities, budget.

Thin handlers over library calls (``LinkedAccounts``, ``AdminStore``, the client): each
reads what it needs, renders a template or redirects. Session, CSRF and admin checks are
done by ``page_route`` before a handler runs.
"""

from __future__ import annotations

import hmac
import logging
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from starlette.responses import Response
from starlette.routing import BaseRoute

from ccbridge._errors import APIConnectionError, APIError, CCBridgeError
from ccbridge.config import ConfigError
from ccbridge.oauth import (
    AccountNotFoundError,
    AuthorizationDeniedError,
    ConnectError,
    LinkedAccount,
    RevokeFailedError,
)
from ccbridge.oauth.errors import LinkedAccountError
from ccbridge.web.auth import AuthError, TicketError, digest
from ccbridge.web.pages import PageContext, page_route, safe_next

if TYPE_CHECKING:
    from ccbridge.service import Service

log = logging.getLogger("ccbridge.web")

DEFAULT_APP_REFERENCE = "default"
NOTICES = {
    "linked": "The account is linked.",
    "disconnected": "The account was disconnected and its tokens deleted.",
    "signed_out": "You are signed out.",
}


# -- sign-in ----------------------------------------------------------------------------------
def login_page(ctx: PageContext) -> Response:
    if ctx.session is not None and ctx.session.is_admin:
        return ctx.redirect(safe_next(ctx.query.get("next")))
    ctx.ensure_session()
    return ctx.render(
        "login.html",
        next=safe_next(ctx.query.get("next")),
        error=None,
        notice=NOTICES.get(ctx.query.get("notice", "")),
        has_admin=bool(ctx.service.admin.list_users()),
    )


def login_submit(ctx: PageContext) -> Response:
    username = ctx.form.get("username", "").strip()
    password = ctx.form.get("password", "")
    target = safe_next(ctx.form.get("next"))
    throttle = ctx.request.app.state.login_throttle
    client = ctx.request.client.host if ctx.request.client else "unknown"
    keys = (f"user:{username.lower()}", f"ip:{client}")
    wait = throttle.retry_after(*keys)
    if wait > 0:
        response = ctx.render(
            "login.html",
            status=429,
            next=target,
            error="Too many failed sign-ins. Wait a few minutes and try again.",
            notice=None,
            has_admin=True,
        )
        response.headers["Retry-After"] = str(math.ceil(wait))
        return response
    user = ctx.service.admin.authenticate(username, password) if username and password else None
    if user is None:
        throttle.failed(*keys)
        log.info("failed sign-in for %r from %s", username[:50], client)
        return ctx.render(
            "login.html",
            status=400,
            next=target,
            error="Wrong username or password.",
            notice=None,
            has_admin=True,
        )
    throttle.succeeded(*keys)
    if ctx.session is not None:
        ctx.service.admin.end_session(ctx.session.raw_id)
    ctx.new_session = ctx.service.admin.create_session(user)
    log.info("admin %s signed in", user.username)
    return ctx.redirect(target)


# -- first run: create the first admin with the one-time code ``serve`` printed ---------------
def _setup_code_ok(ctx: PageContext, code: str) -> bool:
    expected: str | None = ctx.request.app.state.setup_code_hash
    return expected is not None and bool(code) and hmac.compare_digest(digest(code), expected)


def setup_page(ctx: PageContext) -> Response:
    if ctx.service.admin.list_users():
        return ctx.redirect("/login")
    code = ctx.query.get("code", "")
    if not _setup_code_ok(ctx, code):
        return ctx.render(
            "problem.html",
            status=403,
            title="Setup link not valid",
            message="Open the setup link that `ccbridge serve` printed when it started, or create "
            "an admin with `ccbridge admin create USERNAME`.",
        )
    ctx.ensure_session()
    return ctx.render("setup.html", code=code, error=None, username="admin")


def setup_submit(ctx: PageContext) -> Response:
    if ctx.service.admin.list_users():
        return ctx.redirect("/login")
    code = ctx.form.get("code", "")
    if not _setup_code_ok(ctx, code):
        return ctx.render(
            "problem.html",
            status=403,
            title="Setup link not valid",
            message="The setup code is wrong.",
        )
    username = ctx.form.get("username", "")
    password = ctx.form.get("password", "")
    if password != ctx.form.get("password_again", ""):
        return ctx.render(
            "setup.html", status=400, code=code, error="The passwords differ.", username=username
        )
    try:
        user, _created = ctx.service.admin.create_user(username, password)
    except AuthError as exc:
        return ctx.render("setup.html", status=400, code=code, error=str(exc), username=username)
    ctx.request.app.state.setup_code_hash = None  # one use only
    if ctx.session is not None:
        ctx.service.admin.end_session(ctx.session.raw_id)
    ctx.new_session = ctx.service.admin.create_session(user)
    log.info("first admin %s created through the setup page", user.username)
    return ctx.redirect("/")


def logout(ctx: PageContext) -> Response:
    if ctx.session is not None:
        ctx.service.admin.end_session(ctx.session.raw_id)
    ctx.end_session = True
    return ctx.redirect("/login?notice=signed_out")


# -- overview -----------------------------------------------------------------------------------
def overview(ctx: PageContext) -> Response:
    accounts = ctx.service.accounts.list()
    counts = {status: 0 for status in ("active", "needs_reauth", "disconnected")}
    for account in accounts:
        counts[account.status] = counts.get(account.status, 0) + 1
    return ctx.render(
        "overview.html",
        counts=counts,
        total=len(accounts),
        budget=_budget_or_none(ctx),
        jobs=ctx.service.jobs.job_names,
        notice=NOTICES.get(ctx.query.get("notice", "")),
    )


def _budget_or_none(ctx: PageContext) -> Any:
    try:
        return ctx.service.budget()
    except Exception as exc:  # the budget is informative; its backend may be down
        log.warning("the API budget could not be read: %s", exc)
        return None


# -- linked accounts ----------------------------------------------------------------------------
def accounts_page(ctx: PageContext) -> Response:
    accounts = ctx.service.accounts.list()
    now = ctx.service.accounts.now()
    return ctx.render(
        "accounts.html",
        accounts=accounts,
        now=now,
        notice=NOTICES.get(ctx.query.get("notice", "")),
        default_reference=DEFAULT_APP_REFERENCE,
        connect_error=None,
    )


def account_page(ctx: PageContext) -> Response:
    account_id = ctx.request.path_params["account_id"]
    try:
        account = ctx.service.accounts.get(account_id)
    except AccountNotFoundError:
        return ctx.render(
            "problem.html",
            status=404,
            title="No such account",
            message=f"No linked account has id {account_id}.",
        )
    events = ctx.service.accounts.audit_log(account_id, limit=50)
    return ctx.render(
        "account.html",
        account=account,
        events=events,
        notice=NOTICES.get(ctx.query.get("notice", "")),
        revoke_error=None,
    )


def connect_start(ctx: PageContext) -> Response:
    """Connect (or Reconnect): record a state bound to this session, go to CC's consent."""
    reference = ctx.form.get("app_reference", "").strip() or DEFAULT_APP_REFERENCE
    if len(reference) > 255:
        return ctx.render(
            "problem.html",
            status=400,
            title="Bad reference",
            message="The app reference must be at most 255 characters.",
        )
    session = ctx.ensure_session()
    try:
        pending = ctx.service.accounts.start_authorization(
            session_id=session.raw_id,
            app_reference=reference,
            scopes=ctx.service.settings.base.scopes,
            redirect_uri=ctx.service.settings.callback_url,
        )
    except ConfigError as exc:
        return ctx.render("problem.html", status=503, title="Not configured", message=str(exc))
    return ctx.redirect(pending.url)


def connect_link_page(ctx: PageContext) -> Response:
    """A connect link from the admin API, opened by the account owner: a button to go on.

    Opening the link changes nothing (link previews and mail scanners fetch links too);
    the POST behind the button uses the single-use ticket and starts the flow.
    """
    raw = ctx.query.get("ticket", "")
    if not raw:
        return ctx.render(
            "problem.html",
            status=400,
            title="Connect link incomplete",
            message="This connect link has no ticket parameter.",
        )
    try:
        ticket = ctx.service.admin.peek_ticket(raw)
    except TicketError as exc:
        return ctx.render(
            "problem.html", status=400, title="Connect link not valid", message=str(exc)
        )
    ctx.ensure_session()
    return ctx.render("connect_link.html", ticket=raw, app_reference=ticket.app_reference)


def connect_with_ticket(ctx: PageContext) -> Response:
    """The owner pressed Continue: use the ticket, start the flow bound to this browser."""
    raw = ctx.form.get("ticket", "")
    try:
        ticket = ctx.service.admin.consume_ticket(raw)
    except TicketError as exc:
        return ctx.render(
            "problem.html", status=400, title="Connect link not valid", message=str(exc)
        )
    session = ctx.ensure_session()
    ctx.service.admin.set_session_data(
        session.raw_id, {"return_url": ticket.return_url} if ticket.return_url else {}
    )
    try:
        pending = ctx.service.accounts.start_authorization(
            session_id=session.raw_id,
            app_reference=ticket.app_reference,
            scopes=ticket.scopes or ctx.service.settings.base.scopes,
            redirect_uri=ctx.service.settings.callback_url,
        )
    except ConfigError as exc:
        return ctx.render("problem.html", status=503, title="Not configured", message=str(exc))
    return ctx.redirect(pending.url)


def connect_callback(ctx: PageContext) -> Response:
    """CC sent the browser back: check the state against this session, link the account."""
    if ctx.session is None:
        return ctx.render(
            "problem.html",
            status=400,
            title="Connection not completed",
            message="This browser has no session with the service (were cookies blocked?). "
            "Start connecting again from the same browser.",
        )
    try:
        account = ctx.service.accounts.complete_authorization(
            dict(ctx.query), session_id=ctx.session.raw_id
        )
    except AuthorizationDeniedError as exc:
        message = (
            "Access was not allowed, so no account was linked."
            if exc.error == "access_denied"
            else f"Constant Contact answered with an error: {exc}"
        )
        return ctx.render(
            "problem.html", status=400, title="Connection not completed", message=message
        )
    except ConnectError as exc:
        return ctx.render(
            "problem.html", status=400, title="Connection not completed", message=str(exc)
        )
    except (APIConnectionError, APIError) as exc:
        return ctx.render(
            "problem.html", status=502, title="Constant Contact unreachable", message=str(exc)
        )
    except CCBridgeError as exc:
        return ctx.render(
            "problem.html", status=400, title="Connection not completed", message=str(exc)
        )
    if ctx.session.is_admin:
        return ctx.redirect(f"/accounts/{account.id}?notice=linked")
    return_url = ctx.session.data.get("return_url")
    if isinstance(return_url, str) and urlsplit(return_url).scheme in ("http", "https"):
        return ctx.redirect(return_url)
    return ctx.render("connected.html", account=account)


def disconnect(ctx: PageContext) -> Response:
    account_id = ctx.request.path_params["account_id"]
    force = ctx.form.get("force") == "1"
    try:
        ctx.service.accounts.disconnect(account_id, force=force)
    except AccountNotFoundError:
        return ctx.render(
            "problem.html",
            status=404,
            title="No such account",
            message=f"No linked account has id {account_id}.",
        )
    except RevokeFailedError as exc:
        account = ctx.service.accounts.get(account_id)
        events = ctx.service.accounts.audit_log(account_id, limit=50)
        return ctx.render(
            "account.html",
            status=502,
            account=account,
            events=events,
            notice=None,
            revoke_error=str(exc),
        )
    except (LinkedAccountError, ConfigError) as exc:
        return ctx.render("problem.html", status=409, title="Cannot disconnect", message=str(exc))
    return ctx.redirect(f"/accounts/{account_id}?notice=disconnected")


# -- bulk activities ----------------------------------------------------------------------------
@dataclass
class AccountActivities:
    account: LinkedAccount
    activities: list[dict[str, Any]]
    error: str | None


def list_activities(service: Service, account: LinkedAccount, limit: int = 20) -> AccountActivities:
    """CC's recent bulk activities of one account (CC keeps ten days of them)."""
    if "contact_data" not in account.scopes:
        return AccountActivities(account, [], "the account did not grant contact_data")
    try:
        with service.client(account.id, max_retries=1) as client:
            data = client.bulk_activities.get_activity_status_collection(limit=limit)
    except (CCBridgeError, OSError) as exc:
        return AccountActivities(account, [], str(exc))
    items = data.get("activities", []) if isinstance(data, dict) else []
    return AccountActivities(account, [a for a in items if isinstance(a, dict)], None)


def activities_page(ctx: PageContext) -> Response:
    accounts = [a for a in ctx.service.accounts.list() if a.is_active]
    return ctx.render("activities.html", groups=[list_activities(ctx.service, a) for a in accounts])


def contacts_page(ctx: PageContext) -> Response:
    """The account's most recently updated contacts at CC (one API call), to see a signup land."""
    account_id = ctx.request.path_params["account_id"]
    try:
        account = ctx.service.accounts.get(account_id)
    except AccountNotFoundError:
        return ctx.render(
            "problem.html",
            status=404,
            title="No such account",
            message=f"No linked account has id {account_id}.",
        )
    contacts: list[dict[str, Any]] = []
    error = None
    lists: dict[str, str] = {}
    list_rows: list[dict[str, Any]] = []
    if not account.is_active:
        error = f"the account is {account.status}"
    else:
        try:
            with ctx.service.client(account.id, max_retries=1) as client:
                page = client.contacts.get_contacts(include="list_memberships", limit=50)
                list_rows = [
                    item
                    for item in client.contact_lists.get_lists(
                        limit=100, include_membership_count="all"
                    ).get("lists", [])
                    if isinstance(item, dict) and "list_id" in item
                ]
                lists = {item["list_id"]: item.get("name", item["list_id"]) for item in list_rows}
        except (CCBridgeError, OSError) as exc:
            error = str(exc)
        else:
            contacts = [c for c in page.get("contacts", []) if isinstance(c, dict)]
            contacts.sort(key=lambda c: str(c.get("updated_at", "")), reverse=True)
    return ctx.render(
        "contacts.html",
        account=account,
        contacts=contacts,
        lists=lists,
        list_rows=list_rows,
        error=error,
    )


def budget_page(ctx: PageContext) -> Response:
    return ctx.render("budget.html", budget=_budget_or_none(ctx))


def routes() -> list[BaseRoute]:
    """The dashboard's routes, as data."""
    return [
        page_route("/login", login_page, admin=False),
        page_route("/login", login_submit, methods=("POST",), admin=False, name="login_submit"),
        page_route("/logout", logout, methods=("POST",), admin=False),
        page_route("/setup", setup_page, admin=False),
        page_route("/setup", setup_submit, methods=("POST",), admin=False, name="setup_submit"),
        page_route("/", overview),
        page_route("/accounts", accounts_page),
        page_route("/accounts/connect", connect_start, methods=("POST",)),
        page_route("/accounts/{account_id}", account_page),
        page_route("/accounts/{account_id}/disconnect", disconnect, methods=("POST",)),
        page_route("/accounts/{account_id}/contacts", contacts_page),
        page_route("/connect/start", connect_link_page, admin=False),
        page_route(
            "/connect/start",
            connect_with_ticket,
            methods=("POST",),
            admin=False,
            name="connect_with_ticket",
        ),
        page_route("/connect/callback", connect_callback, admin=False),
        page_route("/activities", activities_page),
        page_route("/budget", budget_page),
    ]
