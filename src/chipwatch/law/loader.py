"""Reading the law YAML files and regime files into a `Law`.

The files are validated with pydantic as they are read: a malformed file fails whole, naming the
file and the entry that broke it.
"""

from __future__ import annotations

from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from chipwatch.errors import InvalidInput, LawDataError, UnknownParameter
from chipwatch.law.model import Entry, Law, ParagraphDef, RuleDef, RuleVersion, Timeline

LAW_DIR = Path(__file__).parent
REGIME_DIR = LAW_DIR / "regimes"
# Each jurisdiction's law lives in its own directory and is loaded into its own `Law`.
JURISDICTION_DIRS = {"US-EAR": "us_ear", "CN-ECL": "cn_ecl"}
JURISDICTIONS = tuple(JURISDICTION_DIRS)
# Names of parameters, paragraphs and rules of a jurisdiction other than the US start with its
# prefix; everything else belongs to US-EAR (its names predate the jurisdiction dimension).
NAME_PREFIXES = {"CN-ECL": "cn_ecl."}


def jurisdiction_of_name(name: str) -> str:
    """The jurisdiction a parameter, paragraph or rule name belongs to."""
    for jur, prefix in NAME_PREFIXES.items():
        if name.startswith(prefix):
            return jur
    return "US-EAR"


def check_jurisdiction(jurisdiction: str) -> str:
    if jurisdiction not in JURISDICTION_DIRS:
        raise InvalidInput(f"unknown jurisdiction {jurisdiction!r} (known: {', '.join(JURISDICTIONS)})")
    return jurisdiction


BASES = ("regulation", "letter", "guidance", "proclamation", "announcement")


class _EntryIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    value: Any = None
    source: str
    cite: str
    rule: str | None = None
    uncertain: str | None = None
    basis: Literal["regulation", "letter", "guidance", "proclamation", "announcement"] = "regulation"


class _ParagraphVersionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    when: dict[str, Any] | None
    source: str
    cite: str
    rule: str | None = None
    uncertain: str | None = None
    basis: Literal["regulation", "letter", "guidance", "proclamation", "announcement"] = "regulation"


class _ParamIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    description: str
    unit: str
    values: dict[date, _EntryIn] = Field(min_length=1)


class _ParagraphIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    eccn: str | None = None
    label: str | None = None
    item: str
    order: int
    kind: str = "paragraph"
    excludes: list[str] = Field(default_factory=list)
    versions: dict[date, _ParagraphVersionIn] = Field(min_length=1)


class _RuleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["jurisdiction", "requirement", "exception", "review", "condition", "warning"]
    code: str
    title: str
    order: int
    policy: str | None = None
    overcomes: list[str] = Field(default_factory=list)
    value: str | None = None
    conditions: list[str] = Field(default_factory=list)
    with_review: list[str] = Field(default_factory=list)
    versions: dict[date, _ParagraphVersionIn] = Field(min_length=1)


class _LawFileIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    namespace: str
    parameters: dict[str, _ParamIn] = Field(default_factory=dict)
    paragraphs: dict[str, _ParagraphIn] = Field(default_factory=dict)
    rules: dict[str, _RuleIn] = Field(default_factory=dict)


class _RuleVersionsFileIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    jurisdiction: str
    rule_versions: dict[str, dict[str, Any]]


class _OverrideIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    from_: date = Field(alias="from")
    until: date | None = None
    value: Any = None
    when: dict[str, Any] | None = None
    source: str = "hypothetical regime"
    cite: str | None = None


class _RegimeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    regime: str
    description: str
    hypothetical: bool = True
    parameters: dict[str, list[_OverrideIn]] = Field(default_factory=dict)
    paragraphs: dict[str, list[_OverrideIn]] = Field(default_factory=dict)
    rules: dict[str, list[_OverrideIn]] = Field(default_factory=dict)


