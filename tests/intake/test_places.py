"""Place resolution on the real gazetteer (vietnam-provinces) and the real district-era map (underthesea)."""

from __future__ import annotations

import json
import random
import unicodedata
from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from intake.places import (
    Place,
    PlaceMatch,
    commune,
    commune_province,
    fold,
    get_gazetteer,
    province,
    resolve_place,
)
from intake.places.text import STOPWORDS, Mark, fold_key, tokenize, unit_at


def _codes(match: PlaceMatch) -> tuple[str | None, str | None]:
    return (match.province.code if match.province else None, match.commune.code if match.commune else None)


# -- the gazetteer -----------------------------------------------------------------------------------


def test_gazetteer_holds_todays_units() -> None:
    """The 2025 structure: 34 provinces and 3,321 communes, wards and special zones."""
    gaz = get_gazetteer()
    assert len(gaz.provinces) == 34
    assert len(gaz.wards) == 3321
    assert {w.kind for w in gaz.wards.values()} == {Mark.PHUONG, Mark.XA, Mark.DAC_KHU}


def test_commune_names_repeat_across_the_country() -> None:
    """The name collisions the issue warns about (238, 241 once the source's doubled spaces are cleaned)."""
    names = Counter(w.name for w in get_gazetteer().wards.values())
    assert sum(1 for n in names.values() if n > 1) == 241
    assert all("  " not in name for name in names)


def test_gazetteer_is_built_once_per_process() -> None:
    """Repeated calls share one index: nothing is rebuilt per resolution."""
    assert get_gazetteer() is get_gazetteer()


def test_lookups_by_official_code() -> None:
    """Provinces by 2-digit code, communes by 5-digit code, and a commune's province."""
    assert province("79") == Place("79", "Thành phố Hồ Chí Minh")
    assert province("1") == Place("01", "Thành phố Hà Nội")
    assert commune("26743") == Place("26743", "Phường Bến Thành")
    assert commune_province("26743").code == "79"
    with pytest.raises(KeyError):
        commune("99999")
    with pytest.raises(KeyError):
        province("TW")


def test_every_district_era_commune_maps_to_a_commune_of_today() -> None:
    """The offline district-era map is joined to official codes without loss."""
    gaz = get_gazetteer()
    assert len(gaz.old_wards) > 9_900
    assert all(w.targets and all(t in gaz.wards for t in w.targets) for w in gaz.old_wards)
    assert len({d.old_province for d in gaz.districts}) == 63


def test_fold_removes_diacritics_and_keeps_case() -> None:
    """Folding is what every matcher compares: đ→d, tones and hats off, case kept."""
    assert fold("Đồng Nai") == "Dong Nai"
    assert fold("ĐẮK LẮK") == "DAK LAK"
    assert fold(unicodedata.normalize("NFD", "Thừa Thiên Huế")) == "Thua Thien Hue"


def test_stopwords_never_occur_in_unit_names() -> None:
    """A filler word that splits names must never be a syllable of a real name."""
    gaz = get_gazetteer()
    names = [w.name for w in gaz.wards.values()] + [w.name for w in gaz.old_wards] + [d.name for d in gaz.districts]
    syllables = {s for n in names for s in unicodedata.normalize("NFC", n.lower()).split()}
    assert not STOPWORDS & syllables


def test_tokenizer_reads_abbreviations() -> None:
    """P., X., Q.1, F12, TP. and TT are unit words; a unit word's next word is a name."""
    marks = [(t.text, t.mark) for t in tokenize("F12 Q.Gò Vấp TP.HCM, X. Bản Lầu")]
    assert marks[0] == ("f", Mark.PHUONG)
    assert ("q", Mark.QUAN) in marks
    assert ("tp", Mark.THANH_PHO) in marks
    assert ("ban", None) in marks


