"""The Zalo channel: a signed webhook event in, the engine's replies out through the OA API.

The webhook answers at once (Zalo waits two seconds at most, and never sends an event again once
answered 200), so a verified event is first written to the inbox (`inbox`: its body encrypted) and
only then acknowledged; a database that cannot take it gets a 503, and Zalo tries again. A task then
processes the chat's events from the inbox, oldest first: each event once (by message id, or the
body's hash), per-chat limits, a chat's events one at a time, files fetched from Zalo and stored
without their metadata. An event leaves the inbox in the transaction of the conversation step it
causes, so a crash (even SIGKILL) either finds it still there or finds it done: `recover` processes
what is left at start and every half minute after, and an event that keeps failing is given up
after a few tries. The channel owns no conversation: the engine decides what to say; this module
only turns it into OA messages. Zalo user ids go to the engine as chat ids, which hashes them; they
are never logged.

The engine runs in worker processes (`PHANANH_ZALO_WORKER_PROCESSES`, read from the environment
there too), not in the web server's threads: the classifier holds the GIL for about a tenth of a
second per description, which in a thread would hold up every webhook answer behind it.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import mimetypes
import threading
import time
from collections import Counter
from collections.abc import Callable, Coroutine
from concurrent.futures import Executor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar

import httpx
from sqlmodel import Session

from bot.chat_order import ChatOrder
from bot.telegram import limits  # channel-neutral: each update once, per-chat limits
from bot.zalo import inbox, workers
from bot.zalo.client import TEMPLATE_REFUSED, FileTooLarge, OAClient, ZaloError
from bot.zalo.events import ZaloEvent, ZaloFile, read_event, update_key
from bot.zalo.render import Outgoing, as_text, render, render_text
from bot.zalo.signature import Verdict, check
from intake.attachments import IMAGE_TYPES, store_attachment
from intake.config import Settings, get_settings
from intake.conversation import Conversation
from intake.crypto import encrypt
from intake.db import get_engine, session_scope
from intake.dialog.engine import CHOICE_STEPS
from intake.dialog.tools import DEFAULT_TOOLS
from intake.dialog.types import (
    AddInfo,
    AttachmentInfo,
    DialogState,
    Draft,
    Failed,
    Inbound,
    InfoAdded,
    LookUp,
    LookupResult,
    Reply,
    ShowThread,
    StepName,
    SubmitReport,
    Submitted,
)
from intake.errors import InvalidInputError, PhananhError
from intake.i18n import N_, Translator, translator
from intake.metrics import STEP_SECONDS
from intake.models import utcnow

log = logging.getLogger(__name__)

CHANNEL = "zalo"
T = TypeVar("T")

# What the channel says itself (the same sentences as the Telegram channel's); the rest is the engine's.
TOO_FAST = N_("You are sending messages too quickly. Please wait a minute, then continue: nothing you have written is lost.")
REPORTS_PER_DAY = N_(
    "This chat has already sent {limit} reports in the last 24 hours, the most we accept from one chat. "
    "Your report has been kept: you can send it in about {hours} hours."
)
FILE_TOO_LARGE = N_("This file could not be received. Files must be at most {mb} MB.")
FILE_UNREADABLE = N_("This file could not be read. Please send a photo (JPEG, PNG) or a document.")
FILE_AGAIN = N_("This file could not be received. Please send it again.")

REPLY_RETRY_PAUSES = (0.5, 2.0, 5.0)  # seconds between tries of a conversation reply; the outbox retries longer
MAX_RETRIES = 4  # processings of an event after its first (failed, or cut by a crash) before it is given up
RECOVER_AFTER = 5.0  # seconds an event waits in the inbox before the periodic pass takes it up
RECOVER_EVERY = 30.0  # seconds between those passes

_stepped = threading.local()  # what the runner below saw in the thread that stepped the chat


@dataclass(frozen=True)
class Stepped:
    """The engine's replies, the question the chat now waits on, its language, and any daily-limit wait."""

    replies: list[Reply]
    step: StepName | None
    lang: str | None
    wait: timedelta | None = None
    admission: limits.Admission = limits.Admission()


@dataclass(frozen=True)
class Mark:
    """The event a step comes from: its processed mark, and its row in the inbox."""

    key: str
    row_id: int
    per_minute: int | None = None  # set: the event is admitted (new? within the chat's minute?) in the step's transaction


