"""The reference deployment: Debian's Caddy, with deploy/phananh.caddy, in front of `phananh serve` over https."""

from __future__ import annotations

import shutil
import signal
import ssl
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from phananh.middleware import HSTS
from intake.dialog.buttons import read_payload
from tests.bot.test_webchat import plain_answer
from tests.chat import chat_post
from tests.servers import ROOT, command_env, free_port, serving

CADDY = shutil.which("caddy") or "/usr/bin/caddy"
MARKER = "Chủ tịch xã Tân Lộc nhận phong bì 7 triệu đồng ở nhà riêng"

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not Path(CADDY).exists(), reason="Debian's caddy package is not installed")]


def _caddyfile(tmp: Path, https_port: int, upstream: int) -> Path:
    """The test's Caddyfile: Caddy's internal CA on loopback, phananh's site from deploy/ as it ships."""
    path = tmp / "Caddyfile"
    path.write_text(
        f"{{\n\timport {ROOT / 'deploy' / 'phananh-global.caddy'}\n\tadmin off\n\tlocal_certs\n\tskip_install_trust\n\tauto_https disable_redirects\n"
        f"\thttp_port {free_port()}\n\thttps_port {https_port}\n\tstorage file_system {tmp / 'caddy-data'}\n}}\n\n"
        f"import {ROOT / 'deploy' / 'phananh.caddy'}\n\n"
        f"https://localhost:{https_port} {{\n\ttls internal\n\timport phananh 127.0.0.1:{upstream}\n}}\n",
        encoding="utf-8",
    )
    return path


def test_a_report_over_https_through_caddy(tmp_path: Path) -> None:
    """Filed over https through Caddy: security headers and HSTS on every answer, the cookie Secure (X-Forwarded-Proto
    honoured), monitoring not public, and Caddy's logs without a request body, a cookie or an address."""
    https_port = free_port()
    env = command_env(
        tmp_path / "var", PHANANH_DATABASE_URL=f"sqlite:///{tmp_path / 'var' / 'db.sqlite3'}", PHANANH_PUBLIC_URL=f"https://localhost:{https_port}"
    )
    with serving(env, tmp_path / "serve.log") as server:
        access_log = tmp_path / "access.log"
        caddy_env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "XDG_DATA_HOME": str(tmp_path / "xdg"), "XDG_CONFIG_HOME": str(tmp_path / "xdg"),
                     "PHANANH_CADDY_LOG": str(access_log)}  # fmt: skip
        config = _caddyfile(tmp_path, https_port, server.port)
        with (tmp_path / "caddy.log").open("wb") as out:
            caddy = subprocess.Popen([CADDY, "run", "--config", str(config), "--adapter", "caddyfile"], env=caddy_env, stdout=out, stderr=subprocess.STDOUT)
        try:
            root = tmp_path / "caddy-data" / "pki" / "authorities" / "local" / "root.crt"
            base = f"https://localhost:{https_port}"
            deadline = time.monotonic() + 60
            while not root.exists() and time.monotonic() < deadline and caddy.poll() is None:
                time.sleep(0.1)
            assert root.exists(), (tmp_path / "caddy.log").read_text()[-2000:]
            with httpx.Client(base_url=base, verify=ssl.create_default_context(cafile=str(root)), timeout=60) as client:
                while time.monotonic() < deadline:
                    try:
                        page = client.get("/")
                        break
                    except httpx.ConnectError:
                        time.sleep(0.2)
                assert page.status_code == 200 and page.url.scheme == "https", (tmp_path / "caddy.log").read_text()[-3000:]
                for name in ("content-security-policy", "x-frame-options", "x-content-type-options", "referrer-policy"):
                    assert name in page.headers, name
                assert page.headers["strict-transport-security"] == HSTS
                sent: list[dict[str, object]] = []

                def post(body: dict[str, object], shown: list[dict[str, Any]]) -> list[dict[str, Any]]:
                    """Posts one message (a button as the replies shown offered it) and checks the answer's headers."""
                    if isinstance(body.get("button"), str) and read_payload(str(body["button"])) is None:
                        body = {**body, "button": next(b["payload"] for r in shown for b in r["buttons"] if b["payload"].endswith(f":{body['button']}"))}
                    answer = chat_post(client, "/api/chat", **body)
                    assert answer.status_code == 200, answer.text
                    assert answer.headers["strict-transport-security"] == HSTS
                    if "set-cookie" in answer.headers:
                        cookie = answer.headers["set-cookie"]
                        assert "Secure" in cookie and "HttpOnly" in cookie, cookie
                    sent.append(body)
                    return answer.json()["replies"]  # type: ignore[no-any-return]

                replies: list[dict[str, Any]] = []
                for body in ({"resume": True}, {"button": "menu:report"}, {"button": "mode:anonymous"}, {"text": MARKER}):
                    replies = post(body, replies)
                while body := plain_answer(replies):  # then whatever is asked, plainly, to the receipt
                    replies = post(body, replies)
                assert any(r.get("receipt") for r in replies), replies
                chat_cookie = next(iter(client.cookies.values()))
                assert client.get("/metrics").status_code == 404 and client.get("/readyz").status_code == 404
                assert client.get("/healthz").status_code == 200
        finally:
            caddy.send_signal(signal.SIGTERM)
            caddy.wait(30)
    logged = access_log.read_text(encoding="utf-8") + (tmp_path / "caddy.log").read_text(encoding="utf-8")
    assert access_log.read_text(encoding="utf-8").count('"/api/chat"') >= len(sent), "the access log has its lines (and the puzzle's)"
    assert MARKER not in logged and MARKER.encode("unicode_escape").decode() not in logged and "Tân Lộc" not in logged
    assert chat_cookie not in logged and "remote_ip" not in logged and "client_ip" not in logged
