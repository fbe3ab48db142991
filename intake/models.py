"""The data model: committees, cases, reporters kept apart and encrypted, threads, staff, audit, outbox.

Identity never sits beside a case in clear: reporter names and phone numbers live in
`reporter_identities`, chat handles in `chat_links`, both encrypted; receipts and passphrases are
stored only as hashes. Timestamps are timezone-aware UTC throughout.
"""

from __future__ import annotations

import enum
from datetime import UTC, date, datetime
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy import orm
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Stores aware datetimes as UTC and always hands back aware ones (SQLite keeps no zone)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use timezone-aware UTC")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _ts(*, nullable: bool = True) -> Any:
    return Field(default=None, sa_column=sa.Column(UTCDateTime(), nullable=nullable))


def _created() -> Any:
    return Field(default_factory=utcnow, sa_column=sa.Column(UTCDateTime(), nullable=False))


def _json(default: Any) -> Any:
    return Field(default_factory=default, sa_column=sa.Column(sa.JSON(), nullable=False))


class StrEnum(str, enum.Enum):
    def __str__(self) -> str:
        return self.value


class CommitteeLevel(StrEnum):
    CENTRAL = "central"
    PROVINCE = "province"
    COMMUNE = "commune"


class CaseStatus(StrEnum):
    """The Front's handling of a case, in the order work usually moves."""

    NEW = "new"  # mới tiếp nhận
    VERIFYING = "verifying"  # đang xác minh
    FORWARDED = "forwarded"  # đã chuyển cơ quan có thẩm quyền
    RESULT = "result"  # đã có kết quả
    ANSWERED = "answered"  # đã trả lời người phản ánh
    CLOSED = "closed"  # đóng
    OUT_OF_SCOPE = "out_of_scope"  # không thuộc phạm vi
    DUPLICATE = "duplicate"  # trùng lặp


# Statuses in which the Front still has work to do on a case; the others have ended it.
OPEN_STATUSES: frozenset[str] = frozenset(
    {CaseStatus.NEW.value, CaseStatus.VERIFYING.value, CaseStatus.FORWARDED.value, CaseStatus.RESULT.value, CaseStatus.ANSWERED.value}
)
# Statuses in which the committee's first handling is still owed (accept and forward, or out of scope).
FIRST_HANDLING_STATUSES: frozenset[str] = frozenset({CaseStatus.NEW.value, CaseStatus.VERIFYING.value})


def running_deadline(status: str, first_due_on: date | None, due_on: date | None) -> date | None:
    """The deadline a case is working against now: first handling, then the competent body's answer."""
    if status in FIRST_HANDLING_STATUSES:
        return first_due_on
    if status == CaseStatus.FORWARDED.value:
        return due_on
    return None


class Channel(StrEnum):
    WEB = "web"
    TELEGRAM = "telegram"
    ZALO = "zalo"
    TERMINAL = "terminal"
    IN_PERSON = "in_person"
    HOTLINE = "hotline"
    LETTER = "letter"
    EMAIL = "email"
    SUGGESTION_BOX = "suggestion_box"


class Anonymity(StrEnum):
    ANONYMOUS = "anonymous"  # ẩn danh: no identity kept at all
    CONFIDENTIAL = "confidential"  # bảo mật danh tính: encrypted, seen by the chair only
    OPEN = "open"  # công khai


class Setting(StrEnum):
    WORKPLACE = "workplace"
    RESIDENCE = "residence"


class StaffRole(StrEnum):
    VIEWER = "viewer"
    OFFICER = "officer"
    CHAIR = "chair"
    ADMIN = "admin"


class OutboxStatus(StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    HELD = "held"  # no chat to push to: the resident reads it at the next look-up
    DEAD = "dead"


class Committee(SQLModel, table=True):
    """A Front committee: the central one, a province's or a commune's; the tree is data."""

    __tablename__ = "committees"

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=16, unique=True, index=True)
    level: str = Field(max_length=16, index=True)
    parent_id: int | None = Field(default=None, foreign_key="committees.id", index=True)
    name_vi: str = Field(max_length=255)
    name_en: str = Field(max_length=255)
    unit_name: str = Field(max_length=255)  # the province or commune it serves
    active: bool = True
    # The chair's choice: the committee's officers and viewers sign in with a second factor too.
    require_totp: bool = Field(default=False, sa_column_kwargs={"server_default": sa.false()})
    # Working days from a report's arrival to the committee's first handling (accepted and forwarded,
    # or found outside the remit): the committee's own rule, set by its chair (migration 0009).
    first_handling_days: int = Field(default=10, sa_column_kwargs={"server_default": "10"})

    def name(self, lang: str) -> str:
        return self.name_en if lang == "en" else self.name_vi


