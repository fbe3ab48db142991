"""The conversation: `step(state, draft, message) -> Step`, the same for every channel.

The engine keeps no state of its own and touches no database: the runner loads the state and the
draft, calls `step`, carries out the effect it asks for (filing the report, a status look-up) and
feeds the outcome back in as an event. A question is asked again, politely, whenever an answer
cannot be used; nothing already given is dropped.

Each flow lives in a module of its own behind this one `step()`: the report (report.py), the
look-up (lookup.py) and adding information to a case (followup.py); what they share is in
context.py, their buttons in buttons.py. This module reads commands, the menu and effects' outcomes.
"""

from __future__ import annotations

import dataclasses
import secrets
import time

from intake.dialog import buttons as B
from intake.dialog import followup, lookup, report
from intake.dialog.buttons import B_FOLLOWUP, B_HELP, B_LOOKUP, B_REPORT, B_THREAD
from intake.dialog.context import CHOICE_STEPS, MAX_MESSAGE_CHARS, Question, number
from intake.dialog.followup import FollowupFlow
from intake.dialog.report import ReportFlow
from intake.dialog.tools import DEFAULT_TOOLS, Tools
from intake.dialog.types import DialogState, Draft, Failed, Inbound, InfoAdded, Limits, LookupResult, ShowThread, Step, StepName, Submitted
from intake.i18n import LANGUAGES, N_
from intake.validation import clean_text, has_meaning

__all__ = ["CHOICE_STEPS", "MAX_MESSAGE_CHARS", "fresh_state", "step"]

SHORT_GREETING_CHARS = 25

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
NOT_WRITING = (StepName.IDLE, StepName.LOOKUP_CODE, StepName.LOOKUP_PASS, StepName.FOLLOWUP)
REPORT_STEPS = frozenset(q.step for q in report.QUESTIONS)


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
    if message.unsupported == "edited_message":
        return ctx.reprompt(N_("Changes to a message already sent are not taken. Please send the correction as a new message."))
    if message.unsupported:
        return ctx.reprompt(N_("This kind of message cannot be used here. Please send text, or photos and documents as evidence."))
    if ctx.too_long(message.text):
        # Refused whole, before any step reads it: the draft is as it was and the question is asked again.
        return ctx.reprompt(
            N_("That message is too long (at most {limit} characters). Please shorten it or split it into several messages."),
            limit=number(ctx.limits.max_message_chars),
        )
    if message.attachments and message.button is None and state.step in REPORT_STEPS and state.step != StepName.EVIDENCE:
        return ctx.on_files(message)  # evidence sent before its question is kept all the same
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
    question = _Ctx.questions.get(state.step)
    return question.answer(ctx, message) if question is not None else ctx.on_idle(message)


def fresh_state(lang: str = "vi", *, can_push: bool = False) -> DialogState:
    """A new dialog's state; its question tokens start at random, so no old chat's buttons match them."""
    return DialogState(lang=lang if lang in LANGUAGES else "vi", can_push=can_push, asked=secrets.randbelow(B.TOKEN_SPACE))


def _parse_command(text: str) -> tuple[str, list[str]] | None:
    stripped = text.strip()
    if not stripped.startswith("/") or len(stripped) < 2:
        return None
    head, *args = stripped.split()
    name = head[1:].split("@", 1)[0].lower()
    return name, args


class _Ctx(ReportFlow, FollowupFlow):
    """One call of `step`, with every flow's questions: the menu, commands and outcomes are read here."""

    def on_resume(self) -> Step:
        if self.state.step == StepName.IDLE:
            self.greet(self.t)
            return self.done()
        self.say(self.t._("Welcome back. We continue where you left off."))
        self.ask(self.state.step)
        return self.done()

    def in_flow(self) -> bool:
        return self.state.step not in NOT_WRITING or not self.draft.is_empty()

    def on_command(self, name: str, args: list[str]) -> Step:
        t = self.t
        action = COMMANDS.get(name)
        if action == "help":
            self.say(self.help_text())
            self.ask(self.state.step, short=True)
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
            return self.confirm_cancel()
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
            # The resident began with the story itself: keep it, read it, and ask only what is left.
            self.draft = self.new_draft(description_parts=[text])
            self.story_told()
            self.say(self.t._("Thank you, we have noted what you wrote. First, a question about your identity."))
            return self.advance()
        if not self.state.greeted:
            self.greet(self.t)
            return self.done()
        return self.reask()

    def on_event(self, message: Inbound) -> Step:
        """The outcome of an effect the runner carried out, handed to the flow that asked for it."""
        event = message.event
        if isinstance(event, Submitted):
            return self.on_submitted(event)
        if isinstance(event, LookupResult):
            return self.on_lookup_result(event)
        if isinstance(event, InfoAdded):
            return self.on_info_added()
        if isinstance(event, Failed):
            self.say(self.t._("Sorry, this could not be done just now. Nothing you wrote has been lost: please try again in a moment."))
            self.ask(self.state.step)
            return self.done()
        raise AssertionError(f"unknown event {event!r}")  # pragma: no cover


def _ask_idle(ctx: _Ctx) -> None:
    ctx.greet(ctx.t)


_Ctx.questions = {
    q.step: q
    for q in (
        Question(StepName.IDLE, _Ctx.on_idle, _ask_idle, short=N_("What would you like to do? Choose below, or simply write what happened.")),
        *report.QUESTIONS,
        *lookup.QUESTIONS,
        *followup.QUESTIONS,
    )
}
