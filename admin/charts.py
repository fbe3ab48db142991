"""Small charts drawn on the server: no script, no library, styled by admin.css (CSP-safe).

Bars are HTML tables whose rows carry the full names and the figures as text (a screen reader reads
them, a phone wraps them); the bar itself is a <meter>. The weekly columns are an SVG drawing, hidden
from screen readers, with its figures in a table beneath it.
"""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup, escape


def _fmt(n: int) -> str:
    return f"{n:,}".replace(",", ".")  # Vietnamese thousands separator


def _table(items: Sequence[tuple[str, int]], name_header: str, value_header: str, summary: str) -> str:
    rows = "".join(f'<tr><th scope="row">{escape(label)}</th><td class="num">{_fmt(n)}</td></tr>' for label, n in items)
    return (
        f'<details class="figures"><summary>{escape(summary)}</summary>'
        f'<table class="figures-table"><thead><tr><th scope="col">{escape(name_header)}</th>'
        f'<th scope="col" class="num">{escape(value_header)}</th></tr></thead><tbody>{rows}</tbody></table></details>'
    )


def hbars(
    items: Sequence[tuple[str, int]], *, title: str, name_header: str, value_header: str, css: str = ""
) -> Markup:
    """Horizontal bars as a table: each row its full name (wrapping as the screen needs), a bar and the figure.

    The figures are the table's own text, read by a screen reader and legible on a phone; the bar is a
    <meter> (styled by admin.css, no inline style under the CSP), hidden from screen readers.
    """
    top = max((n for _, n in items), default=0) or 1
    rows = "".join(
        f'<tr><th scope="row" class="label">{escape(label)}</th>'
        f'<td class="meter-cell"><meter min="0" max="{top}" value="{n}" aria-hidden="true"></meter></td>'
        f'<td class="value num">{_fmt(n)}</td></tr>'
        for label, n in items
    )
    return Markup(
        f'<figure class="chart-figure"><table class="hbars {escape(css)}"><caption class="visually-hidden">{escape(title)}</caption>'
        f'<thead class="visually-hidden"><tr><th scope="col">{escape(name_header)}</th><th scope="col"></th>'
        f'<th scope="col">{escape(value_header)}</th></tr></thead><tbody>{rows}</tbody></table></figure>'
    )


def columns(items: Sequence[tuple[str, int]], *, title: str, name_header: str, value_header: str, summary: str) -> Markup:
    """Vertical columns over time (e.g. reports received per week), labelled underneath, figures in a table."""
    col, gap, chart_h, label_h = 44, 10, 160, 34
    width = max(1, len(items)) * (col + gap) + gap
    top = max((n for _, n in items), default=0) or 1
    parts = [
        # On a phone the drawing keeps a legible size and scrolls inside its own box (the page never scrolls sideways).
        f'<figure class="chart-figure"><div class="chart-scroll" tabindex="0" role="region" aria-label="{escape(title)}">'
        f'<svg class="chart columns" aria-hidden="true" focusable="false" '
        f'viewBox="0 0 {width} {chart_h + label_h}" width="{width}" preserveAspectRatio="xMinYMin meet" xmlns="http://www.w3.org/2000/svg">',
        f'<line class="axis" x1="0" y1="{chart_h}" x2="{width}" y2="{chart_h}"></line>',
    ]
    for i, (label, n) in enumerate(items):
        x = gap + i * (col + gap)
        h = round((chart_h - 20) * n / top, 1)
        parts.append(
            f'<g class="col"><rect class="bar" x="{x}" y="{chart_h - h}" width="{col}" height="{h}" rx="2"></rect>'
            f'<text class="value" x="{x + col / 2}" y="{chart_h - h - 4}" text-anchor="middle">{_fmt(n)}</text>'
            f'<text class="label" x="{x + col / 2}" y="{chart_h + 18}" text-anchor="middle">{escape(label)}</text></g>'
        )
    parts.append("</svg></div>")
    parts.append(f'<figcaption class="visually-hidden">{escape(title)}</figcaption>')
    parts.append(_table(items, name_header, value_header, summary))
    parts.append("</figure>")
    return Markup("".join(parts))


def ratio(part: int, whole: int, *, title: str, caption: str) -> Markup:
    """A share that met the goal: the percentage in large type, a bar (a <meter>) and the figures in words."""
    pct = f"{part / whole * 100:.0f}%" if whole else "—"
    return Markup(
        f'<figure class="chart-figure ratio"><p class="ratio-line"><meter min="0" max="{max(whole, 1)}" value="{part}" aria-hidden="true"></meter>'
        f'<span class="big">{pct}</span></p>'
        f'<figcaption><span class="visually-hidden">{escape(title)}: {pct}. </span>{escape(caption)}</figcaption></figure>'
    )
