"""What the resident is told: reply templates per status, and the thread + outbox rows that carry them.

Templates are data (editable per committee, one text per language); the defaults below are what a
committee starts with. Placeholders in braces are filled with the case's dates and committee;
an unknown placeholder is left as it is, so that a typo in an edited template never breaks a reply.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from sqlmodel import Session, select

from intake.dates import format_date
from intake.deadlines import local_today
from intake.models import Case, CaseMessage, ChatLink, Committee, OutboxMessage, ReplyTemplate, StaffUser, utcnow

# The situations a template is written for: case statuses, and events that are not a status.
TEMPLATE_KINDS: tuple[str, ...] = (
    "verifying",
    "forwarded",
    "answered",
    "closed",
    "out_of_scope",
    "duplicate",
    "transferred",
    "info_request",
    "reopened",
)
PLACEHOLDERS: tuple[str, ...] = (
    "committee",
    "received_on",
    "today",
    "forwarded_on",
    "body",
    "due_on",
    "result",
    "reason",
    "question",
)

DEFAULT_TEMPLATES: dict[str, dict[str, str]] = {
    "vi": {
        "verifying": (
            "{committee} đã tiếp nhận và thụ lý phản ánh của Anh/Chị (nhận ngày {received_on}). "
            "Chúng tôi đang xác minh nội dung và sẽ thông báo cho Anh/Chị kết quả xử lý."
        ),
        "forwarded": (
            "Ngày {forwarded_on}, {committee} đã chuyển phản ánh của Anh/Chị đến {body} để xem xét, giải quyết "
            "theo thẩm quyền. Theo quy định, cơ quan có thẩm quyền trả lời chậm nhất ngày {due_on}."
        ),
        "answered": (
            "{committee} xin thông báo kết quả giải quyết phản ánh của Anh/Chị (nhận ngày {received_on}): "
            "{result}\nCảm ơn Anh/Chị đã tin tưởng phản ánh đến Mặt trận."
        ),
        "closed": (
            "{committee} đã kết thúc việc xử lý phản ánh của Anh/Chị (nhận ngày {received_on}). "
            "Cảm ơn Anh/Chị đã đồng hành cùng Mặt trận trong công tác giám sát."
        ),
        "out_of_scope": (
            "{committee} đã xem xét phản ánh của Anh/Chị (nhận ngày {received_on}). Nội dung này không thuộc "
            "phạm vi giám sát của Mặt trận. Lý do: {reason}"
        ),
        "duplicate": (
            "Phản ánh của Anh/Chị (nhận ngày {received_on}) trùng nội dung với một phản ánh khác mà {committee} "
            "đang xử lý, nên được gộp để xử lý chung. Anh/Chị vẫn nhận được thông báo về kết quả."
        ),
        "transferred": (
            "Phản ánh của Anh/Chị (nhận ngày {received_on}) đã được chuyển đến {committee} để xem xét theo "
            "thẩm quyền. Từ nay {committee} sẽ thông báo cho Anh/Chị kết quả xử lý."
        ),
        "info_request": (
            "{committee} đề nghị Anh/Chị bổ sung thông tin cho phản ánh nhận ngày {received_on}: {question}"
        ),
        "reopened": (
            "{committee} đã mở lại phản ánh của Anh/Chị (nhận ngày {received_on}) để tiếp tục xem xét. "
            "Chúng tôi sẽ thông báo cho Anh/Chị kết quả."
        ),
    },
    "en": {
        "verifying": (
            "{committee} has received and accepted your report (received on {received_on}). We are verifying "
            "it and will tell you the result."
        ),
        "forwarded": (
            "On {forwarded_on}, {committee} forwarded your report to {body} for a decision within its powers. "
            "By law, the competent body must answer by {due_on}."
        ),
        "answered": (
            "{committee} informs you of the result of your report (received on {received_on}): {result}\n"
            "Thank you for reporting to the Front."
        ),
        "closed": (
            "{committee} has finished handling your report (received on {received_on}). Thank you for helping "
            "the Front's supervision."
        ),
        "out_of_scope": (
            "{committee} has examined your report (received on {received_on}). It is outside the Front's "
            "supervision. Reason: {reason}"
        ),
        "duplicate": (
            "Your report (received on {received_on}) concerns the same matter as another report {committee} is "
            "handling, so the two are handled together. You will still be told the result."
        ),
        "transferred": (
            "Your report (received on {received_on}) has been passed to {committee}, which is competent to handle "
            "it. {committee} will tell you the result."
        ),
        "info_request": "{committee} asks you to add information to your report received on {received_on}: {question}",
        "reopened": (
            "{committee} has reopened your report (received on {received_on}) to look into it further. "
            "We will tell you the result."
        ),
    },
}

_PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")
MAX_TEMPLATE_CHARS = 2000


def fill(template: str, values: Mapping[str, str]) -> str:
    """Fills {placeholders} with values; unknown ones stay as written."""
    return _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), template)




def case_values(case: Case, committee: Committee, lang: str, **extra: str) -> dict[str, str]:
    """The values a template may use, from the case and its current committee."""
    values = {
        "committee": committee.name(lang),
        "received_on": format_date(case.received_at),
        "today": format_date(local_today()),
        "forwarded_on": format_date(case.forwarded_on),
        "body": case.forwarded_to_name or "—",
        "due_on": format_date(case.due_on),
        "result": case.result_text or "—",
    }
    values.update(extra)
    return values


def template_text(session: Session, committee_id: int | None, kind: str, lang: str) -> str:
    """The committee's own template for a kind and language, else the default."""
    lang = lang if lang in DEFAULT_TEMPLATES else "vi"
    if committee_id is not None:
        own = session.exec(
            select(ReplyTemplate.body).where(
                ReplyTemplate.committee_id == committee_id, ReplyTemplate.status == kind, ReplyTemplate.language == lang
            )
        ).first()
        if own:
            return own
    return DEFAULT_TEMPLATES[lang][kind]


