"""StreamRequest, the Bot API transport: keep-alive HTTP/1.1 on asyncio streams, against local servers."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from telegram import Bot, InputFile
from telegram.error import NetworkError, TimedOut
from telegram.request import RequestData

from bot.telegram.fake import BOT_TOKEN, FakeBotAPIServer
from bot.telegram.transport import StreamRequest
from tests.tls import self_signed

OK = b'{"ok":true,"result":true}'


@dataclass
class Seen:
    """One request as a local server read it."""

    method: str
    target: str
    headers: dict[str, str]
    body: bytes
    connection: int


Answer = Callable[[Seen, asyncio.StreamWriter], Awaitable[bool]]  # writes the answer; False closes the connection


@dataclass
class Server:
    """A small HTTP/1.1 server on loopback whose answers each test writes by hand, byte for byte."""

    answer: Answer
    seen: list[Seen] = field(default_factory=list)
    connections: int = 0
    port: int = 0
    writers: list[asyncio.StreamWriter] = field(default_factory=list)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        number = self.connections
        self.writers.append(writer)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                request_line, *lines = head.decode("latin-1").split("\r\n")
                method, target, _version = request_line.split(" ")
                headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines if line)}
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                self.seen.append(Seen(method, target, headers, body, number))
                if not await self.answer(self.seen[-1], writer):
                    break
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    def url(self, scheme: str = "http") -> str:
        return f"{scheme}://127.0.0.1:{self.port}/bot{BOT_TOKEN}/getMe"


@pytest.fixture()
async def serve() -> AsyncIterator[Callable[..., Awaitable[Server]]]:
    servers: list[asyncio.base_events.Server] = []

    async def start(answer: Answer, ssl_context: ssl.SSLContext | None = None) -> Server:
        server = Server(answer)
        listening = await asyncio.start_server(server._handle, "127.0.0.1", 0, ssl=ssl_context)
        server.port = listening.sockets[0].getsockname()[1]
        servers.append(listening)
        return server

    yield start
    for listening in servers:
        listening.close()


async def ok(_seen: Seen, writer: asyncio.StreamWriter) -> bool:
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(OK), OK))
    return True


def _data(**values: object) -> RequestData:
    from telegram.request._requestparameter import RequestParameter

    return RequestData([RequestParameter.from_input(k, v) for k, v in values.items()])


async def test_a_bot_talks_to_the_fake_bot_api_and_reuses_one_connection() -> None:
    """python-telegram-bot's calls go through: a message sent, its fields parsed; one kept-alive connection."""
    server = FakeBotAPIServer().start()
    try:
        request = StreamRequest()
        async with Bot(BOT_TOKEN, base_url=f"{server.url}/bot", request=request) as bot:
            for n in range(3):
                sent = await bot.send_message(42, f"Xin chào <b>{n}</b> &amp; ạ", parse_mode="HTML")
                assert sent.chat.id == 42
            assert len(request._idle) == 1, "the connection is kept for the next call"
        calls = server.fake.sent("sendMessage", 42)
        assert [c.params["text"] for c in calls] == [f"Xin chào <b>{n}</b> &amp; ạ" for n in range(3)]
    finally:
        server.stop()


async def test_the_request_is_form_encoded_with_json_values(serve: Callable[..., Awaitable[Server]]) -> None:
    """The body is what HTTPXRequest sends: form fields, each a JSON value (a keyboard as JSON text)."""
    server = await serve(ok)
    async with StreamRequest() as request:
        markup = {"inline_keyboard": [[{"text": "Có", "callback_data": "yes"}]]}
        status, body = await request.do_request(server.url(), "POST", _data(chat_id=7, text="Tố cáo ạ", reply_markup=markup))
        assert (status, body) == (200, OK)
        seen = server.seen[0]
        assert seen.method == "POST" and seen.target == f"/bot{BOT_TOKEN}/getMe"
        assert seen.headers["content-type"] == "application/x-www-form-urlencoded"
        assert seen.headers["host"] == f"127.0.0.1:{server.port}"
        from urllib.parse import parse_qs

        form = {k: v[0] for k, v in parse_qs(seen.body.decode()).items()}
        assert form["chat_id"] == "7" and form["text"] == "Tố cáo ạ"
        assert form["reply_markup"].startswith("{") and "yes" in form["reply_markup"]


