"""Helpers for the admin's tests: accounts (with TOTP where the role needs it), cases, a signed-in client."""

from __future__ import annotations

import re
import secrets
import time
from dataclasses import dataclass
from typing import cast
from datetime import UTC, datetime, timedelta

import pyotp
import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from admin.views import LANDINGS
from intake.actions import Filed, create_staff, submit_report
from intake.casework.queries import forget_counts
from intake.committees import committee_by_code
from intake.crypto import encrypt
from intake.dialog.types import Draft
from intake.models import Case, Committee, StaffRole, StaffUser
from intake.search import fold_for_search
from phananh.web import create_app

PASSWORD = "mật-khẩu-dài-12345"
BEN_THANH = "26743"  # Phường Bến Thành, TP Hồ Chí Minh (province 79)
HOAN_KIEM = "00070"  # Phường Hoàn Kiếm, Hà Nội (province 01)
HOMES = frozenset(path for _perm, path in LANDINGS)  # where a sign-in may land, by role


@dataclass
class Account:
    user: StaffUser
    secret: str | None  # the TOTP secret, when the account has one


def make_staff(db: Session, username: str, code: str, role: StaffRole = StaffRole.OFFICER, *, totp: bool | None = None) -> Account:
    """An account in a committee; chair and admin get a TOTP secret (they cannot sign in without one)."""
    committee = committee_by_code(db, code)
    assert committee is not None
    user = create_staff(db, username=username, password=PASSWORD, role=role, committee=committee, display_name=username)
    secret = None
    if totp if totp is not None else role in (StaffRole.CHAIR, StaffRole.ADMIN):
        secret = pyotp.random_base32()
        user.totp_secret_enc = encrypt(secret)
    db.commit()
    return Account(user, secret)


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "no CSRF token on the page"
    return found.group(1)


def login(client: TestClient, account: Account | str, password: str = PASSWORD) -> bool:
    """Signs in through the real forms, with the one-time code when asked; True when signed in."""
    username = account if isinstance(account, str) else account.user.username
    page = client.get("/admin/login")
    r = client.post("/admin/login", data={"username": username, "password": password, "csrf": csrf_of(page.text)}, follow_redirects=False)
    if r.headers.get("location") == "/admin/login/totp":
        assert isinstance(account, Account) and account.secret, "TOTP asked of an account without a secret"
        otp = pyotp.TOTP(account.secret)
        # A code is accepted once: a second sign-in in the same 30 s uses the next step's code.
        for at in (time.time(), time.time() + 30):
            page = client.get("/admin/login/totp")
            r = client.post("/admin/login/totp", data={"code": otp.at(at), "csrf": csrf_of(page.text)}, follow_redirects=False)
            if r.headers.get("location") in HOMES:
                break
    return r.status_code == 303 and r.headers.get("location") in HOMES


def signed_in(account: Account) -> TestClient:
    client = TestClient(create_app())
    assert login(client, account)
    return client


def csrf_for(client: TestClient) -> str:
    return csrf_of(client.get("/admin").text)


def file_case(
    db: Session,
    *,
    place: tuple[str, str] = ("79", BEN_THANH),
    description: str = "Cán bộ địa chính phường đòi 5 triệu đồng mới làm sổ đỏ cho dân",
    mode: str = "anonymous",
    category: int = 7,
    accused_name: str = "",
    channel: str = "web",
) -> Filed:
    """A report filed through the real intake (routing included)."""
    draft = Draft(
        mode=mode,
        description_parts=[description],
        description_done=True,
        category=category,
        suggestion={"category": category, "top": [[category, 0.62], [8, 0.2]], "terms": ["sổ đỏ", "đòi tiền"]},
        accused_name=accused_name,
        accused_position="cán bộ địa chính",
        accused_agency="UBND phường",
        place_text="phường Bến Thành" if place[1] == BEN_THANH else "phường Hoàn Kiếm",
        province_code=place[0],
        commune_code=place[1],
        setting="workplace",
        reporter_name="Nguyễn Văn A" if mode != "anonymous" else None,
        reporter_phone="0912345678" if mode != "anonymous" else None,
    )
    filed = submit_report(db, draft=draft, channel=channel)
    db.commit()
    return filed


def quick_case(db: Session, code: str, *, status: str = "new", days_ago: int = 0, **fields: object) -> Case:
    """A case written straight to the table (no Argon2, no routing), for tests that need many."""
    committee = committee_by_code(db, code)
    assert committee is not None
    at = cast(datetime, fields.pop("received_at", None) or datetime.now(UTC) - timedelta(days=days_ago))
    case = Case(
        receipt_hash=secrets.token_hex(32),
        passphrase_hash="x",
        status=status,
        channel=str(fields.pop("channel", "web")),
        anonymity=str(fields.pop("anonymity", "anonymous")),
        committee_id=committee.id,  # type: ignore[arg-type]
        category=fields.pop("category", 7),  # type: ignore[arg-type]
        description=str(fields.pop("description", "Chủ tịch xã nhận tiền của doanh nghiệp")),
        received_at=at,
        created_at=at,
        updated_at=at,
        **fields,  # type: ignore[arg-type]
    )
    case.search_text = fold_for_search(case)
    db.add(case)
    db.commit()
    return case


def committee(db: Session, code: str) -> Committee:
    found = db.exec(select(Committee).where(Committee.code == code)).first()
    assert found is not None
    return found


@pytest.fixture(autouse=True)
def _fresh_state() -> None:
    """Each test starts with no queue counts remembered (failed sign-ins live in the emptied database)."""
    forget_counts(None)