def _read_yaml(path: Path) -> Any:
    try:
        with path.open(encoding="utf-8") as fh:
            return yaml.safe_load(fh)
    except OSError as exc:
        raise LawDataError(f"cannot read {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise LawDataError(f"{path}: not valid YAML: {exc}") from None


def _validate(model: type[BaseModel], data: Any, path: Path) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise LawDataError(f"{path}: {where}: {first['msg']}") from None


_Loaded = tuple[dict[str, Timeline], dict[str, ParagraphDef], dict[str, RuleVersion], dict[str, RuleDef]]


def _load_files(law_dir: Path, jurisdiction: str = "US-EAR") -> _Loaded:
    params: dict[str, Timeline] = {}
    paragraphs: dict[str, ParagraphDef] = {}
    rules: dict[str, RuleVersion] = {}
    drules: dict[str, RuleDef] = {}
    for jdir in (JURISDICTION_DIRS[jurisdiction],):
        for path in sorted((law_dir / jdir).glob("*.yaml")):
            data = _read_yaml(path)
            if isinstance(data, dict) and "rule_versions" in data:
                rv = _validate(_RuleVersionsFileIn, data, path)
                if rv.jurisdiction != jurisdiction:
                    raise LawDataError(f"{path}: rule versions of {rv.jurisdiction} in the {jurisdiction} directory")
                for rid, r in rv.rule_versions.items():
                    rules[rid] = _validate(RuleVersion, {"id": rid, **r}, path)
                continue
            f = _validate(_LawFileIn, data, path)
            for pname, p in f.parameters.items():
                full = f"{f.namespace}.{pname}"
                if full in params:
                    raise LawDataError(f"{path}: parameter {full} defined twice")
                entries = [Entry(effective=d, **e.model_dump()) for d, e in p.values.items()]
                params[full] = Timeline(full, p.description, p.unit, entries)
            for gname, g in f.paragraphs.items():
                entries = [
                    Entry(effective=d, value=v.when, source=v.source, cite=v.cite, rule=v.rule,
                          uncertain=v.uncertain, basis=v.basis)
                    for d, v in g.versions.items()
                ]
                paragraphs[gname] = ParagraphDef(
                    name=gname,
                    eccn=g.eccn,
                    label=g.label or gname,
                    item=g.item,
                    order=g.order,
                    kind=g.kind,
                    excludes=tuple(g.excludes),
                    timeline=Timeline(gname, g.label or gname, "predicate", entries),
                )
            for rname, r in f.rules.items():
                if rname in drules:
                    raise LawDataError(f"{path}: rule {rname} defined twice")
                entries = [
                    Entry(effective=d, value=v.when, source=v.source, cite=v.cite, rule=v.rule,
                          uncertain=v.uncertain, basis=v.basis)
                    for d, v in r.versions.items()
                ]
                drules[rname] = RuleDef(
                    name=rname, kind=r.kind, code=r.code, title=r.title, order=r.order,
                    timeline=Timeline(rname, r.title, "predicate", entries), policy=r.policy,
                    overcomes=tuple(r.overcomes), value=r.value, conditions=tuple(r.conditions),
                    with_review=tuple(r.with_review),
                )
    _check_references(params, paragraphs, rules, drules)
    return params, paragraphs, rules, drules


def _param_refs(pred: Any) -> list[str]:
    """Parameter names a predicate refers to."""
    if not isinstance(pred, dict):
        return []
    refs: list[str] = []
    for key in ("ge", "gt", "le", "lt"):
        if key in pred and "metric" in pred:
            refs.append(pred[key])
    if "in_set" in pred:
        refs.append(pred["in_set"])
    for key in ("flag", "in_list"):
        if key in pred:
            refs.append(pred[key])
    for key in ("all", "any"):
        for sub in pred.get(key, []):
            refs.extend(_param_refs(sub))
    if "not" in pred:
        refs.extend(_param_refs(pred["not"]))
    return refs


def _check_references(params: dict[str, Timeline], paragraphs: dict[str, ParagraphDef],
                      rules: dict[str, RuleVersion], drules: dict[str, RuleDef]) -> None:
    predicated: list[ParagraphDef | RuleDef] = [*paragraphs.values(), *drules.values()]
    for g in predicated:
        for e in (*g.timeline.entries, *g.timeline.overrides):
            for ref in _param_refs(e.value):
                if ref not in params:
                    raise LawDataError(f"{g.name} ({e.effective}) refers to unknown parameter {ref}")
    for r in drules.values():
        for pref in (r.policy, r.value):
            if pref is not None and pref not in params:
                raise LawDataError(f"rule {r.name} names unknown parameter {pref}")
    for tl in (*params.values(), *(g.timeline for g in predicated)):
        for e in tl.entries:
            if e.rule is not None and e.rule not in rules:
                raise LawDataError(f"{tl.name} ({e.effective}) names unknown rule version {e.rule}")


BUILTIN_REGIMES = {p.stem: p for p in sorted(REGIME_DIR.glob("*.yaml"))}


def _add_overrides(reg: Any, path: Path, kind: str, overrides: dict[str, list[_OverrideIn]],
                   timelines: dict[str, Timeline], jurisdiction: str = "US-EAR") -> None:
    """Put a regime's dated overrides on the named timelines (a parameter's `value`, or the `when`
    of a paragraph or rule). Overrides of another jurisdiction's law are left for that law."""
    for name, entries in overrides.items():
        if jurisdiction_of_name(name) != jurisdiction:
            continue
        if name not in timelines:
            raise UnknownParameter(f"{path}: regime overrides unknown {kind} {name!r}")
        for o in entries:
            timelines[name].overrides.append(Entry(
                effective=o.from_, until=o.until, value=o.value if kind == "parameter" else o.when, source=o.source,
                cite=o.cite or f"regime {reg.regime}: {name}", hypothetical=reg.hypothetical))


def _apply_regime(reg: Any, path: Path, params: dict[str, Timeline],
                  paragraphs: dict[str, ParagraphDef], drules: dict[str, RuleDef], jurisdiction: str = "US-EAR") -> None:
    _add_overrides(reg, path, "parameter", reg.parameters, params, jurisdiction)
    _add_overrides(reg, path, "paragraph", reg.paragraphs, {n: g.timeline for n, g in paragraphs.items()}, jurisdiction)
    _add_overrides(reg, path, "rule", reg.rules, {n: r.timeline for n, r in drules.items()}, jurisdiction)
    overridable: list[ParagraphDef | RuleDef] = [*paragraphs.values(), *drules.values()]
    for g in overridable:
        for e in g.timeline.overrides:
            for ref in _param_refs(e.value):
                if ref not in params:
                    raise LawDataError(f"{path}: {g.name} refers to unknown parameter {ref}")


def _resolve_regime_path(regime: str | Path) -> Path:
    if isinstance(regime, str) and regime in BUILTIN_REGIMES:
        return BUILTIN_REGIMES[regime]
    path = Path(regime)
    if not path.exists():
        known = ", ".join(BUILTIN_REGIMES)
        raise LawDataError(f"no regime file {str(regime)!r} (built-in regimes: {known})")
    return path


@lru_cache(maxsize=32)
def _load_cached(regime_path: str, mtime: float, jurisdiction: str = "US-EAR") -> Law:
    path = Path(regime_path)
    reg = _validate(_RegimeIn, _read_yaml(path), path)
    params, paragraphs, rules, drules = _load_files(LAW_DIR, jurisdiction)
    _apply_regime(reg, path, params, paragraphs, drules, jurisdiction)
    return Law(
        regime=reg.regime,
        regime_description=reg.description,
        hypothetical=reg.hypothetical,
        params=params,
        paragraphs=paragraphs,
        rule_versions=rules,
        rules=drules,
        jurisdiction=jurisdiction,
    )


def load_law(regime: str | Path = "historical", jurisdiction: str = "US-EAR") -> Law:
    """The law of `jurisdiction` ("US-EAR" or "CN-ECL") under `regime`: a built-in regime name or
    the path of a regime YAML file. A regime file may override the law of either jurisdiction;
    each law takes the overrides of its own names.

    Laws are cached per file, modification time and jurisdiction, so repeated calls are cheap.
    """
    check_jurisdiction(jurisdiction)
    if isinstance(regime, str) and regime in BUILTIN_REGIMES:
        return _load_builtin(regime, jurisdiction)
    path = _resolve_regime_path(regime).resolve()
    return _load_cached(str(path), path.stat().st_mtime, jurisdiction)


@lru_cache(maxsize=64)
def _load_builtin(name: str, jurisdiction: str) -> Law:
    """A built-in regime: its file ships with the package and does not change while we run, so it is
    looked up once (a service asks for the law on every request)."""
    path = _resolve_regime_path(name).resolve()
    return _load_cached(str(path), path.stat().st_mtime, jurisdiction)
