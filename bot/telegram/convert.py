"""What a Telegram update means for phananh: a message for the engine, a file to fetch, or nothing.

Pure functions over python-telegram-bot's `Update`: nothing here keeps a user id, a username or
a name. The chat id leaves as a string for the runner, which only ever stores its keyed hash.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Literal

from telegram import Bot, CallbackQuery, Message, MessageEntity, Update

from intake.dialog.types import Inbound

log = logging.getLogger(__name__)

# The updates the bot asks Telegram for; anything else is acknowledged and dropped.
ALLOWED_UPDATES = ("message", "edited_message", "callback_query")

# What python-telegram-bot raises on JSON of a shape it cannot read: a field of the wrong type deep
# inside (`"message": false` is an AttributeError), a timestamp out of range (OverflowError, OSError).
UNREADABLE = (ValueError, TypeError, KeyError, AttributeError, IndexError, OverflowError, OSError)

Kind = Literal["engine", "media", "group", "ignore"]


@dataclass(frozen=True)
class Media:
    """A file the resident sent, still on Telegram's side."""

    file_id: str
    kind: str  # photo | document | voice | video (the kinds intake.attachments stores)
    content_type: str
    size: int | None


@dataclass(frozen=True)
class Pressed:
    """A button press: the query to answer and the question message to edit."""

    query_id: str
    message_id: int | None
    question: str  # the question's text as the resident sees it ("" when Telegram did not send it)
    label: str  # the pressed button's label ("" when it is no longer on the message)


@dataclass(frozen=True)
class Incoming:
    """One update, reduced to what the channel needs."""

    kind: Kind
    chat_id: str | None = None
    lang: str | None = None
    inbound: Inbound | None = None
    media: Media | None = None
    caption: str = ""
    pressed: Pressed | None = None


def parse_update(data: dict[str, object], bot: Bot) -> Update | None:
    """The Update in a webhook body, or None when python-telegram-bot cannot read its shape."""
    try:
        return Update.de_json(data, bot)
    except UNREADABLE:
        return None


def read_update(update: Update, *, bot_username: str | None = None, bot_id: int | None = None) -> Incoming:
    """Turns an update into an Incoming: what to hand the engine, fetch, refuse or drop."""
    try:
        return _read(update, bot_username=bot_username, bot_id=bot_id)
    except (*UNREADABLE, RuntimeError) as err:
        # python-telegram-bot builds objects from JSON without checking types (a text that is a dict, a
        # chat missing): such an update is dropped here rather than failing, and being redelivered, for ever.
        log.warning("telegram update %s dropped: unreadable (%s)", update.update_id, type(err).__name__)
        return Incoming(kind="ignore")


def _read(update: Update, *, bot_username: str | None, bot_id: int | None) -> Incoming:
    if update.callback_query is not None:
        return _read_callback(update.callback_query)
    if update.edited_message is not None:
        edited = update.edited_message
        edited_chat = _chat_id(edited)
        if edited.chat.type != "private" or edited_chat is None:
            return Incoming(kind="ignore")
        return Incoming(kind="engine", chat_id=edited_chat, lang=_lang(edited), inbound=Inbound(unsupported="edited_message"))
    message = update.message
    if message is None:
        return Incoming(kind="ignore")  # channel posts, membership changes, polls closing...
    chat_id = _chat_id(message)
    if chat_id is None:
        return Incoming(kind="ignore")  # not Telegram's shape: nothing can be sent back to it anyway
    if message.chat.type != "private":
        if message.chat.type in ("group", "supergroup") and _addressed(message, bot_username, bot_id):
            return Incoming(kind="group", chat_id=chat_id, lang=_lang(message))
        return Incoming(kind="ignore")
    # A GIF comes with a `document` too; it is a reaction, not evidence.
    media = _media(message) if message.animation is None else None
    if media is not None:
        return Incoming(kind="media", chat_id=chat_id, lang=_lang(message), media=media, caption=_str(message.caption) or "")
    if isinstance(message.text, str):
        return Incoming(kind="engine", chat_id=chat_id, lang=_lang(message), inbound=Inbound(text=message.text))
    what = _unsupported(message)
    if what is None:
        return Incoming(kind="ignore")  # service messages: pinned, auto-delete timer changed...
    return Incoming(kind="engine", chat_id=chat_id, lang=_lang(message), inbound=Inbound(unsupported=what))


