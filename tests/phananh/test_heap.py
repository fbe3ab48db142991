"""phananh.heap: what serve loaded at start is kept out of the cycle collector's full passes."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from phananh.web import create_app


@pytest.fixture()
def unfrozen() -> Iterator[None]:
    """Leaves the test process as it was: frozen objects are moved back after the test."""
    yield
    gc.unfreeze()


def test_serve_app_freezes_what_start_loaded(unfrozen: None) -> None:
    """After the app's start (serve's settle_heap), the objects alive then are frozen; a plain app freezes nothing."""
    gc.unfreeze()
    with TestClient(create_app()):
        assert gc.get_freeze_count() == 0
    with TestClient(create_app(settle_heap=True)) as client:
        assert gc.get_freeze_count() > 10_000, "the modules and what the start loaded are frozen"
        assert client.get("/").status_code == 200
