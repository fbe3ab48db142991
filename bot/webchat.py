"""The web chat channel: a mobile-first page at / talking to the engine through /api/chat."""

from __future__ import annotations

import logging
import re
import threading
import time
from collections import OrderedDict, deque
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request, Response, UploadFile
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel, Field

from bot.assets import Assets
from intake.attachments import store_attachment
from intake.config import get_settings
from intake.conversation import Conversation
from intake.crypto import token
from intake.db import session_scope
from intake.dialog.types import AttachmentInfo, Inbound, Reply
from intake.errors import InvalidInputError
from intake.i18n import N_, normalize_language, translator

log = logging.getLogger(__name__)

COOKIE = "pa_chat"
_COOKIE_RE = re.compile(r"^[A-Za-z0-9_\-]{20,64}$")
templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
STATIC = Assets(Path(__file__).parent / "static", "/static/chat")
router = APIRouter()
conversation = Conversation(channel="web")

# Over the pace the page shows these and puts the message back in the box. TOO_FAST is Telegram's and Zalo's.
TOO_FAST = N_("You are sending messages too quickly. Please wait a minute, then continue: nothing you have written is lost.")
TOO_BUSY = N_("Many people are writing to us right now. Please wait a minute, then send your message again: it is still in the box.")


class Pace:
    """Sliding-minute counts in memory: one per chat cookie, one for all web chats together.

    Only the cookie's value keys a count (never an address). Keys are bounded: the least recently
    seen chat is forgotten first, so random cookies cannot grow the table without end.
    """

    def __init__(self, *, window: float = 60.0, max_chats: int = 50_000) -> None:
        self.window = window
        self.max_chats = max_chats
        self._chats: OrderedDict[str, deque[float]] = OrderedDict()
        self._all: deque[float] = deque()
        self._lock = threading.Lock()  # sync routes run in a thread pool

    def admit(self, chat_id: str, *, per_chat: int, overall: int, now: float | None = None) -> str | None:
        """Counts one message; None when it may go on, else "chat" or "all" for the limit it passed."""
        now = time.monotonic() if now is None else now
        cutoff = now - self.window
        with self._lock:
            while self._all and self._all[0] <= cutoff:
                self._all.popleft()
            mine = self._chats.pop(chat_id, None) or deque()
            while mine and mine[0] <= cutoff:
                mine.popleft()
            self._chats[chat_id] = mine
            while len(self._chats) > self.max_chats:
                self._chats.popitem(last=False)
            if len(mine) >= per_chat:
                return "chat"
            if len(self._all) >= overall:
                return "all"
            mine.append(now)
            self._all.append(now)
            return None

    def clear(self) -> None:
        with self._lock:
            self._chats.clear()
            self._all.clear()


pace = Pace()


def _paced(chat_id: str, lang: str | None) -> JSONResponse | None:
    """The polite 429 when this chat, or all web chats together, are over their pace; None to go on."""
    settings = get_settings()
    over = pace.admit(chat_id, per_chat=settings.web_chat_messages_per_minute, overall=settings.web_chat_global_per_minute)
    if over is None:
        return None
    log.info("web chat message over the %s limit", over)
    notice = TOO_FAST if over == "chat" else TOO_BUSY
    text = translator(normalize_language(lang))._(notice)
    return JSONResponse(
        {"error": "rate_limited", "message": text, "replies": [{"text": text, "buttons": []}]},
        status_code=429,
        headers={"Retry-After": "60"},
    )


class ChatIn(BaseModel):
    """One thing the resident did in the page."""

    # No length of its own: the engine refuses, politely and with the draft kept, what is over
    # PHANANH_MAX_MESSAGE_CHARS (the page's maxlength), and the body limit (PHANANH_MAX_BODY_KB) bounds the rest.
    text: str = ""
    button: str | None = Field(default=None, max_length=100)
    resume: bool = False
    lang: str | None = Field(default=None, max_length=10)


