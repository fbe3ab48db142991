"""Staff hear of new and due cases without watching the screen: notices counted in the admin, and mailed.

A case that reaches a committee's queue (filed, or passed on to it) makes a notice for each account of
that committee that reads cases: counted unread in the admin until the account opens the case, and
mailed to accounts that gave an address and want it. Information a reporter adds to a case (open or
ended) makes a notice the same way, for the case's assignee, or the committee's readers when it has none. On working days, from the digest hour, each
account that wants it gets one mail listing its committee's cases due within 3 working days or overdue.
A mail carries case numbers, deadlines and links only: never report content, places or identities.

Two servers may run the mail job at once: a digest is written once (its key is unique, the insert
skips a key already there), and a mail is claimed (pending → sending) by one server before it is sent.
"""

from __future__ import annotations

import logging
from datetime import date, datetime
from email.message import EmailMessage

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, select

from intake.config import Settings, get_settings
from intake.dates import VIETNAM_TZ, format_date
from intake.deadlines import due_soon_limit, is_working_day
from intake.i18n import N_, Translator, translator
from intake.labels import STATUS_LABELS
from intake.mail import Mailer, message
from intake.models import OPEN_STATUSES, Case, CaseStatus, MailState, NoticeKind, StaffNotice, StaffUser, utcnow

log = logging.getLogger(__name__)

MAIL_BATCH = 50
DIGEST_MAX_CASES = 100  # a digest lists at most this many (the most urgent); the queue has them all
LISTED = 100


def _readers(session: Session, committee_id: int) -> list[StaffUser]:
    """The committee's active accounts that read its cases."""
    from intake.casework.policy import Perm, can  # the casework package imports intake.actions, which imports this

    users = session.exec(select(StaffUser).where(StaffUser.committee_id == committee_id, StaffUser.active.is_(True))).all()  # type: ignore[attr-defined]
    return [u for u in users if can(u, Perm.VIEW)]


def _mail_state(user: StaffUser, wanted: bool, settings: Settings) -> str:
    return MailState.PENDING.value if wanted and user.email and settings.mail_enabled else MailState.SKIPPED.value


def _tell(session: Session, users: list[StaffUser], case: Case, kind: NoticeKind) -> list[StaffNotice]:
    """One unread notice of a kind about the case for each account (mailed to those who want new-case mails)."""
    settings = get_settings()
    made = []
    for user in users:
        notice = StaffNotice(
            user_id=user.id,  # type: ignore[arg-type]
            kind=kind.value,
            case_id=case.id,
            due_on=case.next_due_on,
            mail_state=_mail_state(user, user.notify_new_cases, settings),
        )
        session.add(notice)
        made.append(notice)
    return made


def case_arrived(session: Session, case: Case) -> list[StaffNotice]:
    """Tells each account of the case's committee that a case is in its queue (unread; mailed if wanted)."""
    return _tell(session, _readers(session, case.committee_id), case, NoticeKind.NEW_CASE)


def resident_wrote(session: Session, case: Case) -> list[StaffNotice]:
    """Tells the case's assignee (or, with none active, its committee's readers) that the reporter added information.

    One unread notice per account and case: a reporter who writes five times before anyone looks makes
    one notice and one mail, not five.
    """
    from intake.casework.policy import Perm, can

    assignee = session.get(StaffUser, case.assignee_id) if case.assignee_id is not None else None
    if assignee is not None and assignee.active and assignee.committee_id == case.committee_id and can(assignee, Perm.VIEW):
        users = [assignee]
    else:
        users = _readers(session, case.committee_id)
    waiting = set(
        session.exec(
            select(StaffNotice.user_id).where(
                StaffNotice.case_id == case.id,
                StaffNotice.kind == NoticeKind.RESIDENT_MESSAGE.value,
                StaffNotice.read_at.is_(None),  # type: ignore[union-attr]
            )
        ).all()
    )
    return _tell(session, [u for u in users if u.id not in waiting], case, NoticeKind.RESIDENT_MESSAGE)


