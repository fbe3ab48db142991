"""What every flow of the conversation shares: the state being changed, and how replies and buttons are made.

A `Context` is one call of `step()`. The report, look-up and add-information flows (report.py,
lookup.py, followup.py) each add the questions of their steps to it; a `Question` ties a step to
how it is asked, how its answer is read, and its short form for asking again.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from intake.dialog import buttons as B
from intake.dialog.buttons import B_FOLLOWUP, B_HELP, B_LOOKUP, B_REPORT
from intake.dialog.tools import Tools
from intake.dialog.types import Button, DialogState, Draft, Effect, Inbound, Limits, Reply, Step, StepName
from intake.i18n import N_, Translator, translator
from intake.search import fold as _fold
from intake.validation import clean_text, has_meaning

MAX_MESSAGE_CHARS = Limits.max_message_chars  # the default; PHANANH_MAX_MESSAGE_CHARS sets it
MAX_FIELD_CHARS = 255

# Steps answered only by choosing; elsewhere free text is the answer and buttons are shortcuts.
CHOICE_STEPS = frozenset(
    {
        StepName.IDLE,
        StepName.MODE,
        StepName.FACTS,
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


@dataclass(frozen=True)
class Question:
    """One step of a flow: how its question is asked, how its answer is read, and its short form.

    A question that is one sentence and fixed buttons is just its `text` (a msgid) and `choices`
    (of buttons.FIXED); any other has an `ask` of its own. The short form is asked again, with the
    same buttons, when a typed answer is none of the choices (the long explanation was already
    read); a step without one is asked again in full.
    """

    step: StepName
    answer: Callable[[Any, Inbound], Step]
    ask: Callable[[Any], None] | None = None
    text: str = ""
    choices: tuple[str, ...] = ()
    short: str | None = None


def number(n: int) -> str:
    """A count written the Vietnamese way, with dots between thousands."""
    return f"{n:,}".replace(",", ".")


class Context:
    """One call of `step`: the state being changed and the helpers that phrase replies."""

    questions: ClassVar[dict[StepName, Question]] = {}  # every flow's questions, gathered by the engine

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
        labels = dict(B.FIXED.get(step, ()))
        return [(choice, self.t._(labels[choice])) for choice in choices]

    def attach(self, buttons: list[tuple[str, str]]) -> None:
        """Puts the current question's buttons under the last reply (an answer that is also the next question)."""
        last = self.replies.pop()
        self.say(last.text, buttons)
        self.replies[-1] = dataclasses.replace(self.replies[-1], receipt=last.receipt, passphrase=last.passphrase)

    def done(self, effect: Effect | None = None) -> Step:
        """The step's result: the replies said, the state and draft to save, and the effect asked for."""
        return Step(replies=self.replies, state=self.state, draft=self.draft, effect=effect)

    def reprompt(self, problem: str, **params: object) -> Step:
        """Says what was wrong, then asks the current question again (its short form); nothing changes."""
        self.say(self.t._(problem, **params))
        self.ask(self.state.step, short=True)
        return self.done()

    def ask(self, name: StepName, *, short: bool = False) -> None:
        """Asks the question of a step and records the buttons offered with it (`short`: its short form)."""
        question = self.questions.get(name)
        if question is None:
            self.greet(self.t)
            return
        if short and question.short and self.state.buttons and self.state.question.startswith(f"{name.value}:"):
            self.say(self.t._(question.short), list(self.state.buttons))
            return
        if question.ask is None:
            self.say(self.t._(question.text), self.fixed(name, *question.choices))
            return
        question.ask(self)

    def greet(self, t: Translator) -> None:
        """The first message: what the channel is for and what it is not, and the menu."""
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

    def new_draft(self, **fields: Any) -> Draft:
        """An empty report; a receipt not yet confirmed as shown stays with it (it is the only key to the last
        case), and so does the case this chat has looked up."""
        return Draft(pending_receipt=self.draft.pending_receipt, followup_case_id=self.draft.followup_case_id, **fields)

    def help_text(self) -> str:
        return self.t._(
            "How to use this channel:\n"
            "/batdau: start again from the menu\n"
            "/baocao: send a new report\n"
            "/tracuu: check the status of a report\n"
            "/huy: cancel the report you are writing\n"
            "/ngonngu: switch between Vietnamese and English\n"
            "/trogiup: show this help\n\n"
            "An unfinished report is kept for {hours} hours, then deleted.",
            hours=self.limits.draft_ttl_hours,
        )

    # -- reading what the resident did -------------------------------------------------------

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
        return _fold(text) in B.known_labels()

    def reask(self) -> Step:
        """A typed answer that is none of the choices: only the short question again, with its buttons."""
        self.ask(self.state.step, short=True)
        return self.done()

    def choice(self, message: Inbound) -> str | None:
        """The choice the resident made: a pressed button (already checked), or typed text that clearly is one.

        Typed text counts when it is a label of this question without diacritics or case, its number
        (where text is no answer), a short word such as "có", "ko", "đúng" that the question reads (a
        yes at a question that proposes a single answer takes it), or at the menu a short message that
        only states what it wants (buttons.MENU_PHRASES).
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
        return B.typed_choice(self.state.step, typed, self.state.offered, [choice for choice, _ in offered])

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
                limit=number(limit),
            )
        if not has_meaning(text):
            return self.reprompt(N_("We could not read an answer in that message. Please answer with words."))
        return text
