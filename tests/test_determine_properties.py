"""Property tests of the licence determination (`chipwatch.determine`, `chipwatch.batch`).

1. a stricter regime never licenses less;
2. adding an Entity-List party never removes a licence requirement;
3. every citation in an answer is law in force on the transaction's date;
4. the vectorised path (`determine_frame`) answers every row as the scalar path does;
5. bad rows in an order book get an error naming the column and never disturb the good rows;
6. the Country-Group arithmetic of the ACS destination set (15 CFR 742.6(a)(6)(iii)).

Two engine bugs these tests found are pinned by regression tests at the end.
"""

from __future__ import annotations

import random
from datetime import date, timedelta
from typing import Any

import polars as pl
import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from chipwatch.batch import determine_frame, law_change_dates
from chipwatch.catalog import default_catalog
from chipwatch.classify import classify
from chipwatch.determine import END_USES, Determination, determine, transaction
from chipwatch.law import load_law
from chipwatch.law.groups import load_country_groups
from chipwatch.law.sets import country_set

REGIMES = ("historical", "blockade", "no-licences-d5", "diffusion-caps-kept", "tpp-line-2400")
LAWS = {r: load_law(r) for r in REGIMES}
LAW = LAWS["historical"]
RULE_VERSIONS = LAW.rule_versions
FIRST = date(2022, 10, 7)
LAST = date(2026, 11, 25)
ITEMS = [c.name for c in default_catalog().chips]
DESTS = ["CN", "MO", "HK", "RU", "IR", "NI", "KH", "CY", "VN", "SA", "AE", "IL", "IN", "MY", "SG", "DE", "JP", "US", "BR"]
ORIGINS = ["us", "foreign_direct_product", "foreign_us_content", "foreign"]
PROPS = settings(max_examples=150, deadline=None)

# Days on which some rule, parameter or country group changes, and the day before: where an
# off-by-one in "in force on" would show.
BOUNDARIES = sorted({d + timedelta(days=k) for r in REGIMES for d in law_change_dates(LAWS[r]) for k in (-1, 0)
                     if FIRST <= d + timedelta(days=k) <= LAST})

dates = st.one_of(st.dates(min_value=FIRST, max_value=LAST), st.sampled_from(BOUNDARIES))
tri = st.sampled_from([True, False, None])
end_uses = st.lists(st.sampled_from(END_USES), unique=True, max_size=3)


@st.composite
def transactions(draw: st.DrawFn, listed: st.SearchStrategy[bool | None] = tri) -> dict[str, Any]:
    """Keyword arguments of a random catalog-chip transaction (for `transaction(**kw)`)."""
    return dict(
        item=draw(st.sampled_from(ITEMS)),
        quantity=draw(st.sampled_from([1, 8, 1000, 100_000])),
        destination=draw(st.sampled_from(DESTS)),
        date=draw(dates),
        end_user=dict(hq=draw(st.sampled_from([*DESTS, None])), listed=draw(listed)),
        end_uses=draw(end_uses),
    )


# --- 1. a stricter regime never licenses less -------------------------------------------------

_RANK = {None: 0, "3A090.b": 1, "3A090.a": 2}


def _rank(name: str, on: date, regime: str) -> int | None:
    """0 (no 3A090 paragraph), 1 (.b), 2 (.a); None if the classification turns on a missing fact."""
    c = classify(default_catalog().get(name), on, law=LAWS[regime])
    return _RANK[c.eccn] if c.determinate else None


def _line_only_adds_control(name: str, on: date) -> bool:
    """Lowering the 3A090.a.1 line can only raise this item's paragraph on `on`."""
    before, after = _rank(name, on, "historical"), _rank(name, on, "tpp-line-2400")
    return before is None or (after is not None and after >= before)


def test_tpp_line_2400_never_lowers_a_catalog_chip():
    """The precondition test 1 relies on for tpp-line-2400, checked for the whole catalog: the lower
    line moves chips up (none → .a, .b → .a; the non-datacenter note narrows), never down."""
    acs = LAW.value("us_ear.3a090.a1_tpp_min", date(2024, 1, 1)).effective
    on_dates = [d for d in BOUNDARIES if d >= acs] + [LAST]
    lowered = [(n, d) for n in ITEMS for d in on_dates if not _line_only_adds_control(n, d)]
    assert lowered == []


