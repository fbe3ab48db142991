"""`phananh purge`: retention of chat handles, evidence files and phone numbers of ended cases."""

from __future__ import annotations

from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    """Adds the `purge` command to the phananh CLI."""
    app.command("purge")(purge)


def purge(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Count what would be purged; change nothing.")] = False,
    days: Annotated[
        int | None, typer.Option(min=0, help="Days after a case ends (default PHANANH_RETENTION_DAYS).")
    ] = None,
) -> None:
    """Purges what ended cases no longer need (see intake/retention.py), and idle conversation drafts."""
    from phananh.logging import configure

    configure()
    from intake.config import get_settings
    from intake.db import session_scope
    from intake.locks import exclusive
    from intake.retention import purge_expired, purge_job

    settings = get_settings()
    if dry_run:
        with session_scope() as session:
            result = purge_expired(session, days=days, dry_run=True)
            session.rollback()
    else:
        with exclusive("job:purge"):  # the one a server may be running now finishes first
            result = purge_job(settings if days is None else settings.model_copy(update={"retention_days": days}))
    verb = "would purge" if dry_run else "purged"
    typer.echo(
        f"{verb}: {result.cases} cases ended more than {settings.retention_days if days is None else days} days ago:"
        f" {result.chat_links} chat handles, {result.attachments} evidence files, {result.phones} phone numbers"
    )
    if not dry_run:
        typer.echo(f"idle conversation drafts deleted: {result.dialogs}")