def _read_callback(query: CallbackQuery) -> Incoming:
    message = query.message
    if message is None:
        # A button under an inline-mode message: not one of ours; only the spinner needs stopping.
        return Incoming(kind="ignore", pressed=Pressed(query.id, None, "", ""))
    lang = _str(query.from_user.language_code) if query.from_user else None
    question = ""
    label = ""
    if isinstance(message, Message):
        question = _str(message.text) or ""
        markup = message.reply_markup
        rows = markup.inline_keyboard if markup and isinstance(markup.inline_keyboard, (list, tuple)) else ()
        for row in rows:
            for button in row if isinstance(row, (list, tuple)) else ():
                if getattr(button, "callback_data", None) == query.data:
                    label = _str(getattr(button, "text", None)) or ""
    message_id = message.message_id if isinstance(message, Message) and _is_int(message.message_id) else None
    pressed = Pressed(str(query.id), message_id, question, label)
    chat_id = _chat_id(message)
    if chat_id is None or message.chat.type != "private" or not isinstance(query.data, str):
        return Incoming(kind="ignore", pressed=pressed)
    return Incoming(kind="engine", chat_id=chat_id, lang=lang, inbound=Inbound(button=query.data), pressed=pressed)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _str(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _chat_id(message: object) -> str | None:
    """The chat's id as a string; None when the JSON held no integer there (the library does not check)."""
    chat = getattr(message, "chat", None)
    chat_id = getattr(chat, "id", None)
    return str(chat_id) if _is_int(chat_id) else None


def _lang(message: Message) -> str | None:
    return _str(message.from_user.language_code) if message.from_user else None


def _media(message: Message) -> Media | None:
    if message.photo:
        # Telegram sends several sizes; the largest is the evidence.
        best = max(message.photo, key=lambda p: (p.width * p.height, p.file_size or 0))
        return Media(best.file_id, "photo", "image/jpeg", best.file_size)
    if message.document is not None:
        doc = message.document
        mime = (_str(doc.mime_type) or "application/octet-stream").lower()
        kind = "photo" if mime.startswith("image/") else "video" if mime.startswith("video/") else "voice" if mime.startswith("audio/") else "document"
        return Media(doc.file_id, kind, mime, doc.file_size)
    if message.voice is not None:
        return Media(message.voice.file_id, "voice", (_str(message.voice.mime_type) or "audio/ogg").lower(), message.voice.file_size)
    if message.audio is not None:
        return Media(message.audio.file_id, "voice", (_str(message.audio.mime_type) or "audio/mpeg").lower(), message.audio.file_size)
    if message.video is not None:
        return Media(message.video.file_id, "video", (_str(message.video.mime_type) or "video/mp4").lower(), message.video.file_size)
    if message.video_note is not None:
        return Media(message.video_note.file_id, "video", "video/mp4", message.video_note.file_size)
    return None


def _unsupported(message: Message) -> str | None:
    """Names content the engine cannot use (it explains); None for service messages."""
    checks: tuple[tuple[str, object], ...] = (
        ("sticker", message.sticker),
        ("animation", message.animation),
        ("location", message.location or message.venue),
        ("contact", message.contact),
        ("poll", message.poll),
        ("dice", message.dice),
        ("game", message.game),
        ("story", message.story),
        ("paid_media", message.paid_media),
    )
    for name, value in checks:
        if value is not None:
            return name
    return None


def _addressed(message: Message, bot_username: str | None, bot_id: int | None) -> bool:
    """In a group: whether the message speaks to this bot (a command, a mention, a reply)."""
    mine = f"@{bot_username}".lower() if bot_username else None
    for entity in message.entities or ():
        text = message.parse_entity(entity)
        if entity.type == MessageEntity.BOT_COMMAND:
            target = text.split("@", 1)[1].lower() if "@" in text else None
            if target is None or (mine is not None and "@" + target == mine):
                return True
        if entity.type == MessageEntity.MENTION and mine is not None and text.lower() == mine:
            return True
    reply = message.reply_to_message
    return bool(reply is not None and reply.from_user is not None and bot_id is not None and reply.from_user.id == bot_id)
