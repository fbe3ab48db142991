"""The case page leads the work: the next step first, the rest folded away, a question before ending anything."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from sqlmodel import Session, select

from intake import casework
from intake.deadlines import answer_due, local_today
from intake.models import AuditEntry, Case, CaseMessage, OutboxMessage, StaffRole
from tests.admin.conftest import BEN_THANH, csrf_for, file_case, make_staff, quick_case, signed_in


def _section(html: str, section_id: str) -> str:
    """The HTML of one section or details element, by id (up to the next one of the same kind)."""
    found = re.search(rf'<(section|details)[^>]*id="{section_id}".*?</\1>', html, re.S)
    return found.group(0) if found else ""


NEXT = {
    "new": ["/accept", "/out-of-scope"],
    "verifying": ["/forward", "/out-of-scope"],
    "forwarded": ["/result"],
    "result": ["/reply"],
    "answered": ["/close"],
}


@pytest.mark.parametrize("status", sorted(NEXT))
def test_the_next_step_comes_first_and_the_rest_under_other_actions(db: Session, status: str) -> None:
    """Each status leads with its next step; the other actions are under "Thao tác khác", none twice."""
    today = local_today()
    case = quick_case(db, BEN_THANH, status=status, forwarded_on=today if status != "new" and status != "verifying" else None,
                      due_on=answer_due(today) if status not in ("new", "verifying") else None)
    html = signed_in(make_staff(db, "cb", BEN_THANH)).get(f"/admin/cases/{case.id}").text
    step, more = _section(html, "next-step"), _section(html, "more")
    actions = re.findall(rf'action="/admin/cases/{case.id}(/[a-z-]+)"', step)
    assert actions == NEXT[status], actions
    assert "Thao tác khác" in more
    assert not set(actions) & set(re.findall(rf'action="/admin/cases/{case.id}(/[a-z-]+)"', more))


def test_an_ended_case_offers_the_chair_a_reopening_and_the_officer_nothing(db: Session) -> None:
    """Closed: the chair's next step is to reopen it (with a reason); an officer has no next step."""
    case = quick_case(db, BEN_THANH, status="closed")
    chair = signed_in(make_staff(db, "ct", BEN_THANH, StaffRole.CHAIR))
    assert f'action="/admin/cases/{case.id}/reopen"' in _section(chair.get(f"/admin/cases/{case.id}").text, "next-step")
    assert 'id="next-step"' not in signed_in(make_staff(db, "cb", BEN_THANH)).get(f"/admin/cases/{case.id}").text


@pytest.mark.parametrize(("path", "form", "status"), [
    ("close", {}, "answered"),
    ("out-of-scope", {"reason": "Tranh chấp đất đai giữa hai hộ dân"}, "new"),
    ("merge", {"primary": "PRIMARY"}, "new"),
])
def test_ending_a_case_asks_first(db: Session, path: str, form: dict[str, str], status: str) -> None:
    """Close, out of scope and merge show a confirmation page first; only the confirmed request acts."""
    case = quick_case(db, BEN_THANH, status=status)
    primary = quick_case(db, BEN_THANH)
    data = {k: (str(primary.id) if v == "PRIMARY" else v) for k, v in form.items()}
    client = signed_in(make_staff(db, "cb", BEN_THANH))
    r = client.post(f"/admin/cases/{case.id}/{path}", data={"csrf": csrf_for(client), **data})
    assert r.status_code == 200 and 'id="confirm-yes"' in r.text and 'name="confirm" value="1"' in r.text
    for value in data.values():
        assert f'value="{value}"' in r.text  # what was typed goes along with the confirmation
    db.expire_all()
    assert db.get(Case, case.id).status == status  # type: ignore[union-attr]
    assert db.exec(select(AuditEntry).where(AuditEntry.case_id == case.id)).first() is None
    r = client.post(f"/admin/cases/{case.id}/{path}", data={"csrf": csrf_for(client), "confirm": "1", **data}, follow_redirects=False)
    assert r.status_code == 303
    db.expire_all()
    assert db.get(Case, case.id).status in ("closed", "out_of_scope", "duplicate")  # type: ignore[union-attr]


