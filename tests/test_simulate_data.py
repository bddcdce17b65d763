"""The simulator's data files: every parameter carries a range, a distribution and a source; the
published figures used to fit and test the model are well formed and partly held out."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest
import yaml

DATA = Path(__file__).resolve().parents[1] / "src" / "chipwatch" / "simulate" / "data"

GROUPS = {"production", "demand", "prices", "leakage", "china_domestic", "counter_controls", "revenue_share", "training", "installed_base"}
FIELDS = {"description", "unit", "value", "low", "high", "dist", "source"}
DISTS = {"uniform", "triangular", "lognormal"}
REGIONS = ("US", "CN", "ALLIES", "GULF", "ROW")
SUPPLIERS = ("us_vendors", "china_domestic", "others")

CAL_REGIONS = {"US", "CN", "ALLIES", "GULF", "ROW", "WORLD"}
CAL_SUPPLIERS = {"us_vendors", "china_domestic", "others", "all"}
MEASURES = {"shipments_units", "shipments_h100e", "installed_h100e", "vendor_revenue_usd", "demand_usd", "china_revenue_share",
            "us_share_of_cn_market", "compute_share", "leaked_units", "leaked_share", "price_usd"}
PERIOD = re.compile(r"^(20[2-3]\d)(?:-Q([1-4]))?$")


def _load(name: str) -> dict:
    with (DATA / name).open(encoding="utf-8") as f:
        return yaml.safe_load(f)


@pytest.fixture(scope="module")
def params() -> dict:
    return _load("parameters.yaml")


@pytest.fixture(scope="module")
def figures() -> list[dict]:
    return _load("calibration.yaml")["figures"]


def _all_params(params: dict) -> list[tuple[str, dict]]:
    return [(f"{g}.{n}", p) for g, entries in params.items() for n, p in entries.items()]


def _is_number(x: object) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)


# --- parameters.yaml ------------------------------------------------------------------------------


def test_parameter_groups_are_the_mechanisms(params):
    assert set(params) == GROUPS
    assert all(isinstance(entries, dict) and entries for entries in params.values())


def test_every_parameter_is_complete(params):
    for name, p in _all_params(params):
        missing = FIELDS - set(p)
        assert not missing, f"{name} lacks {sorted(missing)}"
        assert set(p) <= FIELDS | {"note"}, f"{name} has unknown fields {sorted(set(p) - FIELDS - {'note'})}"
        for field in ("description", "unit", "source"):
            assert isinstance(p[field], str) and p[field].strip(), f"{name}.{field} is empty"
        if "note" in p:
            assert isinstance(p["note"], str) and p["note"].strip(), f"{name}.note is empty"


def test_ranges_hold_the_central_value(params):
    for name, p in _all_params(params):
        assert all(_is_number(p[k]) for k in ("value", "low", "high")), f"{name}: value/low/high must be numbers"
        assert p["low"] <= p["value"] <= p["high"], f"{name}: {p['low']} <= {p['value']} <= {p['high']} fails"


def test_distributions_are_known_and_drawable(params):
    for name, p in _all_params(params):
        assert p["dist"] in DISTS, f"{name}: dist {p['dist']!r}"
        if p["dist"] == "lognormal":
            assert p["low"] > 0, f"{name}: a lognormal needs a positive range"
        if p["dist"] == "triangular":
            assert p["low"] < p["high"], f"{name}: a triangular needs low < high"


def test_shares_and_probabilities_lie_in_the_unit_interval(params):
    for name, p in _all_params(params):
        if p["unit"] == "fraction":
            assert p["low"] >= 0 and p["high"] <= 1, f"{name}: a fraction outside [0, 1]"


def test_demand_shares_sum_to_one(params):
    demand = params["demand"]
    shares = [demand[f"share_{r}"]["value"] for r in REGIONS]
    assert sum(shares) == pytest.approx(1.0, abs=0.01)
    # every region can be drawn: the bounds leave room for a sum of 1
    assert sum(demand[f"share_{r}"]["low"] for r in REGIONS) <= 1 <= sum(demand[f"share_{r}"]["high"] for r in REGIONS)


def test_supplier_shares_sum_to_one(params):
    shares = [params["production"][f"supplier_share_2022_{s}"]["value"] for s in SUPPLIERS]
    assert sum(shares) == pytest.approx(1.0, abs=0.01)


def test_every_region_has_growth_tilt_and_opening_stock(params):
    for r in REGIONS:
        assert f"growth_tilt_{r}" in params["demand"]
        assert params["installed_base"][r]["unit"] == "H100e"


def test_no_law_values_in_the_revenue_share_group(params):
    # the 15 % and 25 % rates are law data; only practice lives here
    for name, p in params["revenue_share"].items():
        assert p["value"] not in (0.15, 0.25, 15, 25), f"revenue_share.{name} looks like a legal rate"


def test_elasticity_is_negative(params):
    e = params["demand"]["china_elasticity"]
    assert e["high"] < 0


# --- calibration.yaml -----------------------------------------------------------------------------


def test_at_least_fifteen_figures_with_unique_ids(figures):
    assert len(figures) >= 15
    ids = [f["id"] for f in figures]
    assert len(ids) == len(set(ids)), "duplicate ids"


def test_every_figure_is_sourced_and_assigned(figures):
    for f in figures:
        for field in ("id", "what", "region", "supplier", "period", "value", "unit", "measure", "source", "use"):
            assert field in f, f"{f.get('id')} lacks {field}"
        assert isinstance(f["source"], str) and f["source"].strip(), f"{f['id']}: no source"
        assert f["use"] in {"fit", "held_out"}, f"{f['id']}: use {f['use']!r}"
        assert f["measure"] in MEASURES, f"{f['id']}: measure {f['measure']!r}"
        assert f["supplier"] in CAL_SUPPLIERS, f"{f['id']}: supplier {f['supplier']!r}"
        regions = f["region"] if isinstance(f["region"], list) else [f["region"]]
        assert regions and set(regions) <= CAL_REGIONS, f"{f['id']}: region {f['region']!r}"
        assert f.get("bound", "lower") in {"lower", "upper"}
        assert f.get("conf", "M") in {"H", "M", "L"}


def test_about_a_third_is_held_out(figures):
    held = sum(f["use"] == "held_out" for f in figures)
    assert 0.25 <= held / len(figures) <= 0.45
    # held-out figures test more than one mechanism
    assert len({f["measure"] for f in figures if f["use"] == "held_out"}) >= 4


def test_periods_parse(figures):
    for f in figures:
        period = f["period"]
        assert isinstance(period, str), f"{f['id']}: quote the period"
        m = PERIOD.match(period)
        assert m, f"{f['id']}: period {period!r}"
        assert 2022 <= int(m.group(1)) <= 2035


def test_values_and_ranges(figures):
    for f in figures:
        assert _is_number(f["value"]), f"{f['id']}: value"
        low, high = f.get("low", f["value"]), f.get("high", f["value"])
        assert _is_number(low) and _is_number(high)
        assert low <= f["value"] <= high, f"{f['id']}: {low} <= {f['value']} <= {high} fails"
        if f["unit"] == "fraction":
            assert low >= 0 and high <= 1, f"{f['id']}: a fraction outside [0, 1]"


def test_figures_cover_every_part_of_the_reference(figures):
    measures = {f["measure"] for f in figures}
    # shipments, China revenue and shares, domestic output, compute split, smuggling, Gulf deals, prices
    assert {"shipments_units", "vendor_revenue_usd", "china_revenue_share", "compute_share", "leaked_units", "price_usd"} <= measures
    assert any(f["supplier"] == "china_domestic" and f["measure"] == "shipments_units" for f in figures)
    assert any("GULF" in (f["region"] if isinstance(f["region"], list) else [f["region"]]) for f in figures)
    # Huawei's output is a test of the domestic-supply mechanism, never fitted
    assert all(f["use"] == "held_out" for f in figures if f["supplier"] == "china_domestic" and f["measure"] == "shipments_units")
