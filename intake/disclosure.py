"""Counts that leave a committee, rounded so that no count from 1 to 4 can be read or worked out.

Every count a committee exports is a multiple of 5 (BASE), and the exported figures add up exactly:
a total is the sum of its rows in every table, a half-year the sum of its quarters, a year the sum of
its halves. That is what defeats differencing. Someone who subtracts shown cells from a total, or a
quarter from its half-year, gets a multiple of 5 again; and the exported figures are themselves a
possible set of true counts, so no count from 1 to 4 can be pinned down, nor even shown to be small:
every such count was exported as 0 or 5, and the figures stay consistent with it being 0 or 5.

How: the smallest exported pieces ("atoms": one quarter, one kind of event, one row) are laid out
in a fixed order, and each atom is the step between the rounded running totals before and after it
(cumulative rounding). An atom is then within 4 of its true count, a run of consecutive atoms too
(the whole run telescopes to two roundings), zero stays zero, and nothing is ever negative. The
order puts what readers compare most next to each other: quarters in time, then the kinds of a
figure (a quarter's "handled" is forwarded + other handling), then the rows. So every total in any
period, and every row in one quarter, is within 4 of the truth; a row over several quarters is
within 4 per quarter. SECURITY.md ("Periodic reports") says what this costs.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping, Sequence
from typing import TypeVar

BASE = 5

K = TypeVar("K", bound=Hashable)


def round_to_base(n: int) -> int:
    """The nearest multiple of BASE (0-2 down, 3-4 up), for a count that is never negative."""
    if n < 0:
        raise ValueError("a count is never negative")
    return BASE * ((n + BASE // 2) // BASE)


def cumulative_round(values: Iterable[int]) -> list[int]:
    """Rounds a sequence of counts so that every prefix sum of the result is the rounded prefix sum."""
    out: list[int] = []
    true_total = shown_total = 0
    for value in values:
        if value < 0:
            raise ValueError("a count is never negative")
        true_total += value
        rounded = round_to_base(true_total)
        out.append(rounded - shown_total)
        shown_total = rounded
    return out


def round_in_order(order: Sequence[K], counts: Mapping[K, int]) -> dict[K, int]:
    """Cumulative rounding of counts laid out in a fixed order (missing keys count 0)."""
    return dict(zip(order, cumulative_round(counts.get(key, 0) for key in order), strict=True))


def percent(numerator: int, denominator: int) -> int | None:
    """A share in whole percent, halves rounded up (5 of 8 is 63); None when there is nothing to share."""
    if denominator <= 0:
        return None
    return (200 * numerator + denominator) // (2 * denominator)