# -- the issue's examples ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "province_code", "commune_code"),
    [
        ("xa tan phu, dong nai", "75", "26116"),
        ("P. Bến Thành TP.HCM", "79", "26743"),
        ("tại xã Mô Rai tỉnh Quảng Ngãi", "51", "23536"),
        ("Phường Bến Thành, Thành phố Hồ Chí Minh", "79", "26743"),
        ("phuong ben thanh tphcm", "79", "26743"),
        ("P.Bến Thành, Sài Gòn", "79", "26743"),
        ("Xuân Phương Hà Nội", "01", "00622"),
        ("đặc khu Côn Đảo", "79", "26732"),
    ],
)
def test_issue_examples_resolve(text: str, province_code: str, commune_code: str) -> None:
    """The examples of issue 4 name one commune of today, found with its province."""
    match = resolve_place(text)
    assert _codes(match) == (province_code, commune_code)
    assert match.found and match.complete and not match.ambiguous


def test_old_district_era_address_is_converted() -> None:
    """'phuong 12 go vap' is a district-era address: converted to today's ward, as underthesea's map says."""
    from underthesea.address import convert_address

    expected = convert_address("Phường 12, Quận Gò Vấp, Thành phố Hồ Chí Minh").new.ward
    match = resolve_place("phuong 12 go vap")
    assert match.legacy
    assert match.province is not None and match.province.code == "79"
    assert match.commune is not None and match.commune.name == expected


def test_repeated_name_without_province_is_ambiguous() -> None:
    """'Tân Phú' names communes in several provinces: no guess, the candidates instead."""
    match = resolve_place("Tân Phú")
    assert match.commune is None and match.province is None
    assert match.ambiguous and not match.complete
    assert len(match.candidates) >= 2
    assert all(c.commune is not None and "Tân Phú" in c.commune.name for c in match.candidates)
    assert len({c.province.code for c in match.candidates if c.province}) == len(match.candidates)


def test_province_code_narrows_the_search() -> None:
    """With the province already known, a bare repeated name settles; outside it, nothing matches."""
    assert _codes(resolve_place("Tân Phú", province_code="75")) == ("75", "26116")
    assert resolve_place("Bến Thành", province_code="01").commune is None
    with pytest.raises(ValueError):
        resolve_place("Tân Phú", province_code="00")


# -- noise ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "xã Tân Phú, tỉnh Đồng Nai",
        "XA TAN PHU - DONG NAI",
        "x.tan phu dong nai",
        "X Tân Phú, T. Đồng Nai",
        "xa tan phuu, dong nai",  # a doubled letter
        "xa tan phu, dong nia",  # swapped letters in the province
        "tan phu, dongnai",  # no space
        "ở xã Tân Phú, Đồng Nai",
    ],
)
def test_noisy_spellings_of_one_commune(text: str) -> None:
    """Case, diacritics, abbreviations, typos and filler words do not change the answer."""
    assert _codes(resolve_place(text)) == ("75", "26116")


@pytest.mark.parametrize(
    ("text", "province_code"),
    [("HN", "01"), ("Hà Nội", "01"), ("TP HCM", "79"), ("tp.hcm", "79"), ("Thừa Thiên Huế", "46"), ("Đắk Lắk", "66")],
)
def test_province_alone(text: str, province_code: str) -> None:
    """A province name or nickname alone gives the province and leaves the commune open."""
    match = resolve_place(text)
    assert match.province is not None and match.province.code == province_code
    assert match.commune is None and match.found and not match.complete


def test_typo_in_commune_name_within_named_province() -> None:
    """A mistyped commune name is found among the communes of the province named."""
    assert _codes(resolve_place("p ben thnah, tp hcm")) == ("79", "26743")
    assert _codes(resolve_place("xa mo ria, quang ngai")) == ("51", "23536")


def test_longer_name_wins_over_its_prefix() -> None:
    """'Hàm Thuận Nam' is not 'Hàm Thuận' followed by a stray word."""
    match = resolve_place("Hàm Thuận Nam, Lâm Đồng")
    assert match.commune is not None and match.commune.name == "Xã Hàm Thuận Nam"


def test_diacritics_tell_apart_names_that_fold_alike() -> None:
    """'Thạnh An' and 'Thanh An' are both communes of Ho Chi Minh City; typed diacritics decide."""
    assert resolve_place("Xã Thạnh An, TP HCM").commune == commune("27676")
    unaccented = resolve_place("xa thanh an tp hcm")
    assert unaccented.commune is None and unaccented.ambiguous


def test_old_province_name_is_converted() -> None:
    """A commune written with its district-era province (Kon Tum, now Quảng Ngãi) is found, flagged legacy."""
    match = resolve_place("xã Mô Rai, Kon Tum")
    assert _codes(match) == ("51", "23536")
    assert match.legacy


