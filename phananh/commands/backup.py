"""`phananh backup FILE` and `phananh restore FILE`: the database, the evidence, the keys, in one archive."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

PASSPHRASE_HELP = "Read the passphrase from the first line of standard input (scripts), instead of asking twice."


def register(app: typer.Typer) -> None:
    """Adds the `backup` and `restore` commands to the phananh CLI."""
    app.command("backup")(backup)
    app.command("restore")(restore)


def _passphrase(from_stdin: bool, *, confirm: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    return str(typer.prompt("Passphrase for the keys (not stored anywhere: keep it apart from the archive)", hide_input=True,
                            confirmation_prompt=confirm))  # fmt: skip


def backup(
    file: Annotated[Path, typer.Argument(help="The archive to write (replaced if it exists).")],
    passphrase_stdin: Annotated[bool, typer.Option("--passphrase-stdin", help=PASSPHRASE_HELP)] = False,
) -> None:
    """Writes one archive: a consistent snapshot of the database (evidence included), the keys sealed with a passphrase, the audit checkpoint. Safe while serving."""
    from phananh.logging import configure, refuse

    configure()
    from intake.backup import BackupError
    from intake.backup import backup as write_backup
    from intake.config import get_settings
    from phananh.startup import check_database

    check_database()
    passphrase = _passphrase(passphrase_stdin, confirm=True)
    try:
        manifest = write_backup(get_settings(), file, passphrase)
    except BackupError as err:
        refuse(str(err))
    typer.echo(f"Backup written to {file}: {manifest['database']} database at revision {manifest['revision']}, {manifest['cases']} cases.")


def restore(
    file: Annotated[Path, typer.Argument(help="An archive written by `phananh backup`.", exists=True, dir_okay=False)],
    passphrase_stdin: Annotated[bool, typer.Option("--passphrase-stdin", help=PASSPHRASE_HELP)] = False,
) -> None:
    """Brings an archive back into an empty database and var dir, then migrates it to this version's schema."""
    import logging

    from phananh.logging import refuse, settings_or_exit

    settings = settings_or_exit()  # not configure(): the keys are in the archive, not configured yet
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from intake.backup import BackupError
    from intake.backup import restore as read_backup
    from phananh.startup import check_database

    check_database()
    try:
        done = read_backup(settings, file, _passphrase(passphrase_stdin, confirm=False))
    except BackupError as err:
        refuse(str(err))
    from intake.migrate import upgrade

    upgrade()
    typer.echo(f"Restored the {done.kind} database from {file}.")
    if done.keys_file is not None:
        typer.echo(f"Encryption keys written to {done.keys_file}.")
    if done.secret_differs:
        typer.echo(
            f"PHANANH_SECRET_KEY differs from the one in the archive: receipts will not be found until it is set to the value "
            f"written to {done.secret_file} (then delete that file).",
            err=True,
        )
