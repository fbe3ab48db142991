"""The nine expressions of degradation of Resolution 4 (khóa XII), plus 0 for "not a report"."""

from __future__ import annotations

from dataclasses import dataclass

from intake.i18n import N_


@dataclass(frozen=True)
class Category:
    """A category code with its short name and one-line description (msgids, translated at use)."""

    code: int
    short: str
    description: str


NOT_A_REPORT = 0

CATEGORIES: dict[int, Category] = {
    c.code: c
    for c in (
        Category(0, N_("Not a report of misconduct"), N_("Not about a cadre's or party member's conduct.")),
        Category(
            1,
            N_("Individualism, self-seeking"),
            N_("Selfish, opportunistic, self-seeking; envious of others' success."),
        ),
        Category(
            2,
            N_("Breaking democratic centralism, disunity"),
            N_("Factions, feuds over posts, authoritarian and undemocratic leadership."),
        ),
        Category(3, N_("Dishonest asset declaration"), N_("Declaring assets and income untruthfully.")),
        Category(
            4,
            N_("Chasing achievements, vainglory"),
            N_("Inflating results, hiding faults, chasing awards and titles."),
        ),
        Category(
            5,
            N_("Bureaucratic, remote, indifferent"),
            N_("Remote from people, indifferent to their legitimate needs and hardships."),
        ),
        Category(
            6,
            N_("Waste and loss of public assets"),
            N_("Wasting public money, assets, land or resources; spending outside the rules."),
        ),
        Category(
            7,
            N_("Embezzlement, corruption, abuse of office"),
            N_("Embezzling, taking bribes, colluding with businesses, covering up corruption."),
        ),
        Category(
            8,
            N_("Buying posts, manipulating personnel work"),
            N_("Buying posts or degrees; letting relatives profit from one's office."),
        ),
        Category(
            9,
            N_("Social vices, breaking good customs"),
            N_("Gambling, drunkenness, superstition, illegal religious groups, social vices."),
        ),
    )
}

REPORT_CODES: tuple[int, ...] = tuple(range(1, 10))
