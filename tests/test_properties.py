"""Property tests: monotonicity, inclusive boundaries as written, traces that cite law in force,
and the vectorised path agreeing with the one-at-a-time path."""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chipwatch import classify, classify_frame, custom_chip, default_catalog, load_law

LAW = load_law()
FIRST = LAW.first_effective()
LAST = date(2026, 11, 24)
ACS = LAW.value("us_ear.3a090.a1_tpp_min", date(2024, 1, 1)).effective
RANK = {None: 0, "3A090.b": 1, "3A090.a": 2}
FORMATS = ["fp64", "fp32", "tf32", "fp16", "fp8", "fp4", "int8", "int4"]

dates = st.dates(min_value=FIRST - timedelta(days=30), max_value=LAST)
acs_dates = st.dates(min_value=ACS, max_value=LAST)
rates = st.dictionaries(st.sampled_from(FORMATS), st.floats(min_value=0.1, max_value=20000), min_size=1, max_size=4)
areas = st.floats(min_value=20, max_value=3000)
ios = st.floats(min_value=0, max_value=2000)


def _rank(chip, on):
    r = classify(chip, on, law=LAW)
    assert r.determinate
    return RANK[r.eccn]


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(rates, areas, ios, st.booleans(), dates, st.floats(min_value=1, max_value=10), st.floats(min_value=0.1, max_value=1))
def test_more_compute_never_lowers_the_control(r, area, io, dc, on, k, shrink):
    base = custom_chip(dense_tops=r, die_area_mm2=area, interconnect_bandwidth_gbs=io, datacenter=dc)
    more = custom_chip(dense_tops={f: v * k for f, v in r.items()}, die_area_mm2=area * shrink,
                       interconnect_bandwidth_gbs=io * k, datacenter=dc)
    assert _rank(more, on) >= _rank(base, on)


@settings(max_examples=100)
@given(rates, areas, acs_dates)
def test_datacenter_design_never_lowers_the_control(r, area, on):
    consumer = custom_chip(dense_tops=r, die_area_mm2=area, datacenter=False)
    dc = custom_chip(dense_tops=r, die_area_mm2=area, datacenter=True)
    assert _rank(dc, on) >= _rank(consumer, on)


@settings(max_examples=50)
@given(acs_dates)
def test_a1_line_is_inclusive(on):
    line = LAW.value("us_ear.3a090.a1_tpp_min", on).value
    at = custom_chip(dense_tops={"int8": line / 8}, die_area_mm2=10 * line, datacenter=True)
    below = custom_chip(dense_tops={"int8": (line - 0.01) / 8}, die_area_mm2=10 * line, datacenter=True)
    assert classify(at, on).paragraph == "3A090.a.1"
    assert classify(below, on).paragraph != "3A090.a.1"


@settings(max_examples=50)
@given(acs_dates)
def test_a2_density_line_is_inclusive(on):
    tpp = LAW.value("us_ear.3a090.a2_tpp_min", on).value
    pd = LAW.value("us_ear.3a090.a2_pd_min", on).value
    at = custom_chip(dense_tops={"int8": tpp / 8}, die_area_mm2=tpp / pd, datacenter=True)
    assert classify(at, on).paragraph == "3A090.a.2"
    under = custom_chip(dense_tops={"int8": tpp / 8}, die_area_mm2=tpp / (pd - 0.001), datacenter=True)
    assert classify(under, on).eccn == "3A090.b"


@settings(max_examples=50)
@given(acs_dates)
def test_b1_upper_bounds_are_exclusive(on):
    # TPP exactly at the b.1 upper bound is no longer b.1 ("less than"): it is a.1 at the same line.
    upper = LAW.value("us_ear.3a090.b1_tpp_below", on).value
    pd_lo = LAW.value("us_ear.3a090.b1_pd_min", on).value
    chip = custom_chip(dense_tops={"int8": upper / 8}, die_area_mm2=upper / pd_lo, datacenter=True)
    assert classify(chip, on).paragraph != "3A090.b.1"


@settings(max_examples=30)
@given(st.dates(min_value=date(2024, 12, 2), max_value=LAST))
def test_hbm_line_is_strict(on):
    from chipwatch import MemoryStack

    line = LAW.value("us_ear.3a090.c_mbd_above", on).value
    assert classify(MemoryStack(name="at", bandwidth_gbs=line * 100, package_area_mm2=100), on).eccn is None
    assert classify(MemoryStack(name="over", bandwidth_gbs=line * 100 + 1, package_area_mm2=100), on).eccn == "3A090.c"


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from([c.name for c in default_catalog()]), dates)
def test_every_trace_cites_law_in_force_on_its_date(name, on):
    result = classify(name, on, law=LAW)
    assert result.trace, "every answer has a trace"
    for step in result.trace:
        if step.cite:
            assert step.effective is not None and step.effective <= on, (step.check, step.effective, on)
        for p in step.params:
            assert LAW.timeline(p).in_force(on)
        for cmp in step.comparisons:
            if cmp.param and cmp.note:  # a route whose threshold is not in force is closed, and says so
                assert not LAW.timeline(cmp.param).in_force(on) and cmp.result is False
            elif cmp.param:
                pv = LAW.value(cmp.param, on)
                assert (pv.value, pv.effective, pv.cite) == (cmp.threshold, cmp.effective, cmp.cite)
    if result.rule:
        assert result.rule.effective <= on
    for th in result.thresholds:
        assert th.effective <= on


@settings(max_examples=25, deadline=None)
@given(st.lists(dates, min_size=1, max_size=6, unique=True))
def test_vectorised_path_agrees_with_scalar_path(ds):
    cat = default_catalog()
    frame = classify_frame(cat.to_frame(), ds, law=LAW)
    assert frame.height == len(cat) * len(ds)
    got = {(r["item"], r["date"]): (r["eccn"], r["paragraph"], r["determinate"]) for r in frame.iter_rows(named=True)}
    for chip in cat:
        for d in ds:
            s = classify(chip, d, law=LAW)
            assert got[(chip.name, d)] == (s.eccn, s.paragraph, s.determinate), (chip.name, d)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(rates, st.one_of(st.none(), areas), st.one_of(st.none(), ios),
                          st.one_of(st.none(), st.booleans())), min_size=1, max_size=5), dates)
def test_vectorised_path_agrees_on_random_chips(specs, on):
    chips = [custom_chip(f"c{i}", dense_tops=r, die_area_mm2=a, interconnect_bandwidth_gbs=io, datacenter=dc)
             for i, (r, a, io, dc) in enumerate(specs)]
    fmts = sorted({f for c in chips for f in c.dense_tops})
    frame = pl.DataFrame(
        {"item": [c.name for c in chips],
         **{f"tops_{f}": [c.dense_tops.get(f) for c in chips] for f in fmts},
         "die_area_mm2": [c.die_area_mm2 for c in chips],
         "io_rate_gbs": [c.interconnect_bandwidth_gbs for c in chips],
         "datacenter": [c.datacenter for c in chips]},
        schema_overrides={**{f"tops_{f}": pl.Float64 for f in fmts}, "die_area_mm2": pl.Float64,
                          "io_rate_gbs": pl.Float64, "datacenter": pl.Boolean})
    out = classify_frame(frame, [on], law=LAW)
    for chip, row in zip(chips, out.iter_rows(named=True), strict=True):
        s = classify(chip, on, law=LAW)
        assert (row["eccn"], row["paragraph"], row["determinate"]) == (s.eccn, s.paragraph, s.determinate), chip
