"""Charts as inline SVG, drawn here so pages and reports need no JavaScript and nothing downloaded:
a chip's metrics against the thresholds it was compared with, policy bands over time, and counts.

Every function returns an SVG string; callers mark it safe after it is built from escaped parts.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from html import escape
from typing import Any

PALETTE = ("#1f5fa8", "#c2452d", "#2e8b57", "#8a5bb8", "#d08a1a", "#4a9fb5", "#7a7a7a")
MET = "#2e8b57"
NOT_MET = "#c2452d"
UNDECIDED = "#d08a1a"
# Metrics whose comparisons are drawn, in this order; anything else numeric is drawn after them.
METRIC_ORDER = ("tpp", "pd", "processing_performance", "io_rate", "mbd")
LOG_SPAN = 1000  # a band chart whose positive values span this ratio or more is drawn on a log axis


def _num(x: float) -> str:
    """A figure for a label: grouped thousands, at most three significant decimals."""
    if x == 0:
        return "0"
    if abs(x) >= 1000:
        return f"{x:,.0f}"
    if abs(x) >= 10:
        return f"{x:.4g}"
    return f"{x:.3g}"


@dataclass
class ThresholdMark:
    value: float
    labels: list[str] = field(default_factory=list)
    results: list[bool | None] = field(default_factory=list)

    @property
    def met(self) -> bool | None:
        """A threshold shared by several tests counts as met when any of them passed on it."""
        if any(r is True for r in self.results):
            return True
        return None if any(r is None for r in self.results) else False


@dataclass
class MetricRow:
    name: str
    value: float | None
    unit: str
    marks: list[ThresholdMark]


def metric_rows(classification: Any) -> list[MetricRow]:
    """The numeric comparisons of a classification's trace, grouped per metric and per threshold value.

    Read from the trace (what the rules actually compared), so the chart cannot show a threshold the
    answer did not use."""
    metrics = getattr(classification, "metrics", {}) or {}
    by_metric: dict[str, dict[float, ThresholdMark]] = {}
    for step in getattr(classification, "trace", []):
        for c in step.comparisons:
            if isinstance(c.threshold, bool) or not isinstance(c.threshold, int | float):
                continue
            if c.subject not in metrics:
                continue
            mark = by_metric.setdefault(c.subject, {}).setdefault(float(c.threshold), ThresholdMark(float(c.threshold)))
            mark.labels.append(f"{step.check} {c.op} {_num(float(c.threshold))}")
            mark.results.append(c.result)
    order = [m for m in METRIC_ORDER if m in by_metric] + sorted(m for m in by_metric if m not in METRIC_ORDER)
    rows = []
    for name in order:
        metric = metrics[name]
        rows.append(MetricRow(name=name, value=metric.value, unit=metric.unit,
                              marks=sorted(by_metric[name].values(), key=lambda m: m.value)))
    return rows


def _log_ticks(lo: float, hi: float) -> list[float]:
    ticks = []
    for e in range(math.floor(math.log10(lo)), math.ceil(math.log10(hi)) + 1):
        for m in (1, 2, 5):
            v = m * 10.0 ** e
            if lo <= v <= hi:
                ticks.append(v)
    return ticks


def metrics_chart(classification: Any, label: Callable[[str], str]) -> str:
    """One row per metric on a log scale: a bar for the chip's figure and a mark for each threshold
    it was compared with (filled green when that test is met, hollow red when not, amber unknown)."""
    rows = metric_rows(classification)
    if not rows:
        return ""
    width, left, right, row_h, top = 760, 210, 28, 74, 18
    height = top + row_h * len(rows) + 10
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {width} {height}" width="100%" '
           f'role="img" aria-label="{escape(label("classify.chart_title"))}">']
    for i, row in enumerate(rows):
        y = top + i * row_h + 28
        values = [m.value for m in row.marks if m.value > 0] + ([row.value] if row.value and row.value > 0 else [])
        if not values:
            continue
        lo, hi = min(values) / 3, max(values) * 3
        span = math.log10(hi) - math.log10(lo)

        def x_of(v: float, lo: float = lo, span: float = span) -> float:
            return left + (width - left - right) * (math.log10(v) - math.log10(lo)) / span

        out.append(f'<text x="8" y="{y + 4}" class="lbl">{escape(label(f"metric.{row.name}"))}</text>')
        out.append(f'<text x="8" y="{y + 20}" class="sub">{escape(row.unit)}</text>')
        out.append(f'<line x1="{left}" y1="{y}" x2="{width - right}" y2="{y}" class="track"/>')
        for tick in _log_ticks(lo, hi):
            tx = x_of(tick)
            out.append(f'<line x1="{tx:.1f}" y1="{y + 10}" x2="{tx:.1f}" y2="{y + 14}" class="tick"/>'
                       f'<text x="{tx:.1f}" y="{y + 24}" class="axis" text-anchor="middle">{_num(tick)}</text>')
        if row.value and row.value > 0:
            out.append(f'<rect x="{left}" y="{y - 7}" width="{x_of(row.value) - left:.1f}" height="14" class="bar" rx="2">'
                       f'<title>{escape(_num(row.value))} {escape(row.unit)}</title></rect>')
            out.append(f'<text x="{min(x_of(row.value) + 4, width - right - 44):.1f}" y="{y - 12}" class="val">'
                       f'{escape(_num(row.value))}</text>')
        else:
            out.append(f'<text x="{left + 4}" y="{y - 10}" class="sub">—</text>')
        for mark in row.marks:
            if mark.value <= 0:
                continue
            mx = x_of(mark.value)
            colour = MET if mark.met else NOT_MET if mark.met is False else UNDECIDED
            fill = colour if mark.met else "white"
            out.append(f'<g><title>{escape("; ".join(mark.labels))}</title>'
                       f'<line x1="{mx:.1f}" y1="{y - 14}" x2="{mx:.1f}" y2="{y + 8}" stroke="{colour}" stroke-width="2"/>'
                       f'<circle cx="{mx:.1f}" cy="{y - 18}" r="5" fill="{fill}" stroke="{colour}" stroke-width="2"/>'
                       f'<text x="{mx:.1f}" y="{y - 27}" class="thr" text-anchor="middle">{escape(_num(mark.value))}</text></g>')
    out.append("</svg>")
    return "".join(out)


@dataclass
class BandSeries:
    """One policy's median and 10-90 % band of one output over time (x in fractional years)."""

    policy: str
    x: list[float]
    p10: list[float]
    median: list[float]
    p90: list[float]


