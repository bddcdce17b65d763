"""Screening: the matcher over the bundled sample list, the CLI contract, the affiliates rule and
the determination that screens its parties."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from chipwatch.determine import determine, transaction
from chipwatch.screen import THRESHOLD, screen
from chipwatch.screen.affiliates import Holding, find_affiliates, read_ownership


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "chipwatch", *args], capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize(("query", "expected"), [
    ("Sophgo Technologies Ltd", "Sophgo Technologies Ltd."),
    ("SOPHGO TECHNOLOGIES LIMITED", "Sophgo Technologies Ltd."),
    ("算能科技有限公司", "Sophgo Technologies Ltd."),                     # Chinese script, via the brand lexicon
    ("商湯集團有限公司", "Sensetime Group Limited"),                      # traditional characters
    ("商汤集团有限公司", "Sensetime Group Limited"),                      # simplified
    ("Hauwei Technologies", "Huawei Technologies Co., Ltd."),            # transposed letters
    ("Hua Wei Technologies Company Limited", "Huawei Technologies Co., Ltd."),  # spaced pinyin, long legal form
    ("摩尔线程智能科技（北京）有限责任公司", "Moore Thread Intelligent Technology (Beijing) Co., Ltd."),
])
def test_true_variants_hit_the_right_entry(query: str, expected: str):
    hits = screen(query).hits
    assert hits and hits[0].name == expected, [(h.name, h.score) for h in hits]
    assert hits[0].score >= THRESHOLD
    assert hits[0].explanation and hits[0].features


@pytest.mark.parametrize("query", ["Alibaba Group Holding Limited", "Lenovo Group Limited", "Shenzhen Hualong Technologies",
                                   "Tencent Technology (Shenzhen) Co., Ltd.", "比亚迪股份有限公司", "Technology Co., Ltd."])
def test_hard_negatives_do_not_hit(query: str):
    assert screen(query).hits == []


def test_every_answer_names_the_list_version_and_warns_about_the_sample():
    result = screen("Sophgo")
    assert result.list_versions and all(v.version_id == 0 for v in result.list_versions)
    assert any("SAMPLE" in w for w in result.warnings)


def test_screen_cli_contract():
    p = run("screen", "算能科技有限公司", "--country", "CN", "--json")
    assert p.returncode == 0, p.stderr
    hits = json.loads(p.stdout)
    assert isinstance(hits, list) and hits
    for key in ("name", "list", "score", "entry_id", "cite", "explanation"):
        assert key in hits[0]
    assert hits[0]["cite"] == "90 FR 4622, 1/16/25"
    none = run("screen", "Alibaba Group", "--json")
    assert none.returncode == 0 and json.loads(none.stdout) == []
    bad = run("screen", "Sophgo", "--country", "Atlantis")
    assert bad.returncode == 2 and "unknown country" in bad.stderr


def test_screen_batch(tmp_path: Path):
    parties = tmp_path / "parties.csv"
    parties.write_text("name,country\nSophgo Technologies,CN\nAlibaba Group,CN\n,CN\n浪潮集团有限公司,CN\n", encoding="utf-8")
    out = tmp_path / "hits.csv"
    p = run("screen-batch", str(parties), "-o", str(out), "--json")
    assert p.returncode == 0, p.stderr
    summary = json.loads(p.stdout)
    assert summary["parties"] == 4 and summary["bad_rows"] == [{"row": 3, "error": "name: empty"}]
    import polars as pl

    hits = pl.read_csv(out)
    assert set(hits["row"].to_list()) == {1, 4}


def test_affiliates_fixpoint_with_chain():
    table = [
        Holding(owner="Huawei Technologies Co., Ltd.", owned="Alpha Holdings", percent=30, as_of=date(2025, 1, 1)),
        Holding(owner="Sophgo Technologies Ltd.", owned="Alpha Holdings", percent=25, as_of=date(2025, 1, 1)),
        Holding(owner="Alpha Holdings", owned="Beta Trading", percent=60, as_of=date(2025, 1, 1)),
        Holding(owner="Gamma Capital", owned="Delta Systems", percent=90, as_of=date(2025, 1, 1)),
    ]
    listed = {"Huawei Technologies Co., Ltd.", "Sophgo Technologies Ltd."}
    on = find_affiliates(table, lambda n: n in listed, date(2025, 10, 1))
    assert on.rule_in_force is True and on.threshold_pct == 50
    names = {a.entity: a for a in on.affiliates}
    assert set(names) == {"Alpha Holdings", "Beta Trading"}            # 30 + 25 in aggregate; then indirect
    assert names["Alpha Holdings"].listed_share == 55
    assert any("Alpha Holdings (affiliate) —60%→ Beta Trading" in c for c in names["Beta Trading"].chain)
    suspended = find_affiliates(table, lambda n: n in listed, date(2026, 3, 1))
    assert suspended.rule_in_force is False and "not in force" in suspended.note
    before = find_affiliates(table, lambda n: n in listed, date(2025, 6, 1))
    assert before.rule_in_force is False and "not yet in force" in before.note


def test_ownership_file_errors_name_the_line(tmp_path: Path):
    f = tmp_path / "own.csv"
    f.write_text("owner,owned,percent,date\nA,B,60,2025-01-01\nA,C,abc,2025-01-01\n", encoding="utf-8")
    with pytest.raises(Exception, match="line 3"):
        read_ownership(f)


def test_determine_screens_a_named_end_user():
    txn = transaction(item="A30", destination="DE", date=date(2025, 6, 1),
                      end_user={"name": "Sophgo Technologies", "country": "CN", "hq": "CN", "owned_by_listed_pct": 0})
    d = determine(txn)
    assert d.screening and d.screening[0].listed is True
    assert "EL" in d.reason_code and d.licence_required is True
    assert any(s.check.startswith("screen the end user") for s in d.trace)
    clear = determine(transaction(item="A30", destination="DE", date=date(2025, 6, 1),
                                  end_user={"name": "Siemens AG", "country": "DE", "hq": "DE", "owned_by_listed_pct": 0}))
    assert clear.screening[0].listed is False and clear.licence_required is False


def test_a_footnote_4_hit_brings_a_foreign_made_item_under_the_ear():
    # A foreign direct product (e.g. made abroad with US technology) is subject to the EAR when a
    # footnote 4 entity is a party (15 CFR 734.9(e)(2)); Sophgo carries footnote 4.
    base = {"item": "V100", "destination": "CN", "date": date(2025, 6, 1), "origin": "foreign_direct_product"}
    listed = determine(transaction(**base, end_user={"name": "Sophgo Technologies", "hq": "CN", "owned_by_listed_pct": 0}))
    assert listed.subject_to_ear is True and listed.licence_required is True
    other = determine(transaction(**base, end_user={"name": "Example Trading", "hq": "CN", "owned_by_listed_pct": 0}))
    assert other.subject_to_ear is False


def test_order_book_rows_with_an_end_user_name_are_screened(tmp_path: Path):
    import polars as pl

    from chipwatch.batch import determine_frame

    book = pl.DataFrame({"item": ["V100", "V100", "V100"], "quantity": ["1", "1", "1"], "destination": ["DE", "DE", "DE"],
                         "date": ["2025-06-01"] * 3, "end_user_name": ["Sophgo Technologies", "Siemens AG", "Sophgo Technologies"],
                         "end_user_hq": ["CN", "DE", "CN"], "owned_by_listed_pct": ["0", "0", "0"],
                         "party_listed": [None, None, "no"]})
    out = determine_frame(book)
    assert out["reason_code"].to_list() == ["EL", "NLR", "NLR"]  # a stated "no" is not overridden


def test_address_agreement_and_address_only_entries():
    from chipwatch.screen.match import ScreeningIndex
    from chipwatch.screen.model import ListEntry

    entries = [
        ListEntry(list_id="EL", entry_id="EL-1", name="Example Photonics Co., Ltd.", country="CN",
                  addresses=("No. 8 Keji Road, Nanshan District, Shenzhen, China",), cite="90 FR 1"),
        ListEntry(list_id="EL", entry_id="EL-2", name="Address 07", entity_type="address", country="CN",
                  addresses=("Unit 9, 12/F Harbour Centre, 25 Harbour Road, Wan Chai, Hong Kong",), cite="90 FR 2"),
    ]
    index = ScreeningIndex(entries)
    same = index.screen("Exampel Photonics", address="8 Keji Road, Nanshan, Shenzhen")  # a slip, so the name scores < 1
    other = index.screen("Exampel Photonics", address="1 Main Street, Springfield")
    assert same[0].score > other[0].score
    assert any(f.name == "address" and "agrees" in f.detail for f in same[0].features)
    assert any(f.name == "address" and "differs" in f.detail for f in other[0].features)
    by_address = index.screen("Harbour Light Trading Limited", address="Unit 9, 12/F, Harbour Centre, 25 Harbour Rd, Wan Chai, HK")
    assert [h.entry_id for h in by_address] == ["EL-2"] and "address-only" in by_address[0].explanation
    assert index.screen("Harbour Light Trading Limited") == []