def test_the_chair_reopens_a_closed_case_audited_and_the_reporter_told(db: Session) -> None:
    """Reopened where its handling had reached (answered), the reason kept as a note, audited, the resident told; officers may not."""
    filed = file_case(db)
    officer = make_staff(db, "cb", BEN_THANH)
    o = officer.user
    case = filed.case
    casework.accept_case(db, case=case, actor=o)
    casework.record_forwarding(db, case=case, actor=o, body_kind="police", body_name="Công an phường", forwarded_on=local_today())
    casework.record_result(db, case=case, actor=o, result_on=local_today(), text="Đã kỷ luật")
    casework.reply_to_resident(db, case=case, actor=o, text="Kết quả: đã kỷ luật.", tells_result=True)
    casework.close_case(db, case=case, actor=o)
    db.commit()
    client = signed_in(officer)
    assert client.post(f"/admin/cases/{case.id}/reopen", data={"csrf": csrf_for(client), "reason": "x"}, follow_redirects=False).status_code == 404
    chair = signed_in(make_staff(db, "ct", BEN_THANH, StaffRole.CHAIR))
    r = chair.post(f"/admin/cases/{case.id}/reopen", data={"csrf": csrf_for(chair), "reason": "Người dân gửi thêm chứng cứ mới"},
                   follow_redirects=False)
    assert r.status_code == 303
    db.expire_all()
    case = db.get(Case, case.id)  # type: ignore[assignment]
    assert case is not None and (case.status, case.is_open, case.closed_at) == ("answered", True, None)
    (entry,) = db.exec(select(AuditEntry).where(AuditEntry.case_id == case.id, AuditEntry.action == "case.reopened")).all()
    assert entry.details["from"] == "closed" and entry.details["to"] == "answered"
    note = db.get(CaseMessage, entry.details["note"])
    assert note is not None and note.direction == "note" and note.body == "Người dân gửi thêm chứng cứ mới"
    told = db.exec(select(OutboxMessage).where(OutboxMessage.case_id == case.id).order_by(OutboxMessage.id.desc())).first()  # type: ignore[union-attr]
    assert told is not None and "đã mở lại phản ánh" in told.body and "chứng cứ" not in told.body
    page = chair.get(f"/admin/cases/{case.id}").text
    assert "Thường trực mở lại vụ việc" in page


def test_a_case_found_out_of_scope_reopens_to_where_it_was(db: Session) -> None:
    """Out of scope before anything else: reopened as new, with a fresh first-handling deadline."""
    case = quick_case(db, BEN_THANH, status="out_of_scope")
    chair = make_staff(db, "ct", BEN_THANH, StaffRole.CHAIR).user
    casework.reopen_case(db, case=case, actor=chair, reason="Xác định lại thuộc phạm vi")
    db.commit()
    assert case.status == "new" and case.first_due_on is not None and case.next_due_on == case.first_due_on


def test_the_reply_box_never_repeats_a_message_already_queued(db: Session) -> None:
    """After forwarding (its message queued) the box is empty; after the result it holds the result; once told, empty again."""
    filed = file_case(db)
    client = signed_in(make_staff(db, "cb", BEN_THANH))
    csrf = csrf_for(client)
    client.post(f"/admin/cases/{filed.case.id}/accept", data={"csrf": csrf})
    client.post(f"/admin/cases/{filed.case.id}/forward", data={"csrf": csrf, "body_kind": "police", "body_name": "Công an phường Bến Thành",
                                                               "forwarded_on": local_today().isoformat()})
    box = re.compile(r'<textarea name="text" id="reply-text"[^>]*>(.*?)</textarea>', re.S)
    page = client.get(f"/admin/cases/{filed.case.id}").text
    queued = db.exec(select(OutboxMessage).where(OutboxMessage.case_id == filed.case.id)).all()
    assert any("Công an phường Bến Thành" in m.body for m in queued)
    found = box.search(page)
    assert found is not None and found.group(1).strip() == ""
    client.post(f"/admin/cases/{filed.case.id}/result", data={"csrf": csrf, "result_on": local_today().isoformat(), "text": "Đã kỷ luật khiển trách"})
    found = box.search(client.get(f"/admin/cases/{filed.case.id}").text)
    assert found is not None and "Đã kỷ luật khiển trách" in found.group(1)
    client.post(f"/admin/cases/{filed.case.id}/reply", data={"csrf": csrf, "text": found.group(1), "tells_result": "1"})
    found = box.search(client.get(f"/admin/cases/{filed.case.id}").text)
    assert found is not None and found.group(1).strip() == ""