def render(session: Session, case: Case, committee: Committee, kind: str, lang: str | None = None, **extra: str) -> str:
    """A template filled for a case, in the case's language unless told otherwise."""
    lang = lang or case.language
    return fill(template_text(session, committee.id, kind, lang), case_values(case, committee, lang, **extra))


def reply_kind(status: str) -> str | None:
    """The template to start a free reply from, for a case in a status: only one not already sent.

    Accepting and forwarding queue their own message to the resident, so a reply box filled with the same
    words would send it twice; only the result, which no action tells by itself, is offered as a draft.
    """
    return "answered" if status == "result" else None


def reply_draft(session: Session, case: Case, committee: Committee, thread: list[CaseMessage], lang: str) -> str:
    """The reply box's starting text: the status's template, unless the thread already holds those words."""
    kind = reply_kind(case.status)
    if kind is None:
        return ""
    draft = render(session, case, committee, kind, lang=lang)
    return "" if any(m.direction == "staff" and m.body.strip() == draft.strip() for m in thread) else draft


def resident_channel(session: Session, case: Case) -> str:
    """The chat the resident linked for updates, else the channel the report came through."""
    link = session.exec(
        select(ChatLink.channel)
        .where(ChatLink.case_id == case.id, ChatLink.deleted_at.is_(None))  # type: ignore[union-attr]
        .order_by(ChatLink.id.desc())  # type: ignore[union-attr]
    ).first()
    return link or case.channel


def merged_cases(session: Session, case: Case) -> list[Case]:
    """The duplicates merged into a case: their residents get its updates too."""
    return list(session.exec(select(Case).where(Case.merged_into_id == case.id).order_by(Case.id)).all())  # type: ignore[arg-type]


def tell_resident(session: Session, case: Case, body: str, *, actor: StaffUser) -> CaseMessage:
    """Writes a message to the resident: a thread row (seen at look-up) and an outbox row (pushed)."""
    message = CaseMessage(case_id=case.id, direction="staff", body=body, author_id=actor.id)  # type: ignore[arg-type]
    session.add(message)
    session.flush()
    # One key per thread message: the delivery worker never shows the resident the same message twice.
    key = f"case-message:{message.id}"
    session.add(
        OutboxMessage(
            case_id=case.id,  # type: ignore[arg-type]
            channel=resident_channel(session, case),
            body=body,
            delivery_key=key,
            next_attempt_at=utcnow(),
        )
    )
    return message


def notify(
    session: Session,
    case: Case,
    committee: Committee,
    *,
    actor: StaffUser,
    kind: str | None = None,
    text: str | None = None,
    **extra: str,
) -> list[CaseMessage]:
    """Tells the resident of a case, and of every duplicate merged into it, a template or a free text."""
    sent: list[CaseMessage] = []
    for target in [case, *merged_cases(session, case)]:
        if text is not None:
            body = text
        elif kind is None:
            raise ValueError("notify needs a template kind or a text")
        else:
            # Each resident's own date of receipt, in their own language; the rest is the handled case's.
            values = case_values(case, committee, target.language, **extra)
            values["received_on"] = case_values(target, committee, target.language)["received_on"]
            body = fill(template_text(session, committee.id, kind, target.language), values)
        sent.append(tell_resident(session, target, body, actor=actor))
    return sent
