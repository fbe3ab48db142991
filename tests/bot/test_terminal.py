"""`phananh chat --json`: one JSON object per bot message; `[label]` presses a button."""

from __future__ import annotations

import io
import json

from sqlmodel import Session, select

from bot.terminal import run_chat
from intake.models import Case

LINES = [
    "[Gửi phản ánh mới]",
    "[Ẩn danh]",
    "Bí thư đảng ủy xã tổ chức đánh bạc ăn tiền tại nhà, nhiều người trong xã biết",
    "[Đúng, tiếp tục]",  # the story named the post, the agency and that it was at home
    "[Tệ nạn xã hội, vi phạm thuần phong mỹ tục]",
    "[Không rõ tên]",
    "phường Bến Thành, TP Hồ Chí Minh",
    "[Không nhớ thời gian]",
    "[Không có chứng cứ]",
    "[Gửi phản ánh này]",
]


def _run(lines: list[str]) -> list[dict[str, object]]:
    out = io.StringIO()
    run_chat(io.StringIO("\n".join(lines) + "\n"), out, as_json=True)
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_json_chat_files_a_report_and_prints_the_receipt(db: Session) -> None:
    """A whole report through --json ends with a message carrying receipt and passphrase."""
    messages = _run(LINES)
    assert all(set(m) >= {"text", "buttons"} for m in messages)
    receipt = next(m for m in messages if "receipt" in m)
    assert isinstance(receipt["receipt"], str) and isinstance(receipt["passphrase"], str)
    assert messages[-1]["buttons"], "the receipt, then what the resident can do next"
    case = db.exec(select(Case)).one()
    assert case.category == 9 and case.setting == "residence" and case.channel == "terminal"


def test_unknown_label_is_answered_politely(db: Session) -> None:
    """Pressing a label that is not on screen gets a re-prompt, not an error."""
    messages = _run(["[Không có nút này]"])
    assert "câu hỏi trước" in str(messages[1]["text"])


def test_a_printed_receipt_is_confirmed(db: Session) -> None:
    """Once printed, the receipt is no longer pending: a later session of the same chat does not show it again."""
    from intake.crypto import decrypt
    from intake.dialog.types import Draft
    from intake.models import DialogSession

    out = io.StringIO()
    run_chat(io.StringIO("\n".join(LINES) + "\n"), out, as_json=True, session_name="term-1")
    assert any("receipt" in json.loads(line) for line in out.getvalue().splitlines())
    row = db.exec(select(DialogSession)).one()
    assert Draft.model_validate_json(decrypt(row.draft_enc)).pending_receipt is None
    again = io.StringIO()
    run_chat(io.StringIO("/trogiup\n"), again, as_json=True, session_name="term-1")
    assert not any("receipt" in json.loads(line) for line in again.getvalue().splitlines())


def test_the_terminal_chat_ends_its_last_prompt_with_a_newline(db: Session) -> None:
    """Issue 16, item 7: at the end of input the shell's prompt no longer lands after "> "."""
    out = io.StringIO()
    run_chat(io.StringIO("/trogiup\n"), out, as_json=False)
    assert out.getvalue().endswith("> \n")
    assert "/batdau" in out.getvalue(), "the help names every command"


def test_the_readmes_json_example_files_a_report(db: Session) -> None:
    """Issue 16, item 7: the README's `phananh chat --json` example stopped at the category question; it reaches a receipt."""
    import re
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    example = re.search(r"printf '(.+?)' \| phananh chat --json", readme)
    assert example, "the example is in the README"
    lines = example.group(1).split("\\n")
    messages = _run([line for line in lines if line])
    assert any("receipt" in m and "passphrase" in m for m in messages), messages[-1]
