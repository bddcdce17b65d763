"""The determination under China's export controls (CN-ECL): the same rules engine, answer type
and trace as the US side, run over the CN law (law/cn_ecl) and the CN-side facts of a transaction.

1. the item: a material by entry, HS code or name (chipwatch.cn_ecl.items); a chip or other US
   item is not among the CN items chipwatch encodes;
2. jurisdiction: an export from the PRC, or, under No. 61 while in force, a foreign-made item
   with PRC rare-earth content at or above the value share, PRC rare-earth technology, or PRC
   origin;
3. licence requirements (each listing announcement, Art. 1 of 2024 No. 46, the control list);
4. the review policy: the first review rule that holds; warnings (suspensions, UEL, Art. 3).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from chipwatch.answer import Comparison, Step
from chipwatch.cn_ecl.items import ItemMatch, find_item, normalise
from chipwatch.determine import (
    Determination,
    Outcome,
    Reason,
    ReviewPolicy,
    Transaction,
    Warning_,
    _step,
    branch_outcomes,
    law_version_on,
    missing_subjects,
    reason_code,
    run_outcome,
)
from chipwatch.errors import InvalidInput
from chipwatch.law import Law, load_law
from chipwatch.predicates import Env

JURISDICTION = "CN-ECL"
RE_CONTENT_PARAM = "cn_ecl.no61_prc_re_content_min_pct"
PERCENT = 100.0  # a share of value expressed in per cent

# What to try for a missing fact: (label, value) pairs that lead the rules down each branch.
_BRANCHES: dict[str, list[tuple[str, Any]]] = {
    "military_end_user": [("the end user is a military user", True), ("not a military user", False)],
    "cn_listed": [("a party is on China's export control control list", True), ("no party is on it", False)],
    "prc_origin": [("the item is of PRC origin", True), ("not of PRC origin", False)],
    "prc_re_technology": [("made with PRC rare-earth technology", True), ("not made with it", False)],
    "end_user_hq": [("end user headquartered in the US", "US"), ("end user headquartered elsewhere", "(elsewhere)")],
    "dual_use": [("the item is on China's dual-use list", True), ("it is not", False)],
}
_WHY = {
    "military_end_user": "2024 No. 46 Art. 1 (and No. 61's denial) turn on whether the end user is a military user",
    "cn_listed": "screen every party against China's export control control list (or pass --cn-not-listed)",
    "prc_origin": "No. 61 (3) reaches PRC-origin Annex 1 items exported from abroad",
    "prc_re_technology": "No. 61 (2) reaches foreign-made items made with PRC rare-earth technology",
    "end_user_hq": "2024 No. 46 Art. 1 reaches US military users wherever the goods go",
    "dual_use": "chipwatch encodes only the announcement items; China's full dual-use list may cover this item",
    "prc_re_content_pct": "No. 61 (1) turns on the PRC-origin rare-earth share of the item's value: give --re-content-pct",
    "logic_node_nm": "No. 61's case-by-case review turns on the end use (logic chips of 14 nm or below)",
    "memory_layers": "No. 61's case-by-case review turns on the end use (memory chips of 256 layers or more)",
}


def load_cn_law(regime: str | Path | None = None) -> Law:
    return load_law(regime or "historical", jurisdiction=JURISDICTION)


def _match(txn: Transaction) -> ItemMatch | None:
    return find_item(txn.material) if txn.material is not None else None


def _item_step(txn: Transaction, m: ItemMatch | None) -> Step:
    if m is None:
        what = txn.item or txn.eccn or ("model weights" if txn.model_weights else "a computer")
        return Step(check="CN-ECL item: is it among the announcement items chipwatch encodes?",
                    result=f"no: {what} is not one of them (China's full dual-use list is not encoded)",
                    values={"item": what})
    it = m.item
    values: dict[str, Any] = {"id": it.id, "class": it.cls, "entry": it.entry, "hs": list(it.hs), "lists": list(it.lists),
                              "matched_by": m.matched_by}
    if m.candidates:
        values["same_code_items"] = list(m.candidates)
    if it.note:
        values["uncertain"] = it.note
    return Step(check=f"CN-ECL item for {txn.material!r}", result=f"{it.name} ({' '.join(it.zh[:1])})".replace(" ()", ""),
                values=values, cite=f"{it.announcement}" + (f", entry {it.entry}" if it.entry else ""), source=it.source)


def re_content(txn: Transaction, law: Law, on: date) -> tuple[float | None, Step | None]:
    """The PRC-origin rare-earth share of the item's value, in per cent, with the computation."""
    if txn.prc_re_value is None or txn.item_value is None:
        if txn.prc_re_content_pct is None:
            return None, None
        return txn.prc_re_content_pct, Step(check="PRC-origin rare-earth content (given)", result=f"{txn.prc_re_content_pct:g} %",
                                            values={"prc_re_content_pct": txn.prc_re_content_pct})
    pct = txn.prc_re_value / txn.item_value * PERCENT
    comps = []
    if law.in_force(RE_CONTENT_PARAM, on):
        pv = law.value(RE_CONTENT_PARAM, on)
        comps.append(Comparison(subject="prc_re_content_pct", value=round(pct, 6), op="≥", param=RE_CONTENT_PARAM,
                                threshold=pv.value, result=round(pct, 6) >= pv.value, cite=pv.cite, effective=pv.effective))
    return pct, Step(check="PRC-origin rare-earth content: value of PRC-origin Annex 1 Part 1 items ÷ value of the item × 100",
                     result=f"{txn.prc_re_value:g} ÷ {txn.item_value:g} × 100 = {pct:.6g} %",
                     values={"prc_re_value": txn.prc_re_value, "item_value": txn.item_value, "prc_re_content_pct": pct},
                     comparisons=comps, cite="2025 No. 61, Art. 1(1)")


