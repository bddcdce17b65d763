"""China's export controls (CN-ECL) as a second jurisdiction: the case files under
tests/cases/cn_ecl (one per announcement: item × destination × end user × date → answer →
source), the item look-up, `cn_restriction`, `determine_in`, the law loader's jurisdiction
dimension, and `chipwatch determine --jurisdiction`.

A case is as in tests/test_determine_cases.py (name, transaction, regime, expect, source, note),
with these expect keys: licence_required, reason_code, reasons (exact set), review_policy
(code/policy/uncertain substrings), warnings (exact set), missing_facts (with branch substrings),
subject (subject to CN-ECL), level (cn_restriction's level of the answer), item (substring of
the item's name), trace (substrings each found in some step's result), error.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml

from case_checks import Mismatches, check_common
from chipwatch.cn_ecl import determine_cn, find_item, load_cn_law
from chipwatch.determine import Determination, determine, transaction
from chipwatch.errors import InvalidInput
from chipwatch.jurisdictions import JURISDICTIONS, cn_restriction, determine_in, restriction_level
from chipwatch.law import load_law

CASE_DIR = Path(__file__).parent / "cases" / "cn_ecl"
SRC = Path(__file__).parents[1] / "src" / "chipwatch"
CASE_KEYS = {"name", "transaction", "regime", "expect", "source", "note"}
EXPECT_KEYS = {"licence_required", "reason_code", "reasons", "review_policy", "warnings", "missing_facts", "subject",
               "level", "item", "trace", "error"}
# One case file per announcement the issue names (and one for the lists).
ANNOUNCEMENT_FILES = {"2023-23", "2023-39", "2024-33", "2024-46-art1", "2024-46-art2", "2025-72", "2025-10", "2025-18",
                      "2025-55-58", "2025-61", "2025-62", "2025-70", "lists"}


def _load() -> list[Any]:
    params = []
    for path in sorted(CASE_DIR.glob("*.yaml")):
        for case in yaml.safe_load(path.read_text(encoding="utf-8"))["cases"]:
            params.append(pytest.param(case, id=f"{path.stem}: {case['name']}"))
    return params


CASES = _load()


def _trace(d: Determination) -> str:
    head = (f"licence_required={d.licence_required} reason_code={d.reason_code} subject={d.subject_to_ear} "
            f"review={(d.review_policy.code, d.review_policy.policy) if d.review_policy else None} "
            f"warnings={[w.code for w in d.warnings]} missing={[(m.fact, m.branches) for m in d.missing_facts]}")
    return head + "\n" + "\n".join(f"  {s.check} -> {s.result}" for s in d.trace)


def _compare(d: Determination, expect: dict[str, Any]) -> list[str]:
    check = Mismatches()
    check_common(d, expect, check, missing_exact=False)
    if "subject" in expect:
        check("subject", d.subject_to_ear is expect["subject"], d.subject_to_ear, expect["subject"])
    if "review_policy" in expect:
        rp, want = d.review_policy, expect["review_policy"]
        got_rp = (rp.code, rp.policy, rp.uncertain) if rp else None
        if want is None:
            check("review_policy", rp is None, got_rp, None)
        else:
            ok = rp is not None and rp.code == want.get("code", rp.code) \
                and want.get("policy", "").lower() in rp.policy.lower() \
                and want.get("uncertain", "") in (rp.uncertain or "")
            check("review_policy", ok, got_rp, want)
    if "level" in expect:
        check("level", restriction_level(d) == expect["level"], restriction_level(d), expect["level"])
    if "item" in expect:
        check("item", expect["item"] in d.item, d.item, expect["item"])
    for sub in expect.get("trace", []):
        check("trace", any(sub in s.result for s in d.trace), [s.result for s in d.trace], sub)
    return check


def test_a_case_file_per_announcement() -> None:
    stems = {p.stem for p in CASE_DIR.glob("*.yaml")}
    missing = {a for a in ANNOUNCEMENT_FILES if not any(s.startswith(a) for s in stems)}
    assert not missing, f"no case file for {sorted(missing)}"


def test_cases_well_formed() -> None:
    problems = []
    for p in CASES:
        case = p.values[0]
        if set(case) - CASE_KEYS:
            problems.append(f"{p.id}: unknown keys {sorted(set(case) - CASE_KEYS)}")
        if not str(case.get("source", "")).strip():
            problems.append(f"{p.id}: no source")
        if not case.get("expect") or set(case["expect"]) - EXPECT_KEYS:
            problems.append(f"{p.id}: bad expect block {case.get('expect')}")
    ids = [p.id for p in CASES]
    problems += [f"duplicate case: {i}" for i in sorted({i for i in ids if ids.count(i) > 1})]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("case", CASES)
def test_cn_ecl_case(case: dict[str, Any]) -> None:
    expect = case["expect"]
    law = load_cn_law(case.get("regime"))
    if "error" in expect:
        with pytest.raises(InvalidInput) as err:
            determine_cn(transaction(**case["transaction"]), law=law)
        assert expect["error"] in str(err.value), str(err.value)
        return
    d = determine_cn(transaction(**case["transaction"]), law=law)
    assert d.jurisdiction == "CN-ECL"
    assert all(r.cite and r.source for r in d.reasons)
    errors = _compare(d, expect)
    if errors:
        pytest.fail("\n".join(errors) + "\n\n" + _trace(d), pytrace=False)


# --- item look-up -------------------------------------------------------------------------------


@pytest.mark.parametrize(("query", "item_id", "by"), [
    ("镓", "ga.metal", "class"), ("gallium", "ga.metal", "class"), ("氮化镓", "ga.nitride", "name"),
    ("GaN", "ga.nitride", "name"), ("ｇａｎ", "ga.nitride", "name"), ("2850001901", "ga.nitride", "hs"),
    ("锗", "ge.metal", "class"), ("GeO2", "ge.dioxide", "name"), ("1C902.b", "re.sm.oxide", "entry"),
    ("1c902.B", "re.sm.oxide", "entry"), ("rare_earths", "re.dy.metal", "class"), ("2C902.a", "superhard.diamond_micropowder", "entry"),
    ("2850.00.1901", "ga.nitride", "hs"),
])
def test_find_item(query: str, item_id: str, by: str) -> None:
    m = find_item(query)
    assert (m.item.id, m.matched_by) == (item_id, by)


def test_find_item_shared_hs_code_names_the_other_items() -> None:
    m = find_item("8112921090")
    assert m.item.cls == "germanium" and {"ge.zone_refined", "ge.epi_substrate"} <= set(m.candidates)


def test_find_item_unknown_is_one_line_error() -> None:
    with pytest.raises(InvalidInput, match="nearest: gallium"):
        find_item("galium")
    with pytest.raises(InvalidInput, match="HS code"):
        find_item("9999999999")


def test_every_item_names_known_lists_and_a_source() -> None:
    from chipwatch.cn_ecl.items import load_items

    law = load_cn_law()
    lists_in_rules = json.dumps([e.value for r in law.rules.values() for e in r.timeline.entries], default=str)
    for item in load_items().values():
        assert item.source and item.lists, item.id
        for lst in item.lists:
            assert lst in lists_in_rules, (item.id, lst)


# --- cn_restriction and determine_in ------------------------------------------------------------


@pytest.mark.parametrize(("material", "dest", "on", "level"), [
    ("gallium", "US", date(2023, 7, 31), "none"),
    ("gallium", "US", date(2023, 8, 1), "licence"),
    ("gallium", "US", date(2024, 12, 2), "licence"),
    ("gallium", "US", date(2024, 12, 3), "presumption of denial"),
    ("germanium", "US", date(2025, 11, 8), "presumption of denial"),
    ("germanium", "US", date(2025, 11, 9), "licence"),
    ("germanium", "US", date(2026, 11, 27), "licence"),
    ("germanium", "US", date(2026, 11, 28), "presumption of denial"),
    ("gallium", "DE", date(2024, 12, 3), "licence"),
    ("antimony", "US", date(2024, 9, 14), "none"),
    ("antimony", "US", date(2024, 12, 3), "presumption of denial"),
    ("graphite", "US", date(2024, 12, 3), "licence (strict review)"),
    ("graphite", "JP", date(2024, 12, 3), "licence"),
    ("rare_earths", "US", date(2025, 4, 3), "none"),
    ("rare_earths", "US", date(2025, 4, 4), "licence"),
    ("holmium", "JP", date(2026, 11, 10), "none"),
    ("holmium", "JP", date(2026, 11, 11), "licence"),
])
def test_cn_restriction(material: str, dest: str, on: date, level: str) -> None:
    assert cn_restriction(material, dest, on) == level


def test_cn_restriction_other_reading_of_the_suspension() -> None:
    assert cn_restriction("germanium", "US", date(2026, 11, 28), regime="cn-suspensions-extended") == "licence"


def test_cn_restriction_bad_input() -> None:
    with pytest.raises(InvalidInput):
        cn_restriction("unobtainium", "US", date(2025, 1, 1))
    with pytest.raises(InvalidInput, match="ZZ"):
        cn_restriction("gallium", "ZZ", date(2025, 1, 1))


def test_determine_in_picks_from_the_exporter() -> None:
    chip_from_cn = transaction(item="H100", destination="DE", ships_from="CN", date=date(2025, 6, 1))
    assert [d.jurisdiction for d in determine_in(chip_from_cn)] == ["US-EAR", "CN-ECL"]
    foreign_chip_from_cn = transaction(item="H100", destination="DE", ships_from="CN", origin="foreign", date=date(2025, 6, 1))
    assert [d.jurisdiction for d in determine_in(foreign_chip_from_cn)] == ["CN-ECL"]
    gallium = transaction(material="gallium", destination="US", ships_from="CN", date=date(2025, 6, 1))
    assert [d.jurisdiction for d in determine_in(gallium)] == ["CN-ECL"]
    chip_from_us = transaction(item="H100", destination="CN", date=date(2025, 6, 1))
    assert [d.jurisdiction for d in determine_in(chip_from_us)] == ["US-EAR"]
    assert [d.jurisdiction for d in determine_in(gallium, "all")] == list(JURISDICTIONS)
    assert [d.jurisdiction for d in determine_in(gallium, "us-ear")] == ["US-EAR"]


def test_determine_in_bad_jurisdiction() -> None:
    txn = transaction(material="gallium", destination="US", ships_from="CN", date=date(2025, 6, 1))
    with pytest.raises(InvalidInput, match=r"unknown jurisdiction 'EU'.*US-EAR, CN-ECL, all"):
        determine_in(txn, "EU")


def test_us_ear_answer_for_a_material_is_out_of_scope_not_invented() -> None:
    d = determine(transaction(material="gallium", destination="US", ships_from="CN", date=date(2025, 6, 1)))
    assert d.jurisdiction == "US-EAR" and d.eccn is None and d.licence_required is None
    assert d.reason_code == "OUT-OF-SCOPE" and "outside the 3A090/4A090 scope" in d.uncertain[0]


def test_transaction_keeps_one_item_and_consistent_values() -> None:
    with pytest.raises(InvalidInput, match="exactly one of item"):
        transaction(item="H100", material="gallium", destination="US", date=date(2025, 6, 1))
    with pytest.raises(InvalidInput, match="together"):
        transaction(material="magnet", prc_re_value=1, destination="US", date=date(2025, 6, 1))
    with pytest.raises(InvalidInput, match="cannot exceed"):
        transaction(material="magnet", prc_re_value=5, item_value=1, destination="US", date=date(2025, 6, 1))


# --- the law data -------------------------------------------------------------------------------


def test_law_per_jurisdiction() -> None:
    us, cn = load_law(), load_law(jurisdiction="CN-ECL")
    assert us.jurisdiction == "US-EAR" and cn.jurisdiction == "CN-ECL"
    assert not set(us.params) & set(cn.params) and not set(us.rules) & set(cn.rules)
    pv = cn.value("cn_ecl.no61_prc_re_content_min_pct", date(2025, 12, 1))
    assert pv.value == 0.1 and "No. 61" in pv.source
    with pytest.raises(InvalidInput, match="unknown jurisdiction"):
        load_law(jurisdiction="EU")


def test_every_cn_value_has_source_cite_and_known_rule() -> None:
    law = load_cn_law()
    for tl in [*law.params.values(), *(r.timeline for r in law.rules.values())]:
        for e in tl.entries:
            assert e.source and e.cite, tl.name
            assert e.rule in law.rule_versions, (tl.name, e.rule)
            assert law.rule_versions[e.rule].effective <= e.effective, (tl.name, e.rule)


def test_suspension_ends_are_marked_uncertain() -> None:
    law = load_cn_law()
    for rid in ("CN-2025-70-END", "CN-2025-72-END"):
        assert "UNCERTAIN" in (law.rule_versions[rid].note or "")
    for r in law.rules.values():
        for e in r.timeline.entries:
            if e.rule in ("CN-2025-70-END", "CN-2025-72-END"):
                assert e.uncertain, (r.name, e.effective)


def test_a_regime_overrides_each_jurisdiction_separately() -> None:
    us_hist, us_ext = load_law("historical"), load_law("cn-suspensions-extended")
    assert set(us_hist.rules) == set(us_ext.rules)
    assert all(not r.timeline.overrides for r in us_ext.rules.values())
    cn_ext = load_law("cn-suspensions-extended", jurisdiction="CN-ECL")
    assert cn_ext.rules["cn_ecl.rev.art2-us"].timeline.overrides


def test_no_cn_law_value_written_in_cn_code() -> None:
    """The CN line values (0.1 %, 14 nm, 256 layers, 50 %) live in the law data, not in the code."""
    law = load_cn_law()
    values = {float(e.value) for tl in law.params.values() for e in tl.entries
              if isinstance(e.value, (int, float)) and not isinstance(e.value, bool) and e.value not in (0, 1, 2)}
    assert {0.1, 14.0, 256.0, 50.0} <= values
    for py in [*(SRC / "cn_ecl").glob("*.py"), SRC / "jurisdictions.py"]:
        tree = ast.parse(py.read_text(encoding="utf-8"))
        found = {float(n.value) for n in ast.walk(tree) if isinstance(n, ast.Constant)
                 and isinstance(n.value, (int, float)) and not isinstance(n.value, bool)} & values
        assert not found, f"{py.name} writes CN law values {sorted(found)}"


# --- CLI ----------------------------------------------------------------------------------------


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "chipwatch", *args], capture_output=True, text=True, timeout=120)


def test_cli_jurisdiction_all_shows_both_answers_side_by_side() -> None:
    p = _run("determine", "--material", "gallium", "--to", "US", "--from", "CN", "--date", "2024-12-10",
             "--jurisdiction", "all", "--not-military", "--cn-not-listed")
    assert p.returncode == 0, p.stderr
    assert "US-EAR" in p.stdout and "CN-ECL" in p.stdout
    assert "presumption of denial" in p.stdout and "OUT-OF-SCOPE" in p.stdout
    p = _run("determine", "--material", "gallium", "--to", "US", "--from", "CN", "--date", "2024-12-10",
             "--jurisdiction", "all", "--json")
    assert p.returncode == 0, p.stderr
    answers = json.loads(p.stdout)
    assert [a["jurisdiction"] for a in answers] == ["US-EAR", "CN-ECL"]
    assert answers[1]["reasons"][0]["code"] == "CN-2023-23"


def test_cli_picks_cn_from_the_exporter_and_shows_the_computation() -> None:
    p = _run("determine", "--material", "magnet", "--to", "US", "--from", "DE", "--not-prc-origin", "--re-value", "10",
             "--item-value", "10000", "--date", "2026-11-25", "--json", "--cn-not-listed", "--not-military")
    assert p.returncode == 0, p.stderr
    obj = json.loads(p.stdout)
    assert obj["jurisdiction"] == "CN-ECL" and obj["licence_required"] is True
    assert any("10 ÷ 10000 × 100 = 0.1 %" in s["result"] for s in obj["trace"])


def test_cli_bad_jurisdiction_exits_2() -> None:
    p = _run("determine", "--material", "gallium", "--to", "US", "--from", "CN", "--jurisdiction", "EU")
    assert p.returncode == 2 and "unknown jurisdiction" in p.stderr and p.stderr.count("\n") == 1
