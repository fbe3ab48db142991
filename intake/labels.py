"""Names shown to people for the model's codes (msgids, translated where they are shown)."""

from __future__ import annotations

from intake.i18n import N_
from intake.models import Anonymity, CaseStatus, Channel, Setting

STATUS_LABELS: dict[str, str] = {
    CaseStatus.NEW.value: N_("Received"),
    CaseStatus.VERIFYING.value: N_("Being verified"),
    CaseStatus.FORWARDED.value: N_("Forwarded to the competent body"),
    CaseStatus.RESULT.value: N_("Result received"),
    CaseStatus.ANSWERED.value: N_("Reporter answered"),
    CaseStatus.CLOSED.value: N_("Closed"),
    CaseStatus.OUT_OF_SCOPE.value: N_("Outside the Front's remit"),
    CaseStatus.DUPLICATE.value: N_("Duplicate"),
}

ANONYMITY_LABELS: dict[str, str] = {
    Anonymity.ANONYMOUS.value: N_("Anonymous"),
    Anonymity.CONFIDENTIAL.value: N_("Confidential identity"),
    Anonymity.OPEN.value: N_("Open"),
}

SETTING_LABELS: dict[str, str] = {
    Setting.WORKPLACE.value: N_("At their workplace"),
    Setting.RESIDENCE.value: N_("Where they live"),
}

CHANNEL_LABELS: dict[str, str] = {
    Channel.WEB.value: N_("Web chat"),
    Channel.TELEGRAM.value: N_("Telegram"),
    Channel.ZALO.value: N_("Zalo"),
    Channel.TERMINAL.value: N_("Terminal"),
    Channel.IN_PERSON.value: N_("In person"),
    Channel.HOTLINE.value: N_("Hotline"),
    Channel.LETTER.value: N_("Letter"),
    Channel.EMAIL.value: N_("E-mail"),
    Channel.SUGGESTION_BOX.value: N_("Suggestion box"),
}