@PROPS
@given(transactions())
def test_a_stricter_regime_never_licenses_less(kw):
    txn = transaction(**kw)
    hist = determine(txn, law=LAW)
    event(f"historical licence_required={hist.licence_required}")
    if hist.licence_required is not True:
        return
    for regime in ("blockade", "diffusion-caps-kept"):
        other = determine(txn, law=LAWS[regime])
        assert other.licence_required is True, (regime, hist.reason_code, other.reason_code)
    if _line_only_adds_control(txn.item or "", txn.date):
        other = determine(txn, law=LAWS["tpp-line-2400"])
        assert other.licence_required is True, ("tpp-line-2400", hist.reason_code, other.reason_code)


# --- 2. adding an Entity-List party never removes a licence requirement ------------------------

@PROPS
@given(transactions(listed=st.sampled_from([False, None])), st.sampled_from(REGIMES), st.booleans(),
       st.sampled_from(ORIGINS), st.lists(st.sampled_from(["FN1", "FN4"]), unique=True, max_size=1))
def test_listing_a_party_never_removes_a_requirement(kw, regime, announced, origin, footnotes):
    kw = {**kw, "origin": origin, "us_content_pct": 50.0}
    kw["end_user"] = {**kw["end_user"], "footnotes": footnotes}
    base = determine(transaction(**kw), law=LAWS[regime], include_announced=announced)
    listed = determine(transaction(**{**kw, "end_user": {**kw["end_user"], "listed": True}}),
                       law=LAWS[regime], include_announced=announced)
    assert listed.subject_to_ear == base.subject_to_ear  # listing alone does not change jurisdiction
    if listed.subject_to_ear is True:
        assert listed.licence_required is True
        assert "EL" in {r.code for r in listed.reasons}
    if base.licence_required is True:
        assert listed.licence_required is True
        assert {r.code for r in base.reasons} <= {r.code for r in listed.reasons}


# --- 3. every citation is law in force on the date ---------------------------------------------

def _check_citations(d: Determination, on: date) -> None:
    for s in d.trace:
        assert s.effective is None or s.effective <= on, (s.check, s.effective)
        for c in s.comparisons:
            assert c.effective is None or c.effective <= on, (s.check, c.param, c.effective)
    for r in d.reasons:
        assert r.cite.strip() and r.source.strip(), r
        if r.rule is not None:
            assert r.rule in RULE_VERSIONS, r.rule
            assert RULE_VERSIONS[r.rule].effective <= on, (r.code, r.rule)
    for e in d.licence_exceptions:
        assert e.cite.strip() and e.source.strip(), e
    if d.review_policy is not None:
        assert d.review_policy.cite.strip() and d.review_policy.policy.strip(), d.review_policy
    for c in d.conditions:
        assert c.cite.strip(), c
    for w in d.warnings:
        assert w.cite.strip(), w
    if d.rule_version is not None:
        assert d.rule_version.id in RULE_VERSIONS
        assert RULE_VERSIONS[d.rule_version.id].effective <= on


@PROPS
@given(transactions(), st.sampled_from(REGIMES), st.booleans(), st.sampled_from(ORIGINS))
def test_every_citation_is_in_force_on_the_date(kw, regime, announced, origin):
    txn = transaction(**{**kw, "origin": origin})
    _check_citations(determine(txn, law=LAWS[regime], include_announced=announced), txn.date)


# --- 4. the vectorised path equals the scalar path ---------------------------------------------

SEED = 20260710
N_ROWS = 200
SCHEMA = {"item": pl.String, "quantity": pl.Int64, "destination": pl.String, "date": pl.String,
          "end_user_hq": pl.String, "party_listed": pl.String, "owned_by_listed_pct": pl.Float64,
          "end_uses": pl.String, "ships_from": pl.String, "commercially_available_us": pl.String,
          "h200_certified": pl.String, "origin": pl.String}


def _yes_no(v: bool | None) -> str | None:
    return None if v is None else ("yes" if v else "no")


def _from_yes_no(v: str | None) -> bool | None:
    return None if v is None else v == "yes"


