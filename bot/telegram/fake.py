"""A stand-in for Telegram's Bot API, for tests, the benchmark and trying the bot without Telegram.

`FakeTelegram` answers Bot API methods the way Telegram does (canned JSON shaped like the real
answers) and records every call. Put it behind python-telegram-bot in process with
`RecordingRequest`, or on loopback over real HTTP with `FakeBotAPIServer`, which also delivers
updates the two ways Telegram does: to a webhook with the secret token, or through getUpdates.
`Resident` writes the updates a person's Telegram client would cause, in their real JSON shape.
"""

from __future__ import annotations

import asyncio
import html
import itertools
import json
import re
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from telegram.request import BaseRequest, RequestData

BOT_TOKEN = "123456789:AAFakeTokenForTestsOnly-abcdefghijklm"
BOT_USERNAME = "phananh_test_bot"

# Parameters python-telegram-bot sends JSON-encoded in a form body (strings are sent as they are).
_JSON_PARAMS = {
    "chat_id", "message_id", "reply_markup", "allowed_updates", "commands", "link_preview_options", "offset",
    "limit", "timeout", "max_connections", "drop_pending_updates", "show_alert", "scope", "cache_time",
}  # fmt: skip
_TAG = re.compile(r"<[^>]+>")


@dataclass(frozen=True)
class Call:
    """One Bot API call: the method and its parameters."""

    method: str
    params: dict[str, Any]


@dataclass
class FakeTelegram:
    """The Bot API's answers and memory: messages sent, files held, updates waiting, the webhook."""

    token: str = BOT_TOKEN
    username: str = BOT_USERNAME
    local_dir: Path | None = None  # set: getFile answers like a --local server, with a path on disk
    calls: list[Call] = field(default_factory=list)
    files: dict[str, bytes] = field(default_factory=dict)
    pending: list[dict[str, Any]] = field(default_factory=list)
    webhook: tuple[str, str] | None = None
    messages: dict[tuple[int, int], dict[str, Any]] = field(default_factory=dict)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1000))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def bot_id(self) -> int:
        return int(self.token.split(":", 1)[0])

    def add_file(self, data: bytes) -> str:
        """Holds a file as if a resident had uploaded it; returns its file_id."""
        file_id = f"FILE{next(self._ids)}"
        self.files[file_id] = data
        return file_id

    def answer(self, method: str, params: dict[str, Any]) -> Any:
        """The `result` Telegram would give for this call (and records the call)."""
        with self._lock:
            self.calls.append(Call(method, params))
            handler = getattr(self, f"_m_{method}", None)
            if handler is None:
                return True
            return handler(params)

    def carry_out(self, response: httpx.Response) -> None:
        """Does what a webhook's HTTP answer asks (a method and its parameters), as Telegram does."""
        if response.status_code == 200 and response.headers.get("content-type", "").startswith("application/json"):
            call = dict(response.json())
            self.answer(call.pop("method"), call)

    def sent(self, method: str | None = None, chat_id: int | None = None) -> list[Call]:
        """The calls recorded, optionally of one method and one chat."""
        with self._lock:
            return [
                c for c in self.calls
                if (method is None or c.method == method) and (chat_id is None or int(c.params.get("chat_id", 0)) == chat_id)
            ]  # fmt: skip

    def texts(self, chat_id: int) -> list[str]:
        """The texts the bot sent to a chat, as the resident reads them (markup removed)."""
        return [plain(c.params["text"]) for c in self.sent("sendMessage", chat_id)]

    def button(self, chat_id: int, choice: str = "", *, label: str | None = None) -> tuple[dict[str, Any], dict[str, Any]] | None:
        """The newest message in a chat with a button for this choice (its payload's last part, or the whole
        payload), or with this label; and that button. None when no message shows one."""

        def matches(button: dict[str, Any]) -> bool:
            data = button.get("callback_data")
            if label is not None:
                return bool(button.get("text") == label and data)
            return data is not None and (data == choice or _choice(data) == choice)

        with self._lock:
            found = [
                (m, b) for (chat, _), m in self.messages.items() if chat == chat_id
                for row in (m.get("reply_markup") or {}).get("inline_keyboard", []) for b in row if matches(b)
            ]  # fmt: skip
        return max(found, key=lambda pair: pair[0]["message_id"]) if found else None

    # -- methods ------------------------------------------------------------------------------

    def _m_getMe(self, _p: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": self.bot_id, "is_bot": True, "first_name": "Phản ánh", "username": self.username,
            "can_join_groups": True, "can_read_all_group_messages": False, "supports_inline_queries": False,
        }  # fmt: skip

    def _message(self, params: dict[str, Any], message_id: int | None = None) -> dict[str, Any]:
        chat_id = int(params["chat_id"])
        message: dict[str, Any] = {
            "message_id": message_id or next(self._ids),
            "date": int(time.time()),
            "chat": {"id": chat_id, "type": "private" if chat_id > 0 else "group", "title": "" if chat_id > 0 else "Group"},
            "from": {"id": self.bot_id, "is_bot": True, "first_name": "Phản ánh", "username": self.username},
            "text": plain(str(params.get("text", ""))),
        }
        if params.get("reply_markup"):
            message["reply_markup"] = params["reply_markup"]
        self.messages[(chat_id, message["message_id"])] = message
        return message

    def _m_sendMessage(self, p: dict[str, Any]) -> dict[str, Any]:
        return self._message(p)

    def _m_editMessageText(self, p: dict[str, Any]) -> dict[str, Any]:
        return self._message(p, int(p["message_id"]))

    def _m_getFile(self, p: dict[str, Any]) -> dict[str, Any]:
        file_id = str(p["file_id"])
        data = self.files[file_id]
        result: dict[str, Any] = {"file_id": file_id, "file_unique_id": f"U{file_id}", "file_size": len(data)}
        if self.local_dir is not None:
            path = self.local_dir / "documents" / f"{file_id}.bin"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            result["file_path"] = str(path.resolve())
        else:
            result["file_path"] = f"documents/{file_id}.bin"
        return result

    def _m_setWebhook(self, p: dict[str, Any]) -> bool:
        self.webhook = (str(p["url"]), str(p.get("secret_token", "")))
        return True

    def _m_deleteWebhook(self, _p: dict[str, Any]) -> bool:
        self.webhook = None
        return True

    def _m_getWebhookInfo(self, _p: dict[str, Any]) -> dict[str, Any]:
        return {"url": self.webhook[0] if self.webhook else "", "has_custom_certificate": False, "pending_update_count": len(self.pending)}

    def _m_getUpdates(self, p: dict[str, Any]) -> list[dict[str, Any]]:
        offset = int(p.get("offset") or 0)
        # Telegram forgets the updates below the offset: they are confirmed.
        self.pending = [u for u in self.pending if u["update_id"] >= offset]
        return list(self.pending[: int(p.get("limit") or 100)])

    def download(self, path: str) -> bytes | None:
        """A file by the relative path getFile gave (recorded as a call named "download")."""
        name = path.rsplit("/", 1)[-1].removesuffix(".bin")
        with self._lock:
            self.calls.append(Call("download", {"path": path}))
        return self.files.get(name)

    def pending_count(self) -> int:
        with self._lock:
            return len(self.pending)


