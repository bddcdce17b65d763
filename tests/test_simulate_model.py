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
from chipwatch.simulate.policy import LICENSABLE, china_access


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
    after = [i for i, q in enumerate(r.quarters) if q >= date(2023, 1, 1)]
    assert np.all(r.china_licensed[after] == 0)
    assert np.all(r.government_revenue[after] == 0)


def test_policies_share_draws_so_only_the_law_differs():
    results = compare(["historical", "blockade"], paths=100, seed=2)
    h, b = results["historical"], results["blockade"]
    first = [i for i, q in enumerate(h.quarters) if q < date(2022, 10, 7)]
    assert np.array_equal(h.installed[first], b.installed[first])  # before any rule, the same world
    assert np.all(h.output("US") == b.output("US"))                 # US supply is untouched by China's access
    assert any(x.output == "leverage" for x in bands(h))


def test_simulate_cli_writes_charts(tmp_path: Path):
    png, html = tmp_path / "s.png", tmp_path / "s.html"
    p = subprocess.run([sys.executable, "-m", "chipwatch", "simulate", "--policy", "historical", "--policy", "blockade",
                        "--paths", "50", "--plot", str(png), "--json"], capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    obj = json.loads(p.stdout)
    assert obj["calibrated"] is False and obj["bands"]
    assert png.stat().st_size > 10_000
    q = subprocess.run([sys.executable, "-m", "chipwatch", "simulate", "--policy", "historical", "--paths", "20", "--plot",
                        str(html)], capture_output=True, text=True, timeout=300)
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
    assert 1 <= report.effective_paths <= 200
    assert len(report.figures) == len(figures())
    assert "held-out" in report.held_out_inside
    p = subprocess.run([sys.executable, "-m", "chipwatch", "simulate", "--backtest", "--paths", "100", "--json"],
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["figures"]