class Case(SQLModel, table=True):
    """A report and its handling. Holds no identity of the reporter."""

    __tablename__ = "cases"
    __table_args__ = (
        sa.Index("ix_cases_committee_status_received", "committee_id", "status", "received_at"),
        sa.Index("ix_cases_committee_due", "committee_id", "due_on"),
    )

    id: int | None = Field(default=None, primary_key=True)
    receipt_hash: str = Field(max_length=64, unique=True, index=True)
    passphrase_hash: str = Field(max_length=255)
    status: str = Field(default=CaseStatus.NEW.value, max_length=24, index=True)
    channel: str = Field(max_length=24, index=True)
    anonymity: str = Field(max_length=16, index=True)
    language: str = Field(default="vi", max_length=8)
    committee_id: int = Field(foreign_key="committees.id", index=True)

    category: int | None = Field(default=None, index=True)  # confirmed by the resident or staff
    suggestion: dict[str, Any] = _json(dict)  # the classifier's scores and terms at intake

    description: str = Field(sa_column=sa.Column(sa.Text(), nullable=False))
    search_text: str = Field(default="", sa_column=sa.Column(sa.Text(), nullable=False, server_default=""))
    accused_name: str = Field(default="", max_length=255)
    accused_position: str = Field(default="", max_length=255)
    accused_agency: str = Field(default="", max_length=255)
    place_text: str = Field(default="", max_length=500)
    province_code: str | None = Field(default=None, max_length=8, index=True)
    commune_code: str | None = Field(default=None, max_length=8, index=True)
    setting: str = Field(default=Setting.WORKPLACE.value, max_length=16)
    occurred: str = Field(default="", max_length=255)

    routing_reasons: list[dict[str, Any]] = _json(list)
    # Committees the conflict rule has barred from this case at any time (ids): a correction of the place
    # or the role may add to them, never take one away (intake/conflict.py).
    conflict_barrier: list[int] = _json(list)
    needs_review: bool = False
    escalated: bool = False

    received_at: datetime = _created()
    created_at: datetime = _created()
    updated_at: datetime = _created()
    forwarded_on: date | None = None
    complex_case: bool = False
    due_on: date | None = None
    closed_at: datetime | None = _ts(nullable=True)
    assignee_id: int | None = Field(default=None, foreign_key="staff_users.id", index=True)
    merged_into_id: int | None = Field(default=None, foreign_key="cases.id", index=True)
    # Handling milestones (migration 0003): what the case page, deadlines and periodic reports read.
    accepted_at: datetime | None = _ts(nullable=True)  # thụ lý
    forwarded_to: str = Field(default="", max_length=32, sa_column_kwargs={"server_default": ""})  # kind of body
    forwarded_to_name: str = Field(default="", max_length=255, sa_column_kwargs={"server_default": ""})
    result_on: date | None = None  # the day the competent body's answer arrived
    result_text: str = Field(default="", sa_column=sa.Column(sa.Text(), nullable=False, server_default=""))
    handled_at: datetime | None = _ts(nullable=True)  # the Front's handling concluded (result, out of scope, closed)
    notified_at: datetime | None = _ts(nullable=True)  # the resident was told the result
    # Retention (migration 0005): when chat handles, evidence files and the reporter's phone were purged.
    purged_at: datetime | None = _ts(nullable=True)
    # The clock (migration 0009). first_due_on: the first handling's deadline, counted from the day the
    # holding committee received the case. is_open and next_due_on follow from the status and the two
    # deadlines (kept by sync_clock before every flush): the queue sorts and counts on them by index.
    first_due_on: date | None = None
    next_due_on: date | None = None
    is_open: bool = Field(default=True, sa_column_kwargs={"server_default": sa.true()})

    def sync_clock(self) -> None:
        """Derives is_open and the running deadline from the status and the deadlines."""
        is_open = self.status in OPEN_STATUSES
        next_due = running_deadline(self.status, self.first_due_on, self.due_on)
        if self.is_open != is_open:
            self.is_open = is_open
        if self.next_due_on != next_due:
            self.next_due_on = next_due


