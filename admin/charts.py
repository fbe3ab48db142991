"""Small SVG charts drawn on the server: no script, no library, styled by admin.css (CSP-safe).

Each chart is a figure: the drawing (hidden from screen readers, which read the table instead) and its
figures as a table with the full names. Long names wrap onto a second line instead of being cut.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence

from markupsafe import Markup, escape

ROW_HEIGHT = 24
LINE_HEIGHT = 16
LABEL_WIDTH = 250
BAR_WIDTH = 230
VALUE_WIDTH = 70
LABEL_CHARS = 30  # characters of a label line at the chart's 14 px, within LABEL_WIDTH (measured: about 7.5 px each)
LABEL_LINES = 2


def _fmt(n: int) -> str:
    return f"{n:,}".replace(",", ".")  # Vietnamese thousands separator


def label_lines(label: str, width: int = LABEL_CHARS, lines: int = LABEL_LINES) -> list[str]:
    """A label broken at spaces into lines that fit; a longer one ends its last line with "…"."""
    wrapped = textwrap.wrap(label, width=width, break_long_words=True) or [""]
    if len(wrapped) > lines:
        last = " ".join(wrapped[lines - 1 :])
        wrapped = [*wrapped[: lines - 1], last[: width - 1].rstrip() + "…"]
    return wrapped


def _table(items: Sequence[tuple[str, int]], name_header: str, value_header: str, summary: str) -> str:
    rows = "".join(f'<tr><th scope="row">{escape(label)}</th><td class="num">{_fmt(n)}</td></tr>' for label, n in items)
    return (
        f'<details class="figures"><summary>{escape(summary)}</summary>'
        f'<table class="figures-table"><thead><tr><th scope="col">{escape(name_header)}</th>'
        f'<th scope="col" class="num">{escape(value_header)}</th></tr></thead><tbody>{rows}</tbody></table></details>'
    )


def hbars(
    items: Sequence[tuple[str, int]], *, title: str, name_header: str, value_header: str, summary: str, css: str = ""
) -> Markup:
    """Horizontal bars, one per label, scaled to the largest value, with the figures as a table below."""
    width = LABEL_WIDTH + BAR_WIDTH + VALUE_WIDTH
    wrapped = [label_lines(label) for label, _n in items]
    heights = [max(ROW_HEIGHT, len(lines) * LINE_HEIGHT + 8) for lines in wrapped]
    height = sum(heights) + 8
    top = max((n for _, n in items), default=0) or 1
    parts = [
        f'<figure class="chart-figure"><svg class="chart hbars {escape(css)}" aria-hidden="true" focusable="false" '
        f'viewBox="0 0 {width} {height}" width="100%" preserveAspectRatio="xMinYMin meet" xmlns="http://www.w3.org/2000/svg">'
    ]
    y = 4
    for (_label, n), lines, h in zip(items, wrapped, heights, strict=True):
        w = round(BAR_WIDTH * n / top, 1) if n else 0
        first = y + (h - len(lines) * LINE_HEIGHT) / 2 + 12
        spans = "".join(
            f'<tspan x="{LABEL_WIDTH - 8}" y="{first + k * LINE_HEIGHT}">{escape(line)}</tspan>' for k, line in enumerate(lines)
        )
        mid = y + h / 2
        parts.append(
            f'<g class="row"><text class="label" text-anchor="end">{spans}</text>'
            f'<rect class="bar" x="{LABEL_WIDTH}" y="{mid - 8}" width="{w}" height="16" rx="2"></rect>'
            f'<text class="value" x="{LABEL_WIDTH + w + 6}" y="{mid + 5}">{_fmt(n)}</text></g>'
        )
        y += h
    parts.append("</svg>")
    parts.append(f'<figcaption class="visually-hidden">{escape(title)}</figcaption>')
    parts.append(_table(items, name_header, value_header, summary))
    parts.append("</figure>")
    return Markup("".join(parts))


def columns(items: Sequence[tuple[str, int]], *, title: str, name_header: str, value_header: str, summary: str) -> Markup:
    """Vertical columns over time (e.g. reports received per week), labelled underneath, figures in a table."""
    col, gap, chart_h, label_h = 44, 10, 160, 34
    width = max(1, len(items)) * (col + gap) + gap
    top = max((n for _, n in items), default=0) or 1
    parts = [
        f'<figure class="chart-figure"><svg class="chart columns" aria-hidden="true" focusable="false" '
        f'viewBox="0 0 {width} {chart_h + label_h}" width="100%" preserveAspectRatio="xMinYMin meet" xmlns="http://www.w3.org/2000/svg">',
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
    parts.append("</svg>")
    parts.append(f'<figcaption class="visually-hidden">{escape(title)}</figcaption>')
    parts.append(_table(items, name_header, value_header, summary))
    parts.append("</figure>")
    return Markup("".join(parts))


def ratio(part: int, whole: int, *, title: str, caption: str) -> Markup:
    """A single bar split into the share that met the goal and the rest; the percentage and figures as text."""
    width, height = LABEL_WIDTH + BAR_WIDTH + VALUE_WIDTH, 34
    share = part / whole if whole else 0.0
    w = round((width - 90) * share, 1)
    pct = f"{share * 100:.0f}%" if whole else "—"
    return Markup(
        f'<figure class="chart-figure"><svg class="chart ratio" aria-hidden="true" focusable="false" viewBox="0 0 {width} {height}" '
        f'width="100%" preserveAspectRatio="xMinYMin meet" xmlns="http://www.w3.org/2000/svg">'
        f'<rect class="rest" x="0" y="6" width="{width - 90}" height="22" rx="3"></rect>'
        f'<rect class="bar" x="0" y="6" width="{w}" height="22" rx="3"></rect>'
        f'<text class="value big" x="{width - 80}" y="24">{pct}</text></svg>'
        f'<figcaption><span class="visually-hidden">{escape(title)}: {pct}. </span>{escape(caption)}</figcaption></figure>'
    )
