"""How fast `phananh serve` is ready, and how much memory it and its Zalo workers take (PSS), before and after reports.

    python -m bench.memory [--reports 100] [--starts 5] [--database-url URL] [--workers 2]

Start: `phananh serve` is started --starts times on a database already set up, with the classifier
artifact prepared (as `make run` and `phananh db upgrade` leave it), and timed from the process's
start to the first 200 from /readyz (min, median, max).

Memory: serve with Telegram and Zalo configured (`--workers` Zalo worker processes), then residents
on the web chat, Telegram and Zalo file reports until --reports are in the database. Memory is PSS
(proportional set size, /proc/PID/smaps_rollup): a page shared by the server and its workers counts
once in their sum, split between them, where RSS would count it in each. Printed after start and
after the reports, per process and in all; the target (issue 18) is 400 MB in all after 100 reports.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import psutil

from bench.load import ROOT, count_cases, free_port, reset_postgres, run, running


def pss_kib(pid: int) -> int:
    """A process's proportional set size, in KiB."""
    with open(f"/proc/{pid}/smaps_rollup", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("Pss:"):
                return int(line.split()[1])
    raise RuntimeError(f"no Pss in /proc/{pid}/smaps_rollup")


def tree_pss(pid: int) -> list[tuple[str, int, int]]:
    """(name, PSS KiB, RSS KiB) of a process and each of its descendants."""
    root = psutil.Process(pid)
    rows = []
    for proc in [root, *root.children(recursive=True)]:
        try:
            kind = "serve" if proc.pid == pid else "worker"
            rows.append((f"{kind} {proc.pid}", pss_kib(proc.pid), proc.memory_info().rss // 1024))
        except (psutil.Error, OSError):
            continue
    return rows


def show(title: str, rows: list[tuple[str, int, int]]) -> float:
    total = sum(p for _n, p, _r in rows) / 1024
    print(f"{title}: PSS {total:.0f} MB in all ({', '.join(f'{n}: {p / 1024:.0f} MB PSS, {r / 1024:.0f} MB RSS' for n, p, r in rows)})")
    return total


def time_to_ready(database_url: str, var_dir: Path, starts: int) -> list[float]:
    """Seconds from `phananh serve`'s start to /readyz 200, once per start."""
    env = {**os.environ, "PHANANH_ENV": "development", "PHANANH_DATABASE_URL": database_url, "PHANANH_VAR_DIR": str(var_dir),
           "PHANANH_LOG_LEVEL": "WARNING"}  # fmt: skip
    env.setdefault("PHANANH_CLASSIFIER_MODEL_PATH", str(ROOT / "var" / "models" / "classifier.joblib"))
    subprocess.run([sys.executable, "-m", "phananh.cli", "db", "upgrade"], env=env, cwd=ROOT, check=True, capture_output=True)
    times = []
    for _ in range(starts):
        port = free_port()
        began = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-m", "phananh.cli", "serve", "--no-migrate", "--port", str(port)], env=env, cwd=ROOT,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
        try:
            while True:
                if proc.poll() is not None:
                    raise SystemExit(f"serve exited with {proc.returncode}")
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=30).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.02)
            times.append(time.perf_counter() - began)
        finally:
            proc.terminate()
            proc.wait(30)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reports", type=int, default=100, help="reports filed before the second measurement")
    parser.add_argument("--starts", type=int, default=5, help="starts timed to /readyz")
    parser.add_argument("--workers", type=int, default=2, help="PHANANH_ZALO_WORKER_PROCESSES")
    parser.add_argument("--database-url", default="", help="a PostgreSQL database of the benchmark's own (emptied); default SQLite")
    args = parser.parse_args()
    os.environ["PHANANH_ZALO_WORKER_PROCESSES"] = str(args.workers)
    tmp = Path(tempfile.mkdtemp(prefix="phananh-bench-memory-"))
    print(f"cores: {os.cpu_count()}; load average {os.getloadavg()[0]:.1f}; database: {'postgresql' if args.database_url else 'sqlite'}")

    if args.database_url:
        reset_postgres(args.database_url)
    url = args.database_url or f"sqlite:///{tmp / 'start.sqlite3'}"
    times = time_to_ready(url, tmp / "start-var", args.starts)
    print(f"time to /readyz over {len(times)} starts: min {min(times):.2f} s, median {statistics.median(times):.2f} s, max {max(times):.2f} s")

    with running(args.database_url or None, tmp=tmp / "load", zalo=True) as (server, fake):
        assert server.proc is not None
        time.sleep(2)  # the workers' warm-up and the heap settled
        after_start = show("after start", tree_pss(server.proc.pid))
        database = server.database_url
        filed = count_cases(database)
        while filed < args.reports:
            run(server, fake, channels=["web", "telegram", "zalo"], residents=12, seconds=20, think=0.0, warm_up=False)
            filed = count_cases(database)
        time.sleep(2)
        after = show(f"after {filed} reports", tree_pss(server.proc.pid))
    print(f"PSS after start {after_start:.0f} MB, after {filed} reports {after:.0f} MB (target <= 400 MB)")


if __name__ == "__main__":
    main()
