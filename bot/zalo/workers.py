"""The Zalo channel's worker processes: forked from the loaded server, and never outliving it.

`phananh serve` loads the classifier, the word segmenter and the gazetteer, then forks the workers
before it starts a thread (`start_workers`): they share those pages with the server, copy-on-write,
instead of each loading its own copy (about 150 MB a worker when they were spawned afresh). A pool
that must be made again later (a worker died) is spawned instead: forking a process that runs
threads can leave a lock held forever in the child.

A worker asks the kernel to kill it when the server dies (`PR_SET_PDEATHSIG`), even by SIGKILL,
and checks at once that the server it was started for is still its parent: a server killed before
the worker got that far leaves no orphan either.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor

from intake.db import use_pool_of
from intake.heap import settle, tune_malloc

log = logging.getLogger(__name__)

NICENESS = 10
_PR_SET_PDEATHSIG = 1
_prestarted: ProcessPoolExecutor | None = None


def die_with_parent(parent: int) -> None:
    """Ends this process when `parent` dies: the kernel's parent-death signal, and a watch as a fallback."""
    libc_name = ctypes.util.find_library("c")
    if libc_name:
        libc = ctypes.CDLL(libc_name, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    # The parent may have died before the line above: then this process was handed to init already.
    if os.getppid() != parent:
        os._exit(0)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(0)

    threading.Thread(target=watch, name="zalo-parent-watch", daemon=True).start()


def _start_worker(parent: int, warm: Callable[[], None]) -> None:
    """Set-up of a worker process: tied to the server's life, the server's logging, lower priority, its own
    connections, what it needs loaded."""
    die_with_parent(parent)
    # A spawned worker (a pool made again after a crash, or no pool forked at start) starts with no
    # logging: "case filed via zalo" and "attachment stored" were lost. The same set-up as serve's, its
    # privacy filters included; a forked worker has it already, and this changes nothing there.
    from phananh.logging import configure

    configure()
    # Ctrl-C reaches the whole process group: the server decides when its workers stop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    try:
        os.nice(NICENESS)  # the web server's answers are what Zalo times: they come first
    except OSError:  # not allowed here: run at the same priority
        pass
    use_pool_of("worker")  # a forked worker must not touch the server's connections
    tune_malloc()  # inherited when forked; a spawned worker sets it here
    # Loaded already when forked from the server; a spawned worker loads here. A failure must not
    # break the pool (every queued event would fail): the first event loads.
    try:
        warm()
    except Exception as err:  # noqa: BLE001 - logged; the worker still serves
        log.warning("zalo worker warm-up failed: %s", type(err).__name__)
    settle()


def _ready() -> int:
    return os.getpid()


def start_workers(processes: int, warm: Callable[[], None]) -> list[int]:
    """Forks the worker processes now, sharing what this process has loaded; returns their pids.

    Call it before any thread starts: `serve` does, once the classifier and the gazetteer are loaded.
    The channel takes this pool when it makes its executor.
    """
    global _prestarted
    if threading.active_count() > 1:
        log.warning("zalo workers forked while %s threads run", threading.active_count())
    warm()
    settle()  # what is loaded now is never touched by the cycle collector: its pages stay shared
    context = multiprocessing.get_context("fork")
    executor = ProcessPoolExecutor(max_workers=processes, mp_context=context, initializer=_start_worker, initargs=(os.getpid(), warm))
    pids = sorted({f.result() for f in [executor.submit(_ready) for _ in range(processes)]})
    _prestarted = executor
    return pids


def make_executor(processes: int, warm: Callable[[], None]) -> ProcessPoolExecutor:
    """The pool forked at start when there is one, else a new pool of spawned workers (a fresh interpreter each)."""
    global _prestarted
    if _prestarted is not None and processes > 0:
        executor, _prestarted = _prestarted, None
        return executor
    context = multiprocessing.get_context("spawn")
    return ProcessPoolExecutor(max_workers=processes, mp_context=context, initializer=_start_worker, initargs=(os.getpid(), warm))
