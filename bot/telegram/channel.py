"""The Telegram channel: an update in, the engine's replies out as Bot API calls.

The bot owns no conversation: it reads an update (`convert`), lets the runner step the chat's
dialog, and renders the replies (`render`). Around that it does what only a transport can:
each update once, per-chat limits, a chat's updates one at a time and in order, files fetched
from Telegram and stored without their metadata, a typing indicator while a step is slow.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import hashlib
import logging
import os
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

from sqlmodel import Session
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, LinkPreviewOptions, Update
from telegram.constants import ChatAction, ParseMode
from telegram.error import BadRequest, Forbidden, RetryAfter, TelegramError, TimedOut
from telegram.ext import ExtBot
from telegram.request import BaseRequest

from bot.chat_order import ChatOrder
from bot.telegram import limits
from bot.telegram.convert import Incoming, Media, Pressed, read_update
from bot.telegram.render import Outgoing, escape, render, split_text, with_choice
from bot.telegram.setup import attachment_limit, bot_id, make_bot
from bot.telegram.throttle import Throttle, retry_seconds
from intake.attachments import store_attachment
from intake.config import Settings, get_settings
from intake.conversation import Conversation
from intake.db import session_scope
from intake.dialog.types import AttachmentInfo, DialogState, Draft, Effect, Event, Failed, Inbound, Reply, Submitted, SubmitReport
from intake.errors import InvalidInputError, PhananhError
from intake.i18n import N_, normalize_language, translator
from intake.outbox import DeliveryError

log = logging.getLogger(__name__)

CHANNEL = "telegram"
OUTBOX = "telegram-outbox"  # marks of outbox messages shown, beside the processed updates
T = TypeVar("T")

# What the bot says itself; everything else comes from the engine.
TOO_FAST = N_("You are sending messages too quickly. Please wait a minute, then continue: nothing you have written is lost.")
REPORTS_PER_DAY = N_(
    "This chat has already sent {limit} reports in the last 24 hours, the most we accept from one chat. "
    "Your report has been kept: you can send it in about {hours} hours."
)
GROUP_REFUSAL = N_("Reports are not taken in group chats, to protect the people who send them. Please write to me in a private chat.")
WRITE_PRIVATELY = N_("Write privately")
FILE_TOO_LARGE = N_("This file could not be received. Files must be at most {mb} MB.")
FILE_UNREADABLE = N_("This file could not be read. Please send a photo (JPEG, PNG) or a document.")
FILE_AGAIN = N_("This file could not be received. Please send it again.")

# The answer to a button press, kept for the webhook's HTTP response when set (see `process`).
_in_response: ContextVar[list[dict[str, Any]] | None] = ContextVar("telegram_in_response", default=None)
# The update being processed, marked done (and for text, commands and presses, admitted) in the
# transaction of the first step it causes.
_update_gate: ContextVar[_Gate | None] = ContextVar("telegram_update_gate", default=None)
_report_limit = threading.local()  # set by the runner below when a submission hit the daily limit
SEND_WAIT_IN_UPDATE = 0.1  # seconds of Telegram's pacing an update may wait for before its answers are queued
MAX_QUEUED_CHATS = 1000  # chats with answers queued behind their updates; past it, updates wait (back-pressure)


class FileTooLarge(Exception):
    """The file exceeds what this bot accepts."""


@dataclass
class TelegramConversation(Conversation):
    """The runner, with the chat's daily report limit checked in the transaction that files."""

    reports_per_day: int = 5

    def _carry_out(
        self,
        session: Session,
        effect: Effect,
        draft: Draft,
        state: DialogState,
        chat_id: str,
        dialog_id: int | None,
    ) -> Event:
        if not isinstance(effect, SubmitReport):
            return super()._carry_out(session, effect, draft, state, chat_id, dialog_id)
        taken = limits.reserve_report(session, self.channel, chat_id, per_day=self.reports_per_day)
        if taken is None:
            _report_limit.wait = limits.reports_left(session, self.channel, chat_id, per_day=self.reports_per_day)[1]
            return Failed(reason="rate_limited")  # the draft is kept; the engine says so
        event = super()._carry_out(session, effect, draft, state, chat_id, dialog_id)
        if not isinstance(event, Submitted):
            limits.release_report(session, taken)
        return event

    def _handle(self, session: Session, chat_id: str, message: Inbound, lang: str | None) -> list[Reply]:
        gate: _Gate | None = getattr(_report_limit, "gate", None)
        if gate is None:
            return super()._handle(session, chat_id, message, lang)
        _report_limit.admission, replies = limits.step_once(
            session, self.channel, gate.key, chat_id, lambda: super(TelegramConversation, self)._handle(session, chat_id, message, lang),
            per_minute=gate.per_minute,
        )
        return replies

    def step_chat(self, chat_id: str, message: Inbound, lang: str | None, *, gate: _Gate | None = None) -> Stepped:
        """Steps the chat, marking the update processed with it (`gate`; admitting it first when the
        gate says how many messages a minute the chat may send). `Conversation.handle` already runs
        the step again when SQLite refused a stale writer."""
        _report_limit.wait = None
        _report_limit.gate = gate
        _report_limit.admission = limits.Admission()
        try:
            replies = self.handle(chat_id, message, lang=lang)
        finally:
            _report_limit.gate = None
        return Stepped(replies, _report_limit.wait, _report_limit.admission)


