"""The law loader: values by date, provenance, clear errors, regimes, and no thresholds in code."""

from __future__ import annotations

import ast
from datetime import date
from pathlib import Path

import pytest

from chipwatch.errors import LawDataError, NotInForce, UnknownParameter
from chipwatch.law import BUILTIN_REGIMES, load_law

SRC = Path(__file__).parents[1] / "src" / "chipwatch"


def test_value_on_date_with_provenance():
    pv = load_law().value("us_ear.3a090.a1_tpp_min", date(2024, 1, 1))
    assert pv.value == 4800
    assert pv.effective == date(2023, 11, 17)
    assert pv.source == "88 FR 73458"
    assert "3A090.a.1" in pv.cite
    assert pv.rule == "US-2023-11-ACS"


def test_value_on_effective_date_itself():
    assert load_law().value("us_ear.3a090.c_mbd_above", date(2024, 12, 2)).value == 2.0


def test_before_first_version_is_clear_error():
    with pytest.raises(NotInForce, match="first set on 2023-11-17"):
        load_law().value("us_ear.3a090.a1_tpp_min", date(2023, 11, 16))


def test_repealed_parameter_is_clear_error():
    law = load_law()
    assert law.value("us_ear.3a090.io_rate_min", date(2023, 11, 16)).value == 600
    with pytest.raises(NotInForce, match="removed on 2023-11-17"):
        law.value("us_ear.3a090.io_rate_min", date(2023, 11, 17))


def test_unknown_parameter_suggests():
    with pytest.raises(UnknownParameter, match=r"did you mean us_ear\.3a090\.a1_tpp_min"):
        load_law().value("us_ear.3a090.a1_tpp", date(2024, 1, 1))


def test_every_value_has_source_cite_and_known_rule():
    law = load_law()
    for tl in [*law.params.values(), *(p.timeline for p in law.paragraphs.values()),
                   *(r.timeline for r in law.rules.values())]:
        for e in tl.entries:
            assert e.source and e.cite, tl.name
            assert e.rule in law.rule_versions, (tl.name, e.rule)
            assert law.rule_versions[e.rule].effective <= e.effective, (tl.name, e.rule)


def test_rule_versions_have_fr_citations():
    for rv in load_law().rule_versions.values():
        if rv.basis == "regulation":
            assert " FR " in rv.source or " CFR " in f" {rv.source}", rv.id
        else:  # a letter, guidance, proclamation or announcement names the document it rests on
            assert rv.basis in ("letter", "guidance", "proclamation", "announcement") and rv.source, rv.id


def test_builtin_regimes_load():
    assert "historical" in BUILTIN_REGIMES
    for name in BUILTIN_REGIMES:
        law = load_law(name)
        assert law.regime == name
        assert law.hypothetical == (name != "historical")


def test_regime_override_with_window():
    law = load_law("no-interconnect-test-2022")
    assert law.value("us_ear.3a090.io_rate_min", date(2023, 1, 1)).value == 0
    assert law.value("us_ear.3a090.io_rate_min", date(2023, 1, 1)).hypothetical
    with pytest.raises(NotInForce):  # the override ends where the base repeal begins
        law.value("us_ear.3a090.io_rate_min", date(2024, 1, 1))


def test_user_regime_file(tmp_path):
    f = tmp_path / "line.yaml"
    f.write_text(
        "regime: mine\ndescription: line at 3000\nparameters:\n"
        "  us_ear.3a090.a1_tpp_min:\n    - {from: 2025-01-01, value: 3000}\n",
        encoding="utf-8",
    )
    law = load_law(f)
    assert law.value("us_ear.3a090.a1_tpp_min", date(2024, 6, 1)).value == 4800
    assert law.value("us_ear.3a090.a1_tpp_min", date(2025, 6, 1)).value == 3000
    # the built-in law is not touched by a user's regime
    assert load_law().value("us_ear.3a090.a1_tpp_min", date(2025, 6, 1)).value == 4800


def test_regime_with_unknown_parameter_is_rejected(tmp_path):
    f = tmp_path / "bad.yaml"
    f.write_text("regime: bad\ndescription: x\nparameters:\n  us_ear.nope:\n    - {from: 2025-01-01, value: 1}\n",
                 encoding="utf-8")
    with pytest.raises(UnknownParameter, match=r"us_ear\.nope"):
        load_law(f)


def test_malformed_regime_is_rejected(tmp_path):
    f = tmp_path / "bad.yaml"
    f.write_text("regime: bad\ndescription: x\nparameters:\n  us_ear.3a090.a1_tpp_min:\n    - {value: 1}\n",
                 encoding="utf-8")
    with pytest.raises(LawDataError, match="from"):
        load_law(f)


def test_missing_regime_file():
    with pytest.raises(LawDataError, match="built-in regimes"):
        load_law("no/such/file.yaml")


def _numeric_literals(tree: ast.AST) -> set[float]:
    return {float(n.value) for n in ast.walk(tree)
            if isinstance(n, ast.Constant) and isinstance(n.value, (int, float)) and not isinstance(n.value, bool)}


def test_no_threshold_written_in_code():
    """Every numeric value of the law data that could be a threshold must be absent from the code."""
    law = load_law()
    values: set[float] = set()
    for tl in law.params.values():
        for e in tl.entries:
            if isinstance(e.value, (int, float)) and not isinstance(e.value, bool) and e.value not in (0, 1, 2):
                values.add(float(e.value))
    assert {4800.0, 1600.0, 2400.0, 5.92, 3.2, 1.6, 600.0} <= values
    for py in SRC.rglob("*.py"):
        found = _numeric_literals(ast.parse(py.read_text(encoding="utf-8"))) & values
        assert not found, f"{py.relative_to(SRC)} writes law values {sorted(found)} in code"
