"""What flows in and out of the conversation engine, whatever the channel."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from pydantic import BaseModel, Field

from intake.config import get_settings


class StepName(str, Enum):
    """The questions of the conversation, in the order a report is usually filed."""

    IDLE = "idle"
    MODE = "mode"
    DESCRIBE = "describe"
    FACTS = "facts"
    CATEGORY = "category"
    NOT_REPORT = "not_report"
    ACCUSED_NAME = "accused_name"
    ACCUSED_POSITION = "accused_position"
    ACCUSED_AGENCY = "accused_agency"
    PLACE = "place"
    PLACE_CHOICE = "place_choice"
    SETTING = "setting"
    WHEN = "when"
    EVIDENCE = "evidence"
    REPORTER_NAME = "reporter_name"
    REPORTER_PHONE = "reporter_phone"
    NOTIFY = "notify"
    REVIEW = "review"
    EDIT_MENU = "edit_menu"
    CONFIRM_CANCEL = "confirm_cancel"
    LOOKUP_CODE = "lookup_code"
    LOOKUP_PASS = "lookup_pass"
    FOLLOWUP = "followup"


@dataclass(frozen=True)
class Button:
    """A choice offered to the resident: a translated label and a payload naming the question it answers.

    The payload is "{step}:{token}:{choice}" (see `intake.dialog.buttons`): a press is taken only
    while that very question is the one asked, so no two questions ever share a payload.
    """

    label: str
    payload: str


@dataclass(frozen=True)
class Reply:
    """One bot message. `receipt` and `passphrase` are set only on the submission receipt.

    `refused` marks the answer to a button of another question (an old message's, or a label sent as
    text that belongs to one): nothing was changed, and a channel must not show that button as chosen.
    """

    text: str
    buttons: tuple[Button, ...] = ()
    receipt: str | None = None
    passphrase: str | None = None
    refused: bool = False
    received_on: str = ""  # with a receipt: the day the report was received, in Vietnam (for a card to keep)
    secret_answer: bool = False  # the question's answer is a secret (the passphrase): a transcript shows it masked

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"text": self.text, "buttons": [b.label for b in self.buttons]}
        if self.receipt:
            data["receipt"] = self.receipt
            data["passphrase"] = self.passphrase
            data["received_on"] = self.received_on
        return data


@dataclass(frozen=True)
class AttachmentInfo:
    """An attachment already stored (encrypted, metadata removed) by the channel."""

    id: int
    kind: str
    metadata_removed: bool = False


@dataclass(frozen=True)
class Submitted:
    """The runner filed the report: what the resident must keep."""

    receipt: str
    passphrase: str
    committee_name: str
    received_on: str = ""  # written for people (intake.dates)


@dataclass(frozen=True)
class FrontMessage:
    """A message from the Front to the resident, as a look-up shows it: its time in Vietnam, and whether it is new."""

    sent_at: str
    text: str
    new: bool = False  # not yet shown at an earlier look-up (marked, never hidden)


@dataclass(frozen=True)
class LookupResult:
    """The answer to a status look-up; `found` False says nothing of which half was wrong.

    Dates are already written for people (intake.dates). `messages` holds every message from the
    Front, newest first; `show_all` asks for all of them on screen, not only the latest few.
    """

    found: bool
    case_id: int | None = None
    receipt: str = ""
    status: str = ""
    committee_name: str = ""
    received_on: str = ""
    messages: tuple[FrontMessage, ...] = ()
    forwarded_on: str = ""
    due_on: str = ""
    show_all: bool = False
    locked_minutes: int = 0  # the receipt is locked after too many failed look-ups: wait this long


@dataclass(frozen=True)
class InfoAdded:
    """The runner added the resident's message to the case's thread."""


@dataclass(frozen=True)
class Failed:
    """The runner could not carry out an effect; the draft is kept."""

    reason: str


Event = Submitted | LookupResult | InfoAdded | Failed


@dataclass(frozen=True)
class Inbound:
    """One thing the resident did: typed text, pressed a button, sent files; or an effect's outcome."""

    text: str = ""
    button: str | None = None
    attachments: tuple[AttachmentInfo, ...] = ()
    event: Event | None = None
    unsupported: str | None = None  # e.g. "sticker", "location": the channel could not use it
    resume: bool = False  # the resident came back (a page reload): ask the current question again


