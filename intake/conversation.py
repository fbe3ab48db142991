"""Runs the engine for one chat: loads its state from the database, steps, carries out effects, saves.

Every message is one transaction, so any process can take a chat's next message and a crash
between two messages loses nothing. Filing a report and clearing the draft commit together; the
receipt stays in the encrypted draft until the channel calls `receipt_shown`, so a crash before
the reply reached the resident is mended by showing it with the next message.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, NamedTuple, TypeVar

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from intake import actions
from intake.config import get_settings
from intake.crypto import decrypt, encrypt
from intake.dates import format_date
from intake.db import session_scope
from intake.dialog.engine import fresh_state, step
from intake.dialog.tools import DEFAULT_TOOLS, Tools
from intake.metrics import STEP_SECONDS
from intake.dialog.types import (
    AddInfo,
    AttachmentInfo,
    DialogState,
    Draft,
    Failed,
    Inbound,
    InfoAdded,
    LookUp,
    LookupResult,
    Reply,
    ShowThread,
    StepName,
    Submitted,
    SubmitReport,
)
from intake.errors import PhananhError
from intake.i18n import N_, translator
from intake.models import Attachment, Case, DialogSession, UTCDateTime, utcnow
from intake.receipts import new_credentials

log = logging.getLogger(__name__)

_MAX_RETRIES = 5
_prepared = threading.local()  # a filing's receipt and hashed passphrase, made before its transaction writes
_T = TypeVar("_T")


_TABLE = DialogSession.__table__  # type: ignore[attr-defined]
_LOAD = sa.select(_TABLE.c.id, _TABLE.c.state, _TABLE.c.draft_enc, _TABLE.c.updated_at, _TABLE.c.version).where(
    _TABLE.c.channel == sa.bindparam("channel"), _TABLE.c.chat_hash == sa.bindparam("chat_hash")
)
_SAVE = (
    _TABLE.update()
    .where(_TABLE.c.id == sa.bindparam("row_id"), _TABLE.c.version == sa.bindparam("old_version"))
    .values(
        state=sa.bindparam("new_state", type_=sa.JSON()),
        draft_enc=sa.bindparam("new_draft"),
        updated_at=sa.bindparam("now", type_=UTCDateTime()),
        version=sa.bindparam("new_version"),
    )
)


class _Row(NamedTuple):
    id: int
    state: dict[str, Any]
    draft_enc: bytes
    updated_at: datetime
    version: int


class ConcurrentUpdate(Exception):
    """Another process saved this chat's dialog first; the message is stepped again."""