def _listed(names_param: str, name: str | None, law: Law, on: date) -> tuple[bool | None, str | None]:
    """Whether `name` is on the bundled sample of a CN list on `on` (None without a name)."""
    if not name:
        return None, None
    if not law.in_force(names_param, on):
        return False, None
    key = normalise(name)
    for listed in law.value(names_param, on).value:
        if normalise(listed) == key:
            return True, listed
    return False, None


def cn_facts(txn: Transaction, m: ItemMatch | None, law: Law, on: date,
             re_pct: float | None) -> tuple[dict[str, Any], dict[str, float | None], list[Step]]:
    """The facts and metrics the CN rules read, and the screening steps taken to get them."""
    steps: list[Step] = []
    cn_listed = txn.cn_listed
    cn_uel = txn.cn_uel
    name = txn.end_user.name
    if cn_listed is None and name:
        cn_listed, hit = _listed("cn_ecl.control_list", name, law, on)
        pv = law.value("cn_ecl.control_list", on) if law.in_force("cn_ecl.control_list", on) else None
        steps.append(Step(check=f"screen the end user '{name}' against China's export control control list (bundled sample)",
                          result=f"listed: {hit}" if cn_listed else "not on the sample",
                          cite=pv.cite if pv else None, source=pv.source if pv else None,
                          values={"uncertain": pv.uncertain} if pv and pv.uncertain else {}))
    if cn_uel is None and name:
        cn_uel, hit = _listed("cn_ecl.unreliable_entity_list", name, law, on)
        steps.append(Step(check=f"screen the end user '{name}' against the Unreliable Entity List (bundled sample)",
                          result=f"listed: {hit}" if cn_uel else "not on the sample"))
    exported = txn.ships_from == "CN"
    facts: dict[str, Any] = {
        "item_lists": list(m.item.lists) if m else [],
        "material_class": m.item.cls if m else None,
        # a chip or other item chipwatch has no CN entry for: whether China's list covers it is unknown
        "dual_use": True if m else None,
        "exported_from_cn": exported,
        "destination": txn.destination,
        "ships_from": txn.ships_from,
        "end_user_hq": txn.end_user.hq,
        "prc_origin": True if exported and txn.prc_origin is None else txn.prc_origin,
        "prc_re_technology": txn.prc_re_technology,
        "military_end_user": txn.military_end_user,
        "end_uses": list(txn.end_uses),
        "cn_listed": cn_listed,
        "cn_uel": cn_uel,
    }
    metrics: dict[str, float | None] = {
        "prc_re_content_pct": None if re_pct is None else round(re_pct, 6),
        "logic_node_nm": txn.logic_node_nm,
        "memory_layers": None if txn.memory_layers is None else float(txn.memory_layers),
    }
    return facts, metrics, steps


def _summary(o: Outcome, law: Law, on: date) -> str:
    return o.summary(law, on).replace("not subject to the EAR", "not subject to CN-ECL")


