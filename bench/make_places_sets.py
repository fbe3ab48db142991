"""Builds the place-resolution benchmark sets from real gazetteer entries, with residents' kind of noise.

    .venv/bin/python -m bench.make_places_sets [--seed 20251018]

Writes bench/data/places_noisy.jsonl (today's communes, each naming its province, with typos,
missing diacritics, abbreviations and nicknames) and bench/data/places_legacy.jsonl (district-era
addresses: old commune, old district, old province). Expectations come from the data, never from
the resolver: the noisy set's from vietnam-provinces itself, the legacy set's from the district-era
map underthesea ships (old commune → new commune name, its default where a commune was split),
joined to official codes by exact name within the new province.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import random
import re
import unicodedata
from pathlib import Path
from typing import Any

import vietnam_provinces

DATA_DIR = Path(__file__).resolve().parent / "data"
NOISY_SIZE = 600
LEGACY_SIZE = 300

_KEYBOARD_ROWS = ("qwertyuiop", "asdfghjkl", "zxcvbnm")
_NEIGHBOURS = {
    ch: "".join(
        row[j]
        for r2, row in enumerate(_KEYBOARD_ROWS)
        for j in range(len(row))
        if abs(r2 - r) <= 1 and abs(j - i) <= 1 and row[j] != ch
    )
    for r, row in enumerate(_KEYBOARD_ROWS)
    for i, ch in enumerate(row)
}
# How residents write provinces besides their names.
_NICKNAMES = {
    "79": ["TP.HCM", "TPHCM", "HCM", "Sài Gòn", "tp Hồ Chí Minh", "SG"],
    "01": ["HN", "TP Hà Nội", "Hà Nội"],
    "46": ["TP Huế", "Huế"],
    "48": ["TP Đà Nẵng", "Đà Nẵng"],
    "31": ["TP Hải Phòng", "HP"],
    "92": ["TP Cần Thơ", "Cần Thơ"],
}
_WARD_ABBREV = {"Phường": ["P.", "P", "p.", "F."], "Xã": ["X.", "x.", "X"], "Đặc khu": ["ĐK", "đặc khu"]}
_OLD_WARD_ABBREV = {"Phường": ["P.", "p.", "P"], "Xã": ["X.", "x."], "Thị trấn": ["TT.", "tt", "TT"]}
_DISTRICT_ABBREV = {"Quận": ["Q.", "q.", "Q"], "Huyện": ["H.", "h.", "H"], "Thị xã": ["TX.", "tx"], "Thành phố": ["TP.", "tp"]}
_FILLERS = ["tại ", "ở ", "địa chỉ: ", "xảy ra ở ", ""]


def fold(text: str) -> str:
    """Diacritics off, đ→d (the bench's own copy, independent of the code under test)."""
    text = unicodedata.normalize("NFD", text)
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return text.replace("đ", "d").replace("Đ", "D")


def split_kind(name: str, kinds: list[str]) -> tuple[str, str]:
    """('Xã', 'Tân Phú') from 'Xã Tân Phú', case-insensitively."""
    for kind in sorted(kinds, key=len, reverse=True):
        if name.lower().startswith(kind.lower() + " "):
            return kind, name[len(kind) + 1 :]
    return "", name


def typo(word: str, rng: random.Random) -> str:
    """One keyboard slip in a word of three letters or more: a letter dropped, doubled, swapped or mistyped."""
    letters = [i for i, ch in enumerate(word) if ch.isalpha()]
    if len(letters) < 3:
        return word
    i = rng.choice(letters[1:])  # people rarely miss the first letter
    op = rng.choice(["delete", "double", "swap", "neighbour"])
    if op == "delete":
        return word[:i] + word[i + 1 :]
    if op == "double":
        return word[:i] + word[i] + word[i:]
    if op == "swap" and i + 1 < len(word) and word[i + 1].isalpha():
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    base = fold(word[i]).lower()
    if base in _NEIGHBOURS:
        return word[:i] + rng.choice(_NEIGHBOURS[base]) + word[i + 1 :]
    return word[:i] + word[i + 1 :]


def typo_in(text: str, rng: random.Random) -> str:
    """A slip in one of the longer words of a name."""
    words = text.split(" ")
    long_words = [i for i, w in enumerate(words) if sum(ch.isalpha() for ch in w) >= 3]
    if not long_words:
        return text
    i = rng.choice(long_words)
    words[i] = typo(words[i], rng)
    return " ".join(words)


def casing(text: str, rng: random.Random) -> str:
    """How people type on phones: as is, all lower, sometimes all upper."""
    roll = rng.random()
    if roll < 0.45:
        return text.lower()
    if roll < 0.5:
        return text.upper()
    return text


def province_text(code: str, name: str, rng: random.Random) -> str:
    """A province as residents write it: full name, short name, or a nickname."""
    short = re.sub(r"^(Tỉnh|Thành phố) ", "", name)
    full = name if name.startswith("Thành phố") else f"Tỉnh {name}"
    roll = rng.random()
    if code in _NICKNAMES and roll < 0.35:
        return rng.choice(_NICKNAMES[code])
    if roll < 0.6:
        return short
    if roll < 0.85:
        return full
    return ("T. " if not name.startswith("Thành phố") else "TP. ") + short


def noisy_query(ward: dict[str, Any], province: dict[str, Any], rng: random.Random) -> str:
    """One resident-style reference to a commune of today, naming its province."""
    kind, core = split_kind(ward["name"], ["Phường", "Xã", "Đặc khu"])
    roll = rng.random()
    if roll < 0.35:
        marker = kind
    elif roll < 0.65:
        marker = rng.choice(_WARD_ABBREV[kind])
        if marker == "F." and not core[:1].isdigit():
            marker = "P."
    else:
        marker = ""
    if rng.random() < 0.6:
        core = typo_in(core, rng)
    prov = province_text(f"{province['code']:02d}", province["name"], rng)
    if rng.random() < 0.15:
        prov = typo_in(prov, rng)
    sep = rng.choice([", ", ", ", ", ", " ", " - "])
    ward_part = f"{marker} {core}".strip() if not marker.endswith(".") else f"{marker}{core}"
    text = rng.choice(_FILLERS) + ward_part + sep + prov
    if rng.random() < 0.5:
        text = fold(text)
    return casing(text, rng)


def legacy_query(rec: dict[str, Any], rng: random.Random) -> str:
    """One district-era address: old commune, old district, usually the old province."""
    wkind, wcore = split_kind(rec["old_ward"], ["Phường", "Xã", "Thị trấn"])
    dkind, dcore = split_kind(rec["old_district"], ["Quận", "Huyện", "Thị xã", "Thành phố"])
    wkind = next((k for k in _OLD_WARD_ABBREV if k.lower() == wkind.lower()), wkind)
    dkind = next((k for k in _DISTRICT_ABBREV if k.lower() == dkind.lower()), dkind)
    ward_marker = wkind if rng.random() < 0.5 else rng.choice(_OLD_WARD_ABBREV.get(wkind, [wkind]))
    district_marker = dkind if rng.random() < 0.5 else rng.choice(_DISTRICT_ABBREV.get(dkind, [dkind]))
    if rng.random() < 0.25:
        wcore = typo_in(wcore, rng)
    elif rng.random() < 0.1:
        dcore = typo_in(dcore, rng)
    parts = [f"{ward_marker} {wcore}", f"{district_marker} {dcore}"]
    if rng.random() < 0.9:
        old_prov = rec["old_province"]
        short = re.sub(r"^(Tỉnh|Thành phố) ", "", old_prov)
        parts.append(rng.choice([old_prov, short, short]))
    text = rng.choice([", ", ", ", " "]).join(parts)
    if rng.random() < 0.5:
        text = fold(text)
    return casing(text, rng)


def _accented_key(text: str) -> str:
    return "".join(ch for ch in unicodedata.normalize("NFC", text.lower()) if ch.isalnum())


def legacy_expectations() -> list[dict[str, Any]]:
    """District-era communes with today's commune they map to (the default where split), by official code."""
    spec = importlib.util.find_spec("underthesea")
    assert spec is not None and spec.origin is not None
    mapping = json.loads((Path(spec.origin).parent / "address" / "data" / "mapping.json").read_text("utf-8"))
    divisions = json.loads(Path(vietnam_provinces.NESTED_DIVISIONS_JSON_PATH).read_text("utf-8"))
    codes: dict[tuple[str, str], list[str]] = {}
    for prov in divisions:
        pcode = f"{prov['code']:02d}"
        for ward in prov["wards"]:
            codes.setdefault((pcode, _accented_key(ward["name"])), []).append(f"{ward['code']:05d}")
    new_codes = {k: f"{int(v['code']):02d}" for k, v in mapping["province_names"].items()}
    grouped: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for rec in mapping["ward_mapping"]:
        if rec["old_ward"]:
            grouped.setdefault((rec["old_province_key"], rec["old_district_key"], rec["old_ward_key"]), []).append(rec)
    out: list[dict[str, Any]] = []
    for recs in grouped.values():
        chosen = next((r for r in recs if r.get("is_default")), recs[0]) if len(recs) > 1 else recs[0]
        pcode = new_codes[chosen["new_province_key"]]
        hit = codes.get((pcode, _accented_key(chosen["new_ward"] or chosen["new_ward_key"])))
        if not hit or len(hit) != 1:
            continue  # a name the official list does not carry exactly: left out, not guessed
        out.append({**chosen, "expected_province": pcode, "expected_commune": hit[0], "split": len(recs) > 1})
    return out


def main() -> None:
    """Writes both sets."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=20251018)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    DATA_DIR.mkdir(parents=True, exist_ok=True)

    divisions = json.loads(Path(vietnam_provinces.NESTED_DIVISIONS_JSON_PATH).read_text("utf-8"))
    pairs = [(w, p) for p in divisions for w in p["wards"]]
    with (DATA_DIR / "places_noisy.jsonl").open("w", encoding="utf-8") as fh:
        for ward, prov in rng.sample(pairs, NOISY_SIZE):
            row = {
                "query": noisy_query(ward, prov, rng),
                "province": f"{prov['code']:02d}",
                "commune": f"{ward['code']:05d}",
                "name": ward["name"],
            }
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")

    records = legacy_expectations()
    with (DATA_DIR / "places_legacy.jsonl").open("w", encoding="utf-8") as fh:
        for rec in rng.sample(records, LEGACY_SIZE):
            row = {
                "query": legacy_query(rec, rng),
                "province": rec["expected_province"],
                "commune": rec["expected_commune"],
                "old": f"{rec['old_ward']}, {rec['old_district']}, {rec['old_province']}",
                "split": rec["split"],
            }
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(f"wrote {NOISY_SIZE} noisy and {LEGACY_SIZE} legacy queries to {DATA_DIR}")


if __name__ == "__main__":
    main()