async def test_chunked_answers_and_split_packets_are_read_whole(serve: Callable[..., Awaitable[Server]]) -> None:
    """A chunked body arriving in small pieces is joined; the connection is kept after it."""

    async def chunked(_seen: Seen, writer: asyncio.StreamWriter) -> bool:
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        for piece in (OK[:5], OK[5:]):
            writer.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            await writer.drain()
            await asyncio.sleep(0.01)
        writer.write(b"0\r\n\r\n")
        return True

    server = await serve(chunked)
    async with StreamRequest() as request:
        assert await request.do_request(server.url(), "POST", _data(chat_id=1)) == (200, OK)
        assert await request.do_request(server.url(), "POST", _data(chat_id=1)) == (200, OK)
        assert server.connections == 1


async def test_connection_close_and_error_statuses(serve: Callable[..., Awaitable[Server]]) -> None:
    """An answer with `Connection: close` is read and its connection not reused; a 4xx is returned, not raised."""

    async def closing(seen: Seen, writer: asyncio.StreamWriter) -> bool:
        body = b'{"ok":false,"error_code":400,"description":"Bad Request: chat not found"}'
        writer.write(b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
        return False

    server = await serve(closing)
    async with StreamRequest() as request:
        for _ in range(2):
            status, body = await request.do_request(server.url(), "POST", _data(chat_id=1))
            assert status == 400 and b"chat not found" in body
        assert server.connections == 2 and not request._idle


async def test_an_idle_connection_closed_by_the_server_is_replaced(serve: Callable[..., Awaitable[Server]]) -> None:
    """The server closes a kept-alive connection while idle: the next call goes on a new one, sent once."""
    server = await serve(ok)
    async with StreamRequest() as request:
        assert (await request.do_request(server.url(), "POST", _data(chat_id=1)))[0] == 200
        for writer in server.writers:
            writer.close()
        await asyncio.sleep(0.05)
        assert (await request.do_request(server.url(), "POST", _data(chat_id=2)))[0] == 200
        assert [s.connection for s in server.seen] == [1, 2] and len(server.seen) == 2


async def test_a_server_that_dies_mid_answer_is_a_network_error(serve: Callable[..., Awaitable[Server]]) -> None:
    """Half an answer then a closed connection: NetworkError (the call may have been carried out), never a retry."""

    async def half(_seen: Seen, writer: asyncio.StreamWriter) -> bool:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{\"ok\"")
        return False

    server = await serve(half)
    async with StreamRequest() as request:
        with pytest.raises(NetworkError, match="mid-answer"):
            await request.do_request(server.url(), "POST", _data(chat_id=1))
        assert len(server.seen) == 1


async def test_garbage_instead_of_http_is_a_network_error(serve: Callable[..., Awaitable[Server]]) -> None:
    """An answer that is not HTTP is refused with a NetworkError, and its connection dropped."""

    async def garbage(_seen: Seen, writer: asyncio.StreamWriter) -> bool:
        writer.write(b"SSH-2.0-OpenSSH_9.2\r\n\r\n")
        return True

    server = await serve(garbage)
    async with StreamRequest() as request:
        with pytest.raises(NetworkError, match="not valid HTTP"):
            await request.do_request(server.url(), "POST", _data(chat_id=1))
        assert not request._idle


async def test_timeouts_are_timed_out(serve: Callable[..., Awaitable[Server]]) -> None:
    """A silent server: TimedOut after the read timeout; a full pool: TimedOut saying nothing was sent."""

    async def silent(_seen: Seen, _writer: asyncio.StreamWriter) -> bool:
        await asyncio.sleep(5)
        return False

    server = await serve(silent)
    async with StreamRequest(connection_pool_size=1, read_timeout=0.2, pool_timeout=0.1) as request:
        with pytest.raises(TimedOut):
            await request.do_request(server.url(), "POST", _data(chat_id=1))
        busy = asyncio.create_task(request.do_request(server.url(), "POST", _data(chat_id=2), read_timeout=2.0))
        await asyncio.sleep(0.05)
        with pytest.raises(TimedOut, match="not sent"):
            await request.do_request(server.url(), "POST", _data(chat_id=3))
        busy.cancel()


async def test_a_cancelled_call_frees_its_connection_slot(serve: Callable[..., Awaitable[Server]]) -> None:
    """A call cancelled while waiting (a typing indicator stopped) closes its connection and frees its slot."""
    answers = iter([False, True])

    async def slow_then_ok(seen: Seen, writer: asyncio.StreamWriter) -> bool:
        if next(answers) is False:
            await asyncio.sleep(5)
            return False
        return await ok(seen, writer)

    server = await serve(slow_then_ok)
    async with StreamRequest(connection_pool_size=1, pool_timeout=0.5) as request:
        call = asyncio.create_task(request.do_request(server.url(), "POST", _data(chat_id=1)))
        await asyncio.sleep(0.05)
        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call
        assert await request.do_request(server.url(), "POST", _data(chat_id=2)) == (200, OK)
        assert server.connections == 2


async def test_no_server_is_a_network_error() -> None:
    """A refused connection is a NetworkError that names no address or token."""
    async with StreamRequest(connect_timeout=1.0) as request:
        with pytest.raises(NetworkError) as caught:
            await request.do_request(f"http://127.0.0.1:9/bot{BOT_TOKEN}/getMe", "POST", _data(chat_id=1))
        assert BOT_TOKEN not in str(caught.value)


async def test_https_checks_the_certificate(serve: Callable[..., Awaitable[Server]], tmp_path: Path) -> None:
    """Over https a trusted certificate works and an unknown one is refused (no silent plain text, no skipped check)."""
    cert_file, key_file = self_signed(tmp_path)
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert_file, key_file)
    server = await serve(ok, server_tls)

    async with StreamRequest(ssl_context=ssl.create_default_context(cafile=str(cert_file))) as trusting:
        assert await trusting.do_request(server.url("https"), "POST", _data(chat_id=1)) == (200, OK)
        assert await trusting.do_request(server.url("https"), "POST", _data(chat_id=1)) == (200, OK)
        assert server.connections == 1

    async with StreamRequest() as default:
        with pytest.raises(NetworkError):
            await default.do_request(server.url("https"), "POST", _data(chat_id=1))


