"""Failed attempts counted in the database, per thing attacked, with a lock that doubles.

One mechanism for every secret someone may try to guess: a receipt's passphrase, a staff account's
password, its one-time code, the current password before a change. The count is kept per *target*
(the receipt, the account), never per client: a new chat, cookie or server process gets no new
tries, and no count is shared by all targets, so no one can spend one budget to lock everyone out.
Targets are stored as keyed hashes (unknown ones alike, so a lock says nothing of existence).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col, select

from intake.crypto import keyed_hash
from intake.metrics import SIGN_IN_FAILURES
from intake.models import AttemptThrottle, utcnow

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Policy:
    """How many failures a scope allows before a lock, and how long locks last (doubling, capped)."""

    scope: str
    max_failures: int
    first_lock: timedelta
    max_lock: timedelta


LOOKUP = Policy("lookup", 5, timedelta(minutes=15), timedelta(days=1))
SIGN_IN = Policy("sign_in", 5, timedelta(minutes=5), timedelta(hours=1))
TOTP = Policy("totp", 5, timedelta(minutes=5), timedelta(hours=1))
PASSWORD = Policy("password", 5, timedelta(minutes=5), timedelta(hours=1))
FORGET_AFTER = timedelta(days=1)  # a count a day past its last failure and lock is deleted


def _key(policy: Policy, target: str) -> str:
    return keyed_hash("attempts", f"{policy.scope}:{target}")


def _minutes_left(row: AttemptThrottle | None, now: datetime) -> int:
    if row is None or row.locked_until is None or row.locked_until <= now:
        return 0
    return max(1, math.ceil((row.locked_until - now).total_seconds() / 60))


def locked_minutes(session: Session, policy: Policy, target: str, *, now: datetime | None = None) -> int:
    """Minutes left on the target's lock; 0 when it may be tried."""
    row = session.exec(select(AttemptThrottle).where(AttemptThrottle.key_hash == _key(policy, target))).first()
    return _minutes_left(row, now or utcnow())


def failed(session: Session, policy: Policy, target: str, *, now: datetime | None = None) -> int:
    """Counts one failure, in the caller's transaction; returns the minutes of the lock it started (0: none)."""
    if policy in (SIGN_IN, TOTP):
        SIGN_IN_FAILURES.inc()  # for /metrics: a count, no name
    now = now or utcnow()
    key = _key(policy, target)
    insert = sqlite_insert if session.get_bind().dialect.name == "sqlite" else pg_insert
    table = AttemptThrottle.__table__  # type: ignore[attr-defined]
    # Two processes may count the first failure at once: one row wins, and both then update it.
    session.execute(
        insert(table).values(key_hash=key, scope=policy.scope, failures=0, locks=0, last_failure_at=now).on_conflict_do_nothing()
    )
    row = session.exec(select(AttemptThrottle).where(AttemptThrottle.key_hash == key).with_for_update()).one()
    if row.locked_until is not None and row.locked_until <= now - FORGET_AFTER:
        row.locks = 0  # a day after the last lock ended, the next one is short again
    row.failures += 1
    row.last_failure_at = now
    if row.failures < policy.max_failures:
        return 0
    row.locked_until = now + min(policy.first_lock * 2**row.locks, policy.max_lock)
    row.locks += 1
    row.failures = 0
    log.info("%s: a target was locked after %s failures (lock %s in a row)", policy.scope, policy.max_failures, row.locks)
    return _minutes_left(row, now)


def succeeded(session: Session, policy: Policy, target: str) -> None:
    """Clears the target's count after a right attempt."""
    row = session.exec(select(AttemptThrottle).where(AttemptThrottle.key_hash == _key(policy, target))).first()
    if row is not None:
        session.delete(row)


def forget_stale(session: Session, *, now: datetime | None = None) -> int:
    """Deletes counts that no lock needs any more (part of the daily purge)."""
    cutoff = (now or utcnow()) - FORGET_AFTER
    stale = session.exec(
        select(AttemptThrottle).where(
            AttemptThrottle.last_failure_at < cutoff,
            col(AttemptThrottle.locked_until).is_(None) | (col(AttemptThrottle.locked_until) < cutoff),
        )
    ).all()
    for row in stale:
        session.delete(row)
    return len(stale)


@dataclass(frozen=True)
class Spread:
    """Recent failures of a scope, and over how many targets (no target is named)."""

    failures: int
    targets: int
    locked: int


def spread(session: Session, policy: Policy, *, within: timedelta = timedelta(minutes=10), now: datetime | None = None) -> Spread:
    """How many targets failed recently and how many are locked: guessing over many accounts shows here."""
    now = now or utcnow()
    recent = (AttemptThrottle.scope == policy.scope) & (AttemptThrottle.last_failure_at >= now - within)
    failures, targets = session.exec(select(func.coalesce(func.sum(AttemptThrottle.failures), 0), func.count()).where(recent)).one()
    locked = session.exec(
        select(func.count()).where(AttemptThrottle.scope == policy.scope, col(AttemptThrottle.locked_until) > now)
    ).one()
    return Spread(failures=int(failures), targets=int(targets), locked=int(locked))
