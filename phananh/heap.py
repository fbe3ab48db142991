"""serve's app settles its heap once started (see intake.heap)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI

from intake.heap import settle


@asynccontextmanager
async def _settle_after_start(_app: FastAPI) -> AsyncIterator[None]:
    settle()
    yield


def router() -> APIRouter:
    """A router with no routes whose lifespan settles the heap; included last, it runs after the
    other routers' start (the classifier and the gazetteer loaded by the bots' warm-up)."""
    return APIRouter(lifespan=_settle_after_start)
