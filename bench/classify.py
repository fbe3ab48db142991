"""Classifier benchmark: load time, memory growth, and per-message latency on one core.

Run: .venv/bin/python -m bench.classify [--limit N]
The artifact is trained first (in a child process) when missing or stale, so the numbers below
measure loading and suggesting, not training.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import psutil

DATA = Path(__file__).resolve().parent.parent / "intake" / "data"


def _texts(limit: int) -> list[str]:
    """Messages to classify: the grounded corpus, the test set, then the synthetic corpus (read with json only)."""
    paths = [
        *sorted((DATA / "corpus" / "grounded").glob("[cp]a*.jsonl")),  # cat*.jsonl and pairs_*.jsonl
        DATA / "testset" / "v1.jsonl",
        *sorted((DATA / "corpus" / "v1").glob("*.jsonl")),
    ]
    texts: list[str] = []
    for path in paths:
        if not path.exists():
            continue
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                texts.append(str(json.loads(line)["text"]))
            except (ValueError, KeyError):
                continue
    return texts[:limit]


def _ensure_artifact() -> None:
    """Trains and saves the artifact in a child process, so this process starts clean."""
    code = "from intake.classify import get_classifier; get_classifier()"
    subprocess.run([sys.executable, "-c", code], check=True)


def main() -> None:
    """Measures and prints."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--limit", type=int, default=3000, help="How many messages to time.")
    args = parser.parse_args()
    # One core, one thread: pinned before numpy is first imported (by the classifier, below).
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, "1")
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    _ensure_artifact()
    texts = _texts(args.limit)
    process = psutil.Process()

    rss_before = process.memory_info().rss
    # Wall-clock and CPU time side by side: on a shared machine the CPU time is the steadier figure.
    cpu_started = time.process_time()
    started = time.perf_counter()
    import intake.segmenter  # noqa: F401  (timed apart: underthesea's normalizer and segmenter, as serve imports them)

    from intake.classify import get_classifier

    imported, cpu_imported = time.perf_counter(), time.process_time()
    rss_imported = process.memory_info().rss
    classifier = get_classifier()  # reads the artifact and checks it against the data files
    model_loaded, cpu_model = time.perf_counter(), time.process_time()
    rss_model = process.memory_info().rss
    classifier.suggest("khởi động")  # the word segmenter loads its CRF on first use
    loaded, cpu_loaded = time.perf_counter(), time.process_time()
    rss_after = process.memory_info().rss

    latencies: list[float] = []
    cpu_ms: list[float] = []
    for text in texts:
        if not text.strip():
            continue
        t0, c0 = time.perf_counter(), time.thread_time()
        classifier.suggest(text)
        cpu_ms.append((time.thread_time() - c0) * 1000)
        latencies.append((time.perf_counter() - t0) * 1000)
    latencies.sort()
    lengths = sorted(len(t) for t in texts)

    huge = ("Chủ tịch xã đòi tiền mới cấp sổ đỏ. " * 3000)[:100_000]
    t0 = time.perf_counter()
    classifier.suggest(huge)
    huge_ms = (time.perf_counter() - t0) * 1000

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))]

    print(f"messages timed: {len(latencies)} (median length {statistics.median(lengths):.0f} chars)")
    print(f"latency per message: median {statistics.median(latencies):.2f} ms, p90 {pct(0.90):.2f} ms, "
          f"p99 {pct(0.99):.2f} ms, max {latencies[-1]:.2f} ms")
    print(f"CPU per message: median {statistics.median(cpu_ms):.2f} ms")
    print(f"100,000-character message: {huge_ms:.1f} ms")
    print(f"load: {loaded - started:.2f} s in all (imports {imported - started:.2f} s, "
          f"model {model_loaded - imported:.2f} s, segmenter's first use {loaded - model_loaded:.2f} s); "
          f"CPU {cpu_loaded - cpu_started:.2f} s (imports {cpu_imported - cpu_started:.2f} s, "
          f"model {cpu_model - cpu_imported:.2f} s, segmenter {cpu_loaded - cpu_model:.2f} s)")
    print(f"RSS growth: {(rss_after - rss_before) / 2**20:.0f} MiB in all "
          f"(imports {(rss_imported - rss_before) / 2**20:.0f} MiB, model {(rss_model - rss_imported) / 2**20:.0f} MiB, "
          f"segmenter {(rss_after - rss_model) / 2**20:.0f} MiB)")


if __name__ == "__main__":
    main()
