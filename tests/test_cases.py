"""Run the YAML case files under tests/cases: item x date -> expected classification, with source.

Each file is one rule version, written so a lawyer can read and extend it without Python.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml

from chipwatch import Chip, MemoryStack, System, SystemPart, classify, custom_chip, default_catalog
from chipwatch.classify import FoundryFacts

CASE_DIR = Path(__file__).parent / "cases" / "us_ear"


def _load() -> list[Any]:
    params = []
    for path in sorted(CASE_DIR.glob("*.yaml")):
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        chips = doc.get("chips", {})
        for case in doc["cases"]:
            params.append(pytest.param(case, chips, id=f"{path.stem}: {case['name']}"))
    return params


def _chip(ref: str, chips: dict[str, Any]) -> Chip:
    if ref.startswith("custom:"):
        return custom_chip(ref, **chips[ref.removeprefix("custom:")])
    return default_catalog().get(ref)


def _item(spec: dict[str, Any], chips: dict[str, Any]) -> Chip | MemoryStack | System:
    if "catalog" in spec:
        return default_catalog().get(spec["catalog"])
    if "figures" in spec:
        return custom_chip("case figures", **spec["figures"])
    if "hbm" in spec:
        return MemoryStack(name="case HBM", **spec["hbm"])
    if "system" in spec:
        parts = tuple(SystemPart(chip=_chip(ref, chips), count=n) for ref, n in spec["system"].items())
        return System(name="case system", parts=parts)
    raise AssertionError(f"unknown item spec {spec}")


@pytest.mark.parametrize(("case", "chips"), _load())
def test_case(case: dict[str, Any], chips: dict[str, Any]) -> None:
    on = case["date"] if isinstance(case["date"], date) else date.fromisoformat(case["date"])
    item = _item(case["item"], chips)
    if "process_node" in case:
        item = item.model_copy(update={"process_node": case["process_node"]})
    foundry = FoundryFacts(**case["foundry"]) if "foundry" in case else None
    result = classify(item, on, base_eccn=case.get("base_eccn"), foundry=foundry)
    expect = case["expect"]
    assert result.eccn == expect["eccn"], result.trace
    if "paragraph" in expect:
        assert result.paragraph == expect["paragraph"]
    if "determinate" in expect:
        assert result.determinate == expect["determinate"]
        if not expect["determinate"]:
            assert result.missing_facts, "an undetermined answer must name the missing fact"
    else:
        assert result.determinate, result.missing_facts
    if "rule" in expect:
        assert (result.rule.id if result.rule else None) == expect["rule"]
    if "z_eccn" in expect:
        assert result.z_eccn == expect["z_eccn"]
