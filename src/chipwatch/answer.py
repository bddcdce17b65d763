"""The one answer shape every question returns: outcome, rule version, missing facts and trace.

The trace is built while the rules run (see `chipwatch.predicates`), never written afterwards, and
the CLI, JSON output and later the API and reports all render these same objects.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from chipwatch.law import Law, ParamValue, RuleVersion


class RuleRef(BaseModel):
    """The rule version an answer rests on."""

    model_config = ConfigDict(frozen=True)

    id: str
    name: str
    effective: date
    source: str

    @classmethod
    def of(cls, rv: RuleVersion) -> RuleRef:
        return cls(id=rv.id, name=rv.name, effective=rv.effective, source=rv.source)


# A threshold in an answer is the law parameter itself, with its provenance.
Threshold = ParamValue


class Comparison(BaseModel):
    """One comparison a rule made: a metric or fact of the item against a parameter."""

    model_config = ConfigDict(frozen=True)

    subject: str
    value: Any
    op: str
    param: str | None = None
    threshold: Any
    result: bool | None
    cite: str | None = None
    effective: date | None = None
    note: str | None = None


class Step(BaseModel):
    """One step of the reasoning, with the values it used and the paragraph it rests on."""

    model_config = ConfigDict(frozen=True)

    check: str
    result: str
    values: dict[str, Any] = Field(default_factory=dict)
    comparisons: list[Comparison] = Field(default_factory=list)
    cite: str | None = None
    source: str | None = None
    effective: date | None = None
    params: list[str] = Field(default_factory=list)


class MissingFact(BaseModel):
    """A fact the user did not give that the answer turns on, and where each value would lead."""

    model_config = ConfigDict(frozen=True)

    fact: str
    why: str
    branches: dict[str, str | None]


def rule_ref(law: Law, rule_id: str | None) -> RuleRef | None:
    rv = law.rule_version(rule_id)
    return RuleRef.of(rv) if rv else None
