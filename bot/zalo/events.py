"""Zalo webhook events read into what the channel needs: who, what they sent, and a key to process it once.

Shapes follow the OA webhook: `{"app_id", "sender": {"id"}, "recipient": {"id"}, "event_name",
"message": {"msg_id", "text", "attachments": [{"type", "payload": {"url", ...}}]}, "timestamp"}`;
follow and unfollow carry the user in `follower.id` and the OA in `oa_id`. Anything unexpected is
read as "ignore", never as an error: the event came signed from Zalo, and a 4xx would only make
Zalo send it again.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Literal

Kind = Literal["message", "follow", "unfollow", "ignore"]

# Events whose attachments become evidence files, and the attachment kind stored for each.
FILE_EVENTS = {
    "user_send_image": ("image", "photo"),
    "user_send_file": ("file", "document"),
    "user_send_audio": ("audio", "voice"),
    "user_send_video": ("video", "video"),
}
# Events the engine cannot use: told so, with the kind it names.
UNSUPPORTED_EVENTS = {
    "user_send_sticker": "sticker",
    "user_send_location": "location",
    "user_send_gif": "gif",
    "user_send_business_card": "contact",
}
MAX_FILES = 10  # one event never makes the channel fetch more than this


@dataclass(frozen=True)
class ZaloFile:
    """A file the user sent, still on Zalo's servers."""

    url: str
    kind: str  # photo | document | voice | video (the attachment kinds phananh stores)
    name: str = ""
    size: int | None = None  # as Zalo announced it; the download is capped whatever it says


@dataclass(frozen=True)
class ZaloEvent:
    """One webhook event, reduced to what the conversation needs."""

    kind: Kind
    name: str
    user_id: str | None = None
    oa_id: str | None = None
    msg_id: str | None = None
    text: str = ""
    files: tuple[ZaloFile, ...] = ()
    unsupported: str | None = None


def _str(value: Any) -> str | None:
    if isinstance(value, (str, int)) and not isinstance(value, bool):
        text = str(value).strip()
        return text or None
    return None


def _id(data: dict[str, Any], key: str) -> str | None:
    part = data.get(key)
    return _str(part.get("id")) if isinstance(part, dict) else None


def _size(value: Any) -> int | None:
    text = _str(value)
    # isascii: "²" passes isdigit() but int() refuses it; a size of 20 digits is not a size.
    return int(text) if text is not None and text.isascii() and text.isdigit() and len(text) <= 15 else None


def _files(message: dict[str, Any], wanted: str, kind: str) -> tuple[ZaloFile, ...]:
    found: list[ZaloFile] = []
    attachments = message.get("attachments")
    for item in attachments if isinstance(attachments, list) else []:
        if not isinstance(item, dict) or item.get("type") != wanted or not isinstance(item.get("payload"), dict):
            continue
        payload = item["payload"]
        url = _str(payload.get("url"))
        if url is None or not url.lower().startswith(("https://", "http://")):
            continue
        found.append(ZaloFile(url=url, kind=kind, name=_str(payload.get("name")) or "", size=_size(payload.get("size"))))
    return tuple(found[:MAX_FILES])


def read_event(data: dict[str, Any]) -> ZaloEvent:
    """Reads one event; what phananh does not handle comes back as kind "ignore"."""
    name = _str(data.get("event_name")) or ""
    if name in ("follow", "unfollow"):
        user = _id(data, "follower") or _id(data, "sender")
        oa = _str(data.get("oa_id")) or _id(data, "recipient")
        kind: Kind = ("follow" if name == "follow" else "unfollow") if user else "ignore"
        return ZaloEvent(kind=kind, name=name, user_id=user, oa_id=oa)
    user = _id(data, "sender")
    if not name.startswith("user_send_") or user is None:
        return ZaloEvent(kind="ignore", name=name)  # delivery and seen receipts, OA echoes, anonymous and group chats
    message: dict[str, Any] = data["message"] if isinstance(data.get("message"), dict) else {}
    text = message["text"] if isinstance(message.get("text"), str) else ""
    msg_id = _str(message.get("msg_id"))

    def said(**fields: Any) -> ZaloEvent:
        return ZaloEvent(kind="message", name=name, user_id=user, oa_id=_id(data, "recipient"), msg_id=msg_id, **fields)

    if name == "user_send_text":
        return said(text=text)
    if name == "user_send_link":
        # A shared link is words the resident sent: the text with it, or the link itself.
        links = _links(message)
        return said(text=text or (links[0] if links else ""))
    if name in FILE_EVENTS:
        wanted, kind_stored = FILE_EVENTS[name]
        files = _files(message, wanted, kind_stored)
        return said(text=text, files=files) if files else said(unsupported=wanted)
    return said(unsupported=UNSUPPORTED_EVENTS.get(name) or name.removeprefix("user_send_")[:24])


def _links(message: dict[str, Any]) -> list[str]:
    attachments = message.get("attachments")
    found: list[str] = []
    for item in attachments if isinstance(attachments, list) else []:
        payload = item.get("payload") if isinstance(item, dict) else None
        url = _str(payload.get("url")) if isinstance(payload, dict) else None
        if url:
            found.append(url)
    return found


def update_key(event: ZaloEvent, body: bytes) -> str:
    """The key that marks an event processed: its message id where it has one, else the hash of its body."""
    basis = f"msg:{event.msg_id}".encode() if event.msg_id else b"body:" + body
    return hashlib.sha256(basis).hexdigest()