@dataclass(frozen=True)
class SubmitReport:
    """Effect: file the draft as a case."""


@dataclass(frozen=True)
class LookUp:
    """Effect: look a case up by receipt and passphrase."""

    receipt: str
    passphrase: str


@dataclass(frozen=True)
class ShowThread:
    """Effect: every message from the Front on the case this chat has looked up (no receipt asked again)."""

    case_id: int


@dataclass(frozen=True)
class AddInfo:
    """Effect: add the resident's message ("bổ sung thông tin") to a case they have looked up."""

    case_id: int
    text: str


Effect = SubmitReport | LookUp | AddInfo | ShowThread


class PendingReceipt(BaseModel):
    """A filed report's receipt not yet confirmed as shown: kept only in the encrypted draft."""

    receipt: str
    passphrase: str
    committee_name: str
    received_on: str = ""


class Draft(BaseModel):
    """The report being written. None means "not asked yet"; "" means "asked, left empty"."""

    mode: str | None = None
    description_parts: list[str] = Field(default_factory=list)
    description_done: bool = False
    # What the story said (intake.dialog.story): the fields it filled, and those still to be confirmed
    # by the resident (shown together in one message, each with a way to correct it).
    story_found: list[str] = Field(default_factory=list)
    unconfirmed: list[str] = Field(default_factory=list)
    suggestion: dict[str, Any] | None = None
    category: int | None = None
    not_report_ack: bool = False  # the resident chose to go on after the "not a report" answer
    accused_name: str | None = None
    accused_position: str | None = None
    accused_agency: str | None = None
    place_text: str | None = None
    province_code: str | None = None
    province_name: str | None = None
    commune_code: str | None = None
    commune_name: str | None = None
    place_candidates: list[dict[str, Any]] = Field(default_factory=list)
    setting: str | None = None
    occurred: str | None = None
    attachments: list[int] = Field(default_factory=list)
    evidence_done: bool = False
    reporter_name: str | None = None
    reporter_phone: str | None = None
    notify: bool | None = None
    # The case this chat proved it holds (receipt and passphrase, or an opted-in chat): kept in the
    # encrypted draft, never in the clear state, so the dialog row does not name the case.
    followup_case_id: int | None = None
    # The receipt of the report just filed, until the channel confirms the resident was shown it;
    # if the reply was lost (a crash after the filing committed), the next message shows it again.
    pending_receipt: PendingReceipt | None = None

    @property
    def description(self) -> str:
        return "\n".join(self.description_parts)

    def is_empty(self) -> bool:
        """True when no report is being written (a looked-up case or an unsent receipt does not count)."""
        return self == Draft(followup_case_id=self.followup_case_id, pending_receipt=self.pending_receipt)


class DialogState(BaseModel):
    """Where the conversation stands, apart from the draft's content."""

    step: StepName = StepName.IDLE
    lang: str = "vi"
    # The question now asked, "{step}:{token}": the start of its buttons' payloads. A new token is
    # made each time a step's question is asked anew, so an old message's buttons no longer count.
    question: str = ""
    asked: int = 0  # questions asked so far (from a random start): the source of the tokens
    offered: list[str] = Field(default_factory=list)  # every choice shown with the question now asked
    buttons: list[tuple[str, str]] = Field(default_factory=list)  # (choice, label) of the last message: typed labels, numbers
    greeted: bool = False
    can_push: bool = False
    channel: str = ""  # set by the runner: how the resident keeps a receipt differs (Telegram, Zalo, the web page)
    resume: StepName | None = None
    lookup_receipt: str | None = None
    lookup_failures: int = 0
    lookup_locked_until: float | None = None


@dataclass(frozen=True)
class Limits:
    """The deployment's limits the conversation enforces (PHANANH_MAX_MESSAGE_CHARS and friends)."""

    max_message_chars: int = 5000
    max_attachments: int = 10
    draft_ttl_hours: int = 24

    @classmethod
    def from_settings(cls) -> Limits:
        s = get_settings()
        return cls(
            max_message_chars=s.max_message_chars,
            max_attachments=s.max_attachments_per_report,
            draft_ttl_hours=s.draft_ttl_hours,
        )


@dataclass
class Step:
    """What `step()` returns: the replies, and the state and draft to save."""

    replies: list[Reply]
    state: DialogState
    draft: Draft
    effect: Effect | None = None
    extra: dict[str, Any] = field(default_factory=dict)
