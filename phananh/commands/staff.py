"""`phananh staff add|disable|reset-password`."""

from __future__ import annotations

import secrets
from typing import Annotated

import typer

from intake.models import StaffRole


def register(staff_app: typer.Typer) -> None:
    @staff_app.command("add")
    def add(
        username: str,
        committee: Annotated[str, typer.Option(help="Committee code: TW, a province code (79) or a commune code (26743).")],
        role: Annotated[StaffRole, typer.Option(help="viewer, officer, chair or admin.")] = StaffRole.OFFICER,
        name: Annotated[str, typer.Option(help="Display name.")] = "",
    ) -> None:
        """Creates a staff account and prints its first password once."""
        from intake.actions import create_staff
        from intake.committees import committee_by_code
        from intake.db import session_scope
        from intake.errors import InvalidInputError

        password = secrets.token_urlsafe(12)
        with session_scope() as session:
            found = committee_by_code(session, committee)
            if found is None:
                typer.echo(f"No committee with code {committee}.", err=True)
                raise typer.Exit(code=2)
            try:
                create_staff(session, username=username, password=password, role=role, committee=found, display_name=name)
            except InvalidInputError:
                typer.echo(f"The user name {username} is taken.", err=True)
                raise typer.Exit(code=2) from None
        typer.echo(f"Account {username} created ({role.value}, {committee}). Password (shown once): {password}")

    @staff_app.command("disable")
    def disable(username: str) -> None:
        """Disables an account and signs it out everywhere."""
        from intake.db import session_scope
        from intake.staff import disable_staff, find_staff

        with session_scope() as session:
            user = find_staff(session, username)
            if user is None:
                typer.echo(f"No account {username}.", err=True)
                raise typer.Exit(code=2)
            disable_staff(session, user=user)
        typer.echo(f"Account {username} disabled.")

    @staff_app.command("reset-password")
    def reset_password(username: str) -> None:
        """Sets a new random password, signs the account out, and prints the password once."""
        from intake.db import session_scope
        from intake.staff import find_staff, set_password

        password = secrets.token_urlsafe(12)
        with session_scope() as session:
            user = find_staff(session, username)
            if user is None:
                typer.echo(f"No account {username}.", err=True)
                raise typer.Exit(code=2)
            set_password(session, user=user, password=password)
        typer.echo(f"New password for {username} (shown once): {password}")

    @staff_app.command("reset-totp")
    def reset_totp(username: str) -> None:
        """Forgets an account's second factor (a lost phone); it sets up a new one at next sign-in."""
        from intake import totp
        from intake.db import session_scope
        from intake.staff import find_staff

        with session_scope() as session:
            user = find_staff(session, username)
            if user is None:
                typer.echo(f"No account {username}.", err=True)
                raise typer.Exit(code=2)
            totp.reset(session, user)
        typer.echo(f"Second factor of {username} removed; it will set up a new one at next sign-in.")