# Chips whose classification turns on figures the catalog lacks (unknown TPP or die area): they
# make rules, exceptions and conditions "unknown", which is where the two paths could differ.
ITEMS_MISSING_FIGURES = [c.name for c in default_catalog().chips if not c.dense_tops or c.die_area_mm2 is None]


def _random_rows(seed: int, n: int, first: date = FIRST) -> list[dict[str, Any]]:
    """`n` order-book rows from a fixed seed: half the dates uniform, half on law-change boundaries;
    one row in four a chip with missing figures, one in three to China or Macau."""
    rng = random.Random(seed)
    span = (LAST - first).days
    bounds = [d for d in BOUNDARIES if d >= first]
    rows = []
    for i in range(n):
        on = rng.choice(bounds) if i % 2 else first + timedelta(days=rng.randint(0, span))
        rows.append({
            "item": rng.choice(ITEMS_MISSING_FIGURES if i % 4 == 3 else ITEMS), "quantity": rng.choice([1, 8, 1000, 100_000]),
            "destination": rng.choice(["CN", "MO", "HK"] if i % 3 == 0 else DESTS), "date": on.isoformat(),
            "end_user_hq": rng.choice([*DESTS, None]), "party_listed": _yes_no(rng.choice([True, False, None])),
            "owned_by_listed_pct": rng.choice([None, 0.0, 49.9, 50.0, 100.0]),
            "end_uses": ";".join(rng.sample(END_USES, rng.randint(0, 3))),
            "ships_from": rng.choice(["US", "US", "SG", "HK", None]),
            "commercially_available_us": _yes_no(rng.choice([True, False, None])),
            "h200_certified": _yes_no(rng.choice([True, False, None])),
            "origin": rng.choice(ORIGINS),
        })
    return rows


def _scalar(row: dict[str, Any], regime: str, announced: bool) -> Determination:
    txn = transaction(
        item=row["item"], quantity=row["quantity"], destination=row["destination"], date=date.fromisoformat(row["date"]),
        end_user={"hq": row["end_user_hq"], "listed": _from_yes_no(row["party_listed"]),
                  "owned_by_listed_pct": row["owned_by_listed_pct"]},
        end_uses=[e for e in (row["end_uses"] or "").split(";") if e], ships_from=row["ships_from"] or "US",
        origin=row["origin"], commercially_available_us=_from_yes_no(row["commercially_available_us"]),
        h200_certified=_from_yes_no(row["h200_certified"]))
    return determine(txn, law=LAWS[regime], include_announced=announced)


def _codes(text: str | None) -> set[str]:
    return {c for c in (text or "").split(",") if c}


def _scalar_conditions(d: Determination) -> set[str]:
    """Batch spells a condition "CODE" when its rule holds and "CODE?" when it turns on a missing
    fact. The scalar answer lists both kinds in `conditions` (every rule that is not false) and says
    which in the trace, so read the marker from the condition's trace step."""
    out = set()
    for c in d.conditions:
        step = next(s for s in d.trace if s.check.startswith("condition: ") and s.check.endswith(f"[{c.code}]"))
        assert step.result in ("applies", "unknown: a fact is missing"), step.result
        out.add(c.code if step.result == "applies" else f"{c.code}?")
    return out


def _as_batch(d: Determination) -> dict[str, Any]:
    return {
        "subject_to_ear": d.subject_to_ear,
        "licence_required": d.licence_required,
        "reason_code": d.reason_code,
        "review_policy": d.review_policy.policy if d.review_policy else None,
        "review_code": d.review_policy.code if d.review_policy else None,
        "licence_exceptions": {e.code if e.status == "available" else f"{e.code}?" for e in d.licence_exceptions},
        "conditions": _scalar_conditions(d),
        "warnings": {w.code for w in d.warnings},
        "eccn": d.eccn,
    }


def _batch_row(b: dict[str, Any]) -> dict[str, Any]:
    return {k: (_codes(b[k]) if k in ("licence_exceptions", "conditions", "warnings") else b[k])
            for k in ("subject_to_ear", "licence_required", "reason_code", "review_policy", "review_code",
                      "licence_exceptions", "conditions", "warnings", "eccn")}


