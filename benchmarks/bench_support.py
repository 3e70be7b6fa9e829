"""Set-up shared by the sandbox and client benchmarks: an in-process sandbox with one
account and a token, and contacts written straight into its state (so a figure measures
reading and storing, not creating through the API).

Imported by the benchmark scripts, which put ``src`` on ``sys.path`` before importing it.
"""

from __future__ import annotations

from datetime import datetime

from ccbridge.sandbox import Sandbox
from ccbridge.sandbox.seed import create_account, create_app
from ccbridge.sandbox.state import AccountData, Contact, EmailAddress, new_id

SCOPES = "contact_data campaign_data account_read account_update offline_access"


def new_sandbox(*, rate_limits: bool) -> tuple[Sandbox, AccountData, str]:
    """A sandbox, one account, and a bearer token for it with every scope."""
    sandbox = Sandbox(rate_limits=rate_limits)
    now = sandbox.clock.now()
    app = create_app(sandbox.state, now, name="Benchmark", redirect_uris=[])
    data = create_account(
        sandbox.state,
        now,
        email="bench@example.com",
        password="bench",
        organization_name="Bench",
        first_name="Ben",
        last_name="Mark",
    )
    token = sandbox.issuer.issue(sandbox.state, sandbox.clock, app, data.account.account_id, SCOPES)
    return sandbox, data, str(token["access_token"])


def add_contacts(data: AccountData, count: int, now: datetime, **fields: str) -> None:
    """``count`` contacts as POST /v3/contacts would store them: email, permission, one
    list, first and last name, plus any other ``Contact`` string ``fields``."""
    list_id = next(iter(data.lists))
    for n in range(count):
        data.add_contact(
            Contact(
                contact_id=new_id(),
                sequence_id=data.take_sequence(),
                created_at=now,
                updated_at=now,
                create_source="Account",
                email_address=EmailAddress(
                    address=f"contact{n}@bench.example",
                    permission_to_send="implicit",
                    created_at=now,
                    updated_at=now,
                    opt_in_source="Account",
                    opt_in_date=now,
                ),
                first_name="First",
                last_name=f"Last{n}",
                list_memberships=[list_id],
                **fields,
            )
        )
