"""What the conversation consults besides the resident: the classifier, the gazetteer, the routing rules."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from intake.classify import Suggestion
    from intake.dialog.story import StoryFacts
    from intake.places import PlaceMatch
    from intake.routing import RouteDecision


def _suggest(text: str) -> Suggestion:
    from intake.classify import get_classifier

    return get_classifier().suggest(text)


def _read_story(text: str) -> StoryFacts:
    from intake.dialog.story import read_story

    return read_story(text)


def _locate(text: str, province_code: str | None) -> PlaceMatch:
    from intake.places import resolve_place

    return resolve_place(text, province_code=province_code)


def _route(**kwargs: Any) -> RouteDecision:
    from intake.routing import route

    return route(**kwargs)


@dataclass(frozen=True)
class Tools:
    """Pure helpers the engine calls; tests may pass their own."""

    suggest: Callable[[str], Suggestion] = _suggest
    read_story: Callable[[str], StoryFacts] = _read_story
    locate: Callable[[str, str | None], PlaceMatch] = _locate
    route: Callable[..., RouteDecision] = _route
    threshold: float = 0.35

    def warm(self) -> None:
        """Loads what the tools need (classifier, word segmenter, gazetteer, routing rules, story reader) now, not
        at a resident's first message; the classifier is trained first if its artifact is missing."""
        self.suggest("Chủ tịch xã nhận tiền của dân")
        self.locate("phường Bến Thành, TP Hồ Chí Minh", None)
        self.read_story("Ông Trần Văn B là cán bộ địa chính xã Tân Phú, tỉnh Đồng Nai, đòi tiền hôm qua.")


DEFAULT_TOOLS = Tools()