@dataclass(frozen=True)
class _Gate:
    """The update a step comes from, marked processed in its transaction: its key and, to admit it
    there too, the chat's messages a minute (None: admitted before, as a file is)."""

    key: str
    per_minute: int | None = None


@dataclass(frozen=True)
class Stepped:
    """What one step gave: the replies, the wait before a refused report, and the update's admission."""

    replies: list[Reply]
    wait: timedelta | None = None
    admission: limits.Admission = limits.Admission()


class TelegramChannel:
    """Processes updates for one bot; webhook and polling both hand their updates to `process`."""

    def __init__(
        self,
        bot: ExtBot[Any],
        *,
        settings: Settings | None = None,
        workers: int | None = None,
        typing_after: float = 0.5,
        warm_up: bool = True,
    ) -> None:
        self.bot = bot
        self.settings = settings or get_settings()
        self.bot_id = bot_id(bot.token)
        self.conversation = TelegramConversation(channel=CHANNEL, can_push=True, reports_per_day=self.settings.chat_reports_per_day)
        self.typing_after = typing_after
        self.warm_up = warm_up
        self.local_mode = bot.local_mode
        self.max_bytes = attachment_limit(self.settings)
        if workers is None:
            # A step is mostly Python, so threads beyond a few only contend for the GIL, with the event
            # loop too: in process, 4 threads stepped 273 updates/s on PostgreSQL, 8 threads 180 and
            # 16 threads 201. SQLite takes one writer at a time besides.
            workers = 4
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="telegram")
        self._chats = ChatOrder()
        self._outgoing: dict[str, asyncio.Task[None]] = {}  # per chat, the last queued answer
        self._behind: set[asyncio.Future[Any]] = set()  # book-keeping done after an update's answer
        self._ready = asyncio.Lock()
        self._initialized = False
        self.processed = 0  # updates finished (tests and the benchmark wait on it)

    # -- life cycle ---------------------------------------------------------------------------

    async def initialize(self) -> None:
        """Opens the Bot API connections and learns the bot's username (getMe), once."""
        async with self._ready:
            if not self._initialized:
                await self.bot.initialize()
                if self.warm_up:
                    await self._run(self._warm_up)
                self._initialized = True

    def _warm_up(self) -> None:
        """Loads the classifier and the gazetteer once, before updates arrive side by side."""
        tools = self.conversation.tools
        try:
            # underthesea loads its tokenizer on first use, and not safely from two threads at once.
            tools.suggest("Chủ tịch xã nhận tiền của dân")
            tools.locate("phường Bến Thành, TP Hồ Chí Minh", None)
        except Exception as err:  # noqa: BLE001 - the first real update will say what is wrong
            log.warning("warm-up failed: %s", type(err).__name__)

    async def shutdown(self) -> None:
        """Sends the answers still queued, then closes the Bot API connections and the worker threads."""
        await self.drain()
        if self._initialized:
            await self.bot.shutdown()
            self._initialized = False
        self._executor.shutdown(wait=False, cancel_futures=True)

    async def on_update(self, update: object, _context: object = None) -> None:
        """python-telegram-bot handler signature, for polling."""
        if isinstance(update, Update):
            await self.process(update)

    # -- one update ---------------------------------------------------------------------------

    async def process(self, update: Update, *, reply_in_response: bool = False) -> dict[str, Any] | None:
        """Handles one update end to end; raises only when it could not even be recorded.

        With `reply_in_response` (a webhook), the answer to a button press is returned instead of
        sent, for the webhook's HTTP response to carry: one Bot API call fewer per press.
        """
        pending: list[dict[str, Any]] | None = [] if reply_in_response else None
        token = _in_response.set(pending)
        try:
            await self._process(update)
        finally:
            _in_response.reset(token)
            self.processed += 1
        return pending[0] if pending else None

    async def _answer_press(self, query_id: str, text: str | None = None) -> None:
        """Stops a pressed button's spinner (with a short notice, if any)."""
        pending = _in_response.get()
        if pending is not None and not pending:
            pending.append({"method": "answerCallbackQuery", "callback_query_id": query_id, **({"text": text} if text else {})})
            return
        await self._quietly(self.bot.answer_callback_query(query_id, text=text))

    async def _process(self, update: Update) -> None:
        await self.initialize()
        incoming = read_update(update, bot_username=self.bot.username, bot_id=self.bot_id)
        if incoming.kind == "ignore" or incoming.chat_id is None:
            if incoming.pressed is not None:
                await self._answer_press(incoming.pressed.query_id)
            return
        chat_id = incoming.chat_id
        async with self._chats.turn(chat_id):
            # The only failure let out: the update is not marked, so a webhook redelivery retries it.
            update_key = f"{self.bot_id}:{update.update_id}"
            t = translator(self._lang(incoming))
            # Text, commands and presses are admitted in their step's transaction (see `step_chat`);
            # a file is admitted first (it is fetched before it steps) and marked by its first step.
            gated = incoming.kind not in ("group", "media") and incoming.inbound is not None
            if not gated:
                steps = incoming.kind == "media" and incoming.media is not None
                admission = await self._run(
                    limits.admit, CHANNEL, update_key, chat_id, per_minute=self.settings.chat_messages_per_minute, mark=not steps
                )
                if await self._refused(admission, update.update_id, chat_id, incoming, t):
                    return
            _update_gate.set(_Gate(update_key, self.settings.chat_messages_per_minute if gated else None))
            try:
                await self._dispatch(chat_id, incoming, t, update.update_id)
            except TelegramError as err:
                log.warning("update %s: Bot API call failed: %s", update.update_id, type(err).__name__)
            except Exception as err:  # noqa: BLE001 - one bad update must not stop the others
                log.error("update %s failed: %s", update.update_id, type(err).__name__)
                if incoming.pressed is not None:
                    await self._quietly(self._answer_press(incoming.pressed.query_id))
                await self._quietly(self._send(chat_id, [Outgoing(escape(t._(PhananhError.message)))]))

    async def _refused(self, admission: limits.Admission, update_id: int, chat_id: str, incoming: Incoming, t: Any) -> bool:
        """Says why an update is not processed (a duplicate silently; a chat over its minute once)."""
        if admission.duplicate:
            # Done before, answer included (or lost with a crashed server: the resident's next
            # message is answered with the question where the conversation stands).
            log.info("update %s already processed", update_id)
            return True
        if admission.limited:
            notice = t._(TOO_FAST)
            if incoming.pressed is not None:
                await self._answer_press(incoming.pressed.query_id, notice[:200])
            if admission.warn:
                await self._quietly(self._send(chat_id, [Outgoing(escape(notice))]))
            log.info("update %s over the per-chat message limit", update_id)
            return True
        return False

    async def _dispatch(self, chat_id: str, incoming: Incoming, t: Any, update_id: int) -> None:
        if incoming.kind == "group":
            await self._refuse_group(chat_id, t)
            return
        lang = self._lang(incoming) if incoming.lang else None
        replies: list[Reply] = []
        async with self._typing(chat_id):
            if incoming.kind == "media" and incoming.media is not None:
                replies = await self._receive_file(chat_id, incoming.media, incoming.caption, lang, t)
            elif incoming.inbound is not None:
                stepped = await self._step(chat_id, incoming.inbound, lang, t)
                if await self._refused(stepped.admission, update_id, chat_id, incoming, t):
                    return
                replies = stepped.replies
        pressed = incoming.pressed
        if pressed is not None:
            await self._answer_press(pressed.query_id)
            if any(reply.refused for reply in replies):
                pressed = None  # a button of another question: its message is not edited to look chosen
        await self._reply(chat_id, pressed, replies)

    async def _step(self, chat_id: str, message: Inbound, lang: str | None, t: Any) -> Stepped:
        gate = _update_gate.get()
        _update_gate.set(None)  # only the first step an update causes carries its mark (and admission)
        stepped = await self._run(self.conversation.step_chat, chat_id, message, lang, gate=gate)
        if stepped.wait is not None:
            hours = max(1, int(stepped.wait.total_seconds() // 3600) + 1)
            notice = t._(REPORTS_PER_DAY, limit=self.settings.chat_reports_per_day, hours=hours)
            stepped = Stepped([Reply(notice), *stepped.replies], None, stepped.admission)
        return stepped

    # -- answers, in order per chat -----------------------------------------------------------

    async def _reply(self, chat_id: str, pressed: Pressed | None, replies: list[Reply]) -> None:
        """Shows the choice under a pressed question, then the replies: now, or after the chat's earlier ones.

        Telegram allows about one message a second in a chat. Waiting for that inside the update
        would hold one of Telegram's few webhook connections (and the chat's turn) idle, so when
        the chat has no room now, or answers of its are still queued, the sending goes on behind
        this update, in order. The step is committed by then: a crash loses at most the sending,
        and the resident's next message gets the question where the conversation stands.
        """
        messages = [o for reply in replies for o in render(reply)]
        receipts = [reply.receipt for reply in replies if reply.receipt]
        earlier = self._outgoing.get(chat_id)
        throttle = self.bot.rate_limiter
        if self._in_response_slot(chat_id, pressed, messages, receipts, earlier, throttle):
            # The webhook's HTTP answer carries the one message: Telegram sends it, one Bot API call fewer.
            message = messages[0]
            _in_response.get().append(  # type: ignore[union-attr]
                {
                    "method": "sendMessage",
                    "chat_id": int(chat_id),
                    "text": message.html,
                    "parse_mode": ParseMode.HTML.value,
                    "link_preview_options": {"is_disabled": True},
                    **({"reply_markup": message.markup.to_dict()} if message.markup is not None else {}),
                }
            )
            assert isinstance(throttle, Throttle)
            throttle.take(chat_id)
            return
        job = functools.partial(self._show, chat_id, pressed, messages, receipts)
        room = not isinstance(throttle, Throttle) or throttle.wait_for(chat_id, len(messages)) <= SEND_WAIT_IN_UPDATE
        if (earlier is None and room) or len(self._outgoing) >= MAX_QUEUED_CHATS:
            if earlier is not None:
                await asyncio.wait([earlier])
            await job()
            return
        task = asyncio.create_task(self._after(earlier, job))
        self._outgoing[chat_id] = task

        def forget(done: asyncio.Task[None]) -> None:
            if self._outgoing.get(chat_id) is done:
                del self._outgoing[chat_id]

        task.add_done_callback(forget)

    @staticmethod
    def _in_response_slot(
        chat_id: str, pressed: Pressed | None, messages: list[Outgoing], receipts: list[str], earlier: asyncio.Task[None] | None, throttle: object
    ) -> bool:
        """Whether a webhook's answer can carry the reply: one message, nothing before it in the chat,
        the chat's pace allowing it now, and no receipt (that must be confirmed shown, which an answer
        Telegram carries out cannot tell). A press's answer slot already holds answerCallbackQuery."""
        slot = _in_response.get()
        return (
            slot is not None
            and not slot
            and pressed is None
            and len(messages) == 1
            and not receipts
            and earlier is None
            and isinstance(throttle, Throttle)
            and throttle.wait_for(chat_id, 1) == 0.0
        )

    async def _after(self, earlier: asyncio.Task[None] | None, job: Callable[[], Awaitable[None]]) -> None:
        if earlier is not None:
            await asyncio.wait([earlier])
        try:
            await job()
        except TelegramError as err:
            log.warning("queued answer not sent: %s", type(err).__name__)
        except Exception as err:  # noqa: BLE001 - a queued answer must not end the chat's queue
            log.error("queued answer failed: %s", type(err).__name__)

    async def _show(self, chat_id: str, pressed: Pressed | None, messages: list[Outgoing], receipts: list[str]) -> None:
        if pressed is not None:
            await self._show_choice(chat_id, pressed)
        await self._send(chat_id, messages)
        for receipt in receipts:
            # Shown: the dialog forgets it. Not shown (a failed call, a crash), the next message shows it
            # again. Done behind the update: the webhook's answer need not wait for a worker thread.
            task = asyncio.create_task(self._run(self.conversation.receipt_shown, chat_id, receipt))
            self._behind.add(task)
            task.add_done_callback(self._behind.discard)

    async def _show_choice(self, chat_id: str, pressed: Pressed) -> None:
        """Shows the choice under the question, without its keyboard."""
        if pressed.message_id is not None and pressed.question:
            await self._quietly(
                self.bot.edit_message_text(
                    with_choice(pressed.question, pressed.label),
                    chat_id=int(chat_id),
                    message_id=pressed.message_id,
                    parse_mode=ParseMode.HTML,
                    link_preview_options=LinkPreviewOptions(is_disabled=True),
                )
            )

    async def drain(self, timeout: float = 30.0) -> None:
        """Waits for the answers still queued (at shutdown, and in tests)."""
        deadline = time.monotonic() + timeout
        while pending := [*self._outgoing.values(), *self._behind]:  # a queued answer may leave book-keeping behind
            left = deadline - time.monotonic()
            if left <= 0:
                break
            await asyncio.wait(pending, timeout=left)

    async def _refuse_group(self, chat_id: str, t: Any) -> None:
        """Takes no report in a group: points the person to a private chat with the bot."""
        text = t._(GROUP_REFUSAL)
        markup = None
        if self.bot.username:
            markup = InlineKeyboardMarkup([[InlineKeyboardButton(t._(WRITE_PRIVATELY), url=f"https://t.me/{self.bot.username}")]])
        await self._send(chat_id, [Outgoing(escape(text), markup)])

    # -- files --------------------------------------------------------------------------------

    async def _receive_file(self, chat_id: str, media: Media, caption: str, lang: str | None, t: Any) -> list[Reply]:
        """Fetches a file, stores it cleaned and encrypted, and tells the engine (then the caption)."""
        mb = self.max_bytes // 2**20
        try:
            if media.size is not None and media.size > self.max_bytes:
                raise FileTooLarge()
            data = await self._download(media)
            info = await self._run(self._store, chat_id, data, media)
        except (FileTooLarge, InvalidInputError, TelegramError) as err:
            if isinstance(err, TelegramError):
                log.warning("a file could not be fetched from the Bot API: %s", type(err).__name__)
            problem = t._(FILE_TOO_LARGE, mb=mb) if isinstance(err, FileTooLarge) else t._(FILE_UNREADABLE) if isinstance(err, InvalidInputError) else t._(FILE_AGAIN)
            if not caption.strip():
                return [Reply(problem)]
            # The file is lost, its words are not: the caption is taken as the resident's message.
            return [Reply(problem), *(await self._step(chat_id, Inbound(text=caption), lang, t)).replies]
        # One step: the file and the words sent with it, acknowledged once.
        return (await self._step(chat_id, Inbound(attachments=(info,), text=caption), lang, t)).replies

    async def _download(self, media: Media) -> bytes:
        try:
            tg_file = await self.bot.get_file(media.file_id)
        except BadRequest as err:
            if "too big" in err.message.lower():
                raise FileTooLarge() from err
            raise
        if tg_file.file_size is not None and tg_file.file_size > self.max_bytes:
            raise FileTooLarge()
        path = tg_file.file_path or ""
        if self.local_mode and os.path.isabs(path):
            return await self._run(_read_local_file, path, self.max_bytes)
        data = bytes(await tg_file.download_as_bytearray())
        if len(data) > self.max_bytes:
            raise FileTooLarge()
        return data

    def _store(self, chat_id: str, data: bytes, media: Media) -> AttachmentInfo:
        with session_scope() as session:
            row = store_attachment(
                session,
                data=data,
                content_type=media.content_type,
                kind=media.kind,
                dialog_id=self.conversation.dialog_id(session, chat_id),
                max_bytes=self.max_bytes,
            )
            return AttachmentInfo(id=row.id, kind=row.kind, metadata_removed=row.metadata_removed)  # type: ignore[arg-type]

    # -- output -------------------------------------------------------------------------------

    async def deliver(self, chat_id: str, text: str, *, key: str = "") -> list[int]:
        """Sends an outbox message (staff to resident) as escaped text; returns Telegram's message ids.

        A long text goes in parts; a part already shown under `key` (an earlier attempt that
        failed half-way) is skipped, so a retry never shows the resident a part twice.
        """
        await self.initialize()
        ids: list[int] = []
        for i, piece in enumerate(split_text(text)):
            part_key = hashlib.sha256(f"{key}:{i}".encode()).hexdigest() if key else ""
            if part_key and await self._run(limits.already_sent, OUTBOX, part_key):
                continue
            sent = await self.bot.send_message(
                int(chat_id), escape(piece), parse_mode=ParseMode.HTML, link_preview_options=LinkPreviewOptions(is_disabled=True)
            )
            if part_key:
                await self._run(limits.mark_sent, OUTBOX, part_key)
            ids.append(sent.message_id)
        return ids

    async def _send(self, chat_id: str, messages: list[Outgoing]) -> None:
        for message in messages:
            await self.bot.send_message(
                int(chat_id),
                message.html,
                parse_mode=ParseMode.HTML,
                reply_markup=message.markup,
                link_preview_options=LinkPreviewOptions(is_disabled=True),
            )

    @asynccontextmanager
    async def _typing(self, chat_id: str) -> AsyncIterator[None]:
        """Shows "typing…" if what follows takes longer than a moment, and keeps it up until done."""

        async def keep_typing() -> None:
            await asyncio.sleep(self.typing_after)
            while True:
                await self.bot.send_chat_action(int(chat_id), ChatAction.TYPING)
                await asyncio.sleep(4.5)  # Telegram shows the action for about five seconds

        task = asyncio.create_task(keep_typing())
        try:
            yield
        finally:
            task.cancel()
            try:
                await task
            except (asyncio.CancelledError, TelegramError):
                pass

    # -- helpers ------------------------------------------------------------------------------

    def _lang(self, incoming: Incoming) -> str:
        return normalize_language(incoming.lang) if incoming.lang else self.settings.default_language

    async def _run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Runs blocking work (database, encryption) off the event loop."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(fn, *args, **kwargs))

    async def _quietly(self, call: Any) -> None:
        """A Bot API call whose failure must not stop the update (an answer to a button press)."""
        try:
            await call
        except TelegramError as err:
            log.info("optional Bot API call failed: %s", type(err).__name__)


def _read_local_file(path: str, max_bytes: int) -> bytes:
    """Reads a file a --local Bot API server handed over by path, then deletes its copy there."""
    file = Path(path)
    try:
        if file.stat().st_size > max_bytes:
            raise FileTooLarge()
        data = file.read_bytes()
    except FileNotFoundError as err:
        raise InvalidInputError("file not found on the Bot API server's disk") from err
    try:
        # The server's copy still has its metadata; phananh keeps only the cleaned one.
        file.unlink()
    except OSError as err:
        log.warning("could not delete the Bot API server's copy of a file: %s", type(err).__name__)
    return data


class TelegramSender:
    """The outbox worker's sender for Telegram (`intake.outbox.Sender`): a bot on its own event loop."""

    def __init__(self, settings: Settings | None = None, *, request: BaseRequest | None = None, timeout: float = 60.0) -> None:
        self.timeout = timeout
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="telegram-sender", daemon=True)
        self._thread.start()
        self.channel = TelegramChannel(make_bot(settings, request=request), settings=settings, workers=2, warm_up=False)

    def __call__(self, handle: str, text: str, key: str) -> None:
        """Shows `text` in the chat `handle`, once per `key`; raises DeliveryError saying whether to retry."""
        future = asyncio.run_coroutine_threadsafe(self.channel.deliver(handle, text, key=key), self._loop)
        try:
            future.result(self.timeout)
        except Forbidden as err:
            raise DeliveryError("telegram: the resident blocked the bot or left", retryable=False) from err
        except BadRequest as err:
            raise DeliveryError(f"telegram: {type(err).__name__}", retryable=False) from err
        except RetryAfter as err:
            raise DeliveryError("telegram: flood wait", retry_after=retry_seconds(err)) from err
        except (TimedOut, concurrent.futures.TimeoutError) as err:
            # No answer: Telegram may have shown the message. Sent again automatically, the resident
            # could read it twice; it waits in the dead letters for staff to retry, as on Zalo.
            raise DeliveryError("telegram: no answer, the message may have been shown", retryable=False) from err
        except TelegramError as err:
            raise DeliveryError(f"telegram: {type(err).__name__}") from err

    def close(self) -> None:
        """Closes the bot's connections and stops the loop."""
        asyncio.run_coroutine_threadsafe(self.channel.shutdown(), self._loop).result(30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

