"""Reads what a resident's story already says, so the conversation asks only for what is missing.

    facts = read_story(text)          # pure: no database, no network, no model; never raises
    facts.name       Found("Trần Văn B", start, end)
    facts.position   FoundPosition("cán bộ địa chính", start, end, position_id="commune_civil_servant")
    facts.agency     Found("xã Tân Phú", start, end)
    facts.place      FoundPlace("xã Tân Phú, tỉnh Đồng Nai", start, end, province_code="75",
                                province_name="Đồng Nai", commune_code="26116", commune_name="Xã Tân Phú")
    facts.setting    Found("workplace" | "residence", start, end)     (the values of models.Setting)
    facts.occurred   Found("tháng 10", start, end)

Every field is None when the story does not say it, or not clearly: a wrong pre-fill is worse than a
question. `value` is what goes into the draft (Draft.accused_name, accused_position, accused_agency,
place_text with province_code/province_name/commune_code/commune_name, setting, occurred): the
resident's own words, shorthand written out ('ct xã' -> 'chủ tịch xã', 'hum wa' -> 'hôm qua').
`start` and `end` are offsets in the text given: text[start:end] is where the resident wrote it, for
the conversation to show. A place is given only when the gazetteer settles it without a choice: a
commune (commune_code set), or a province alone when the story names no commune it can settle
(commune_code None). `legacy` tells a district-era address converted to today's units. Only the first
MAX_CHARS characters are read.

How it reads (rules, the gazetteer, the routing's positions; no model): the positions the routing
rules know (RoutingRules.find_positions, abbreviations included), agencies by their head words,
places by unit words and province names (story_units), names after an honorific, after "tên là"
or next to a post, times and settings by phrase (story_words). The resident, their relatives and the
victims, a relative of the accused, and whoever a complaint went to are set aside; a fact is the
accused's when it is tied to the accused's name, or is the only candidate left.
"""

from __future__ import annotations

import bisect
import logging
import re
import traceback
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from intake.dialog import story_words as vocab
from intake.dialog.story_text import MAX_CHARS, Story
from intake.dialog.story_units import Agency, Chain, Element, Units
from intake.places import Place, resolve_place
from intake.places.text import SUBUNIT_MARKS, WARD_MARKS, fold
from intake.routing import PositionMention, RoutingRules, default_rules

log = logging.getLogger(__name__)

__all__ = ["MAX_CHARS", "Found", "FoundPlace", "FoundPosition", "StoryFacts", "read_story"]

# A place read from the text must score this high in the resolver (0-100) to be pre-filled.
MIN_PLACE_SCORE = 80.0
# A name and a post further apart than this many words are never read as one person's.
LINK_REACH = 16
# Another commune's reading within this many points makes the commune a choice for the resident.
PLACE_MARGIN = 10.0


@dataclass(frozen=True)
class Found:
    """A fact read from the story: the value for the draft, and where it stands (text[start:end])."""

    value: str
    start: int
    end: int


@dataclass(frozen=True)
class FoundPosition(Found):
    """The accused's position as written, and the routing position it names when the rules know it."""

    position_id: str | None = None


@dataclass(frozen=True)
class FoundPlace(Found):
    """Where it happened, settled by the gazetteer: today's province, and the commune when named."""

    province_code: str = ""
    province_name: str = ""
    commune_code: str | None = None
    commune_name: str | None = None
    legacy: bool = False  # a district-era address, converted to today's units


@dataclass(frozen=True)
class StoryFacts:
    """What a story says about the report; every field None when not said, or not clearly."""

    name: Found | None = None
    position: FoundPosition | None = None
    agency: Found | None = None
    place: FoundPlace | None = None
    setting: Found | None = None
    occurred: Found | None = None

    def found(self) -> dict[str, Found]:
        """The fields that were found, by name, in the draft's order."""
        fields = ("name", "position", "agency", "place", "setting", "occurred")
        return {f: v for f in fields if (v := getattr(self, f)) is not None}


NOTHING = StoryFacts()


def read_story(text: str, *, rules: RoutingRules | None = None) -> StoryFacts:
    """Finds the accused's name, position and agency, the place, the setting and the time a story states."""
    if not isinstance(text, str) or not text.strip():
        return NOTHING
    try:
        return _read(text, rules or default_rules())
    except Exception as err:  # a story must never stop a report: read nothing rather than fail
        # the error's type and place only: its message could quote the story, which is never logged
        where = traceback.extract_tb(err.__traceback__)[-1]
        log.error(
            "story reader failed (%s at %s:%s) on a text of %s characters",
            type(err).__name__, Path(where.filename).name, where.lineno, len(text),
        )
        return NOTHING


