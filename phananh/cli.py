"""The `phananh` command."""

from __future__ import annotations

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
def db_upgrade(
    classifier: Annotated[bool, typer.Option(help="Also prepare the classifier artifact (trained when missing or stale).")] = True,
) -> None:
    """Migrates the database to the newest schema, loads the committee tree and prepares the classifier."""
    configure()
    from intake.migrate import upgrade
    from phananh.startup import check_database

    check_database()
    upgrade()
    typer.echo("Database is up to date; committee tree loaded.")
    if classifier:
        from intake.classify import get_classifier
        from intake.classify.training import default_model_path

        get_classifier()
        typer.echo(f"Classifier ready at {default_model_path()}.")


@db_app.command("load-committees")
def db_load_committees() -> None:
    """Refreshes the committee tree from the gazetteer (vietnam-provinces)."""
    configure()
    from intake.committees import load_committee_tree
    from intake.db import session_scope

    with session_scope() as session:
        result = load_committee_tree(session)
    typer.echo(f"{result.created} created, {result.updated} updated, {result.total} committees in all.")


def ensure_first_admin(*, migrate: bool = False) -> None:
    """Creates an admin account when there is none (migrating first, with `migrate`), printing its password once."""
    from intake.migrate import setup

    password = setup(first_admin=True) if migrate else setup(first_admin=True, migrate_schema=False)
    if password is None:
        return
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
    from intake.heap import tune_malloc

    tune_malloc()  # before any thread: the workers forked later inherit it
    configure()
    import uvicorn

    from intake.config import get_settings
    from phananh import startup

    settings = get_settings()
    # Cheapest and least harmful first: a server that cannot run stops before it changes anything.
    sock = startup.listen(host or settings.host, port or settings.port)
    startup.name_server(port or settings.port)
    startup.check_database()
    replica = startup.hold_replica_lock(settings)
    background = None
    try:
        ensure_first_admin(migrate=migrate)
        startup.load_models()
        # Forked before any thread starts, sharing what was just loaded.
        startup.fork_zalo_workers(settings)
        from bot.telegram.setup import start_with_serve
        from phananh.background import serve_background
        from phananh.web import create_app

        server = startup.web_server(
            uvicorn.Config(
                create_app(settle_heap=True),
                proxy_headers=True,
                access_log=False,  # access lines would carry resident IP addresses
                log_level="info",
            ),
            sock,
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
        # Returns after Ctrl-C or SIGTERM, once uvicorn has finished the requests in hand (at
        # once when asked to stop before it listened).
        server.run(sockets=[sock])
    finally:
        if background is not None:
            background.stop()
        replica.release()
        sock.close()


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


def main() -> None:
    """The `phananh` command: a database that stops answering while a command starts is one line, not a traceback."""
    import sqlalchemy as sa

    from phananh.logging import refuse
    from phananh.startup import database_reason

    try:
        app()
    except sa.exc.OperationalError as err:
        refuse(f"the database cannot be reached: {database_reason(err)}")
    except OSError as err:
        if err.filename is None:
            raise
        # A SQLite file (or the var folder) that cannot be made where the settings say: one line, not a traceback.
        refuse(f"cannot use {err.filename}: {err.strerror or type(err).__name__}")


if __name__ == "__main__":
    main()
