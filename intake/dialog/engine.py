"""The conversation: `step(state, draft, message) -> Step`, the same for every channel.

The engine keeps no state of its own and touches no database: the runner loads the state and the
draft, calls `step`, carries out the effect it asks for (filing the report, a status look-up) and
feeds the outcome back in as an event. A question is asked again, politely, whenever an answer
cannot be used; nothing already given is dropped.
"""

from __future__ import annotations

import dataclasses
import secrets
import time
from collections.abc import Callable
from typing import Any

from intake.categories import CATEGORIES, NOT_A_REPORT, REPORT_CODES
from intake.dialog import buttons as B
from intake.dialog.buttons import (
    B_BACK,
    B_CANCEL,
    B_CAT_EXPLAIN,
    B_CAT_OTHER,
    B_CONTINUE,
    B_DONE,
    B_EDIT,
    B_FOLLOWUP,
    B_HELP,
    B_KEEP,
    B_LOOKUP,
    B_NO,
    B_NO_COMMUNE,
    B_REPORT,
    B_RETYPE,
    B_SEND,
    B_SKIP,
    B_THREAD,
    B_UNKNOWN,
    B_YES,
)
from intake.dialog.tools import DEFAULT_TOOLS, Tools
from intake.dialog.types import (
    AddInfo,
    Button,
    DialogState,
    Draft,
    Failed,
    FrontMessage,
    InfoAdded,
    Inbound,
    LookUp,
    Limits,
    LookupResult,
    PendingReceipt,
    Reply,
    ShowThread,
    Step,
    StepName,
    Submitted,
    SubmitReport,
)
from intake.i18n import LANGUAGES, N_, Translator, translator
from intake.labels import ANONYMITY_LABELS, SETTING_LABELS, STATUS_LABELS
from intake.models import Anonymity, Setting
from intake.receipts import normalize_passphrase, normalize_receipt
from intake.search import fold as _fold
from intake.validation import clean_text, has_meaning, normalize_vn_phone

MAX_MESSAGE_CHARS = Limits.max_message_chars  # the default; PHANANH_MAX_MESSAGE_CHARS sets it
MAX_DESCRIPTION_CHARS = 20000
MAX_FIELD_CHARS = 255
LOOKUP_MAX_FAILURES = 5
LOOKUP_LOCK_SECONDS = 15 * 60
SHORT_GREETING_CHARS = 25
LATEST_MESSAGES = 3  # a look-up shows this many of the Front's messages; a button shows them all

# The order questions are asked in. A step is asked when its answer is still missing, so the
# same rule drives a first pass, an edit from the summary, and a change of identity mode.
ORDER: tuple[StepName, ...] = (
    StepName.MODE,
    StepName.DESCRIBE,
    StepName.CATEGORY,
    StepName.ACCUSED_NAME,
    StepName.ACCUSED_POSITION,
    StepName.ACCUSED_AGENCY,
    StepName.PLACE,
    StepName.SETTING,
    StepName.WHEN,
    StepName.EVIDENCE,
    StepName.REPORTER_NAME,
    StepName.REPORTER_PHONE,
    StepName.NOTIFY,
    StepName.REVIEW,
)

COMMANDS = {
    "start": "start",
    "batdau": "start",
    "baocao": "report",
    "report": "report",
    "tracuu": "lookup",
    "status": "lookup",
    "huy": "cancel",
    "cancel": "cancel",
    "trogiup": "help",
    "help": "help",
    "ngonngu": "language",
    "language": "language",
}

# Steps answered only by choosing; elsewhere free text is the answer and buttons are shortcuts.
CHOICE_STEPS = frozenset(
    {
        StepName.IDLE,
        StepName.MODE,
        StepName.CATEGORY,
        StepName.NOT_REPORT,
        StepName.PLACE_CHOICE,
        StepName.SETTING,
        StepName.NOTIFY,
        StepName.REVIEW,
        StepName.EDIT_MENU,
        StepName.CONFIRM_CANCEL,
    }
)
NOT_WRITING = (StepName.IDLE, StepName.LOOKUP_CODE, StepName.LOOKUP_PASS, StepName.FOLLOWUP)

# How to keep a receipt where the chat app itself can: the message above, forwarded to oneself.
KEEP_RECEIPT: dict[str, str] = {
    "telegram": N_("To keep it: touch and hold the message above, choose «Forward», then «Saved Messages»."),
    "zalo": N_("To keep it: touch and hold the message above, choose «Forward», then «Cloud của tôi» (My Cloud)."),
}

# The short form of a question that offers choices, asked again when a typed answer is not one of
# them (the long explanation was already read); a step not listed is asked again in full.
SHORT_QUESTIONS: dict[StepName, str] = {
    StepName.IDLE: N_("What would you like to do? Choose below, or simply write what happened."),
    StepName.MODE: N_("How would you like to send your report? Please choose one of the three ways below."),
    StepName.CATEGORY: N_("Which of these best describes the conduct you are reporting?"),
    StepName.NOT_REPORT: N_("Would you like to go on with your report?"),
    StepName.PLACE_CHOICE: N_("Which of these places do you mean?"),
    StepName.SETTING: N_("Is this about the person's conduct at their workplace, or where they live?"),
    StepName.NOTIFY: N_("Would you like to receive updates on this report in this chat?"),
    StepName.REVIEW: N_("Shall we send your report as summarised above?"),
    StepName.EDIT_MENU: N_("What would you like to change?"),
    StepName.CONFIRM_CANCEL: N_("Cancel this report? Everything you have written will be deleted."),
}


def step(
    state: DialogState,
    draft: Draft,
    message: Inbound,
    tools: Tools = DEFAULT_TOOLS,
    *,
    now: float | None = None,
    limits: Limits | None = None,
) -> Step:
    """Takes one thing the resident did and returns the replies and the new state and draft."""
    # Copies, so the caller's objects never change (pydantic's dump/validate is far cheaper than deepcopy).
    state = DialogState.model_validate(state.model_dump())
    draft = Draft.model_validate(draft.model_dump())
    ctx = _Ctx(
        state=state,
        draft=draft,
        tools=tools,
        now=time.time() if now is None else now,
        limits=Limits.from_settings() if limits is None else limits,
    )
    if draft.pending_receipt is not None:
        # The last receipt may never have reached the resident: show it again before anything else.
        ctx.show_receipt_again(draft.pending_receipt)
    if message.event is not None:
        return ctx.on_event(message)
    if message.resume:
        return ctx.on_resume()
    if message.unsupported:
        return ctx.reprompt(N_("This kind of message cannot be used here. Please send text, or photos and documents as evidence."))
    if ctx.too_long(message.text):
        # Refused whole, before any step reads it: the draft is as it was and the question is asked again.
        return ctx.reprompt(
            N_("That message is too long (at most {limit} characters). Please shorten it or split it into several messages."),
            limit=_number(ctx.limits.max_message_chars),
        )
    if message.button is not None:
        chosen = ctx.pressed(message.button)
        if chosen is None:
            return ctx.refuse_button()
        message = dataclasses.replace(message, button=chosen)  # the handlers read the bare choice
    command = _parse_command(message.text) if message.button is None else None
    if command is not None:
        return ctx.on_command(*command)
    if message.button is None and ctx.choice(message) is None and ctx.foreign_label(message.text):
        # Zalo sends a button's label as text: an old message's button, answering nothing here.
        return ctx.refuse_button()
    handler = _HANDLERS.get(state.step, _Ctx.on_idle)
    return handler(ctx, message)


