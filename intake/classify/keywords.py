"""A plain keyword baseline: hand-written phrases per category, counted in the folded text.

It is what one would write without a corpus, and the figure the trained model has to beat.
"""

from __future__ import annotations

from intake.classify import EmptyTextError, Suggestion
from intake.classify.text import clean, fold

N_CLASSES = 10
TOP_K = 3

# Phrases with diacritics as a careful writer spells them; matched folded, on syllable boundaries.
KEYWORDS: dict[int, tuple[str, ...]] = {
    1: (
        "vụ lợi", "tư lợi", "cá nhân chủ nghĩa", "cơ hội", "đố kỵ", "ghen ăn tức ở", "kèn cựa",
        "lợi ích cá nhân", "ích kỷ", "chỉ lo cho bản thân", "trục lợi", "nói xấu",
    ),
    2: (
        "mất đoàn kết", "bè phái", "phe cánh", "gia trưởng", "độc đoán", "chuyên quyền",
        "cục bộ", "lợi ích nhóm", "dân chủ", "tập trung dân chủ", "chia rẽ", "lục đục", "trù dập",
    ),
    3: (
        "kê khai tài sản", "kê khai", "tài sản", "thu nhập", "biệt thự", "đứng tên",
        "không minh bạch", "khai gian", "tài sản không rõ nguồn gốc", "nhờ người thân đứng tên",
    ),
    4: (
        "thành tích", "báo cáo láo", "báo cáo sai", "báo cáo khống", "háo danh", "danh hiệu",
        "bằng khen", "chạy thành tích", "đạt chuẩn", "nông thôn mới", "làm đẹp số liệu", "che giấu",
    ),
    5: (
        "quan liêu", "hách dịch", "vô cảm", "nhũng nhiễu", "gây khó dễ", "xa dân", "thờ ơ",
        "không giải quyết", "đùn đẩy", "tiếp dân", "một cửa", "thái độ", "quát nạt", "bỏ mặc",
    ),
    6: (
        "lãng phí", "thất thoát", "bỏ hoang", "xuống cấp", "đội vốn", "không sử dụng",
        "công trình", "dự án", "ngân sách", "kém chất lượng", "bỏ không", "chi sai",
    ),
    7: (
        "tham nhũng", "tham ô", "hối lộ", "nhận tiền", "đòi tiền", "phong bì", "biển thủ",
        "lợi dụng chức vụ", "ăn chặn", "cắt xén", "rút ruột", "bôi trơn", "chiếm đoạt", "ăn bớt",
    ),
    8: (
        "chạy chức", "chạy quyền", "mua chức", "người nhà", "con cháu", "cài cắm", "bổ nhiệm",
        "tuyển dụng", "con ông cháu cha", "sân sau", "người thân", "cơ cấu", "chạy việc",
    ),
    9: (
        "cờ bạc", "đánh bạc", "say xỉn", "rượu", "nhậu", "mê tín", "xem bói", "đồng bóng", "cá độ",
        "lô đề", "ma túy", "karaoke", "bồ nhí", "ngoại tình", "tà đạo",
    ),
}

_SPACED: dict[int, tuple[str, ...]] = {c: tuple(f" {k} " for k in words) for c, words in KEYWORDS.items()}
_FOLDED: dict[int, tuple[str, ...]] = {c: tuple(fold(k) for k in spaced) for c, spaced in _SPACED.items()}


class KeywordClassifier:
    """Counts keyword hits per category; no hit means 0 (not a report)."""

    def suggest(self, text: str) -> Suggestion:
        """Scores categories by keyword hits; raises EmptyTextError on empty text."""
        cleaned = clean(text)
        if not cleaned:
            raise EmptyTextError("there is no text to classify")
        line = " " + " ".join("".join(ch if ch.isalnum() else " " for ch in cleaned.lower()).split()) + " "
        # Text typed with diacritics is matched with them ("không" is not "khống"); bare text folded.
        folded = fold(line)
        table = _FOLDED if folded == line else _SPACED
        hits = [0.0] * N_CLASSES
        for code, phrases in table.items():
            hits[code] = float(sum(line.count(p) for p in phrases))
        total = sum(hits)
        scores = [h / total for h in hits] if total else [1.0] + [0.0] * (N_CLASSES - 1)
        order = sorted(range(N_CLASSES), key=lambda c: (-scores[c], c))
        found = [k for k, p in zip(KEYWORDS.get(order[0], ()), table.get(order[0], ()), strict=True) if p in line]
        return Suggestion(
            category=order[0],
            scores={c: scores[c] for c in range(N_CLASSES)},
            top=[(c, scores[c]) for c in order[:TOP_K]],
            terms=found,
        )
