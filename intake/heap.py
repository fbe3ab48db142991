"""The long-lived objects of a server process kept out of the cycle collector's full passes.

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
