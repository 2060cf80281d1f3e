"""Bar charts drawn server-side as SVG: the CSP forbids inline styles, not SVG attributes."""

from __future__ import annotations

from dataclasses import dataclass

# Geometry in SVG user units; the SVG scales to the width of the page (phones included).
WIDTH = 400
LABEL_HEIGHT = 20
BAR_HEIGHT = 16
ROW_HEIGHT = 46
VALUE_SPACE = 56  # room right of the longest bar for its figure
# Contrast ≥ 3:1 against both the light and the dark page backgrounds (WCAG 1.4.11).
BAR_FILL = "#4a7bd0"


@dataclass(frozen=True)
class Bar:
    label: str
    value: int
    # Pre-formatted strings: template localisation must not turn 12.5 into "12,5" in an attribute.
    label_y: str
    bar_y: str
    width: str
    value_x: str
    value_y: str


@dataclass(frozen=True)
class BarChart:
    id: str
    title: str
    description: str
    height: str
    width: str
    fill: str
    bars: list[Bar]


def bar_chart(chart_id: str, title: str, rows: list[tuple[str, int]]) -> BarChart:
    """Horizontal bars, one per (label, value) row, scaled to the largest value."""
    top = max((value for _label, value in rows), default=0)
    span = WIDTH - VALUE_SPACE
    bars = []
    for index, (label, value) in enumerate(rows):
        y = index * ROW_HEIGHT
        width = (span * value / top) if top else 0.0
        if value and width < 2:
            width = 2.0  # a non-zero figure stays visible
        bars.append(
            Bar(
                label=label,
                value=value,
                label_y=f"{y + 15}",
                bar_y=f"{y + LABEL_HEIGHT + 2}",
                width=f"{width:.1f}",
                value_x=f"{width + 6:.1f}",
                value_y=f"{y + LABEL_HEIGHT + 15}",
            )
        )
    description = "; ".join(f"{label}: {value}" for label, value in rows)
    return BarChart(
        id=chart_id,
        title=title,
        description=description,
        height=str(max(len(rows), 1) * ROW_HEIGHT),
        width=str(WIDTH),
        fill=BAR_FILL,
        bars=bars,
    )
