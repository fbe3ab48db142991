"""The gazetteer: today's 34 provinces and 3,321 communes with official codes, and the district-era map.

Today's units come from the vietnam-provinces package (2025.10 series). The district-era map
(63 provinces, districts, old communes → today's communes) is the table that underthesea ships
with its address converter (built from the vietnamadminunits package); it carries names, not codes,
so its new commune names are joined to the official codes here, province by province.
Both files are read once per process, offline.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import logging
import re
import time
import unicodedata
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import vietnam_provinces

from intake.places.text import Mark, collapse, fold_key

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Place:
    """A province or a commune of today's structure, by official code and name."""

    code: str
    name: str

    def to_json(self) -> dict[str, str]:
        return {"code": self.code, "name": self.name}


@dataclass(frozen=True, slots=True)
class ProvinceEntry:
    """A province of today: code '79', name 'Thành phố Hồ Chí Minh', and whether it is a city."""

    code: str
    name: str
    city: bool


@dataclass(frozen=True, slots=True)
class WardEntry:
    """A commune, ward or special zone of today, with the keys its name is matched by."""

    code: str
    name: str
    province_code: str
    kind: Mark  # PHUONG, XA or DAC_KHU
    key: str  # folded core name without spaces: 'benthanh'
    accented_key: str  # core name lower case with diacritics, without spaces: 'bếnthành'


@dataclass(frozen=True, slots=True)
class ProvinceAlias:
    """A name a province is called by; old_key is set when it names a district-era province now merged."""

    province_code: str
    old_key: str | None
    key: str
    accented_key: str


@dataclass(slots=True)
class OldDistrict:
    """A district of the district era (quận, huyện, thị xã, provincial city) and where its communes went."""

    ident: int
    name: str
    kind: Mark
    key: str
    accented_key: str
    old_province: str
    province_code: str  # today's province
    targets: list[str] = field(default_factory=list)  # today's commune codes, in map order


@dataclass(slots=True)
class OldWard:
    """A commune of the district era and today's commune(s) it became; the default one first."""

    ident: int
    name: str
    kind: Mark  # PHUONG, XA or THI_TRAN
    key: str
    accented_key: str
    district: OldDistrict
    targets: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Choices:
    """Keys and the entries they stand for, in parallel lists, for fuzzy matching in one call.

    The exact indexes are keyed by `collapse(key)`, so a doubled letter still finds its name.
    """

    keys: list[str]
    entries: list[Any]


_WARD_PREFIX = re.compile(r"^(phường|xã|đặc khu|thị trấn)\s+", re.IGNORECASE)
_DISTRICT_PREFIX = re.compile(r"^(quận|huyện|thị xã|thành phố)\s+", re.IGNORECASE)
_PROVINCE_PREFIX = re.compile(r"^(tỉnh|thành phố)\s+", re.IGNORECASE)
_KINDS = {
    "phường": Mark.PHUONG,
    "xã": Mark.XA,
    "đặc khu": Mark.DAC_KHU,
    "thị trấn": Mark.THI_TRAN,
    "quận": Mark.QUAN,
    "huyện": Mark.HUYEN,
    "thị xã": Mark.THI_XA,
    "thành phố": Mark.THANH_PHO,
}
_KEY_PREFIXES = (("thitran", Mark.THI_TRAN), ("phuong", Mark.PHUONG), ("xa", Mark.XA))

# What residents call provinces besides their names (folded, any spacing). Documented, not guessed.
NICKNAMES: dict[str, tuple[str, ...]] = {
    "79": ("Sài Gòn", "HCM", "TPHCM", "HCMC", "SG", "TPSG", "Ho Chi Minh City", "Thành phố HCM"),
    "01": ("HN", "TPHN", "Thủ đô", "Thủ đô Hà Nội"),
    "46": ("Thừa Thiên Huế", "TT Huế", "Thừa Thiên - Huế", "Hue City"),
    "31": ("HP", "TPHP"),
    "48": ("TPĐN",),
    "92": ("TPCT",),
    "66": ("Đắc Lắc", "Daklak"),
}
OLD_NICKNAMES: dict[str, tuple[str, ...]] = {
    "tinhbariavungtau": ("BRVT", "Vũng Tàu", "Bà Rịa"),
    "tinhdaknong": ("Đắc Nông",),
}


