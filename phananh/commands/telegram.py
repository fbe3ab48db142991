"""`phananh bot --polling`: the Telegram bot without a public address."""

from __future__ import annotations

from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    """Adds the `bot` command to the phananh CLI."""
    app.command("bot")(bot)


def bot(
    polling: Annotated[bool, typer.Option("--polling", help="Fetch updates with getUpdates (removes any webhook).")] = False,
    migrate: Annotated[bool, typer.Option(help="Run migrations at start.")] = True,
) -> None:
    """Runs the Telegram bot by polling; with a public address, `phananh serve` takes webhooks instead."""
    from phananh.logging import configure

    configure()
    if not polling:
        typer.echo("With a public https address, `phananh serve` receives Telegram's webhook; without one, run `phananh bot --polling`.", err=True)
        raise typer.Exit(code=2)
    from intake.config import get_settings

    settings = get_settings()
    if not settings.telegram_token.get_secret_value():
        typer.echo("PHANANH_TELEGRAM_TOKEN is not set: create a bot with @BotFather and put its token there.", err=True)
        raise typer.Exit(code=1)
    from bot.telegram.channel import TelegramChannel
    from bot.telegram.polling import run
    from bot.telegram.setup import make_bot
    from intake.errors import ConfigurationError
    from intake.migrate import upgrade

    if migrate:
        upgrade()
    try:
        channel = TelegramChannel(make_bot(settings), settings=settings)
    except ConfigurationError as err:
        typer.echo(f"Telegram is not configured correctly: {err.detail}", err=True)
        raise typer.Exit(code=1) from err
    typer.echo(f"Polling Telegram at {settings.telegram_api_url} (Ctrl-C to stop).")
    run(channel)
