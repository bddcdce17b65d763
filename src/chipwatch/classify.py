"""classify: an item and a date -> the advanced-computing ECCN paragraph it falls under, and why.

The paragraphs, their thresholds and their dates all come from the law data (`chipwatch.law`);
this module computes the item's metrics, asks the predicates of the paragraphs in force on the
date, and records every step. `classify_frame` answers the same question for a table of chips
and dates with the same predicates compiled to polars.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date
from typing import Any, Literal

import polars as pl
from pydantic import BaseModel, ConfigDict, Field

from chipwatch.answer import Comparison, MissingFact, RuleRef, Step, Threshold, rule_ref
from chipwatch.catalog import Chip, Item, MemoryStack, System, default_catalog
from chipwatch.errors import InvalidInput
from chipwatch.law import Entry, Law, ParagraphDef, load_law
from chipwatch.metrics import (
    DECIMALS,
    density_expr,
    memory_bandwidth_density,
    performance_density,
    total_processing_performance,
    tpp_expr,
)
from chipwatch.predicates import Env, Tri, evaluate, params_of, subjects, to_polars, tri_all, tri_any

BITS_PARAM = "us_ear.3a090.operand_bits"
Z_PARAM = "us_ear.3a090.z_base_eccns"

# What the user would have to supply for each metric or fact a paragraph reads.
INPUT_FOR: dict[str, str] = {
    "tpp": "dense compute rates (TOPS per operand format)",
    "processing_performance": "dense compute rates (TOPS per operand format)",
    "pd": "applicable die area (mm², non-planar logic dies)",
    "io_rate": "aggregate bidirectional interconnect rate (GB/s)",
    "mbd": "memory bandwidth (GB/s) and package area (mm²)",
    "datacenter": "whether the IC is designed or marketed for use in datacenters",
    "co_packaged_with_logic": "whether the memory is co-packaged with a logic IC",
    "designer_attests_not_3a090a": "an approved/authorized IC designer's attestation that the IC is below 3A090.a",
    "packager_attests_transistor_count": "a fabricator or approved-OSAT attestation of the transistor count",
    "transistors_bn": "aggregated approximated transistor count (billions)",
    "contains_hbm": "whether the packaged IC contains high-bandwidth memory",
    "node_nm": "process node (nm) of the logic dies",
    "nonplanar_logic": "whether the logic dies use non-planar transistors",
}
UNITS = {"tpp": "TPP", "processing_performance": "bit-TOPS", "pd": "TPP/mm²", "io_rate": "GB/s",
         "mbd": "GB/s/mm²"}


class FoundryFacts(BaseModel):
    """Facts for Note 1 to 3A090.a: who exports, and what attestations they hold.

    The presumption binds only front-end fabricators and OSATs; for anyone else it does not apply.
    An attestation left as None is unknown, and the answer then shows both branches.
    """

    model_config = ConfigDict(frozen=True)

    exporter_role: Literal["front_end_fabricator", "osat", "other"] = "other"
    designer_attests_not_3a090a: bool | None = Field(
        default=None, description="an approved or authorized IC designer's datasheet/attestation shows TPP and PD below 3A090.a")
    packager_attests_transistor_count: bool | None = Field(
        default=None, description="the fabricator (outside Macau/D:5) or an approved OSAT attests the aggregated transistor count")
    transistors_bn: float | None = Field(default=None, description="attested aggregated approximated transistor count, billions")
    contains_hbm: bool | None = None
    nonplanar_logic: bool | None = Field(default=None, description="logic dies use non-planar (FinFET/GAA) transistors")


_NODE_PATTERNS = (re.compile(r"(\d+(?:\.\d+)?)\s*nm", re.I), re.compile(r"\bN(\d+)", re.I), re.compile(r"\b(\d+)N\b"),
                  re.compile(r"\b(\d+)\s*NP?\b"))


def node_nm(process_node: str | None) -> float | None:
    """The smallest node number (nm) named in a process description ('TSMC N5 (XCD) + N6 (IOD)' -> 5)."""
    if not process_node:
        return None
    found = [float(m) for pat in _NODE_PATTERNS for m in pat.findall(process_node)]
    return min(found) if found else None


class Metric(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    value: float | None
    unit: str
    formula: str


class Classification(BaseModel):
    """The answer to "what is this item on this date?"."""

    item: str
    item_kind: str
    date: date
    regime: str
    hypothetical: bool
    eccn: str | None = Field(description="ECCN paragraph, e.g. '3A090.a'; None if no advanced-computing paragraph applies")
    paragraph: str | None = Field(description="the sub-paragraph that decided it, e.g. '3A090.a.1'")
    z_eccn: str | None = None
    determinate: bool = True
    metrics: dict[str, Metric]
    thresholds: list[Threshold]
    rule: RuleRef | None
    missing_facts: list[MissingFact] = Field(default_factory=list)
    trace: list[Step]
    notes: list[str] = Field(default_factory=list)
    parts: list[Classification] = Field(default_factory=list)

    @property
    def label(self) -> str:
        """Short form for tables: the ECCN, '?' appended when it turns on a missing fact."""
        base = self.z_eccn or self.eccn or "—"
        return base if self.determinate else f"{base}?"


# --- metrics ------------------------------------------------------------------------------------


def _chip_metrics(chip: Chip, bits: dict[str, int]) -> tuple[
        dict[str, Metric], list[Step], dict[str, float | None], list[str]]:
    notes: list[str] = []
    values: dict[str, float | None] = {"tpp": None, "pd": None, "processing_performance": None,
                                       "io_rate": chip.interconnect_bandwidth_gbs}
    steps: list[Step] = []
    metrics: dict[str, Metric] = {}
    if chip.dense_tops:
        tpp = total_processing_performance([chip.dense_tops], bits)
        values["tpp"] = values["processing_performance"] = tpp.value
        cands = {c.fmt: f"{c.dense_tops:g} × {c.bits} = {c.product:g}" for c in tpp.candidates}
        steps.append(Step(
            check="'total processing performance' = largest (dense TOPS × operand bit length) over supported formats",
            result=f"{tpp.value:g} (decided by {tpp.deciding_format})",
            values={"candidates": cands, "tpp": tpp.value, "deciding_format": tpp.deciding_format},
        ))
        if "tf32" in tpp.deciding_format:
            others = {f: r for f, r in chip.dense_tops.items() if f != "tf32"}
            alt = total_processing_performance([others], bits).value if others else None
            notes.append(
                f"TPP is decided by the TF32 rate counted at {bits['tf32']} bits; the bit length of TF32 is an "
                f"interpretation (the Technical Note does not name it). Without TF32 the TPP would be "
                f"{alt:g}." if alt is not None else "TPP is decided by the TF32 rate alone.")
        metrics["tpp"] = Metric(name="tpp", value=tpp.value, unit="TPP",
                                formula=f"max over formats of dense TOPS × bits = {cands[tpp.deciding_format]}")
        if chip.die_area_mm2 is not None:
            pd = performance_density(tpp.value, chip.die_area_mm2)
            values["pd"] = pd
            metrics["pd"] = Metric(name="pd", value=pd, unit="TPP/mm²",
                                   formula=f"{tpp.value:g} / {chip.die_area_mm2:g} mm²")
            steps.append(Step(check="'performance density' = TPP / applicable die area",
                              result=f"{pd:g}",
                              values={"tpp": tpp.value, "die_area_mm2": chip.die_area_mm2, "pd": pd}))
        else:
            metrics["pd"] = Metric(name="pd", value=None, unit="TPP/mm²", formula="die area not given")
    else:
        metrics["tpp"] = Metric(name="tpp", value=None, unit="TPP", formula="no dense compute rate given")
        metrics["pd"] = Metric(name="pd", value=None, unit="TPP/mm²", formula="no dense compute rate given")
        steps.append(Step(check="'total processing performance'", result="unknown: no dense compute rate given"))
    metrics["processing_performance"] = Metric(
        name="processing_performance", value=values["processing_performance"], unit="bit-TOPS",
        formula="Oct-2022 metric: TOPS × bit length (same arithmetic as TPP on dense datasheet rates)")
    metrics["io_rate"] = Metric(name="io_rate", value=values["io_rate"], unit="GB/s",
                                formula="aggregate bidirectional chip-to-chip interconnect rate"
                                if values["io_rate"] is not None else "interconnect rate not given")
    return metrics, steps, values, notes


# --- paragraph evaluation -----------------------------------------------------------------------


def _evaluate_paragraphs(
    law: Law, on: date, item_kind: str, env: Env
) -> tuple[list[tuple[ParagraphDef, Entry, Tri, list[Comparison]]], list[Step]]:
    rows = []
    steps = []
    for p, entry in law.paragraphs_in_force(on, item_kind):
        result, comps = evaluate(entry.value, env, law, on)
        rows.append((p, entry, result, comps))
        word = {True: "met", False: "not met", None: "unknown (an input is missing)"}[result]
        if p.kind == "exclusion":
            word = {True: f"applies: excludes {', '.join(p.excludes)}", False: "does not apply",
                    None: "unknown (an input is missing)"}[result]
        if p.kind == "presumption":
            word = {True: f"applies: treated as {p.eccn} and designed for datacenters", False: "does not apply",
                    None: "unknown (an attestation or fact is missing)"}[result]
        steps.append(Step(check=p.label, result=word, comparisons=comps, cite=entry.cite,
                          source=entry.source, effective=entry.effective,
                          params=[n for n in params_of(entry.value) if law.timeline(n).in_force(on)]))
    return rows, steps


def _decide(rows: list[tuple[ParagraphDef, Entry, Tri, list[Comparison]]]) -> tuple[
        ParagraphDef | None, bool, list[tuple[str, str | None]], list[Comparison]]:
    """First paragraph met (or possibly met) and not excluded; whether that is certain; the
    branches the answer could take; the comparisons that lacked an input."""
    exclusions = [(p, r) for p, _, r, _ in rows if p.kind == "exclusion"]
    branches: list[tuple[str, str | None]] = []
    unknown: list[Comparison] = []
    for _, _, _, comps in rows:
        unknown += [c for c in comps if c.value is None]
    for p, _, met, _ in rows:
        if p.kind == "exclusion":
            continue
        excluded = (tri_any([r for x, r in exclusions if p.eccn in x.excludes])
                    if p.kind == "paragraph" else False)
        effective: Tri = tri_all([met, None if excluded is None else not excluded])
        if effective is True:
            if branches:
                branches.append(("otherwise", p.eccn))
            chosen = next((q for q in rows if q[0].eccn == branches[0][1]), None) if branches else None
            return (chosen[0] if chosen else p), not branches, branches, unknown
        if effective is None:
            branches.append((f"if {p.name} is met", p.eccn))
    if branches:
        branches.append(("otherwise", None))
        first = next(q[0] for q in rows if q[0].name == branches[0][0].removeprefix("if ").removesuffix(" is met"))
        return first, False, branches, unknown
    return None, True, [], unknown


def _consulted_rule(law: Law, on: date, rows: list[tuple[ParagraphDef, Entry, Tri, list[Comparison]]],
                    extra_params: Sequence[str]) -> RuleRef | None:
    """The latest rule version among the paragraph versions and parameters the answer used."""
    entries: list[Entry] = [e for _, e, _, _ in rows]
    names = {n for _, e, _, _ in rows for n in params_of(e.value)} | set(extra_params)
    entries += [law.timeline(n).entry_at(on) for n in names if law.timeline(n).in_force(on)]
    dated = [e for e in entries if e.rule]
    if not dated:
        return None
    latest = max(dated, key=lambda e: e.effective)
    return rule_ref(law, latest.rule)


def _thresholds(law: Law, on: date, rows: list[tuple[ParagraphDef, Entry, Tri, list[Comparison]]],
                extra: Sequence[str]) -> list[Threshold]:
    names: list[str] = []
    for _, e, _, _ in rows:
        names += [n for n in params_of(e.value) if n not in names]
    names += [n for n in extra if n not in names]
    return [law.value(n, on) for n in names if law.timeline(n).in_force(on)]


# --- public entry points ------------------------------------------------------------------------


def _no_rule_yet(item: Item, on: date, law: Law) -> Classification:
    first = law.first_effective()
    step = Step(
        check="Is any advanced-computing paragraph (3A090/4A090) in force on this date?",
        result=f"no: the first took effect on {first.isoformat()}",
        values={"date": on.isoformat(), "first_effective": first.isoformat()},
    )
    return Classification(
        item=item.name, item_kind=item.kind, date=on, regime=law.regime, hypothetical=law.hypothetical,
        eccn=None, paragraph=None, metrics={}, thresholds=[], rule=None, trace=[step],
        notes=[f"No advanced-computing rule was in force before {first.isoformat()}."],
    )


def _finish(item: Item, on: date, law: Law, rows: list[tuple[ParagraphDef, Entry, Tri, list[Comparison]]],
            steps: list[Step], metrics: dict[str, Metric], extra_params: Sequence[str],
            base_eccn: str | None, parts: list[Classification] | None = None) -> Classification:
    chosen, determinate, branches, unknown = _decide(rows)
    eccn = chosen.eccn if chosen else None
    missing: list[MissingFact] = []
    if not determinate:
        for subject in dict.fromkeys(c.subject for c in unknown):
            readers = [p.name for p, _, r, comps in rows if r is None and any(c.subject == subject for c in comps)]
            if not readers:
                continue
            missing.append(MissingFact(
                fact=INPUT_FOR.get(subject, subject),
                why=f"{subject} is needed to decide {', '.join(readers)}",
                branches=dict(branches),
            ))
    conclusion = (
        f"{chosen.name} ({eccn})" if chosen and determinate
        else f"undetermined: {eccn or 'none'} if the missing facts go against the item" if chosen
        else "no advanced-computing paragraph met"
    )
    steps.append(Step(check="Most specific paragraph met, after exclusion notes (evaluated in order .a before .b)",
                      result=conclusion,
                      cite=next((e.cite for p, e, _, _ in rows if chosen and p.name == chosen.name), None),
                      source=next((e.source for p, e, _, _ in rows if chosen and p.name == chosen.name), None),
                      effective=next((e.effective for p, e, _, _ in rows if chosen and p.name == chosen.name), None)))
    z_eccn = None
    notes: list[str] = []
    if base_eccn:
        zlist = law.value(Z_PARAM, on)
        has_z = base_eccn.upper() in zlist.value
        if eccn and eccn.startswith("3A090") and has_z:
            z_eccn = f"{base_eccn.upper()}.z"
        steps.append(Step(
            check=f"Item otherwise classified under {base_eccn.upper()}: does a .z paragraph catch it?",
            result=f"yes: {z_eccn} (meets the {eccn} parameters)" if z_eccn else
            ("no: it does not meet 3A090" if has_z else f"no: {base_eccn.upper()} has no .z paragraph on this date"),
            values={"z_base_eccns": zlist.value}, cite=zlist.cite, source=zlist.source,
            effective=zlist.effective, params=[Z_PARAM]))
        extra_params = [*extra_params, Z_PARAM]
    if law.hypothetical:
        notes.append(f"Hypothetical regime {law.regime!r}: {law.regime_description}")
    return Classification(
        item=item.name, item_kind=item.kind, date=on, regime=law.regime, hypothetical=law.hypothetical,
        eccn=eccn, paragraph=chosen.name if chosen else None, z_eccn=z_eccn, determinate=determinate,
        metrics=metrics, thresholds=_thresholds(law, on, rows, extra_params),
        rule=_consulted_rule(law, on, rows, extra_params), missing_facts=missing, trace=steps,
        notes=notes, parts=parts or [],
    )


def _law_step(law: Law, on: date) -> Step:
    in_force = sorted((rv for rv in law.rule_versions.values() if rv.effective <= on), key=lambda r: r.effective)
    return Step(check=f"Law in force on {on.isoformat()} (regime {law.regime})",
                result=f"{len(in_force)} rule versions in force; latest {in_force[-1].id}" if in_force else "none",
                values={"rule_versions": [f"{r.id} ({r.source}, effective {r.effective})" for r in in_force]})


def _foundry_env(chip: Chip, foundry: FoundryFacts | None) -> tuple[dict[str, float | None], dict[str, bool | None]]:
    f = foundry or FoundryFacts()
    contains_hbm = f.contains_hbm
    if contains_hbm is None and chip.memory_type:
        contains_hbm = "HBM" in chip.memory_type.upper()
    metrics = {"transistors_bn": f.transistors_bn, "node_nm": node_nm(chip.process_node)}
    facts = {"exporter_is_fabricator_or_osat": f.exporter_role in ("front_end_fabricator", "osat"),
             "designer_attests_not_3a090a": f.designer_attests_not_3a090a,
             "packager_attests_transistor_count": f.packager_attests_transistor_count,
             "contains_hbm": contains_hbm, "nonplanar_logic": f.nonplanar_logic}
    return metrics, facts


def _classify_chip(chip: Chip, on: date, law: Law, base_eccn: str | None,
                   foundry: FoundryFacts | None = None) -> Classification:
    bits = law.value(BITS_PARAM, on)
    steps = [_law_step(law, on),
             Step(check="Operand bit length per format", result="from the law data",
                  values={"bits": bits.value, **({"uncertain": bits.uncertain} if bits.uncertain else {})},
                  cite=bits.cite, source=bits.source, effective=bits.effective, params=[BITS_PARAM])]
    metrics, msteps, values, metric_notes = _chip_metrics(chip, bits.value)
    steps += msteps
    fmetrics, ffacts = _foundry_env(chip, foundry)
    env = Env(metrics={**values, **fmetrics}, facts={"datacenter": chip.datacenter, **ffacts})
    rows, psteps = _evaluate_paragraphs(law, on, "ic", env)
    steps += psteps
    used = set().union(*(subjects(e.value) for _, e, _, _ in rows)) if rows else set()
    shown = {k: m for k, m in metrics.items() if k in {"tpp", "pd"} | used}
    result = _finish(chip, on, law, rows, steps, shown, [BITS_PARAM], base_eccn)
    result.notes[:0] = metric_notes
    return result


def _classify_memory(mem: MemoryStack, on: date, law: Law) -> Classification:
    mbd = memory_bandwidth_density(mem.bandwidth_gbs, mem.package_area_mm2)
    steps = [_law_step(law, on),
             Step(check="'memory bandwidth density' = memory bandwidth / package area", result=f"{mbd:g}",
                  values={"bandwidth_gbs": mem.bandwidth_gbs, "package_area_mm2": mem.package_area_mm2})]
    env = Env(metrics={"mbd": mbd}, facts={"co_packaged_with_logic": mem.co_packaged_with_logic})
    rows, psteps = _evaluate_paragraphs(law, on, "hbm", env)
    steps += psteps
    metrics = {"mbd": Metric(name="mbd", value=mbd, unit="GB/s/mm²",
                             formula=f"{mem.bandwidth_gbs:g} GB/s / {mem.package_area_mm2:g} mm²")}
    out = _finish(mem, on, law, rows, steps, metrics, [], None)
    if not rows:
        out.notes.append("No high-bandwidth-memory paragraph was in force on this date (3A090.c from the Dec-2024 rule).")
    return out


def _classify_system(system: System, on: date, law: Law, base_eccn: str | None) -> Classification:
    parts = [_classify_chip(part.chip, on, law, None) for part in system.parts]

    def contains(target: str) -> Tri:
        results: list[Tri] = []
        for c in parts:
            if c.eccn == target:
                results.append(True if c.determinate else None)
            elif not c.determinate and any(b == target for mf in c.missing_facts for b in mf.branches.values()):
                results.append(None)
            else:
                results.append(False)
        return tri_any(results)

    part_tpps = [c.metrics["tpp"].value if "tpp" in c.metrics else None for c in parts]
    total_tpp: float | None = None
    if all(t is not None for t in part_tpps):
        total_tpp = round(sum(float(t or 0) * p.count for t, p in zip(part_tpps, system.parts, strict=True)), DECIMALS)
    steps = [_law_step(law, on)]
    for c, p in zip(parts, system.parts, strict=True):
        steps.append(Step(check=f"Contained IC: {p.count} × {c.item}", result=c.label,
                          values={"tpp": c.metrics["tpp"].value if "tpp" in c.metrics else None},
                          cite=c.trace[-1].cite, source=c.trace[-1].source, effective=c.trace[-1].effective))
    rows, psteps = _evaluate_paragraphs(law, on, "system", Env(metrics={}, facts={}, contains=contains))
    steps += psteps
    metrics = {"tpp": Metric(name="tpp", value=total_tpp, unit="TPP",
                             formula="sum over contained ICs of count × TPP (system total; the paragraphs test the ICs)")}
    return _finish(system, on, law, rows, steps, metrics, [], base_eccn, parts)


def classify(
    item: Item | str,
    on: date | None = None,
    *,
    law: Law | None = None,
    regime: str | None = None,
    base_eccn: str | None = None,
    foundry: FoundryFacts | None = None,
) -> Classification:
    """Classify `item` (a catalog name, a Chip, a MemoryStack or a System) on date `on` (today by
    default) under the built-in history or another regime. `base_eccn` is the ECCN the item would
    otherwise have (e.g. '5A992'), to find its .z paragraph. `foundry` gives the exporter's role and
    attestations for the presumption of Note 1 to 3A090.a (front-end fabricators and OSATs)."""
    if law is None:
        law = load_law(regime or "historical")
    on = on or date.today()
    if isinstance(item, str):
        item = default_catalog().get(item)
    if not isinstance(item, (Chip, MemoryStack, System)):
        raise InvalidInput(f"cannot classify {type(item).__name__}: give a chip name, Chip, MemoryStack or System")
    if on < law.first_effective():
        return _no_rule_yet(item, on, law)
    if isinstance(item, Chip):
        return _classify_chip(item, on, law, base_eccn, foundry)
    if isinstance(item, MemoryStack):
        return _classify_memory(item, on, law)
    return _classify_system(item, on, law, base_eccn)


# --- vectorised path ----------------------------------------------------------------------------


def classification_change_dates(law: Law) -> list[date]:
    """Dates on which a classification can change: the CCL paragraphs and the 3A090 parameters
    (licence rules and country groups change determinations, not classifications)."""
    names = [n for n in law.params if n.startswith("us_ear.3a090.")]
    dates = set(law.change_dates(names))
    for p in law.paragraphs.values():
        dates |= p.timeline.change_dates()
    return sorted(dates)


def law_epochs(law: Law, dates: Sequence[date], item_kind: str = "ic") -> dict[date, list[date]]:
    """Group `dates` by the interval of constant law they fall in: the key is the start of the
    interval, so the predicates need compiling once per interval, not once per date."""
    changes = classification_change_dates(law)
    out: dict[date, list[date]] = {}
    for d in dates:
        start = max((c for c in changes if c <= d), default=None)
        out.setdefault(start or d, []).append(d)
    return out


def classify_frame(chips: pl.DataFrame, dates: Sequence[date], *, law: Law | None = None) -> pl.DataFrame:
    """Classify every chip row of `chips` (as `Catalog.to_frame()`) on every date in `dates`.

    Returns one row per (item, date) with eccn, paragraph and determinate, computed with the same
    law predicates as `classify`, compiled to polars expressions once per interval of constant law.
    """
    law = law or load_law()
    rate_cols = {c.removeprefix("tops_"): c for c in chips.columns if c.startswith("tops_")}
    first = law.first_effective()
    frames: list[pl.DataFrame] = []
    for start, group in law_epochs(law, dates).items():
        dates_frame = pl.DataFrame({"date": group}, schema={"date": pl.Date})
        base = chips.join(dates_frame, how="cross")
        if start < first:
            frames.append(base.select("item", "date").with_columns(
                eccn=pl.lit(None, pl.String), paragraph=pl.lit(None, pl.String), determinate=pl.lit(True)))
            continue
        bits = law.value(BITS_PARAM, start).value
        tpp = tpp_expr(rate_cols, bits)
        base = base.with_columns(
            tpp=tpp, processing_performance=tpp, io_rate=pl.col("io_rate_gbs"),
        ).with_columns(pd=density_expr(pl.col("tpp"), "die_area_mm2"))
        # Facts of Note 1 to 3A090.a that a catalog table does not carry: exporter not a foundry/OSAT.
        defaults: dict[str, pl.Expr] = {
            "exporter_is_fabricator_or_osat": pl.lit(False), "designer_attests_not_3a090a": pl.lit(None, pl.Boolean),
            "packager_attests_transistor_count": pl.lit(None, pl.Boolean), "transistors_bn": pl.lit(None, pl.Float64),
            "contains_hbm": pl.lit(None, pl.Boolean), "nonplanar_logic": pl.lit(None, pl.Boolean),
            "node_nm": pl.lit(None, pl.Float64)}
        base = base.with_columns(**{k: v for k, v in defaults.items() if k not in base.columns})
        rows = law.paragraphs_in_force(start, "ic")
        exprs: dict[str, pl.Expr] = {p.name: to_polars(e.value, law, start) for p, e in rows}
        exclusions = [(p, exprs[p.name]) for p, _ in rows if p.kind == "exclusion"]
        eccn_expr: Any = None
        para_expr: Any = None
        determinate = pl.lit(True)
        undecided_so_far = pl.lit(True)  # all earlier paragraphs certainly not met
        for p, _ in rows:
            if p.kind == "exclusion":
                continue
            excl = [e for x, e in exclusions if p.eccn in x.excludes] if p.kind == "paragraph" else []
            excluded = pl.any_horizontal(excl) if excl else pl.lit(False)
            effective = exprs[p.name] & ~excluded
            possible = effective.fill_null(True)
            take = undecided_so_far & possible
            eccn_expr = (pl.when(take).then(pl.lit(p.eccn)) if eccn_expr is None
                         else eccn_expr.when(take).then(pl.lit(p.eccn)))
            para_expr = (pl.when(take).then(pl.lit(p.name)) if para_expr is None
                         else para_expr.when(take).then(pl.lit(p.name)))
            determinate = pl.when(take).then(effective.is_not_null() & determinate).otherwise(determinate)
            undecided_so_far = undecided_so_far & ~possible
        out = base.select(
            "item", "date",
            eccn=(eccn_expr.otherwise(None) if eccn_expr is not None else pl.lit(None, pl.String)),
            paragraph=(para_expr.otherwise(None) if para_expr is not None else pl.lit(None, pl.String)),
            determinate=determinate,
        )
        frames.append(out)
    return pl.concat(frames, how="vertical").sort(["date", "item"], maintain_order=True)
