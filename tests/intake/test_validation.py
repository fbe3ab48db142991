"""Checks on residents' input."""

from __future__ import annotations

import pytest

from intake.validation import clean_text, has_meaning, normalize_vn_phone


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("0912 345 678", "0912345678"),
        ("+84 912.345.678", "0912345678"),
        ("84912345678", "0912345678"),
        ("(028) 3829 1234", "02838291234"),
        ("0386-123-456", "0386123456"),
    ],
)
def test_vietnamese_phone_numbers_are_accepted(typed: str, expected: str) -> None:
    """Mobile and landline numbers in the ways people write them are normalized."""
    assert normalize_vn_phone(typed) == expected


@pytest.mark.parametrize("typed", ["0912 345 67", "0112345678", "12345", "abc", "", "+1 415 555 0100", "09123456789"])
def test_other_numbers_are_refused(typed: str) -> None:
    """Wrong lengths, prefixes that do not exist and foreign numbers are refused."""
    assert normalize_vn_phone(typed) is None


def test_meaning_needs_a_letter_or_digit() -> None:
    """Emoji and punctuation alone carry no answer; Vietnamese letters do."""
    assert not has_meaning("😀😡 !!!")
    assert has_meaning("ổ")
    assert has_meaning("5")


def test_clean_text_normalizes_and_strips_controls() -> None:
    """Decomposed Vietnamese is composed (NFC) and control characters are dropped."""
    assert clean_text("  Tie\u0302\u0300n\x00 ") == "Tiền"
