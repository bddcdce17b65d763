"""Run the licence-determination case files under tests/cases/determine.

Each YAML file holds the cases for one rule version or topic, written so a compliance lawyer can
read, check and extend them without Python. A case is:

    name:        what the case shows
    transaction: the fields of chipwatch.determine.Transaction
    regime:      optional built-in regime name (default: the law as enacted, "historical")
    include_announced: optional, default true (false = read the law as written, setting aside
                 announcements such as the May-2025 non-enforcement of the AI Diffusion rule)
    expect:      any of the keys in EXPECT_KEYS below
    source:      the document that says so (required, non-empty)
    note:        optional explanation
    xfail:       optional: why the engine's answer is wrong; the case then must fail (strict)

A case marked xfail keeps the legally correct expectation: it records a disagreement between the
engine and the law, and turns into an error once the engine is fixed (so the mark can be removed).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from case_checks import Mismatches, check_common, codes
from chipwatch.determine import Determination, determine, transaction
from chipwatch.errors import InvalidInput

CASE_DIR = Path(__file__).parent / "cases" / "determine"

CASE_KEYS = {"name", "transaction", "regime", "include_announced", "expect", "source", "note", "xfail"}
EXPECT_KEYS = {
    "licence_required",  # true / false / null (null: the answer turns on a missing fact)
    "reason_code",  # e.g. CCL-AC, CCL-AC+HQ, NLR, NSR, ?HQ
    "reasons",  # requirement codes, order-insensitive, exact set
    "review_policy",  # substring of the policy wording, or {code, policy}; null = no review policy
    "exceptions",  # licence exception codes (exact set); an entry may be {code, status, value}
    "conditions",  # condition codes (exact set); an entry may be {code, value, unit, basis}
    "missing_facts",  # fact names (exact set); an entry may be {fact, branches: [substrings]}
    "warnings",  # warning codes (exact set)
    "eccn",
    "subject_to_ear",
    "error",  # the engine must refuse the transaction with a message containing this text
}
# Fields that hold a country: a bare NO (Norway) in YAML reads as the boolean false.
COUNTRY_FIELDS = ("destination", "ships_from", "exporter_hq", "country", "hq")


def _load() -> list[Any]:
    params = []
    for path in sorted(CASE_DIR.glob("*.yaml")):
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        for case in doc["cases"]:
            marks = [pytest.mark.xfail(strict=True, reason=str(case["xfail"]))] if case.get("xfail") else []
            params.append(pytest.param(case, id=f"{path.stem}: {case.get('name', '?')}", marks=marks))
    return params


CASES = _load()


def _country_problems(obj: Any, where: str = "transaction") -> list[str]:
    out = []
    if isinstance(obj, dict):
        for k, v in obj.items():
            if k in COUNTRY_FIELDS and isinstance(v, bool):
                out.append(f"{where}.{k} is the boolean {v}: write Norway as \"NO\" (quoted)")
            out += _country_problems(v, f"{where}.{k}")
    return out


def _trace(d: Determination) -> str:
    lines = [f"licence_required={d.licence_required} reason_code={d.reason_code} eccn={d.eccn} "
             f"subject_to_ear={d.subject_to_ear}",
             f"exceptions={[(e.code, e.status) for e in d.licence_exceptions]}",
             f"review_policy={(d.review_policy.code, d.review_policy.policy) if d.review_policy else None}",
             f"conditions={[(c.code, c.value) for c in d.conditions]}",
             f"missing_facts={[(m.fact, m.branches) for m in d.missing_facts]}",
             f"warnings={[w.code for w in d.warnings]}",
             "trace:"]
    lines += [f"  {i:2}. {s.check} -> {s.result}" + (f"  [{s.cite}]" if s.cite else "") for i, s in enumerate(d.trace, 1)]
    return "\n".join(lines)


def _compare(d: Determination, expect: dict[str, Any]) -> list[str]:
    check = Mismatches()
    check_common(d, expect, check, missing_exact=True)
    if "eccn" in expect:
        check("eccn", d.eccn == expect["eccn"], d.eccn, expect["eccn"])
    if "subject_to_ear" in expect:
        check("subject_to_ear", d.subject_to_ear is expect["subject_to_ear"], d.subject_to_ear, expect["subject_to_ear"])
    if "review_policy" in expect:
        want = expect["review_policy"]
        rp = d.review_policy
        got_rp = (rp.code, rp.policy) if rp else None
        if want is None:
            check("review_policy", rp is None, got_rp, None)
        elif isinstance(want, str):
            check("review_policy", rp is not None and want.lower() in rp.policy.lower(), got_rp, want)
        else:
            ok = rp is not None and all(
                (want[k].lower() in rp.policy.lower()) if k == "policy" else getattr(rp, k) == want[k] for k in want)
            check("review_policy", ok, got_rp, want)
    for key, label, items in (("exceptions", "exception", d.licence_exceptions), ("conditions", "condition", d.conditions)):
        if key not in expect:
            continue
        got = {x.code: x for x in items}
        check(key, set(got) == codes(expect[key], "code"), sorted(got), expect[key])
        for want in (w for w in expect[key] if isinstance(w, dict)):
            x = got.get(want["code"])
            if x is not None:
                for k, v in want.items():
                    check(f"{label} {want['code']}.{k}", getattr(x, k) == v, getattr(x, k), v)
    return check


def test_case_files_exist() -> None:
    assert CASES, f"no case files under {CASE_DIR}"


def test_cases_well_formed() -> None:
    """Every case (xfail or not) has a name, a transaction, an expect block of known keys and a
    non-empty source; country fields are strings; names are unique."""
    problems = []
    for p in CASES:
        case = p.values[0]
        where = p.id
        if set(case) - CASE_KEYS:
            problems.append(f"{where}: unknown case keys {sorted(set(case) - CASE_KEYS)}")
        if not (isinstance(case.get("source"), str) and case["source"].strip()):
            problems.append(f"{where}: no source")
        if not case.get("name") or not isinstance(case.get("transaction"), dict):
            problems.append(f"{where}: needs a name and a transaction")
        expect = case.get("expect") or {}
        if not expect:
            problems.append(f"{where}: no expect block")
        if set(expect) - EXPECT_KEYS:
            problems.append(f"{where}: unknown expect keys {sorted(set(expect) - EXPECT_KEYS)}")
        problems += [f"{where}: {m}" for m in _country_problems(case.get("transaction") or {})]
    ids = [p.id for p in CASES]
    problems += [f"duplicate case name: {i}" for i in sorted({i for i in ids if ids.count(i) > 1})]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("case", CASES)
def test_determination_case(case: dict[str, Any]) -> None:
    expect = case["expect"]
    kwargs = {"regime": case.get("regime"), "include_announced": case.get("include_announced", True)}
    if "error" in expect:
        with pytest.raises(InvalidInput) as err:
            determine(transaction(**case["transaction"]), **kwargs)
        assert expect["error"] in str(err.value), str(err.value)
        return
    d = determine(transaction(**case["transaction"]), **kwargs)
    errors = _compare(d, expect)
    if errors:
        pytest.fail("\n".join(errors) + "\n\n" + _trace(d), pytrace=False)
