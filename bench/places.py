"""Place resolution: accuracy on noisy and district-era queries, time per query, warm-up, bad input.

    .venv/bin/python -m bench.places [--show-misses N]

Targets (issue 4): >= 98% top-1 commune on noisy queries naming the province, >= 90% on district-era
addresses, <= 1 ms median per resolution after warm-up, warm-up <= 2 s. Run it in a fresh process:
the warm-up figure counts loading the gazetteer.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path
from typing import Any

DATA_DIR = Path(__file__).resolve().parent / "data"
BAD_INPUTS = ["", "   ", "x" * 10_000, "1600 Amphitheatre Parkway, Mountain View, CA 94043", "0123456789", "北京市朝阳区"]


def _load(name: str) -> list[dict[str, Any]]:
    with (DATA_DIR / name).open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def _evaluate(rows: list[dict[str, Any]], show: int) -> dict[str, float]:
    """Top-1 commune, province, and 'among the candidates' rates, with per-query times."""
    from intake.places import resolve_place

    top1 = province_ok = in_candidates = 0
    times: list[float] = []
    misses: list[str] = []
    for row in rows:
        started = time.perf_counter()
        match = resolve_place(row["query"])
        times.append(time.perf_counter() - started)
        got = match.commune.code if match.commune else None
        top1 += got == row["commune"]
        province_ok += bool(match.province and match.province.code == row["province"])
        in_candidates += any(c.commune and c.commune.code == row["commune"] for c in match.candidates)
        if got != row["commune"] and len(misses) < show:
            names = [c.commune.name if c.commune else "-" for c in match.candidates[:3]]
            misses.append(f"  {row['query']!r}: want {row['commune']} {row.get('name', row.get('old', ''))}, "
                          f"got {match.commune.name if match.commune else None} {names}")
    for line in misses:
        print(line)
    n = len(rows)
    times.sort()
    return {
        "n": n,
        "top1": 100.0 * top1 / n,
        "province": 100.0 * province_ok / n,
        "in_candidates": 100.0 * in_candidates / n,
        "median_ms": statistics.median(times) * 1000,
        "p99_ms": times[min(n - 1, int(n * 0.99))] * 1000,
    }


def main() -> None:
    """Prints the measured numbers."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--show-misses", type=int, default=0, help="print up to N misses per set")
    args = parser.parse_args()

    started = time.perf_counter()
    from intake.places import get_gazetteer, resolve_place

    get_gazetteer()
    resolve_place("Phường Bến Thành, TP.HCM")
    warmup = time.perf_counter() - started
    print(f"warm-up (import, load gazetteer, first query): {warmup:.2f} s")

    for name, label in (("places_noisy.jsonl", "noisy"), ("places_legacy.jsonl", "district-era")):
        rows = _load(name)
        r = _evaluate(rows, args.show_misses)
        print(
            f"{label:>12}: n={r['n']}  top-1 commune {r['top1']:.1f}%  province {r['province']:.1f}%  "
            f"in candidates {r['in_candidates']:.1f}%  median {r['median_ms']:.3f} ms  p99 {r['p99_ms']:.3f} ms"
        )

    for text in BAD_INPUTS:
        started = time.perf_counter()
        match = resolve_place(text)
        elapsed = (time.perf_counter() - started) * 1000
        shown = text if len(text) < 40 else text[:20] + f"... ({len(text)} chars)"
        print(f"  bad input {shown!r}: found={match.found} ({elapsed:.1f} ms)")


if __name__ == "__main__":
    main()