@dataclass
class ZaloConversation(Conversation):
    """The runner, with the chat's daily report limit checked in the transaction that files."""

    reports_per_day: int = 5

    def _carry_out(
        self,
        session: Session,
        effect: SubmitReport | LookUp | AddInfo | ShowThread,
        draft: Draft,
        state: DialogState,
        chat_id: str,
        dialog_id: int | None,
    ) -> Submitted | LookupResult | InfoAdded | Failed:
        if not isinstance(effect, SubmitReport):
            return super()._carry_out(session, effect, draft, state, chat_id, dialog_id)
        taken = limits.reserve_report(session, self.channel, chat_id, per_day=self.reports_per_day)
        if taken is None:
            _stepped.wait = limits.reports_left(session, self.channel, chat_id, per_day=self.reports_per_day)[1]
            return Failed(reason="rate_limited")  # the draft is kept; the engine says so
        event = super()._carry_out(session, effect, draft, state, chat_id, dialog_id)
        if not isinstance(event, Submitted):
            limits.release_report(session, taken)
        return event

    def _save(self, session: Session, row: Any, state: DialogState, draft: Draft) -> None:
        # The question the chat now waits on decides how choices are written (numbers work only there).
        _stepped.step, _stepped.lang = state.step, state.lang
        super()._save(session, row, state, draft)

    def _handle(self, session: Session, chat_id: str, message: Inbound, lang: str | None) -> list[Reply]:
        mark: Mark | None = getattr(_stepped, "mark", None)
        if mark is None:
            return super()._handle(session, chat_id, message, lang)
        _stepped.admission, replies = limits.step_once(
            session, self.channel, mark.key, chat_id, lambda: super(ZaloConversation, self)._handle(session, chat_id, message, lang),
            per_minute=mark.per_minute,
        )
        inbox.remove(session, mark.row_id)  # stepped, refused or a duplicate: it leaves the inbox with this transaction
        return replies

    def step_chat(self, chat_id: str, message: Inbound, *, mark: Mark | None = None) -> Stepped:
        """Steps the chat (the event `mark` marked processed and out of the inbox with it) and says where it now stands.

        `Conversation.handle` already runs the step again when SQLite refused a stale writer."""
        _stepped.step = _stepped.lang = _stepped.wait = None
        _stepped.mark = mark
        _stepped.admission = limits.Admission()
        replies = self.handle(chat_id, message)
        return Stepped(replies, _stepped.step, _stepped.lang, _stepped.wait, _stepped.admission)


@functools.cache
def _conversation(reports_per_day: int) -> ZaloConversation:
    """The runner of this process (a worker process has its own)."""
    return ZaloConversation(channel=CHANNEL, can_push=True, reports_per_day=reports_per_day)


def step_job(reports_per_day: int, chat_id: str, message: Inbound, mark: Mark | None = None) -> Stepped:
    """Steps one chat; runs in a worker thread or a worker process."""
    return _conversation(reports_per_day).step_chat(chat_id, message, mark=mark)


def store_job(reports_per_day: int, chat_id: str, data: bytes, content_type: str, kind: str, max_bytes: int) -> AttachmentInfo:
    """Stores one file, cleaned and encrypted, tied to the chat's dialog; runs like `step_job`."""
    with session_scope() as session:
        row = store_attachment(
            session,
            data=data,
            content_type=content_type,
            kind=kind,
            dialog_id=_conversation(reports_per_day).dialog_id(session, chat_id),
            max_bytes=max_bytes,
        )
        assert row.id is not None
        return AttachmentInfo(id=row.id, kind=row.kind, metadata_removed=row.metadata_removed)


def warm_job() -> None:
    """Loads the classifier (and underthesea's tokenizer, which loads on first use), the gazetteer and the story
    reader, and opens the database."""
    # Once, in one thread: underthesea's lazy model loading is not thread-safe, and two threads
    # tokenizing at the same first moment fail (AttributeError inside its CRF tagger).
    DEFAULT_TOOLS.warm()
    get_engine()



