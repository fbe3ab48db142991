"""Identity out of text before it becomes training material: names, phones, addresses, handles."""

from __future__ import annotations

import pytest

from intake.classify.text import fold
from intake.redaction import redact


@pytest.mark.parametrize(
    "text",
    [
        "Tôi là Trần Thị Hoa ở thôn 3",
        "toi la tran thi hoa o thon 3",
        "TÔI LÀ TRẦN   THỊ HOA ở thôn 3",
        "Tôi là Trần-Thị-Hoa ở thôn 3",
        "chị Thị Hoa ở thôn 3",
    ],
)
def test_the_reporters_name_goes_however_written(text: str) -> None:
    """The full name, or the given names without the family name, go in any case, with or without diacritics."""
    out = fold(redact(text, ["Trần Thị Hoa"])).lower()
    assert "hoa" not in out and "o thon 3" in out


@pytest.mark.parametrize("phone", ["0912345678", "0912 345 678", "0912.345.678", "+84 912 345 678", "84912345678", "(091) 234-5678"])
def test_phone_numbers_go_in_any_format(phone: str) -> None:
    """A phone number goes whether it is the reporter's known one or only shaped like one."""
    text = f"gọi cho tôi số {phone} nhé"
    assert redact(text, ["0912345678"]) == "gọi cho tôi số nhé"
    assert redact(text) == "gọi cho tôi số nhé"


def test_addresses_handles_and_chat_ids_go() -> None:
    """E-mail and web addresses, @handles and a known chat id are removed."""
    text = "mail hoa.tran@gmail.com, xem https://facebook.com/hoa.tran hoặc www.zalo.me/123, nick @hoa_tran, id 56781234"
    out = redact(text, ["56781234"])
    for gone in ("hoa.tran", "gmail", "facebook", "zalo.me", "@hoa_tran", "56781234"):
        assert gone not in out
    assert out.startswith("mail") and "nick" in out


def test_what_the_report_is_about_stays() -> None:
    """Money, dates and ordinary words stay; a short name is not cut out of other words."""
    text = "Anh An nói chủ tịch xã đòi 5.000.000 đồng ngày 12/3/2024, an toàn là trên hết"
    assert redact(text, ["An"]) == text
    assert redact("cán bộ xã đòi 500k", []) == "cán bộ xã đòi 500k"
