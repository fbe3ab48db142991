"""The report flow: from the identity mode to the summary and the receipt, one question per step.

The order below decides what is asked next: a step is asked when its answer is still missing, so the
same rule drives a first pass, an edit from the summary, and a change of identity mode.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
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
    B_FACTS_OK,
    B_KEEP,
    B_NO,
    B_NO_COMMUNE,
    B_RETYPE,
    B_SEND,
    B_SKIP,
    B_UNKNOWN,
    B_YES,
)
from intake.dialog.context import MAX_FIELD_CHARS, Context, Question, number
from intake.dialog.types import AttachmentInfo, Draft, Inbound, PendingReceipt, Reply, Step, StepName, Submitted, SubmitReport
from intake.i18n import N_, Translator
from intake.labels import ANONYMITY_LABELS, SETTING_LABELS
from intake.models import Anonymity, Setting
from intake.search import fold
from intake.validation import clean_text, has_meaning, normalize_vn_phone

MAX_DESCRIPTION_CHARS = 20000

ORDER: tuple[StepName, ...] = (
    StepName.MODE,
    StepName.DESCRIBE,
    StepName.FACTS,
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

_PLACE_CLEARED: dict[str, Any] = {
    "place_text": None, "province_code": None, "province_name": None, "commune_code": None, "commune_name": None, "place_candidates": [],
}  # fmt: skip
# What each «change» of the edit menu clears in the draft, so that its question is asked again.
EDIT_CLEARS: dict[str, dict[str, Any]] = {
    "edit:description": {"description_parts": [], "description_done": False, "suggestion": None},
    "edit:category": {"category": None},
    "edit:accused_name": {"accused_name": None},
    "edit:accused_position": {"accused_position": None},
    "edit:accused_agency": {"accused_agency": None},
    "edit:place": _PLACE_CLEARED,
    "edit:setting": {"setting": None},
    "edit:when": {"occurred": None},
    "edit:evidence": {"evidence_done": False},
    "edit:mode": {"mode": None},
    "edit:identity": {"reporter_name": None, "reporter_phone": None},
}

MORE_STORY_CHARS = 25  # typed at a question after the story, longer words than this that are no choice add to it


@dataclass(frozen=True)
class StoryField:
    """A fact the story may give: the draft field it fills, its line in the confirmation, the question that corrects it."""

    attr: str
    line: str
    step: StepName
    clears: dict[str, Any]


# In the order the confirmation lists them (the keys of intake.dialog.story.StoryFacts).
STORY_FIELDS: dict[str, StoryField] = {
    "name": StoryField("accused_name", N_("Person reported: {value}"), StepName.ACCUSED_NAME, {"accused_name": None}),
    "position": StoryField("accused_position", N_("Their position: {value}"), StepName.ACCUSED_POSITION, {"accused_position": None}),
    "agency": StoryField("accused_agency", N_("Their agency or unit: {value}"), StepName.ACCUSED_AGENCY, {"accused_agency": None}),
    "place": StoryField("province_code", N_("Where: {value}"), StepName.PLACE, _PLACE_CLEARED),
    "setting": StoryField("setting", N_("Setting: {value}"), StepName.SETTING, {"setting": None}),
    "occurred": StoryField("occurred", N_("When: {value}"), StepName.WHEN, {"occurred": None}),
}

# How to keep a receipt where the chat app itself can: the message above, forwarded to oneself.
KEEP_RECEIPT: dict[str, str] = {
    "telegram": N_("To keep it: touch and hold the message above, choose «Forward», then «Saved Messages»."),
    "zalo": N_("To keep it: touch and hold the message above, choose «Forward», then «Cloud của tôi» (My Cloud)."),
}


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


class ReportFlow(Context):
    """The questions of a report, its summary, and what happens once it is filed."""

    def missing(self, name: StepName) -> bool:
        d = self.draft
        anonymous = d.mode == Anonymity.ANONYMOUS.value
        checks: dict[StepName, Callable[[], bool]] = {
            StepName.MODE: lambda: d.mode is None,
            StepName.DESCRIBE: lambda: not d.description_done,
            StepName.FACTS: lambda: bool(d.unconfirmed),
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
        self.say(
            self.t._(
                "Please tell us what happened: who did what, their position, where and when, and any amounts of money "
                "involved. You can add more later by writing it here."
            ),
            [],
        )

    def on_describe(self, message: Inbound) -> Step:
        """The story: kept, read for what it already says, and the conversation goes on at once."""
        answer = self.text_answer(message)
        if isinstance(answer, Step):
            return answer
        if len(self.draft.description) + len(answer) > MAX_DESCRIPTION_CHARS:
            return self.reprompt(
                N_("Your description has reached its maximum length ({limit} characters)."),
                limit=number(MAX_DESCRIPTION_CHARS),
            )
        self.draft.description_parts.append(answer)
        self.story_told()
        return self.advance()

    def story_told(self) -> None:
        """The story is in the draft: what it says is pre-filled, and the type is suggested anew."""
        self.draft.description_done = True
        self.draft.category = None
        self.draft.suggestion = None
        self.read_story()

    def read_story(self) -> None:
        """Pre-fills what the story says and the resident has not answered; each such item waits to be confirmed.

        A place the gazetteer settles only to a province is not pre-filled: its commune is asked next,
        within that province.
        """
        d = self.draft
        facts = self.tools.read_story(d.description)
        said = {key: found.value for key, found in facts.found().items() if key != "place"}
        place = facts.place
        if place is not None and (d.province_code is None or "place" in d.unconfirmed):
            if place.commune_code:
                self.set_place(place.value, place.province_code, place.province_name, place.commune_code, place.commune_name)
                said["place"] = place.value
            elif d.province_code is None:
                d.place_text = place.value
                d.place_candidates = [{"province_code": place.province_code, "province_name": place.province_name}]
        for key, value in said.items():
            if key != "place":
                if getattr(d, STORY_FIELDS[key].attr) is not None and key not in d.unconfirmed:
                    continue  # answered by the resident, or confirmed
                setattr(d, STORY_FIELDS[key].attr, value)
            d.unconfirmed = [k for k in STORY_FIELDS if k in d.unconfirmed or k == key]
            d.story_found = [k for k in STORY_FIELDS if k in d.story_found or k == key]

    def more_story(self, message: Inbound) -> Step | None:
        """Words at a question after the story that are no choice but more of the story: added, read again."""
        text = clean_text(message.text)
        if message.button is not None or message.attachments or len(text) <= MORE_STORY_CHARS or not has_meaning(text):
            return None
        if len(self.draft.description) + len(text) > MAX_DESCRIPTION_CHARS:
            return None
        self.draft.description_parts.append(text)
        self.story_told()
        self.say(self.t._("Thank you, we have added this to your story."))
        return self.advance()

    # -- what the story said ------------------------------------------------------------------

    def fact_value(self, key: str) -> str:
        d, t = self.draft, self.t
        if key == "place":
            return ", ".join(x for x in (d.commune_name, d.province_name) if x)
        if key == "setting":
            return t._(SETTING_LABELS[d.setting]) if d.setting in SETTING_LABELS else ""
        return str(getattr(d, STORY_FIELDS[key].attr) or "")

    def ask_facts(self) -> None:
        """What the story said, in one message; the setting, when it did not say it, is asked in the same tap."""
        t = self.t
        shown = [k for k in STORY_FIELDS if k in self.draft.unconfirmed]
        lines = "\n".join(f"• {t._(STORY_FIELDS[k].line, value=self.fact_value(k))}" for k in shown)
        fixes = [f"fix:{k}" for k in shown]
        if self.draft.setting is None:
            self.say(
                t._(
                    "From what you wrote, we understood:\n{lines}\n\nIf this is right, tell us also whether it is about "
                    "their conduct at work or where they live. If not, press the item to correct.",
                    lines=lines,
                ),
                self.fixed(StepName.FACTS, f"{B_FACTS_OK}:workplace", f"{B_FACTS_OK}:residence", *fixes),
            )
            return
        self.say(
            t._(
                "From what you wrote, we understood:\n{lines}\n\nIs this right? Press «That's right, go on», or the item to "
                "correct. Then we ask only what is still missing.",
                lines=lines,
            ),
            self.fixed(StepName.FACTS, B_FACTS_OK, *fixes),
        )

    def on_facts(self, message: Inbound) -> Step:
        chosen = self.choice(message)
        if chosen is not None and chosen.startswith(B_FACTS_OK):
            setting = chosen[len(B_FACTS_OK) + 1 :]
            if setting in SETTING_LABELS and self.draft.setting is None:
                self.draft.setting = setting
            self.draft.unconfirmed = []
            return self.advance()
        key = chosen[4:] if chosen and chosen.startswith("fix:") else ""
        if key in self.draft.unconfirmed:
            # Cleared, its question is asked now; once answered, the rest is shown again to confirm.
            self.draft.unconfirmed.remove(key)
            self.draft = self.draft.model_copy(update=copy.deepcopy(STORY_FIELDS[key].clears))
            self.state.step = STORY_FIELDS[key].step
            self.ask(self.state.step)
            return self.done()
        return self.more_story(message) or self.reask()

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
        # Nobody is turned away by a guess: a story that names an official's post is in scope whatever the classifier says.
        named_post = "position" in self.draft.story_found
        if first == NOT_A_REPORT and confidence >= self.tools.threshold and not self.draft.not_report_ack and not named_post:
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
            return self.more_story(message) or self.reask()
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
        return self.more_story(message) or self.reask()

    # -- the person reported ------------------------------------------------------------------

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
        cands = self.draft.place_candidates
        if self.draft.province_code is None and len(cands) == 1 and not cands[0].get("commune_code"):
            # The story named the province only: its commune is asked, within it.
            self.state.step = StepName.PLACE_CHOICE
            self.ask_place_choice()
            return
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

    def take_files(self, files: tuple[AttachmentInfo, ...]) -> None:
        """Keeps the files the report still has room for, and says plainly what was removed from them."""
        t = self.t
        room = max(0, self.limits.max_attachments - len(self.draft.attachments))
        taken, refused = files[:room], files[room:]
        # Only ids in the draft are filed with the report; the runner deletes the refused files.
        self.draft.attachments.extend(a.id for a in taken)
        if taken and self.state.step != StepName.EVIDENCE:
            self.say(t._("Thank you: your file(s) are kept with the report as evidence."))
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

    def on_files(self, message: Inbound) -> Step:
        """Files sent at another question than the evidence one: kept as evidence all the same, and the
        words sent with them (a caption) added once, to the story while it is being told."""
        self.take_files(message.attachments)
        words = clean_text(message.text)
        if words and has_meaning(words) and len(self.draft.description) + len(words) <= MAX_DESCRIPTION_CHARS:
            if self.state.step == StepName.DESCRIBE:
                return self.on_describe(dataclasses.replace(message, attachments=()))
            self.draft.description_parts.append(self.t._("Sent with a file: {note}", note=words))
        self.ask(self.state.step)
        return self.done()

    def on_evidence(self, message: Inbound) -> Step:
        t = self.t
        if message.attachments:
            self.take_files(message.attachments)
            note = clean_text(message.text)
            if note and has_meaning(note) and len(self.draft.description) + len(note) <= MAX_DESCRIPTION_CHARS:
                self.draft.description_parts.append(t._("Evidence: {note}", note=note))  # a caption: words about the file
            self.ask_evidence()
            return self.done()
        chosen = self.choice(message)
        if chosen in (B_DONE, B_SKIP):
            self.draft.evidence_done = True
            return self.advance()
        if B.says_yes(fold(message.text)):
            # «Có» answers «do you have evidence?»: it is no evidence itself, so it is not noted; how to give it is.
            if self.limits.max_attachments == 0:
                self.say(t._("Please describe the evidence you have in a message."), list(self.state.buttons))
            else:
                self.say(t._("Please send the files here, or describe the evidence in a message."), list(self.state.buttons))
            return self.done()
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
        if chosen == B_BACK:
            return self.advance()
        if chosen in EDIT_CLEARS:
            # Cleared, the field's question is missing again: advance() asks it, then comes back here.
            self.draft = self.draft.model_copy(update=copy.deepcopy(EDIT_CLEARS[chosen]))
            return self.advance()
        return self.reask()

    # -- cancel -------------------------------------------------------------------------------

    def confirm_cancel(self) -> Step:
        """Asks before deleting the draft; «No» comes back to the question now asked."""
        if self.state.step != StepName.CONFIRM_CANCEL:  # asked twice, it still comes back to where the resident was
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

    # -- once filed ---------------------------------------------------------------------------

    def on_submitted(self, event: Submitted) -> Step:
        """The report was filed: the receipt in a message of its own, then how to keep it and what next."""
        t = self.t
        pending = PendingReceipt(
            receipt=event.receipt, passphrase=event.passphrase, committee_name=event.committee_name, received_on=event.received_on
        )
        # Kept (encrypted) until the channel confirms the reply was shown: see Conversation.receipt_shown.
        self.draft = Draft(pending_receipt=pending)
        self.state.step = StepName.IDLE
        self.state.resume = None
        self.replies.append(receipt_reply(t, pending))
        tip = KEEP_RECEIPT.get(self.state.channel)
        question = t._(self.questions[StepName.IDLE].short or "")
        self.say(f"{t._(tip)}\n\n{question}" if tip else question, self.menu_buttons())
        return self.done()

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


QUESTIONS: tuple[Question, ...] = (
    Question(StepName.MODE, ReportFlow.on_mode, ReportFlow.ask_mode,
             short=N_("How would you like to send your report? Please choose one of the three ways below.")),
    Question(StepName.DESCRIBE, ReportFlow.on_describe, ReportFlow.ask_describe),
    Question(StepName.FACTS, ReportFlow.on_facts, ReportFlow.ask_facts,
             short=N_("Is this right? Please choose below, or press the item to correct.")),
    Question(StepName.CATEGORY, ReportFlow.on_category, ReportFlow.ask_category,
             short=N_("Which of these best describes the conduct you are reporting?")),
    Question(StepName.NOT_REPORT, ReportFlow.on_not_report, ReportFlow.ask_category, short=N_("Would you like to go on with your report?")),
    Question(StepName.ACCUSED_NAME, lambda c, m: c.on_short_field(m, "accused_name", B_SKIP),
             text=N_("What is the name of the person you are reporting? You can skip this if you do not know it."), choices=(B_SKIP,)),
    Question(StepName.ACCUSED_POSITION, lambda c, m: c.on_short_field(m, "accused_position", B_UNKNOWN),
             text=N_("What is their position? For example: commune chair, hamlet head, land officer, commune police officer, school principal."),
             choices=(B_UNKNOWN,)),
    Question(StepName.ACCUSED_AGENCY, lambda c, m: c.on_short_field(m, "accused_agency", B_UNKNOWN),
             text=N_("Which agency or unit do they work for? For example: the commune People's Committee, a school, the tax office."),
             choices=(B_UNKNOWN,)),
    Question(StepName.PLACE, ReportFlow.on_place, ReportFlow.ask_place),
    Question(StepName.PLACE_CHOICE, ReportFlow.on_place_choice, ReportFlow.ask_place_choice, short=N_("Which of these places do you mean?")),
    Question(StepName.SETTING, ReportFlow.on_setting, ReportFlow.ask_setting,
             short=N_("Is this about the person's conduct at their workplace, or where they live?")),
    Question(StepName.WHEN, lambda c, m: c.on_short_field(m, "occurred", B_UNKNOWN),
             text=N_("When did it happen? For example: «March 2026», «last week», «many times since 2024»."), choices=(B_UNKNOWN,)),
    Question(StepName.EVIDENCE, ReportFlow.on_evidence, ReportFlow.ask_evidence),
    Question(StepName.REPORTER_NAME, ReportFlow.on_reporter_name, ReportFlow.ask_reporter_name),
    Question(StepName.REPORTER_PHONE, ReportFlow.on_reporter_phone,
             text=N_("Please give a phone number where the Front can reach you, for example 0912 345 678.")),
    Question(StepName.NOTIFY, ReportFlow.on_notify, ReportFlow.ask_notify,
             short=N_("Would you like to receive updates on this report in this chat?")),
    Question(StepName.REVIEW, ReportFlow.on_review, ReportFlow.ask_review, short=N_("Shall we send your report as summarised above?")),
    Question(StepName.EDIT_MENU, ReportFlow.on_edit_menu, ReportFlow.ask_edit_menu, short=N_("What would you like to change?")),
    Question(StepName.CONFIRM_CANCEL, ReportFlow.on_confirm_cancel,
             text=N_("Cancel this report? Everything you have written will be deleted."), choices=(B_YES, B_KEEP),
             short=N_("Cancel this report? Everything you have written will be deleted.")),
)  # fmt: skip
