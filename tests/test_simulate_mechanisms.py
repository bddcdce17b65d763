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


# --- mechanisms added with the calibration (issue 5) and the counter-control lever (issue 7) ------


def test_growth_changes_pace_at_the_switch():
    early, late = ones[:1] * 1.0, ones[:1] * 0.0
    assert np.allclose(m.growth_factor(4, early, late, switch_t=8), 2.0)    # a year at +100 %
    assert np.allclose(m.growth_factor(12, early, late, switch_t=8), 4.0)   # two years, then flat
    assert np.allclose(m.growth_factor(0, early, late, switch_t=8), 1.0)


def test_regional_shares_drift_with_tilts_and_sum_to_one():
    shares = np.array([[0.5, 0.5]])
    out = m.regional_shares(shares, np.array([[0.2, 0.0]]), years=3)
    assert np.allclose(out.sum(axis=1), 1.0)
    assert out[0, 0] > 0.5
    assert np.allclose(m.regional_shares(shares, np.zeros((1, 2)), years=3), shares)


def test_reallocation_splits_unserved_supply_by_the_other_regions_shares():
    others = np.array([[3.0, 1.0]])
    out = m.reallocate(np.array([100.0]), np.array([0.8]), others)
    assert np.allclose(out, [[60.0, 20.0]])
    assert np.all(m.reallocate(np.array([100.0]), np.array([0.0]), others) == 0)


def test_yield_learns_up_to_its_ceiling_and_never_below_zero():
    y = m.yield_at(2.0, ones * 0.35, ones * 0.08, ones * 0.6)
    assert np.allclose(y, 0.51)
    assert np.allclose(m.yield_at(10.0, ones * 0.35, ones * 0.08, ones * 0.6), 0.6)
    assert np.all(m.yield_at(-10.0, ones * 0.35, ones * 0.08, ones * 0.6) == 0)
    assert np.allclose(m.good_dies(ones * 100, ones * 80, ones * 0.5), 4000)


def test_die_bank_and_stockpile_are_spent_exactly_once():
    bank, quarters = np.array([2.9e6, 1e6]), np.array([7.0, 4.0])
    drawn = sum(m.die_bank_draw(bank, quarters, t / 4) for t in range(-4, 40))
    assert np.allclose(drawn, bank)
    assert np.all(m.die_bank_draw(bank, quarters, -0.25) == 0)
    assert np.allclose(sum(m.stockpile_release(bank, quarters, t / 4) for t in range(40)), bank)


def test_hbm_binds_packaging_only_when_scarcer_than_dies():
    dies, dpp, spd = ones * 1000, ones * 2, ones * 4
    assert np.allclose(m.packages(dies, np.full(P, np.inf), dpp, spd), 500)      # HBM not controlled: dies bind
    assert np.allclose(m.packages(dies, ones * 800, dpp, spd), 100)             # 8 stacks a package
    assert np.all(m.packages(dies, np.zeros(P), dpp, spd) == 0)                 # no HBM, no accelerators


def test_domestic_hbm_starts_at_volume_production_and_grows():
    assert np.all(m.hbm_supply(-0.5, ones * 3e5, ones * 0.6) == 0)
    assert np.allclose(m.hbm_supply(1.0, ones * 3e5, ones * 0.6), 4.8e5)
    assert np.allclose(m.hbm_supply(np.array([-1.0, 0.0]), np.array([1.0, 1.0]), np.array([0.5, 0.5])), [0.0, 1.0])


def test_substitution_closes_the_gap_after_its_lag():
    share, per_year, lag = ones * 0.98, ones * 0.04, ones * 3.0
    assert np.allclose(m.substitution_gap(2.0, share, per_year, lag), 1.0)     # nothing before the lag
    later = m.substitution_gap(8.0, share, per_year, lag)
    assert np.all((later < 1.0) & (later > 0.0))
    assert np.all(m.substitution_gap(100.0, share, per_year, lag) == 0)
    # the larger China's share, the longer the gap stays open
    assert np.all(m.substitution_gap(8.0, ones * 0.6, per_year, lag) < later)


def test_material_price_rises_with_the_level_of_control():
    lic, ban, gap = ones * 0.8, ones * 0.5, ones
    assert np.all(m.material_price_rise(0, lic, ban, gap) == 0)
    assert np.allclose(m.material_price_rise(1, lic, ban, gap), 0.8)
    assert np.allclose(m.material_price_rise(2, lic, ban, gap), 1.3)
    assert np.allclose(m.material_price_rise(2, lic, ban, gap * 0.5), 0.65)


def test_counter_control_cost_shock_trims_supply_by_its_pass_through():
    rise = m.weighted_material_rise(ones * 1.0, ones * 0.5, ones * 0.6)
    assert np.allclose(rise, 0.8)
    supply = ones * 1000
    assert np.allclose(m.cost_pass_through(supply, rise, ones * 0.01), 1000 / 1.008)
    assert np.allclose(m.cost_pass_through(supply, rise, np.zeros(P)), supply)


def test_run_days_grow_then_stop_at_the_longest_run_worth_doing():
    ones = np.ones(3)
    assert np.allclose(m.run_days(0.0, ones * 90, ones * 0.4, ones * 270), 90)
    assert np.allclose(m.run_days(1.0, ones * 90, ones * 0.4, ones * 270), 126)
    assert np.allclose(m.run_days(10.0, ones * 90, ones * 0.4, ones * 270), 270)


def test_largest_run_output_follows_installed_compute_and_the_run_length():
    from chipwatch.simulate import run

    r = run("historical", paths=50, seed=2)
    us, cn = r.output("largest_run_US"), r.output("largest_run_CN")
    assert us.shape == cn.shape == r.installed.shape[:2]
    assert np.all(us > 0) and np.all(np.isfinite(us))
    # FLOP per H100e installed rises only while runs lengthen: flat once run_days_max is reached.
    per = us / r.installed[:, :, 0]
    assert np.all(np.diff(per, axis=0) >= -1e-6 * per[1:])
    assert np.allclose(per[-1], per[-2])