def fresh_state(lang: str = "vi", *, can_push: bool = False) -> DialogState:
    """A new dialog's state; its question tokens start at random, so no old chat's buttons match them."""
    return DialogState(lang=lang if lang in LANGUAGES else "vi", can_push=can_push, asked=secrets.randbelow(B.TOKEN_SPACE))


def _number(n: int) -> str:
    """A count written the Vietnamese way, with dots between thousands."""
    return f"{n:,}".replace(",", ".")


def receipt_text(t: Translator, *, committee: str, receipt: str, passphrase: str, received_on: str) -> str:
    """The message that gives the resident the receipt code and passphrase of a filed report."""
    return t._(
        "Thank you. Your report has been sent to {committee} on {date}.\n\n"
        "Receipt code: {receipt}\nPassphrase: {passphrase}\n\n"
        "Please keep both somewhere safe: nobody else has them, and without them the report cannot be found again. "
        "With them you can check the status of your report at any time with /tracuu.",
        committee=committee,
        date=received_on,
        receipt=receipt,
        passphrase=passphrase,
    )


def receipt_reply(t: Translator, receipt: PendingReceipt, *, lead: str = "") -> Reply:
    """The receipt in a message of its own, easy to forward or save (no buttons)."""
    text = receipt_text(t, committee=receipt.committee_name, receipt=receipt.receipt, passphrase=receipt.passphrase, received_on=receipt.received_on)
    return Reply(
        text=f"{lead}\n\n{text}" if lead else text,
        receipt=receipt.receipt,
        passphrase=receipt.passphrase,
        received_on=receipt.received_on,
    )


def _parse_command(text: str) -> tuple[str, list[str]] | None:
    stripped = text.strip()
    if not stripped.startswith("/") or len(stripped) < 2:
        return None
    head, *args = stripped.split()
    name = head[1:].split("@", 1)[0].lower()
    return name, args


