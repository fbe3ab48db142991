"""The `phananh` command."""

from __future__ import annotations

import secrets
import signal
import sys
from typing import Annotated

import typer

from phananh.logging import configure

app = typer.Typer(help="phananh: residents' reports to the Vietnam Fatherland Front.", no_args_is_help=True)
db_app = typer.Typer(help="Database set-up.", no_args_is_help=True)
staff_app = typer.Typer(help="Staff accounts.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(staff_app, name="staff")


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Migrates the database to the newest schema and loads the committee tree."""
    configure()
    from intake.migrate import upgrade

    upgrade()
    typer.echo("Database is up to date; committee tree loaded.")


@db_app.command("load-committees")
def db_load_committees() -> None:
    """Refreshes the committee tree from the gazetteer (vietnam-provinces)."""
    configure()
    from intake.committees import load_committee_tree
    from intake.db import session_scope

    with session_scope() as session:
        result = load_committee_tree(session)
    typer.echo(f"{result.created} created, {result.updated} updated, {result.total} committees in all.")


def ensure_first_admin() -> None:
    """Creates an admin account when there is none, printing its password once."""
    from sqlmodel import select

    from intake.actions import create_staff
    from intake.committees import CENTRAL_CODE, committee_by_code
    from intake.db import session_scope
    from intake.models import StaffRole, StaffUser

    with session_scope() as session:
        if session.exec(select(StaffUser).limit(1)).first() is not None:
            return
        central = committee_by_code(session, CENTRAL_CODE)
        if central is None:
            raise typer.Exit(code=1)
        password = secrets.token_urlsafe(12)
        create_staff(session, username="admin", password=password, role=StaffRole.ADMIN, committee=central, display_name="Quản trị")
    typer.echo(
        "\nFirst admin account created (shown only this once):\n"
        f"  user: admin\n  password: {password}\n"
        "Sign in at /admin and change it (Đổi mật khẩu / Change password); add staff with `phananh staff add`.\n"
    )


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on.")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on.")] = None,
    migrate: Annotated[bool, typer.Option(help="Run migrations at start.")] = True,
) -> None:
    """Runs the web chat (/), the admin (/admin) and the webhooks."""
    configure()
    import uvicorn

    from intake.config import get_settings
    from intake.migrate import upgrade

    settings = get_settings()
    if migrate:
        upgrade()
    ensure_first_admin()
    from bot.telegram.setup import start_with_serve
    from phananh.background import serve_background
    from phananh.web import create_app

    server = uvicorn.Server(
        uvicorn.Config(
            create_app(settle_heap=True),
            host=host or settings.host,
            port=port or settings.port,
            proxy_headers=True,
            access_log=False,  # access lines would carry resident IP addresses
            log_level="info",
        )
    )
    # Ctrl-C or SIGTERM at any moment from here asks the server to stop (at once if it has not
    # started listening). uvicorn takes the signals over while it serves, then raises the one it
    # got again, which lands here. A second Ctrl-C seen here stops without waiting.
    interrupts: list[int] = []

    def stop_asked(signum: int, _frame: object) -> None:
        if signum == signal.SIGINT:
            interrupts.append(signum)
            if len(interrupts) > 1:
                raise KeyboardInterrupt
        server.should_exit = True

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, stop_asked)
    start_with_serve(settings)
    background = serve_background(settings).start()
    try:
        # Returns after Ctrl-C or SIGTERM, once uvicorn has finished the requests in hand (at
        # once when asked to stop before it listened).
        server.run()
    finally:
        background.stop()


@app.command()
def chat(
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per bot message; `[label]` presses a button.")] = False,
    lang: Annotated[str, typer.Option(help="vi or en.")] = "vi",
    session: Annotated[str | None, typer.Option(help="Resume a named terminal conversation.")] = None,
) -> None:
    """Files a report from the terminal, through the same conversation as every channel."""
    configure("WARNING")
    from bot.terminal import run_chat
    from intake.migrate import upgrade

    upgrade()
    run_chat(sys.stdin, sys.stdout, as_json=as_json, lang=lang, session_name=session)


def _register_optional() -> None:
    from phananh.commands import register_all

    register_all(app, staff_app)


_register_optional()

if __name__ == "__main__":
    app()
