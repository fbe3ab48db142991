"""`phananh keys generate|rotate`: encryption keys for data at rest."""

from __future__ import annotations

from typing import Annotated

import typer

keys_app = typer.Typer(help="Encryption keys for identities, chat handles, drafts and attachments.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    """Adds the `keys` command group to the phananh CLI."""
    app.add_typer(keys_app, name="keys")


@keys_app.command("generate")
def generate() -> None:
    """Prints a new random Fernet key (put it first in PHANANH_ENCRYPTION_KEYS or the key file)."""
    from intake.crypto import generate_key

    typer.echo(generate_key())


@keys_app.command("rotate")
def rotate(
    batch_size: Annotated[int, typer.Option(min=1, max=10000, help="Rows per committed batch.")] = 200,
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress lines.")] = False,
) -> None:
    """Re-encrypts every encrypted value (evidence files included) under the newest key, while the service runs."""
    from phananh.logging import configure

    configure()
    from intake.crypto import check_keys
    from intake.db import get_engine
    from intake.keys import rotate_all

    count = check_keys()
    if count < 2:
        typer.echo("Only one key is configured: everything is already under it. Put a new key first, then rotate.", err=True)

    def show(what: str, done: int, total: int) -> None:
        if not quiet:
            typer.echo(f"  {what}: {done}/{total}")

    result = rotate_all(get_engine(), batch_size=batch_size, progress=show)
    for column, n in sorted(result.rotated.items()):
        typer.echo(f"{column}: {n} re-encrypted")
    typer.echo(f"already under the newest key: {result.current} values; rewritten by the service meanwhile: {result.changed_meanwhile}")
    if result.failed:
        typer.echo(f"{len(result.failed)} could not be decrypted with any configured key:", err=True)
        for item in result.failed:
            typer.echo(f"  {item}", err=True)
        typer.echo("Keep the old keys configured until this is resolved.", err=True)
        raise typer.Exit(code=1)
    if result.changed_meanwhile:
        typer.echo("Some values changed during the run: run `phananh keys rotate` once more to confirm none is left.")
        return
    typer.echo("Done: everything is under the newest key; the older keys can be removed from the configuration.")