def _read(text: str, rules: RoutingRules) -> StoryFacts:
    """read_story without its guard, so tests see any error."""
    return _Reader(Story(text), rules).read()


@dataclass
class _Mention:
    """A candidate fact: words first..last, its value, and why it is not the accused's ('' if it may be)."""

    first: int
    last: int
    value: str
    excluded: str = ""
    lead: int = -1  # names: the first word of the lead-in ('ông', 'tên là')
    anaphoric: bool = False  # names: given for someone already spoken of ('anh ấy tên Hưng')
    marked: bool = False  # posts: said of a person ('ông chủ tịch', 'bị chủ tịch')
    former: bool = False  # posts: no longer held ('nguyên chủ tịch xã')
    position: PositionMention | None = None  # posts: the routing's reading
    end: int = -1  # posts: the last word the routing's match covers (value may stop earlier)


class _Reader:
    """One reading of one story."""

    def __init__(self, story: Story, rules: RoutingRules) -> None:
        self.s = story
        self.words = story.words
        self.rules = rules
        self.units = Units(story)
        self._post_starts: set[int] = set()
        self._ends = [w.end for w in story.words]

    def _post_at(self, i: int) -> bool:
        return i in self._post_starts

    def read(self) -> StoryFacts:
        if not self.words:
            return NOTHING
        chains = self.units.chains()
        agencies = self.units.agencies()
        posts = self._posts(agencies)
        self._post_starts = {p.first for p in posts}
        names = self._names(posts, agencies, chains)
        name, post = self._accused(names, posts)
        agency = self._agency(agencies, posts, post, name)
        return StoryFacts(
            name=self._found(name),
            position=self._found_position(post),
            agency=self._found(agency),
            place=self._place(chains, post),
            setting=self._setting(agencies),
            occurred=self._occurred(),
        )

    # -- output -------------------------------------------------------------------------------------

    def _found(self, m: _Mention | None) -> Found | None:
        if m is None:
            return None
        start, end = self.s.span(self.words[m.first].start, self.words[m.last].end)
        return Found(m.value, start, end)

    def _found_position(self, m: _Mention | None) -> FoundPosition | None:
        found = self._found(m)
        if m is None or found is None:
            return None
        position = m.position.position if m.position is not None else None
        return FoundPosition(found.value, found.start, found.end, position.id if position else None)

    def _text(self, first: int, last: int) -> str:
        """The story's own words first..last, spaces collapsed."""
        return " ".join(self.s.text[self.words[first].start : self.words[last].end].split())

    def _mention(self, item: Agency | Chain | Element) -> _Mention:
        return _Mention(item.first, item.last, self._text(item.first, item.last))

    # -- posts ----------------------------------------------------------------------------------------

    def _posts(self, agencies: list[Agency]) -> list[_Mention]:
        """The positions the routing knows, as written, with what they are said of."""
        s, words, units = self.s, self.words, self.units
        starts = {w.start: w.index for w in words}
        ends = {w.end: w.index for w in words}
        out: list[_Mention] = []
        for mention in self.rules.find_positions(s.text):
            first, last = starts.get(mention.start), ends.get(mention.end)
            if first is None or last is None:
                continue
            if first > 0 and s.is_word(words[first - 1], "phó") and s.joined(words[first - 1], words[first]):
                first -= 1  # 'phó công an xã' reads as the post 'công an xã' and its deputy
            nxt = last + 1
            after = nxt < len(words) and s.joined(words[last], words[nxt])
            inner = next((a for a in agencies if first < a.first <= last < a.last), None)
            if not mention.complete:
                if any(a.first < first <= a.last for a in agencies):
                    continue  # 'y tế' inside 'trung tâm y tế'
                follows = after and (units.level_word(nxt) or units.unit(nxt)[0] is not None
                                     or any(a.first == nxt for a in agencies))
                if not (follows or inner or mention.words[-1] in ("xa", "tinh", "huyen")):
                    continue
            value_last = last
            if after and units.level_word(nxt) and units.element(nxt) is None:
                value_last = nxt + units.level_word(nxt) - 1  # 'chủ tịch xã' with no name after 'xã'
            if inner is not None and inner.kind in vocab.TRIMMING_KINDS:
                value_last = inner.first - 1  # 'chủ tịch' of 'UBND xã Tân Phú'
            elif inner is not None and not mention.complete:
                # a rank holds its agency ('phó trưởng phòng Tài chính', 'trưởng ban quản lý chợ');
                # a post does not ('giám đốc' of 'trung tâm y tế huyện')
                ranks = all(w.flat in vocab.RANKS for w in words[first : inner.first])
                value_last = inner.last if ranks else inner.first - 1
            value_last = self._specialty(value_last)
            value = self._post_value(first, value_last)
            m = _Mention(first, value_last, value, position=mention, end=max(last, value_last))
            before = s.before(words[first])
            if vocab.SELF_BEFORE.search(before):
                m.excluded = "self"
            elif vocab.KIN_BEFORE.search(before):
                m.excluded = "kin"
            elif vocab.ADDRESSEE_BEFORE.search(before):
                m.excluded = "addressee"
            m.marked = bool(vocab.PERSON_POST_BEFORE.search(before))
            m.former = bool(vocab.FORMER_BEFORE.search(before))
            out.append(m)
        return out

    def _specialty(self, last: int) -> int:
        """A post's specialty after a dash ('cán bộ địa chính – xây dựng'): the last word it reaches."""
        s, words = self.s, self.words
        k = last + 1
        while k < len(words) and re.fullmatch(r"\s*[–\-]\s*", s.gap(words[k - 1], words[k])):
            n = s.phrase_at(k, vocab.FIELDS)
            if not n or any(not s.joined(words[j], words[j + 1]) for j in range(k, k + n - 1)):
                break
            last = k + n - 1
            k = last + 1
        return last

    def _post_value(self, first: int, last: int) -> str:
        """A post as the draft holds it: the resident's words, short forms written out ('ct xã' -> 'chủ tịch xã')."""
        parts: list[str] = []
        for w in self.words[first : last + 1]:
            typed = self.s.text[w.start : w.end]
            spelled = self.rules.spelled.get(w.flat)
            if not spelled or not w.plain or typed != w.low:
                parts.append(typed)  # a word, or shorthand already in capitals ('PCT', 'CSGT')
            elif len(typed) >= 4:
                parts.append(typed.upper())  # an acronym keeps its capitals: 'ubnd' -> 'UBND'
            elif fold(spelled).lower() in ("tinh", "thanh pho"):
                parts.append(typed)  # 'tp' stands for either: left as written
            else:
                parts.append(spelled)  # 'ct' -> 'chủ tịch'
        text = " ".join(parts) if self._plain_gaps(first, last) else self._text(first, last)
        return text[0].lower() + text[1:] if text[:1].isupper() and not text[1:2].isupper() else text

    def _plain_gaps(self, first: int, last: int) -> bool:
        return all(self.s.joined(self.words[k], self.words[k + 1]) for k in range(first, last))

    # -- names ----------------------------------------------------------------------------------------

    def _names(self, posts: list[_Mention], agencies: list[Agency], chains: list[Chain]) -> list[_Mention]:
        """People named: after an honorific, 'tên là', or a post; each with what the words around say of them."""
        taken: set[int] = set()
        for a in agencies:
            taken.update(range(a.first, a.last + 1))
        for c in chains:
            taken.update(range(c.first, c.last + 1))
        for p in posts:
            taken.update(range(p.first, p.end + 1))
        post_starts = {p.first for p in posts}
        out: list[_Mention] = []
        i = 0
        while i < len(self.words):
            found = self._name_at(i, taken, post_starts)
            if found is None:
                i += 1
                continue
            lead, first, last = found
            m = _Mention(first, last, self._name_value(first, last), lead=lead)
            self._name_context(m)
            out.append(m)
            i = last + 1
        return out

    def _name_at(self, i: int, taken: set[int], post_starts: set[int]) -> tuple[int, int, int] | None:
        """(first word of the lead-in, first and last word of the name) for a name starting at word i."""
        s, words = self.s, self.words
        if i in taken:
            return None
        w = words[i]
        j: int | None = None
        after_ten = False
        n = s.phrase_at(i, vocab.HONORIFICS) or s.phrase_at(i, vocab.YOUNG) or self._teen_honorific(i)
        if n:
            j = i + n
        elif s.is_word(w, "tên"):
            j = i + 1
            after_ten = True
            if j < len(words) and s.is_word(words[j], "là"):
                j += 1
        if j is not None:
            if j >= len(words) or j in taken or not s.joined(words[j - 1], words[j]):
                return None
            if i > 0 and s.phrase_at(i - 1, vocab.PLURAL) and s.joined(words[i - 1], w):
                return None  # 'mấy ông quan tham': no one in particular
            n = self._cap_run(j, taken, post_starts)
            if n:
                return i, j, j + n - 1
            if words[j].cap:
                return None
            if words[j].flat in vocab.SURNAMES:
                n = self._plain_name(j, taken)
                if s.marked and n < 3:
                    n = 0  # typed with diacritics elsewhere, a lower-case name comes whole ('ông nguyễn văn a')
            if not n and after_ten and not s.marked and s.is_word(words[j - 1], "là"):
                given = words[j]  # 'ten la tam': one word, when something clearly ends it
                n = int(given.low.isalpha() and given.flat not in vocab.FUNCTION_WORDS and self.units.ends_name(j + 1))
            return (i, j, j + n - 1) if n else None
        # no lead-in: a capitalised full name ('Trưởng thôn Phan Văn Kha'), or 'là tran van phuc'
        if w.flat not in vocab.SURNAMES:
            return None
        if w.cap:
            prev = words[i - 1] if i > 0 else None
            if prev is not None and s.joined(prev, w) and (prev.cap or s.phrase_at(i - 1, vocab.NAMED_AFTER)):
                return None  # inside a longer capitalised name, or a street, school, temple named after someone
            n = self._cap_run(i, taken, post_starts)
            return (i, i, i + n - 1) if n >= 2 else None
        if not s.marked and i > 0 and s.is_word(words[i - 1], "là"):
            n = self._plain_name(i, taken)
            return (i, i, i + n - 1) if n else None
        return None

    def _teen_honorific(self, i: int) -> int:
        """'a Tuấn', 'c Hoa': anh and chị in chat shorthand, before a capitalised name only."""
        w = self.words[i]
        nxt = self.words[i + 1] if i + 1 < len(self.words) else None
        return 1 if w.low in ("a", "c") and nxt is not None and nxt.cap and not nxt.upper else 0

    def _cap_run(self, i: int, taken: set[int], post_starts: set[int]) -> int:
        """Capitalised name words from word i ('Trần Văn B', 'Th.', 'Ng Thị Hà'), stopping at posts and units."""
        s, words = self.s, self.words
        n = 0
        while i + n < len(words) and n < 5:
            k = i + n
            w = words[k]
            if k in taken or k in post_starts or not w.cap or w.low.isdigit() or (w.upper and len(w.low) > 2):
                break
            if n > 0:
                gap = s.gap(words[k - 1], w)
                if not re.fullmatch(r"\.?\s+", gap):
                    break
                if "." in gap and (len(words[k - 1].low) > 2 or len(w.low) > 2):
                    break  # 'Trần Văn B. Ông ấy...': a new sentence
            if self.units.unit(k)[0] is not None or self.units.head_word(k):
                break
            n += 1
        return n

    def _plain_name(self, i: int, taken: set[int]) -> int:
        """A name typed in lower case: surname, middle and given name ('tran van phuc'); 0 when unsure."""
        words = self.words

        def ends(k: int) -> bool:
            return k in taken or self.units.ends_name(k)

        def namelike(k: int) -> bool:
            return (k < len(words) and k not in taken and words[k].low.isalpha()
                    and words[k].flat not in vocab.FUNCTION_WORDS and self.s.joined(words[k - 1], words[k]))

        if not namelike(i + 1):
            return 0
        if words[i + 1].flat in vocab.MIDDLE_NAMES:
            if not namelike(i + 2):
                return 0
            if ends(i + 3):
                return 3
            if words[i + 2].flat in vocab.MIDDLE_NAMES and namelike(i + 3) and ends(i + 4):
                return 4
            return 0
        return 2 if ends(i + 2) else 0

    def _name_value(self, first: int, last: int) -> str:
        """A name as the draft holds it: as written (an initial keeps its dot), capitalised if typed in lower case."""
        end = self.words[last].end
        if len(self.words[last].low) <= 2 and self.s.text[end : end + 1] == ".":
            end += 1
        text = " ".join(self.s.text[self.words[first].start : end].split())
        if text.islower():
            text = " ".join(p[:1].upper() + p[1:] for p in text.split())
        return text

    def _name_context(self, m: _Mention) -> None:
        """Marks a name that is the resident's, a relative's or victim's, or the addressee's; or given anew."""
        s, words = self.s, self.words
        before = s.before(words[m.first])
        after = s.after(words[m.last].end)
        if fold(m.value).lower() in vocab.FAMOUS:
            m.excluded = "famous"
        elif vocab.SELF_BEFORE.search(before):
            m.excluded = "self"
        elif s.phrase_at(m.lead, vocab.YOUNG) and m.lead < m.first:
            m.excluded = "kin"  # 'cháu Minh', 'em Lan': a child the resident speaks for
        elif vocab.KIN_BEFORE.search(before) or vocab.RELATIVE_AFTER.search(after) or vocab.AGE_AFTER.search(after):
            m.excluded = "kin"
        elif vocab.ADDRESSEE_BEFORE.search(before):
            m.excluded = "addressee"
        elif self._suffered(m):
            m.excluded = "victim"
        m.anaphoric = bool(vocab.ANAPHORA_BEFORE.search(before))

    def _suffered(self, m: _Mention) -> bool:
        """Whether the name is of someone things were done to: 'A, hàng xóm nhà tôi, bị công an phường đánh'.

        'bị' followed by who did it (an honorific, a post, an agency); 'A bị kỷ luật' stays the accused.
        """
        s, words = self.s, self.words
        for k in range(m.last + 1, min(m.last + 12, len(words))):
            if s.is_word(words[k], "bị") and vocab.VICTIM_AFTER.search(s.low[words[m.last].end : words[k].end]):
                nxt = k + 1
                return nxt < len(words) and bool(
                    s.phrase_at(nxt, vocab.HONORIFICS) or self.units.agency(nxt) or self._post_at(nxt)
                )
        return False

    # -- whose facts ----------------------------------------------------------------------------------

    def _linked(self, name: _Mention, post: _Mention) -> bool:
        """Whether a post is said of a name: next to it, joined by 'là', a comma or a bracket."""
        s, words = self.s, self.words
        if max(post.first - name.last, name.first - post.end) > LINK_REACH:
            return False
        if post.first > name.last:
            return bool(vocab.NAME_THEN_POST.search(s.low[words[name.last].end : words[post.first].start]))
        if post.end < name.first:
            # the post's unit may stand between: 'Chủ tịch UBND xã Mường Phăng là ông A', 'Trưởng thôn 2 là ông A'
            j = post.end + 1
            for k in range(post.first, post.end + 1):
                item = self.units.agency(k) or self.units.element(k)
                if item is not None and item.last >= j:
                    j = item.last + 1
                hamlet = self.units.hamlet(k)
                if hamlet and k + hamlet > j:
                    j = k + hamlet
            while j < name.first:
                item = self.units.element(j) or self.units.agency(j)
                if item is None:
                    break
                j = item.last + 1
            gap = s.low[words[j - 1].end : words[name.lead if name.lead >= j else name.first].start]
            return bool(vocab.POST_THEN_NAME.search(gap))
        return False

    def _accused(self, names: list[_Mention], posts: list[_Mention]) -> tuple[_Mention | None, _Mention | None]:
        """The accused's name and post: tied to each other, or the one candidate left once others are set aside."""
        s = self.s
        for n in names:
            for p in posts:
                if not self._linked(n, p):
                    continue
                if p.excluded and not n.excluded:
                    n.excluded = "post:" + p.excluded  # the resident's own post, or an addressee's
                elif n.excluded and not p.excluded:
                    p.excluded = "name:" + n.excluded
                if p.first < n.first and vocab.RELATIVE_BEFORE.search(s.before(self.words[p.first])):
                    n.excluded = "relative"  # 'vợ ông chủ tịch xã là bà A': A is not the chairman
        candidates = [n for n in names if not n.excluded]
        free = [p for p in posts if not p.excluded and not p.former]
        pairs = [(n, p) for n in candidates for p in posts if not p.excluded and self._linked(n, p)]
        pairs += [(n, q) for n, p in pairs for q in self._chained(p, posts)]
        pairs = [(n, p) for n, p in pairs if p in free]
        if len({_key(n.value) for n, _ in pairs}) == 1:
            name = pairs[0][0]
            posts_of = [p for _, p in pairs]
            # of one person's posts, the one with its unit named says most ('đảng viên, giáo viên trường X')
            return name, next((p for p in posts_of if self._has_unit(p)), posts_of[0])
        if pairs:
            return None, _one(p for _, p in pairs)
        if len({_key(n.value) for n in candidates}) == 1:
            name = candidates[0]
            # a post not tied to the name may be someone else's ('ông A chỉ đạo kế toán xã...'),
            # unless the name was given for someone already spoken of ('cán bộ địa chính..., anh ấy tên Hưng')
            return name, self._one_post(free) if name.anaphoric else None
        return None, self._one_post(free)

    def _chained(self, post: _Mention, posts: list[_Mention]) -> list[_Mention]:
        """Posts following this one as the same person's ('nguyên chủ tịch xã, nay là bí thư...')."""
        s, words = self.s, self.words
        out: list[_Mention] = []
        end = self._unit_end(post)
        for q in posts:
            if q.first > end and vocab.POST_THEN_POST.search(s.low[words[end].end : words[q.first].start]):
                out.append(q)
                end = self._unit_end(q)
        return out

    def _unit_end(self, post: _Mention) -> int:
        """The last word of a post with the unit written after it ('chủ tịch xã Tân Phú')."""
        end = post.end
        for k in range(post.first, post.end + 2):
            item = self.units.agency(k) or self.units.element(k)
            if item is not None and k <= end + 1:
                end = max(end, item.last)
        return end

    def _has_unit(self, post: _Mention) -> bool:
        return self._unit_end(post) > post.end

    def _one_post(self, posts: list[_Mention]) -> _Mention | None:
        """The one post the story speaks of; among several, the one said of a person ('thầy hiệu trưởng')."""
        post = _one(posts)
        if post is None and posts:
            post = _one(p for p in posts if p.marked)
        return post

    def _agency(self, agencies: list[Agency], posts: list[_Mention], post: _Mention | None,
                name: _Mention | None) -> _Mention | None:
        """The accused's agency: the one their post or name is tied to, else the one agency the story names."""
        s, units, words = self.s, self.units, self.words
        if post is not None:
            for a in agencies:
                if post.first <= a.first <= post.end + 1 and not a.excluded:
                    return self._mention(a)
            for k in range(post.first + 1, min(post.end + 2, len(words))):
                e = units.element(k)
                if e is not None and e.mark is not None and e.mark not in SUBUNIT_MARKS:
                    return self._mention(e)  # 'cán bộ địa chính xã Tân Phú'
            for k in range(post.first + 1, min(post.end + 2, len(words))):
                n = units.hamlet(k)
                if n:
                    return _Mention(k, k + n - 1, self._text(k, k + n - 1))  # 'trưởng thôn 2'
        if name is not None:
            for a in agencies:
                if a.first > name.last and not a.excluded and vocab.NAME_THEN_AGENCY.search(
                    s.low[words[name.last].end : words[a.first].start]
                ):
                    return self._mention(a)  # 'bà Mai ở bộ phận một cửa'
        others = [p for p in posts if p is not post and p.excluded]
        free = [a for a in agencies if not a.excluded and not any(p.first <= a.first <= p.end + 1 for p in others)]
        return _one(self._mention(a) for a in free)

    # -- place ----------------------------------------------------------------------------------------

    def _place(self, chains: list[Chain], post: _Mention | None) -> FoundPlace | None:
        """Where it happened: the story's place names; the resident's home only when the accused is local to it."""
        # a hamlet alone ('trưởng ấp 3') says nothing of the commune
        chains = [c for c in chains if any(e.mark is None or e.mark not in SUBUNIT_MARKS for e in c.elements)]
        used = [c for c in chains if not c.home]
        if not used:
            used = [c for c in chains if c.home] if self._same_place(post) else []
        settled = [(c, r) for c in used if (r := self._resolve(c)) is not None]
        if not settled:
            return None
        provinces = {p.code for _, (p, _, _) in settled}
        communes = {c.code for _, (_, c, _) in settled if c is not None}
        if len(provinces) > 1 or len(communes) > 1:
            return None  # two places: which one is the accused's is for the resident to say
        chain, (province, commune, legacy) = next(
            ((c, r) for c, r in settled if r[1] is not None), settled[0]
        )
        start, end = self.s.span(self.words[chain.first].start, self.words[chain.last].end)
        return FoundPlace(
            self._text(chain.first, chain.last), start, end,
            province_code=province.code, province_name=province.name,
            commune_code=commune.code if commune else None, commune_name=commune.name if commune else None,
            legacy=legacy,
        )

    def _resolve(self, chain: Chain) -> tuple[Place, Place | None, bool] | None:
        """The province and commune a chain names, when the gazetteer settles them without a choice."""
        match = resolve_place(self._text(chain.first, chain.last))
        if match.province is None:
            return None
        if match.commune is None or match.ambiguous or not any(e.mark in WARD_MARKS for e in chain.elements):
            # a province, or a district-era district or city of one ('TP Vũng Tàu' is several wards today)
            return match.province, None, match.legacy
        close = {
            c.commune.code
            for c in match.candidates
            if c.commune is not None and c.commune.code != match.commune.code and c.score >= match.score - PLACE_MARGIN
        }
        if close and not (chain.states_province and self.s.marked):
            # without the province, or without diacritics ('tan thanh' is Tân Thành and Tân Thạnh),
            # another commune comes close
            return (match.province, None, match.legacy) if chain.states_province else None
        if match.score < MIN_PLACE_SCORE:
            return None
        return match.province, match.commune, match.legacy

    def _same_place(self, post: _Mention | None) -> bool:
        """Whether the resident's home is the place: a neighbour, 'xã tôi', or a post of their own hamlet or commune."""
        if vocab.SAME_PLACE.search(self.s.low):
            return True
        if post is None or post.position is None:
            return False
        local = {"xa", "thon", "ap", "ban", "xom", "khom", "khu", "to"}
        after = self.units.element(post.end + 1)
        return bool(local & set(post.position.words)) and (after is None or after.mark in SUBUNIT_MARKS)

    # -- setting and time -----------------------------------------------------------------------------

    def _setting(self, agencies: list[Agency]) -> Found | None:
        """Workplace or residence, only when the story says so and says nothing of the other."""
        s = self.s
        low = s.low
        work = [
            m.span()
            for m in vocab.WORKPLACE_CUES.finditer(low)
            if not (vocab.SENT_BEFORE.search(low[max(0, m.start() - 40) : m.start()])
                    or vocab.JOB_BEFORE.search(low[max(0, m.start() - 40) : m.start()])
                    or self._after_a_name(m.start()))
        ]
        for a in agencies:
            start = self.words[a.first].start
            at = vocab.AT_AGENCY_BEFORE.search(low[max(0, start - 40) : start])
            if a.kind in ("org", "unit", "office", "school") and not a.excluded and at is not None \
                    and not vocab.SENT_BEFORE.search(low[max(0, start - 40) : start][: at.start()]):
                work.append((start, self.words[a.last].end))
        home = [m.span() for m in vocab.RESIDENCE_CUES.finditer(low)]
        if home and not work and not vocab.OFFICE_WORK.search(low):
            return Found("residence", *s.span(*home[0]))
        if work and not home:
            return Found("workplace", *s.span(*min(work)))
        return None

    def _after_a_name(self, offset: int) -> bool:
        """Whether a name stands right before an offset: 'Chị A ở bộ phận một cửa' says where she works."""
        k = bisect.bisect_right(self._ends, offset) - 1
        if k < 0:
            return False
        before = self.words[k]
        return before.cap and self.s.sentence_starts[k] != before.start

    def _occurred(self) -> Found | None:
        """When it happened, as written: one time expression, or none if the story gives several."""
        s = self.s
        low = s.low
        found: list[tuple[int, int, str]] = []
        for m in vocab.TIME.finditer(low):
            start, end = m.span("value")
            if vocab.NOT_TIME_AFTER.search(low[end : end + 12]) or vocab.NOT_TIME_BEFORE.search(low[:start][-12:]):
                continue  # an age, a birth year
            found.append((start, end, " ".join(s.text[start:end].split())))
        if len({_key(v) for _, _, v in found}) != 1:
            return None
        start, end, value = found[0]
        value = " ".join(vocab.TIME_WORDS.get(p.lower(), p) for p in value.split())
        if value[:1].isupper() and not value[1:2].isupper():
            value = value[0].lower() + value[1:]
        return Found(value, *s.span(start, end))


def _key(text: str) -> str:
    return fold(text).lower()


def _one(items: Iterable[_Mention]) -> _Mention | None:
    """The mention when all candidates say the same thing (ignoring case and diacritics), else None."""
    items = list(items)
    if not items:
        return None
    return items[0] if len({_key(m.value) for m in items}) == 1 else None