@dataclass
class Conversation:
    """The engine bound to the database for one channel."""

    channel: str
    tools: Tools = DEFAULT_TOOLS
    can_push: bool = False

    def handle(self, chat_id: str, message: Inbound, *, lang: str | None = None) -> list[Reply]:
        """Processes one inbound message for a chat and returns the replies to send."""
        _prepared.credentials = None
        try:
            with STEP_SECONDS.labels(self.channel).time():
                replies = self._transaction(lambda session: self._handle(session, chat_id, message, lang))
        finally:
            _prepared.credentials = None
        if message.attachments:
            self._delete_refused(chat_id, message.attachments)
        return replies

    def receipt_shown(self, chat_id: str, receipt: str) -> bool:
        """Forgets a filed report's receipt once the channel has shown it; False when nothing was pending.

        Channels call it after the reply carrying `Reply.receipt` was delivered. It never raises:
        if it cannot be saved, the resident is only shown the receipt once more.
        """
        try:
            return self._transaction(lambda session: self._forget_receipt(session, chat_id, receipt))
        except (sa.exc.SQLAlchemyError, PhananhError) as err:
            log.warning("receipt confirmation not saved (%s); it will be shown again", type(err).__name__)
            return False

    def _transaction(self, work: Callable[[Session], _T]) -> _T:
        """Runs `work` in one transaction, again from the start when another process got there first."""
        for attempt in range(_MAX_RETRIES):
            try:
                with session_scope() as session:
                    return work(session)
            except (ConcurrentUpdate, IntegrityError):
                continue
            except sa.exc.OperationalError as err:
                # SQLite refuses a writer whose read went stale, or one from another process that
                # waited past the busy timeout; the step was rolled back whole, so it can run again.
                if "locked" not in str(err.orig) or attempt == _MAX_RETRIES - 1:
                    raise
                time.sleep(random.uniform(0.02, 0.1) * (attempt + 1))
        raise PhananhError("dialog busy")

    def dialog_id(self, session: Session, chat_id: str) -> int:
        """The id of a chat's dialog row, created if needed (attachments are tied to it)."""
        return self._load(session, chat_id, None).id

    def _load(self, session: Session, chat_id: str, lang: str | None) -> _Row:
        """The chat's dialog row, created on first contact (prepared statements: this is the hot path)."""
        found = self._find(session, chat_id)
        if found is not None:
            return found
        chat_hash = actions.chat_handle_hash(self.channel, chat_id)
        state = fresh_state(lang or get_settings().default_language, can_push=self.can_push)
        now = utcnow()
        values = {
            "channel": self.channel,
            "chat_hash": chat_hash,
            "state": state.model_dump(mode="json"),
            "draft_enc": encrypt(Draft().model_dump_json()),
            "updated_at": now,
            "version": 0,
        }
        new_id = session.execute(_TABLE.insert().values(**values)).inserted_primary_key[0]  # type: ignore[index]
        return _Row(int(new_id), values["state"], values["draft_enc"], now, 0)  # type: ignore[arg-type]

    def _find(self, session: Session, chat_id: str) -> _Row | None:
        """The chat's dialog row, if it has one."""
        chat_hash = actions.chat_handle_hash(self.channel, chat_id)
        found = session.execute(_LOAD, {"channel": self.channel, "chat_hash": chat_hash}).first()
        return None if found is None else _Row(*found)

    def _forget_receipt(self, session: Session, chat_id: str, receipt: str) -> bool:
        row = self._find(session, chat_id)
        if row is None:
            return False
        draft = Draft.model_validate_json(decrypt(row.draft_enc))
        # Only the receipt that was shown: a late confirmation must not forget a newer one.
        if draft.pending_receipt is None or draft.pending_receipt.receipt != receipt:
            return False
        draft.pending_receipt = None
        self._write(session, row, row.state, draft)
        return True

    def _delete_refused(self, chat_id: str, sent: Sequence[AttachmentInfo]) -> None:
        """Deletes the files of a message that the conversation did not keep (over the cap, or not asked for).

        They were stored before the step; only ids in the draft are filed with a report, so these would
        otherwise wait for the dialog's expiry. A failure here leaves them to that expiry.
        """
        try:
            with session_scope() as session:
                row = self._find(session, chat_id)
                if row is None:
                    return
                kept = set(Draft.model_validate_json(decrypt(row.draft_enc)).attachments)
                ids = [a.id for a in sent if a.id not in kept]
                refused = session.exec(
                    select(Attachment).where(
                        Attachment.id.in_(ids),  # type: ignore[union-attr]
                        Attachment.dialog_id == row.id,
                        Attachment.case_id.is_(None),  # type: ignore[union-attr]
                    )
                ).all() if ids else []
                for att in refused:
                    session.delete(att)
        except sa.exc.SQLAlchemyError as err:
            log.warning("refused attachments not deleted (%s); the dialog's expiry will", type(err).__name__)
            return
        if refused:  # their files went with the rows (evidence_chunks cascade)
            log.info("deleted %s refused attachment(s)", len(refused))

    def _handle(self, session: Session, chat_id: str, message: Inbound, lang: str | None) -> list[Reply]:
        row = self._load(session, chat_id, lang)
        state = DialogState.model_validate(row.state)
        draft = Draft.model_validate_json(decrypt(row.draft_enc))
        prefix: list[Reply] = []
        ttl = timedelta(hours=get_settings().draft_ttl_hours)
        expired = row.updated_at < utcnow() - ttl
        if expired and draft.pending_receipt is not None:
            draft.pending_receipt = None  # it goes with the idle dialog, as the daily purge would take it
        if expired and (not draft.is_empty() or state.step != StepName.IDLE):
            prefix.append(
                Reply(
                    translator(state.lang)._(
                        N_("Your unfinished report was deleted after {hours} hours without activity, to protect your privacy."),
                        hours=get_settings().draft_ttl_hours,
                    )
                )
            )
            state = fresh_state(state.lang, can_push=self.can_push)
            state.greeted = True
            draft = Draft()
        state.can_push = self.can_push
        state.channel = self.channel
        if self._is_bare_lookup(message) and state.step == StepName.IDLE and draft.is_empty():
            # An opted-in chat already proved it holds its case: no receipt needed to see it.
            case_id = actions.linked_case_id(session, channel=self.channel, handle=chat_id)
            case = session.get(Case, case_id) if case_id is not None else None
            if case is not None:
                message = Inbound(event=actions.describe_case(session, case, language=state.lang))
        result = step(state, draft, message, self.tools)
        replies = prefix + result.replies
        if result.effect is not None:
            if isinstance(result.effect, SubmitReport) and getattr(_prepared, "credentials", None) is None:
                # Nothing is written yet: the slow passphrase hash runs before this transaction
                # takes SQLite's single write lock (a retry of the step keeps the same credentials).
                _prepared.credentials = new_credentials()
            event = self._carry_out(session, result.effect, result.draft, result.state, chat_id, row.id)
            result = step(result.state, result.draft, Inbound(event=event), self.tools)
            replies += result.replies
        self._save(session, row, result.state, result.draft)
        return replies

    @staticmethod
    def _is_bare_lookup(message: Inbound) -> bool:
        return message.button is None and message.event is None and message.text.strip().lower() in ("/tracuu", "/status")

    def _carry_out(
        self,
        session: Session,
        effect: SubmitReport | LookUp | AddInfo | ShowThread,
        draft: Draft,
        state: DialogState,
        chat_id: str,
        dialog_id: int | None,
    ) -> Submitted | LookupResult | InfoAdded | Failed:
        try:
            with session.begin_nested():
                if isinstance(effect, SubmitReport):
                    filed = actions.submit_report(
                        session,
                        draft=draft,
                        channel=self.channel,
                        chat_handle=chat_id if self.can_push else None,
                        dialog_id=dialog_id,
                        language=state.lang,
                        credentials=getattr(_prepared, "credentials", None),
                    )
                    return Submitted(
                        receipt=filed.receipt,
                        passphrase=filed.passphrase,
                        committee_name=filed.committee.name(state.lang),
                        received_on=format_date(filed.case.received_at),
                    )
                if isinstance(effect, AddInfo):
                    actions.add_resident_message(session, case_id=effect.case_id, text=effect.text)
                    return InfoAdded()
                if isinstance(effect, ShowThread):
                    case = session.get(Case, effect.case_id)
                    if case is None:
                        return LookupResult(found=False)
                    return actions.describe_case(session, case, language=state.lang, show_all=True)
                return actions.look_up_case(session, receipt=effect.receipt, passphrase=effect.passphrase, language=state.lang)
        except PhananhError as err:
            log.warning("effect %s failed: %s", type(effect).__name__, err.code)
            return Failed(reason=err.code)

    def _save(self, session: Session, row: _Row, state: DialogState, draft: Draft) -> None:
        self._write(session, row, state.model_dump(mode="json"), draft)

    @staticmethod
    def _write(session: Session, row: _Row, state: dict[str, Any], draft: Draft) -> None:
        """Saves the row if no one else has since it was read (its version), else ConcurrentUpdate."""
        result = session.execute(
            _SAVE,
            {
                "row_id": row.id,
                "old_version": row.version,
                "new_state": state,
                "new_draft": encrypt(draft.model_dump_json()),
                "now": utcnow(),
                "new_version": row.version + 1,
            },
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            session.rollback()
            raise ConcurrentUpdate()


def expire_dialogs(session: Session) -> int:
    """Deletes dialogs idle longer than the draft lifetime; returns how many."""
    cutoff = utcnow() - timedelta(hours=get_settings().draft_ttl_hours)
    rows = session.exec(select(DialogSession).where(DialogSession.updated_at < cutoff)).all()
    for row in rows:
        # Files sent for a report that was never filed go with the draft (their chunks with their rows).
        orphans = session.exec(select(Attachment).where(Attachment.dialog_id == row.id, Attachment.case_id.is_(None))).all()  # type: ignore[union-attr]
        for att in orphans:
            session.delete(att)
        session.delete(row)
    if rows:
        log.info("expired %s idle dialogs", len(rows))
    return len(rows)