def _nice_ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    if hi <= lo:
        hi = lo + 1
    raw = (hi - lo) / n
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    first = math.floor(lo / step) * step
    ticks = []
    v = first
    while v <= hi + step * 1e-9:
        ticks.append(round(v, 10))
        v += step
    return ticks


def _finite(xs: Sequence[float]) -> list[float]:
    return [v for v in xs if v is not None and math.isfinite(v)]


def bands_chart(series: Sequence[BandSeries], title: str, note: str = "") -> str:
    """Median lines with shaded 10-90 % bands, one colour per policy. The axis turns logarithmic
    when the values are all positive and span three decades or more (compute stocks grow that way)."""
    values = [v for s in series for v in _finite(s.p10) + _finite(s.p90) + _finite(s.median)]
    xs = [v for s in series for v in s.x]
    if not values or not xs:
        return ""
    width, height, left, right, top, bottom = 520, 300, 64, 14, 34, 58
    positive = [v for v in values if v > 0]
    log = len(positive) == len(values) and max(values) / min(values) >= LOG_SPAN
    if log:
        ticks = [10.0 ** e for e in range(math.floor(math.log10(min(values))), math.ceil(math.log10(max(values))) + 1)]
        scale: Callable[[float], float] = math.log10
    else:
        ticks = _nice_ticks(min(0.0, min(values)), max(values))

        def scale(v: float) -> float:
            return v

    y_lo, y_hi = ticks[0], ticks[-1] if ticks[-1] > ticks[0] else ticks[0] + 1
    s_lo, s_hi = scale(y_lo), scale(y_hi)
    x_lo, x_hi = min(xs), max(xs)

    def px(x: float) -> float:
        return left + (width - left - right) * (x - x_lo) / ((x_hi - x_lo) or 1)

    def py(y: float) -> float:
        y = min(max(y, y_lo), y_hi)
        return top + (height - top - bottom) * (1 - (scale(y) - s_lo) / ((s_hi - s_lo) or 1))

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {width} {height}" width="100%" '
           f'role="img" aria-label="{escape(title)}"><text x="{left}" y="18" class="ttl">{escape(title)}</text>']
    for tk in ticks:
        out.append(f'<line x1="{left}" y1="{py(tk):.1f}" x2="{width - right}" y2="{py(tk):.1f}" class="grid"/>'
                   f'<text x="{left - 6}" y="{py(tk) + 4:.1f}" class="axis" text-anchor="end">{escape(_short(tk))}</text>')
    for year in range(math.ceil(x_lo), math.floor(x_hi) + 1):
        if (year - math.ceil(x_lo)) % 2:
            continue
        out.append(f'<text x="{px(year):.1f}" y="{height - bottom + 17}" class="axis" text-anchor="middle">{year}</text>')
    for k, s in enumerate(series):
        colour = PALETTE[k % len(PALETTE)]
        pts = [(x, lo, med, hi) for x, lo, med, hi in zip(s.x, s.p10, s.median, s.p90, strict=True)
               if all(v is not None and math.isfinite(v) for v in (lo, med, hi))]
        if not pts:
            continue
        upper = " ".join(f"{px(x):.1f},{py(hi):.1f}" for x, _, _, hi in pts)
        lower = " ".join(f"{px(x):.1f},{py(lo):.1f}" for x, lo, _, _ in reversed(pts))
        line = " ".join(f"{px(x):.1f},{py(med):.1f}" for x, _, med, _ in pts)
        out.append(f'<polygon points="{upper} {lower}" fill="{colour}" fill-opacity="0.12" stroke="{colour}" stroke-opacity="0.35" '
                   f'stroke-width="0.6"/><polyline points="{line}" fill="none" stroke="{colour}" stroke-width="2">'
                   f'<title>{escape(s.policy)}</title></polyline>')
        lx = left + (k % 3) * 150
        ly = height - 26 + (k // 3) * 14
        out.append(f'<rect x="{lx}" y="{ly - 8}" width="12" height="8" fill="{colour}"/>'
                   f'<text x="{lx + 17}" y="{ly}" class="leg">{escape(s.policy)}</text>')
    if note:
        out.append(f'<desc>{escape(note)}</desc>')
    out.append("</svg>")
    return "".join(out)


def _short(v: float) -> str:
    """Axis labels: 1.2k, 3.4M, 5G, or plain for small values."""
    a = abs(v)
    for div, suffix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if a >= div:
            return f"{v / div:.3g}{suffix}"
    return f"{v:.3g}"


def count_chart(counts: Mapping[str, int], title: str) -> str:
    """Horizontal bars, largest first (e.g. the rows of an order book by reason code)."""
    items = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    if not items:
        return ""
    width, left, row_h, top = 620, 170, 22, 28
    height = top + row_h * len(items) + 8
    most = max(n for _, n in items) or 1
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {width} {height}" width="100%" '
           f'role="img" aria-label="{escape(title)}"><text x="8" y="18" class="ttl">{escape(title)}</text>']
    for i, (name, n) in enumerate(items):
        y = top + i * row_h
        w = (width - left - 60) * n / most
        out.append(f'<text x="{left - 8}" y="{y + 14}" class="lbl" text-anchor="end">{escape(name)}</text>'
                   f'<rect x="{left}" y="{y + 3}" width="{w:.1f}" height="14" fill="{PALETTE[0]}" rx="2"/>'
                   f'<text x="{left + w + 6:.1f}" y="{y + 14}" class="val">{n:,}</text>')
    out.append("</svg>")
    return "".join(out)
