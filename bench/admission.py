"""What a new web chat's proof of work costs: in Chromium at full speed and CPU-throttled, and natively.

    python -m bench.admission [--bits 15] [--runs 12] [--throttle 1 4 6]

For each CPU throttling rate (Chrome DevTools' Emulation.setCPUThrottlingRate: 4 is Lighthouse's
"mid-tier mobile", 6 a low-end phone), fresh browser contexts load the chat page with the puzzle at
0 bits (the page and its first answer alone) and at --bits. The page's hashes per second come from
the nonce it sends (it tries nonces in order, 256 at a time) over the extra time the puzzle took;
the expected cost of a puzzle is then 2^bits / that rate. The native rate (Python's hashlib, as a
flooder's script would run) shows how far ahead an attacker is.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

BATCH = 256  # the page hashes this many nonces per round (bot/static/chat.js)


def _native_rate(seconds: float = 1.0) -> float:
    """SHA-256 hashes per second of one Python thread, the page's message format."""
    prefix = "x" * 24 + ".15.1790000000." + "f" * 32 + ":"
    n, end = 0, time.perf_counter() + seconds
    while time.perf_counter() < end:
        for i in range(1000):
            hashlib.sha256(f"{prefix}{n + i}".encode()).digest()
        n += 1000
    return n / seconds


def _serve() -> tuple[str, Any]:
    import socket

    import uvicorn

    from intake.migrate import upgrade
    from phananh.web import create_app

    upgrade()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    server = uvicorn.Server(uvicorn.Config(create_app(), host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    return f"http://127.0.0.1:{port}", server


def _one(browser: Any, url: str, throttle: float) -> tuple[float, int | None]:
    """Seconds from navigation to the first answer on screen, and the nonce the page sent (None without a puzzle)."""
    context = browser.new_context(locale="vi-VN")
    page = context.new_page()
    nonce: list[int] = []

    def seen(request: Any) -> None:
        if request.url.endswith("/api/chat") and request.post_data:
            proof = json.loads(request.post_data).get("proof")
            if proof:
                nonce.append(int(proof["nonce"]))

    page.on("request", seen)
    cdp = context.new_cdp_session(page)
    cdp.send("Emulation.setCPUThrottlingRate", {"rate": throttle})
    start = time.perf_counter()
    page.goto(url + "/")
    page.wait_for_selector(".msg.bot", timeout=600_000)
    elapsed = time.perf_counter() - start
    context.close()
    return elapsed, (nonce[0] if nonce else None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--bits", type=int, default=15)
    parser.add_argument("--runs", type=int, default=12)
    parser.add_argument("--throttle", type=float, nargs="+", default=[1.0, 4.0, 6.0])
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="phananh-bench-"))
    os.environ.update({"PHANANH_VAR_DIR": str(tmp), "PHANANH_DATABASE_URL": f"sqlite:///{tmp / 'bench.sqlite3'}"})

    from playwright.sync_api import sync_playwright

    import bot.webchat as webchat
    from bot.admission import Admission

    native = _native_rate()
    print(f"native (Python hashlib, one thread): {native:,.0f} hashes/s; a {args.bits}-bit puzzle ≈ {2**args.bits / native * 1000:.0f} ms")
    url, server = _serve()
    chromium = os.environ.get("PHANANH_CHROMIUM", "/usr/bin/chromium")
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=chromium,
            args=["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"],
        )
        for throttle in args.throttle:
            runs: dict[int, list[tuple[float, int | None]]] = {}
            for bits in (0, args.bits):
                webchat._admission = Admission(base_bits=bits, new_per_minute=10**9)
                _one(browser, url, throttle)  # warm-up: caches, the first connection
                runs[bits] = [_one(browser, url, throttle) for _ in range(args.runs)]
            base = statistics.median(t for t, _ in runs[0])
            rates = [(n + BATCH) / max(t - base, 1e-3) for t, n in runs[args.bits] if n is not None]
            rate = statistics.median(rates)
            with_puzzle = sorted(t for t, _ in runs[args.bits])
            print(
                f"Chromium, CPU ×{throttle:g}: page and first answer {base * 1000:.0f} ms; "
                f"{rate:,.0f} hashes/s (median of {len(rates)}); expected {args.bits}-bit puzzle "
                f"{2**args.bits / rate * 1000:.0f} ms; observed with puzzle: median {statistics.median(with_puzzle) * 1000:.0f} ms, "
                f"max {with_puzzle[-1] * 1000:.0f} ms"
            )
        browser.close()
    server.should_exit = True


if __name__ == "__main__":
    main()
