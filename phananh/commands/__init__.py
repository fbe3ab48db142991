"""Sub-commands of `phananh`, one module per area."""

from __future__ import annotations

import typer


def register_all(app: typer.Typer, staff_app: typer.Typer) -> None:
    from phananh.commands import audit, backup, classify, keys, places, purge, staff, telegram, worker

    classify.register(app)
    places.register(app)
    telegram.register(app)
    worker.register(app)
    keys.register(app)
    purge.register(app)
    audit.register(app)
    backup.register(app)
    staff.register(staff_app)