def _choice(data: str) -> str:
    """The choice a button's payload carries after the question's step and token ("review:k3f9:send" gives "send")."""
    parts = data.split(":", 2)
    return parts[2] if len(parts) == 3 and len(parts[1]) == 4 else data


def plain(text: str) -> str:
    """What a resident sees of an HTML message: tags gone, entities decoded."""
    return html.unescape(_TAG.sub("", text))


class RecordingRequest(BaseRequest):
    """python-telegram-bot's transport, answered in process by a FakeTelegram: no network at all."""

    def __init__(self, fake: FakeTelegram | None = None) -> None:
        self.fake = fake or FakeTelegram()

    @property
    def read_timeout(self) -> float | None:
        return 1.0

    async def initialize(self) -> None:
        """Nothing to open."""

    async def shutdown(self) -> None:
        """Nothing to close."""

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = None,
        write_timeout: Any = None,
        connect_timeout: Any = None,
        pool_timeout: Any = None,
    ) -> tuple[int, bytes]:
        """Answers a Bot API call, or a file download, from the fake."""
        if "/file/bot" in url:
            data = self.fake.download(url.split("/file/bot", 1)[1].split("/", 1)[1])
            return (200, data) if data is not None else (404, b"")
        endpoint = url.rsplit("/", 1)[1]
        params = dict(request_data.parameters) if request_data else {}
        result = self.fake.answer(endpoint, params)
        return 200, json.dumps({"ok": True, "result": result}).encode()


