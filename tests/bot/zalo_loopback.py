"""The fake Zalo (bot.zalo.fake.FakeZalo) served over real HTTP on loopback, for senders in another process.

A send may be given a delay that stands for the request still being on its way to Zalo: a client
that is gone when the delay ends (its process killed) never reached Zalo, and nothing is shown.
Once the fake has taken a message, it is shown, whatever becomes of the client afterwards.
"""

from __future__ import annotations

import asyncio
import threading
import time

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bot.telegram.fake import tcp_socket
from bot.zalo.client import SEND_PATH
from bot.zalo.fake import FakeZalo


class FakeZaloServer:
    """FakeZalo on 127.0.0.1 in a thread; counts sends that arrived and those whose sender died on the way."""

    def __init__(self, fake: FakeZalo, *, delay: float = 0.0) -> None:
        self.fake = fake
        self.delay = delay
        self.arrived = 0  # send requests received
        self.dropped = 0  # of those, the ones whose client had gone when the delay ended
        self._sock = tcp_socket(0)
        self.url = f"http://127.0.0.1:{self._sock.getsockname()[1]}"
        app = Starlette(routes=[Route("/{path:path}", self._any, methods=["GET", "POST"])])
        self._server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off"))
        self._thread = threading.Thread(target=lambda: asyncio.run(self._server.serve(sockets=[self._sock])), daemon=True)

    def start(self) -> FakeZaloServer:
        self._thread.start()
        deadline = time.time() + 10
        while not self._server.started:
            if time.time() > deadline:
                raise RuntimeError("fake Zalo server did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)

    async def _any(self, request: Request) -> Response:
        body = await request.body()
        if request.url.path == SEND_PATH and self.delay:
            self.arrived += 1
            await asyncio.sleep(self.delay)
            if await request.is_disconnected():
                self.dropped += 1
                return Response(status_code=499)
        forwarded = httpx.Request(request.method, str(request.url), headers=dict(request.headers), content=body)
        answer = await run_in_threadpool(self.fake.handle, forwarded)
        return Response(answer.content, status_code=answer.status_code, media_type=answer.headers.get("content-type", "application/json"))
