"""The Front staff's case work: the policy (who may do what), the actions, and the queries the admin reads.

Routes parse input, call one function from here, and render; permission checks live in `policy` only.
"""

from __future__ import annotations

from intake.casework.actions import (
    FORWARD_BODIES,
    OFFLINE_CHANNELS,
    Correction,
    Identity,
    OfflineReport,
    accept_case,
    add_note,
    ask_for_information,
    assign_case,
    close_case,
    correct_case,
    decide_transfer,
    download_attachment,
    escalate_case,
    mark_out_of_scope,
    merge_cases,
    reclassify_case,
    record_forwarding,
    record_report,
    record_result,
    reply_to_resident,
    save_template,
    transfer_case,
    view_identity,
)
from intake.casework.policy import Perm, allowed_actions, can, check_action, requires_totp, visible_case

__all__ = [
    "FORWARD_BODIES",
    "OFFLINE_CHANNELS",
    "Correction",
    "Identity",
    "OfflineReport",
    "Perm",
    "accept_case",
    "add_note",
    "allowed_actions",
    "ask_for_information",
    "assign_case",
    "can",
    "check_action",
    "close_case",
    "correct_case",
    "decide_transfer",
    "download_attachment",
    "escalate_case",
    "mark_out_of_scope",
    "merge_cases",
    "reclassify_case",
    "record_forwarding",
    "record_report",
    "record_result",
    "reply_to_resident",
    "requires_totp",
    "save_template",
    "transfer_case",
    "view_identity",
    "visible_case",
]
