"""The Bot API transport: python-telegram-bot's `BaseRequest` on asyncio streams and httptools.

Why not PTB's own `HTTPXRequest`: profiling `phananh serve` under the webhook benchmark (December
2026) found the event loop spending about half of its time inside httpx and httpcore, which shares
one interpreter lock with the conversation steps. Measured on loopback against the fake Bot API
(`python -m bench.telegram --calls`), one `send_message` through PTB costs 0.79-0.86 ms of CPU with
`HTTPXRequest` and 0.29-0.34 ms through this class, most of which is PTB's own work.

What it does: HTTP/1.1 with keep-alive, at most `connection_pool_size` connections at a time,
TLS with certificate checks for https, and PTB's four timeouts (connect, write, read between bytes,
wait for a free connection). Its answers are parsed by httptools (llhttp, the parser uvicorn
already uses here), so lengths, chunked bodies and keep-alive follow the standard, not this file.

What it leaves to `HTTPXRequest`: uploads (multipart bodies), which phananh's bot does not make
today but a PTB method may; and everything when the environment names a proxy for the Bot API's
host (`HTTPS_PROXY`, `ALL_PROXY`…, as httpx honours them), for a server that can reach Telegram
only through one (`request_for`). Requests and answers are never logged: they carry chat ids and
text, and the URL carries the bot token.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections import deque
from typing import Any
from urllib.parse import quote, urlencode, urlsplit
from urllib.request import getproxies, proxy_bypass

import httptools
from telegram._utils.defaultvalue import DefaultValue
from telegram._utils.types import ODVInput
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, HTTPXRequest, RequestData

DEFAULT_POOL_SIZE = 8
KEEPALIVE_SECONDS = 15.0  # an idle connection older than this is closed rather than reused
_CHUNK = 65536


class _Answer:
    """httptools' callbacks for one HTTP answer: its body, whether it is complete, and whether the
    connection may carry another request (llhttp tells only inside the callback)."""

    __slots__ = ("body", "complete", "keep_alive", "parser")

    def __init__(self) -> None:
        self.body: list[bytes] = []
        self.complete = False
        self.keep_alive = False
        self.parser: Any = httptools.HttpResponseParser(self)

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        self.complete = True
        self.keep_alive = self.parser.should_keep_alive()


class _Stale(Exception):
    """A reused connection closed by the server before it answered a single byte."""


class _Connection:
    __slots__ = ("answered", "idle_since", "origin", "reader", "writer")

    def __init__(self, origin: tuple[str, str, int], reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.origin = origin
        self.reader = reader
        self.writer = writer
        self.idle_since = time.monotonic()
        self.answered = 0  # requests answered on it: a reused connection may have been closed while idle

    def usable(self, now: float) -> bool:
        """Whether this idle connection can take another request (not closed, not too old)."""
        return not self.reader.at_eof() and not self.writer.is_closing() and now - self.idle_since < KEEPALIVE_SECONDS

    def close(self) -> None:
        self.writer.close()


class StreamRequest(BaseRequest):
    """Bot API calls over keep-alive HTTP/1.1 connections of asyncio streams, parsed by httptools."""

    def __init__(
        self,
        *,
        connection_pool_size: int = DEFAULT_POOL_SIZE,
        connect_timeout: float | None = 5.0,
        read_timeout: float | None = 5.0,
        write_timeout: float | None = 5.0,
        pool_timeout: float | None = 1.0,
        media_write_timeout: float | None = 20.0,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self._size = connection_pool_size
        self._connect_timeout = connect_timeout
        self._read_timeout = read_timeout
        self._write_timeout = write_timeout
        self._pool_timeout = pool_timeout
        self._media_write_timeout = media_write_timeout
        self._ssl = ssl_context
        self._idle: deque[_Connection] = deque()
        self._slots: asyncio.Semaphore | None = None
        self._closed = False
        self._uploads: HTTPXRequest | None = None

    @property
    def read_timeout(self) -> float | None:
        """The read timeout used when a call gives none (PTB adds it to getUpdates' long poll)."""
        return self._read_timeout

    async def initialize(self) -> None:
        """Opens for calls (again, after a shutdown); connections are made as they are needed."""
        self._closed = False
        if self._uploads is not None:
            await self._uploads.initialize()

    async def shutdown(self) -> None:
        """Closes the idle connections; calls still running finish and close theirs."""
        self._closed = True
        while self._idle:
            self._idle.pop().close()
        self._slots = None
        if self._uploads is not None:
            await self._uploads.shutdown()

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        write_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        connect_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        pool_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        """Makes one HTTP call and returns its status and body; raises TimedOut or NetworkError."""
        if self._closed:
            raise RuntimeError("This StreamRequest is not initialized!")
        if request_data is not None and request_data.contains_files:
            return await self._upload(url, method, request_data, read_timeout, write_timeout, connect_timeout, pool_timeout)
        origin, message = _http_request(url, method, self.USER_AGENT, request_data)
        timeouts = (
            _given(connect_timeout, self._connect_timeout),
            _given(write_timeout, self._write_timeout),
            _given(read_timeout, self._read_timeout),
        )
        slots = self._slots
        if slots is None:
            slots = self._slots = asyncio.Semaphore(self._size)
        try:
            async with asyncio.timeout(_given(pool_timeout, self._pool_timeout)):
                await slots.acquire()
        except TimeoutError as err:
            raise TimedOut(
                "Pool timeout: all connections to the Bot API are busy; the request was not sent."
            ) from err
        try:
            connection = self._take(origin)
            if connection is not None:
                try:
                    return await self._exchange(connection, message, timeouts)
                except _Stale:
                    pass  # the server had closed it while idle and read nothing: a new connection
            # A new connection is never stale: its failures are NetworkError or TimedOut.
            return await self._exchange(await self._connect(origin, timeouts[0]), message, timeouts)
        finally:
            slots.release()

    def _take(self, origin: tuple[str, str, int]) -> _Connection | None:
        """The most recently used idle connection to `origin` that can still be used (closing the
        ones that cannot; those to another origin, such as a separate file server, stay)."""
        now = time.monotonic()
        for i in range(len(self._idle) - 1, -1, -1):
            connection = self._idle[i]
            if not connection.usable(now):
                del self._idle[i]
                connection.close()
            elif connection.origin == origin:
                del self._idle[i]
                return connection
        return None

    async def _connect(self, origin: tuple[str, str, int], timeout: float | None) -> _Connection:
        scheme, host, port = origin
        context = None
        if scheme == "https":
            context = self._ssl = self._ssl or _default_ssl_context()
        try:
            async with asyncio.timeout(timeout):
                reader, writer = await asyncio.open_connection(host, port, ssl=context, server_hostname=host if context else None)
        except TimeoutError as err:
            raise TimedOut("Timed out connecting to the Bot API server") from err
        except OSError as err:
            raise NetworkError(f"could not connect to the Bot API server: {type(err).__name__}") from err
        return _Connection(origin, reader, writer)

    async def _exchange(self, connection: _Connection, message: bytes, timeouts: tuple[float | None, ...]) -> tuple[int, bytes]:
        """Sends one request on `connection` and reads its answer; keeps the connection if it may be reused."""
        reused = connection.answered > 0
        answer = _Answer()
        parser = answer.parser
        received = False
        keep = False
        try:
            connection.writer.write(message)
            try:
                async with asyncio.timeout(timeouts[1]):
                    await connection.writer.drain()
            except TimeoutError as err:
                raise TimedOut("Timed out sending to the Bot API server") from err
            while not answer.complete:
                try:
                    async with asyncio.timeout(timeouts[2]):
                        data = await connection.reader.read(_CHUNK)
                except TimeoutError as err:
                    raise TimedOut("Timed out waiting for the Bot API server's answer") from err
                if not data:
                    if not received and reused:
                        raise _Stale()
                    raise NetworkError("the Bot API server closed the connection mid-answer")
                received = True
                parser.feed_data(data)
            keep = answer.keep_alive
            connection.answered += 1
            return parser.get_status_code(), b"".join(answer.body)
        except (ConnectionResetError, BrokenPipeError) as err:
            if not received and reused:
                raise _Stale() from err
            raise NetworkError(f"the Bot API connection failed: {type(err).__name__}") from err
        except OSError as err:
            raise NetworkError(f"the Bot API connection failed: {type(err).__name__}") from err
        except httptools.HttpParserError as err:
            raise NetworkError("the Bot API server's answer is not valid HTTP") from err
        finally:
            answer.parser = None  # the parser and its callbacks refer to each other: freed now, not by the cycle collector
            # An unfinished exchange (an error, a cancelled typing indicator) leaves the connection
            # in an unknown state: it is closed, never reused.
            if keep and not self._closed:
                connection.idle_since = time.monotonic()
                self._idle.append(connection)
                if len(self._idle) > self._size:
                    self._idle.popleft().close()  # the least recently used
            else:
                connection.close()

    async def _upload(
        self,
        url: str,
        method: str,
        request_data: RequestData,
        read_timeout: ODVInput[float],
        write_timeout: ODVInput[float],
        connect_timeout: ODVInput[float],
        pool_timeout: ODVInput[float],
    ) -> tuple[int, bytes]:
        """A multipart upload, made by PTB's HTTPXRequest."""
        if self._uploads is None:
            self._uploads = HTTPXRequest(
                connection_pool_size=2,
                read_timeout=self._read_timeout,
                write_timeout=self._write_timeout,
                connect_timeout=self._connect_timeout,
                pool_timeout=self._pool_timeout,
                media_write_timeout=self._media_write_timeout,
            )
            await self._uploads.initialize()
        return await self._uploads.do_request(url, method, request_data, read_timeout, write_timeout, connect_timeout, pool_timeout)


def request_for(url: str, **options: float | int | None) -> BaseRequest:
    """The transport for calls to `url`: StreamRequest, or HTTPXRequest when the environment routes
    that host through a proxy (StreamRequest speaks only directly to the server)."""
    scheme, host = urlsplit(url).scheme.lower(), urlsplit(url).hostname or ""
    proxies = getproxies()
    if (proxies.get(scheme) or proxies.get("all")) and not proxy_bypass(host):
        return HTTPXRequest(**options)  # type: ignore[arg-type]
    return StreamRequest(**options)  # type: ignore[arg-type]


def _http_request(url: str, method: str, user_agent: str, request_data: RequestData | None) -> tuple[tuple[str, str, int], bytes]:
    """The server a call goes to (scheme, host, port) and the HTTP/1.1 request's bytes."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        raise NetworkError(f"unsupported Bot API address scheme: {scheme or 'none'}")
    default_port = 443 if scheme == "https" else 80
    port = parts.port or default_port
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    if not target.isascii() or " " in target:
        target = quote(target, safe="/?=&%:@!$'()*+,;~-._")  # as httpx would: a file path with a space or a diacritic
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname  # an IPv6 address
    if port != default_port:
        host += f":{port}"
    head = f"{method} {target} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: {user_agent}\r\nAccept: application/json\r\n"
    body = b""
    if method == "POST":
        body = urlencode(request_data.json_parameters).encode() if request_data is not None else b""
        head += f"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {len(body)}\r\n"
    return (scheme, parts.hostname, port), head.encode("latin-1") + b"\r\n" + body


def _given(value: ODVInput[float], default: float | None) -> float | None:
    return default if isinstance(value, DefaultValue) else value


def _default_ssl_context() -> ssl.SSLContext:
    """Certificates checked against certifi's list (as httpx does), else the system's."""
    try:
        import certifi
    except ImportError:  # pragma: no cover - certifi comes with httpx
        return ssl.create_default_context()
    return ssl.create_default_context(cafile=certifi.where())

