"""Operations that must not hurt (issue 15, item 8): how `phananh serve` starts, refuses, and ends."""

from __future__ import annotations

import os
import secrets
import signal
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
import sqlalchemy as sa
from pydantic import ValidationError

from bot.zalo import fake as zalo
from intake.config import Settings
from tests.servers import ROOT, Serve, command_env, free_port, phananh, serving

PG_URL = os.environ.get("PHANANH_TEST_DATABASE_URL", "")


def _sqlite_env(tmp_path: Path, **settings: str) -> dict[str, str]:
    """A fresh var dir and SQLite database of the test's own."""
    return command_env(tmp_path / "var", PHANANH_DATABASE_URL=f"sqlite:///{tmp_path / 'var' / 'db.sqlite3'}", **settings)


@pytest.mark.parametrize("args", [["serve", "--port", "0"], ["db", "upgrade"], ["worker", "--once"]])
def test_an_unreachable_database_is_one_line_and_exit_status_2(tmp_path: Path, args: list[str]) -> None:
    """No database at the address: `phananh cannot start: …` on one line, exit status 2, no traceback."""
    url = f"postgresql://nobody@127.0.0.1:{free_port()}/nothing_here"
    done = phananh(*args, env=command_env(tmp_path / "var", PHANANH_DATABASE_URL=url), timeout=60)
    assert done.returncode == 2, done.stderr[-2000:]
    lines = [line for line in done.stderr.splitlines() if line.startswith("phananh cannot start")]
    assert len(lines) == 1 and "the database cannot be reached" in lines[0] and "Connection refused" in lines[0]
    assert "Traceback" not in done.stderr and len(done.stderr.splitlines()) <= 3


@pytest.mark.parametrize("args", [["serve", "--port", "0"], ["db", "upgrade"]])
def test_a_sqlite_file_that_cannot_be_made_is_one_line_and_exit_status_2(tmp_path: Path, args: list[str]) -> None:
    """Seen: a SQLite path whose folder cannot be created (/proc/…) gave an 81-line traceback and exit status 1."""
    env = command_env(tmp_path / "var", PHANANH_DATABASE_URL="sqlite:////proc/phananh-nowhere/db.sqlite3")
    done = phananh(*args, env=env, timeout=60)
    assert done.returncode == 2, done.stderr[-2000:]
    lines = [line for line in done.stderr.splitlines() if line.startswith("phananh cannot start")]
    assert len(lines) == 1 and "/proc/phananh-nowhere" in lines[0]
    assert "Traceback" not in done.stderr and len(done.stderr.splitlines()) <= 3


