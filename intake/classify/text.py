"""Text preparation for the classifier: normalization, abbreviations, word tokens and a folded view.

Residents type on phones: diacritics go missing ("ong chu tich doi tien"), words are shortened
("ko", "dc", "ct xã") and messages run on. Everything the model sees goes through `prepare()` so
training and suggestion read a message the same way.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from dataclasses import dataclass

from intake.segmenter import text_normalize, word_tokenize

# A message is classified on a bounded prefix: the opening of a report says what it is about, and
# the cost of tokenization grows with length.
MAX_CHARS = 2000
# Word segmentation (a CRF) is the slowest step; longer messages get the folded views only past this.
MAX_TOKENIZED_CHARS = 600

# underthesea loads its segmenter on the first call and publishes the object before it is loaded:
# a second thread arriving meanwhile calls a half-built model. Loading once under a lock closes
# that window; calls after the load are safe to run side by side.
_TOKENIZER_LOCK = threading.Lock()
_tokenizer_loaded = False

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\ufeff]+")
# Characters that are neither letters, digits, spaces nor ordinary punctuation: what random bytes
# and binary junk are mostly made of.
_NOISE = re.compile(r"[^\w\s.,!?;:'\"()\[\]\-/%&+*=@#…“”‘’–—]")
_SPACE = re.compile(r"\s+")
_NUMBER = re.compile(r"^\d+(?:[.,]\d+)*$")
_CONTENT = re.compile(r"[^\W_]")  # a letter or a digit
_LETTER = re.compile(r"[^\W\d_]")
NUMBER = "0"

VIETNAMESE_LETTERS = frozenset(
    "abcdeghiklmnopqrstuvxy"
    "àáảãạăằắẳẵặâầấẩẫậđèéẻẽẹêềếểễệìíỉĩịòóỏõọôồốổỗộơờớởỡợùúủũụưừứửữựỳýỷỹỵ"
    "fjwz"
)
_VIETNAMESE_WORD = re.compile("[" + "".join(sorted(VIETNAMESE_LETTERS)) + "]+")


def _build_fold_table() -> dict[int, str]:
    """Maps every precomposed Latin letter to its base letter (and đ to d)."""
    table: dict[int, str] = {}
    for code in list(range(0x00C0, 0x0250)) + list(range(0x1E00, 0x1F00)):
        char = chr(code)
        base = "".join(c for c in unicodedata.normalize("NFD", char) if not unicodedata.combining(c))
        if base and base != char:
            table[code] = base
    table[ord("đ")] = "d"
    table[ord("Đ")] = "D"
    return table


_FOLD = _build_fold_table()


def fold(text: str) -> str:
    """Removes Vietnamese diacritics: 'Đòi tiền' -> 'Doi tien'."""
    return text.translate(_FOLD)


# Shorthand residents use in chat, keyed by the exact lower-case token (so "hỏng" is never taken for
# "hong"). Only forms that are unambiguous in this domain: "ct" before a place means chủ tịch far
# more often than công ty here.
ABBREVIATIONS: dict[str, str] = {
    "ko": "không",
    "k": "không",
    "kh": "không",
    "khg": "không",
    "hok": "không",
    "khum": "không",
    "dc": "được",
    "đc": "được",
    "dk": "được",
    "đk": "được",
    "j": "gì",
    "ng": "người",
    "vs": "với",
    "r": "rồi",
    "e": "em",
    "mk": "mình",
    "thg": "thằng",
    "bít": "biết",
    "bik": "biết",
    "lun": "luôn",
    "trc": "trước",
    "cx": "cũng",
    "ms": "mới",
    "lm": "làm",
    "ns": "nói",
    "ck": "chồng",
    "vk": "vợ",
    "bh": "bao giờ",
    "nhìu": "nhiều",
    "bn": "bao nhiêu",
    "mn": "mọi người",
    "ntn": "như thế nào",
    "nhg": "nhưng",
    "wa": "quá",
    "wá": "quá",
    "tr": "triệu",
    "cb": "cán bộ",
    "cbo": "cán bộ",
    "ct": "chủ tịch",
    "pct": "phó chủ tịch",
    "bt": "bí thư",
    "dv": "đảng viên",
    "đv": "đảng viên",
    "gv": "giáo viên",
    "hs": "học sinh",
    "csgt": "cảnh sát giao thông",
    "ubnd": "ủy ban nhân dân",
    "hdnd": "hội đồng nhân dân",
    "hđnd": "hội đồng nhân dân",
    "mttq": "mặt trận tổ quốc",
    "tp": "thành phố",
    "cq": "cơ quan",
    "cty": "công ty",
    "qd": "quyết định",
    "qđ": "quyết định",
    "gcn": "giấy chứng nhận",
    "nvh": "nhà văn hóa",
    "fb": "facebook",
}


@dataclass(frozen=True)
class Prepared:
    """One message read for the classifier.

    `syllables` are the normalized lower-case syllables (shorthand expanded, numbers as "0",
    punctuation left out), `surface` the same positions as the resident wrote them (numbers kept),
    `folded` the syllables without diacritics, `words` the segmented words ("chủ_tịch"),
    `letters` the number of letters in the syllables and `noise` the number of junk characters
    (symbols, control characters, replacement characters) in the prefix read.
    """

    syllables: tuple[str, ...]
    surface: tuple[str, ...]
    folded: tuple[str, ...]
    words: tuple[str, ...]
    letters: int = 0
    noise: int = 0


EMPTY = Prepared((), (), (), ())


def load_tokenizer() -> None:
    """Loads underthesea's word segmenter once, safely when several threads ask at the same time."""
    global _tokenizer_loaded
    if _tokenizer_loaded:
        return
    with _TOKENIZER_LOCK:
        if not _tokenizer_loaded:
            word_tokenize("khởi động", use_token_normalize=False)
            _tokenizer_loaded = True