class ReporterIdentity(SQLModel, table=True):
    """Who reported, for confidential and open cases only; every field encrypted."""

    __tablename__ = "reporter_identities"

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="cases.id", unique=True, index=True)
    name_enc: bytes = Field(sa_column=sa.Column(sa.LargeBinary(), nullable=False))
    phone_enc: bytes = Field(sa_column=sa.Column(sa.LargeBinary(), nullable=False))
    created_at: datetime = _created()
    purged_at: datetime | None = _ts(nullable=True)


class ChatLink(SQLModel, table=True):
    """A chat handle the resident opted to receive updates on: encrypted, with a keyed hash to find it."""

    __tablename__ = "chat_links"

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="cases.id", index=True)
    channel: str = Field(max_length=24)
    handle_hash: str = Field(max_length=64, index=True)
    handle_enc: bytes | None = Field(default=None, sa_column=sa.Column(sa.LargeBinary(), nullable=True))
    created_at: datetime = _created()
    deleted_at: datetime | None = _ts(nullable=True)


class CaseMessage(SQLModel, table=True):
    """One message of a case's thread: from the resident, to the resident, or an internal note."""

    __tablename__ = "case_messages"

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="cases.id", index=True)
    direction: str = Field(max_length=16)  # resident | staff | note
    body: str = Field(sa_column=sa.Column(sa.Text(), nullable=False))
    author_id: int | None = Field(default=None, foreign_key="staff_users.id")
    created_at: datetime = _created()
    seen_by_resident_at: datetime | None = _ts(nullable=True)


class Attachment(SQLModel, table=True):
    """Evidence: the file lives encrypted in the attachment store, stripped of metadata."""

    __tablename__ = "attachments"

    id: int | None = Field(default=None, primary_key=True)
    case_id: int | None = Field(default=None, foreign_key="cases.id", index=True)
    dialog_id: int | None = Field(default=None, foreign_key="dialog_sessions.id", index=True)
    storage_key: str = Field(max_length=64, unique=True)
    kind: str = Field(max_length=16)  # photo | document | voice | video
    content_type: str = Field(max_length=100)
    size: int
    sha256_original: str = Field(max_length=64)
    metadata_removed: bool = False
    created_at: datetime = _created()
    purged_at: datetime | None = _ts(nullable=True)


class StaffUser(SQLModel, table=True):
    """A Front officer's account; it belongs to one committee."""

    __tablename__ = "staff_users"

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(max_length=64, unique=True, index=True)
    display_name: str = Field(default="", max_length=255)
    password_hash: str = Field(max_length=255)
    role: str = Field(max_length=16)
    committee_id: int = Field(foreign_key="committees.id", index=True)
    totp_secret_enc: bytes | None = Field(default=None, sa_column=sa.Column(sa.LargeBinary(), nullable=True))
    active: bool = True
    language: str = Field(default="vi", max_length=8)
    created_at: datetime = _created()
    last_login_at: datetime | None = _ts(nullable=True)
    totp_last_step: int | None = None  # the last TOTP time step accepted: a code is never accepted twice
    # E-mail notifications (migration 0009): where they go, and which the account wants.
    email: str = Field(default="", max_length=254, sa_column_kwargs={"server_default": ""})
    notify_new_cases: bool = Field(default=True, sa_column_kwargs={"server_default": sa.true()})
    notify_digest: bool = Field(default=True, sa_column_kwargs={"server_default": sa.true()})


class StaffSession(SQLModel, table=True):
    """A signed-in browser: only a hash of its token is kept."""

    __tablename__ = "staff_sessions"

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True, index=True)
    user_id: int = Field(foreign_key="staff_users.id", index=True)
    csrf_token: str = Field(max_length=64)
    created_at: datetime = _created()
    last_seen_at: datetime = _created()


