"""`phananh audit verify`: checks that no row of the audit log was edited or removed."""

from __future__ import annotations

from typing import Annotated

import typer

audit_app = typer.Typer(help="The tamper-evident audit log.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    """Adds the `audit` command group to the phananh CLI."""
    app.add_typer(audit_app, name="audit")


@audit_app.command("verify")
def verify(
    expect: Annotated[
        list[str] | None, typer.Option("--expect", help="A head printed by an earlier run (ID:HASH), kept elsewhere.")
    ] = None,
    checkpoint: Annotated[
        bool, typer.Option(help="Hold the log to the head saved by the last good run, and save the new head.")
    ] = True,
) -> None:
    """Walks the hash chain: prints OK and the head, or the first bad row and why (exit status 1)."""
    from phananh.logging import configure

    configure()
    from intake.audit import Checkpoint, verify as verify_chain, verify_and_checkpoint
    from intake.config import get_settings
    from intake.db import session_scope

    try:
        given = tuple(Checkpoint.parse(text) for text in expect or [])
    except ValueError as err:
        typer.echo(str(err), err=True)
        raise typer.Exit(code=2) from err
    with session_scope() as session:
        if checkpoint:
            result = verify_and_checkpoint(session, get_settings().var_dir, extra=given)
        else:
            result = verify_chain(session, checkpoints=given)
    if not result.ok:
        typer.echo(f"TAMPERED: row {result.first_bad_id}: {result.problem} ({result.checked} rows before it verified)")
        raise typer.Exit(code=1)
    typer.echo(f"OK: {result.checked} rows verified; head {result.head or 'none'}")
