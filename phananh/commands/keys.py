"""`phananh keys`: being written in this session (registered so that the command list stays stable)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Adds the command to `app` (filled in by the work on issue 7/8)."""
