"""The buttons of the conversation: what each question offers, and how a press or a typed answer is read.

A button's payload names the question it answers, "{step}:{token}:{choice}": the step, a token made
each time that step's question is asked anew, and the choice. A press counts only while that very
question is the one asked, so an old message's button (Telegram keeps them on screen) can never
answer another question, and no two questions share a payload.

Zalo sends a button's label as the resident's own text, and residents type answers too. So every
fixed label below means one thing in the whole conversation (a test checks it in each language),
and a typed answer is read as a choice when it clearly is one: a label without its diacritics or
case, its number, a short word such as "có", "ko", "đúng" where the question has a yes and a no
or proposes a single answer, or at the menu a short message that only says what it wants ("tôi
muốn phản ánh", "tra cứu").
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from intake.categories import CATEGORIES, REPORT_CODES
from intake.dialog.types import StepName
from intake.i18n import LANGUAGES, N_, translator
from intake.labels import ANONYMITY_LABELS, SETTING_LABELS
from intake.search import fold

TOKEN_SPACE = 36**4  # tokens are four base-36 characters: payloads stay far under Telegram's 64 bytes

# Choices (the last part of a payload), stable across languages.
B_REPORT, B_LOOKUP, B_HELP, B_FOLLOWUP, B_THREAD = "menu:report", "menu:lookup", "menu:help", "followup", "thread"
B_DONE, B_SKIP, B_UNKNOWN = "done", "skip", "unknown"
B_CAT_OTHER, B_CAT_EXPLAIN = "cat:other", "cat:explain"
B_CONTINUE, B_CANCEL, B_KEEP = "continue", "cancel", "keep"
B_SEND, B_EDIT, B_BACK = "send", "edit", "back"
B_RETYPE, B_NO_COMMUNE = "place:retype", "place:no_commune"
B_YES, B_NO = "yes", "no"
B_FACTS_OK = "facts:ok"

EDITS: tuple[tuple[str, str], ...] = (
    ("edit:description", N_("What happened")),
    ("edit:category", N_("Type of conduct")),
    ("edit:accused_name", N_("Name of the person")),
    ("edit:accused_position", N_("Their position")),
    ("edit:accused_agency", N_("Their agency or unit")),
    ("edit:place", N_("Place")),
    ("edit:setting", N_("Workplace or residence")),
    ("edit:when", N_("When")),
    ("edit:evidence", N_("Evidence")),
    ("edit:mode", N_("Identity mode")),
    ("edit:identity", N_("Your name and phone")),
)

# Every fixed button of every question: (choice, label msgid). The place candidates are the only
# buttons not listed: their labels are the gazetteer's names.
FIXED: dict[StepName, tuple[tuple[str, str], ...]] = {
    StepName.IDLE: (
        (B_REPORT, N_("New report")),
        (B_LOOKUP, N_("Check a report")),
        (B_HELP, N_("Help")),
        (B_FOLLOWUP, N_("Add information")),
        (B_THREAD, N_("See all messages")),
    ),
    StepName.MODE: tuple((f"mode:{m}", label) for m, label in ANONYMITY_LABELS.items()),
    StepName.FACTS: (
        (B_FACTS_OK, N_("That's right, go on")),
        (f"{B_FACTS_OK}:workplace", N_("Right, at their workplace")),
        (f"{B_FACTS_OK}:residence", N_("Right, where they live")),
        ("fix:name", N_("Correct the name")),
        ("fix:position", N_("Correct the position")),
        ("fix:agency", N_("Correct the agency")),
        ("fix:place", N_("Correct the place")),
        ("fix:setting", N_("Correct workplace or residence")),
        ("fix:occurred", N_("Correct the time")),
    ),
    StepName.CATEGORY: (
        *((f"cat:{code}", CATEGORIES[code].short) for code in REPORT_CODES),
        (B_CAT_OTHER, N_("Another type")),
        (B_CAT_EXPLAIN, N_("Explain the types")),
    ),
    StepName.NOT_REPORT: ((B_CONTINUE, N_("Go on with my report")), (B_CANCEL, N_("Cancel the report"))),
    StepName.ACCUSED_NAME: ((B_SKIP, N_("Name not known")),),
    StepName.ACCUSED_POSITION: ((B_UNKNOWN, N_("Position not known")),),
    StepName.ACCUSED_AGENCY: ((B_UNKNOWN, N_("Agency not known")),),
    StepName.PLACE_CHOICE: ((B_NO_COMMUNE, N_("I am not sure of the commune")), (B_RETYPE, N_("Write the place again"))),
    StepName.SETTING: tuple((f"setting:{s}", label) for s, label in SETTING_LABELS.items()),
    StepName.WHEN: ((B_UNKNOWN, N_("I don't remember when")),),
    StepName.EVIDENCE: ((B_SKIP, N_("No evidence")), (B_DONE, N_("No more files"))),
    StepName.NOTIFY: ((B_YES, N_("Yes, notify me")), (B_NO, N_("No notifications"))),
    StepName.REVIEW: ((B_SEND, N_("Send this report")), (B_EDIT, N_("Change something")), (B_CANCEL, N_("Cancel the report"))),
    StepName.EDIT_MENU: (*EDITS, (B_BACK, N_("Back to the summary"))),
    StepName.CONFIRM_CANCEL: ((B_YES, N_("Yes, cancel it")), (B_KEEP, N_("No, keep writing"))),
    StepName.LOOKUP_CODE: ((B_CANCEL, N_("Stop the look-up")),),
    StepName.LOOKUP_PASS: ((B_CANCEL, N_("Stop the look-up")),),
    StepName.FOLLOWUP: ((B_CANCEL, N_("Add nothing")),),
}

# Choices a question takes from its first asking, whether or not its last message showed them:
# any of the nine types answers the type question, even when only the likeliest were suggested.
ALWAYS_OFFERED: dict[StepName, tuple[str, ...]] = {
    StepName.CATEGORY: tuple(f"cat:{code}" for code in REPORT_CODES),
    StepName.FACTS: (B_FACTS_OK,),  # "đúng" typed confirms, also when the buttons ask the setting with it
}

# Short words that clearly answer a question, folded (no diacritics, lower case).
YES_WORDS = frozenset(
    {"co", "co a", "co chu", "vang", "vang a", "u", "uh", "um", "dung", "dung a", "dung roi", "dung roi a", "dung vay", "phai", "phai a",
     "phai roi", "chinh xac", "dong y", "ok", "oke", "okay", "yes", "y"}
)  # fmt: skip
NO_WORDS = frozenset({"khong", "khong a", "ko", "k", "kg", "kh", "hong", "thoi", "khong can", "no", "n"})
NOT_KNOWN_WORDS = NO_WORDS | frozenset(
    {"khong ro", "ko ro", "k ro", "khong biet", "ko biet", "k biet", "kb", "chiu", "khong nho", "ko nho", "k nho", "khong co", "ko co", "k co"}
)
DONE_WORDS = frozenset({"xong", "xong roi", "het", "het roi", "vay thoi", "the thoi", "done", "finished"})
WORKPLACE_WORDS = frozenset({"noi lam viec", "tai noi lam viec", "lam viec", "co quan", "o co quan", "cong viec"})
RESIDENCE_WORDS = frozenset({"noi o", "noi cu tru", "tai noi cu tru", "cu tru", "o nha", "tai nha", "khu dan cu", "noi song"})

# The questions with a yes and a no: (the choice "có" means, the choice "không" means).
YES_NO: dict[StepName, tuple[str, str]] = {
    StepName.NOT_REPORT: (B_CONTINUE, B_CANCEL),
    StepName.NOTIFY: (B_YES, B_NO),
    StepName.REVIEW: (B_SEND, B_EDIT),
    StepName.CONFIRM_CANCEL: (B_YES, B_KEEP),
}
# Questions that may propose a single answer among their buttons: there a yes takes it and a no takes
# the other choice, as at a yes/no question; with two proposals or more, neither word says which.
PROPOSALS: dict[StepName, tuple[frozenset[str], str]] = {
    StepName.CATEGORY: (frozenset(f"cat:{code}" for code in REPORT_CODES), B_CAT_OTHER),
}

# What a short message typed at the menu clearly asks for, folded: the whole message says it and
# nothing else ("tôi muốn phản ánh ạ", "tra cứu", "giúp tôi"), so a story that begins "tôi muốn phản
# ánh việc…" is still read as a story.
_WHO = r"(?:(?:toi|em|minh|chau|con|anh|chi|cho toi|cho em|cho minh|i) )?(?:(?:muon|can|xin|dinh|muon duoc|can duoc|want to|would like to|need to) )?"
_POLITE = r"(?: (?:a|nhe|nha|voi|di|please))*"
_REPORT = r"(?:(?:gui|lam|nop|viet|send|make|file) )?(?:(?:mot|1|a) )?(?:phan anh|to cao|bao cao|report)(?: (?:moi|new))?"
_CASE = r"(?: my)?(?: (?:phan anh|bao cao|ho so|don|report|case))?(?: (?:cua toi|cua em|cua minh|da gui|my))?"
_LOOKUP = rf"(?:tra cuu|tra cuu lai|check|look up)(?: (?:tinh trang|ket qua|tien do|status))?{_CASE}|(?:kiem tra|xem|xem lai) (?:tinh trang|ket qua|tien do|phan anh|ho so){_CASE}"
_HELP = r"(?:huong dan|tro giup|giup do|giup|help)(?: (?:toi|em|minh|me|su dung|cach dung|cach su dung))?"
MENU_PHRASES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(rf"{_WHO}(?:{core}){_POLITE}"), choice) for core, choice in ((_REPORT, B_REPORT), (_LOOKUP, B_LOOKUP), (_HELP, B_HELP))
)

# Other typed words, per question.
WORDS: dict[StepName, tuple[tuple[frozenset[str], str], ...]] = {
    StepName.FACTS: (
        (YES_WORDS, B_FACTS_OK),
        (WORKPLACE_WORDS, f"{B_FACTS_OK}:workplace"),
        (RESIDENCE_WORDS, f"{B_FACTS_OK}:residence"),
    ),
    StepName.PLACE_CHOICE: ((NOT_KNOWN_WORDS, B_NO_COMMUNE),),  # offered only when the commune of one province is asked
    StepName.ACCUSED_NAME: ((NOT_KNOWN_WORDS, B_SKIP),),
    StepName.ACCUSED_POSITION: ((NOT_KNOWN_WORDS, B_UNKNOWN),),
    StepName.ACCUSED_AGENCY: ((NOT_KNOWN_WORDS, B_UNKNOWN),),
    StepName.WHEN: ((NOT_KNOWN_WORDS, B_UNKNOWN),),
    StepName.EVIDENCE: ((DONE_WORDS, B_DONE), (NOT_KNOWN_WORDS, B_SKIP)),
    StepName.SETTING: ((WORKPLACE_WORDS, "setting:workplace"), (RESIDENCE_WORDS, "setting:residence")),
}


@dataclass(frozen=True)
class Pressed:
    """A payload read back: the question it was offered with, and the choice."""

    question: str
    choice: str


def token(asked: int) -> str:
    """The token of the `asked`-th question, four base-36 characters."""
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    n = asked % TOKEN_SPACE
    out = ""
    for _ in range(4):
        n, r = divmod(n, 36)
        out = digits[r] + out
    return out


def question_key(step: StepName, asked: int) -> str:
    """What identifies one asking of a question: its step and its token."""
    return f"{step.value}:{token(asked)}"


def payload(question: str, choice: str) -> str:
    """The payload of a button: the question it answers, then the choice."""
    return f"{question}:{choice}"


def read_payload(data: str) -> Pressed | None:
    """The question and choice of a payload; None for anything not made by `payload`."""
    step, sep, rest = data.partition(":")
    tok, sep2, choice = rest.partition(":")
    if not (sep and sep2 and choice) or len(tok) != 4:
        return None
    return Pressed(f"{step}:{tok}", choice)


@functools.cache
def known_labels() -> dict[str, frozenset[tuple[StepName, str]]]:
    """Every fixed label, folded, in every language, with the questions and choices it stands for."""
    found: dict[str, set[tuple[StepName, str]]] = {}
    for lang in LANGUAGES:
        t = translator(lang)
        for step, buttons in FIXED.items():
            for choice, label in buttons:
                found.setdefault(fold(t._(label)), set()).add((step, choice))
    return {label: frozenset(meanings) for label, meanings in found.items()}


def bare(typed: str) -> str:
    """A folded message without the punctuation around it: "Đúng." and "có!" say no more than "đúng" and "có"."""
    return typed.strip(" .!?,;:…")


def says_yes(typed: str) -> bool:
    """Whether a folded message is only a yes ("có", "vâng.", "đúng rồi")."""
    return bare(typed) in YES_WORDS


def typed_choice(step: StepName, typed: str, offered: list[str], shown: list[str]) -> str | None:
    """The choice a short typed word clearly means at this question, if it is offered; `typed` is folded,
    `shown` are the choices of the buttons under the question's last message."""
    typed = bare(typed)
    pairs = list(WORDS.get(step, ()))
    if step in YES_NO:
        yes, no = YES_NO[step]
        pairs += [(YES_WORDS, yes), (NO_WORDS, no)]
    if step in PROPOSALS:
        answers, other = PROPOSALS[step]
        proposed = [choice for choice in shown if choice in answers]
        if len(proposed) == 1:
            pairs += [(YES_WORDS, proposed[0]), (NO_WORDS, other)]
    for words, choice in pairs:
        if typed in words and choice in offered:
            return choice
    if step == StepName.IDLE:
        for pattern, choice in MENU_PHRASES:
            if pattern.fullmatch(typed) and choice in offered:
                return choice
    return None