class AuditEntry(SQLModel, table=True):
    """Append-only record of what was done, chained by hash so that an edit shows."""

    __tablename__ = "audit_log"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = _created()
    actor_kind: str = Field(max_length=16)  # staff | resident | system
    actor_id: int | None = Field(default=None, foreign_key="staff_users.id")
    action: str = Field(max_length=64, index=True)
    case_id: int | None = Field(default=None, foreign_key="cases.id", index=True)
    details: dict[str, Any] = _json(dict)
    prev_hash: str = Field(max_length=64)
    row_hash: str = Field(max_length=64)


class OutboxMessage(SQLModel, table=True):
    """A message owed to a resident, written with the action that caused it, sent by the worker."""

    __tablename__ = "outbox"
    __table_args__ = (sa.Index("ix_outbox_status_next", "status", "next_attempt_at"),)

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="cases.id", index=True)
    channel: str = Field(max_length=24)
    body: str = Field(sa_column=sa.Column(sa.Text(), nullable=False))
    status: str = Field(default=OutboxStatus.PENDING.value, max_length=16)
    delivery_key: str = Field(max_length=64, unique=True)
    attempts: int = 0
    next_attempt_at: datetime = _created()
    last_error: str = Field(default="", max_length=500)
    created_at: datetime = _created()
    sent_at: datetime | None = _ts(nullable=True)


class DialogSession(SQLModel, table=True):
    """Where a chat stands in the conversation; the draft is encrypted (it may hold a name or phone)."""

    __tablename__ = "dialog_sessions"
    __table_args__ = (sa.UniqueConstraint("channel", "chat_hash", name="uq_dialog_channel_chat"),)

    id: int | None = Field(default=None, primary_key=True)
    channel: str = Field(max_length=24)
    chat_hash: str = Field(max_length=64)
    state: dict[str, Any] = _json(dict)
    draft_enc: bytes = Field(sa_column=sa.Column(sa.LargeBinary(), nullable=False))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=sa.Column(UTCDateTime(), nullable=False, index=True))
    version: int = 0


class CategoryCorrection(SQLModel, table=True):
    """A category changed by staff: training material for the classifier."""

    __tablename__ = "category_corrections"

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="cases.id", index=True)
    old_category: int | None = None
    new_category: int
    actor_id: int | None = Field(default=None, foreign_key="staff_users.id")
    created_at: datetime = _created()


class ProcessedUpdate(SQLModel, table=True):
    """An inbound platform update already handled (Telegram update_id, Zalo event id): processed once."""

    __tablename__ = "processed_updates"
    __table_args__ = (sa.UniqueConstraint("channel", "update_key", name="uq_processed_update"),)

    id: int | None = Field(default=None, primary_key=True)
    channel: str = Field(max_length=24)
    update_key: str = Field(max_length=64)
    processed_at: datetime = Field(default_factory=utcnow, sa_column=sa.Column(UTCDateTime(), nullable=False, index=True))


