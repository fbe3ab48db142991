"""What a Telegram update means for phananh: a message for the engine, a file to fetch, or nothing.

Pure functions over python-telegram-bot's `Update`: nothing here keeps a user id, a username or
a name. The chat id leaves as a string for the runner, which only ever stores its keyed hash.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from telegram import CallbackQuery, Message, MessageEntity, Update

from intake.dialog.types import Inbound

# The updates the bot asks Telegram for; anything else is acknowledged and dropped.
ALLOWED_UPDATES = ("message", "edited_message", "callback_query")

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


def read_update(update: Update, *, bot_username: str | None = None, bot_id: int | None = None) -> Incoming:
    """Turns an update into an Incoming: what to hand the engine, fetch, refuse or drop."""
    if update.callback_query is not None:
        return _read_callback(update.callback_query)
    if update.edited_message is not None:
        edited = update.edited_message
        if edited.chat.type != "private":
            return Incoming(kind="ignore")
        return Incoming(kind="engine", chat_id=str(edited.chat.id), lang=_lang(edited), inbound=Inbound(unsupported="edited_message"))
    message = update.message
    if message is None:
        return Incoming(kind="ignore")  # channel posts, membership changes, polls closing...
    chat_id = str(message.chat.id)
    if message.chat.type != "private":
        if message.chat.type in ("group", "supergroup") and _addressed(message, bot_username, bot_id):
            return Incoming(kind="group", chat_id=chat_id, lang=_lang(message))
        return Incoming(kind="ignore")
    # A GIF comes with a `document` too; it is a reaction, not evidence.
    media = _media(message) if message.animation is None else None
    if media is not None:
        return Incoming(kind="media", chat_id=chat_id, lang=_lang(message), media=media, caption=message.caption or "")
    if message.text is not None:
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
    lang = query.from_user.language_code if query.from_user else None
    question = ""
    label = ""
    if isinstance(message, Message):
        question = message.text or ""
        markup = message.reply_markup
        for row in markup.inline_keyboard if markup else ():
            for button in row:
                if button.callback_data == query.data:
                    label = button.text
    pressed = Pressed(query.id, message.message_id if isinstance(message, Message) else None, question, label)
    if message.chat.type != "private" or not isinstance(query.data, str):
        return Incoming(kind="ignore", pressed=pressed)
    return Incoming(kind="engine", chat_id=str(message.chat.id), lang=lang, inbound=Inbound(button=query.data), pressed=pressed)


def _lang(message: Message) -> str | None:
    return message.from_user.language_code if message.from_user else None


def _media(message: Message) -> Media | None:
    if message.photo:
        # Telegram sends several sizes; the largest is the evidence.
        best = max(message.photo, key=lambda p: (p.width * p.height, p.file_size or 0))
        return Media(best.file_id, "photo", "image/jpeg", best.file_size)
    if message.document is not None:
        doc = message.document
        mime = (doc.mime_type or "application/octet-stream").lower()
        kind = "photo" if mime.startswith("image/") else "video" if mime.startswith("video/") else "voice" if mime.startswith("audio/") else "document"
        return Media(doc.file_id, kind, mime, doc.file_size)
    if message.voice is not None:
        return Media(message.voice.file_id, "voice", (message.voice.mime_type or "audio/ogg").lower(), message.voice.file_size)
    if message.audio is not None:
        return Media(message.audio.file_id, "voice", (message.audio.mime_type or "audio/mpeg").lower(), message.audio.file_size)
    if message.video is not None:
        return Media(message.video.file_id, "video", (message.video.mime_type or "video/mp4").lower(), message.video.file_size)
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
