"""A SIGKILL of `phananh serve` under load, and a restart on the same database: nothing lost, nothing twice."""

from __future__ import annotations

import os

import pytest
from sqlmodel import Session

from bench.load import problems, receipt_hashes, report, run, running
from intake.receipts import receipt_hash


@pytest.mark.slow
def test_sigkill_under_load_loses_no_report_and_files_none_twice(db: Session) -> None:
    """Killed mid-load and restarted: each receipt is one case, no redelivery files twice, every cut report completes."""
    # PostgreSQL: the test database. SQLite: a file of the test's own, so that the processes killed
    # here never hold the file the rest of the suite shares.
    url = os.environ["PHANANH_DATABASE_URL"]
    with running(url if url.startswith("postgres") else None, fresh=False) as (server, fake):
        result = run(server, fake, channels=["telegram", "web"], residents=12, seconds=4, crash=True, crash_after=2, think=0, warm_up=False)
    print(report("crash test", result))
    telegram, web = result.tallies["telegram"], result.tallies["web"]
    assert server.starts == 2, "the server was killed once and started again"
    cut = telegram.interrupted + web.interrupted
    assert cut >= 6, "the kill fell in the middle of residents' reports"
    assert telegram.redelivered + web.unanswered > 0, "requests in hand were cut by the kill"
    assert problems(result) == []
    completed = telegram.completed_after_crash + web.completed_after_crash + telegram.filed_after_crash + web.filed_after_crash
    assert completed == cut, "every report cut by the kill went on to be filed"
    held = telegram.receipts + web.receipts
    assert len(held) >= 12
    hashes = receipt_hashes(server.database_url)
    for receipt in held:
        assert hashes.count(receipt_hash(receipt)) == 1, "a receipt a resident holds is exactly one case"
    # One case per report filed: with its receipt shown, or cut after filing.
    assert len(hashes) == len(held) + telegram.receipt_lost + web.receipt_lost
