"""Places: today's provinces and communes, read out of residents' free text (old addresses included).

`resolve_place(text)` is what the conversation calls; `get_gazetteer()` holds the data, read once.
"""

from __future__ import annotations

from intake.places.gazetteer import Gazetteer, Place, get_gazetteer
from intake.places.resolver import PlaceMatch, resolve_place
from intake.places.text import fold


def province(code: str) -> Place:
    """Today's province by official code ('79'); KeyError if there is none."""
    return get_gazetteer().province(code)


def commune(code: str) -> Place:
    """Today's commune, ward or special zone by official code ('26743'); KeyError if there is none."""
    return get_gazetteer().commune(code)


def commune_province(code: str) -> Place:
    """The province a commune belongs to; KeyError if the commune is unknown."""
    return get_gazetteer().commune_province(code)


__all__ = [
    "Gazetteer",
    "Place",
    "PlaceMatch",
    "commune",
    "commune_province",
    "fold",
    "get_gazetteer",
    "province",
    "resolve_place",
]
