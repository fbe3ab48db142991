"""Corrections stored by staff become training pairs, with the reporter's identity taken out."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test
from sqlmodel import Session, select

from intake.classify.text import fold
from intake.committees import committee_by_code
from intake.corrections import iter_corrections
from intake.crypto import encrypt, token
from intake.errors import ConfigurationError
from intake.models import Case, CategoryCorrection, ChatLink, ReporterIdentity


def test_latest_correction_per_case_with_its_text(db: Session) -> None:
    """Each corrected case yields its text once, with the category of its newest correction."""
    committee = committee_by_code(db, "26743")
    case = Case(receipt_hash="r1", passphrase_hash="p", channel="web", anonymity="anonymous",
                committee_id=committee.id, description="Bí thư xã đánh bạc ăn tiền", category=7)  # type: ignore[union-attr,arg-type]
    db.add(case)
    db.flush()
    db.add(CategoryCorrection(case_id=case.id, old_category=7, new_category=1))  # type: ignore[arg-type]
    db.add(CategoryCorrection(case_id=case.id, old_category=1, new_category=9))  # type: ignore[arg-type]
    db.commit()
    assert list(iter_corrections(db)) == [("Bí thư xã đánh bạc ăn tiền", 9)]


NAMES = (("Nguyễn", "Trần", "Lê", "Phạm", "Đặng"), ("Văn", "Thị", "Đức", "Minh", "Ngọc"), ("Hoa", "Tùng", "Lan", "Quang", "Bích"))
BASES = ("Chủ tịch xã đòi tiền mới cấp sổ đỏ", "Cán bộ địa chính nhận phong bì của dân", "Bí thư chi bộ đánh bạc suốt đêm")


def _write_name(name: str, form: str) -> str:
    """A name as a resident might type it."""
    given = " ".join(name.split()[1:])
    return {"full": name, "bare": fold(name).lower(), "upper": name.upper(), "given": f"chị {given}"}[form]


def _write_phone(phone: str, form: str) -> str:
    """A phone number as a resident might type it."""
    return {
        "plain": phone,
        "spaced": f"{phone[:4]} {phone[4:7]} {phone[7:]}",
        "dotted": f"{phone[:4]}.{phone[4:7]}.{phone[7:]}",
        "intl": f"+84 {phone[1:4]} {phone[4:7]} {phone[7:]}",
    }[form]


def _file_case(db: Session, *, anonymity: str, description: str, name: str, phone: str, handle: str | None,
               accused: str = "") -> Case:
    """A case as intake stores it: identity encrypted apart for confidential and open reports."""
    committee = committee_by_code(db, "26743")
    case = Case(receipt_hash=token(8), passphrase_hash="p", channel="telegram", anonymity=anonymity,
                committee_id=committee.id, description=description, accused_name=accused, category=7)  # type: ignore[union-attr,arg-type]
    db.add(case)
    db.flush()
    if anonymity != "anonymous":
        db.add(ReporterIdentity(case_id=case.id, name_enc=encrypt(name), phone_enc=encrypt(phone)))  # type: ignore[arg-type]
    if handle:
        db.add(ChatLink(case_id=case.id, channel="telegram", handle_hash=token(8), handle_enc=encrypt(handle)))  # type: ignore[arg-type]
    db.commit()
    return case


def _clear(db: Session) -> None:
    for model in (CategoryCorrection, ChatLink, ReporterIdentity, Case):
        for row in db.exec(select(model)):
            db.delete(row)
        db.commit()


def test_corrections_never_carry_the_reporters_identity(db: Session) -> None:
    """However cases are filed, signed and corrected, correction texts hold no reporter name, phone or chat id."""

    class Casework(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            _clear(db)
            self.cases: list[tuple[Case, list[str], str]] = []  # case, name forms that must go, digits that must go
            self.latest: dict[int, int] = {}

        @rule(
            anonymity=st.sampled_from(["anonymous", "confidential", "open"]),
            name=st.tuples(*(st.sampled_from(part) for part in NAMES)).map(" ".join),
            phone=st.from_regex(r"0[35789][0-9]{8}", fullmatch=True),
            handle=st.none() | st.integers(10**8, 10**10).map(str),
            name_form=st.sampled_from(["full", "bare", "upper", "given"]),
            phone_form=st.sampled_from(["plain", "spaced", "dotted", "intl"]),
            base=st.sampled_from(BASES),
        )
        def file(self, anonymity: str, name: str, phone: str, handle: str | None, name_form: str, phone_form: str,
                 base: str) -> None:
            # An anonymous reporter's name is kept nowhere: only what looks like a phone can be found in their text.
            signed = anonymity != "anonymous"
            parts = [base, f"tôi là {_write_name(name, name_form)}" if signed else "", f"sđt {_write_phone(phone, phone_form)}"]
            if handle:
                parts.append(f"chat {handle}")
            case = _file_case(db, anonymity=anonymity, description=", ".join(p for p in parts if p), name=name,
                              phone=phone, handle=handle)
            must_go = [fold(name).lower(), fold(" ".join(name.split()[1:])).lower()] if signed else []
            self.cases.append((case, must_go, phone[1:]))
            if handle:
                self.cases.append((case, [], handle))

        @rule(pick=st.integers(0, 1000), category=st.integers(0, 9))
        def correct(self, pick: int, category: int) -> None:
            if not self.cases:
                return
            case = self.cases[pick % len(self.cases)][0]
            db.add(CategoryCorrection(case_id=case.id, old_category=7, new_category=category))  # type: ignore[arg-type]
            db.commit()
            self.latest[case.id] = category  # type: ignore[index]

        @invariant()
        def no_identity_in_training_material(self) -> None:
            pairs = list(iter_corrections(db))
            assert sorted(c for _, c in pairs) == sorted(self.latest.values())
            material = " | ".join(fold(text).lower() for text, _ in pairs)
            digits = re.sub(r"\D", "", material)
            for case, names, number in self.cases:
                if case.id in self.latest:
                    assert not any(re.search(rf"(?<!\w){re.escape(n)}(?!\w)", material) for n in names)
                    assert number not in digits

    run_state_machine_as_test(Casework, settings=settings(max_examples=20, stateful_step_count=8, deadline=None))


def test_a_case_whose_identity_cannot_be_read_is_left_out(db: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    """When the identity cannot be decrypted it cannot be removed: the correction is not used."""
    import intake.corrections as corrections

    case = _file_case(db, anonymity="confidential", description="Bí thư chi bộ đánh bạc, tôi là Lê Văn Tùng",
                      name="Lê Văn Tùng", phone="0912345678", handle=None)
    db.add(CategoryCorrection(case_id=case.id, old_category=7, new_category=9))  # type: ignore[arg-type]
    db.commit()
    assert list(iter_corrections(db)) == [("Bí thư chi bộ đánh bạc, tôi là", 9)]

    def broken(token: bytes) -> str:
        raise ConfigurationError("data cannot be decrypted with the configured keys")

    monkeypatch.setattr(corrections, "decrypt", broken)
    assert list(iter_corrections(db)) == []


def test_the_trained_artifact_holds_no_identity(db: Session, tmp_path: Path) -> None:
    """Trained with corrections, the saved model's features and word list hold no reporter or accused name."""
    from intake.classify.corpus import load_corpus
    from intake.classify.model import LinearTextModel
    from intake.classify.training import train

    name, accused = "Lương Khuêyn Thoạiq", "Đỗ Quyểnh Bạoz"
    for i, text in enumerate(["Bí thư chi bộ đánh bạc suốt đêm", "Bí thư chi bộ say rượu đánh vợ", "Trưởng thôn đánh bạc ăn tiền"]):
        case = _file_case(db, anonymity="confidential", name=name, phone="0987654321", handle=str(5550001 + i),
                          accused=accused, description=f"{text}. Ông {accused} làm vậy. Tôi là {name}, sđt 0987654321")
        db.add(CategoryCorrection(case_id=case.id, old_category=7, new_category=9))  # type: ignore[arg-type]
    db.commit()
    corpus = load_corpus()[::40]
    words = ("khueyn", "thoaiq", "quyenh", "baoz")

    def leaked(model: LinearTextModel) -> set[str]:
        path = tmp_path / "m.npz"
        model.save(path)
        loaded = LinearTextModel.load(path)
        strings = " ".join([*loaded.space.features, *loaded.lexicon, json.dumps(loaded.meta)])
        return {w for w in words if w in fold(strings).lower()}

    assert leaked(train(corpus, extra=list(iter_corrections(db)))) == set()
    raw = [(c.description, 9) for c in db.exec(select(Case))]
    assert leaked(train(corpus, extra=raw)) == set(words)  # the same texts unredacted would have leaked
