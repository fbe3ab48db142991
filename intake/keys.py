"""Key rotation: every encrypted column and every attachment file re-sealed under the newest key.

Run while the service keeps serving: with the keys configured as "new,old" everywhere, MultiFernet
reads both, so values not yet rotated still decrypt. Work goes in small batches, each its own
transaction, and a value already sealed with the newest key is left alone: a second run, or a run
resumed after an interruption, only does what is left.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa
from cryptography.fernet import InvalidToken
from sqlalchemy.engine import Engine
from sqlmodel import SQLModel

from intake.config import get_settings
from intake.crypto import is_current, rotate

log = logging.getLogger(__name__)

ENC_SUFFIX = "_enc"
TMP_SUFFIX = ".rotating"
Progress = Callable[[str, int, int], None]  # (what, done, total)


@dataclass
class RotateResult:
    """What a rotation did: counts per table column and for the attachment store, and what failed."""

    rotated: dict[str, int] = field(default_factory=dict)  # "table.column" -> values re-encrypted
    current: int = 0  # values already under the newest key
    changed_meanwhile: int = 0  # rewritten by the service during the run (so under the newest key)
    files_rotated: int = 0
    files_current: int = 0
    failed: list[str] = field(default_factory=list)  # "table#id.column" or "attachments/<key>": no key opens it

    @property
    def values_rotated(self) -> int:
        return sum(self.rotated.values())


def encrypted_columns(metadata: sa.MetaData | None = None) -> dict[str, list[str]]:
    """Every table's encrypted columns: binary columns named *_enc (a new one is covered by naming it so)."""
    found: dict[str, list[str]] = {}
    for table in (metadata or SQLModel.metadata).sorted_tables:
        cols = [c.name for c in table.columns if c.name.endswith(ENC_SUFFIX) and isinstance(c.type, sa.LargeBinary)]
        if cols:
            found[table.name] = cols
    return found


def _attachment_dir() -> Path:
    return get_settings().var_dir / "attachments"


def rotate_all(engine: Engine, *, batch_size: int = 200, progress: Progress | None = None) -> RotateResult:
    """Re-encrypts every encrypted value and attachment file that is not under the newest key."""
    result = RotateResult()
    metadata = SQLModel.metadata
    for table_name, columns in encrypted_columns(metadata).items():
        _rotate_table(engine, metadata.tables[table_name], columns, batch_size, result, progress)
    rewritten = _rotate_files(_attachment_dir(), result, progress)
    _drop_purged(engine, _attachment_dir(), rewritten)
    log.info(
        "key rotation: %s values and %s files re-encrypted, %s values and %s files already current, %s failed",
        result.values_rotated, result.files_rotated, result.current, result.files_current, len(result.failed),
    )
    return result


def _rotate_table(
    engine: Engine, table: sa.Table, columns: list[str], batch_size: int, result: RotateResult, progress: Progress | None
) -> None:
    """One table, by ascending id, one committed transaction per batch."""
    pk = table.c.id
    with engine.connect() as conn:
        total = int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())
    for name in columns:
        result.rotated.setdefault(f"{table.name}.{name}", 0)
    done, last_id = 0, 0
    while True:
        with engine.begin() as conn:
            rows = conn.execute(
                sa.select(pk, *(table.c[n] for n in columns)).where(pk > last_id).order_by(pk).limit(batch_size)
            ).all()
            for row in rows:
                for name in columns:
                    _rotate_value(conn, table, row[0], name, row._mapping[name], result)
        if not rows:
            break
        last_id = rows[-1][0]
        done += len(rows)
        if progress:
            progress(table.name, done, total)


def _rotate_value(conn: sa.Connection, table: sa.Table, row_id: int, name: str, value: bytes | None, result: RotateResult) -> None:
    if not value:
        return
    value = bytes(value)  # PostgreSQL hands back a memoryview
    if is_current(value):
        result.current += 1
        return
    try:
        new = rotate(value)
    except InvalidToken:
        result.failed.append(f"{table.name}#{row_id}.{name}")
        return
    col = table.c[name]
    # Only if nobody rewrote it meanwhile: the service's own writes already use the newest key.
    updated = conn.execute(sa.update(table).where(table.c.id == row_id, col == value).values({name: new}))
    if updated.rowcount == 1:
        result.rotated[f"{table.name}.{name}"] += 1
    else:
        result.changed_meanwhile += 1


def _rotate_files(store: Path, result: RotateResult, progress: Progress | None) -> list[str]:
    """Every file in the attachment store, replaced atomically so a reader sees the old or the new file whole."""
    rewritten: list[str] = []
    if not store.is_dir():
        return rewritten
    for stale in store.glob(f"*{TMP_SUFFIX}"):  # left by an interrupted run
        stale.unlink(missing_ok=True)
    files = sorted(p for p in store.iterdir() if p.is_file())
    for done, path in enumerate(files, 1):
        try:
            data = path.read_bytes()
        except FileNotFoundError:  # purged meanwhile
            continue
        if is_current(data):
            result.files_current += 1
        else:
            try:
                new = rotate(data)
            except InvalidToken:
                result.failed.append(f"attachments/{path.name}")
                continue
            tmp = path.with_name(path.name + TMP_SUFFIX)
            tmp.write_bytes(new)
            os.replace(tmp, path)
            rewritten.append(path.name)
            result.files_rotated += 1
        if progress and (done % 100 == 0 or done == len(files)):
            progress("attachments", done, len(files))
    return rewritten


def _drop_purged(engine: Engine, store: Path, names: list[str]) -> None:
    """Removes rewritten files whose attachment was purged while they were being rewritten.

    Only files the database marks purged: a file with no row at all is left alone, so that a run
    pointed at the wrong database cannot delete the evidence store.
    """
    table = SQLModel.metadata.tables["attachments"]
    for start in range(0, len(names), 500):
        chunk = names[start : start + 500]
        with engine.connect() as conn:
            purged = conn.execute(
                sa.select(table.c.storage_key).where(table.c.storage_key.in_(chunk), table.c.purged_at.is_not(None))
            ).scalars()
            for name in purged:
                (store / name).unlink(missing_ok=True)
