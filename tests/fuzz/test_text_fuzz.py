"""Place resolution and classification take any Unicode text without raising."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from intake.classify import EmptyTextError, get_classifier
from intake.classify.text import fold as classify_fold
from intake.classify.text import prepare
from intake.places import commune, resolve_place
from intake.places.text import fold, tokenize

# Text a resident might paste: every plane, control characters and NUL, combining marks, RTL, emoji.
ANY_TEXT = st.text(st.characters(codec=None, exclude_categories=("Cs",)), max_size=300)
NASTY = st.sampled_from(
    [
        "\x00", "\u200f", "\u202e", "\u0301", "\ufeff", "\u00b2", "\u2460", "\u0661\u0662", "𝟙𝟚", "Ⅻ",
        "phường", "xã", "P.", "Q.1", "TP.HCM", "Hà Nội", "quận", "huyện", "tỉnh", "thành phố", "thôn 3",
        "\U0001F600", "ﷺ", "א", "\u0300" * 50, ".", ",", "-", "/", " ", "\n", "\t", "²³", "١٢٣",
    ]
)
MIXED = st.lists(st.one_of(ANY_TEXT, NASTY), max_size=30).map("".join)
FAST = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])

EXAMPLES = [
    "",
    "\x00" * 10,
    "phường ² quận ①, TP ١٢",
    "P.\u0301 Q.\u0661 TP.HCM",
    "Xã Yên Sở huyện Hoài Đức Hà Nội " * 2000,  # huge
    "\u202eXã Yên Sở\u202c \U0001F600 \ufeff",
    "số ²³ đường ① phường 1²",
]


@pytest.fixture(scope="module", autouse=True)
def _loaded() -> None:
    """The gazetteer and the classifier loaded once, outside the timed examples."""
    resolve_place("phường Bến Thành")
    get_classifier().suggest("Cán bộ xã nhận tiền của dân")


@FAST
@given(text=MIXED, province=st.sampled_from([None, "79", "01", "1", " 79 "]))
def test_place_resolution_takes_any_text(text: str, province: str | None) -> None:
    """resolve_place never raises on a resident's text, and a commune it finds is a real one."""
    match = resolve_place(text, province_code=province)
    match.to_json()
    if match.commune is not None:
        assert commune(match.commune.code) == match.commune
    assert isinstance(fold(text), str) and isinstance(tokenize(text), list)


@pytest.mark.parametrize("text", EXAMPLES)
def test_place_resolution_takes_nasty_examples(text: str) -> None:
    """The pinned nasty inputs (huge, NUL, RTL, superscript digits) resolve without raising."""
    resolve_place(text).to_json()
    resolve_place(text, province_code="79").to_json()


@FAST
@given(text=MIXED)
def test_classification_takes_any_text(text: str) -> None:
    """suggest() ranks every category for any text; only an empty text is refused, with its own error."""
    try:
        s = get_classifier().suggest(text)
    except EmptyTextError:
        assert not prepare(text).syllables or not text.strip()
        return
    assert set(s.scores) == set(range(10)) and 0.0 <= s.confidence <= 1.0
    assert isinstance(classify_fold(text), str)


@pytest.mark.parametrize("text", EXAMPLES)
def test_classification_takes_nasty_examples(text: str) -> None:
    """The pinned nasty inputs are classified (or refused as empty) without another error."""
    try:
        get_classifier().suggest(text)
    except EmptyTextError:
        pass
