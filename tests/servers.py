"""`phananh serve` (and other commands) as child processes, for the tests that need a real server."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def command_env(var_dir: Path, **settings: str) -> dict[str, str]:
    """This process's environment for a child, with its own var dir and the given PHANANH_ settings."""
    env = {**os.environ, "PHANANH_VAR_DIR": str(var_dir), "PYTHONPATH": str(ROOT)}
    env.update(settings)
    return env


def phananh(*args: str, env: dict[str, str], timeout: float = 180, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """Runs one `phananh` command to its end."""
    return subprocess.run(
        [sys.executable, "-m", "phananh.cli", *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=timeout, input=stdin
    )


class Serve:
    """One `phananh serve` child process on a free loopback port, its log in a file."""

    def __init__(self, env: dict[str, str], log: Path, port: int | None = None) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        self._out = log.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "phananh.cli", "serve", "--host", "127.0.0.1", "--port", str(self.port)],
            env=env, cwd=ROOT, stdout=self._out, stderr=subprocess.STDOUT,
        )

    def wait_ready(self, timeout: float = 180) -> float:
        """Seconds until /readyz answers 200; raises with the log when the server exits or never gets ready."""
        began = time.monotonic()
        while time.monotonic() - began < timeout:
            if self.proc.poll() is not None:
                raise AssertionError(f"serve exited with {self.proc.returncode}:\n{self.text()[-3000:]}")
            try:
                if httpx.get(f"{self.url}/readyz", timeout=5).status_code == 200:
                    return time.monotonic() - began
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"serve not ready in {timeout:.0f} s:\n{self.text()[-3000:]}")

    def text(self) -> str:
        self._out.flush()
        return self.log.read_text(encoding="utf-8", errors="replace")

    def stop(self, timeout: float = 60) -> int:
        """SIGTERM, then SIGKILL if it does not end; the exit status."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self._out.close()
        return int(self.proc.returncode)


@contextmanager
def serving(env: dict[str, str], log: Path, port: int | None = None) -> Iterator[Serve]:
    """A server ready to answer, stopped at the end."""
    server = Serve(env, log, port)
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()
