"""What `phananh serve` checks and prepares before it answers, cheapest and least harmful first.

A server that cannot run must stop before it changes anything: the port is taken first (a second
server on a busy port stops before it migrates or starts background work), then the database must
answer, then no other server may be running that would share this one's limits. Each refusal is one
line and exit status 2 (`phananh.logging.refuse`). Then set-up (migrations, the committee tree, the
first admin; once however many servers start together), the classifier and the gazetteer loaded,
and the Zalo worker processes forked from this loaded process before any thread starts.
"""

from __future__ import annotations

import errno
import logging
import socket

from typing import TYPE_CHECKING

import sqlalchemy as sa

from intake.config import Settings
from phananh.logging import refuse

if TYPE_CHECKING:
    import uvicorn

    from intake.locks import ReplicaLock

log = logging.getLogger(__name__)

BACKLOG = 2048  # uvicorn's default


def listen(host: str, port: int) -> socket.socket:
    """A socket bound and listening on the address, or a refusal when it is taken."""
    try:
        family, kind, proto, _name, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        sock = socket.socket(family, kind, proto)
    except OSError as err:
        refuse(f"cannot listen on {host}:{port}: {err.strerror or type(err).__name__}")
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(BACKLOG)  # listening now: a second server's bind fails even with SO_REUSEADDR
    except OSError as err:
        sock.close()
        if err.errno == errno.EADDRINUSE:
            refuse(f"{host}:{port} is in use (is another phananh serve running?); choose another with --port or PHANANH_PORT")
        refuse(f"cannot listen on {host}:{port}: {err.strerror or type(err).__name__}")
    sock.set_inheritable(False)
    return sock


def web_server(config: uvicorn.Config, sock: socket.socket) -> uvicorn.Server:
    """uvicorn's server on the socket taken at start, saying where it serves once it does (uvicorn is silent
    about a socket it is given)."""
    import uvicorn

    class Server(uvicorn.Server):
        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await super().startup(sockets=sockets)
            if self.started:
                host, port = sock.getsockname()[:2]
                logging.getLogger("uvicorn.error").info("Uvicorn running on http://%s:%d (Press CTRL+C to quit)", host, port)

    return Server(config)


def name_server(port: int) -> None:
    """Names this server on the inbox leases it takes: its host and port, so that a restart takes its own leases up at once."""
    from bot.zalo.inbox import set_server_name

    set_server_name(f"{socket.gethostname()}:{port}")


def database_reason(err: BaseException) -> str:
    """The first line of a database driver's error: where and why, never a password (libpq leaves it out)."""
    original = getattr(err, "orig", None) or err
    text = str(original).strip().splitlines()
    return text[0] if text else type(original).__name__


def check_database() -> None:
    """Refuses to start when the database does not answer."""
    from intake.db import get_engine

    try:
        with get_engine().connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except (sa.exc.DBAPIError, OSError) as err:  # OSError: a SQLite file whose folder cannot be made
        refuse(f"the database cannot be reached: {database_reason(err)}")


def hold_replica_lock(settings: Settings) -> ReplicaLock:
    """Refuses to start beside another server unless both share their limits through Redis; returns the held lock."""
    from intake.locks import ReplicaLock
    from intake.ratelimit import check_store

    shared = bool(settings.redis_url.get_secret_value())
    if shared:
        problem = check_store(settings)
        if problem:
            refuse(f"PHANANH_REDIS_URL does not answer: {problem}")
    lock = ReplicaLock(shared=shared)
    if not lock.acquire():
        if shared:
            refuse("another phananh serve runs on this database without PHANANH_REDIS_URL: set it on every server")
        refuse(
            "another phananh serve runs on this database. To run several, give every one of them "
            "PHANANH_REDIS_URL, so that they count the rate limits together"
        )
    return lock


def load_models() -> None:
    """Loads what every conversation needs (classifier, word segmenter, gazetteer, routing rules, story reader) now, not at the first message."""
    from intake.dialog.tools import DEFAULT_TOOLS

    DEFAULT_TOOLS.warm()


def fork_zalo_workers(settings: Settings) -> list[int]:
    """Forks Zalo's worker processes from this loaded process (before any thread starts); their pids."""
    from bot.zalo.channel import warm_job
    from bot.zalo.webhook import enabled
    from bot.zalo.workers import start_workers

    if not enabled(settings) or settings.zalo_worker_processes == 0:
        return []
    pids = start_workers(settings.zalo_worker_processes, warm_job)
    log.info("zalo: %s worker processes started", len(pids))
    return pids