class _Fields(HTMLParser):
    """Every form control of a page, and the labels that name them."""

    def __init__(self) -> None:
        super().__init__()
        self.controls: list[dict[str, str | None]] = []
        self.label_for: set[str] = set()
        self.open_labels = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "label":
            self.open_labels += 1
            if a.get("for"):
                self.label_for.add(str(a["for"]))
        elif tag in ("input", "select", "textarea") and a.get("type") not in ("hidden", "submit", "button"):
            self.controls.append({**a, "_wrapped": "yes" if self.open_labels else None})

    def handle_endtag(self, tag: str) -> None:
        if tag == "label":
            self.open_labels -= 1


@pytest.mark.parametrize("status", ["new", "verifying", "forwarded", "result", "answered", "closed"])
def test_every_field_on_the_case_page_has_a_label(db: Session, status: str) -> None:
    """No text box, list or box to tick without a name a screen reader can say (three had none)."""
    today = local_today()
    case = quick_case(db, BEN_THANH, status=status, anonymity="confidential", forwarded_on=today, due_on=answer_due(today))
    html = signed_in(make_staff(db, "ct", BEN_THANH, StaffRole.CHAIR)).get(f"/admin/cases/{case.id}").text
    parser = _Fields()
    parser.feed(html)
    assert parser.controls
    unnamed = [c for c in parser.controls if not (c["_wrapped"] or c.get("aria-label") or (c.get("id") in parser.label_for))]
    assert unnamed == []


def test_dates_and_file_kinds_are_written_for_people(db: Session) -> None:
    """The timeline's deadline reads dd/mm/yyyy (it read 2027-01-06), an evidence file's kind is in Vietnamese."""
    from intake.attachments import store_attachment

    filed = file_case(db)
    officer = make_staff(db, "cb", BEN_THANH)
    casework.record_forwarding(db, case=filed.case, actor=officer.user, body_kind="police", body_name="Công an", forwarded_on=local_today())
    store_attachment(db, data=b"bien ban", content_type="text/plain", kind="photo", case_id=filed.case.id)
    db.commit()
    page = signed_in(officer).get(f"/admin/cases/{filed.case.id}").text
    due = answer_due(local_today())
    assert f"hạn {due.strftime('%d/%m/%Y')}" in page and due.isoformat() not in _section(page, "timeline")
    assert "· ảnh ·" in page and "· photo ·" not in page


def _text(html: str) -> str:
    """What a reader sees of some HTML: tags removed, spaces collapsed."""
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def test_the_timeline_names_each_step_and_the_body_the_case_went_to(db: Session) -> None:
    """Every entry has a translated label; a forwarding reads «…: UBND phường Bến Thành (Ủy ban nhân dân), hạn … · Nguyễn Thị Lan»."""
    from intake.actions import add_resident_message

    officer = make_staff(db, "lan", BEN_THANH)
    officer.user.display_name = "Nguyễn Thị Lan"
    case = quick_case(db, BEN_THANH, status="verifying")
    due = casework.record_forwarding(
        db, case=case, actor=officer.user, body_kind="peoples_committee", body_name="UBND phường Bến Thành", forwarded_on=local_today()
    )
    add_resident_message(db, case_id=int(case.id), text="Tôi gửi thêm biên lai")  # type: ignore[arg-type]
    db.commit()
    timeline = _text(_section(signed_in(officer).get(f"/admin/cases/{case.id}").text, "timeline"))
    assert f"UBND phường Bến Thành (Ủy ban nhân dân), hạn {due.strftime('%d/%m/%Y')} · Nguyễn Thị Lan" in timeline, timeline
    assert "Người phản ánh đã bổ sung thông tin" in timeline
    assert "case." not in timeline and " :" not in timeline


def test_a_message_the_reporter_looked_up_shows_when_it_was_seen(db: Session) -> None:
    """A reply kept for the look-up waits «Chờ người phản ánh tra cứu»; once looked up it reads «Người phản ánh đã xem ngày …» (Vietnam time)."""
    from intake.actions import describe_case
    from intake.dates import format_datetime

    officer = make_staff(db, "cb", BEN_THANH)
    filed = file_case(db)
    casework.accept_case(db, case=filed.case, actor=officer.user)
    for row in db.exec(select(OutboxMessage).where(OutboxMessage.case_id == filed.case.id)).all():
        row.status = "held"  # as the worker leaves it: an anonymous web report has no chat to push to
    db.commit()
    client = signed_in(officer)
    thread = _section(client.get(f"/admin/cases/{filed.case.id}").text, "thread")
    assert "Chờ người phản ánh tra cứu" in thread and "đã xem" not in thread
    describe_case(db, filed.case, language="vi")
    db.commit()
    (reply,) = db.exec(select(CaseMessage).where(CaseMessage.case_id == filed.case.id, CaseMessage.direction == "staff")).all()
    assert reply.seen_by_resident_at is not None
    thread = _text(_section(client.get(f"/admin/cases/{filed.case.id}").text, "thread"))
    assert f"Người phản ánh đã xem ngày {format_datetime(reply.seen_by_resident_at)}" in thread
    assert "Chờ người phản ánh tra cứu" not in thread


