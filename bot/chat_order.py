"""One message of a chat at a time, in the order they arrived: shared by the messaging channels."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field


@dataclass
class _Entry:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    users: int = 0


class ChatOrder:
    """Per-chat locks that exist only while a chat has messages in hand (memory stays bounded)."""

    def __init__(self) -> None:
        self._chats: dict[str, _Entry] = {}

    @asynccontextmanager
    async def turn(self, chat_id: str) -> AsyncIterator[None]:
        """Waits for the chat's earlier messages to finish, then holds the chat until the block ends."""
        entry = self._chats.setdefault(chat_id, _Entry())
        entry.users += 1
        try:
            async with entry.lock:
                yield
        finally:
            entry.users -= 1
            if entry.users == 0:
                del self._chats[chat_id]

    def __len__(self) -> int:
        return len(self._chats)
