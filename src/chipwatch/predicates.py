"""The predicate language of the law files, with two evaluators: one logic, two speeds.

A predicate is a small tree read from YAML:
  {metric: tpp, ge: us_ear.3a090.a1_tpp_min}      metric compared with a law parameter
  {fact: datacenter, eq: false}                    a yes/no fact of the item
  {contains: 3A090.a}                              a system contains an IC under that paragraph
  {all: [...]}, {any: [...]}, {not: {...}}

`evaluate` walks it for one item, returning a three-valued result (True, False, None = unknown
because an input is missing) and the comparisons it made, for the trace. `to_polars` compiles the
same tree into a polars expression over a table of items, with the parameters of one date bound
as literals. Polars' null logic is Kleene logic, the same three values as `evaluate`.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from typing import Any

import polars as pl

from chipwatch.answer import Comparison
from chipwatch.errors import LawDataError
from chipwatch.law import Law

Tri = bool | None

OPS: dict[str, tuple[str, Callable[[Any, Any], Any]]] = {
    "ge": ("≥", operator.ge),
    "gt": (">", operator.gt),
    "le": ("≤", operator.le),
    "lt": ("<", operator.lt),
    "eq": ("=", operator.eq),
}


@dataclass
class Env:
    """What a predicate can see of one item."""

    metrics: Mapping[str, float | None]
    facts: Mapping[str, Any]
    contains: Callable[[str], Tri] | None = None


def _op_of(pred: Mapping[str, Any]) -> tuple[str, Any]:
    for key in OPS:
        if key in pred:
            return key, pred[key]
    raise LawDataError(f"predicate {dict(pred)} has no comparison (one of {', '.join(OPS)})")


def absent_note(law: Law, pname: str, on: date) -> str:
    """Why a parameter has no value on `on`, worded so it holds for the whole period between two
    changes of the law (rule results are shared across the dates of such a period)."""
    first = law.timeline(pname).first_effective
    if on < first:
        return f"{pname} is not yet in force: first in force from {first.isoformat()}"
    return f"{pname} is not in force in this period: repealed, suspended or not set by the version in force"


def tri_all(values: list[Tri]) -> Tri:
    if any(v is False for v in values):
        return False
    if any(v is None for v in values):
        return None
    return True


def tri_any(values: list[Tri]) -> Tri:
    if any(v is True for v in values):
        return True
    if any(v is None for v in values):
        return None
    return False


def evaluate(pred: Mapping[str, Any], env: Env, law: Law, on: date) -> tuple[Tri, list[Comparison]]:
    """Evaluate `pred` for one item on date `on`; returns the result and the comparisons made."""
    if "all" in pred or "any" in pred:
        key = "all" if "all" in pred else "any"
        results: list[Tri] = []
        comps: list[Comparison] = []
        for sub in pred[key]:
            r, c = evaluate(sub, env, law, on)
            results.append(r)
            comps.extend(c)
        return (tri_all(results) if key == "all" else tri_any(results)), comps
    if "not" in pred:
        r, c = evaluate(pred["not"], env, law, on)
        return (None if r is None else not r), c
    if "metric" in pred:
        name = pred["metric"]
        op, pname = _op_of(pred)
        value = env.metrics.get(name)
        if not law.in_force(pname, on):
            # A route whose threshold is not in force on the date cannot be taken.
            return False, [Comparison(subject=name, value=value, op=OPS[op][0], param=pname, threshold=None,
                                      result=False, note=absent_note(law, pname, on))]
        pv = law.value(pname, on)
        result: Tri = None if value is None else OPS[op][1](value, pv.value)
        return result, [Comparison(subject=name, value=value, op=OPS[op][0], param=pname,
                                   threshold=pv.value, result=result, cite=pv.cite,
                                   effective=pv.effective)]
    if "fact" in pred and not _SET_KEYS.isdisjoint(pred):
        return _evaluate_membership(pred, env, law, on)
    if "flag" in pred:
        pname = pred["flag"]
        if not law.in_force(pname, on):
            return False, [Comparison(subject=pname, value=None, op="is", threshold=True, result=False,
                                      note=absent_note(law, pname, on))]
        pv = law.value(pname, on)
        flag = bool(pv.value)
        return flag, [Comparison(subject=pname, value=pv.value, op="is", param=pname, threshold=True,
                                 result=flag, cite=pv.cite, effective=pv.effective)]
    if "fact" in pred:
        name = pred["fact"]
        op, expected = _op_of(pred)
        value = env.facts.get(name)
        result = None if value is None else OPS[op][1](value, expected)
        return result, [Comparison(subject=name, value=value, op=OPS[op][0], threshold=expected,
                                   result=result)]
    if "contains" in pred:
        target = pred["contains"]
        result = env.contains(target) if env.contains else False
        return result, [Comparison(subject="contains IC classified", value=target, op="∈",
                                   threshold="parts", result=result)]
    raise LawDataError(f"unknown predicate form: {dict(pred)}")


SET_OPS = ("in", "in_set", "in_list", "has")
_SET_KEYS = frozenset(SET_OPS)


Subject = tuple[str, str]  # ("metric" | "fact", name)
_SUBJECTS: dict[int, tuple[object, tuple[Subject, ...] | None]] = {}


def reads(pred: Mapping[str, Any]) -> list[tuple[str, str]]:
    """What a predicate reads, in order of appearance and once each: ("metric" | "fact", name), and
    ("contains", paragraph) for a system's parts."""
    out: list[tuple[str, str]] = []

    def walk(p: Mapping[str, Any]) -> None:
        for key in ("all", "any"):
            for sub in p.get(key, []):
                walk(sub)
        if "not" in p:
            walk(p["not"])
        for kind in ("metric", "fact", "contains"):
            if kind in p and (kind, p[kind]) not in out:
                out.append((kind, p[kind]))

    walk(pred)
    return out


