"""The web chat channel: a mobile-first page at / talking to the engine through /api/chat."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request, Response, UploadFile
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel, Field

from bot.admission import Admission, SharedArrivals
from bot.assets import Assets
from intake.attachments import store_attachment
from intake.config import get_settings
from intake.conversation import Conversation
from intake.db import session_scope
from intake.dialog.types import AttachmentInfo, Inbound, Reply
from intake.errors import InvalidInputError
from intake.i18n import N_, normalize_language, translator
from intake.ratelimit import Rate, get_limiter

log = logging.getLogger(__name__)

COOKIE = "pa_chat"
templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
STATIC = Assets(Path(__file__).parent / "static", "/static/chat")


router = APIRouter()
conversation = Conversation(channel="web")

# Over the pace the page shows these and puts the message back in the box. TOO_FAST is Telegram's and Zalo's.
TOO_FAST = N_("You are sending messages too quickly. Please wait a minute, then continue: nothing you have written is lost.")
TOO_BUSY = N_("Many people are writing to us right now. Please wait a minute, then send your message again: it is still in the box.")
PREPARING = N_("Preparing a secure conversation…")


class Pace:
    """A sliding minute per chat, on the deployment's limiter (`intake.ratelimit`): counted once however
    many servers run, in this process's memory or in Redis.

    Only the chat's id keys a count (hashed before it is stored, never an address). There is no budget
    shared by all chats: one that a flood could spend would close the chat to everyone; new chats pay a
    proof of work instead (bot/admission.py).
    """

    PER_CHAT = "web-chat"

    def admit(self, chat_id: str, *, per_chat: int) -> bool:
        """Counts one message of a chat; False when the chat is over its pace."""
        return get_limiter().hit(Rate(self.PER_CHAT, per_chat), chat_id)

    def clear(self) -> None:
        get_limiter().reset()


pace = Pace()
_admission: Admission | None = None


def admission() -> Admission:
    """The web chat's gate for new chats, built from the settings at first use."""
    global _admission
    if _admission is None:
        s = get_settings()
        # Counted on the deployment's limiter: several servers raise the difficulty together.
        ceiling = s.web_chat_new_chats_per_minute * 2**s.web_chat_pow_max_extra_bits + 1
        _admission = Admission(
            base_bits=s.web_chat_pow_bits, new_per_minute=s.web_chat_new_chats_per_minute,
            max_extra_bits=s.web_chat_pow_max_extra_bits, arrivals=SharedArrivals(get_limiter(), ceiling),
        )
    return _admission


def reset_admission() -> None:
    """Forgets the gate (tests, or settings changed)."""
    global _admission
    _admission = None


def _paced(chat_id: str, lang: str | None) -> JSONResponse | None:
    """The polite 429 when this chat is over its pace; None to go on."""
    if pace.admit(chat_id, per_chat=get_settings().web_chat_messages_per_minute):
        return None
    log.info("web chat message over the per-chat limit")
    text = translator(normalize_language(lang))._(TOO_FAST)
    return JSONResponse(
        {"error": "rate_limited", "message": text, "replies": [{"text": text, "buttons": []}]},
        status_code=429,
        headers={"Retry-After": "60"},
    )


class Proof(BaseModel):
    """The page's answer to the puzzle it was given for a new chat."""

    challenge: str = Field(max_length=120)
    nonce: str = Field(max_length=20)


class ChatIn(BaseModel):
    """One thing the resident did in the page."""

    # No length of its own: the engine refuses, politely and with the draft kept, what is over
    # PHANANH_MAX_MESSAGE_CHARS (the page's maxlength), and the body limit (PHANANH_MAX_BODY_KB) bounds the rest.
    text: str = ""
    button: str | None = Field(default=None, max_length=100)
    resume: bool = False
    lang: str | None = Field(default=None, max_length=10)
    proof: Proof | None = None


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
    chat_id = _chat_id(request)
    if chat_id is not None:
        conversation.receipt_shown(chat_id, body.receipt)
    return Response(status_code=204)


def _chat_id(request: Request) -> str | None:
    """The chat the request's cookie names, if the server issued that cookie."""
    return Admission.chat_from_cookie(request.cookies.get(COOKIE))


def _challenge(lang: str | None) -> JSONResponse:
    """A fresh puzzle instead of replies: the page solves it and sends its message again with the answer.

    Not an error status: every new resident meets it, and a browser logs a 4xx as an error.
    """
    puzzle = admission().challenge()
    text = translator(normalize_language(lang))._(PREPARING)
    return JSONResponse({"challenge": puzzle.text, "bits": puzzle.bits, "message": text, "replies": []})


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
def page(request: Request) -> Response:
    """The chat page; its strings come translated from the server, its script from /static."""
    lang = normalize_language(request.query_params.get("lang") or request.headers.get("accept-language", "vi")[:2])
    context = {"lang": lang, "_": translator(lang)._, "max_chars": get_settings().max_message_chars, "asset": STATIC.url}
    return templates.TemplateResponse(request, "chat.html", context)


@router.post("/api/chat")
def post_chat(body: ChatIn, request: Request) -> JSONResponse:
    """Steps the resident's conversation; a server-issued cookie names it, and it lives in the database.

    A request without a valid cookie starts a new chat only with a solved puzzle (bot/admission.py);
    otherwise it gets one instead of replies, and nothing is stepped.
    """
    chat_id = _chat_id(request)
    new = chat_id is None
    if chat_id is None:
        chat_id = admission().redeem(body.proof.challenge, body.proof.nonce) if body.proof else None
        if chat_id is None:
            return _challenge(body.lang)
    refused = _paced(chat_id, body.lang)
    if refused is not None:
        return refused  # nothing stepped: the draft is as it was, and the page keeps what was typed
    message = Inbound(text=body.text, button=body.button, resume=body.resume)
    replies = conversation.handle(chat_id, message, lang=normalize_language(body.lang))
    response = _answer(chat_id, replies)
    if new:
        response.set_cookie(
            COOKIE,
            Admission.cookie_for(chat_id),
            max_age=60 * 60 * 24 * 2,
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
        )
    return response


@router.post("/api/chat/upload")
async def upload(file: UploadFile, request: Request) -> JSONResponse:
    """Takes one evidence file for the resident's conversation (metadata removed, encrypted)."""
    chat_id = _chat_id(request)
    if chat_id is None:
        return _challenge(request.query_params.get("lang"))  # a file comes within a chat, never first
    refused = _paced(chat_id, request.query_params.get("lang"))
    if refused is not None:
        return refused
    t = translator(normalize_language(request.query_params.get("lang")))
    limit = get_settings().max_attachment_mb * 2**20
    data = await file.read(limit + 1)
    if not data or len(data) > limit:
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
