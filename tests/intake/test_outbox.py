"""Outbox delivery: retries with backoff, dead letters, held messages, exactly-once across a crash."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest
from sqlmodel import Session, select

from intake import outbox
from intake.actions import chat_handle_hash
from intake.committees import committee_by_code
from intake.crypto import encrypt
from intake.models import Case, ChatLink, OutboxMessage, OutboxStatus, utcnow


class FakeChannel:
    """A chat platform that, like a careful receiver, shows each delivery key once."""

    def __init__(self, fail_times: int = 0, retryable: bool = True) -> None:
        self.shown: Counter[str] = Counter()
        self.calls = 0
        self.fail_times = fail_times
        self.retryable = retryable

    def __call__(self, handle: str, text: str, key: str) -> None:
        self.calls += 1
        if self.calls <= self.fail_times:
            raise outbox.DeliveryError("HTTP 502", retryable=self.retryable)
        if key not in self.shown:
            self.shown[key] += 1


class Crash(BaseException):
    """Stands for the process dying right after the platform accepted the message."""


def _case(db: Session, *, linked: bool = True, n_messages: int = 1) -> Case:
    committee = committee_by_code(db, "26743")
    case = Case(
        receipt_hash=f"h{utcnow().timestamp()}",
        passphrase_hash="x",
        channel="telegram",
        anonymity="anonymous",
        committee_id=committee.id,  # type: ignore[union-attr,arg-type]
        description="...",
    )
    db.add(case)
    db.flush()
    if linked:
        db.add(ChatLink(case_id=case.id, channel="telegram", handle_hash=chat_handle_hash("telegram", "42"), handle_enc=encrypt("42")))  # type: ignore[arg-type]
    for i in range(n_messages):
        db.add(OutboxMessage(case_id=case.id, channel="telegram", body=f"Tin {i}", delivery_key=f"k-{case.id}-{i}"))  # type: ignore[arg-type]
    db.commit()
    return case


def _rows(db: Session) -> list[OutboxMessage]:
    db.expire_all()
    return list(db.exec(select(OutboxMessage).order_by(OutboxMessage.id)).all())  # type: ignore[arg-type]


def test_due_messages_are_sent_once(db: Session) -> None:
    """Each pending row reaches the linked chat and is marked sent."""
    _case(db, n_messages=3)
    channel = FakeChannel()
    assert outbox.deliver_batch({"telegram": channel}) == 3
    assert sum(channel.shown.values()) == 3
    assert {r.status for r in _rows(db)} == {OutboxStatus.SENT.value}
    assert outbox.deliver_batch({"telegram": channel}) == 0


def test_failures_back_off_then_succeed(db: Session) -> None:
    """A failed send is retried later, not at once; the error is kept for staff."""
    _case(db)
    channel = FakeChannel(fail_times=1)
    outbox.deliver_batch({"telegram": channel})
    row = _rows(db)[0]
    assert row.status == OutboxStatus.PENDING.value and row.last_error == "HTTP 502"
    assert row.next_attempt_at > utcnow() + timedelta(seconds=3)
    assert outbox.deliver_batch({"telegram": channel}) == 0  # not due yet
    db.execute(OutboxMessage.__table__.update().values(next_attempt_at=utcnow()))  # type: ignore[attr-defined]
    db.commit()
    outbox.deliver_batch({"telegram": channel})
    assert _rows(db)[0].status == OutboxStatus.SENT.value and sum(channel.shown.values()) == 1


def test_dead_letter_after_max_attempts_and_retry(db: Session) -> None:
    """After the last attempt the row is dead (visible to staff) until someone retries it."""
    _case(db)
    channel = FakeChannel(fail_times=3)
    for _ in range(3):
        db.execute(OutboxMessage.__table__.update().values(next_attempt_at=utcnow()))  # type: ignore[attr-defined]
        db.commit()
        outbox.deliver_batch({"telegram": channel}, max_attempts=3)
    row = _rows(db)[0]
    assert row.status == OutboxStatus.DEAD.value and row.attempts == 3
    outbox.retry_dead(db, row.id)  # type: ignore[arg-type]
    db.commit()
    outbox.deliver_batch({"telegram": channel}, max_attempts=3)
    assert _rows(db)[0].status == OutboxStatus.SENT.value


def test_permanent_errors_go_straight_to_dead_letters(db: Session) -> None:
    """A chat that blocked the bot is not retried eight times."""
    _case(db)
    outbox.deliver_batch({"telegram": FakeChannel(fail_times=1, retryable=False)})
    assert _rows(db)[0].status == OutboxStatus.DEAD.value


def test_without_a_chat_link_the_message_waits_for_the_lookup(db: Session) -> None:
    """No opt-in: nothing is pushed; the row is held and the resident reads it at /tracuu."""
    _case(db, linked=False)
    channel = FakeChannel()
    outbox.deliver_batch({"telegram": channel})
    assert channel.calls == 0 and _rows(db)[0].status == OutboxStatus.HELD.value


def test_a_worker_dying_mid_send_delivers_exactly_once(db: Session) -> None:
    """The platform took the message, the worker died before recording it: after the lease, the
    retry carries the same delivery key and the resident sees the message once."""
    _case(db, n_messages=2)
    channel = FakeChannel()

    def dying(handle: str, text: str, key: str) -> None:
        channel(handle, text, key)
        raise Crash()

    with pytest.raises(Crash):
        outbox.deliver_batch({"telegram": dying})
    assert {r.status for r in _rows(db)} == {OutboxStatus.SENDING.value}
    assert outbox.deliver_batch({"telegram": channel}) == 0  # leased, not yet reclaimable
    db.execute(OutboxMessage.__table__.update().values(next_attempt_at=utcnow()))  # type: ignore[attr-defined]
    db.commit()
    outbox.deliver_batch({"telegram": channel})
    assert {r.status for r in _rows(db)} == {OutboxStatus.SENT.value}
    assert sorted(channel.shown.values()) == [1, 1]


def test_a_sender_bug_is_retried_and_does_not_stop_the_batch(db: Session) -> None:
    """A sender raising something unexpected fails that row (retried, then dead); the other rows are sent."""
    _case(db, n_messages=2)
    channel = FakeChannel()

    def buggy(handle: str, text: str, key: str) -> None:
        if text == "Tin 0":
            raise KeyError("bug")
        channel(handle, text, key)

    assert outbox.deliver_batch({"telegram": buggy}, max_attempts=2) == 1
    first, second = _rows(db)
    assert first.status == OutboxStatus.PENDING.value and first.last_error == "unexpected KeyError"
    assert second.status == OutboxStatus.SENT.value
    db.execute(OutboxMessage.__table__.update().values(next_attempt_at=utcnow()))  # type: ignore[attr-defined]
    db.commit()
    outbox.deliver_batch({"telegram": buggy}, max_attempts=2)
    assert _rows(db)[0].status == OutboxStatus.DEAD.value


def test_a_chat_handle_no_key_decrypts_goes_to_the_dead_letters(db: Session) -> None:
    """A handle sealed with a key no longer configured cannot be reached: dead at once, saying why, not held."""
    from cryptography.fernet import Fernet

    case = _case(db, linked=False)
    db.add(ChatLink(case_id=case.id, channel="telegram", handle_hash="x" * 64, handle_enc=Fernet(Fernet.generate_key()).encrypt(b"42")))  # type: ignore[arg-type]
    db.commit()
    channel = FakeChannel()
    assert outbox.deliver_batch({"telegram": channel}) == 1
    row = _rows(db)[0]
    assert row.status == OutboxStatus.DEAD.value and "decrypted" in row.last_error and channel.calls == 0


def test_a_slow_batch_leaves_its_last_rows_for_a_later_claim(db: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    """Past a third of the lease no new row is started, so no other worker can claim a row still being sent."""
    _case(db, n_messages=3)
    clock = iter([0.0, 0.0, 50.0])  # the claim, the first row, then the second row starts 50 s later
    monkeypatch.setattr(outbox, "_clock", lambda: next(clock, 1000.0))
    channel = FakeChannel()
    assert outbox.deliver({"telegram": channel}) == (3, 1)
    assert [r.status for r in _rows(db)] == [OutboxStatus.SENT.value, OutboxStatus.SENDING.value, OutboxStatus.SENDING.value]
