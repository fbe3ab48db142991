"""The outbox worker's senders: one `intake.outbox.Sender` per chat platform that is configured.

Telegram's sender is the channel's own. Zalo's channel sends a text from a given part on; the
adapter here turns it into a `Sender`: it sends a long message one part at a time, records each
part under its own key once Zalo accepted it, and on a retry starts after the last part shown.
One window remains, from the moment Zalo accepts a part until its mark is written (Zalo's answer
on its way back, then one database write): a worker killed exactly there shows that part again
on the retry. Neither Zalo nor Telegram takes an idempotency key, so no sender can close it; it
is kept to that. A send that got no answer at all may have arrived: it is not repeated on its
own but goes to the dead letters, where staff see it and decide.
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import logging
from collections.abc import Mapping
from typing import Protocol

import httpx

from bot.telegram import limits  # channel-neutral marks of what was shown
from bot.zalo.client import ZaloError
from bot.zalo.render import split_text
from intake.config import Settings
from intake.errors import ConfigurationError
from intake.outbox import DeliveryError, Sender

log = logging.getLogger(__name__)

ZALO_OUTBOX = "zalo-outbox"  # the marks of outbox parts shown on Zalo, beside the processed events


def part_key(key: str, index: int) -> str:
    """The mark of one part of an outbox message: the same scheme as the Telegram channel's."""
    return hashlib.sha256(f"{key}:{index}".encode()).hexdigest()


class _Delivers(Protocol):
    def deliver(self, chat_id: str, text: str, *, start_part: int = 0, timeout: float = 60.0) -> list[str]: ...

    def close(self) -> None: ...


class ZaloOutboxSender:
    """`ZaloSender` as an outbox `Sender`: each part shown once across retries, Zalo's errors as `DeliveryError`."""

    def __init__(self, settings: Settings, *, transport: httpx.MockTransport | None = None, sender: _Delivers | None = None) -> None:
        if sender is None:
            from bot.zalo.channel import ZaloSender

            sender = ZaloSender(settings, transport=transport)
        self.sender = sender

    def __call__(self, handle: str, text: str, key: str) -> None:
        """Shows `text` to the Zalo user `handle`, skipping the parts already shown under `key`."""
        for i, piece in enumerate(split_text(text)):
            mark = part_key(key, i)
            if limits.already_sent(ZALO_OUTBOX, mark):
                continue
            try:
                # A piece is under Zalo's limit, so the channel sends it as exactly one message.
                self.sender.deliver(handle, piece)
            except ZaloError as err:
                raise _delivery_error(err, i) from err
            except concurrent.futures.TimeoutError as err:
                # The send may still be under way: treated as "may have arrived", never sent again on its own.
                raise DeliveryError(f"zalo: no answer in time for part {i + 1}; it may have reached the resident", retryable=False) from err
            limits.mark_sent(ZALO_OUTBOX, mark)

    def close(self) -> None:
        """Closes the channel's HTTP clients and its event loop."""
        self.sender.close()


def _delivery_error(err: ZaloError, index: int) -> DeliveryError:
    """What the outbox should do about a Zalo failure on part `index` of a message."""
    if err.maybe_sent:
        # The request left and no answer came back: the resident may have this part. Sending it again
        # could show it twice, so it goes to the dead letters, where staff decide (a retry resends it).
        return DeliveryError(f"zalo: no answer for part {index + 1}; it may have reached the resident ({err.reason})", retryable=False)
    return DeliveryError(f"zalo: {err}", retryable=err.retryable, retry_after=err.retry_after)


def telegram_on(settings: Settings) -> bool:
    """Whether Telegram can be pushed to: a bot token is set."""
    return bool(settings.telegram_token.get_secret_value())


def zalo_on(settings: Settings) -> bool:
    """Whether Zalo is on, by the same rule as its webhook."""
    from bot.zalo.webhook import enabled

    return enabled(settings)


def build_senders(settings: Settings) -> dict[str, Sender]:
    """A sender for each configured platform that can push; the web chat and the terminal have none."""
    senders: dict[str, Sender] = {}
    if telegram_on(settings):
        from bot.telegram.channel import TelegramSender

        try:
            senders["telegram"] = TelegramSender(settings)
        except ConfigurationError as err:
            log.error("telegram messages cannot be pushed: %s", err.detail or err.code)
    if zalo_on(settings):
        senders["zalo"] = ZaloOutboxSender(settings)
    return senders


def close_senders(senders: Mapping[str, Sender]) -> None:
    """Closes every sender that holds connections or a loop; one failing does not stop the others."""
    for channel, sender in senders.items():
        close = getattr(sender, "close", None)
        if close is None:
            continue
        try:
            close()
        except Exception as err:  # noqa: BLE001 - shutting down: report and go on with the others
            log.warning("closing the %s sender failed: %s", channel, type(err).__name__)
