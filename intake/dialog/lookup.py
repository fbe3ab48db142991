"""The look-up flow: a receipt code and its passphrase, then the case as the resident may see it.

Status, the committee that holds it, its dates, and every message from the Front, newest first (the
latest few, with a button for the rest). A look-up in the middle of a report comes back to it.
"""

from __future__ import annotations

import dataclasses

from intake.dialog.buttons import B_CANCEL, B_THREAD
from intake.dialog.context import Context, Question
from intake.dialog.types import FrontMessage, Inbound, LookUp, LookupResult, Step, StepName
from intake.i18n import N_
from intake.labels import STATUS_LABELS
from intake.receipts import normalize_passphrase, normalize_receipt

LOOKUP_MAX_FAILURES = 5
LOOKUP_LOCK_SECONDS = 15 * 60
LATEST_MESSAGES = 3  # a look-up shows this many of the Front's messages; a button shows them all


class LookupFlow(Context):
    """Asks for the receipt and the passphrase, and shows what the runner found."""

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

    def on_lookup_result(self, event: LookupResult) -> Step:
        """The case found (or not): shown, then back to where the resident was."""
        t = self.t
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


QUESTIONS: tuple[Question, ...] = (
    Question(StepName.LOOKUP_CODE, LookupFlow.on_lookup_code, text=N_("Please enter your receipt code, for example K7M2-P9XA-3FQT."), choices=(B_CANCEL,)),
    Question(StepName.LOOKUP_PASS, LookupFlow.on_lookup_pass, LookupFlow.ask_lookup_pass),
)