def _reply_json(reply: Reply) -> dict[str, Any]:
    data: dict[str, Any] = {
        "text": reply.text,
        "buttons": [{"label": b.label, "payload": b.payload} for b in reply.buttons],
    }
    if reply.receipt:
        data["receipt"], data["passphrase"], data["received_on"] = reply.receipt, reply.passphrase, reply.received_on
    if reply.secret_answer:
        data["secret"] = True  # the page shows the answer to this question masked in its transcript
    return data


def _answer(chat_id: str, replies: list[Reply]) -> JSONResponse:
    """The replies as the page reads them.

    A receipt among them stays pending in the draft until the page says it showed it
    (POST /api/chat/receipt, sent once the receipt is on screen): a response lost on its way, a
    server killed before sending it, or a page closed first all leave it pending, and the page's
    next message (a reload sends `resume`) shows it again.
    """
    return JSONResponse({"replies": [_reply_json(r) for r in replies]})


class ReceiptShown(BaseModel):
    """The page's word that a receipt is on the resident's screen."""

    receipt: str = Field(max_length=20)


@router.post("/api/chat/receipt", status_code=204)
def receipt_shown(body: ReceiptShown, request: Request) -> Response:
    """Forgets a receipt the page has shown (a no-op for anything else: nothing to learn by guessing)."""
    chat_id, new = _chat_id(request)
    if not new:
        conversation.receipt_shown(chat_id, body.receipt)
    return Response(status_code=204)


def _chat_id(request: Request) -> tuple[str, bool]:
    raw = request.cookies.get(COOKIE, "")
    if _COOKIE_RE.match(raw):
        return raw, False
    return token(24), True


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
def page(request: Request) -> Response:
    """The chat page; its strings come translated from the server, its script from /static."""
    lang = normalize_language(request.query_params.get("lang") or request.headers.get("accept-language", "vi")[:2])
    context = {"lang": lang, "_": translator(lang)._, "max_chars": get_settings().max_message_chars, "asset": STATIC.url}
    return templates.TemplateResponse(request, "chat.html", context)


@router.post("/api/chat")
def post_chat(body: ChatIn, request: Request) -> JSONResponse:
    """Steps the resident's conversation; a cookie names it, and it lives in the database."""
    chat_id, new = _chat_id(request)
    refused = _paced(chat_id, body.lang)
    if refused is not None:
        return refused  # nothing stepped: the draft is as it was, and the page keeps what was typed
    message = Inbound(text=body.text, button=body.button, resume=body.resume)
    replies = conversation.handle(chat_id, message, lang=normalize_language(body.lang))
    response = _answer(chat_id, replies)
    if new:
        response.set_cookie(
            COOKIE,
            chat_id,
            max_age=60 * 60 * 24 * 2,
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
        )
    return response


@router.post("/api/chat/upload")
async def upload(file: UploadFile, request: Request) -> JSONResponse:
    """Takes one evidence file for the resident's conversation (metadata removed, encrypted)."""
    chat_id, new = _chat_id(request)
    refused = _paced(chat_id, request.query_params.get("lang"))
    if refused is not None:
        return refused
    t = translator(normalize_language(request.query_params.get("lang")))
    limit = get_settings().max_attachment_mb * 2**20
    data = await file.read(limit + 1)
    if new or not data or len(data) > limit:
        message = t._("This file could not be received. Files must be at most {mb} MB.", mb=get_settings().max_attachment_mb)
        return JSONResponse({"replies": [{"text": message, "buttons": []}]}, status_code=400)
    content_type = (file.content_type or "application/octet-stream").split(";")[0].strip().lower()
    kind = "photo" if content_type.startswith("image/") else "video" if content_type.startswith("video/") else "document"
    try:
        with session_scope() as session:
            stored = store_attachment(
                session, data=data, content_type=content_type, kind=kind, dialog_id=conversation.dialog_id(session, chat_id)
            )
            info = AttachmentInfo(id=stored.id, kind=kind, metadata_removed=stored.metadata_removed)  # type: ignore[arg-type]
    except InvalidInputError:
        message = t._("This file could not be read. Please send a photo (JPEG, PNG) or a document.")
        return JSONResponse({"replies": [{"text": message, "buttons": []}]}, status_code=400)
    replies = conversation.handle(chat_id, Inbound(attachments=(info,)))
    return _answer(chat_id, replies)