def test_old_district_alone_offers_its_communes() -> None:
    """A district-era district with no commune gives the province and the communes it became."""
    match = resolve_place("huyện Tân Phú, Đồng Nai")
    assert match.province is not None and match.province.code == "75"
    assert match.commune is None and match.legacy
    assert match.candidates and all(c.province and c.province.code == "75" for c in match.candidates)


def test_split_old_commune_offers_the_other_parts() -> None:
    """A district-era commune split in two resolves to the default part and offers the others."""
    gaz = get_gazetteer()
    split = next(w for w in gaz.old_wards if len(w.targets) == 2 and w.name.startswith("Xã "))
    old_province = gaz.old_province_names[split.district.old_province]
    match = resolve_place(f"{split.name}, {split.district.name}, {old_province}")
    assert match.commune is not None and match.commune.code == split.targets[0]
    assert split.targets[1] in {c.commune.code for c in match.candidates if c.commune}


def test_district_era_addresses_agree_with_underthesea_converter() -> None:
    """On 150 clean district-era addresses, the resolver and underthesea's own converter agree."""
    from underthesea.address import ConversionStatus, convert_address

    gaz = get_gazetteer()
    rng = random.Random(4)
    sample = rng.sample([w for w in gaz.old_wards if len(w.targets) == 1 and w.name[:1].isupper()], 400)
    checked = agree = 0
    for ward in sample:
        address = f"{ward.name}, {ward.district.name}, {gaz.old_province_names[ward.district.old_province]}"
        oracle = convert_address(address)
        if oracle.status != ConversionStatus.SUCCESS:
            continue
        checked += 1
        match = resolve_place(address)
        # The two sources spell a few names differently ('Hòa'/'Hoà'): compare folded names.
        agree += match.commune is not None and fold_key(match.commune.name) == fold_key(oracle.new.ward)
        if checked == 150:
            break
    assert checked == 150
    assert agree >= 148


# -- bad input -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    ["", "   ", "x" * 10_000, "1600 Amphitheatre Parkway, Mountain View, CA 94043", "0123456789", "北京市朝阳区", "\x00\x01\x02"],
)
def test_bad_input_is_a_clear_not_found(text: str) -> None:
    """Empty, huge, foreign, digits-only or control characters: not found, no crash."""
    match = resolve_place(text)
    assert not match.found and match.score == 0 and match.candidates == []


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=300))
def test_any_text_gives_a_serializable_answer(text: str) -> None:
    """Whatever a resident sends, the answer is a PlaceMatch whose JSON has the CLI shape."""
    data = resolve_place(text).to_json()
    assert set(data) == {"province", "commune", "score", "candidates", "legacy"}
    assert 0 <= data["score"] <= 100
    json.dumps(data)


def test_json_shape_of_a_match() -> None:
    """to_json gives exactly the fields `phananh locate --json` documents."""
    data = resolve_place("P. Bến Thành TP.HCM").to_json()
    assert data["province"] == {"code": "79", "name": "Thành phố Hồ Chí Minh"}
    assert data["commune"] == {"code": "26743", "name": "Phường Bến Thành"}
    assert data["legacy"] is False and data["score"] == 100
    assert all(set(c) == {"province", "commune", "score"} for c in data["candidates"])


@pytest.mark.parametrize(
    ("words", "mark", "width"),
    [
        ([("p", "p"), (".", "."), ("tan", "tân")], Mark.PHUONG, 1),
        ([("thi", "thị"), ("tran", "trấn"), ("phong", "phong")], Mark.THI_TRAN, 2),
        ([("thon", "thôn"), ("2", "2")], Mark.HAMLET, 1),
        ([("phuong", "phương"), ("lan", "lan")], None, 0),  # a name: 'Phương' with its own diacritics
    ],
)
def test_unit_words_are_recognised_in_words_read_elsewhere(
    words: list[tuple[str, str]], mark: Mark | None, width: int
) -> None:
    """unit_at tells where a place starts in words a caller tokenized itself (the story reader does)."""
    found, n, _ = unit_at(words, 0)
    assert (found, n) == (mark, width)