@pytest.mark.parametrize(("path", "form", "status", "field"), [
    ("out-of-scope", {"reason": "Tranh chấp đất đai giữa hai hộ dân, thuộc thẩm quyền Tòa án"}, "new", "oos-reason"),
    ("merge", {"primary": "PRIMARY"}, "new", "merge-primary"),
    ("close", {}, "answered", ""),
])
def test_going_back_from_a_confirmation_keeps_what_was_typed(db: Session, path: str, form: dict[str, str], status: str, field: str) -> None:
    """«Không, quay lại» returns to the case page with the reason (or case no.) still in its box, and changes nothing."""
    case = quick_case(db, BEN_THANH, status=status)
    primary = quick_case(db, BEN_THANH)
    data = {k: (str(primary.id) if v == "PRIMARY" else v) for k, v in form.items()}
    client = signed_in(make_staff(db, "cb", BEN_THANH))
    confirm = client.post(f"/admin/cases/{case.id}/{path}", data={"csrf": csrf_for(client), **data}).text
    # What the browser sends for the back button: the confirmation form's hidden fields, and the button's own.
    sent = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', confirm))
    back = re.search(r'<button type="submit" name="(back)" value="(1)" id="confirm-no"', confirm)
    assert back is not None
    r = client.post(f"/admin/cases/{case.id}/{path}", data={**sent, back.group(1): back.group(2)})
    assert r.status_code == 200 and 'id="confirm-yes"' not in r.text and 'id="case-status"' in r.text
    for value in data.values():
        box = re.search(rf'<textarea[^>]*id="{field}"[^>]*>([^<]*)</textarea>|<input[^>]*id="{field}"[^>]*value="([^"]*)"', r.text)
        assert box is not None and value == (box.group(1) or box.group(2)), box
    db.expire_all()
    assert db.get(Case, case.id).status == status  # type: ignore[union-attr]


def _notice(html: str) -> str:
    found = re.search(r'<p class="notice" id="notice" role="status">([^<]*)</p>', html)
    return found.group(1) if found else ""


def test_each_action_confirms_what_was_done(db: Session) -> None:
    """After each step the page names it («Đã thụ lý vụ việc.», «Đã ghi kết quả.» …), never a bare «Đã thực hiện.»."""
    filed = file_case(db)
    cid = filed.case.id
    client = signed_in(make_staff(db, "cb", BEN_THANH))
    chair = signed_in(make_staff(db, "ct", BEN_THANH, StaffRole.CHAIR))
    today = local_today().isoformat()
    steps = [
        (client, "accept", {}, "Đã thụ lý vụ việc."),
        (client, "note", {"text": "Đã gọi điện xác minh"}, "Đã thêm ghi chú nội bộ."),
        (client, "ask-info", {"question": "Anh/Chị có biên lai không?"}, "Đã gửi câu hỏi cho người phản ánh."),
        (client, "reclassify", {"category": "3"}, "Đã đổi loại vụ việc."),
        (client, "forward", {"body_kind": "police", "body_name": "Công an phường Bến Thành", "forwarded_on": today},
         "Đã chuyển cơ quan có thẩm quyền."),
        (client, "result", {"result_on": today, "text": "Đã kỷ luật khiển trách"}, "Đã ghi kết quả."),
        (client, "reply", {"text": "Kết quả: đã kỷ luật khiển trách", "tells_result": "1"}, "Đã gửi trả lời."),
        (client, "close", {"confirm": "1"}, "Đã đóng vụ việc."),
        (chair, "reopen", {"reason": "Người phản ánh gửi thêm chứng cứ"}, "Đã mở lại vụ việc."),
    ]
    for who, path, data, said in steps:
        r = who.post(f"/admin/cases/{cid}/{path}", data={"csrf": csrf_for(who), **data})
        assert r.status_code == 200 and _notice(r.text) == said, (path, _notice(r.text))
    assert _notice(client.get(f"/admin/cases/{cid}?done=anything").text) == ""  # a word no action sends says nothing