def determine_cn(txn: Transaction, *, law: Law | None = None, regime: str | Path | None = None,
                 include_announced: bool = True) -> Determination:
    """Determine `txn` under China's export controls on its date."""
    law = (law or load_cn_law(regime)).as_written(include_announced)
    on = txn.date
    first = min(r.timeline.first_effective for r in law.rules.values())
    if on < first:
        raise InvalidInput(f"chipwatch's CN-ECL data starts with the Export Control Law on {first.isoformat()}; "
                           f"no answer for {on.isoformat()}")
    m = _match(txn)
    re_pct, re_step = re_content(txn, law, on)
    facts, metrics, screen_steps = cn_facts(txn, m, law, on, re_pct)
    o = run_outcome(law, on, Env(metrics=metrics, facts=facts))

    trace: list[Step] = [_item_step(txn, m)]
    if re_step is not None:
        trace.append(re_step)
    trace += screen_steps
    trace.append(Step(check="destination and parties", result=txn.destination,
                      values={"ships_from": txn.ships_from, "exported_from_cn": facts["exported_from_cn"],
                              "destination": txn.destination, "end_user_hq": txn.end_user.hq,
                              "military_end_user": facts["military_end_user"], "end_uses": facts["end_uses"],
                              "cn_listed": facts["cn_listed"], "prc_origin": facts["prc_origin"]}))
    trace += [_step(r, "jurisdiction") for r in o.jurisdiction]
    if o.subject is False:
        trace.append(Step(check="subject to China's export controls?", result="no: none of the jurisdiction rules applies"))
    trace += [_step(r, "licence requirement") for r in o.requirements]
    if o.review is not None:
        trace += [_step(r, "review policy") for r in o.review_unknown_before]
        trace.append(_step(o.review, "review policy"))
    trace += [_step(w, "warning") for w in o.warnings]

    reasons = [Reason(code=r.rule.code, title=r.rule.title, cite=r.entry.cite, source=r.entry.source, rule=r.entry.rule,
                      basis=r.entry.basis, uncertain=r.entry.uncertain)
               for r in o.requirements if r.result is True and o.subject is not False]
    review = None
    if o.review is not None and o.licence_required is not False and o.review.rule.policy:
        pv = law.value(o.review.rule.policy, on)
        review = ReviewPolicy(code=o.review.rule.code, policy=str(pv.value), title=o.review.rule.title,
                              cite=o.review.entry.cite, source=o.review.entry.source, basis=o.review.entry.basis,
                              uncertain=pv.uncertain or o.review.entry.uncertain,
                              depends_on=sorted({c.subject for r in o.review_unknown_before for c in r.comparisons
                                                 if c.result is None}))
    warnings = [Warning_(code=w.rule.code, title=w.rule.title, cite=w.entry.cite, source=w.entry.source, basis=w.entry.basis)
                for w in o.warnings]
    missing_facts = branch_outcomes(law, on, facts, metrics, missing_subjects(o, facts, metrics), options=_BRANCHES, why=_WHY,
                                    summary=lambda out: _summary(out, law, on))
    if review is not None:
        relevant = {mf.fact for mf in missing_facts}
        review = review.model_copy(update={"depends_on": [f for f in review.depends_on if f in relevant]})
    # uncertain points of the rules that decided the answer, and of the item itself
    uncertain = sorted({s.values["uncertain"] for s in trace if "uncertain" in s.values
                        and (s.result in ("applies", "unknown: a fact is missing") or s is trace[0])})
    if m is None:
        uncertain.append("China's Dual-Use Items Export Control List is not encoded beyond the announcement items")
    return Determination(
        date=on, regime=law.regime, hypothetical=law.hypothetical, include_announced=law.include_announced,
        item=m.item.name if m else (txn.item or txn.eccn or "item"), eccn=None,
        classification_paragraph=(m.item.entry if m else None), subject_to_ear=o.subject,
        licence_required=o.licence_required,
        reason_code=reason_code(o.subject, o.licence_required, [r.rule.code for r in o.requirements if r.result is True],
                                [r.rule.code for r in o.requirements if r.result is None]),
        reasons=reasons, undetermined=[r.rule.code for r in o.requirements if r.result is None],
        licence_exceptions=[], review_policy=review, conditions=[], warnings=warnings, missing_facts=missing_facts,
        rule_version=law_version_on(law, on), uncertain=uncertain, trace=trace, transaction=txn, jurisdiction=JURISDICTION,
    )
