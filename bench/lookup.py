"""How long a receipt look-up takes with and without a matching case: the timing must not tell which.

    python -m bench.lookup [--runs 60] [--database-url URL]

Each run is one `look_up_case` in its own transaction, as the conversation does it: a real receipt
with a wrong passphrase, an unknown receipt, and a real receipt with the right passphrase. The
failure counts are cleared between runs so no lock interferes.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=60)
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="phananh-bench-"))
    os.environ.setdefault("PHANANH_VAR_DIR", str(tmp))
    os.environ["PHANANH_DATABASE_URL"] = args.database_url or f"sqlite:///{tmp / 'bench.sqlite3'}"

    import sqlalchemy as sa

    from intake import actions
    from intake.db import session_scope
    from intake.dialog.types import Draft
    from intake.migrate import upgrade
    from intake.models import AttemptThrottle
    from intake.receipts import new_passphrase, new_receipt

    upgrade()
    with session_scope() as session:
        draft = Draft(mode="anonymous", description_parts=["Cán bộ địa chính đòi tiền"], description_done=True, category=7,
                      province_code="79", commune_code="26743", setting="workplace")
        filed = actions.submit_report(session, draft=draft, channel="terminal")
        receipt, passphrase = filed.receipt, filed.passphrase

    def timed(code: str, secret: str) -> float:
        with session_scope() as session:
            session.execute(sa.delete(AttemptThrottle))
        start = time.perf_counter()
        with session_scope() as session:
            actions.look_up_case(session, receipt=code, passphrase=secret)
        return (time.perf_counter() - start) * 1000

    timed(receipt, passphrase)  # warm-up: the dummy hash is made once
    results = {"real receipt, wrong passphrase": [], "unknown receipt": [], "real receipt, right passphrase": []}
    for _ in range(args.runs):
        results["real receipt, wrong passphrase"].append(timed(receipt, new_passphrase()))
        results["unknown receipt"].append(timed(new_receipt(), new_passphrase()))
        results["real receipt, right passphrase"].append(timed(receipt, passphrase))
    database = "PostgreSQL" if args.database_url.startswith("postgresql") else "SQLite"
    for name, values in results.items():
        values.sort()
        print(f"{name:32} median {statistics.median(values):6.1f} ms  p10 {values[len(values) // 10]:6.1f}  "
              f"p90 {values[len(values) * 9 // 10]:6.1f}  ({args.runs} runs, {database})")


if __name__ == "__main__":
    main()
