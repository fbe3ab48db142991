"""The add-information flow: a resident who has looked a case up adds to it ("bổ sung thông tin").

The message goes into the case's thread for the staff handling it; the chat proved it holds the case
by its receipt and passphrase (or by having opted in to updates), so nothing is asked again.
"""

from __future__ import annotations

from intake.dialog.buttons import B_CANCEL
from intake.dialog.context import Question
from intake.dialog.lookup import LookupFlow
from intake.dialog.types import AddInfo, Inbound, Step, StepName
from intake.i18n import N_


class FollowupFlow(LookupFlow):
    """Takes what the resident adds to the case this chat has looked up."""

    def on_followup(self, message: Inbound) -> Step:
        if self.choice(message) == B_CANCEL or self.draft.followup_case_id is None:
            return self.finish_lookup(cancelled=True)
        answer = self.text_answer(message)
        if isinstance(answer, Step):
            return answer
        return self.done(AddInfo(case_id=self.draft.followup_case_id, text=answer))

    def on_info_added(self) -> Step:
        """The message is in the case's thread: thank, and offer what comes next."""
        self.state.step = StepName.IDLE
        self.say(self.t._("Thank you. Your information has been added to your report's file."), self.menu_buttons())
        return self.done()


QUESTIONS: tuple[Question, ...] = (
    Question(
        StepName.FOLLOWUP,
        FollowupFlow.on_followup,
        text=N_("Please write the information you want to add, or your answer to the Front's question. It will be added to your report's file."),
        choices=(B_CANCEL,),
    ),
)