def tcp_socket(port: int) -> socket.socket:
    """A listening socket on loopback for uvicorn's `sockets=`.

    Created with proto IPPROTO_TCP: asyncio sets TCP_NODELAY only on such sockets, and without
    it every answer waits some 40 ms for a delayed ACK."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    return sock


class FakeBotAPIServer:
    """The fake on loopback over real HTTP, in a thread; delivers updates by webhook or getUpdates."""

    def __init__(self, fake: FakeTelegram | None = None, port: int = 0) -> None:
        self.fake = fake or FakeTelegram()
        self._sock = tcp_socket(port)
        self.port = int(self._sock.getsockname()[1])
        self.url = f"http://127.0.0.1:{self.port}"
        app = Starlette(
            routes=[
                Route("/bot{token}/{method}", self._method, methods=["GET", "POST"]),
                Route("/file/bot{token}/{path:path}", self._file, methods=["GET"]),
                Route("/_texts/{chat_id:int}", self._texts, methods=["GET"]),
                Route("/_button/{chat_id:int}/{choice:path}", self._button, methods=["GET"]),
            ]
        )
        config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._serve, name="fake-bot-api", daemon=True)
        self._client = httpx.Client(timeout=60)

    def _serve(self) -> None:
        asyncio.run(self._server.serve(sockets=[self._sock]))

    def start(self) -> FakeBotAPIServer:
        """Starts serving; returns when the port answers."""
        self._thread.start()
        deadline = time.time() + 10
        while not self._server.started:
            if time.time() > deadline:
                raise RuntimeError("fake Bot API did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self._client.close()

    async def _method(self, request: Request) -> Response:
        if request.path_params["token"] != self.fake.token:
            return JSONResponse({"ok": False, "error_code": 401, "description": "Unauthorized"}, status_code=401)
        params: dict[str, Any] = dict(request.query_params)
        if request.method == "POST":
            try:
                if request.headers.get("content-type", "").startswith("application/json"):
                    params.update(await request.json())
                else:
                    params.update((await request.form()).items())
                # python-telegram-bot sends reply_markup and its like as JSON text, in a form or a JSON body alike.
                for key in _JSON_PARAMS:
                    if isinstance(params.get(key), str):
                        params[key] = json.loads(params[key])
            except ClientDisconnect:
                return Response(status_code=499)  # the bot went away mid-request (killed, or shutting down)
        method = request.path_params["method"]
        if method == "getUpdates":
            # Long polling: wait for an update up to the timeout the client asked for.
            deadline = time.monotonic() + min(float(params.get("timeout") or 0), 5.0)
            while True:
                result = self.fake.answer(method, params)
                if result or time.monotonic() >= deadline:
                    break
                await asyncio.sleep(0.02)
        else:
            result = self.fake.answer(method, params)
        return JSONResponse({"ok": True, "result": result})

    async def _texts(self, request: Request) -> Response:
        """What the bot sent a chat, for a client in another process (the benchmark)."""
        return JSONResponse(self.fake.texts(int(request.path_params["chat_id"])))

    async def _button(self, request: Request) -> Response:
        """The newest message with a button for a choice, and its payload, for a client in another process
        (the benchmark's residents press what the bot showed them); 404 while none is there."""
        found = self.fake.button(int(request.path_params["chat_id"]), request.path_params["choice"])
        if found is None:
            return Response(status_code=404)
        message, button = found
        return JSONResponse({"message": message, "payload": button["callback_data"]})

    async def _file(self, request: Request) -> Response:
        data = self.fake.download(request.path_params["path"])
        return Response(data, media_type="application/octet-stream") if data is not None else Response(status_code=404)

    def deliver(self, update: dict[str, Any]) -> int | None:
        """Sends an update the way Telegram would: POST to the webhook, or queued for getUpdates.

        Returns the webhook's HTTP status, or None when the update was queued."""
        if self.fake.webhook is not None:
            url, secret = self.fake.webhook
            headers = {"X-Telegram-Bot-Api-Secret-Token": secret} if secret else {}
            response = self._client.post(url, json=update, headers=headers)
            self.fake.carry_out(response)
            return response.status_code
        with self.fake._lock:
            self.fake.pending.append(update)
        return None

    def wait_until(self, condition: Callable[[], bool], timeout: float = 20.0) -> None:
        """Waits for a condition on the fake (for polling, where delivery does not wait)."""
        deadline = time.time() + timeout
        while not condition():
            if time.time() > deadline:
                raise TimeoutError("the bot did not do what was expected in time")
            time.sleep(0.02)


class Resident:
    """A person writing to the bot: produces the JSON updates their Telegram client would cause."""

    _update_ids = itertools.count(500_000)
    _message_ids = itertools.count(1)

    def __init__(
        self,
        fake: FakeTelegram,
        user_id: int,
        *,
        first_name: str = "Lan",
        username: str = "lan_hanoi",
        language_code: str = "vi",
        chat: dict[str, Any] | None = None,
    ) -> None:
        self.fake = fake
        self.user = {"id": user_id, "is_bot": False, "first_name": first_name, "username": username, "language_code": language_code}
        self.chat = chat or {"id": user_id, "type": "private", "first_name": first_name, "username": username}

    @property
    def chat_id(self) -> int:
        return int(self.chat["id"])

    def _update(self, key: str, body: dict[str, Any]) -> dict[str, Any]:
        return {"update_id": next(self._update_ids), key: body}

    def _message(self, **content: Any) -> dict[str, Any]:
        return {"message_id": next(self._message_ids), "from": self.user, "chat": self.chat, "date": int(time.time()), **content}

    def text(self, text: str) -> dict[str, Any]:
        """A typed message; a leading /command carries its bot_command entity."""
        content: dict[str, Any] = {"text": text}
        if text.startswith("/"):
            content["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
        return self._update("message", self._message(**content))

    def edit(self, text: str) -> dict[str, Any]:
        """An edit of an earlier message."""
        return self._update("edited_message", {**self._message(text=text), "edit_date": int(time.time())})

    def buttons(self) -> list[str]:
        """The choices of the keyboard on the newest bot message in this chat that has one (each
        payload without the question it names: "{step}:{token}:{choice}" gives the choice)."""
        with self.fake._lock:
            keyed = [m for (chat, _), m in self.fake.messages.items() if chat == self.chat_id and m.get("reply_markup")]
        if not keyed:
            return []
        newest = max(keyed, key=lambda m: m["message_id"])
        return [_choice(b["callback_data"]) for row in newest["reply_markup"]["inline_keyboard"] for b in row if "callback_data" in b]

    def press(self, choice: str, *, label: str | None = None) -> dict[str, Any]:
        """A press on the newest button for this choice (or with this exact payload, or this label) that the bot sent to this chat."""
        found = self.fake.button(self.chat_id, choice, label=label)
        if found is None:
            raise LookupError(f"no button {label or choice!r} was offered in this chat")
        message, button = found
        query = {"id": str(next(self._update_ids)), "from": self.user, "message": message, "chat_instance": "42", "data": button["callback_data"]}
        return self._update("callback_query", query)

    def photo(self, data: bytes, caption: str = "") -> dict[str, Any]:
        """A photo as Telegram sends it: several sizes of one picture."""
        file_id = self.fake.add_file(data)
        small = self.fake.add_file(data[: max(1, len(data) // 4)])
        sizes = [
            {"file_id": small, "file_unique_id": f"U{small}", "width": 90, "height": 60, "file_size": len(data) // 4},
            {"file_id": file_id, "file_unique_id": f"U{file_id}", "width": 640, "height": 480, "file_size": len(data)},
        ]
        content: dict[str, Any] = {"photo": sizes}
        if caption:
            content["caption"] = caption
        return self._update("message", self._message(**content))

    def document(self, data: bytes, *, mime_type: str, file_name: str = "file", size: int | None = None) -> dict[str, Any]:
        """A file sent as a document (uncompressed: a photo keeps its EXIF this way)."""
        file_id = self.fake.add_file(data)
        doc = {"file_id": file_id, "file_unique_id": f"U{file_id}", "file_name": file_name, "mime_type": mime_type, "file_size": size or len(data)}
        return self._update("message", self._message(document=doc))

    def voice(self, data: bytes) -> dict[str, Any]:
        file_id = self.fake.add_file(data)
        voice = {"file_id": file_id, "file_unique_id": f"U{file_id}", "duration": 3, "mime_type": "audio/ogg", "file_size": len(data)}
        return self._update("message", self._message(voice=voice))

    def sticker(self) -> dict[str, Any]:
        sticker = {
            "file_id": "STICKER1", "file_unique_id": "USTICKER1", "type": "regular", "width": 512, "height": 512,
            "is_animated": False, "is_video": False, "emoji": "👍",
        }  # fmt: skip
        return self._update("message", self._message(sticker=sticker))

    def location(self) -> dict[str, Any]:
        return self._update("message", self._message(location={"latitude": 21.0278, "longitude": 105.8342}))

    def contact(self) -> dict[str, Any]:
        contact = {"phone_number": "+84912345678", "first_name": self.user["first_name"], "user_id": self.user["id"]}
        return self._update("message", self._message(contact=contact))

    def poll(self) -> dict[str, Any]:
        poll = {
            "id": "P1", "question": "?", "options": [{"persistent_id": "o1", "text": "a", "voter_count": 0}, {"persistent_id": "o2", "text": "b", "voter_count": 0}],
            "total_voter_count": 0, "is_closed": False, "is_anonymous": True, "type": "regular", "allows_multiple_answers": False,
            "allows_revoting": False, "members_only": False,
        }  # fmt: skip
        return self._update("message", self._message(poll=poll))