def accented_key(text: str) -> str:
    """Lower case, diacritics kept (NFC), letters and digits only: the key for telling 'Tân' from 'Tấn'."""
    return "".join(ch for ch in unicodedata.normalize("NFC", text.lower()) if ch.isalnum())


def _clean_name(raw: Any) -> str:
    """A name as shown: NFC, single spaces (the source has a few doubled ones, 'Phường  Tân Lập')."""
    return " ".join(unicodedata.normalize("NFC", str(raw)).split())


def _split_kind(name: str, prefix: re.Pattern[str]) -> tuple[Mark | None, str]:
    """The unit kind written before a name, and the name without it ('Xã Tân Phú' → XA, 'Tân Phú')."""
    m = prefix.match(name)
    if not m:
        return None, name
    return _KINDS[m.group(1).lower()], name[m.end() :]


def _underthesea_mapping_path() -> Path:
    """Where underthesea keeps its district-era mapping, found without importing underthesea."""
    spec = importlib.util.find_spec("underthesea")
    if spec is None or spec.origin is None:
        raise RuntimeError("underthesea is not installed; the district-era map ships with it")
    return Path(spec.origin).parent / "address" / "data" / "mapping.json"


class Gazetteer:
    """Today's units and the district-era map, indexed for the resolver; built once per process."""

    def __init__(self, divisions: list[dict[str, Any]], legacy: dict[str, Any]) -> None:
        self.provinces: dict[str, ProvinceEntry] = {}
        self.wards: dict[str, WardEntry] = {}
        self.ward_index: dict[str, list[WardEntry]] = defaultdict(list)
        self.wards_by_province: dict[str, Choices] = {}
        self.province_aliases: dict[str, list[ProvinceAlias]] = defaultdict(list)
        self.old_province_names: dict[str, str] = {}
        self.old_province_targets: dict[str, set[str]] = defaultdict(set)
        self.districts: list[OldDistrict] = []
        self.district_index: dict[str, list[OldDistrict]] = defaultdict(list)
        self.districts_by_province: dict[str, Choices] = {}
        self.old_wards: list[OldWard] = []
        self.old_ward_index: dict[str, list[OldWard]] = defaultdict(list)
        self.old_wards_by_district: dict[int, Choices] = {}
        self.old_wards_by_province: dict[str, Choices] = {}
        self._load_divisions(divisions)
        self._load_legacy(legacy)
        self.all_wards = Choices([w.key for w in self.wards.values()], list(self.wards.values()))
        self.all_districts = Choices([d.key for d in self.districts], list(self.districts))
        alias_keys = list(self.province_aliases)
        self.all_aliases = Choices(alias_keys, [self.province_aliases[k] for k in alias_keys])

    # -- today's structure -------------------------------------------------------------------

    def _load_divisions(self, divisions: list[dict[str, Any]]) -> None:
        """Indexes provinces and communes from vietnam-provinces' nested JSON."""
        for prov in divisions:
            code = f"{int(prov['code']):02d}"
            name = _clean_name(prov["name"])
            city = prov["division_type"] == "thành phố trung ương"
            self.provinces[code] = ProvinceEntry(code, name, city)
            short = _PROVINCE_PREFIX.sub("", name)
            # Written names first: the first alias of a key gives the diacritics it is compared with.
            for alias in (short, name, str(prov["codename"]).replace("_", " ")):
                self._add_alias(alias, code, None)
            keys: list[str] = []
            entries: list[WardEntry] = []
            for ward in prov["wards"]:
                kind, core = _split_kind(_clean_name(ward["name"]), _WARD_PREFIX)
                entry = WardEntry(
                    code=f"{int(ward['code']):05d}",
                    name=_clean_name(ward["name"]),
                    province_code=code,
                    kind=kind or Mark.XA,
                    key=fold_key(core),
                    accented_key=accented_key(core),
                )
                self.wards[entry.code] = entry
                self.ward_index[collapse(entry.key)].append(entry)
                keys.append(entry.key)
                entries.append(entry)
            self.wards_by_province[code] = Choices(keys, entries)
        for code, nicknames in NICKNAMES.items():
            for nick in nicknames:
                self._add_alias(nick, code, None)

    def _add_alias(self, alias: str, code: str, old_key: str | None) -> None:
        """Registers a province name under its folded key, once per (province, old province)."""
        key = fold_key(alias)
        if not key:
            return
        entries = self.province_aliases[collapse(key)]
        if old_key is not None and any(e.province_code == code and e.old_key is None for e in entries):
            return  # the name is also today's province: it does not narrow to one old province
        if any(e.province_code == code and e.old_key == old_key and e.key == key for e in entries):
            return
        entries.append(ProvinceAlias(code, old_key, key, accented_key(alias)))

    # -- the district era ----------------------------------------------------------------------

    def _load_legacy(self, legacy: dict[str, Any]) -> None:
        """Indexes the district-era map, joining its new commune names to official codes."""
        new_code_of = {k: f"{int(v['code']):02d}" for k, v in legacy["province_names"].items()}
        by_name: dict[tuple[str, str], list[WardEntry]] = defaultdict(list)
        by_folded: dict[tuple[str, str], list[WardEntry]] = defaultdict(list)
        for w in self.wards.values():
            by_name[(w.province_code, accented_key(w.name))].append(w)
            by_folded[(w.province_code, fold_key(w.name))].append(w)

        old_province_code: dict[str, str] = {}
        for old_key, new_key in legacy["province_mapping"].items():
            old_province_code[old_key] = new_code_of[new_key]
        for old_key, info in legacy["old_province_names"].items():
            self.old_province_names[old_key] = str(info["name"])
            code = old_province_code[old_key]
            for alias in (info["short"], info["name"], *OLD_NICKNAMES.get(old_key, ())):
                self._add_alias(str(alias), code, old_key)

        districts: dict[tuple[str, str], OldDistrict] = {}
        wards: dict[tuple[int, str], OldWard] = {}
        unjoined = 0
        for rec in legacy["ward_mapping"]:
            province_code = new_code_of[rec["new_province_key"]]
            target = self._join_target(rec, province_code, by_name, by_folded)
            if target is None:
                unjoined += 1
                continue
            old_prov = rec["old_province_key"]
            self.old_province_targets[old_prov].add(target)
            dkey = (old_prov, rec["old_district_key"])
            district = districts.get(dkey)
            if district is None:
                kind, core = _split_kind(str(rec["old_district"]), _DISTRICT_PREFIX)
                district = OldDistrict(
                    ident=len(districts),
                    name=str(rec["old_district"]),
                    kind=kind or Mark.HUYEN,
                    key=fold_key(core),
                    accented_key=accented_key(core),
                    old_province=old_prov,
                    province_code=old_province_code[old_prov],
                )
                districts[dkey] = district
            if target not in district.targets:
                district.targets.append(target)
            ward = self._old_ward(rec, district, wards)
            if ward is None:
                continue
            if rec.get("is_default"):
                if target in ward.targets:
                    ward.targets.remove(target)
                ward.targets.insert(0, target)
            elif target not in ward.targets:
                ward.targets.append(target)
        if unjoined:
            log.warning("district-era map: %s records name no commune of today's gazetteer", unjoined)

        self.districts = list(districts.values())
        self.old_wards = list(wards.values())
        by_province_d: dict[str, list[OldDistrict]] = defaultdict(list)
        for d in self.districts:
            self.district_index[collapse(d.key)].append(d)
            by_province_d[d.province_code].append(d)
        self.districts_by_province = {p: Choices([d.key for d in ds], ds) for p, ds in by_province_d.items()}
        by_district: dict[int, list[OldWard]] = defaultdict(list)
        by_province_w: dict[str, list[OldWard]] = defaultdict(list)
        for old in self.old_wards:
            self.old_ward_index[collapse(old.key)].append(old)
            by_district[old.district.ident].append(old)
            by_province_w[old.district.province_code].append(old)
        self.old_wards_by_district = {i: Choices([o.key for o in os_], os_) for i, os_ in by_district.items()}
        self.old_wards_by_province = {p: Choices([o.key for o in os_], os_) for p, os_ in by_province_w.items()}

    @staticmethod
    def _join_target(
        rec: dict[str, Any],
        province_code: str,
        by_name: dict[tuple[str, str], list[WardEntry]],
        by_folded: dict[tuple[str, str], list[WardEntry]],
    ) -> str | None:
        """Today's commune code a map record points to: by exact name, else by its key, else folded if unique."""
        for raw in (rec["new_ward"], rec["new_ward_key"]):
            if raw:
                hits = by_name.get((province_code, accented_key(raw)))
                if hits and len(hits) == 1:
                    return hits[0].code
        for raw in (rec["new_ward"], rec["new_ward_key"]):
            if raw:
                hits = by_folded.get((province_code, fold_key(raw)))
                if hits and len(hits) == 1:
                    return hits[0].code
        return None

    @staticmethod
    def _old_ward(rec: dict[str, Any], district: OldDistrict, wards: dict[tuple[int, str], OldWard]) -> OldWard | None:
        """The district-era commune of a record, created on first sight; None for a district-only record."""
        name = str(rec["old_ward"])
        if name:
            kind, core = _split_kind(name, _WARD_PREFIX)
            key, acc = fold_key(core), accented_key(core)
        else:
            # A few records carry only an accented key ('xãtamđàn'): the kind is its prefix.
            raw_key = fold_key(str(rec["old_ward_key"]))
            if not raw_key:
                return None
            kind, key = None, raw_key
            for prefix, mark in _KEY_PREFIXES:
                if raw_key.startswith(prefix):
                    kind, key = mark, raw_key[len(prefix) :]
                    break
            acc = key
        if not key:
            return None
        ident = (district.ident, f"{kind}:{key}")
        ward = wards.get(ident)
        if ward is None:
            ward = OldWard(len(wards), name or key, kind or Mark.XA, key, acc, district)
            wards[ident] = ward
        return ward

    # -- look-ups --------------------------------------------------------------------------------

    def province(self, code: str) -> Place:
        """Today's province by official code ('79' or 79); KeyError if there is none."""
        entry = self.provinces[_norm_code(code, 2)]
        return Place(entry.code, entry.name)

    def commune(self, code: str) -> Place:
        """Today's commune by official code ('26743'); KeyError if there is none."""
        entry = self.wards[_norm_code(code, 5)]
        return Place(entry.code, entry.name)

    def commune_province(self, code: str) -> Place:
        """The province a commune belongs to."""
        return self.province(self.wards[_norm_code(code, 5)].province_code)


def _norm_code(code: str | int, width: int) -> str:
    """An official code as a zero-padded string; KeyError for anything that is not a number."""
    text = str(code).strip()
    if not text.isdigit():
        raise KeyError(code)
    return text.zfill(width)


@functools.cache
def get_gazetteer() -> Gazetteer:
    """The process-wide gazetteer, read from the packaged data on first use."""
    started = time.perf_counter()
    with open(vietnam_provinces.NESTED_DIVISIONS_JSON_PATH, encoding="utf-8") as fh:
        divisions = json.load(fh)
    with open(_underthesea_mapping_path(), encoding="utf-8") as fh:
        legacy = json.load(fh)
    gazetteer = Gazetteer(divisions, legacy)
    log.info(
        "gazetteer loaded: %s provinces, %s communes, %s district-era communes in %.0f ms",
        len(gazetteer.provinces),
        len(gazetteer.wards),
        len(gazetteer.old_wards),
        (time.perf_counter() - started) * 1000,
    )
    return gazetteer