class ZaloChannel:
    """Takes webhook events for one OA and answers through the OA API; also sends the outbox's messages."""

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        transport: httpx.MockTransport | None = None,
        processes: int | None = None,
        workers: int = 16,
    ) -> None:
        self.settings = settings or get_settings()
        self.client = OAClient(self.settings, transport=transport)
        self.reports_per_day = self.settings.chat_reports_per_day
        self.buttons = self.settings.zalo_buttons == "template"
        self.max_bytes = self.settings.max_attachment_mb * 2**20
        self.processes = self.settings.zalo_worker_processes if processes is None else processes
        self.workers = workers
        self._executor = self._make_executor()
        # The inbox's reads and writes, in threads of this process: the webhook's answer waits on one,
        # and must not queue behind the engine's steps in the worker processes.
        self._inbox_threads = ThreadPoolExecutor(max_workers=4, thread_name_prefix="zalo-inbox")
        self._chats = ChatOrder()
        self._tasks: set[asyncio.Task[None]] = set()
        self._fresh: set[int] = set()  # inbox rows accepted here and not yet taken up: their first processing
        self._recovering: set[str] = set()  # chats a recovery pass is draining
        self.processed = 0  # events finished: out of the inbox (tests and the benchmark wait on it)
        self.given_up = 0  # events dropped after failing every try
        self.refused: Counter[str] = Counter()  # webhook calls not processed, by reason
        self.reply_pauses: tuple[float, ...] = REPLY_RETRY_PAUSES

    # -- life cycle ---------------------------------------------------------------------------

    async def idle(self, timeout: float = 30.0) -> None:
        """Waits until every accepted event has been processed."""
        deadline = time.monotonic() + timeout
        while self._tasks:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("zalo events still being processed")
            await asyncio.wait(set(self._tasks), timeout=left)

    async def shutdown(self, timeout: float = 10.0) -> None:
        """Lets events in progress finish (for a while), then closes the HTTP clients and threads."""
        try:
            await self.idle(timeout)
        except TimeoutError:
            log.warning("%s zalo events were still in progress at shutdown", len(self._tasks))
        await self.client.close()
        # Waited for (off the loop): worker processes must be gone before this process exits.
        await asyncio.to_thread(self._executor.shutdown, True, cancel_futures=True)
        await asyncio.to_thread(self._inbox_threads.shutdown, True, cancel_futures=True)

    def _make_executor(self) -> Executor:
        if self.processes > 0:
            # Loaded here first: in development this creates the key file, which workers starting
            # together would otherwise race to create.
            encrypt("")
            return workers.make_executor(self.processes, warm_job)
        return ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="zalo")

    async def warm(self) -> None:
        """Starts the worker processes (or threads) and loads what they need, before the first event."""
        await asyncio.gather(*(self._run(warm_job) for _ in range(max(1, self.processes))))

    # -- the webhook --------------------------------------------------------------------------

    async def accept(self, body: bytes, signature: str | None, *, now_ms: int | None = None) -> int:
        """Checks one webhook call and keeps its event in the inbox; returns the HTTP status to answer at once."""
        try:
            data = json.loads(body)
        except ValueError:
            return self._refuse("unreadable", 400)
        if not isinstance(data, dict):
            return self._refuse("unreadable", 400)
        verdict = check(
            body,
            signature,
            data,
            app_id=self.settings.zalo_app_id,
            secret=self.settings.zalo_oa_secret_key.get_secret_value(),
            max_age_seconds=self.settings.zalo_signature_max_age_seconds,
            now_ms=int(time.time() * 1000) if now_ms is None else now_ms,
        )
        if verdict in (Verdict.MISSING, Verdict.BAD):
            return self._refuse(verdict.value, 401)
        if verdict is not Verdict.OK:
            # Signed by Zalo but too old (a replay, or a retry long after): dropped, and acknowledged so
            # that Zalo stops retrying it; an error answer would only bring it back later, still stale.
            return self._refuse(verdict.value, 200)
        event = read_event(data)
        if self.settings.zalo_oa_id and event.oa_id and event.oa_id != self.settings.zalo_oa_id:
            return self._refuse("other_oa", 200)
        if event.kind in ("ignore", "unfollow") or event.user_id is None:
            return 200  # nothing to answer; an unfollowed user cannot be written to anyway
        chat = inbox.chat_key(CHANNEL, event.user_id)
        try:
            row_id = await self._inbox(inbox.put, CHANNEL, update_key(event, body), chat, body)
        except Exception as err:  # noqa: BLE001 - not kept: an error answer makes Zalo send it again
            self.refused["not_kept"] += 1
            log.warning("zalo event %s could not be kept (%s); Zalo is asked to send it again", event.name, type(err).__name__)
            return 503
        if row_id is None:
            return 200  # in the inbox already: a redelivery of an event not processed yet
        self._fresh.add(row_id)
        self._spawn(self._drain(chat))
        return 200

    def _refuse(self, reason: str, status: int) -> int:
        self.refused[reason] += 1
        log.warning("zalo webhook call not processed: %s", reason)
        return status

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- the inbox ----------------------------------------------------------------------------

    async def recover(self, *, older_than: float = RECOVER_AFTER) -> int:
        """Processes the events left in the inbox `older_than` seconds or more (by a crash, or a failure); returns their chats' count."""
        before = utcnow() - timedelta(seconds=older_than)
        chats = await self._inbox(inbox.stale_chats, CHANNEL, before)
        for chat in chats:
            if chat not in self._recovering:
                self._recovering.add(chat)
                self._spawn(self._recover_chat(chat))
        return len(chats)

    async def _recover_chat(self, chat: str) -> None:
        try:
            await self._drain(chat)
        finally:
            self._recovering.discard(chat)

    async def _drain(self, chat: str) -> None:
        """Processes the chat's events in the inbox, oldest first, while this server holds the chat's lease
        (renewed before each event, so events arriving meanwhile are taken too); stops at one that fails
        (it is tried again later), or when another server holds the chat."""
        try:
            async with self._chats.turn(chat):
                tried: set[int] = set()
                try:
                    while rows := [r for r in await self._inbox(inbox.lease, CHANNEL, chat) if r.id not in tried]:
                        tried.add(rows[0].id)
                        if not await self._take(rows[0]):
                            return
                finally:
                    await self._inbox(inbox.release, CHANNEL, chat)
        except Exception as err:  # noqa: BLE001 - the inbox could not be read: the periodic pass tries again
            log.error("zalo inbox not read: %s", type(err).__name__)

    async def _take(self, row: inbox.Pending) -> bool:
        """Processes one event of the inbox; False when it failed and stays there (the chat's later events wait)."""
        if row.id in self._fresh:
            self._fresh.discard(row.id)
        else:
            tries = await self._inbox(inbox.claim, row.id)
            if tries is None:
                return True  # processed meanwhile, by another process
            if tries > MAX_RETRIES:
                await self._give_up(row, tries)
                return True
        event = read_event(json.loads(row.body))  # verified when it was accepted
        try:
            await self._process(event, row)
        except Exception as err:  # noqa: BLE001 - one bad event must not stop the others
            log.error("zalo event %s failed: %s; it stays in the inbox to be tried again", event.name, type(err).__name__)
            try:
                await self._inbox(inbox.failed, row.id, type(err).__name__)
            except Exception as again:  # noqa: BLE001 - the database is down: the event is tried again all the same
                log.error("zalo inbox not written: %s", type(again).__name__)
            return False
        self.processed += 1
        return True

    async def _give_up(self, row: inbox.Pending, tries: int) -> None:
        """Drops an event that failed every try, and tells the resident something went wrong."""
        event = read_event(json.loads(row.body))
        log.warning("zalo event %s given up after %s tries (last error: %s)", event.name, tries, row.last_error or "none")
        await self._inbox(inbox.finish, CHANNEL, row.id, row.key)
        self.given_up += 1
        self.processed += 1
        if event.user_id is not None:
            t = translator(self.settings.default_language)
            await self._quietly(self._send_all(event.user_id, render_text(t._(PhananhError.message)), t))

    # -- one event ----------------------------------------------------------------------------

    async def _process(self, event: ZaloEvent, row: inbox.Pending) -> None:
        """Handles one event of the inbox end to end; raises when it must stay there and be tried again."""
        user = event.user_id
        assert user is not None
        t = translator(self.settings.default_language)
        per_minute = self.settings.chat_messages_per_minute
        stepped: Stepped | None = None
        if event.files:
            # Files are fetched before they step: the event is admitted first, and a refused one leaves the inbox now.
            admission = await self._run(limits.admit, CHANNEL, row.key, user, per_minute=per_minute, mark=False)
            if admission.duplicate or admission.limited:
                await self._inbox(inbox.finish, CHANNEL, row.id, row.key if admission.limited else None)
            else:
                # The event leaves the inbox, marked processed, in the transaction of the first step it causes.
                stepped = await self._dispatch(user, event, t, Mark(row.key, row.id))
        else:
            # Admitted in the step's own transaction (one write transaction per event, not two).
            stepped = await self._dispatch(user, event, t, Mark(row.key, row.id, per_minute))
            admission = stepped.admission
        if admission.duplicate:
            # Done before, reply included (or lost with a crashed server: the resident's next
            # message is answered with the question where the conversation stands).
            log.info("zalo event %s already processed", event.name)
        elif admission.limited:
            if admission.warn:
                await self._quietly(self._send_all(user, render_text(t._(TOO_FAST)), t))
            log.info("zalo event %s over the per-chat message limit", event.name)
        elif stepped is not None:
            await self._reply(user, stepped)

    async def _reply(self, user: str, stepped: Stepped) -> None:
        """Sends the engine's replies, trying again for a few seconds when Zalo is briefly unavailable."""
        t = translator(stepped.lang or self.settings.default_language)
        messages = render(stepped.replies, choosing=stepped.step in CHOICE_STEPS, buttons=self.buttons, t=t)
        start = 0
        for pause in (*self.reply_pauses, None):
            try:
                await self._send_all(user, messages, t, start_part=start)
                for reply in stepped.replies:
                    if reply.receipt:
                        # Shown: the dialog forgets it. Not shown, the resident's next message shows it again.
                        await self._inbox(_conversation(self.reports_per_day).receipt_shown, user, reply.receipt)
                return
            except ZaloError as err:
                # Never twice: a part Zalo may have delivered without answering is not sent again.
                if pause is None or not err.retryable or err.maybe_sent:
                    log.warning("zalo reply not delivered after %s part(s): %s", err.parts_sent, err)
                    return
                start = err.parts_sent
                await asyncio.sleep(min(pause, err.retry_after or pause))

    async def _dispatch(self, user: str, event: ZaloEvent, t: Translator, mark: Mark) -> Stepped:
        if event.kind == "follow":
            return await self._step(user, Inbound(resume=True), t, mark)
        if event.unsupported:
            return await self._step(user, Inbound(unsupported=event.unsupported), t, mark)
        if event.files:
            return await self._receive_files(user, event, t, mark)
        return await self._step(user, Inbound(text=event.text), t, mark)

    async def _step(self, user: str, message: Inbound, t: Translator, mark: Mark | None = None) -> Stepped:
        began = time.perf_counter()
        stepped = await self._run(step_job, self.reports_per_day, user, message, mark)
        if self.processes:  # timed here: a worker process's own timings never reach /metrics
            STEP_SECONDS.labels(CHANNEL).observe(time.perf_counter() - began)
        if stepped.wait is not None:
            hours = max(1, int(stepped.wait.total_seconds() // 3600) + 1)
            notice = translator(stepped.lang or t.lang)._(REPORTS_PER_DAY, limit=self.settings.chat_reports_per_day, hours=hours)
            return Stepped([Reply(notice), *stepped.replies], stepped.step, stepped.lang)
        return stepped

    # -- files --------------------------------------------------------------------------------

    async def _receive_files(self, user: str, event: ZaloEvent, t: Translator, mark: Mark) -> Stepped:
        """Fetches and stores the files, tells the engine about those kept, then passes on any caption."""
        problems: list[Reply] = []
        stored: list[AttachmentInfo] = []
        for file in event.files:
            try:
                if file.size is not None and file.size > self.max_bytes:
                    raise FileTooLarge()
                data, content_type = await self.client.download(file.url, self.max_bytes)
                content = _content_type(file, content_type)
                stored.append(await self._run(store_job, self.reports_per_day, user, data, content, file.kind, self.max_bytes))
            except FileTooLarge:
                problems.append(Reply(t._(FILE_TOO_LARGE, mb=self.max_bytes // 2**20)))
            except InvalidInputError:
                problems.append(Reply(t._(FILE_UNREADABLE)))
            except ZaloError as err:
                log.warning("a zalo file could not be fetched: %s", err.reason)
                problems.append(Reply(t._(FILE_AGAIN)))
        if not stored and not event.text.strip():
            await self._inbox(inbox.finish, CHANNEL, mark.row_id, mark.key)  # nothing to step: done all the same
            return Stepped(problems, None, None)
        # One step: the files kept and the words sent with them, acknowledged once.
        stepped = await self._step(user, Inbound(attachments=tuple(stored), text=event.text), t, mark)
        return Stepped(problems + stepped.replies, stepped.step, stepped.lang)

    # -- output (also what the outbox worker calls) -------------------------------------------

    async def send_replies(
        self, chat_id: str, replies: list[Reply], *, step: StepName | None = None, lang: str | None = None, start_part: int = 0
    ) -> list[str]:
        """Sends engine replies to a Zalo user; returns Zalo's message ids. Raises `ZaloError`."""
        t = translator(lang or self.settings.default_language)
        messages = render(replies, choosing=step in CHOICE_STEPS, buttons=self.buttons, t=t)
        return await self._send_all(chat_id, messages, t, start_part=start_part)

    async def deliver(self, chat_id: str, text: str, *, start_part: int = 0) -> list[str]:
        """Sends one outbox message (staff to resident) as plain text, split under Zalo's limit.

        Raises `ZaloError`; its `parts_sent` tells how many parts arrived, to pass as `start_part`
        when retrying, so that the resident never gets a part twice.
        """
        if not text.strip():
            return []
        return await self._send_all(chat_id, render_text(text), translator(self.settings.default_language), start_part=start_part)

    async def _send_all(self, chat_id: str, messages: list[Outgoing], t: Translator, *, start_part: int = 0) -> list[str]:
        ids: list[str] = []
        for i, message in enumerate(messages):
            if i < start_part:
                continue
            try:
                ids += await self._send_one(chat_id, message, t)
            except ZaloError as err:
                err.parts_sent = i
                raise
        return ids

    async def _send_one(self, chat_id: str, message: Outgoing, t: Translator) -> list[str]:
        if message.choices and self.buttons:
            try:
                return [await self.client.send(chat_id, message.payload())]
            except ZaloError as err:
                if err.code not in TEMPLATE_REFUSED:
                    raise
                # This OA does not take buttons: from now on choices are written in the text.
                log.warning("zalo refused a message with buttons (%s); choices are written as text from now on", err.code)
                self.buttons = False
        return [await self.client.send(chat_id, piece.payload()) for piece in as_text(message, t)]

    # -- helpers ------------------------------------------------------------------------------

    async def _run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Runs blocking work (the engine, the database, encryption) off the event loop."""
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._executor, functools.partial(fn, *args, **kwargs))
        except BrokenProcessPool:
            # A worker process died (killed, out of memory): this event fails, the next ones get a new pool.
            log.error("a zalo worker process died; starting new ones")
            self._executor = self._make_executor()
            raise

    async def _inbox(self, fn: Callable[..., T], *args: Any) -> T:
        """Inbox work (a short transaction) in this process's threads."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._inbox_threads, functools.partial(fn, *args))

    async def _quietly(self, call: Coroutine[Any, Any, object]) -> None:
        """Sends what the resident should see; a failure is logged with Zalo's code, never raised."""
        try:
            await call
        except ZaloError as err:
            log.warning("zalo send failed: %s", err)


def _content_type(file: ZaloFile, given: str) -> str:
    """The file's type: what Zalo's server said, else what its name says; photos are read as images."""
    if file.kind == "photo":
        return given if given in IMAGE_TYPES else "image/jpeg"  # the pixels decide the format when re-encoded
    if given and given != "application/octet-stream":
        return given
    guessed, _encoding = mimetypes.guess_type(file.name or "")
    return guessed or "application/octet-stream"


class ZaloSender:
    """The channel's sending side for blocking callers (the outbox worker): its own event loop in a thread."""

    def __init__(self, settings: Settings | None = None, *, transport: httpx.MockTransport | None = None) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="zalo-sender", daemon=True)
        self._thread.start()
        self.channel = ZaloChannel(settings, transport=transport, processes=0, workers=1)

    def deliver(self, chat_id: str, text: str, *, start_part: int = 0, timeout: float = 60.0) -> list[str]:
        """`ZaloChannel.deliver`, blocking: returns Zalo's message ids or raises `ZaloError`."""
        return asyncio.run_coroutine_threadsafe(self.channel.deliver(chat_id, text, start_part=start_part), self._loop).result(timeout)

    def send_replies(self, chat_id: str, replies: list[Reply], *, timeout: float = 60.0) -> list[str]:
        """`ZaloChannel.send_replies`, blocking."""
        return asyncio.run_coroutine_threadsafe(self.channel.send_replies(chat_id, replies), self._loop).result(timeout)

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self.channel.shutdown(timeout=1.0), self._loop).result(30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()
