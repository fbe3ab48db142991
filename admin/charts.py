"""Small SVG charts drawn on the server: no script, no library, styled by admin.css (CSP-safe)."""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup, escape

ROW_HEIGHT = 24
LABEL_WIDTH = 230
BAR_WIDTH = 250
VALUE_WIDTH = 60


def _fmt(n: int) -> str:
    return f"{n:,}".replace(",", ".")  # Vietnamese thousands separator


def _clip(label: str, limit: int = 32) -> str:
    return label if len(label) <= limit else label[: limit - 1] + "…"


def hbars(items: Sequence[tuple[str, int]], *, title: str, css: str = "") -> Markup:
    """Horizontal bars, one per label, scaled to the largest value; the full label is in a tooltip."""
    width = LABEL_WIDTH + BAR_WIDTH + VALUE_WIDTH
    height = max(1, len(items)) * ROW_HEIGHT + 8
    top = max((n for _, n in items), default=0) or 1
    parts = [
        f'<svg class="chart hbars {escape(css)}" role="img" viewBox="0 0 {width} {height}" '
        f'width="100%" preserveAspectRatio="xMinYMin meet" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title>",
    ]
    for i, (label, n) in enumerate(items):
        y = 4 + i * ROW_HEIGHT
        w = round(BAR_WIDTH * n / top, 1) if n else 0
        parts.append(
            f'<g class="row"><title>{escape(label)}: {_fmt(n)}</title>'
            f'<text class="label" x="{LABEL_WIDTH - 8}" y="{y + 16}" text-anchor="end">{escape(_clip(label))}</text>'
            f'<rect class="bar" x="{LABEL_WIDTH}" y="{y + 3}" width="{w}" height="{ROW_HEIGHT - 8}" rx="2"></rect>'
            f'<text class="value" x="{LABEL_WIDTH + w + 6}" y="{y + 16}">{_fmt(n)}</text></g>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def columns(items: Sequence[tuple[str, int]], *, title: str) -> Markup:
    """Vertical columns over time (e.g. reports received per week), labelled underneath."""
    col, gap, chart_h, label_h = 44, 10, 160, 34
    width = max(1, len(items)) * (col + gap) + gap
    top = max((n for _, n in items), default=0) or 1
    parts = [
        f'<svg class="chart columns" role="img" viewBox="0 0 {width} {chart_h + label_h}" width="100%" '
        f'preserveAspectRatio="xMinYMin meet" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title>",
        f'<line class="axis" x1="0" y1="{chart_h}" x2="{width}" y2="{chart_h}"></line>',
    ]
    for i, (label, n) in enumerate(items):
        x = gap + i * (col + gap)
        h = round((chart_h - 20) * n / top, 1)
        parts.append(
            f'<g class="col"><title>{escape(label)}: {_fmt(n)}</title>'
            f'<rect class="bar" x="{x}" y="{chart_h - h}" width="{col}" height="{h}" rx="2"></rect>'
            f'<text class="value" x="{x + col / 2}" y="{chart_h - h - 4}" text-anchor="middle">{_fmt(n)}</text>'
            f'<text class="label" x="{x + col / 2}" y="{chart_h + 16}" text-anchor="middle">{escape(label)}</text></g>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def ratio(part: int, whole: int, *, title: str, caption: str) -> Markup:
    """A single bar split into the share that met the goal and the rest, with the percentage."""
    width, height = LABEL_WIDTH + BAR_WIDTH + VALUE_WIDTH, 44
    share = part / whole if whole else 0.0
    w = round((width - 80) * share, 1)
    pct = f"{share * 100:.0f}%" if whole else "—"
    return Markup(
        f'<svg class="chart ratio" role="img" viewBox="0 0 {width} {height}" width="100%" '
        f'preserveAspectRatio="xMinYMin meet" xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>'
        f'<rect class="rest" x="0" y="6" width="{width - 80}" height="22" rx="3"></rect>'
        f'<rect class="bar" x="0" y="6" width="{w}" height="22" rx="3"></rect>'
        f'<text class="value big" x="{width - 72}" y="23">{pct}</text>'
        f'<text class="label" x="0" y="42">{escape(caption)}</text></svg>'
    )