class RateEvent(SQLModel, table=True):
    """One counted event (a message, a filed report) for per-chat limits; keyed by hash, never by chat id."""

    __tablename__ = "rate_events"
    __table_args__ = (sa.Index("ix_rate_events_key_kind_at", "key_hash", "kind", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    key_hash: str = Field(max_length=64)
    kind: str = Field(max_length=16)
    at: datetime = Field(default_factory=utcnow, sa_column=sa.Column(UTCDateTime(), nullable=False))


class ReplyTemplate(SQLModel, table=True):
    """A reply to residents for a status, in one language; a committee's own overrides the default (NULL)."""

    __tablename__ = "reply_templates"
    __table_args__ = (sa.UniqueConstraint("committee_id", "status", "language", name="uq_reply_template"),)

    id: int | None = Field(default=None, primary_key=True)
    committee_id: int | None = Field(default=None, foreign_key="committees.id", index=True)
    status: str = Field(max_length=24)
    language: str = Field(default="vi", max_length=8)
    body: str = Field(sa_column=sa.Column(sa.Text(), nullable=False))
    updated_at: datetime = _created()


class TransferState(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


class CaseTransfer(SQLModel, table=True):
    """A case passed to another committee (transfer) or one level up (escalation); the chair decides."""

    __tablename__ = "case_transfers"

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="cases.id", index=True)
    kind: str = Field(max_length=16)  # transfer | escalate
    from_committee_id: int = Field(foreign_key="committees.id")
    to_committee_id: int = Field(foreign_key="committees.id")
    reason: str = Field(sa_column=sa.Column(sa.Text(), nullable=False))
    state: str = Field(default=TransferState.PENDING.value, max_length=16)
    requested_by: int | None = Field(default=None, foreign_key="staff_users.id")
    requested_at: datetime = _created()
    decided_by: int | None = Field(default=None, foreign_key="staff_users.id")
    decided_at: datetime | None = _ts(nullable=True)


# The queue lists a committee's cases newest first with no status filter, and periodic reports scan a
# committee's cases by date of receipt: both read this index.
sa.Index("ix_cases_committee_received", Case.__table__.c.committee_id, Case.__table__.c.received_at)  # type: ignore[attr-defined]
sa.Index("ix_cases_committee_category_received", Case.__table__.c.committee_id, Case.__table__.c.category, Case.__table__.c.received_at)  # type: ignore[attr-defined]
# Deadline filters and the overdue count read forwarded cases by due date without touching the table.
sa.Index("ix_cases_committee_status_due", Case.__table__.c.committee_id, Case.__table__.c.status, Case.__table__.c.due_on)  # type: ignore[attr-defined]
def _case_index(name: str, *columns: str, **kwargs: Any) -> sa.Index:
    """An index on the cases table, its columns named."""
    table = cast(sa.Table, Case.__table__)  # type: ignore[attr-defined]
    return sa.Index(name, *(table.c[column] for column in columns), **kwargs)


# The default queue (open cases, running deadline first, then oldest) and the overdue counts read this one in order.
_case_index("ix_cases_committee_open_next_due", "committee_id", "is_open", "next_due_on", "received_at")
# A status's queue in its default order (by the running deadline, then the oldest).
_case_index("ix_cases_committee_status_next_due", "committee_id", "status", "next_due_on", "received_at")
# "Của tôi": one person's open cases, counted on every queue page. Partial: most cases are not assigned,
# and SQLite's planner, reading averages, would otherwise walk the committee's whole queue to count them.
_ASSIGNED = sa.column("assignee_id").is_not(None)
_case_index("ix_cases_assigned_open", "assignee_id", "committee_id", "is_open", sqlite_where=_ASSIGNED, postgresql_where=_ASSIGNED)

@sa.event.listens_for(orm.Session, "before_flush")
def _sync_case_clocks(session: orm.Session, _context: object, _instances: object) -> None:
    """Keeps every case's derived clock columns true to its status, whoever changed it."""
    for obj in (*session.new, *session.dirty):
        if isinstance(obj, Case):
            obj.sync_clock()


class NoticeKind(StrEnum):
    NEW_CASE = "new_case"  # a case arrived in the account's committee queue (filed or passed on to it)
    DIGEST = "digest"  # the morning list of cases due soon or overdue (mail only)
    RESIDENT_MESSAGE = "resident_msg"  # the reporter added information to a case (open or ended)


class MailState(StrEnum):
    PENDING = "pending"  # to be mailed
    SENDING = "sending"  # claimed by a sender: never sent twice, even from two servers
    SENT = "sent"
    SKIPPED = "skipped"  # no address, turned off, or no mail server configured
    FAILED = "failed"


class StaffNotice(SQLModel, table=True):
    """A notification for one staff account: counted unread in the admin, and mailed when the account wants it.

    Carries a case number and a deadline at most, never report content or identity. A digest's `key`
    is unique: two servers making the same morning digest write it once.
    """

    __tablename__ = "staff_notices"
    __table_args__ = (
        sa.Index("ix_staff_notices_user_unread", "user_id", "read_at"),
        sa.Index("ix_staff_notices_mail_state", "mail_state", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    key: str | None = Field(default=None, max_length=80, unique=True)  # a digest's "digest:<day>:<user>"
    user_id: int = Field(foreign_key="staff_users.id")
    kind: str = Field(max_length=16)
    case_id: int | None = Field(default=None, foreign_key="cases.id", index=True)
    due_on: date | None = None  # the case's deadline when the notice was made
    case_ids: list[int] = _json(list)  # a digest's cases
    created_at: datetime = _created()
    read_at: datetime | None = _ts(nullable=True)
    mail_state: str = Field(default=MailState.PENDING.value, max_length=16)
    mailed_at: datetime | None = _ts(nullable=True)


class ZaloToken(SQLModel, table=True):
    """The Zalo OA's OAuth tokens, both encrypted; the refresh token is replaced at every refresh."""

    __tablename__ = "zalo_tokens"

    id: int | None = Field(default=None, primary_key=True)
    oa_id: str = Field(max_length=64, unique=True)  # the OA id, or "app:<app id>" when no OA id is configured
    access_token_enc: bytes = Field(sa_column=sa.Column(sa.LargeBinary(), nullable=False))
    refresh_token_enc: bytes = Field(sa_column=sa.Column(sa.LargeBinary(), nullable=False))
    expires_at: datetime = Field(sa_column=sa.Column(UTCDateTime(), nullable=False))  # of the access token
    updated_at: datetime = _created()  # the last refresh


class InboundEvent(SQLModel, table=True):
    """A webhook event acknowledged and not yet processed (Zalo never sends it again), its body encrypted.

    Deleted in the transaction of the conversation step it causes; one left over after a crash is
    processed at the next start. The chat is a keyed hash (its own key), for a chat's events in order.
    """

    __tablename__ = "inbound_events"
    __table_args__ = (
        sa.UniqueConstraint("channel", "event_key", name="uq_inbound_event"),
        sa.Index("ix_inbound_events_chat", "chat_hash", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    channel: str = Field(max_length=24)
    event_key: str = Field(max_length=64)
    chat_hash: str = Field(max_length=64)
    body_enc: bytes = Field(sa_column=sa.Column(sa.LargeBinary(), nullable=False))
    received_at: datetime = Field(default_factory=utcnow, sa_column=sa.Column(UTCDateTime(), nullable=False, index=True))
    attempts: int = 0  # processings started after the first (a retry, or a recovery after a crash)
    last_error: str | None = Field(default=None, max_length=64)  # the exception's class name, never its message
    # The server processing the chat's events now, until when (several servers share one inbox).
    leased_by: str | None = Field(default=None, max_length=64)
    leased_until: datetime | None = _ts(nullable=True)


class EvidenceChunk(SQLModel, table=True):
    """A piece of an evidence file, encrypted: the evidence store is in the database, shared by every server.

    An attachment's file is its chunks in `seq` order, each sealed apart (Fernet) so that a large
    file is read and rotated a piece at a time. Purging a file deletes its chunks with the purge.
    """

    __tablename__ = "evidence_chunks"
    __table_args__ = (sa.UniqueConstraint("attachment_id", "seq", name="uq_evidence_chunk"),)

    id: int | None = Field(default=None, primary_key=True)
    attachment_id: int = Field(sa_column=sa.Column(sa.Integer(), sa.ForeignKey("attachments.id", ondelete="CASCADE"), nullable=False))
    seq: int
    data_enc: bytes = Field(sa_column=sa.Column(sa.LargeBinary(), nullable=False))


class JobRun(SQLModel, table=True):
    """When a scheduled job last started and finished, for every server: each runs once a period, in one server."""

    __tablename__ = "job_runs"

    name: str = Field(primary_key=True, max_length=32)
    started_at: datetime = Field(sa_column=sa.Column(UTCDateTime(), nullable=False))
    finished_at: datetime | None = _ts(nullable=True)


class AttemptThrottle(SQLModel, table=True):
    """Failed attempts at one target (a receipt, an account), by keyed hash, and its lock (intake/throttle.py)."""

    __tablename__ = "attempt_throttles"

    id: int | None = Field(default=None, primary_key=True)
    key_hash: str = Field(max_length=64, unique=True)
    scope: str = Field(max_length=16, index=True)
    failures: int = 0
    locks: int = 0  # locks in a row: each doubles the next
    locked_until: datetime | None = _ts(nullable=True)
    last_failure_at: datetime = _created()