def subjects_of(pred: Mapping[str, Any]) -> tuple[Subject, ...] | None:
    """The metrics and facts a predicate reads, in a fixed order; None if it reads something else
    (a system's parts through `contains`), so its result cannot be keyed on these values alone."""
    hit = _SUBJECTS.get(id(pred))
    if hit is not None and hit[0] is pred:
        return hit[1]
    found = reads(pred)
    out = None if any(kind == "contains" for kind, _ in found) else tuple(found)
    _SUBJECTS[id(pred)] = (pred, out)  # the predicate is kept alive with its entry, so its id stays its own
    return out


_SCALARS = frozenset({type(None), str, float, int, bool})


def frozen(value: Any) -> Any:
    """A hashable stand-in for a fact value (lists and sets of codes, dicts of counts)."""
    if type(value) in _SCALARS:
        return value
    if isinstance(value, list | tuple):
        return tuple(frozen(v) for v in value)
    if isinstance(value, set | frozenset):
        return frozenset(value)
    if isinstance(value, dict):
        return tuple(sorted((k, frozen(v)) for k, v in value.items()))
    return value


@lru_cache(maxsize=1024)
def _sorted_members(members: frozenset[str]) -> tuple[str, ...]:
    """A country set in order, for the trace: sorted once per set, not at every comparison."""
    return tuple(sorted(members))


def resolve_set(law: Law, pname: str, on: date) -> tuple[frozenset[str], Any]:
    """The country set a set-valued parameter names on `on` (groups resolved on the same date)."""
    from chipwatch.law.sets import country_set  # the groups data loads only when a rule needs it

    pv = law.value(pname, on)
    return country_set(pv.value, on), pv


