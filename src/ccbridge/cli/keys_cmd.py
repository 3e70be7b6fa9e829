"""``ccbridge keys``: the vault's key ring — list, rotate, re-encrypt, drop, generate."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from ccbridge.cli._linked import DebugOption, cli_errors, load_settings, table
from ccbridge.oauth.keys import drop_key, key_report, reencrypt, rotate
from ccbridge.oauth.vault import KeySource, TokenVault, generate_key
from ccbridge.store import open_database

app = typer.Typer(
    help="Vault keys: the key ring that encrypts stored tokens.", no_args_is_help=True
)


@app.command("list")
def list_keys(debug: DebugOption = False) -> None:
    """Key fingerprints (newest first) and how many stored rows each one encrypts."""
    with cli_errors(debug):
        settings = load_settings()
        source = KeySource.from_settings(settings)
        vault = TokenVault.from_source(source)
        db = open_database(settings)
        try:
            infos = key_report(db, vault)
        finally:
            db.dispose()
        rows = [
            [
                k.fingerprint,
                "newest (encrypts)" if k.primary else ("older" if k.in_ring else "MISSING"),
                str(k.rows),
            ]
            for k in infos
        ]
        typer.echo(f"keys from {source.description}")
        typer.echo(table(["fingerprint", "role", "rows"], rows))
        if any(not k.in_ring for k in infos):
            typer.echo("some rows use a key that is not in the ring: restore it", err=True)
            raise typer.Exit(1)


@contextmanager
def _reencrypt_progress() -> Iterator[Callable[[int, int], None]]:
    """A progress bar on stderr while rows are re-encrypted (one transaction per row)."""
    with Progress(
        TextColumn("re-encrypting"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    ) as bar:
        task = bar.add_task("rows", total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield update


@app.command("rotate")
def rotate_keys(debug: DebugOption = False) -> None:
    """Add a new newest key to the key file and re-encrypt every stored row with it."""
    with cli_errors(debug):
        settings = load_settings()
        db = open_database(settings)
        try:
            with _reencrypt_progress() as progress:
                fp, count, _vault = rotate(db, KeySource.from_settings(settings), progress=progress)
        finally:
            db.dispose()
        typer.echo(f"new key {fp} added; {count} row(s) re-encrypted with it")


@app.command("reencrypt")
def reencrypt_rows(debug: DebugOption = False) -> None:
    """Re-encrypt every row with the newest key (after putting a new key first yourself)."""
    with cli_errors(debug):
        settings = load_settings()
        vault = TokenVault.from_source(KeySource.from_settings(settings))
        db = open_database(settings)
        try:
            with _reencrypt_progress() as progress:
                count = reencrypt(db, vault, progress=progress)
        finally:
            db.dispose()
        typer.echo(f"{count} row(s) re-encrypted with key {vault.ring.primary.fingerprint}")


@app.command("drop")
def drop(
    fingerprint: Annotated[str, typer.Argument(help="The fingerprint of the key to remove.")],
    debug: DebugOption = False,
) -> None:
    """Remove an old key from the key file (refused while any row still uses it)."""
    with cli_errors(debug):
        settings = load_settings()
        db = open_database(settings)
        try:
            drop_key(db, KeySource.from_settings(settings), fingerprint)
        finally:
            db.dispose()
        typer.echo(f"key {fingerprint} removed")


@app.command("generate")
def generate() -> None:
    """Print a new key (for CCBRIDGE_VAULT_KEYS; put it first). Nothing is stored."""
    typer.echo(generate_key().decode("ascii"))
