"""The receipt look-up tells nothing and cannot be guessed around: equal work with or without a case,
failures counted per receipt (not per chat), and a lock that doubles but never passes a day."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import Session, select

from intake import actions
from intake.conversation import Conversation
from intake.dialog.types import Inbound
from intake import throttle
from intake.models import AttemptThrottle, utcnow
from intake.receipts import new_passphrase, new_receipt

from .test_conversation import _file

LOCKED = "tạm khóa"


def _lock_row(db: Session) -> AttemptThrottle:
    db.expire_all()
    return db.exec(select(AttemptThrottle)).one()


def _age_lock(db: Session, minutes: int) -> None:
    """Moves the lock (and the last failure) back in time, as if `minutes` had passed."""
    db.expire_all()
    for row in db.exec(select(AttemptThrottle)).all():
        row.last_failure_at -= timedelta(minutes=minutes)
        if row.locked_until is not None:
            row.locked_until -= timedelta(minutes=minutes)
    db.commit()


def test_a_look_up_checks_a_passphrase_hash_whether_or_not_the_receipt_exists(db: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    """No case for the receipt: the passphrase is still verified, against a dummy Argon2 hash, so the time tells nothing."""
    conv = Conversation(channel="terminal")
    real = _file(conv, "chat-x", confirm=True)
    checked: list[str] = []
    original = actions.check_passphrase
    monkeypatch.setattr(actions, "check_passphrase", lambda stored, p: checked.append(stored) or original(stored, p))
    assert not actions.look_up_case(db, receipt=str(real.receipt), passphrase=new_passphrase()).found
    assert not actions.look_up_case(db, receipt=new_receipt(), passphrase=new_passphrase()).found
    assert len(checked) == 2 and all(h.startswith("$argon2id$") for h in checked)
    assert checked[1] == actions._dummy_passphrase_hash()
    known, dummy = checked[0].split("$")[3], checked[1].split("$")[3]
    assert known == dummy, "the same Argon2 parameters: the same work"


def test_failures_count_per_receipt_across_chats(db: Session) -> None:
    """Five wrong passphrases from five different chats lock the receipt; a sixth chat with the right one waits."""
    owner = Conversation(channel="web")
    filed = _file(owner, "owner", confirm=True)
    for i in range(throttle.LOOKUP.max_failures):
        replies = Conversation(channel="web").handle(f"guesser-{i}", Inbound(text=f"/tracuu {filed.receipt} {new_passphrase()}"))
    assert LOCKED in replies[0].text and "15 phút" in replies[0].text
    replies = owner.handle("owner-again", Inbound(text=f"/tracuu {filed.receipt} {filed.passphrase}"))
    assert LOCKED in replies[0].text, "locked for everyone, the right passphrase too"
    assert "Mới tiếp nhận" not in " ".join(r.text for r in replies)
    _age_lock(db, 16)
    replies = owner.handle("owner-again", Inbound(text=f"/tracuu {filed.receipt} {filed.passphrase}"))
    assert "Mới tiếp nhận" in " ".join(r.text for r in replies)
    assert db.exec(select(AttemptThrottle)).all() == [], "a right look-up clears the count"


def test_an_unknown_receipt_is_locked_exactly_like_a_real_one(db: Session) -> None:
    """Whether a receipt exists is not learned from the lock either: unknown codes are counted and locked alike."""
    unknown = new_receipt()
    conv = Conversation(channel="web")
    answers = [conv.handle(f"g{i}", Inbound(text=f"/tracuu {unknown} {new_passphrase()}"))[0].text for i in range(6)]
    assert all(LOCKED not in a for a in answers[:4]) and LOCKED in answers[4] and LOCKED in answers[5]


def test_the_lock_doubles_and_never_passes_a_day(db: Session) -> None:
    """15, 30, 60 minutes… at most a day; a day after the last lock ends, it starts from 15 again."""
    receipt = new_receipt()
    locks = []
    for _ in range(9):
        for _ in range(throttle.LOOKUP.max_failures):
            result = actions.look_up_case(db, receipt=receipt, passphrase=new_passphrase())
        db.commit()
        locks.append(result.locked_minutes)
        row = _lock_row(db)
        _age_lock(db, int((row.locked_until - utcnow()).total_seconds() // 60) + 1)  # type: ignore[operator]
    assert locks[:7] == [15, 30, 60, 120, 240, 480, 960] and locks[7:] == [1440, 1440]
    _age_lock(db, 24 * 60 + 1)
    for _ in range(throttle.LOOKUP.max_failures):
        result = actions.look_up_case(db, receipt=receipt, passphrase=new_passphrase())
    assert result.locked_minutes == 15


def test_stale_counts_are_forgotten(db: Session) -> None:
    """The daily purge removes counts whose lock and last failure are over a day old."""
    receipt = new_receipt()
    for _ in range(throttle.LOOKUP.max_failures):
        actions.look_up_case(db, receipt=receipt, passphrase=new_passphrase())
    db.commit()
    assert throttle.forget_stale(db) == 0
    _age_lock(db, 24 * 60 + 20)
    assert throttle.forget_stale(db) == 1