def _evaluate_membership(pred: Mapping[str, Any], env: Env, law: Law, on: date) -> tuple[Tri, list[Comparison]]:
    name = pred["fact"]
    value = env.facts.get(name)
    if "has" in pred:
        tag = pred["has"]
        result: Tri = None if value is None else tag in value
        return result, [Comparison(subject=name, value=sorted(value) if value is not None else None, op="∋",
                                   threshold=tag, result=result)]
    if "in" in pred:
        options = list(pred["in"])
        result = None if value is None else value in options
        return result, [Comparison(subject=name, value=value, op="∈", threshold=options, result=result)]
    if "in_list" in pred:
        pname = pred["in_list"]
        if not law.in_force(pname, on):
            return False, [Comparison(subject=name, value=value, op="∈", param=pname, threshold=None, result=False,
                                      note=absent_note(law, pname, on))]
        pv = law.value(pname, on)
        result = None if value is None else value in pv.value
        return result, [Comparison(subject=name, value=value, op="∈", param=pname, threshold=list(pv.value),
                                   result=result, cite=pv.cite, effective=pv.effective)]
    pname = pred["in_set"]
    if not law.in_force(pname, on):
        return False, [Comparison(subject=name, value=value, op="∈", param=pname, threshold=None, result=False,
                                  note=absent_note(law, pname, on))]
    members, pv = resolve_set(law, pname, on)
    result = None if value is None else value in members
    return result, [Comparison(subject=name, value=value, op="∈", param=pname, threshold=list(_sorted_members(members)),
                               result=result, cite=pv.cite, effective=pv.effective)]


def _membership_expr(pred: Mapping[str, Any], law: Law, on: date) -> pl.Expr:
    col = pl.col(pred["fact"])
    if "has" in pred:
        return col.list.contains(pl.lit(pred["has"]))
    if "in" in pred:
        options = list(pred["in"])
    else:
        pname = pred.get("in_list") or pred["in_set"]
        if not law.in_force(pname, on):
            return pl.lit(False)
        options = list(law.value(pname, on).value) if "in_list" in pred else sorted(resolve_set(law, pname, on)[0])
    return pl.when(col.is_null()).then(pl.lit(None, pl.Boolean)).otherwise(col.is_in(options))


def to_polars(pred: Mapping[str, Any], law: Law, on: date) -> pl.Expr:
    """Compile `pred` to a boolean polars expression over columns named after metrics and facts
    (`contains: X` reads a boolean column `contains_X`)."""
    if "all" in pred or "any" in pred:
        key = "all" if "all" in pred else "any"
        exprs = [to_polars(sub, law, on) for sub in pred[key]]
        if not exprs:
            return pl.lit(key == "all")
        out = exprs[0]
        for e in exprs[1:]:
            out = (out & e) if key == "all" else (out | e)
        return out
    if "not" in pred:
        return ~to_polars(pred["not"], law, on)
    if "metric" in pred:
        op, pname = _op_of(pred)
        if not law.in_force(pname, on):
            return pl.lit(False)
        threshold = law.value(pname, on).value
        expr: pl.Expr = OPS[op][1](pl.col(pred["metric"]), pl.lit(threshold))
        return expr
    if "fact" in pred and not _SET_KEYS.isdisjoint(pred):
        return _membership_expr(pred, law, on)
    if "flag" in pred:
        pname = pred["flag"]
        return pl.lit(law.in_force(pname, on) and bool(law.value(pname, on).value))
    if "fact" in pred:
        op, expected = _op_of(pred)
        fact_expr: pl.Expr = OPS[op][1](pl.col(pred["fact"]), pl.lit(expected))
        return fact_expr
    if "contains" in pred:
        return pl.col(f"contains_{pred['contains']}")
    raise LawDataError(f"unknown predicate form: {dict(pred)}")


def subjects(pred: Mapping[str, Any]) -> set[str]:
    """Metric and fact names a predicate reads."""
    return {name for kind, name in reads(pred) if kind != "contains"}


def params_of(pred: Mapping[str, Any]) -> list[str]:
    """Law parameters a predicate compares against, in order of appearance."""
    out: list[str] = []
    for key in ("all", "any"):
        for sub in pred.get(key, []):
            out += [p for p in params_of(sub) if p not in out]
    if "not" in pred:
        out += [p for p in params_of(pred["not"]) if p not in out]
    if "metric" in pred:
        _, pname = _op_of(pred)
        out.append(pname)
    for key in ("in_set", "in_list", "flag"):
        if key in pred and pred[key] not in out:
            out.append(pred[key])
    return out