def test_production_names_every_missing_setting_at_once(tmp_path: Path) -> None:
    """No secret key, no encryption key, half a Zalo set-up: one line naming all four."""
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "PYTHONPATH": str(ROOT), "PHANANH_ENV": "production",
           "PHANANH_ZALO_APP_ID": "12345"}  # fmt: skip
    done = subprocess.run([sys.executable, "-m", "phananh.cli", "serve"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    line = done.stderr.strip().splitlines()[-1]
    for name in ("PHANANH_SECRET_KEY", "PHANANH_ENCRYPTION_KEYS", "PHANANH_ZALO_OA_SECRET_KEY", "PHANANH_ZALO_APP_SECRET"):
        assert name in line, line


@pytest.mark.parametrize(
    "secret",
    ["s" * 64, "abcdabcdabcdabcdabcdabcdabcdabcdabcdabcd", secrets.token_urlsafe(16), secrets.token_hex(16), "Mật khẩu của Ủy ban 2026!"],
)
def test_production_refuses_a_secret_key_under_32_random_bytes(secret: str) -> None:
    """A typed word, a repeated pattern or a short random key: refused, saying how to make one."""
    with pytest.raises(ValidationError, match="at least 32 random bytes"):
        Settings(_env_file=None, env="production", secret_key=secret, encryption_keys="k")  # type: ignore[call-arg,arg-type]


@pytest.mark.parametrize("secret", [secrets.token_urlsafe(32), secrets.token_hex(32), secrets.token_urlsafe(48)])
def test_production_takes_a_secret_key_of_32_random_bytes(secret: str) -> None:
    """What the documented commands make is accepted."""
    assert Settings(_env_file=None, env="production", secret_key=secret, encryption_keys="k").env == "production"  # type: ignore[call-arg,arg-type]


def test_a_second_serve_on_a_busy_port_stops_before_it_changes_anything(tmp_path: Path) -> None:
    """The port is taken: exit 2 saying so, and no database created, nothing migrated, no background job started."""
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = phananh("serve", "--host", "127.0.0.1", "--port", str(port), env=_sqlite_env(tmp_path), timeout=60)
    assert done.returncode == 2, done.stderr[-2000:]
    assert f"127.0.0.1:{port} is in use" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "var" / "db.sqlite3").exists(), "nothing was created or migrated"
    assert "alembic" not in done.stderr and "outbox" not in done.stderr


def test_a_second_server_without_shared_limits_is_refused(tmp_path: Path) -> None:
    """Two servers on one database would each count the limits alone: the second is refused unless both use Redis."""
    env = _sqlite_env(tmp_path, PHANANH_OUTBOX_IN_SERVE="false")
    if PG_URL:
        env["PHANANH_DATABASE_URL"] = PG_URL
    with serving(env, tmp_path / "first.log"):
        done = phananh("serve", "--host", "127.0.0.1", "--port", str(free_port()), env=env, timeout=120)
    assert done.returncode == 2, done.stderr[-2000:]
    assert "another phananh serve runs on this database" in done.stderr and "PHANANH_REDIS_URL" in done.stderr


def _workers(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def _alive(proc: psutil.Process) -> bool:
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


@pytest.mark.slow
@pytest.mark.parametrize("moment", ["as the workers start", "once serving"])
def test_no_child_outlives_serve_killed_with_sigkill(tmp_path: Path, moment: str) -> None:
    """SIGKILL to serve with Zalo's worker processes, as they start or once serving: within seconds no child of it is left."""
    env = _sqlite_env(
        tmp_path,
        PHANANH_ZALO_APP_ID=zalo.APP_ID, PHANANH_ZALO_OA_SECRET_KEY=zalo.OA_SECRET, PHANANH_ZALO_APP_SECRET=zalo.APP_SECRET,
        PHANANH_ZALO_WORKER_PROCESSES="2", PHANANH_ZALO_API_BASE=f"http://127.0.0.1:{free_port()}",
        PHANANH_ZALO_OAUTH_BASE=f"http://127.0.0.1:{free_port()}",
    )  # fmt: skip
    phananh("db", "upgrade", "--no-classifier", env=env)
    server = Serve(env, tmp_path / "serve.log")
    try:
        seen: list[psutil.Process] = []
        deadline = time.monotonic() + 120
        if moment == "once serving":
            server.wait_ready()
        while len(seen) < 2 and time.monotonic() < deadline and server.proc.poll() is None:
            seen = _workers(server.proc.pid)
            time.sleep(0.01)
        assert len(seen) >= 2, server.text()[-3000:]
        server.proc.send_signal(signal.SIGKILL)
        server.proc.wait(10)
        deadline = time.monotonic() + 10
        while any(_alive(p) for p in seen) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert [p.pid for p in seen if _alive(p)] == [], "children of the killed server are still running"
    finally:
        server.stop()
        for proc in _workers(server.proc.pid):
            proc.kill()


def test_var_dir_database_and_checkpoint_are_readable_by_the_owner_only(tmp_path: Path) -> None:
    """Under the usual umask 022: var/ is 0700, the SQLite database and its -wal 0600, the audit checkpoint 0600."""
    env = _sqlite_env(tmp_path)
    previous = os.umask(0o022)
    try:
        assert phananh("db", "upgrade", "--no-classifier", env=env).returncode == 0
        added = phananh("staff", "add", "can_bo", "--committee", "26743", "--role", "officer", env=env)  # an audited action
        assert added.returncode == 0, added.stderr
        verified = phananh("audit", "verify", env=env)
        assert verified.returncode == 0 and "1 rows verified" in verified.stdout, verified.stdout
    finally:
        os.umask(previous)
    var = tmp_path / "var"
    modes = {p.relative_to(var).as_posix(): stat.S_IMODE(p.stat().st_mode) for p in [var, *var.rglob("*")]}
    assert modes["."] == 0o700
    assert modes["db.sqlite3"] == 0o600 and modes["audit/checkpoint"] == 0o600 and modes["audit"] == 0o700
    assert all(mode & 0o077 == 0 for mode in modes.values()), modes


def test_the_test_suite_refuses_a_database_not_named_for_tests(tmp_path: Path) -> None:
    """PHANANH_TEST_DATABASE_URL naming an ordinary database: the run stops before its schema is dropped."""
    if not PG_URL:
        pytest.skip("needs PostgreSQL (PHANANH_TEST_DATABASE_URL)")
    name = f"phananh_guard_{secrets.token_hex(4)}"
    admin = sa.create_engine(sa.engine.make_url(PG_URL).set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    target = sa.engine.make_url(PG_URL).set(drivername="postgresql+psycopg", database=name)
    try:
        probe = sa.create_engine(target)
        with probe.begin() as conn:
            conn.execute(sa.text("CREATE TABLE precious (x int)"))
        env = {**os.environ, "PHANANH_TEST_DATABASE_URL": target.render_as_string(hide_password=False).replace("+psycopg", "")}
        done = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/phananh/test_health.py::test_healthz_answers_whatever_else_is_wrong"],
            env=env, cwd=ROOT, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        assert done.returncode != 0 and "does not say it is for tests" in done.stdout + done.stderr
        with probe.connect() as conn:
            assert conn.execute(sa.text("SELECT count(*) FROM precious")).scalar() == 0, "the table is still there"
        probe.dispose()
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.mark.slow
def test_the_test_suite_leaves_nothing_in_the_temporary_directory(tmp_path: Path) -> None:
    """A run with tmp_path, a server child process and its database: its TMPDIR is empty afterwards."""
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    env = {**os.environ, "TMPDIR": str(scratch)}
    env.pop("PHANANH_VAR_DIR", None)
    tests = ["tests/phananh/test_startup.py::test_var_dir_database_and_checkpoint_are_readable_by_the_owner_only",
             "tests/bot/test_webchat.py::test_killed_server_resumes_the_conversation"]  # fmt: skip
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *tests], env=env, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:]
    assert sorted(p.name for p in scratch.iterdir()) == []
