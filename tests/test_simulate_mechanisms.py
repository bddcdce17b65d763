"""Each simulator mechanism behaves as its docstring says (the issue's checks first)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from chipwatch.simulate import mechanisms as m

P = 5
ones = np.ones(P)


def test_zero_capacity_gives_zero_domestic_chips():
    out = m.domestic_output(wafers=np.zeros(P), yield_=ones * 0.5, dies_per_wafer=ones * 30, h100e_per_chip=ones * 0.6,
                            hbm_cap_chips=ones * 1e9)
    assert np.all(out == 0)


def test_hbm_caps_domestic_output():
    out = m.domestic_output(wafers=ones * 1000, yield_=ones * 0.5, dies_per_wafer=ones * 30, h100e_per_chip=ones,
                            hbm_cap_chips=ones * 100)
    assert np.all(out == 100)


def test_a_leakage_free_blockade_lets_no_licensed_imports_through():
    demand = np.linspace(1, 5, P)
    assert np.all(m.licensed_imports(demand, access=0.0, practice=ones) == 0)
    assert np.all(m.leakage(demand, base_leak=np.zeros(P), enforcement=ones, enforcement_effect=ones * 0.5) == 0)


def test_no_licence_needed_means_all_demand_is_served():
    demand = np.linspace(1, 5, P)
    assert np.allclose(m.licensed_imports(demand, access=1.0, practice=ones * 0.2), demand)


@given(st.floats(min_value=0.0, max_value=0.9))
def test_revenue_share_raises_import_prices_exactly_by_its_rate(share: float):
    price = np.array([25_000.0, 30_000.0])
    assert np.allclose(m.price_wedge(price, share), price * (1 + share))


def test_revenue_share_out_of_range_is_an_error():
    with pytest.raises(ValueError):
        m.price_wedge(ones, 1.0)


def test_enforcement_lowers_leakage_and_never_below_zero():
    denied = ones * 100
    low = m.leakage(denied, ones * 0.2, enforcement=ones, enforcement_effect=ones * 0.5)
    high = m.leakage(denied, ones * 0.2, enforcement=np.zeros(P), enforcement_effect=ones * 0.5)
    assert np.all(low < high)
    assert np.all(m.leakage(denied, ones * 0.2, ones, ones * 3) == 0)


def test_quarterly_growth_compounds_to_the_yearly_rate():
    g = np.array([0.0, 0.1, 1.0])
    assert np.allclose((1 + m.quarterly(g)) ** 4, 1 + g)
    assert np.allclose(m.world_shipments(4, ones[:3], g, np.zeros(3)), 1 + g)


def test_diverted_demand_speeds_capacity_growth():
    cap = ones * 100
    base = m.capacity_next(cap, ones * 0.2, diverted_share=np.zeros(P), response=ones * 0.1)
    more = m.capacity_next(cap, ones * 0.2, diverted_share=ones * 0.5, response=ones * 0.1)
    assert np.all(more > base)
    assert np.all(m.capacity_next(cap, ones * 0.0, np.zeros(P), ones, shock=5.0) == 0)


def test_price_elasticity_and_cost_pass_through():
    d = ones * 100
    assert np.allclose(m.demand_after_price(d, ones * 1.0, ones * -1.2), d)
    assert np.all(m.demand_after_price(d, ones * 1.15, ones * -1.2) < d)
    assert np.allclose(m.cost_pass_through(d, ones * 0.0, ones * 0.1), d)


def test_leverage_is_the_stoppable_share():
    assert np.allclose(m.leverage(np.array([1.0, 0.0]), np.array([1.0, 0.0]), np.array([2.0, 0.0])), [0.25, 0.0])


def test_depreciation_and_training_run():
    assert np.allclose(m.depreciate(ones * 100, ones * 5), 95)
    run = m.largest_training_run(ones * 10_000, 1e15, ones * 0.5, ones * 100, ones * 0.4)
    assert np.allclose(run, 10_000 * 1e15 * 0.5 * 100 * 86_400 * 0.4)