ADDED_INFORMATION = N_("The reporter added information to case #{id}.")
ADDED_TO_CLOSED = N_("The reporter added information to case #{id}, which is closed.")
ADDED_TO_ENDED = N_("The reporter added information to case #{id}, which has ended: {status}.")


def added_information(t: Translator, case_id: int, status: str) -> str:
    """The sentence that tells staff a reporter added information, saying so when the case has ended."""
    if status == CaseStatus.CLOSED.value:
        return t._(ADDED_TO_CLOSED, id=case_id)
    if status in STATUS_LABELS and status not in OPEN_STATUSES:
        return t._(ADDED_TO_ENDED, id=case_id, status=t._(STATUS_LABELS[status]))
    return t._(ADDED_INFORMATION, id=case_id)


def case_left(session: Session, case_id: int, committee_id: int) -> int:
    """A case passed on to another committee is no news for the one it left: its notices there are read."""
    left = select(StaffUser.id).where(StaffUser.committee_id == committee_id)
    result = session.execute(
        sa.update(StaffNotice)
        .where(StaffNotice.case_id == case_id, StaffNotice.read_at.is_(None), StaffNotice.user_id.in_(left))  # type: ignore[arg-type,union-attr,attr-defined]
        .values(read_at=utcnow())
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def unread_count(session: Session, user: StaffUser) -> int:
    """Notices the account has not read yet (new cases it has not opened)."""
    return int(
        session.exec(
            select(sa.func.count()).where(StaffNotice.user_id == user.id, StaffNotice.read_at.is_(None))  # type: ignore[union-attr]
        ).one()
    )


def mark_case_read(session: Session, user: StaffUser, case_id: int) -> int:
    """Opening a case reads the account's notices about it (a write only when there is one to read)."""
    unread = session.exec(
        select(StaffNotice.id).where(StaffNotice.user_id == user.id, StaffNotice.read_at.is_(None), StaffNotice.case_id == case_id)  # type: ignore[union-attr]
    ).first()
    if unread is None:
        return 0
    result = session.execute(
        sa.update(StaffNotice)
        .where(StaffNotice.user_id == user.id, StaffNotice.case_id == case_id, StaffNotice.read_at.is_(None))  # type: ignore[arg-type,union-attr]
        .values(read_at=utcnow())
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def mark_all_read(session: Session, user: StaffUser) -> int:
    result = session.execute(
        sa.update(StaffNotice).where(StaffNotice.user_id == user.id, StaffNotice.read_at.is_(None)).values(read_at=utcnow())  # type: ignore[arg-type,union-attr]
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


LISTED_KINDS = (NoticeKind.NEW_CASE.value, NoticeKind.RESIDENT_MESSAGE.value)


def recent(session: Session, user: StaffUser) -> list[StaffNotice]:
    """The account's latest notices about new cases and information reporters added, newest first."""
    return list(
        session.exec(
            select(StaffNotice)
            .join(Case, Case.id == StaffNotice.case_id)  # type: ignore[arg-type]
            # Only cases the committee still holds: one passed on since would open as "not found".
            .where(StaffNotice.user_id == user.id, StaffNotice.kind.in_(LISTED_KINDS), Case.committee_id == user.committee_id)  # type: ignore[attr-defined]
            .order_by(StaffNotice.id.desc())  # type: ignore[union-attr]
            .limit(LISTED)
        ).all()
    )


def case_statuses(session: Session, items: list[StaffNotice]) -> dict[int, str]:
    """The current status of each case the notices name (a case may have ended since, or have been ended already)."""
    ids = {n.case_id for n in items if n.case_id is not None}
    if not ids:
        return {}
    return {int(cid): str(status) for cid, status in session.exec(select(Case.id, Case.status).where(Case.id.in_(ids))).all()}  # type: ignore[union-attr]


def unread_case_ids(session: Session, user: StaffUser, kind: NoticeKind, case_ids: list[int]) -> frozenset[int]:
    """Which of these cases have a notice of this kind the account has not read (for a mark in the queue)."""
    if not case_ids:
        return frozenset()
    return frozenset(
        int(cid)
        for cid in session.exec(
            select(StaffNotice.case_id).where(
                StaffNotice.user_id == user.id,
                StaffNotice.kind == kind.value,
                StaffNotice.read_at.is_(None),  # type: ignore[union-attr]
                StaffNotice.case_id.in_(case_ids),  # type: ignore[union-attr]
            )
        ).all()
        if cid is not None
    )


def set_preferences(user: StaffUser, *, email: str, new_cases: bool, digest: bool) -> None:
    """The account's own address and which mails it wants."""
    from intake.errors import InvalidInputError

    email = email.strip()
    if email and (len(email) > 254 or email.count("@") != 1 or " " in email or "." not in email.split("@")[1]):
        raise InvalidInputError("email not valid")
    user.email, user.notify_new_cases, user.notify_digest = email, new_cases, digest


def local_now(now: datetime | None = None) -> datetime:
    return (now or utcnow()).astimezone(VIETNAM_TZ)


def make_digests(session: Session, today: date) -> int:
    """Writes today's digest for each account that wants one and whose committee has cases due soon or overdue."""
    if not is_working_day(today):
        return 0
    users = session.exec(
        select(StaffUser).where(StaffUser.active.is_(True), StaffUser.notify_digest.is_(True), StaffUser.email != "")  # type: ignore[attr-defined]
    ).all()
    from intake.casework.policy import Perm, can

    users = [u for u in users if can(u, Perm.VIEW)]
    soon = due_soon_limit(today)
    due: dict[int, list[int]] = {}
    for committee_id in {u.committee_id for u in users}:
        due[committee_id] = [
            int(cid)
            for cid in session.exec(
                select(Case.id)
                .where(Case.committee_id == committee_id, Case.is_open == sa.true(), Case.next_due_on <= soon)  # type: ignore[operator]
                .order_by(Case.next_due_on, Case.received_at)  # type: ignore[arg-type]
                .limit(DIGEST_MAX_CASES)
            ).all()
            if cid is not None
        ]
    rows = [
        {
            "key": f"digest:{today.isoformat()}:{u.id}",
            "user_id": u.id,
            "kind": NoticeKind.DIGEST.value,
            "case_ids": due[u.committee_id],
            "created_at": utcnow(),
            "read_at": utcnow(),  # mail only: not counted unread in the admin
            "mail_state": MailState.PENDING.value,
        }
        for u in users
        if due.get(u.committee_id)
    ]
    if not rows:
        return 0
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    table = StaffNotice.__table__  # type: ignore[attr-defined]
    # RETURNING lists the rows written (a key already there is skipped): a rowcount is not reliable for a batch.
    written = session.execute(insert(table).values(rows).on_conflict_do_nothing(index_elements=["key"]).returning(table.c.id)).all()
    return len(written)


def _link(base: str, case_id: int) -> str:
    return f"{base}/admin/cases/{case_id}"


def base_url(settings: Settings) -> str:
    return (settings.public_url or f"http://{settings.host}:{settings.port}").rstrip("/")


def compose(session: Session, notice: StaffNotice, user: StaffUser, settings: Settings) -> EmailMessage:
    """The mail for a notice, in the account's language: case numbers, deadlines and links only."""
    _ = translator(user.language)._
    base = base_url(settings)
    if notice.kind == NoticeKind.NEW_CASE.value:
        subject = _("New case #{id} in your queue", id=notice.case_id)
        body = _(
            "A new case is in your committee's queue: #{id}.\nDeadline: {due}.\nOpen it: {link}",
            id=notice.case_id,
            due=format_date(notice.due_on),
            link=_link(base, int(notice.case_id or 0)),
        )
    elif notice.kind == NoticeKind.RESIDENT_MESSAGE.value:
        # The case number, whether it has ended, and a link: never what the reporter wrote.
        case = session.get(Case, notice.case_id)
        subject = _("The reporter added information to case #{id}", id=notice.case_id)
        body = added_information(translator(user.language), int(notice.case_id or 0), case.status if case else "")
        body += "\n" + _("Open it: {link}", link=_link(base, int(notice.case_id or 0)))
    else:
        ids = list(notice.case_ids)
        dues = {c.id: c.next_due_on for c in session.exec(select(Case).where(Case.id.in_(ids))).all()}  # type: ignore[union-attr]
        lines = [
            _("#{id} · deadline {due} · {link}", id=cid, due=format_date(dues.get(cid)), link=_link(base, cid)) for cid in ids
        ]
        subject = _("{n} cases due soon or overdue", n=len(ids))
        body = _("Cases of your committee due within 3 working days or overdue:") + "\n\n" + "\n".join(lines)
    settings_link = base + "/admin/notifications"
    body += "\n\n" + _("You can turn these e-mails off under Notifications in the admin: {link}", link=settings_link)
    return message(sender=settings.mail_from, to=user.email, subject=subject, body=body)


def _claim(session: Session, limit: int) -> list[int]:
    """Marks up to `limit` waiting mails as being sent by this server; another server claims others."""
    ids = list(
        session.exec(
            select(StaffNotice.id).where(StaffNotice.mail_state == MailState.PENDING.value).order_by(StaffNotice.id).limit(limit)  # type: ignore[arg-type]
        ).all()
    )
    claimed = []
    for nid in ids:
        result = session.execute(
            sa.update(StaffNotice)
            .where(StaffNotice.id == nid, StaffNotice.mail_state == MailState.PENDING.value)  # type: ignore[arg-type]
            .values(mail_state=MailState.SENDING.value)
        )
        if result.rowcount == 1:  # type: ignore[attr-defined]
            claimed.append(int(nid))  # type: ignore[arg-type]
    session.commit()
    return claimed


def send_pending(session: Session, mailer: Mailer, settings: Settings | None = None, *, limit: int = MAIL_BATCH) -> int:
    """Mails what is waiting, at most once each (a server that dies mid-send leaves it unsent, not sent twice)."""
    settings = settings or get_settings()
    claimed = _claim(session, limit)
    if not claimed:
        return 0
    outgoing: list[tuple[StaffNotice, EmailMessage]] = []
    for notice in session.exec(select(StaffNotice).where(StaffNotice.id.in_(claimed)).order_by(StaffNotice.id)).all():  # type: ignore[union-attr,arg-type]
        user = session.get(StaffUser, notice.user_id)
        if user is None or not user.active or not user.email:
            notice.mail_state = MailState.SKIPPED.value
            continue
        outgoing.append((notice, compose(session, notice, user, settings)))
    sent = 0
    if outgoing:
        try:
            results = mailer.send([m for _, m in outgoing])
        except OSError as err:  # smtplib's and ssl's errors included: the server could not be used
            log.warning("mail: the server could not be used (%s); %s mails wait for the next try", type(err).__name__, len(outgoing))
            for notice, _mail in outgoing:
                notice.mail_state = MailState.PENDING.value
            session.commit()
            return 0
        now = utcnow()
        for (notice, _mail), ok in zip(outgoing, results, strict=True):
            # A mail the server refused (a bad address) is not tried again.
            notice.mail_state = MailState.SENT.value if ok else MailState.FAILED.value
            notice.mailed_at = now if ok else None
            sent += ok
    session.commit()
    log.info("mail: %s of %s sent", sent, len(claimed))
    return sent


def mail_job(session: Session, mailer: Mailer, settings: Settings | None = None, now: datetime | None = None) -> int:
    """What `serve` runs every few seconds: today's digests once it is time, then the waiting mails."""
    settings = settings or get_settings()
    if not settings.mail_enabled:
        return 0
    moment = local_now(now)
    if moment.hour >= settings.digest_hour:
        made = make_digests(session, moment.date())
        session.commit()
        if made:
            log.info("mail: %s morning digests written", made)
    return send_pending(session, mailer, settings)

