"""The long-lived objects of a server process kept out of the cycle collector's full passes; and the allocator tuned.

After start, `serve` holds a few million objects that live as long as the process: the classifier's
vocabulary, the gazetteer of 3,321 communes and their old names, the word segmenter's model, the
modules. Python's full collection walks all of them: in a profile of `serve` under the Telegram
benchmark (December 2026) each one stopped every thread for 130 to 190 ms, and they came every few
seconds, so they made the 99th percentile. `settle()` moves what exists at the end of start into
the permanent generation (`gc.freeze`, as Instagram's Django servers do); later collections walk only
what requests create. Nothing frozen is freed by the cycle collector: it is called once per server
process (serve, after start; each Zalo worker process, once loaded), never in tests.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import logging

log = logging.getLogger(__name__)


def settle() -> int:
    """Collects what start left behind, then freezes the rest; returns how many objects were frozen."""
    gc.collect()
    gc.freeze()
    frozen = gc.get_freeze_count()
    log.info("%d objects from start kept out of the cycle collector", frozen)
    return frozen


M_MMAP_THRESHOLD, M_ARENA_MAX = -3, -8  # glibc's mallopt parameters
MMAP_THRESHOLD = 128 * 1024
ARENAS = 2


def tune_malloc() -> bool:
    """Keeps glibc's allocator from holding on to memory the server has freed; True when it applied.

    Two habits of glibc grew `serve` from 120 to over 300 MB PSS in 180 reports (bench.memory,
    December 2026): each thread that allocates gets an arena of its own (up to 8 per core), and
    after a large block is freed the size served by mmap rises to that block's, so the next Argon2
    hash's 19 MiB comes from an arena and stays there. A fixed mmap threshold and two arenas keep
    large blocks returned to the system at once; measured, 505 MB became 275 MB for serve and two
    Zalo workers after 180 reports, with no change in throughput seen. Call it before threads start.
    """
    name = ctypes.util.find_library("c")
    if not name:
        return False
    try:
        mallopt = ctypes.CDLL(name).mallopt
    except (OSError, AttributeError):  # not glibc (musl has no mallopt)
        return False
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(M_ARENA_MAX, ARENAS))
