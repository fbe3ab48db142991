"""The admin under load: the queue with filters, the case page, and a provincial yearly report.

    python -m bench.admin [--n 100000] [--db sqlite:////tmp/phananh-bench-admin.sqlite3] [--reuse]
    python -m bench.admin --n 1000000 --db postgresql://postgres@127.0.0.1:5432/bench

Seeds N cases (a quarter of them in one busy ward, most of the rest across the same province),
then requests pages in process through the whole FastAPI app (session check, query, rendering).
Targets (issue 6): queue with filters p95 <= 150 ms; case page p95 <= 100 ms; provincial yearly
report <= 3 s.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import secrets
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from typing import Any

BUSY_COMMUNE = "26743"  # Phường Bến Thành
PROVINCE = "79"  # TP Hồ Chí Minh
PASSWORD = "bench-password-123456"

ACCUSED = ["Nguyễn Văn Bình", "Trần Thị Hoa", "Lê Văn Tám", "Phạm Minh Đức", "Hoàng Thị Lan", "Võ Văn Kiệt", "Đặng Quốc Huy", ""]
POSITIONS = ["cán bộ địa chính", "chủ tịch UBND phường", "trưởng khu phố", "công an phường", "kế toán phường", "bí thư chi bộ"]
AGENCIES = ["UBND phường", "Công an phường", "Đảng ủy phường", "Ban quản lý chợ", "Trường tiểu học", "Trạm y tế"]
ACTS = [
    "đòi {m} triệu đồng mới làm sổ đỏ cho dân",
    "nhận tiền của doanh nghiệp để cấp phép xây dựng sai quy định",
    "dùng xe công đi việc riêng vào cuối tuần",
    "xây nhà văn hóa rồi bỏ hoang, lãng phí ngân sách",
    "đưa người nhà vào làm ở phường dù không đủ tiêu chuẩn",
    "tổ chức đánh bạc tại nhà văn hóa khu phố",
    "kê khai tài sản không trung thực, có nhiều nhà đất",
    "thờ ơ, không giải quyết đơn của dân suốt {m} tháng",
    "báo cáo thành tích khống về xây dựng nông thôn mới",
]
STATUSES = ["new"] * 8 + ["verifying"] * 6 + ["forwarded"] * 5 + ["result"] * 2 + ["answered"] * 3 + ["closed"] * 5 + ["out_of_scope", "duplicate"]
CHANNELS = ["web"] * 4 + ["telegram"] * 3 + ["zalo"] * 4 + ["in_person", "hotline", "letter", "email", "suggestion_box"]
ANONYMITY = ["anonymous"] * 6 + ["confidential"] * 3 + ["open"]


def _setup_env(url: str) -> None:
    os.environ["PHANANH_DATABASE_URL"] = url
    os.environ.setdefault("PHANANH_ENV", "development")
    os.environ.setdefault("PHANANH_VAR_DIR", tempfile.mkdtemp(prefix="phananh-bench-admin-"))
    os.environ.setdefault("PHANANH_LOG_LEVEL", "WARNING")


def _seed(n: int, rng: random.Random) -> None:
    """Writes N cases straight to the table in batches (no Argon2, no routing: this is load, not intake)."""
    import sqlalchemy as sa
    from sqlmodel import Session, select

    from intake.db import get_engine
    from intake.deadlines import answer_due
    from intake.models import Case, Committee
    from intake.search import fold

    engine = get_engine()
    with Session(engine) as s:
        committees = {c.code: c for c in s.exec(select(Committee)).all()}
    busy = committees[BUSY_COMMUNE]
    province = committees[PROVINCE]
    hcm = [c for c in committees.values() if c.parent_id == province.id and c.code != BUSY_COMMUNE]
    elsewhere = [c for c in committees.values() if c.level == "commune" and c.parent_id != province.id]
    now = datetime.now(UTC)
    today = now.date()
    table = Case.__table__  # type: ignore[attr-defined]
    batch: list[dict[str, Any]] = []
    start = time.perf_counter()
    for i in range(n):
        r = rng.random()
        committee = busy if r < 0.25 else province if r < 0.35 else rng.choice(hcm) if r < 0.80 else rng.choice(elsewhere)
        received = now - timedelta(days=rng.uniform(0, 400), seconds=rng.randint(0, 86400))
        status = rng.choice(STATUSES)
        accused, position, agency = rng.choice(ACCUSED), rng.choice(POSITIONS), rng.choice(AGENCIES)
        description = f"{position.capitalize()} {rng.choice(ACTS).format(m=rng.randint(2, 50))}. Mã tham chiếu {i}."
        commune_code = committee.code if committee.level == "commune" else None
        row: dict[str, Any] = {
            "receipt_hash": secrets.token_hex(32),
            "passphrase_hash": "bench",
            "status": status,
            "channel": rng.choice(CHANNELS),
            "anonymity": rng.choice(ANONYMITY),
            "language": "vi",
            "committee_id": committee.id,
            "category": rng.randint(0, 9),
            "suggestion": {"category": 7, "top": [[7, 0.61], [8, 0.22], [5, 0.08]], "terms": ["đòi tiền", "sổ đỏ"]},
            "description": description,
            "search_text": fold(" \n ".join((description, accused, position, agency, "phường"))),
            "accused_name": accused,
            "accused_position": position,
            "accused_agency": agency,
            "place_text": committee.unit_name,
            "province_code": PROVINCE if committee.parent_id == province.id or committee.id == province.id else None,
            "commune_code": commune_code,
            "setting": "workplace",
            "occurred": "",
            "routing_reasons": [],
            "needs_review": False,
            "escalated": False,
            "received_at": received,
            "created_at": received,
            "updated_at": received,
            "complex_case": False,
            "forwarded_to": "",
            "forwarded_to_name": "",
            "result_text": "",
            # executemany needs the same keys in every row
            "forwarded_on": None, "due_on": None, "accepted_at": None, "result_on": None,
            "handled_at": None, "notified_at": None, "closed_at": None,
        }
        if status in ("forwarded", "result", "answered", "closed"):
            forwarded = min(today, (received + timedelta(days=rng.randint(1, 20))).date())
            complex_case = rng.random() < 0.2
            row.update(forwarded_on=forwarded, complex_case=complex_case, due_on=answer_due(forwarded, complex_case=complex_case),
                       forwarded_to="inspection_commission", forwarded_to_name="UBKT Đảng ủy", accepted_at=received + timedelta(days=1))
            if status != "forwarded":
                result_on = min(today, forwarded + timedelta(days=rng.randint(10, 50)))
                row.update(result_on=result_on, result_text="Đã xử lý.",
                           handled_at=datetime.combine(result_on, datetime.min.time(), UTC))
                if status in ("answered", "closed"):
                    row["notified_at"] = row["handled_at"] + timedelta(days=2)
        batch.append(row)
        if len(batch) == 5000:
            with engine.begin() as conn:
                conn.execute(sa.insert(table), batch)
            batch.clear()
            print(f"\r  seeded {i + 1:,} cases ({time.perf_counter() - start:.0f} s)", end="", file=sys.stderr)
    if batch:
        with engine.begin() as conn:
            conn.execute(sa.insert(table), batch)
    # What autovacuum does after a while in production: statistics, and the visibility map that
    # lets PostgreSQL count from an index alone.
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("VACUUM ANALYZE cases" if engine.dialect.name == "postgresql" else "ANALYZE"))
    print(f"\r  seeded {n:,} cases in {time.perf_counter() - start:.1f} s", file=sys.stderr)


def _accounts() -> None:
    from sqlmodel import select

    from intake.actions import create_staff
    from intake.committees import committee_by_code
    from intake.db import session_scope
    from intake.models import StaffRole, StaffUser

    with session_scope() as s:
        for username, code in (("bench_officer", BUSY_COMMUNE), ("bench_province", PROVINCE)):
            if s.exec(select(StaffUser).where(StaffUser.username == username)).first() is None:
                c = committee_by_code(s, code)
                assert c is not None
                create_staff(s, username=username, password=PASSWORD, role=StaffRole.OFFICER, committee=c)


def _client(username: str) -> Any:
    from fastapi.testclient import TestClient

    from phananh.web import create_app

    client = TestClient(create_app())
    page = client.get("/admin/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    r = client.post("/admin/login", data={"username": username, "password": PASSWORD, "csrf": csrf}, follow_redirects=False)
    assert r.headers.get("location") == "/admin", "bench sign-in failed"
    return client


def _timed(client: Any, path: str) -> float:
    t0 = time.perf_counter()
    r = client.get(path)
    elapsed = (time.perf_counter() - t0) * 1000
    assert r.status_code == 200, (path, r.status_code)
    return elapsed


def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


QUEUE_PATHS = [
    "/admin",
    "/admin?status=new",
    "/admin?status=forwarded&sort=due",
    "/admin?category=7",
    "/admin?deadline=overdue",
    "/admin?deadline=due_soon",
    "/admin?channel=hotline&anonymity=confidential",
    "/admin?assignee=none&status=verifying",
    "/admin?q=so+do",
    "/admin?q=nguyen+van+binh&category=7",
    "/admin?q=dánh bạc&status=new",
    "/admin?page=20",
    "/admin?status=closed&sort=old&page=3",
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=100_000, help="cases to seed")
    parser.add_argument("--db", default="sqlite:////tmp/phananh-bench-admin.sqlite3", help="database URL (emptied unless --reuse)")
    parser.add_argument("--reuse", action="store_true", help="keep an already seeded database")
    parser.add_argument("--rounds", type=int, default=8, help="requests per queue filter")
    parser.add_argument("--cases", type=int, default=150, help="case pages requested")
    args = parser.parse_args()
    _setup_env(args.db)

    import sqlalchemy as sa

    from intake.db import get_engine
    from intake.migrate import upgrade

    if not args.reuse:
        if args.db.startswith("sqlite:///"):
            path = args.db.split("sqlite:///", 1)[1]
            for suffix in ("", "-wal", "-shm"):
                if os.path.exists(path + suffix):
                    os.remove(path + suffix)
        else:
            with sa.create_engine(args.db.replace("postgresql://", "postgresql+psycopg://", 1)).begin() as conn:
                conn.execute(sa.text("DROP SCHEMA public CASCADE"))
                conn.execute(sa.text("CREATE SCHEMA public"))
    print(f"database: {get_engine().dialect.name}", file=sys.stderr)
    upgrade()
    with get_engine().connect() as conn:
        existing = conn.execute(sa.text("SELECT count(*) FROM cases")).scalar_one()
    rng = random.Random(6)
    if existing < args.n:
        _seed(args.n - existing, rng)
    _accounts()

    from sqlmodel import Session, select

    from intake.committees import committee_by_code
    from intake.deadlines import local_today
    from intake.models import Case
    from intake.reports import dashboard, make_period, periodic_report

    officer = _client("bench_officer")
    with Session(get_engine()) as s:
        busy = committee_by_code(s, BUSY_COMMUNE)
        province = committee_by_code(s, PROVINCE)
        assert busy is not None and province is not None
        total = s.exec(select(sa.func.count()).select_from(Case)).one()
        busy_n = s.exec(select(sa.func.count()).where(Case.committee_id == busy.id)).one()
        ids = list(s.exec(select(Case.id).where(Case.committee_id == busy.id).order_by(sa.func.random()).limit(args.cases)).all())

    from intake.casework.queries import forget_counts

    for path in QUEUE_PATHS:  # warm templates and the database's cache once
        _timed(officer, path)
    queue_ms: list[float] = []
    cold_ms: list[float] = []
    per_path: dict[str, list[float]] = {}
    for _ in range(args.rounds):
        for path in QUEUE_PATHS:
            forget_counts(None)  # every request counts the whole queue again, as after a change
            ms = _timed(officer, path)
            cold_ms.append(ms)
            per_path.setdefault(path, []).append(ms)
            queue_ms.append(_timed(officer, path))  # the same page again: counts remembered
    _timed(officer, f"/admin/cases/{ids[0]}")
    case_ms = [_timed(officer, f"/admin/cases/{cid}") for cid in ids]

    today = local_today()
    year = make_period("year", today.year)
    with Session(get_engine()) as s:
        t0 = time.perf_counter()
        report = periodic_report(s, province, year, today=today)
        report_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        dashboard(s, province, today=today)
        dash_s = time.perf_counter() - t0
    prov = _client("bench_province")
    t0 = time.perf_counter()
    r = prov.get(f"/admin/reports/export?kind=year&year={today.year - 1}&format=xlsx")  # rounded: last year, which is over
    export_s = time.perf_counter() - t0
    assert r.status_code == 200

    print(f"cases: {total:,} ({busy_n:,} in the busy ward's queue); {get_engine().dialect.name}")
    print(f"queue with filters, queue counts recomputed: p50 {statistics.median(cold_ms):.1f} ms, p95 {_p(cold_ms, 0.95):.1f} ms, "
          f"max {max(cold_ms):.1f} ms over {len(cold_ms)} requests (target p95 <= 150 ms)")
    print(f"queue with filters, counts remembered (< 30 s): p50 {statistics.median(queue_ms):.1f} ms, "
          f"p95 {_p(queue_ms, 0.95):.1f} ms over {len(queue_ms)} requests")
    print("  medians per filter, counts recomputed:")
    for path, values in per_path.items():
        print(f"  {path:45s} median {statistics.median(values):7.1f} ms")
    print(f"case page: p50 {statistics.median(case_ms):.1f} ms, p95 {_p(case_ms, 0.95):.1f} ms over {len(case_ms)} cases "
          f"(target p95 <= 100 ms)")
    print(f"provincial yearly report ({report.totals['received']:,} received in {year.label()}): {report_s:.2f} s "
          f"(target <= 3 s); as XLSX over HTTP {export_s:.2f} s; provincial dashboard {dash_s:.2f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