def clean(text: str) -> str:
    """Drops control characters and collapses whitespace; empty when there is nothing to read."""
    return _SPACE.sub(" ", _CONTROL.sub(" ", text)).strip()


def prepare(text: str) -> Prepared:
    """Reads a message: bounded prefix, underthesea normalization, shorthand expanded, words segmented."""
    prefix = text[:MAX_CHARS]
    cleaned = clean(prefix)
    if not cleaned:
        return EMPTY
    tokens: list[str] = []  # what the word segmenter reads: punctuation kept, it marks boundaries
    syllables: list[str] = []
    surface: list[str] = []
    for token in text_normalize(cleaned).split(" "):
        if not token:
            continue
        lower = token.lower()
        if not _CONTENT.search(lower):
            if not _NOISE.search(lower):  # emoji and symbols would glue onto the next word
                tokens.append(lower)
        elif _NUMBER.match(lower):
            tokens.append(NUMBER)
            syllables.append(NUMBER)
            surface.append(token)
        else:
            expansion = ABBREVIATIONS.get(lower, lower)
            tokens.append(expansion)
            parts = expansion.split(" ")
            syllables.extend(parts)
            surface.extend(parts)
    joined = " ".join(syllables)
    load_tokenizer()
    segmented = word_tokenize(" ".join(tokens)[:MAX_TOKENIZED_CHARS], use_token_normalize=False)
    # The segmenter now and then glues a punctuation mark onto a word ("!_ủy"): keep the words only.
    words = tuple(
        joined_word
        for w in segmented
        if (joined_word := "_".join(p for p in w.split(" ") if _CONTENT.search(p)))
    )
    return Prepared(
        syllables=tuple(syllables),
        surface=tuple(surface),
        folded=tuple(fold(joined).split(" ")) if syllables else (),
        words=words,
        letters=len(_LETTER.findall(joined)),
        noise=len(_NOISE.findall(prefix)),
    )


def is_vietnamese_spelling(syllable: str) -> bool:
    """Whether a lower-case syllable uses only letters of the Vietnamese alphabet."""
    return _VIETNAMESE_WORD.fullmatch(syllable) is not None