async def test_uploads_go_through_httpx_as_multipart(serve: Callable[..., Awaitable[Server]]) -> None:
    """A call with a file is sent as multipart/form-data (by PTB's HTTPXRequest), its file intact."""
    server = await serve(ok)
    async with StreamRequest() as request:
        data = _data(chat_id=1, document=InputFile(b"%PDF-1.7 test", filename="bien-ban.pdf"))
        assert data.contains_files
        assert await request.do_request(server.url(), "POST", data) == (200, OK)
        seen = server.seen[0]
        assert seen.headers["content-type"].startswith("multipart/form-data") and b"%PDF-1.7 test" in seen.body


def test_a_proxy_in_the_environment_is_honoured(monkeypatch: pytest.MonkeyPatch) -> None:
    """HTTPS_PROXY for the Bot API's host: calls go through httpx, which uses it; NO_PROXY or none: StreamRequest."""
    from telegram.request import HTTPXRequest

    from bot.telegram.transport import request_for

    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy", "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    assert isinstance(request_for("https://api.telegram.org/bot"), StreamRequest)
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    assert isinstance(request_for("https://api.telegram.org/bot", read_timeout=30.0), HTTPXRequest)
    assert isinstance(request_for("http://127.0.0.1:8081/bot"), StreamRequest), "a local Bot API server over http is not proxied"
    monkeypatch.setenv("NO_PROXY", "api.telegram.org")
    assert isinstance(request_for("https://api.telegram.org/bot"), StreamRequest)


async def test_connections_to_two_servers_are_kept_apart(serve: Callable[..., Awaitable[Server]]) -> None:
    """Calls alternating between the Bot API and a separate file server each reuse their own connection."""
    api, files = await serve(ok), await serve(ok)
    async with StreamRequest(connection_pool_size=2) as request:
        for _ in range(3):
            for server in (api, files):
                assert (await request.do_request(server.url(), "POST", _data(chat_id=1)))[0] == 200
        assert (api.connections, files.connections) == (1, 1)
        assert len(request._idle) == 2


async def test_a_file_path_with_spaces_and_diacritics_is_percent_encoded(serve: Callable[..., Awaitable[Server]]) -> None:
    """A download URL with a space or a Vietnamese letter goes out percent-encoded, the rest unchanged."""
    server = await serve(ok)
    async with StreamRequest() as request:
        url = f"http://127.0.0.1:{server.port}/file/bot{BOT_TOKEN}/documents/biên bản 1.pdf"
        assert (await request.do_request(url, "GET"))[0] == 200
        assert server.seen[0].method == "GET"
        assert server.seen[0].target == f"/file/bot{BOT_TOKEN}/documents/bi%C3%AAn%20b%E1%BA%A3n%201.pdf"
