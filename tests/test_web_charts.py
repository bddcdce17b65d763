"""The inline SVG charts: they show what the answer compared, and nothing else."""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from datetime import date

from chipwatch import classify
from chipwatch.web.charts import BandSeries, bands_chart, count_chart, metric_rows, metrics_chart
from chipwatch.web.i18n import Translator

SVG = "{http://www.w3.org/2000/svg}"


def _thresholds_compared(c, subject):
    return {float(x.threshold) for s in c.trace for x in s.comparisons
            if x.subject == subject and isinstance(x.threshold, int | float) and not isinstance(x.threshold, bool)}


def test_metric_rows_hold_exactly_the_thresholds_of_the_trace():
    c = classify("H100 SXM", date(2026, 11, 25))
    rows = {r.name: r for r in metric_rows(c)}
    assert set(rows) >= {"tpp", "pd"}
    for name, row in rows.items():
        assert {m.value for m in row.marks} == _thresholds_compared(c, name)
        assert row.value == c.metrics[name].value
    # H100: every TPP line it was compared with is met by at least one test, so all are marked met.
    assert all(m.met is True for m in rows["tpp"].marks)


def test_h20_is_below_the_a1_line():
    c = classify("H20", date(2026, 11, 25))
    tpp = next(r for r in metric_rows(c) if r.name == "tpp")
    above = [m for m in tpp.marks if m.value > c.metrics["tpp"].value]
    assert above and all(m.met is not True or any("<" in lbl for lbl in m.labels) for m in above)


def test_metrics_chart_is_valid_svg_with_one_mark_per_threshold():
    c = classify("H100 SXM", date(2026, 11, 25))
    svg = metrics_chart(c, Translator("zh"))
    root = ET.fromstring(svg)
    marks = root.findall(f".//{SVG}circle")
    assert len(marks) == sum(len(r.marks) for r in metric_rows(c))
    assert "总处理性能" in svg and "15,832" in svg


def test_a_date_before_any_rule_draws_no_chart():
    c = classify("H100 SXM", date(2022, 1, 1))
    assert metrics_chart(c, Translator("en")) == ""


def test_bands_chart_draws_a_band_and_a_line_per_policy_and_skips_undefined_points():
    xs = [2023 + q / 4 for q in range(12)]
    a = BandSeries("historical", xs, [1.0] * 12, [2.0] * 12, [3.0] * 12)
    b = BandSeries("blockade", xs, [math.nan] + [0.5] * 11, [1.0] * 12, [1.5] * 12)
    root = ET.fromstring(bands_chart([a, b], "CN"))
    assert len(root.findall(f".//{SVG}polygon")) == 2
    lines = root.findall(f".//{SVG}polyline")
    assert [len(pl.get("points").split()) for pl in lines] == [12, 11]
    assert bands_chart([], "empty") == ""


def test_count_chart_orders_largest_first():
    svg = count_chart({"NLR": 3, "CCL-AC": 10, "?HQ": 1}, "codes")
    root = ET.fromstring(svg)
    labels = [t.text for t in root.findall(f".//{SVG}text") if t.get("class") == "lbl"]
    assert labels == ["CCL-AC", "NLR", "?HQ"]


def test_bands_chart_turns_logarithmic_for_values_spanning_decades():
    xs = [2023.0, 2024.0, 2025.0]
    wide = BandSeries("p", xs, [1.0, 100.0, 1e4], [2.0, 200.0, 2e4], [3.0, 300.0, 3e4])
    axis = [t.text for t in ET.fromstring(bands_chart([wide], "CN")).findall(f".//{SVG}text") if t.get("class") == "axis"]
    assert {"1", "10", "100", "1k", "10k"} <= set(axis)
    narrow = BandSeries("p", xs, [1.0, 2.0, 3.0], [2.0, 3.0, 4.0], [3.0, 4.0, 5.0])
    axis = [t.text for t in ET.fromstring(bands_chart([narrow], "x")).findall(f".//{SVG}text") if t.get("class") == "axis"]
    assert "0" in axis and "10" not in axis
