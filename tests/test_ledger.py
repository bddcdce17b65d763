"""The compute ledger: holdings in TPP / H100-equivalents / FLOP/s, caps and quotas from the law
data (and a licences file), revenue shares from the determination's conditions."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from chipwatch.batch import read_orders
from chipwatch.ledger import h100_tpp, ledger, read_licences

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def _book(rows: list[tuple[str, str, int, str, str]], value: float | None = None) -> pl.DataFrame:
    return pl.DataFrame({"date": [r[0] for r in rows], "chip": [r[1] for r in rows], "quantity": [r[2] for r in rows],
                         "exporter": ["NVIDIA"] * len(rows), "destination": [r[3] for r in rows],
                         "consignee": [r[4] for r in rows], "value_usd": [value] * len(rows)})


def test_h100_equivalents_follow_the_h100_tpp():
    assert h100_tpp() == 15832  # H100 SXM: 1,979 dense FP8 TFLOPS x 8 bits (the AI Diffusion rule's unit)
    r = ledger(_book([("2024-06-01", "H100", 100, "DE", "A"), ("2024-06-01", "A100 SXM4 80GB", 100, "DE", "B")]))
    de = r.by_country[0]
    assert de["chips"] == 200 and de["tpp"] == pytest.approx(100 * 15832 + 100 * 4992)
    assert de["h100e"] == pytest.approx(100 + 100 * 4992 / 15832)
    assert de["fp16_flops"] == pytest.approx(100 * 989.5e12 + 100 * 312e12)


def test_tier2_allocation_applies_only_where_the_rule_is_applied():
    # 50,000 H100 = 791,600,000 TPP: just over the 790,000,000 Tier 2 allocation.
    book = _book([("2025-06-01", "H100", 25000, "IN", "A"), ("2025-07-01", "H100", 25000, "IN", "B")])
    assert not [e for e in ledger(book).exceeded if "Tier 2" in e.cap]  # not enforced since 2025-05-13
    kept = [e for e in ledger(book, regime="diffusion-caps-kept").exceeded if "Tier 2" in e.cap]
    assert [(e.subject, str(e.date), e.row) for e in kept] == [("IN", "2025-07-01", 2)]
    assert kept[0].limit == 790_000_000 and kept[0].reached == 50000 * 15832
    assert [e for e in ledger(book, include_announced=False).exceeded if "Tier 2" in e.cap]  # as written


def test_h200_volume_condition_against_us_shipments():
    book = _book([("2026-03-01", "H200", 1000, "US", "US buyer"), ("2026-03-02", "H200", 500, "CN", "C1"),
                  ("2026-03-03", "H200", 1, "CN", "C2")])
    events = [e for e in ledger(book).exceeded if e.cap.startswith("2026 policy")]
    assert [(e.row, e.reached, e.limit) for e in events] == [(3, 501.0, 500.0)]  # 50 % of 1,000 reached exactly at row 2


def test_revenue_share_is_marked_as_announced_and_can_be_set_aside():
    book = _book([("2025-09-01", "H20", 1000, "CN", "C1")], value=10_000_000)
    due = ledger(book).revenue_due
    assert [(d["condition"], d["due_usd"], d["basis"]) for d in due] == [("REVSHARE", 1_500_000, "announcement")]
    assert ledger(book, include_announced=False).revenue_due == []


def test_licence_quota_and_validity():
    r = ledger(read_orders(EXAMPLES / "shipments.csv"), licences=read_licences(EXAMPLES / "licences.csv"))
    quota = [e for e in r.exceeded if e.cap == "licence quantity"]
    assert [(e.subject, e.row, e.reached, e.limit) for e in quota] == [("UAE-2026-001", 9, 110000.0, 100000.0)]
    assert r.bad_rows and r.bad_rows[0]["row"] == 10 and "H1000" in r.bad_rows[0]["error"]


def test_ledger_cli_json():
    p = subprocess.run([sys.executable, "-m", "chipwatch", "ledger", str(EXAMPLES / "shipments.csv"), "--licences",
                        str(EXAMPLES / "licences.csv"), "--json"], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    obj = json.loads(p.stdout)
    assert {"by_country", "by_consignee", "exceeded", "revenue_due", "bad_rows"} <= set(obj)
    bad = subprocess.run([sys.executable, "-m", "chipwatch", "ledger", str(EXAMPLES / "licences.csv")],
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "shipments lack column" in bad.stderr