class _Ctx:
    """One call of `step`: the state being changed and the helpers that phrase replies."""

    def __init__(self, *, state: DialogState, draft: Draft, tools: Tools, now: float, limits: Limits) -> None:
        self.state = state
        self.draft = draft
        self.tools = tools
        self.now = now
        self.limits = limits
        self.replies: list[Reply] = []

    @property
    def t(self) -> Translator:
        return translator(self.state.lang)

    # -- output -------------------------------------------------------------------------------

    def say(self, text: str, buttons: list[tuple[str, str]] | None = None, *, refused: bool = False) -> None:
        """Adds a reply; with `buttons` ((choice, label) pairs, maybe none) it asks the current step's question."""
        shown: tuple[Button, ...] = ()
        if buttons is not None:
            self.open_question()
            self.state.buttons = buttons
            self.state.offered = list(dict.fromkeys([*self.state.offered, *(choice for choice, _ in buttons)]))
            shown = tuple(Button(label, B.payload(self.state.question, choice)) for choice, label in buttons)
        self.replies.append(Reply(text=text, buttons=shown, refused=refused))

    def open_question(self) -> None:
        """Makes a new token when the step's question is asked anew; within one asking the token stays."""
        if not self.state.question.startswith(f"{self.state.step.value}:"):
            self.state.asked = (self.state.asked + 1) % B.TOKEN_SPACE
            self.state.question = B.question_key(self.state.step, self.state.asked)
            self.state.offered = list(B.ALWAYS_OFFERED.get(self.state.step, ()))
            self.state.buttons = []

    def fixed(self, step: StepName, *choices: str) -> list[tuple[str, str]]:
        """The translated (choice, label) of fixed buttons of a question, in the order asked for."""
        labels = dict(B.FIXED[step])
        return [(choice, self.t._(labels[choice])) for choice in choices]

    def pressed(self, data: str) -> str | None:
        """The choice of a pressed button, or None when it belongs to another question than the one asked."""
        read = B.read_payload(data)
        current = self.state.question
        if read is None or read.question != current or not current.startswith(f"{self.state.step.value}:"):
            return None
        return read.choice if read.choice in self.state.offered else None

    def refuse_button(self) -> Step:
        """Answers a button of another question: nothing changes, and the question now asked comes again."""
        self.say(self.t._("That button belongs to an earlier question, so nothing was changed. Please answer the question below."), refused=True)
        self.ask(self.state.step, short=True)
        return self.done()

    def foreign_label(self, text: str) -> bool:
        """Whether a text is exactly the label of a button that is not offered now (Zalo sends labels as text)."""
        return B.fold(text) in B.known_labels()

    def reask(self) -> Step:
        """A typed answer that is none of the choices: only the short question again, with its buttons."""
        short = SHORT_QUESTIONS.get(self.state.step)
        if short is None or not self.state.buttons:
            self.ask(self.state.step)
        else:
            self.say(self.t._(short), list(self.state.buttons))
        return self.done()

    def done(self, effect: SubmitReport | LookUp | AddInfo | ShowThread | None = None) -> Step:
        return Step(replies=self.replies, state=self.state, draft=self.draft, effect=effect)

    def reprompt(self, problem: str, **params: object) -> Step:
        """Says what was wrong, then asks the current question again; nothing changes."""
        self.say(self.t._(problem, **params))
        self.ask(self.state.step)
        return self.done()

    # -- flow ---------------------------------------------------------------------------------

    def missing(self, name: StepName) -> bool:
        d = self.draft
        anonymous = d.mode == Anonymity.ANONYMOUS.value
        checks: dict[StepName, Callable[[], bool]] = {
            StepName.MODE: lambda: d.mode is None,
            StepName.DESCRIBE: lambda: not d.description_done,
            StepName.CATEGORY: lambda: d.category is None,
            StepName.ACCUSED_NAME: lambda: d.accused_name is None,
            StepName.ACCUSED_POSITION: lambda: d.accused_position is None,
            StepName.ACCUSED_AGENCY: lambda: d.accused_agency is None,
            StepName.PLACE: lambda: d.province_code is None,
            StepName.SETTING: lambda: d.setting is None,
            StepName.WHEN: lambda: d.occurred is None,
            StepName.EVIDENCE: lambda: not d.evidence_done,
            StepName.REPORTER_NAME: lambda: not anonymous and d.reporter_name is None,
            StepName.REPORTER_PHONE: lambda: not anonymous and d.reporter_phone is None,
            StepName.NOTIFY: lambda: self.state.can_push and d.notify is None,
            StepName.REVIEW: lambda: True,
        }
        return checks[name]()

    def advance(self) -> Step:
        """Moves to the first question still unanswered and asks it."""
        for name in ORDER:
            if self.missing(name):
                self.state.step = name
                self.ask(name)
                return self.done()
        raise AssertionError("REVIEW is always missing")  # pragma: no cover

    def ask(self, name: StepName, *, short: bool = False) -> None:
        """Asks the question of a step and records the buttons offered with it (`short`: its short form)."""
        if short and name in SHORT_QUESTIONS and self.state.buttons and self.state.question.startswith(f"{name.value}:"):
            self.say(self.t._(SHORT_QUESTIONS[name]), list(self.state.buttons))
            return
        asker = _ASKERS.get(name)
        if asker is not None:
            asker(self)
            return
        self.greet(self.t)

    def greet(self, t: Translator) -> None:
        self.state.step = StepName.IDLE
        self.say(
            t._(
                "Hello. This is where residents report misconduct of cadres and party members to the Vietnam Fatherland Front.\n\n"
                "We receive reports of corruption, harassment, waste, abuse of office and degraded conduct of officials.\n\n"
                "This is not an emergency line: if a life is in danger, call 113 (police), 114 (fire) or 115 (ambulance). "
                "For potholes, power, water, garbage or administrative procedures, please contact the People's Committee of your commune or ward."
            ),
            self.menu_buttons(),
        )
        self.state.greeted = True

    def menu_buttons(self) -> list[tuple[str, str]]:
        """The menu; with «Add information» first when this chat holds a looked-up case."""
        menu = self.fixed(StepName.IDLE, B_REPORT, B_LOOKUP, B_HELP)
        if self.draft.followup_case_id is not None:
            menu = self.fixed(StepName.IDLE, B_FOLLOWUP) + menu
        return menu

    def choice(self, message: Inbound) -> str | None:
        """The choice the resident made: a pressed button (already checked), or typed text that clearly is one.

        Typed text counts when it is a label of this question without diacritics or case, its number
        (where text is no answer), or a short word such as "có", "ko", "đúng" that the question reads.
        """
        if message.button is not None:
            return message.button
        typed = _fold(message.text)
        if not typed or not self.state.question.startswith(f"{self.state.step.value}:"):
            return None  # nothing typed, or the buttons on record belong to no question now asked
        offered = self.state.buttons
        # Channels without buttons number the options; digits count only where text is no answer.
        # isascii: "²" or "①" pass isdigit() but int() refuses them.
        if self.state.step in CHOICE_STEPS and typed.isascii() and typed.isdigit() and 1 <= int(typed) <= len(offered):
            return offered[int(typed) - 1][0]
        for choice, label in offered:
            if _fold(label) == typed:
                return choice
        for step, choice in B.known_labels().get(typed, ()):
            if step == self.state.step and choice in self.state.offered:
                return choice  # a label shown earlier with this same question
        return B.typed_choice(self.state.step, typed, self.state.offered)

    def too_long(self, text: str) -> bool:
        """Whether a message is over the deployment's limit (counted as cleaned, like every answer)."""
        limit = self.limits.max_message_chars
        return len(text) > limit and len(clean_text(text)) > limit

    def text_answer(self, message: Inbound, *, limit: int | None = None) -> str | Step:
        """The cleaned text of an answer, or the re-prompt that explains why it cannot be used."""
        limit = self.limits.max_message_chars if limit is None else limit
        if message.attachments:
            return self.reprompt(N_("Thank you. Files can be sent at the evidence step; please answer this question with text first."))
        text = clean_text(message.text)
        if not text:
            return self.reprompt(N_("We received an empty message. Please write your answer."))
        if len(text) > limit:
            return self.reprompt(
                N_("That message is too long (at most {limit} characters). Please shorten it or split it into several messages."),
                limit=_number(limit),
            )
        if not has_meaning(text):
            return self.reprompt(N_("We could not read an answer in that message. Please answer with words."))
        return text

    def on_resume(self) -> Step:
        if self.state.step == StepName.IDLE:
            self.greet(self.t)
            return self.done()
        self.say(self.t._("Welcome back. We continue where you left off."))
        self.ask(self.state.step)
        return self.done()

    # -- commands -----------------------------------------------------------------------------

    def in_flow(self) -> bool:
        return self.state.step not in NOT_WRITING or not self.draft.is_empty()

    def on_command(self, name: str, args: list[str]) -> Step:
        t = self.t
        action = COMMANDS.get(name)
        if action == "help":
            self.say(self.help_text())
            self.ask(self.state.step)
            return self.done()
        if action == "language":
            wanted = args[0].lower() if args and args[0].lower() in LANGUAGES else None
            self.state.lang = wanted or ("en" if self.state.lang == "vi" else "vi")
            self.say(self.t._("Switched to English."))
            self.ask(self.state.step)
            return self.done()
        if action == "cancel":
            if not self.in_flow() and self.state.step == StepName.IDLE:
                self.say(t._("There is no report in progress to cancel."))
                self.ask(StepName.IDLE)
                return self.done()
            if self.state.step in (StepName.LOOKUP_CODE, StepName.LOOKUP_PASS, StepName.FOLLOWUP):
                return self.finish_lookup(cancelled=True)
            self.state.resume = self.state.step if self.state.step != StepName.CONFIRM_CANCEL else self.state.resume
            self.state.step = StepName.CONFIRM_CANCEL
            self.ask(StepName.CONFIRM_CANCEL)
            return self.done()
        if action == "lookup":
            return self.start_lookup(args)
        if action in ("start", "report"):
            if self.in_flow():
                self.say(t._("You are in the middle of a report. Finish it, or type /huy to cancel it first."))
                self.ask(self.state.step)
                return self.done()
            if action == "start":
                self.greet(t)
                return self.done()
            self.draft = self.new_draft()
            return self.advance()
        self.say(t._("Unknown command. Type /trogiup to see what you can do."))
        self.ask(self.state.step)
        return self.done()

    def new_draft(self, **fields: Any) -> Draft:
        """An empty report; a receipt not yet confirmed as shown stays with it (it is the only key to the last
        case), and so does the case this chat has looked up."""
        return Draft(pending_receipt=self.draft.pending_receipt, followup_case_id=self.draft.followup_case_id, **fields)

    def help_text(self) -> str:
        return self.t._(
            "How to use this channel:\n"
            "/baocao: send a new report\n"
            "/tracuu: check the status of a report\n"
            "/huy: cancel the report you are writing\n"
            "/ngonngu: switch between Vietnamese and English\n"
            "/trogiup: show this help\n\n"
            "An unfinished report is kept for {hours} hours, then deleted.",
            hours=self.limits.draft_ttl_hours,
        )

    # -- idle ---------------------------------------------------------------------------------

    def on_idle(self, message: Inbound) -> Step:
        chosen = self.choice(message)
        if chosen == B_REPORT:
            self.draft = self.new_draft()
            return self.advance()
        if chosen == B_LOOKUP:
            return self.start_lookup([])
        if chosen == B_HELP:
            self.say(self.help_text())
            self.ask(StepName.IDLE, short=True)
            return self.done()
        if chosen == B_FOLLOWUP and self.draft.followup_case_id is not None:
            self.state.step = StepName.FOLLOWUP
            self.ask(StepName.FOLLOWUP)
            return self.done()
        if chosen == B_THREAD and self.draft.followup_case_id is not None:
            return self.done(ShowThread(case_id=self.draft.followup_case_id))
        text = clean_text(message.text)
        if self.state.greeted and len(text) > SHORT_GREETING_CHARS and has_meaning(text) and len(text) <= self.limits.max_message_chars:
            # The resident began with the story itself: keep it and ask only what is left.
            self.draft = self.new_draft(description_parts=[text])
            self.say(self.t._("Thank you, we have noted what you wrote. First, a question about your identity."))
            return self.advance()
        if not self.state.greeted:
            self.greet(self.t)
            return self.done()
        return self.reask()

    # -- identity mode ------------------------------------------------------------------------

    def ask_mode(self) -> None:
        t = self.t
        self.say(
            t._(
                "How would you like to send your report?\n\n"
                "• Anonymous: we keep no name or phone number. A concrete report (who, what, when, evidence) is still acted on.\n"
                "• Confidential identity: you give your name and phone number; they are encrypted and only the committee's chair can see them.\n"
                "• Open: you give your name and phone number, and the officers handling the case may see them.\n\n"
                "For a formal denunciation under the Law on Denunciation, please choose confidential or open."
            ),
            self.fixed(StepName.MODE, *(f"mode:{m}" for m in ANONYMITY_LABELS)),
        )

    def on_mode(self, message: Inbound) -> Step:
        chosen = self.choice(message)
        if chosen is None or not chosen.startswith("mode:"):
            return self.reask()
        self.draft.mode = chosen.split(":", 1)[1]
        if self.draft.mode == Anonymity.ANONYMOUS.value:
            self.draft.reporter_name = None
            self.draft.reporter_phone = None
        return self.advance()

    # -- what happened ------------------------------------------------------------------------

    def ask_describe(self) -> None:
        t = self.t
        if self.draft.description_parts:
            self.say(
                t._("We have noted what you wrote. You can add more details, or press «I have finished» to continue."),
                self.fixed(StepName.DESCRIBE, B_DONE),
            )
            return
        self.say(
            t._(
                "Please tell us what happened: what the person did, how, and any amounts of money involved. "
                "You can send several messages. Press «I have finished» when you are done."
            ),
            [],
        )

    def on_describe(self, message: Inbound) -> Step:
        chosen = self.choice(message)
        if chosen == B_DONE:
            self.draft.description_done = True
            self.draft.category = None
            return self.advance()
        answer = self.text_answer(message)
        if isinstance(answer, Step):
            return answer
        if len(self.draft.description) + len(answer) > MAX_DESCRIPTION_CHARS:
            return self.reprompt(
                N_("Your description has reached its maximum length ({limit} characters). Please press «I have finished» to continue."),
                limit=_number(MAX_DESCRIPTION_CHARS),
            )
        self.draft.description_parts.append(answer)
        self.ask_describe()
        return self.done()

    # -- category -----------------------------------------------------------------------------

    def suggestion_top(self) -> list[tuple[int, float]]:
        if self.draft.suggestion is None:
            suggestion = self.tools.suggest(self.draft.description)
            self.draft.suggestion = {
                "category": suggestion.category,
                "top": [[int(c), float(s)] for c, s in suggestion.top],
                "scores": {str(k): float(v) for k, v in suggestion.scores.items()},
                "terms": list(suggestion.terms)[:10],
            }
        return [(int(c), float(s)) for c, s in self.draft.suggestion["top"]]

    def all_categories(self) -> list[tuple[str, str]]:
        return self.fixed(StepName.CATEGORY, *(f"cat:{code}" for code in REPORT_CODES), B_CAT_EXPLAIN)

    def ask_category(self) -> None:
        t = self.t
        top = self.suggestion_top()
        first, confidence = top[0] if top else (NOT_A_REPORT, 0.0)
        if first == NOT_A_REPORT and confidence >= self.tools.threshold and not self.draft.not_report_ack:
            self.state.step = StepName.NOT_REPORT
            # No verdict on the report (a guess of the classifier's): what the channel is for, and one tap to go on.
            self.say(
                t._(
                    "This channel takes reports about the conduct of cadres and party members, hamlet and residential-group heads "
                    "included, at work or where they live; for roads, power, water, disputes between neighbours or paperwork, "
                    "the People's Committee of your commune or ward can help you sooner."
                ),
                self.fixed(StepName.NOT_REPORT, B_CONTINUE, B_CANCEL),
            )
            return
        likely = [(c, s) for c, s in top if c != NOT_A_REPORT and s >= self.tools.threshold / 3][:3]
        if confidence < self.tools.threshold or not likely:
            self.say(t._("Which of these best describes the conduct you are reporting?"), self.all_categories())
            return
        lines = "\n".join(f"• {t._(CATEGORIES[c].short)}" for c, _ in likely)
        self.say(
            t._("From what you wrote, this looks like:\n{lines}\n\nPlease choose the closest one, or another type.", lines=lines),
            self.fixed(StepName.CATEGORY, *(f"cat:{c}" for c, _ in likely), B_CAT_OTHER, B_CAT_EXPLAIN),
        )

    def on_category(self, message: Inbound) -> Step:
        chosen = self.choice(message)
        t = self.t
        if chosen == B_CAT_OTHER:
            self.say(t._("Which of these best describes the conduct you are reporting?"), self.all_categories())
            return self.done()
        if chosen == B_CAT_EXPLAIN:
            lines = "\n".join(f"{c}. {t._(CATEGORIES[c].short)}: {t._(CATEGORIES[c].description)}" for c in REPORT_CODES)
            self.say(lines)
            self.say(t._("Which of these best describes the conduct you are reporting?"), self.all_categories())
            return self.done()
        if chosen is None or not chosen.startswith("cat:"):
            return self.reask()
        self.draft.category = int(chosen.split(":", 1)[1])
        return self.advance()

    def on_not_report(self, message: Inbound) -> Step:
        chosen = self.choice(message)
        if chosen == B_CONTINUE:
            self.state.step = StepName.CATEGORY
            self.draft.not_report_ack = True  # do not explain twice
            self.say(self.t._("Which of these best describes the conduct you are reporting?"), self.all_categories())
            return self.done()
        if chosen == B_CANCEL:
            return self.confirm_cancel()
        return self.reask()

    # -- the person reported ------------------------------------------------------------------

    def ask_accused_name(self) -> None:
        t = self.t
        self.say(t._("What is the name of the person you are reporting? You can skip this if you do not know it."), self.fixed(StepName.ACCUSED_NAME, B_SKIP))

    def ask_accused_position(self) -> None:
        t = self.t
        self.say(
            t._("What is their position? For example: commune chair, hamlet head, land officer, commune police officer, school principal."),
            self.fixed(StepName.ACCUSED_POSITION, B_UNKNOWN),
        )

    def ask_accused_agency(self) -> None:
        t = self.t
        self.say(
            t._("Which agency or unit do they work for? For example: the commune People's Committee, a school, the tax office."),
            self.fixed(StepName.ACCUSED_AGENCY, B_UNKNOWN),
        )

    def on_short_field(self, message: Inbound, field: str, skip: str) -> Step:
        """Answers to the person's name, position or agency, or the time: short text, or the «not known» button."""
        if self.choice(message) == skip:
            setattr(self.draft, field, "")
            return self.advance()
        answer = self.text_answer(message, limit=MAX_FIELD_CHARS)
        if isinstance(answer, Step):
            return answer
        setattr(self.draft, field, answer)
        return self.advance()

    # -- place --------------------------------------------------------------------------------

    def ask_place(self) -> None:
        t = self.t
        self.say(
            t._("Where does this happen? Please write the commune or ward and the province, for example: «xã Tân Phú, Đồng Nai»."),
            [],
        )

    def on_place(self, message: Inbound) -> Step:
        answer = self.text_answer(message, limit=500)
        if isinstance(answer, Step):
            return answer
        return self.resolve_place(answer, province_code=None)

    def resolve_place(self, text: str, *, province_code: str | None) -> Step:
        t = self.t
        match = self.tools.locate(text, province_code)
        if match.commune is not None and match.province is not None and not match.ambiguous:
            self.set_place(text, match.province.code, match.province.name, match.commune.code, match.commune.name)
            if match.legacy:
                self.say(
                    t._(
                        "Since 1 July 2025 this address belongs to {commune}, {province}. We have recorded it that way.",
                        commune=match.commune.name,
                        province=match.province.name,
                    )
                )
            else:
                self.say(t._("Place recorded: {commune}, {province}.", commune=match.commune.name, province=match.province.name))
            return self.advance()
        candidates = [c for c in match.candidates if c.province is not None][:6]
        if candidates and (match.ambiguous or match.commune is None):
            if any(c.commune is not None for c in candidates):
                self.draft.place_text = text
                self.draft.place_candidates = [
                    {
                        "province_code": c.province.code,
                        "province_name": c.province.name,
                        "commune_code": c.commune.code if c.commune else None,
                        "commune_name": c.commune.name if c.commune else None,
                    }
                    for c in candidates
                    if c.province is not None
                ]
                self.state.step = StepName.PLACE_CHOICE
                self.ask(StepName.PLACE_CHOICE)
                return self.done()
        if match.province is not None and match.commune is None:
            self.draft.place_text = text
            self.draft.place_candidates = [{"province_code": match.province.code, "province_name": match.province.name}]
            self.state.step = StepName.PLACE_CHOICE
            self.ask(StepName.PLACE_CHOICE)
            return self.done()
        return self.reprompt(
            N_("We could not find this place. Please write the commune or ward and the province again, for example: «phường Bến Thành, TP. Hồ Chí Minh».")
        )

    def set_place(self, text: str, pcode: str, pname: str, ccode: str | None, cname: str | None) -> None:
        d = self.draft
        d.place_text, d.province_code, d.province_name = text, pcode, pname
        d.commune_code, d.commune_name = ccode, cname
        d.place_candidates = []

    def ask_place_choice(self) -> None:
        t = self.t
        cands = self.draft.place_candidates
        if len(cands) == 1 and not cands[0].get("commune_code"):
            self.say(
                t._("Which commune or ward of {province}? Please write its name.", province=cands[0]["province_name"]),
                self.fixed(StepName.PLACE_CHOICE, B_NO_COMMUNE, B_RETYPE),
            )
            return
        buttons = [
            (f"place:{i}", f"{c['commune_name']}, {c['province_name']}" if c.get("commune_name") else c["province_name"])
            for i, c in enumerate(cands)
        ]
        self.say(
            t._("Several places match «{text}». Which one do you mean?", text=self.draft.place_text or ""),
            buttons + self.fixed(StepName.PLACE_CHOICE, B_RETYPE),
        )

    def on_place_choice(self, message: Inbound) -> Step:
        chosen = self.choice(message)
        cands = self.draft.place_candidates
        if chosen == B_RETYPE:
            self.draft.place_candidates = []
            self.draft.place_text = None
            self.state.step = StepName.PLACE
            self.ask(StepName.PLACE)
            return self.done()
        if chosen == B_NO_COMMUNE and cands:
            c = cands[0]
            self.set_place(self.draft.place_text or "", c["province_code"], c["province_name"], None, None)
            return self.advance()
        if chosen and chosen.startswith("place:") and chosen[6:].isascii() and chosen[6:].isdigit() and int(chosen[6:]) < len(cands):
            c = cands[int(chosen[6:])]
            if c.get("commune_code"):
                self.set_place(self.draft.place_text or "", c["province_code"], c["province_name"], c["commune_code"], c["commune_name"])
                return self.advance()
        if chosen is None:
            # Typed words that are none of the choices: the place, written again.
            answer = self.text_answer(message, limit=500)
            if isinstance(answer, Step):
                return answer
            single_province = cands[0]["province_code"] if len(cands) == 1 and not cands[0].get("commune_code") else None
            return self.resolve_place(answer, province_code=single_province)
        return self.reask()

    # -- setting, time, evidence --------------------------------------------------------------

    def ask_setting(self) -> None:
        t = self.t
        self.say(
            t._("Is this about the person's conduct at their workplace, or where they live?"),
            self.fixed(StepName.SETTING, *(f"setting:{s}" for s in SETTING_LABELS)),
        )

    def on_setting(self, message: Inbound) -> Step:
        chosen = self.choice(message)
        if chosen is None or not chosen.startswith("setting:"):
            return self.reask()
        self.draft.setting = chosen.split(":", 1)[1]
        return self.advance()

    def ask_when(self) -> None:
        t = self.t
        self.say(
            t._("When did it happen? For example: «March 2026», «last week», «many times since 2024»."),
            self.fixed(StepName.WHEN, B_UNKNOWN),
        )

    def ask_evidence(self) -> None:
        t = self.t
        count, cap = len(self.draft.attachments), self.limits.max_attachments
        if count and count >= cap:
            self.say(
                t._("We have received {count} file(s), as many as one report can take. Press «No more files» to continue.", count=count),
                self.fixed(StepName.EVIDENCE, B_DONE),
            )
            return
        if count:
            self.say(
                t._("We have received {count} file(s). Send more, or press «No more files».", count=count),
                self.fixed(StepName.EVIDENCE, B_DONE),
            )
            return
        if cap == 0:
            self.say(
                t._("Do you have evidence? Files cannot be received here: please describe the evidence you have in a message. Press «No evidence» to skip."),
                self.fixed(StepName.EVIDENCE, B_SKIP),
            )
            return
        self.say(
            t._(
                "Do you have photos, documents or recordings as evidence? Send them here: on this website with the button "
                "«Send photos, documents» under the message box; in Telegram or Zalo with the attach button (a paperclip or a picture) "
                "beside where you type. Location, device and author data are removed from photos, videos, recordings, PDFs and "
                "Office documents.\n\n"
                "If you cannot send files, describe the evidence you have in a message. Press «No evidence» to skip."
            ),
            self.fixed(StepName.EVIDENCE, B_SKIP),
        )

    def on_evidence(self, message: Inbound) -> Step:
        t = self.t
        if message.attachments:
            room = max(0, self.limits.max_attachments - len(self.draft.attachments))
            taken, refused = message.attachments[:room], message.attachments[room:]
            # Only ids in the draft are filed with the report; the runner deletes the refused files.
            self.draft.attachments.extend(a.id for a in taken)
            if any(a.metadata_removed for a in taken):
                self.say(t._("Location and device data were removed from your file(s) before saving."))
            if any(not a.metadata_removed for a in taken):
                # Said plainly: this kind of file could not be cleaned, so the resident can choose another.
                self.say(
                    t._(
                        "A file was saved as you sent it: hidden data (such as location or device) cannot be removed "
                        "from this kind of file. If that worries you, send a photo, a PDF or a video instead."
                    )
                )
            if refused and self.limits.max_attachments == 0:
                self.say(t._("Sorry, files cannot be received here. Your file was not saved."))
            elif refused:
                self.say(
                    t._(
                        "Sorry, one report can take at most {limit} files. {count} file(s) beyond that were not saved.",
                        limit=self.limits.max_attachments,
                        count=len(refused),
                    )
                )
            self.ask_evidence()
            return self.done()
        chosen = self.choice(message)
        if chosen in (B_DONE, B_SKIP):
            self.draft.evidence_done = True
            return self.advance()
        answer = self.text_answer(message)
        if isinstance(answer, Step):
            return answer
        self.draft.description_parts.append(t._("Evidence: {note}", note=answer))
        self.say(t._("Noted."))
        self.ask_evidence_after_note()
        return self.done()

    def ask_evidence_after_note(self) -> None:
        t = self.t
        self.say(t._("You can send files or describe more evidence, or press «No more files»."), self.fixed(StepName.EVIDENCE, B_DONE))

    # -- the reporter -------------------------------------------------------------------------

    def ask_reporter_name(self) -> None:
        t = self.t
        if self.draft.mode == Anonymity.CONFIDENTIAL.value:
            self.say(t._("Please give your full name. It is encrypted, and only the committee's chair can see it."), [])
        else:
            self.say(t._("Please give your full name. The officers handling your report will see it."), [])

    def ask_reporter_phone(self) -> None:
        self.say(self.t._("Please give a phone number where the Front can reach you, for example 0912 345 678."), [])

    def on_reporter_name(self, message: Inbound) -> Step:
        answer = self.text_answer(message, limit=MAX_FIELD_CHARS)
        if isinstance(answer, Step):
            return answer
        self.draft.reporter_name = answer
        return self.advance()

    def on_reporter_phone(self, message: Inbound) -> Step:
        answer = self.text_answer(message, limit=40)
        if isinstance(answer, Step):
            return answer
        phone = normalize_vn_phone(answer)
        if phone is None:
            return self.reprompt(N_("This does not look like a Vietnamese phone number. Please check it, for example 0912 345 678."))
        self.draft.reporter_phone = phone
        return self.advance()

    def ask_notify(self) -> None:
        t = self.t
        self.say(
            t._(
                "Would you like to receive updates on this report in this chat? If you agree, we keep this chat's address encrypted "
                "and delete it some time after the case is closed. If not, you can still check the status with your receipt code."
            ),
            self.fixed(StepName.NOTIFY, B_YES, B_NO),
        )

    def on_notify(self, message: Inbound) -> Step:
        chosen = self.choice(message)
        if chosen not in (B_YES, B_NO):
            return self.reask()
        self.draft.notify = chosen == B_YES
        return self.advance()

    # -- review, edit, submit -----------------------------------------------------------------

    def summary(self) -> str:
        t, d = self.t, self.draft
        unknown = t._("not given")
        text = d.description if len(d.description) <= 600 else d.description[:600] + "…"
        who = ", ".join(x for x in (d.accused_name, d.accused_position, d.accused_agency) if x) or unknown
        place = ", ".join(x for x in (d.commune_name, d.province_name) if x) or unknown
        lines = [
            t._("What happened: {text}", text=text),
            t._("Type: {category}", category=t._(CATEGORIES[d.category].short) if d.category is not None else unknown),
            t._("Person reported: {who}", who=who),
            t._("Place: {place}", place=place),
            t._("Setting: {setting}", setting=t._(SETTING_LABELS[d.setting]) if d.setting else unknown),
            t._("When: {when}", when=d.occurred or unknown),
            t._("Evidence files: {count}", count=len(d.attachments)),
            t._("Identity: {mode}", mode=t._(ANONYMITY_LABELS[d.mode]) if d.mode else unknown),
        ]
        if d.mode != Anonymity.ANONYMOUS.value:
            lines.append(t._("Your name: {name}", name=d.reporter_name or unknown))
            lines.append(t._("Your phone: {phone}", phone=d.reporter_phone or unknown))
        committee = self.expected_committee()
        if committee:
            lines.append(t._("Will be sent to: {committee}", committee=committee))
        return "\n".join(lines)

    def expected_committee(self) -> str | None:
        d = self.draft
        if d.province_code is None:
            return None
        decision = self.tools.route(
            province_code=d.province_code,
            commune_code=d.commune_code,
            role=" ".join(x for x in (d.accused_position, d.accused_agency) if x),
            setting=d.setting or Setting.WORKPLACE.value,
        )
        return str(decision.committee_name)

    def ask_review(self) -> None:
        t = self.t
        self.say(
            t._("Please check your report:\n\n{summary}\n\nIf everything is right, press «Send this report».", summary=self.summary()),
            self.fixed(StepName.REVIEW, B_SEND, B_EDIT, B_CANCEL),
        )

    def on_review(self, message: Inbound) -> Step:
        chosen = self.choice(message)
        if chosen == B_SEND:
            return self.done(SubmitReport())
        if chosen == B_EDIT:
            self.state.step = StepName.EDIT_MENU
            self.ask(StepName.EDIT_MENU)
            return self.done()
        if chosen == B_CANCEL:
            return self.confirm_cancel()
        return self.reask()

    def ask_edit_menu(self) -> None:
        anonymous = self.draft.mode == Anonymity.ANONYMOUS.value
        edits = [choice for choice, _ in B.EDITS if not (choice == "edit:identity" and anonymous)]
        self.say(self.t._("What would you like to change?"), self.fixed(StepName.EDIT_MENU, *edits, B_BACK))

    def on_edit_menu(self, message: Inbound) -> Step:
        chosen = self.choice(message)
        d = self.draft
        resets: dict[str, Callable[[], None]] = {
            "edit:description": lambda: (d.description_parts.clear(), setattr(d, "description_done", False), setattr(d, "suggestion", None)),  # type: ignore[func-returns-value]
            "edit:category": lambda: setattr(d, "category", None),
            "edit:accused_name": lambda: setattr(d, "accused_name", None),
            "edit:accused_position": lambda: setattr(d, "accused_position", None),
            "edit:accused_agency": lambda: setattr(d, "accused_agency", None),
            "edit:place": lambda: self.set_place_none(),
            "edit:setting": lambda: setattr(d, "setting", None),
            "edit:when": lambda: setattr(d, "occurred", None),
            "edit:evidence": lambda: setattr(d, "evidence_done", False),
            "edit:mode": lambda: setattr(d, "mode", None),
            "edit:identity": lambda: (setattr(d, "reporter_name", None), setattr(d, "reporter_phone", None)),  # type: ignore[func-returns-value]
        }
        if chosen == B_BACK:
            return self.advance()
        if chosen in resets:
            resets[chosen]()
            return self.advance()
        return self.reask()

    def set_place_none(self) -> None:
        d = self.draft
        d.place_text = d.province_code = d.province_name = d.commune_code = d.commune_name = None
        d.place_candidates = []

    # -- cancel -------------------------------------------------------------------------------

    def ask_confirm_cancel(self) -> None:
        t = self.t
        self.say(
            t._("Cancel this report? Everything you have written will be deleted."),
            self.fixed(StepName.CONFIRM_CANCEL, B_YES, B_KEEP),
        )

    def confirm_cancel(self) -> Step:
        """Asks before deleting the draft; «No» comes back to the question now asked."""
        self.state.resume = self.state.step
        self.state.step = StepName.CONFIRM_CANCEL
        self.ask(StepName.CONFIRM_CANCEL)
        return self.done()

    def on_confirm_cancel(self, message: Inbound) -> Step:
        chosen = self.choice(message)
        if chosen == B_YES:
            return self.cancel_draft()
        if chosen == B_KEEP:
            resume = self.state.resume or StepName.IDLE
            self.state.resume = None
            self.state.step = resume
            self.ask(resume)
            return self.done()
        return self.reask()

    def cancel_draft(self) -> Step:
        self.draft = self.new_draft()
        self.state.resume = None
        self.say(self.t._("Your unfinished report has been deleted."))
        self.greet(self.t)
        return self.done()

    # -- status look-up -----------------------------------------------------------------------

    def start_lookup(self, args: list[str]) -> Step:
        t = self.t
        if self.state.step not in (StepName.LOOKUP_CODE, StepName.LOOKUP_PASS, StepName.IDLE):
            self.state.resume = self.state.step
        locked = self.state.lookup_locked_until
        if locked is not None and locked > self.now:
            minutes = max(1, int((locked - self.now + 59) // 60))
            self.say(t._("Too many unsuccessful attempts. Please try again in {minutes} minutes.", minutes=minutes))
            return self.finish_lookup(cancelled=True)
        if args:
            receipt = normalize_receipt("".join(args[:3]) if len(args) >= 3 and len(args[0]) == 4 else args[0])
            rest = args[3:] if len(args) >= 3 and len(args[0]) == 4 else args[1:]
            if receipt is None:
                self.state.step = StepName.LOOKUP_CODE
                return self.reprompt(N_("That is not a valid receipt code. It has 12 letters and digits, for example K7M2-P9XA-3FQT."))
            self.state.lookup_receipt = receipt
            if rest:
                passphrase = normalize_passphrase("".join(rest))
                if passphrase is None:
                    self.state.step = StepName.LOOKUP_PASS
                    return self.reprompt(N_("That is not a valid passphrase. It has 12 letters and digits, for example k7m2-p9xa-3fqt."))
                self.state.step = StepName.LOOKUP_PASS
                return self.done(LookUp(receipt=receipt, passphrase=passphrase))
            self.state.step = StepName.LOOKUP_PASS
            self.ask(StepName.LOOKUP_PASS)
            return self.done()
        self.state.step = StepName.LOOKUP_CODE
        self.ask(StepName.LOOKUP_CODE)
        return self.done()

    def ask_lookup_code(self) -> None:
        t = self.t
        self.say(t._("Please enter your receipt code, for example K7M2-P9XA-3FQT."), self.fixed(StepName.LOOKUP_CODE, B_CANCEL))

    def ask_lookup_pass(self) -> None:
        t = self.t
        self.say(t._("Please enter the passphrase you received with the receipt code."), self.fixed(StepName.LOOKUP_PASS, B_CANCEL))
        self.replies[-1] = dataclasses.replace(self.replies[-1], secret_answer=True)

    def on_lookup_code(self, message: Inbound) -> Step:
        if self.choice(message) == B_CANCEL:
            return self.finish_lookup(cancelled=True)
        answer = self.text_answer(message, limit=100)
        if isinstance(answer, Step):
            return answer
        receipt = normalize_receipt(answer)
        if receipt is None:
            return self.reprompt(N_("That is not a valid receipt code. It has 12 letters and digits, for example K7M2-P9XA-3FQT."))
        self.state.lookup_receipt = receipt
        self.state.step = StepName.LOOKUP_PASS
        self.ask(StepName.LOOKUP_PASS)
        return self.done()

    def on_lookup_pass(self, message: Inbound) -> Step:
        if self.choice(message) == B_CANCEL:
            return self.finish_lookup(cancelled=True)
        answer = self.text_answer(message, limit=100)
        if isinstance(answer, Step):
            return answer
        passphrase = normalize_passphrase(answer)
        if passphrase is None or self.state.lookup_receipt is None:
            return self.reprompt(N_("That is not a valid passphrase. It has 12 letters and digits, for example k7m2-p9xa-3fqt."))
        return self.done(LookUp(receipt=self.state.lookup_receipt, passphrase=passphrase))

    def show_case(self, event: LookupResult) -> None:
        """The case as the resident may see it: status, committee, dates, and the Front's messages, newest first."""
        t = self.t
        status = t._(STATUS_LABELS.get(event.status, event.status))
        if event.receipt:
            head = t._("Report {receipt}", receipt=event.receipt)
        else:
            head = t._("Your report")
        lines = [
            head,
            t._("Status: {status}", status=status),
            t._("Handled by: {committee}", committee=event.committee_name),
            t._("Received on: {date}", date=event.received_on),
        ]
        if event.forwarded_on:
            lines.append(t._("Forwarded to the competent body on: {date}", date=event.forwarded_on))
        if event.due_on:
            lines.append(t._("Answer due by: {date}", date=event.due_on))
        shown = event.messages if event.show_all else event.messages[:LATEST_MESSAGES]
        if not event.messages:
            lines += ["", t._("No message from the Front yet.")]
        elif len(shown) < len(event.messages):
            lines += ["", t._("The {shown} latest of {count} messages from the Front, newest first:", shown=len(shown), count=len(event.messages))]
        else:
            lines += ["", t._("Messages from the Front ({count}), newest first:", count=len(event.messages))]
        self.say("\n".join(lines))
        for message in shown:
            self.say(self.front_message(message))

    def front_message(self, message: FrontMessage) -> str:
        """One message from the Front with its date; one not seen at an earlier look-up is marked new."""
        if message.new:
            return self.t._("{date} · new\n{text}", date=message.sent_at, text=message.text)
        return self.t._("{date}\n{text}", date=message.sent_at, text=message.text)

    def finish_lookup(self, *, cancelled: bool = False, more: bool = False) -> Step:
        self.state.lookup_receipt = None
        resume = self.state.resume
        self.state.resume = None
        if resume is not None and resume not in (StepName.IDLE, StepName.LOOKUP_CODE, StepName.LOOKUP_PASS):
            self.state.step = resume
            self.say(self.t._("Back to the report you were writing:"))
            self.ask(resume)
            return self.done()
        if cancelled:
            self.greet(self.t)
        else:
            self.state.step = StepName.IDLE
            self.attach((self.fixed(StepName.IDLE, B_THREAD) if more else []) + self.menu_buttons())
        return self.done()

    def attach(self, buttons: list[tuple[str, str]]) -> None:
        """Puts the current question's buttons under the last reply (an answer that is also the next question)."""
        last = self.replies.pop()
        self.say(last.text, buttons)
        self.replies[-1] = dataclasses.replace(self.replies[-1], receipt=last.receipt, passphrase=last.passphrase)

    # -- adding information to a case ---------------------------------------------------------

    def ask_followup(self) -> None:
        t = self.t
        self.say(
            t._("Please write the information you want to add, or your answer to the Front's question. It will be added to your report's file."),
            self.fixed(StepName.FOLLOWUP, B_CANCEL),
        )

    def on_followup(self, message: Inbound) -> Step:
        if self.choice(message) == B_CANCEL or self.draft.followup_case_id is None:
            return self.finish_lookup(cancelled=True)
        answer = self.text_answer(message)
        if isinstance(answer, Step):
            return answer
        return self.done(AddInfo(case_id=self.draft.followup_case_id, text=answer))

    # -- outcomes of effects ------------------------------------------------------------------

    def show_receipt_again(self, pending: PendingReceipt) -> None:
        """Shows a receipt the channel has not confirmed as shown; it stays pending until the channel does.

        An anonymous reporter's receipt is the only key to the case: every answer carries it again
        until the channel calls Conversation.receipt_shown for it (the page once it is on screen,
        Telegram and Zalo once the send succeeded).
        """
        t = self.t
        lead = t._("Your report was sent. In case you did not receive its receipt, here it is again:")
        # No buttons: the answer to the message itself follows with the ones that apply now.
        self.replies.append(receipt_reply(t, pending, lead=lead))

    def on_event(self, message: Inbound) -> Step:
        t = self.t
        event = message.event
        if isinstance(event, Submitted):
            pending = PendingReceipt(
                receipt=event.receipt, passphrase=event.passphrase, committee_name=event.committee_name, received_on=event.received_on
            )
            # Kept (encrypted) until the channel confirms the reply was shown: see Conversation.receipt_shown.
            self.draft = Draft(pending_receipt=pending)
            self.state.step = StepName.IDLE
            self.state.resume = None
            # The receipt in a message of its own, easy to forward or save; how to keep it and what next come after it.
            self.replies.append(receipt_reply(t, pending))
            tip = KEEP_RECEIPT.get(self.state.channel)
            question = t._(SHORT_QUESTIONS[StepName.IDLE])
            self.say(f"{t._(tip)}\n\n{question}" if tip else question, self.menu_buttons())
            return self.done()
        if isinstance(event, LookupResult):
            if not event.found:
                self.state.lookup_failures += 1
                if self.state.lookup_failures >= LOOKUP_MAX_FAILURES:
                    self.state.lookup_failures = 0
                    self.state.lookup_locked_until = self.now + LOOKUP_LOCK_SECONDS
                if event.locked_minutes:
                    self.say(t._(
                        "This receipt code has had too many unsuccessful attempts, so it is locked for now. "
                        "Please try again in {minutes} minutes. Your report is safe.",
                        minutes=event.locked_minutes,
                    ))
                else:
                    self.say(t._("We found no report with this receipt code and passphrase. Please check them and try again."))
                return self.finish_lookup()
            self.state.lookup_failures = 0
            self.draft.followup_case_id = event.case_id
            self.show_case(event)
            return self.finish_lookup(more=len(event.messages) > LATEST_MESSAGES and not event.show_all)
        if isinstance(event, InfoAdded):
            self.state.step = StepName.IDLE
            self.say(t._("Thank you. Your information has been added to your report's file."), self.menu_buttons())
            return self.done()
        if isinstance(event, Failed):
            self.say(t._("Sorry, this could not be done just now. Nothing you wrote has been lost: please try again in a moment."))
            self.ask(self.state.step)
            return self.done()
        raise AssertionError(f"unknown event {event!r}")  # pragma: no cover


def _ask_when_answer(ctx: _Ctx, message: Inbound) -> Step:
    return ctx.on_short_field(message, "occurred", B_UNKNOWN)


_ASKERS: dict[StepName, Callable[[_Ctx], None]] = {
    StepName.MODE: _Ctx.ask_mode,
    StepName.DESCRIBE: _Ctx.ask_describe,
    StepName.CATEGORY: _Ctx.ask_category,
    StepName.NOT_REPORT: _Ctx.ask_category,
    StepName.ACCUSED_NAME: _Ctx.ask_accused_name,
    StepName.ACCUSED_POSITION: _Ctx.ask_accused_position,
    StepName.ACCUSED_AGENCY: _Ctx.ask_accused_agency,
    StepName.PLACE: _Ctx.ask_place,
    StepName.PLACE_CHOICE: _Ctx.ask_place_choice,
    StepName.SETTING: _Ctx.ask_setting,
    StepName.WHEN: _Ctx.ask_when,
    StepName.EVIDENCE: _Ctx.ask_evidence,
    StepName.REPORTER_NAME: _Ctx.ask_reporter_name,
    StepName.REPORTER_PHONE: _Ctx.ask_reporter_phone,
    StepName.NOTIFY: _Ctx.ask_notify,
    StepName.REVIEW: _Ctx.ask_review,
    StepName.EDIT_MENU: _Ctx.ask_edit_menu,
    StepName.CONFIRM_CANCEL: _Ctx.ask_confirm_cancel,
    StepName.LOOKUP_CODE: _Ctx.ask_lookup_code,
    StepName.LOOKUP_PASS: _Ctx.ask_lookup_pass,
    StepName.FOLLOWUP: _Ctx.ask_followup,
}

_HANDLERS: dict[StepName, Callable[[_Ctx, Inbound], Step]] = {
    StepName.IDLE: _Ctx.on_idle,
    StepName.MODE: _Ctx.on_mode,
    StepName.DESCRIBE: _Ctx.on_describe,
    StepName.CATEGORY: _Ctx.on_category,
    StepName.NOT_REPORT: _Ctx.on_not_report,
    StepName.ACCUSED_NAME: lambda c, m: c.on_short_field(m, "accused_name", B_SKIP),
    StepName.ACCUSED_POSITION: lambda c, m: c.on_short_field(m, "accused_position", B_UNKNOWN),
    StepName.ACCUSED_AGENCY: lambda c, m: c.on_short_field(m, "accused_agency", B_UNKNOWN),
    StepName.PLACE: _Ctx.on_place,
    StepName.PLACE_CHOICE: _Ctx.on_place_choice,
    StepName.SETTING: _Ctx.on_setting,
    StepName.WHEN: _ask_when_answer,
    StepName.EVIDENCE: _Ctx.on_evidence,
    StepName.REPORTER_NAME: _Ctx.on_reporter_name,
    StepName.REPORTER_PHONE: _Ctx.on_reporter_phone,
    StepName.NOTIFY: _Ctx.on_notify,
    StepName.REVIEW: _Ctx.on_review,
    StepName.EDIT_MENU: _Ctx.on_edit_menu,
    StepName.CONFIRM_CANCEL: _Ctx.on_confirm_cancel,
    StepName.LOOKUP_CODE: _Ctx.on_lookup_code,
    StepName.LOOKUP_PASS: _Ctx.on_lookup_pass,
    StepName.FOLLOWUP: _Ctx.on_followup,
}
