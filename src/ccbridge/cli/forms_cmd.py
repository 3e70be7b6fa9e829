"""``ccbridge forms``: manage signup forms and their dead letters from the command line.

A thin shell over ``ccbridge.leads``: it opens the configured database (the same
``CCBRIDGE_*`` settings as every other command), calls the library, and prints either a
short table or JSON. Mistakes end with one line naming the problem and exit code 1 (2 for
usage errors), never a traceback.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from ccbridge._errors import CCBridgeError
from ccbridge.config import Settings
from ccbridge.leads.forms import FormDefinitionError, FormNotFoundError, FormStore
from ccbridge.leads.outbox import SignupOutbox
from ccbridge.store import Database, open_database

app = typer.Typer(
    help="Signup forms: create, list, show, disable, and retry dead deliveries.",
    no_args_is_help=True,
)


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(1)


@contextmanager
def _database() -> Iterator[Database]:
    try:
        db = open_database(Settings.from_env())
    except CCBridgeError as exc:
        raise _fail(str(exc)) from None
    try:
        yield db
    finally:
        db.dispose()


def _account_exists(db: Database) -> Any:
    from sqlalchemy import select

    from ccbridge.store.schema import linked_accounts

    def check(account_id: str) -> bool:
        with db.read() as conn:
            row = conn.execute(
                select(linked_accounts.c.id).where(linked_accounts.c.id == account_id)
            ).first()
        return row is not None

    return check


def _parse_field(spec: str) -> dict[str, Any]:
    """``name``, ``name!`` (required) or ``name:CUSTOM_FIELD_UUID[:cc_name]``."""
    required = spec.endswith("!")
    spec = spec.rstrip("!")
    name, _, rest = spec.partition(":")
    field: dict[str, Any] = {"name": name, "required": required}
    if rest:
        custom_id, _, cc_name = rest.partition(":")
        field["custom_field_id"] = custom_id
        if cc_name:
            field["cc_name"] = cc_name
    return field


@app.command("create")
def create(
    account: Annotated[str, typer.Option("--account", help="The linked account's id.")],
    name: Annotated[str, typer.Option("--name", help="A name for the form (admins see it).")],
    consent_text: Annotated[
        str,
        typer.Option("--consent-text", help="What the person agrees to, shown next to the box."),
    ],
    lists: Annotated[
        list[str], typer.Option("--list", help="A CC list id to add people to (repeatable, 1-50).")
    ],
    fields: Annotated[
        list[str] | None,
        typer.Option(
            "--field",
            help="A field: first_name, last_name, phone_number, company_name, job_title, or "
            "NAME:CUSTOM_FIELD_ID[:CC_NAME] for a CC custom field; end with ! to require it. "
            "The email is always asked for.",
        ),
    ] = None,
    origins: Annotated[
        list[str] | None,
        typer.Option("--origin", help="A site allowed to embed and post the form (repeatable)."),
    ] = None,
    redirect: Annotated[
        str | None, typer.Option("--redirect", help="Where to send people after signing up.")
    ] = None,
    title: Annotated[str | None, typer.Option("--title", help="The heading people see.")] = None,
    from_json: Annotated[
        Path | None,
        typer.Option(
            "--from-json", help="Read further properties from a JSON file.", dir_okay=False
        ),
    ] = None,
) -> None:
    """Create a signup form for a linked account; prints it as JSON."""
    definition: dict[str, Any] = {}
    if from_json is not None:
        try:
            definition.update(json.loads(from_json.read_text(encoding="utf-8")))
        except (OSError, ValueError) as exc:
            raise _fail(f"--from-json {from_json}: {exc}") from None
    definition.update(
        {"account_id": account, "name": name, "consent_text": consent_text, "list_ids": lists}
    )
    if fields:
        definition["fields"] = [_parse_field(f) for f in fields]
    if origins:
        definition["allowed_origins"] = origins
    if redirect:
        definition["redirect_url"] = redirect
    if title:
        definition["title"] = title
    with _database() as db:
        try:
            form = FormStore(db, account_exists=_account_exists(db)).create(definition)
        except FormDefinitionError as exc:
            raise _fail(str(exc)) from None
    typer.echo(json.dumps(form.to_json(), indent=2))


@app.command("list")
def list_forms(
    account: Annotated[
        str | None, typer.Option("--account", help="Only this account's forms.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List signup forms with their delivery counts."""
    with _database() as db:
        forms = FormStore(db).list(account_id=account)
        outbox = SignupOutbox(db)
        rows = [(f, outbox.counts(form_id=f.id)) for f in forms]
    if as_json:
        typer.echo(json.dumps([{**f.to_json(), "deliveries": c} for f, c in rows], indent=2))
        return
    if not rows:
        typer.echo("no signup forms")
        return
    table = Table("id", "name", "status", "pending", "held", "delivered", "dead", "flagged")
    for form, counts in rows:
        table.add_row(
            form.id,
            form.definition.name,
            form.status,
            *(str(counts[k]) for k in ("pending", "held", "delivered", "dead", "flagged")),
        )
    Console(width=200).print(table)


@app.command("show")
def show(form_id: Annotated[str, typer.Argument(help="The form's id.")]) -> None:
    """Print a form's definition and delivery counts as JSON."""
    with _database() as db:
        try:
            form = FormStore(db).get(form_id)
        except FormNotFoundError as exc:
            raise _fail(str(exc)) from None
        body = {**form.to_json(), "deliveries": SignupOutbox(db).counts(form_id=form_id)}
    typer.echo(json.dumps(body, indent=2))


@app.command("disable")
def disable(form_id: Annotated[str, typer.Argument(help="The form's id.")]) -> None:
    """Stop a form from accepting signups (stored ones are still delivered)."""
    with _database() as db:
        try:
            FormStore(db).disable(form_id)
        except FormNotFoundError as exc:
            raise _fail(str(exc)) from None
    typer.echo(f"form {form_id} disabled")


@app.command("retry-dead")
def retry_dead(
    form: Annotated[
        str | None, typer.Option("--form", help="Only this form's dead letters.")
    ] = None,
    ids: Annotated[
        list[str] | None,
        typer.Option("--id", help="A delivery or submission id (repeatable)."),
    ] = None,
    everything: Annotated[
        bool, typer.Option("--all", help="Every dead letter of every form.")
    ] = False,
) -> None:
    """Put dead deliveries back in line, after fixing what CC refused."""
    if not (form or ids or everything):
        typer.echo("error: say which: --form ID, --id ID (repeatable) or --all", err=True)
        raise typer.Exit(2)
    with _database() as db:
        outbox = SignupOutbox(db)
        dead = outbox.deliveries(state="dead", form_id=form, limit=1000)
        count = outbox.retry_dead(ids=ids, form_id=form)
    if count == 0:
        typer.echo(
            "no dead deliveries matched" if not dead else "no dead deliveries matched the ids"
        )
        return
    typer.echo(f"{count} dead deliveries queued again")


if __name__ == "__main__":  # pragma: no cover
    app(sys.argv[1:])
