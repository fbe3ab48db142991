"""Key rotation: every encrypted column (the evidence store's chunks among them) re-sealed under the newest key.

Run while the service keeps serving: with the keys configured as "new,old" everywhere, MultiFernet
reads both, so values not yet rotated still decrypt. Work goes in small batches, each its own
transaction, and a value already sealed with the newest key is left alone: a second run, or a run
resumed after an interruption, only does what is left.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

import sqlalchemy as sa
from cryptography.fernet import InvalidToken
from sqlalchemy.engine import Engine
from sqlmodel import SQLModel

from intake.crypto import is_current, rotate

log = logging.getLogger(__name__)

ENC_SUFFIX = "_enc"
Progress = Callable[[str, int, int], None]  # (what, done, total)


@dataclass
class RotateResult:
    """What a rotation did: counts per table column, and what failed."""

    rotated: dict[str, int] = field(default_factory=dict)  # "table.column" -> values re-encrypted
    current: int = 0  # values already under the newest key
    changed_meanwhile: int = 0  # rewritten by the service during the run (so under the newest key)
    failed: list[str] = field(default_factory=list)  # "table#id.column": no key opens it

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


def rotate_all(engine: Engine, *, batch_size: int = 200, progress: Progress | None = None) -> RotateResult:
    """Re-encrypts every encrypted value (evidence files included) that is not under the newest key."""
    result = RotateResult()
    metadata = SQLModel.metadata
    for table_name, columns in encrypted_columns(metadata).items():
        _rotate_table(engine, metadata.tables[table_name], columns, batch_size, result, progress)
    log.info(
        "key rotation: %s values re-encrypted, %s already current, %s failed",
        result.values_rotated, result.current, len(result.failed),
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