def _assert_frame_equals_scalar(rows: list[dict[str, Any]], regime: str, announced: bool) -> None:
    out = determine_frame(pl.DataFrame(rows, schema=SCHEMA), regime=regime, include_announced=announced)
    assert out.height == len(rows)
    assert out.get_column("row").to_list() == list(range(1, len(rows) + 1))
    for row, b in zip(rows, out.iter_rows(named=True), strict=True):
        assert b["error"] is None, (row, b["error"])
        assert _batch_row(b) == _as_batch(_scalar(row, regime, announced)), row


@pytest.mark.parametrize("announced", [True, False], ids=["announced", "as-written"])
def test_frame_equals_scalar(announced):
    _assert_frame_equals_scalar(_random_rows(SEED, N_ROWS), "historical", announced)


@pytest.mark.parametrize("regime", ["no-licences-d5", "diffusion-caps-kept", "tpp-line-2400"])
def test_frame_equals_scalar_under_regimes(regime):
    _assert_frame_equals_scalar(_random_rows(SEED + 1, N_ROWS // 2), regime, True)


def test_frame_equals_scalar_under_blockade():
    _assert_frame_equals_scalar(_random_rows(SEED + 2, N_ROWS // 2), "blockade", True)


# --- 5. bad rows --------------------------------------------------------------------------------

BAD_ROWS = {  # column the error must name: a row that is bad in that column only
    "destination": {"destination": "XX"},
    "quantity": {"quantity": "0"},
    "date": {"date": "2021-01-01"},
    "item": {"item": "Zorblatt Quantum Abacus 9"},
    "end_uses": {"end_uses": "supercomputer;cooking"},
}
OUT_COLUMNS = ["item", "date", "destination", "quantity", "eccn", "subject_to_ear", "licence_required", "reason_code",
               "licence_exceptions", "review_policy", "review_code", "conditions", "warnings", "error"]


def _text_row(kw: dict[str, Any]) -> dict[str, str | None]:
    """An order-book row as a CSV would give it (all text)."""
    return {"item": kw["item"], "quantity": str(kw["quantity"]), "destination": kw["destination"],
            "date": kw["date"].isoformat(), "end_user_hq": kw["end_user"]["hq"],
            "party_listed": _yes_no(kw["end_user"]["listed"]), "end_uses": ";".join(kw["end_uses"])}


def _frame(rows: list[dict[str, str | None]]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema={k: pl.String for k in rows[0]})


@settings(max_examples=40, deadline=None)
@given(st.lists(transactions(), min_size=1, max_size=4), st.permutations(list(BAD_ROWS)), st.randoms(use_true_random=False))
def test_bad_rows_are_reported_and_never_disturb_good_rows(goods, bad_columns, rnd):
    good_rows = [_text_row(kw) for kw in goods]
    bad_rows = [({**good_rows[0], **BAD_ROWS[col]}, col) for col in bad_columns]
    mixed: list[tuple[dict[str, str | None], str | None]] = [(r, None) for r in good_rows] + bad_rows
    rnd.shuffle(mixed)
    out = determine_frame(_frame([r for r, _ in mixed]))
    assert out.height == len(mixed)
    for (row, bad_col), got in zip(mixed, out.iter_rows(named=True), strict=True):
        if bad_col is not None:
            assert got["error"] is not None and got["error"].startswith(f"{bad_col}:"), (bad_col, got["error"])
            assert got["licence_required"] is None and got["reason_code"] is None
        else:
            assert got["error"] is None, got["error"]
            alone = determine_frame(_frame([row])).row(0, named=True)
            assert {k: got[k] for k in OUT_COLUMNS} == {k: alone[k] for k in OUT_COLUMNS}


# --- 6. country groups: the ACS destination set -------------------------------------------------

# 15 CFR 742.6(a)(6)(iii): (D:1 ∪ D:4 ∪ D:5) − (A:5 ∪ A:6) ∪ {Macau}, worked out in
# regulations.md §9.3 from the 2026-07-08 table without the UAE (45 destinations).
ACS_2026_07_10 = frozenset({
    "AF", "AM", "AZ", "BH", "BY", "MM", "KH", "CF", "CN", "CU", "CD", "EG", "ER", "GE", "HT", "IR", "IQ", "JO",
    "KZ", "KW", "KG", "LA", "LB", "LY", "MO", "MD", "MN", "NI", "KP", "OM", "PK", "QA", "RU", "SA", "SO", "SS",
    "SD", "SY", "TJ", "TM", "UZ", "VE", "VN", "YE", "ZW",
})


def _acs(on: date) -> frozenset[str]:
    return country_set(LAW.value("us_ear.ac.destinations", on).value, on)


def test_acs_destinations_never_include_allies_and_always_china():
    groups = load_country_groups()
    on = FIRST
    while on <= LAST:
        acs = _acs(on)
        allies = groups.members("A:5", on) | groups.members("A:6", on)
        assert not acs & allies, (on, sorted(acs & allies))
        assert "CN" in acs, on
        assert ("MO" in acs) == (on >= date(2023, 1, 17)), on
        on += timedelta(days=30)


def test_acs_destinations_around_the_uae_rule():
    assert len(ACS_2026_07_10) == 45
    assert _acs(date(2026, 7, 10)) == ACS_2026_07_10
    assert _acs(date(2026, 7, 9)) == ACS_2026_07_10 | {"AE"}


# --- regressions: engine bugs these tests found (both fixed in src/ in d34b111) -------------------

def test_blockade_frame_before_the_is_informed_policy():
    """batch._epoch_answers used to read law.value(rv.policy, on) for every review rule in force, even
    one whose `when` can never hold; blockade switches rev.is-informed on (as {any: []}) from
    2022-10-07 while its policy us_ear.ac.policy_is_informed starts 2025-04-09, so determine_frame
    raised NotInForce for the whole frame if any row was dated before 2025-04-09."""
    row = {"item": "H100 SXM5 80GB", "quantity": 1, "destination": "DE", "date": "2025-04-08",
           "end_user_hq": None, "party_listed": None, "owned_by_listed_pct": None, "end_uses": "",
           "ships_from": "US", "commercially_available_us": None, "h200_certified": None, "origin": "us"}
    _assert_frame_equals_scalar([row], "blockade", True)


_INDETERMINATE_ON = date(2024, 6, 1)
_INDETERMINATE = [n for n in ITEMS if not classify(default_catalog().get(n), _INDETERMINATE_ON, law=LAW).determinate]


def test_an_indeterminate_classification_is_not_a_definite_answer():
    """An item whose classification turns on a missing figure ("3A090.a?") used to be determined as
    definitely 3A090.a (eccn "3A090.a", licence required under CCL-AC, no missing fact), because
    determine.item_facts took c.eccn, the first paragraph that might be met, even when
    c.determinate was False."""
    assert _INDETERMINATE, "the catalog has chips whose classification turns on missing figures"
    wrong = []
    for name in _INDETERMINATE:
        d = determine(transaction(item=name, destination="CN", date=_INDETERMINATE_ON,
                                  end_user={"hq": "CN", "listed": False}))
        if d.eccn is not None or "eccn" not in {m.fact for m in d.missing_facts}:
            wrong.append((name, d.eccn, d.licence_required, d.reason_code))
    assert wrong == []


def test_rule_results_remembered_across_dates_give_the_same_answers():
    """Rule results are shared by every question on the same law in the same period between two
    changes of the law; the answers must be those of a law that remembers nothing."""
    import dataclasses
    import random
    from datetime import timedelta

    from chipwatch.determine import Transaction, determine
    from chipwatch.law import load_law

    shared = load_law()
    rng = random.Random(3)
    days = [date(2022, 10, 1) + timedelta(days=rng.randint(0, 1500)) for _ in range(60)]
    chips = ["H100 SXM5 80GB", "H20", "A800 SXM4 80GB", "RTX 4090", "B200", "MI300X"]
    for on in days:
        if on < shared.first_effective():
            continue
        txn = Transaction(item=rng.choice(chips), destination=rng.choice(["CN", "AE", "DE", "MO", "IN", "VN"]),
                          quantity=rng.randint(1, 900), date=on)
        fresh = dataclasses.replace(shared)  # a new object: nothing remembered
        assert determine(txn, law=shared).model_dump() == determine(txn, law=fresh).model_dump(), (txn.item, on)
