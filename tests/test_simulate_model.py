"""The quarterly model: the law decides access each quarter, seeds reproduce, policies differ only
through the law, and the CLI writes its charts."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date
from pathlib import Path

import numpy as np

from chipwatch.simulate import bands, compare, run
from chipwatch.simulate.model import CHIP_CLASSES
from chipwatch.simulate.policy import LICENSABLE, china_access, cn_level, hbm_controlled


def test_access_comes_from_the_licence_engine():
    assert china_access("historical", "H20 (HGX)", date(2024, 1, 1)).access == 1.0   # below the 3A090 lines
    assert china_access("historical", "H20 (HGX)", date(2025, 7, 1)).access == 0.0   # is-informed letter, no licences yet
    h20 = china_access("historical", "H20 (HGX)", date(2025, 10, 1))
    assert h20.access == LICENSABLE and h20.wedge == 0.15                            # licences against the reported 15 %
    h200 = china_access("historical", "H200 SXM", date(2026, 4, 1))
    assert h200.access == LICENSABLE and h200.wedge == 0.25                          # 2026 policy, 25 % duty
    assert china_access("historical", "B200 (HGX/DGX)", date(2026, 4, 1)).access == 0.0
    assert all(china_access("blockade", c, date(2026, 4, 1)).access == 0.0 for c in ("B200 (HGX/DGX)", "H200 SXM", "H20 (HGX)"))


def test_same_seed_same_numbers_and_different_seed_different():
    a = run("historical", 50, seed=3)
    b = run("historical", 50, seed=3)
    c = run("historical", 50, seed=4)
    assert np.array_equal(a.installed, b.installed)
    assert not np.array_equal(a.installed, c.installed)


def test_a_blockade_admits_no_licensed_imports_once_the_rules_apply():
    r = run("blockade", 100, seed=1)
    after = [i for i, q in enumerate(r.quarters) if q >= date(2024, 1, 1)]
    assert np.all(r.china_licensed[after] == 0)
    assert np.all(r.government_revenue[after] == 0)
    # in 2023 the blockade regime still lets through only what no rule covered yet: the A800/H800,
    # made to stay under the 2022 interconnect line (the regime file decides, not the simulator)
    in_2023 = [i for i, q in enumerate(r.quarters) if q.year == 2023]
    sold = {c for c, units in r.licensed_units.items() if units[in_2023].sum() > 0}
    assert sold <= {"A800 SXM4 80GB", "H800 SXM5"}


def test_policies_share_draws_so_only_the_law_differs():
    results = compare(["historical", "blockade"], paths=100, seed=2)
    h, b = results["historical"], results["blockade"]
    first = [i for i, q in enumerate(h.quarters) if q < date(2022, 10, 7)]
    assert np.array_equal(h.installed[first], b.installed[first])  # before any rule, the same world
    assert np.all(b.output("US") >= h.output("US") - 1e-6)          # what China may not buy is partly sold elsewhere
    assert any(x.output == "leverage" for x in bands(h))
    # with no reallocation, US supply is untouched by China's access
    keep = {"production.reallocation_share": 0.0}
    h0, b0 = run("historical", 20, seed=2, overrides=keep), run("blockade", 20, seed=2, overrides=keep)
    assert np.allclose(h0.output("US"), b0.output("US"))


def test_simulate_cli_writes_charts(tmp_path: Path):
    png, html = tmp_path / "s.png", tmp_path / "s.html"
    p = subprocess.run([sys.executable, "-m", "chipwatch", "simulate", "--policy", "historical", "--policy", "blockade",
                        "--paths", "50", "--plot", str(png), "--json"], capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    obj = json.loads(p.stdout)
    assert obj["calibrated"] is True and obj["bands"]
    assert "held out" in obj["note"] and "calibrated on" in obj["note"]
    assert png.stat().st_size > 10_000
    q = subprocess.run([sys.executable, "-m", "chipwatch", "simulate", "--policy", "historical", "--paths", "20", "--plot",
                        str(html), "--uncalibrated"], capture_output=True, text=True, timeout=300)
    assert q.returncode == 0, q.stderr
    assert "plotly" in html.read_text(encoding="utf-8")[:200000].lower()
    bad = subprocess.run([sys.executable, "-m", "chipwatch", "simulate", "--policy", "no-such-regime"],
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2


def test_backtest_report_is_produced_with_held_out_figures_kept_apart():
    from chipwatch.simulate.backtest import backtest, figures

    report = backtest(200, seed=1)
    compared = [f for f in report.figures if f.compared]
    assert compared and all(f.prior_band and f.posterior_band for f in compared)
    assert any(f.use == "held_out" for f in compared) and any(f.use == "fit" for f in compared)
    assert 1 <= report.effective_paths <= 200 and 1 <= report.distinct_paths <= 200
    assert len(report.figures) == len(figures())
    assert "held-out" in report.held_out_inside
    assert report.fit_compared + report.held_out_compared == len(compared)
    assert report.summary().startswith(f"calibrated on {report.fit_compared} published figures")
    p = subprocess.run([sys.executable, "-m", "chipwatch", "simulate", "--backtest", "--paths", "100", "--json"],
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["figures"]


def test_a_rule_that_takes_effect_mid_quarter_governs_the_months_after_it():
    r = run("historical", 5, seed=0)
    h800 = CHIP_CLASSES.index("H800 SXM5")
    q4_2023 = dict(r.access)[date(2023, 10, 1)]
    assert q4_2023[h800] == 2 / 3                      # Oct and Nov open; the Oct-2023 rule applies from Nov 17
    assert dict(r.access)[date(2024, 1, 1)][h800] == 0.0


def test_the_hbm_rule_from_the_law_data_leaves_only_the_stockpile():
    assert not hbm_controlled("historical", date(2024, 12, 1))
    assert hbm_controlled("historical", date(2025, 1, 1))
    none = {"china_domestic.hbm_stockpile_stacks": 0.0, "china_domestic.cxmt_hbm_stacks_per_quarter": 0.0,
            "production.supplier_share_2022_china_domestic": 0.0}
    r = run("historical", 3, seed=0, central=True, overrides=none)
    before = [i for i, q in enumerate(r.quarters) if q < date(2025, 1, 1)]
    after = [i for i, q in enumerate(r.quarters) if q >= date(2025, 1, 1)]
    assert r.china_domestic_units[before].sum() > 0
    assert np.all(r.china_domestic_units[after] == 0)   # no HBM, no domestic accelerators


def test_counter_controls_come_from_china_s_law_data_and_only_raise_costs_outside_china():
    assert cn_level("gallium", date(2023, 7, 1)) == 0
    assert cn_level("gallium", date(2023, 8, 1)) == 1     # licensing from Aug 2023
    assert cn_level("germanium", date(2025, 1, 1)) == 2   # the Dec-2024 measure for the US
    on = run("historical", 50, seed=5)
    off = run("historical", 50, seed=5, counter_controls=False)
    pre = [i for i, q in enumerate(on.quarters) if q < date(2023, 8, 1)]
    post = [i for i, q in enumerate(on.quarters) if q >= date(2023, 10, 1)]
    assert np.array_equal(on.installed[pre], off.installed[pre])
    assert np.all(on.price[post] >= off.price[post]) and np.any(on.price[post] > off.price[post])
    assert np.all(on.added[post][:, :, 0] <= off.added[post][:, :, 0])
    # a zero pass-through makes the lever inert
    flat = run("historical", 5, seed=1, overrides={"counter_controls.pass_through": 0.0})
    flat_off = run("historical", 5, seed=1, overrides={"counter_controls.pass_through": 0.0}, counter_controls=False)
    assert np.array_equal(flat.installed, flat_off.installed)


def test_the_calibration_never_sees_held_out_figures(monkeypatch):
    from chipwatch.simulate import backtest as bt

    base = bt.backtest(60, seed=2)
    moved = [dict(f, value=f["value"] * 7, low=None, high=None) if f["use"] == "held_out" else f for f in bt.figures()]
    monkeypatch.setattr(bt, "figures", lambda: moved)
    again = bt.backtest(60, seed=2)
    band = {f.id: f.posterior_band for f in base.figures}
    assert all(band[f.id] == f.posterior_band for f in again.figures)  # same posterior whatever the held-out values


def test_counter_controls_come_from_chinas_law_and_off_is_a_regime_file():
    from datetime import date

    from chipwatch.simulate.policy import BAN, LICENCE, NO_COUNTER_CONTROLS, NONE, cn_level

    assert cn_level("gallium", date(2023, 7, 31)) == NONE  # 2023 No. 23 takes effect 2023-08-01
    assert cn_level("gallium", date(2023, 8, 1)) == LICENCE
    assert cn_level("germanium", date(2024, 12, 3)) == BAN  # 2024 No. 46 Art. 2, to the US
    assert cn_level("germanium", date(2025, 11, 9)) == LICENCE  # Art. 2 suspended by 2025 No. 72
    assert cn_level("gallium", date(2025, 1, 1), NO_COUNTER_CONTROLS) == NONE
    on = run("historical", paths=40, seed=5)
    off = run("historical", paths=40, seed=5, counter_controls=False)
    assert np.all(on.price >= off.price) and np.any(on.price > off.price)
