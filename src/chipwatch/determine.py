"""Licence determination: may this item go to these parties, there, for that, on this date?

The law is the dated rules of `law/us_ear/determination_rules.yaml`; this module only builds the
facts of a transaction, runs the rules in their order and assembles the answer:

1. classify the item on the date (`chipwatch.classify`);
2. jurisdiction: is the item subject to the EAR (US origin, a foreign-direct-product rule, de
   minimis)?
3. licence requirements: every requirement rule that holds is a reason;
4. licence exceptions whose conditions hold and which can authorise every reason;
5. the review policy: the first review rule, in order, that holds;
6. conditions (revenue share, caps, testing) and warnings.

Rules are three-valued: a fact the user did not give makes a rule "unknown", never false. The
answer then names the missing fact and runs the determination once per value it could take.
The same rules compile to polars expressions for order books (`determine_frame`).
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from chipwatch.answer import Comparison, MissingFact, RuleRef, Step
from chipwatch.catalog import Chip, MemoryStack, System, SystemPart, default_catalog
from chipwatch.classify import Classification, classify
from chipwatch.errors import InvalidInput
from chipwatch.law import Law, load_law
from chipwatch.law.groups import country_code, load_country_groups
from chipwatch.law.model import Entry, RuleDef
from chipwatch.predicates import Env, Subject, Tri, evaluate, frozen, subjects_of, tri_any

END_USES = ("supercomputer", "advanced_node_ic", "sme_production", "military", "frontier_training", "datacenter_iaas")
EndUse = Literal["supercomputer", "advanced_node_ic", "sme_production", "military", "frontier_training", "datacenter_iaas"]
Origin = Literal["us", "foreign_direct_product", "foreign_us_content", "foreign"]
FOOTNOTES = ("FN1", "FN3", "FN4", "FN5")
VENDORS_FILE = Path(__file__).parent / "catalog" / "vendors.yaml"


# --- the transaction ----------------------------------------------------------------------------


def _code_or_none(v: str | None) -> str | None:
    return None if v is None or str(v).strip() == "" else country_code(str(v))


class Party(BaseModel):
    """A party to the transaction. `hq` is the country of its headquarters or, if it has one, of its
    ultimate parent. `listed`: on the Entity List (None = not screened); `footnotes`: the entry's
    footnotes (FN1, FN4, FN5); `owned_by_listed_pct`: aggregate ownership by listed parties."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = None
    country: str | None = None
    hq: str | None = None
    listed: bool | None = None
    meu: bool | None = Field(default=None, description="on the Military End-User list (Supp. No. 7 to part 744)")
    footnotes: list[str] = Field(default_factory=list)
    owned_by_listed_pct: float | None = Field(default=None, ge=0, le=100)

    _codes = field_validator("country", "hq")(classmethod(lambda cls, v: _code_or_none(v)))

    @field_validator("footnotes")
    @classmethod
    def _footnotes(cls, v: list[str]) -> list[str]:
        out = [f.strip().upper().replace("FOOTNOTE", "FN").replace(" ", "") for f in v]
        bad = [f for f in out if f not in FOOTNOTES]
        if bad:
            raise ValueError(f"unknown Entity List footnote {bad[0]!r} (known: {', '.join(FOOTNOTES)})")
        return out


class ModelWeights(BaseModel):
    """Model weights (ECCN 4E091 under the AI Diffusion text): training compute and whether published."""

    model_config = ConfigDict(extra="forbid")

    training_ops: float = Field(gt=0)
    published: bool = False


class Transaction(BaseModel):
    """One export, reexport or transfer to be determined.

    The item is a catalog chip (`item`), a computer containing chips (`contains`: name → count),
    model weights (`model_weights`), an ECCN given directly (`eccn`, with `datacenter`, `tpp`
    and `dram_bw` if known), or a material of China's export controls (`material`: control-list
    entry, HS code or name, e.g. "1C902.a", "8112929010", "gallium", "氮化镓").

    The CN-side facts (all optional, read only by the CN-ECL determination): `prc_origin`,
    `prc_re_content_pct` (or `prc_re_value` and `item_value`, from which it is computed),
    `prc_re_technology`, `military_end_user`, `cn_listed` (China's export control control list),
    `cn_uel` (Unreliable Entity List), `logic_node_nm` and `memory_layers` (the end use)."""

    model_config = ConfigDict(extra="forbid")

    item: str | None = None
    contains: dict[str, int] | None = None
    eccn: str | None = None
    model_weights: ModelWeights | None = None
    datacenter: bool | None = None
    tpp: float | None = Field(default=None, ge=0)
    dram_bw: float | None = Field(default=None, ge=0)
    mbd: float | None = Field(default=None, ge=0, description="memory bandwidth density (GB/s/mm2), for an HBM item given by ECCN")
    quantity: int = Field(default=1, ge=1)
    destination: str
    ships_from: str = "US"
    date: date
    end_user: Party = Field(default_factory=Party)
    purchaser: Party | None = None
    intermediate_consignee: Party | None = None
    ultimate_consignee: Party | None = None
    end_uses: list[EndUse] = Field(default_factory=list)
    origin: Origin = "us"
    us_content_pct: float | None = Field(default=None, ge=0, le=100)
    exporter_hq: str | None = None
    commercially_available_us: bool | None = None
    h200_certified: bool | None = None
    # --- facts China's export controls read (chipwatch.cn_ecl); the US rules ignore them
    material: str | None = None
    prc_origin: bool | None = Field(default=None, description="the item is of PRC origin (re-exports from abroad)")
    prc_re_content_pct: float | None = Field(default=None, ge=0, le=100,
                                             description="PRC-origin rare-earth content, % of the item's value (No. 61)")
    prc_re_value: float | None = Field(default=None, ge=0, description="value of the PRC-origin rare-earth content")
    item_value: float | None = Field(default=None, gt=0, description="value of the item (same currency)")
    prc_re_technology: bool | None = Field(default=None, description="made abroad with PRC rare-earth technology (No. 61)")
    military_end_user: bool | None = Field(default=None, description="the end user is a military user")
    cn_listed: bool | None = Field(default=None, description="a party is on China's export control control list")
    cn_uel: bool | None = Field(default=None, description="a party is on China's Unreliable Entity List")
    logic_node_nm: float | None = Field(default=None, gt=0, description="end use: logic chips of this node")
    memory_layers: int | None = Field(default=None, ge=1, description="end use: memory chips of this many layers")

    _codes = field_validator("destination", "ships_from", "exporter_hq")(classmethod(lambda cls, v: _code_or_none(v)))

    @model_validator(mode="after")
    def _one_item(self) -> Transaction:
        given = [k for k in ("item", "contains", "eccn", "model_weights", "material") if getattr(self, k)]
        if len(given) != 1:
            raise ValueError("give exactly one of item, contains, eccn, model_weights, material"
                             + (f" (got {', '.join(given)})" if given else ""))
        if (self.prc_re_value is None) != (self.item_value is None):
            raise ValueError("give prc_re_value and item_value together (the PRC rare-earth share is their ratio)")
        if self.prc_re_value is not None and self.item_value is not None and self.prc_re_value > self.item_value:
            raise ValueError("prc_re_value cannot exceed item_value")
        if self.prc_re_value is not None and self.prc_re_content_pct is not None:
            raise ValueError("give prc_re_content_pct or prc_re_value/item_value, not both")
        if self.contains is not None and any(n < 1 for n in self.contains.values()):
            raise ValueError("each contained chip count must be at least 1")
        return self

    def parties(self) -> list[Party]:
        return [p for p in (self.end_user, self.purchaser, self.intermediate_consignee, self.ultimate_consignee) if p]


def transaction(**kw: Any) -> Transaction:
    """Build a Transaction, turning validation errors into one-line InvalidInput messages."""
    try:
        return Transaction.model_validate(kw)
    except ValidationError as exc:
        raise InvalidInput(_first_error(exc)) from None


def _first_error(exc: ValidationError) -> str:
    e = exc.errors()[0]
    where = ".".join(str(p) for p in e["loc"])
    msg = str(e["msg"]).removeprefix("Value error, ")
    return f"{where}: {msg}" if where else msg


# --- the answer ---------------------------------------------------------------------------------


class Reason(BaseModel):
    """A licence requirement that applies, with the paragraph it rests on."""

    model_config = ConfigDict(frozen=True)

    code: str
    title: str
    cite: str
    source: str
    rule: str | None = None
    basis: str = "regulation"
    uncertain: str | None = None


class ExceptionOption(BaseModel):
    code: str
    title: str
    status: Literal["available", "may apply"]
    cite: str
    source: str
    conditions: list[str] = Field(default_factory=list)
    value: Any = None
    unit: str | None = None


class ReviewPolicy(BaseModel):
    code: str
    policy: str
    title: str
    cite: str
    source: str
    basis: str = "regulation"
    uncertain: str | None = None
    depends_on: list[str] = Field(default_factory=list, description="missing facts an earlier review rule turns on")


class Condition(BaseModel):
    code: str
    title: str
    value: Any = None
    unit: str | None = None
    cite: str
    source: str
    basis: str = "regulation"
    amount: float | None = Field(default=None, description="the transaction's share of a cap, where one is given")


class Warning_(BaseModel):
    code: str
    title: str
    cite: str
    source: str
    basis: str


class PartyScreening(BaseModel):
    """A party screened by name because the user did not say whether it is listed."""

    role: str
    name: str
    country: str | None
    listed: bool
    hits: list[Any]
    list_versions: list[str]
    warnings: list[str] = Field(default_factory=list)


class Determination(BaseModel):
    """The answer to "may I ship this?", with the reasons and a trace a lawyer can check."""

    date: date
    regime: str
    hypothetical: bool
    include_announced: bool
    item: str
    eccn: str | None
    classification_paragraph: str | None = None
    subject_to_ear: bool | None = Field(description="whether the export falls under the jurisdiction's law: the EAR for "
                                        "US-EAR, China's Export Control Law for CN-ECL (None: turns on missing facts)")
    licence_required: bool | None = Field(description="None: the answer turns on missing_facts")
    reason_code: str
    reasons: list[Reason]
    undetermined: list[str] = Field(default_factory=list, description="requirements that turn on missing facts")
    licence_exceptions: list[ExceptionOption]
    review_policy: ReviewPolicy | None
    conditions: list[Condition]
    warnings: list[Warning_]
    missing_facts: list[MissingFact]
    rule_version: RuleRef | None
    uncertain: list[str] = Field(default_factory=list)
    trace: list[Step]
    screening: list[PartyScreening] = Field(default_factory=list, description="the parties screened by name, with their hits")
    transaction: Transaction
    jurisdiction: str = Field(default="US-EAR", description="US-EAR (15 CFR 730-774) or CN-ECL (China's export controls)")


# --- facts --------------------------------------------------------------------------------------


@cache
def vendor_countries() -> dict[str, str]:
    data = yaml.safe_load(VENDORS_FILE.read_text(encoding="utf-8"))
    return {str(k): str(v) for k, v in data.items()}


@dataclass
class ItemFacts:
    kind: str  # ic, system, hbm, weights, eccn
    label: str
    eccn: str | None
    paragraph: str | None
    datacenter: bool | None
    product: str | None
    vendor: str | None
    tpp: float | None
    pd: float | None
    dram_bw: float | None
    mbd: float | None
    classification: Classification | None
    steps: list[Step]


def _tpp_of(c: Classification) -> float | None:
    m = c.metrics.get("tpp")
    return m.value if m else None


CLASSIFIED_LIMIT = 10_000  # classifications kept per law


def law_change_dates(law: Law) -> list[date]:
    """Every date on which a parameter, rule, paragraph or country group of `law` changes."""
    return sorted(set(law.change_dates()) | load_country_groups().change_dates())


def _periods(law: Law, name: str, change_dates: Callable[[Law], list[date]]) -> dict[Any, Any]:
    """A cache kept on `law` under `name`, with the dates that cut the law into periods within which
    what the cache holds cannot change (under the key "dates")."""
    kept: dict[Any, Any] = law.__dict__.setdefault(name, {})
    if "dates" not in kept:
        kept["dates"] = change_dates(law)
    return kept


def _classified(item: Chip | MemoryStack | System, on: date, law: Law) -> Classification:
    """The item's classification, remembered per interval of constant classification law: within one
    the answer differs only in its date, which the determination does not read from it."""
    from chipwatch.classify import classification_change_dates

    kept = _periods(law, "_classified", classification_change_dates)
    key = (item.name, bisect.bisect_right(kept["dates"], on))
    hit = kept.get(key)
    if hit is None or hit[0] is not item:
        hit = (item, classify(item, on, law=law))
        if len(kept) < CLASSIFIED_LIMIT:
            kept[key] = hit
    return hit[1]


def item_facts(txn: Transaction, law: Law) -> ItemFacts:
    """Classify the transaction's item on its date and return the facts the rules read."""
    on = txn.date
    if txn.eccn is not None:
        eccn = txn.eccn.strip()
        step = Step(check="ECCN given by the user", result=eccn, values={"eccn": eccn})
        # The product is not named, so rules that name products (the is-informed letters) do not match it.
        return ItemFacts(kind="hbm" if eccn == "3A090.c" else "eccn", label=f"ECCN {eccn} item", eccn=eccn,
                         paragraph=eccn, datacenter=txn.datacenter,
                         product=f"(ECCN {eccn}, product not named)", vendor=None, tpp=txn.tpp, pd=None,
                         dram_bw=txn.dram_bw, mbd=txn.mbd, classification=None, steps=[step])
    if txn.model_weights is not None:
        return _weights_facts(txn.model_weights, on, law)
    cat = default_catalog()
    item: Chip | MemoryStack | System
    if txn.item is not None:
        item = cat.get(txn.item)
    else:
        assert txn.contains is not None
        parts = tuple(SystemPart(chip=cat.get(n), count=k) for n, k in txn.contains.items())
        item = System(name=" + ".join(f"{k}× {p.chip.name}" for p, k in zip(parts, txn.contains.values(), strict=True)),
                      parts=parts)
    c = _classified(item, on, law)
    # An indeterminate classification (a figure missing) is unknown, not its likeliest paragraph.
    found: str | None = (c.eccn or "none") if c.determinate else None
    step = Step(check="classify the item", result=c.label,
                values={"eccn": found, "paragraph": c.paragraph, **{k: m.value for k, m in c.metrics.items()}},
                cite=c.trace[-1].cite if c.trace else None, source=c.rule.source if c.rule else None)
    chip: Chip | None = None
    tpp = _tpp_of(c)
    if isinstance(item, Chip):
        chip = item
    elif isinstance(item, System):
        # The 2026 review policy looks at the commodity's ICs: use the most capable part, whose
        # classification the system's answer already holds.
        part, part_c = max(zip(item.parts, c.parts, strict=True), key=lambda pc: _tpp_of(pc[1]) or 0.0)
        chip, tpp = part.chip, _tpp_of(part_c)
    pd_m = c.metrics.get("pd")
    mbd_m = c.metrics.get("mbd")
    datacenter = txn.datacenter if txn.datacenter is not None else (chip.datacenter if chip else None)
    return ItemFacts(
        kind=item.kind, label=item.name, eccn=found, paragraph=c.paragraph, datacenter=datacenter,
        product=chip.name if chip else item.name, vendor=chip.vendor if chip else None,
        tpp=txn.tpp if txn.tpp is not None else tpp, pd=pd_m.value if pd_m else None,
        dram_bw=txn.dram_bw if txn.dram_bw is not None else (chip.memory_bandwidth_gbs if chip else None),
        mbd=mbd_m.value if mbd_m else None, classification=c, steps=[step],
    )


def _weights_facts(w: ModelWeights, on: date, law: Law) -> ItemFacts:
    pname = "us_ear.ac.weights_training_ops_above"
    if not law.in_force(pname, on):
        step = Step(check="model weights: ECCN 4E091", result="not in the law on this date", params=[pname])
        return _weights("none", step)
    pv = law.value(pname, on)
    is_4e091 = w.training_ops > pv.value and not w.published
    comp = Comparison(subject="training_ops", value=w.training_ops, op=">", param=pname, threshold=pv.value,
                      result=w.training_ops > pv.value, cite=pv.cite, effective=pv.effective)
    step = Step(check="model weights: ECCN 4E091 (closed weights above the training-compute line)",
                result="4E091" if is_4e091 else "not 4E091", comparisons=[comp], cite=pv.cite, source=pv.source,
                values={"published": w.published}, params=[pname])
    return _weights("4E091" if is_4e091 else "none", step)


def _weights(eccn: str, step: Step) -> ItemFacts:
    return ItemFacts(kind="weights", label="model weights", eccn=eccn, paragraph=None, datacenter=None,
                     product="model weights", vendor=None,
                     tpp=None, pd=None, dram_bw=None, mbd=None, classification=None, steps=[step])


def transaction_facts(txn: Transaction, it: ItemFacts) -> tuple[dict[str, Any], dict[str, float | None]]:
    """The facts and metrics the rules read, from the transaction and its classified item."""
    parties = txn.parties()
    listed: Tri = tri_any([p.listed for p in parties])
    # A party whose Entity List status is known was screened, and so against the MEU list too.
    meu: Tri = tri_any([p.meu if p.meu is not None else (False if p.listed is not None else None) for p in parties])
    footnotes = sorted({f for p in parties for f in p.footnotes})
    owned = [p.owned_by_listed_pct for p in parties]
    owned_max = None if any(o is None for o in owned) else max(o for o in owned if o is not None)
    facts: dict[str, Any] = {
        "item_kind": it.kind,
        "eccn": it.eccn,
        "datacenter": it.datacenter,
        "product": it.product,
        "vendor": it.vendor,
        "developer_country": vendor_countries().get(it.vendor or ""),
        "destination": txn.destination,
        "ships_from": txn.ships_from,
        "from_us": txn.ships_from == "US",
        "end_user_hq": txn.end_user.hq,
        "exporter_hq": txn.exporter_hq,
        "end_uses": list(txn.end_uses),
        "origin": txn.origin,
        "party_listed": listed,
        "party_meu": meu,
        "party_footnotes": footnotes,
        "commercially_available_us": txn.commercially_available_us,
        "h200_certified": txn.h200_certified,
    }
    metrics: dict[str, float | None] = {
        "tpp": it.tpp, "pd": it.pd, "dram_bw": it.dram_bw, "mbd": it.mbd,
        "total_tpp": None if it.tpp is None else it.tpp * txn.quantity,
        "us_content_pct": txn.us_content_pct,
        "owned_by_listed_pct": owned_max,
    }
    return facts, metrics


# --- running the rules --------------------------------------------------------------------------


@dataclass(slots=True, eq=False)
class RuleResult:
    """A rule's result on a date for some facts. Remembered and shared by the questions of its
    period (see `rule_memo`): nothing changes one once made, so its trace steps are made once too."""

    rule: RuleDef
    entry: Entry
    result: Tri
    comparisons: list[Comparison]
    steps: dict[str, Step] = field(default_factory=dict, repr=False)


Memo = MutableMapping[Any, Any]


def run_rules(law: Law, on: date, kind: str, env: Env, memo: Memo | None = None,
              values: Mapping[tuple[str, str], Any] | None = None) -> list[RuleResult]:
    """Evaluate the rules of `kind` in force on `on`. With `memo` (one per law period), a rule
    already evaluated on the same values of the metrics and facts it reads is not evaluated again:
    the branches of missing facts re-run the rules with one fact changed, and most rules do not read
    it. `values`: those metrics and facts already made hashable (see `_subject_values`)."""
    if memo is None:
        return [RuleResult(rule, entry, *evaluate(entry.value, env, law, on))
                for rule, entry in law.rules_in_force(on, kind) if entry.value is not None]
    rules, kind_subjects = _period_rules(law, on, kind, memo)
    if values is not None and kind_subjects is not None:
        # All the rules of a kind at once, keyed on what any of them reads: a question differs from
        # an earlier one in a few values (the quantity, one fact of a branch), which most kinds do
        # not read. The list is shared between questions: callers filter it, never change it.
        key = (kind, tuple([values[s] for s in kind_subjects]))
        hit = memo.get(key)
        if hit is None:
            hit = memo[key] = _each_rule(law, on, rules, env, memo, values)
        return hit
    return _each_rule(law, on, rules, env, memo, values)


def _period_rules(law: Law, on: date, kind: str, memo: Memo) -> tuple[list[tuple[RuleDef, Entry, tuple[Subject, ...] | None]],
                                                                      tuple[Subject, ...] | None]:
    """The rules of `kind` in force in the period with what each reads, and what any of them reads
    (None if one reads something else), worked out once per period."""
    hit = memo.get(("rules", kind))
    if hit is None:
        rules = [(rule, entry, subjects_of(entry.value)) for rule, entry in law.rules_in_force(on, kind)
                 if entry.value is not None]
        hit = memo[("rules", kind)] = (rules, _union([subjects for _, _, subjects in rules]))
    return hit


def _union(parts: Sequence[tuple[Subject, ...] | None]) -> tuple[Subject, ...] | None:
    """The subjects of all `parts`, each once, in order of first reading; None if any part is None
    (reads something other than metrics and facts)."""
    if any(p is None for p in parts):
        return None
    union: list[Subject] = []
    for part in parts:
        union += [s for s in part or () if s not in union]
    return tuple(union)


def _each_rule(law: Law, on: date, rules: list[tuple[RuleDef, Entry, tuple[Subject, ...] | None]], env: Env, memo: Memo,
               values: Mapping[tuple[str, str], Any] | None) -> list[RuleResult]:
    """Each rule's result, from what the period remembers of it when it was evaluated on the same values."""
    out = []
    for rule, entry, subjects in rules:
        if subjects is None:
            out.append(RuleResult(rule, entry, *evaluate(entry.value, env, law, on)))
            continue
        if values is not None:
            key = (id(entry), tuple([values[s] for s in subjects]))
        else:
            key = (id(entry), tuple([frozen((env.metrics if k == "metric" else env.facts).get(n)) for k, n in subjects]))
        # The result holds its entry, so the entry's id in the key stays its own while remembered.
        hit = memo.get(key)
        if hit is None:
            hit = memo[key] = RuleResult(rule, entry, *evaluate(entry.value, env, law, on))
        out.append(hit)
    return out


@dataclass
class Outcome:
    """The bare outcome of the rules for one set of facts (what a branch shows)."""

    subject: Tri
    licence_required: Tri
    jurisdiction: list[RuleResult]
    requirements: list[RuleResult]
    exceptions: list[tuple[RuleResult, Tri]]
    review: RuleResult | None
    review_unknown_before: list[RuleResult]
    conditions: list[RuleResult]
    warnings: list[RuleResult]

    def reason_code(self) -> str:
        return reason_code(self.subject, self.licence_required, [r.rule.code for r in self.requirements if r.result is True],
                           [r.rule.code for r in self.requirements if r.result is None])

    def summary(self, law: Law, on: date) -> str:
        if self.licence_required is False:
            return "no licence required" + (" (not subject to the EAR)" if self.subject is False else "")
        head = "licence required" if self.licence_required else "undetermined"
        codes = "+".join(r.rule.code for r in self.requirements if r.result is True)
        out = f"{head}" + (f" ({codes})" if codes else "")
        if self.review is not None and self.licence_required:
            out += f"; review: {law.value(self.review.rule.policy, on).value}" if self.review.rule.policy else ""
        exc = [r.rule.code for r, ok in self.exceptions if ok is True]
        maybe = [r.rule.code for r, ok in self.exceptions if ok is None]
        if exc:
            out += f"; exception {', '.join(exc)} available"
        if maybe:
            out += f"; exception {', '.join(maybe)} may apply"
        return out


def reason_code(subject: Tri, required: Tri, true_codes: Sequence[str], unknown_codes: Sequence[str]) -> str:
    """The compact code batch output uses: NSR (not subject), NLR (no licence), the requirement
    codes joined by '+', and '?CODE' for requirements that turn on missing facts."""
    if subject is False:
        return "NSR"
    if required is False:
        return "NLR"
    parts = list(true_codes) + [f"?{c}" for c in unknown_codes]
    if subject is None:
        parts.append("?SUBJECT")
    return "+".join(parts) or "?"


class RuleMemo(dict[Any, Any]):
    """What one question learns (the dict itself), read over what its period already knows (`kept`)."""

    __slots__ = ("kept",)

    def __init__(self, kept: dict[Any, Any]) -> None:
        super().__init__()
        self.kept = kept

    def __missing__(self, key: Any) -> Any:
        return self.kept[key]

    def __contains__(self, key: object) -> bool:
        return dict.__contains__(self, key) or key in self.kept

    def get(self, key: Any, default: Any = None) -> Any:
        return dict.get(self, key, self.kept.get(key, default))


MEMO_LIMIT = 50_000  # rule results kept per law, all periods together: past it nothing more is added


def rule_memo(law: Law, on: date) -> Memo:
    """The rule results to use for a question on `law` dated `on`: those remembered for its period
    (between two consecutive dates on which any parameter, rule or country group changes), under
    what this question adds. Within a period every rule reads the same law values, so a rule
    evaluated on the same metrics and facts gives the same result and trace; the branches of one
    answer reuse what its main run found, and `remember` keeps it for later questions."""
    memos = _periods(law, "_rule_memos", law_change_dates)
    return RuleMemo(memos.setdefault(bisect.bisect_right(memos["dates"], on), {}))


def remember(law: Law, memo: Memo) -> None:
    """Keep what a question learned for later questions in its period, within MEMO_LIMIT (so a
    long-running service holds a bounded, then settled, set of results)."""
    if not isinstance(memo, RuleMemo):
        return
    memos = law.__dict__["_rule_memos"]
    if memos.get("size", 0) < MEMO_LIMIT:
        memo.kept.update(memo)
        memos["size"] = memos.get("size", 0) + len(memo)


_KINDS = ("jurisdiction", "requirement", "exception", "review", "condition", "warning")


def _subject_values(law: Law, on: date, env: Env, memo: Memo) -> dict[tuple[str, str], Any] | None:
    """Every metric and fact any rule in force reads, made hashable: equal tables, equal outcomes.
    None when a rule reads something else (a system's parts)."""
    if "subjects" not in memo:
        memo["subjects"] = _union([_period_rules(law, on, kind, memo)[1] for kind in _KINDS])
    subjects = memo["subjects"]
    if subjects is None or env.contains is not None:
        return None
    return {s: frozen((env.metrics if s[0] == "metric" else env.facts).get(s[1])) for s in subjects}


def run_outcome(law: Law, on: date, env: Env, memo: Memo | None = None) -> Outcome:
    values = _subject_values(law, on, env, memo) if memo is not None else None
    if memo is None or values is None:
        return _run_outcome(law, on, env, memo)
    key = ("outcome", *values.values())
    hit = memo.get(key)
    if hit is None:
        hit = memo[key] = _run_outcome(law, on, env, memo, values)
    return hit


def _run_outcome(law: Law, on: date, env: Env, memo: Memo | None = None,
                 values: Mapping[tuple[str, str], Any] | None = None) -> Outcome:
    jurisdiction = run_rules(law, on, "jurisdiction", env, memo, values)
    subject = tri_any([r.result for r in jurisdiction])
    requirements = run_rules(law, on, "requirement", env, memo, values)
    any_req = tri_any([r.result for r in requirements])
    required: Tri = False if subject is False else (any_req if subject is True else (False if any_req is False else None))
    exceptions: list[tuple[RuleResult, Tri]] = []
    review = None
    unknown_before: list[RuleResult] = []
    conditions: list[RuleResult] = []
    if required is not False:
        for ex in run_rules(law, on, "exception", env, memo, values):
            others = [r.result for r in requirements if r.rule.code not in ex.rule.overcomes]
            blocked = tri_any(others)  # a reason the exception cannot authorise
            ok: Tri = False if (ex.result is False or blocked is True) else (
                True if ex.result is True and blocked is False else None)
            exceptions.append((ex, ok))
        for rv in run_rules(law, on, "review", env, memo, values):
            if not rv.rule.policy or not law.in_force(rv.rule.policy, on):
                continue  # no policy wording in force for this rule on the date
            if rv.result is True:
                review = rv
                break
            if rv.result is None:
                unknown_before.append(rv)
        decided = review.rule.code if review is not None and not unknown_before else None
        conditions = [c for c in run_rules(law, on, "condition", env, memo, values) if c.result is not False
                      and (not c.rule.with_review or decided is None or decided in c.rule.with_review)]
    warnings = [w for w in run_rules(law, on, "warning", env, memo, values) if w.result is True]
    return Outcome(subject, required, jurisdiction, requirements, exceptions, review, unknown_before, conditions, warnings)


# --- missing facts and their branches -----------------------------------------------------------

# What to try for a missing fact: (label, value) pairs that lead the rules down each branch.
_BRANCHES: dict[str, list[tuple[str, Any]]] = {
    "party_listed": [("a party is on the Entity List", True), ("no party is listed", False)],
    "party_meu": [("a party is on the Military End-User list", True), ("no party is on it", False)],
    "owned_by_listed_pct": [("a party is wholly owned by listed parties", 100.0),
                            ("no party is owned by listed parties", 0.0)],
    "end_user_hq": [("end user headquartered in China (Macau/D:5)", "CN"), ("end user headquartered in the US", "US")],
    "exporter_hq": [("exporter headquartered in the US", "US"), ("exporter headquartered in China", "CN")],
    "datacenter": [("designed or marketed for datacenters", True), ("not for datacenters", False)],
    "commercially_available_us": [("commercially available in the US on 2026-01-15", True), ("not available", False)],
    "h200_certified": [("exporter makes the 2026 certifications", True), ("no certifications", False)],
    "us_content_pct": [("US content above de minimis", 100.0), ("no US content", 0.0)],
    "product": [("the product is one the is-informed letters name (e.g. H20)", "H20 (HGX)"),
                ("another product", "(another product)")],
}
_WHY = {
    "party_listed": "screen every party against the Entity List (chipwatch screen) or pass --screened-clear",
    "owned_by_listed_pct": "the affiliates rule turns on ownership by listed parties (Red Flag 29: resolve it or apply)",
    "end_user_hq": "the HQ rule turns on where the end user (or its ultimate parent) is headquartered",
    "exporter_hq": "License Exception HBM turns on where the exporter is headquartered",
    "datacenter": "NAC/ACA and the review policy turn on whether the item is designed or marketed for datacenters",
    "commercially_available_us": "the 2026 review policy covers only products commercially available in the US",
    "h200_certified": "the 2026 case-by-case policy needs the exporter's certifications",
    "us_content_pct": "de minimis turns on the share of controlled US content",
    "product": "the is-informed letters name products: give the item by catalog name, not by ECCN",
    "mbd": "License Exception HBM turns on the memory bandwidth density (GB/s/mm2): give --mbd",
    "eccn": "the item's classification is indeterminate: give the missing figures (chipwatch classify says which)",
}


def missing_subjects(outcome: Outcome, facts: Mapping[str, Any], metrics: Mapping[str, Any]) -> dict[str, tuple[str, Any]]:
    """Facts and metrics the user did not give that some undecided rule compared, with the first
    comparison made of each: name → (operator, threshold), the threshold kept for a metric only
    (to build its branches)."""
    rules = [*outcome.jurisdiction, *outcome.requirements, *(e for e, _ in outcome.exceptions),
             *outcome.review_unknown_before, *outcome.conditions]
    seen: dict[str, tuple[str, Any]] = {}
    for r in rules:
        if r.result is not None:
            continue
        for c in r.comparisons:
            unknown = c.result is None and c.value is None and c.subject not in seen
            if unknown and (facts.get(c.subject, "absent") is None or metrics.get(c.subject, "absent") is None):
                numeric = c.subject in metrics and isinstance(c.threshold, (int, float))
                seen[c.subject] = (c.op, c.threshold if numeric else None)
    return seen


# A metric compared with a line branches on a value that meets the comparison and one that does not.
_SIDES: dict[str, tuple[tuple[str, float], tuple[str, float]]] = {
    "≥": (("at or above", 1.0), ("below", 0.5)),
    ">": (("above", 2.0), ("at or below", 1.0)),
    "≤": (("at or below", 1.0), ("above", 2.0)),
    "<": (("below", 0.5), ("at or above", 1.0)),
}


def branch_outcomes(law: Law, on: date, facts: dict[str, Any], metrics: dict[str, float | None],
                    missing: Mapping[str, tuple[str, Any]], *, options: Mapping[str, list[tuple[str, Any]]],
                    why: Mapping[str, str], summary: Callable[[Outcome], str], memo: Memo | None = None) -> list[MissingFact]:
    """For each missing fact, the outcome (as `summary` words it) under each value it could take:
    the values `options` lists for a fact, or either side of the line a metric was compared with.
    A fact whose values all lead to the same outcome does not matter here and is left out (e.g.
    ownership by listed parties while the affiliates rule is suspended)."""
    out = []
    for name, (op, threshold) in missing.items():
        tried = options.get(name)
        if tried is None and isinstance(threshold, (int, float)):
            sides = _SIDES.get(op, _SIDES["≥"])
            tried = [(f"{name} {words} {threshold:g}", float(threshold) * factor) for words, factor in sides]
        if not tried:
            continue
        branches: dict[str, str | None] = {}
        for label, value in tried:
            f2, m2 = dict(facts), dict(metrics)
            (m2 if name in metrics else f2)[name] = value
            branches[label] = summary(run_outcome(law, on, Env(metrics=m2, facts=f2), memo))
        if len(set(branches.values())) > 1:
            out.append(MissingFact(fact=name, why=why.get(name, f"a rule compares {name} with a threshold"), branches=branches))
    return out


def _possible_eccns(it: ItemFacts) -> list[str]:
    """The paragraphs an unclassified item could fall under, per its classification's branches."""
    possible: list[str] = []
    if it.classification is not None:
        for m in it.classification.missing_facts:
            possible += [v or "none" for v in m.branches.values() if (v or "none") not in possible]
    return possible or ["3A090.a", "3A090.b", "none"]


def _eccn_branches(law: Law, on: date, facts: dict[str, Any], metrics: dict[str, float | None],
                   it: ItemFacts, memo: Memo | None = None) -> MissingFact:
    """The item could not be classified (a figure is missing): the outcome under each paragraph
    the classification says the item could fall under."""
    branches: dict[str, str | None] = {}
    for value in _possible_eccns(it):
        outcome = run_outcome(law, on, Env(metrics=metrics, facts={**facts, "eccn": value}), memo)
        label = "not an advanced-computing item" if value == "none" else f"classified {value}"
        branches[label] = outcome.summary(law, on)
    what = ", ".join(m.fact for m in it.classification.missing_facts) if it.classification else "the item's figures"
    return MissingFact(fact="eccn", why=f"{_WHY['eccn']}; missing: {what}", branches=branches)


# --- assembling the determination ---------------------------------------------------------------


def _step(r: RuleResult, kind: str) -> Step:
    step = r.steps.get(kind)
    if step is None:
        label = {True: "applies", False: "does not apply", None: "unknown: a fact is missing"}[r.result]
        step = r.steps[kind] = Step(
            check=f"{kind}: {r.rule.title} [{r.rule.code}]", result=label, comparisons=r.comparisons,
            cite=r.entry.cite, source=r.entry.source, effective=r.entry.effective,
            values={"basis": r.entry.basis, **({"uncertain": r.entry.uncertain} if r.entry.uncertain else {})})
    return step


def _param(law: Law, name: str | None, on: date) -> tuple[Any, str | None]:
    if name is None or not law.in_force(name, on):
        return None, None
    pv = law.value(name, on)
    return pv.value, pv.unit


def law_version_on(law: Law, on: date) -> RuleRef | None:
    """The latest rule version in force on `on` (announcements set aside when reading as written)."""
    cands = [rv for rv in law.rule_versions.values() if rv.effective <= on
             and (law.include_announced or rv.basis != "announcement")]
    if not cands:
        return None
    return RuleRef.of(max(cands, key=lambda rv: (rv.effective, rv.id)))


_ROLES = ("end_user", "purchaser", "intermediate_consignee", "ultimate_consignee")
# Lists whose hits make a party "listed" for the Entity List rules (the sample is typed from it).
ENTITY_LISTS = ("EL", "SAMPLE-EL")
# Lists whose hits make a party a military end user (15 CFR 744.21, Supp. No. 7 to part 744).
MEU_LISTS = ("MEU", "SAMPLE-MEU")


def screen_transaction_parties(txn: Transaction) -> tuple[Transaction, list[PartyScreening]]:
    """Screen every named party whose listing the user did not give; a hit on the Entity List
    makes it listed, with the entry's footnotes (which decide the foreign-direct-product rules)."""
    from chipwatch.screen import screen

    screened: list[PartyScreening] = []
    update: dict[str, Party] = {}
    for role in _ROLES:
        party = getattr(txn, role)
        if party is None or not party.name or party.listed is not None:
            continue
        result = screen(party.name, party.country or party.hq, txn.date)
        el_hits = [h for h in result.hits if h.list in ENTITY_LISTS]
        meu_hits = [h for h in result.hits if h.list in MEU_LISTS]
        footnotes = sorted({f for h in el_hits for f in h.footnotes} | set(party.footnotes))
        update[role] = party.model_copy(update={"listed": bool(el_hits), "footnotes": footnotes,
                                                "meu": party.meu if party.meu is not None else bool(meu_hits)})
        screened.append(PartyScreening(
            role=role, name=party.name, country=party.country or party.hq, listed=bool(el_hits), hits=result.hits,
            list_versions=[f"{v.source_format} v{v.version_id}" + (f" ({v.label})" if v.label else "") for v in result.list_versions],
            warnings=result.warnings))
    return (txn.model_copy(update=update) if update else txn), screened


def determine(txn: Transaction, *, law: Law | None = None, regime: str | Path | None = None,
              include_announced: bool = True, screen_parties: bool = True) -> Determination:
    """Determine `txn` under the built-in history (or `regime`, a name or a regime file).

    Parties given by name whose listing is not stated are screened against the current lists
    (`screen_parties=False` turns that off)."""
    law = (law or load_law(regime or "historical")).as_written(include_announced)
    on = txn.date
    if txn.material is not None:
        return material_outside_scope(txn, law)
    first = law.first_effective()
    if on < first:
        raise InvalidInput(f"no advanced-computing rule was in force on {on.isoformat()}: "
                           f"the first took effect on {first.isoformat()}")
    screened: list[PartyScreening] = []
    if screen_parties:
        txn, screened = screen_transaction_parties(txn)
    it = item_facts(txn, law)
    facts, metrics = transaction_facts(txn, it)
    env = Env(metrics=metrics, facts=facts)
    memo = rule_memo(law, on)
    o = run_outcome(law, on, env, memo)

    trace: list[Step] = list(it.steps)
    for ps in screened:
        trace.append(Step(check=f"screen the {ps.role.replace('_', ' ')} '{ps.name}' against {', '.join(ps.list_versions)}",
                          result=("listed: " + "; ".join(f"{h.list} {h.name} ({h.score:.2f}, {h.cite})" for h in ps.hits
                                                          if h.list in ENTITY_LISTS)) if ps.listed else
                          ("not on the Entity List" + (f"; other hits: {', '.join(h.list + ' ' + h.name for h in ps.hits)}"
                                                       if ps.hits else "")),
                          cite="15 CFR 744.11 and Supp. No. 4 to part 744"))
    groups = load_country_groups()
    trace.append(Step(check="destination and parties", result=txn.destination,
                      values={"destination": txn.destination, "destination groups": groups.groups_of(txn.destination, on),
                              "ships_from": txn.ships_from, "end_user_hq": txn.end_user.hq,
                              "end_uses": list(txn.end_uses), "party_listed": facts["party_listed"]}))
    trace += [_step(r, "jurisdiction") for r in o.jurisdiction]
    if o.subject is False:
        trace.append(Step(check="subject to the EAR?", result="no: none of the jurisdiction rules applies"))
    trace += [_step(r, "licence requirement") for r in o.requirements]
    trace += [_step(e, "licence exception") for e, _ in o.exceptions]
    if o.review is not None:
        trace += [_step(r, "review policy") for r in o.review_unknown_before]
        trace.append(_step(o.review, "review policy"))
    trace += [_step(c, "condition") for c in o.conditions]
    trace += [_step(w, "warning") for w in o.warnings]

    reasons = [Reason(code=r.rule.code, title=r.rule.title, cite=r.entry.cite, source=r.entry.source, rule=r.entry.rule,
                      basis=r.entry.basis, uncertain=r.entry.uncertain)
               for r in o.requirements if r.result is True and o.subject is not False]
    exceptions = []
    for ex, ok in o.exceptions:
        if ok is False:
            continue
        value, unit = _param(law, ex.rule.value, on)
        exceptions.append(ExceptionOption(code=ex.rule.code, title=ex.rule.title,
                                          status="available" if ok else "may apply", cite=ex.entry.cite,
                                          source=ex.entry.source, conditions=list(ex.rule.conditions),
                                          value=value, unit=unit))
    review = None
    if o.review is not None and o.licence_required is not False and o.review.rule.policy:
        pv = law.value(o.review.rule.policy, on)
        review = ReviewPolicy(code=o.review.rule.code, policy=str(pv.value), title=o.review.rule.title,
                              cite=o.review.entry.cite, source=o.review.entry.source,
                              basis=pv.basis if pv.basis != "regulation" else o.review.entry.basis,
                              uncertain=pv.uncertain or o.review.entry.uncertain,
                              depends_on=sorted({c.subject for r in o.review_unknown_before for c in r.comparisons
                                                 if c.result is None}))
    conditions = []
    for c in o.conditions:
        value, unit = _param(law, c.rule.value, on)
        amount = None
        if c.rule.code == "AID-CAP" and metrics["total_tpp"] is not None and value:
            amount = metrics["total_tpp"] / float(value)
        conditions.append(Condition(code=c.rule.code, title=c.rule.title, value=value, unit=unit,
                                    cite=c.entry.cite, source=c.entry.source, basis=c.entry.basis, amount=amount))
    warnings = [Warning_(code=w.rule.code, title=w.rule.title, cite=w.entry.cite, source=w.entry.source,
                         basis=w.entry.basis) for w in o.warnings]
    missing_facts = branch_outcomes(law, on, facts, metrics, missing_subjects(o, facts, metrics), options=_BRANCHES,
                                    why=_WHY, summary=lambda out: out.summary(law, on), memo=memo)
    if it.eccn is None:
        eccn_fact = _eccn_branches(law, on, facts, metrics, it, memo)
        # Keep only the facts that would still matter once the item is classified.
        still = set()
        for value in _possible_eccns(it):
            f2 = {**facts, "eccn": value}
            still |= set(missing_subjects(run_outcome(law, on, Env(metrics=metrics, facts=f2), memo), f2, metrics))
        missing_facts = [eccn_fact, *(m for m in missing_facts if m.fact in still)]
    if review is not None:
        relevant = {m.fact for m in missing_facts}
        review = review.model_copy(update={"depends_on": [f for f in review.depends_on if f in relevant]})
    uncertain = sorted({s.values["uncertain"] for s in trace if "uncertain" in s.values
                        and s.result in ("applies", "unknown: a fact is missing")})
    remember(law, memo)
    return Determination(
        date=on, regime=law.regime, hypothetical=law.hypothetical, include_announced=law.include_announced,
        item=it.label, eccn=it.eccn, classification_paragraph=it.paragraph, subject_to_ear=o.subject,
        licence_required=o.licence_required, reason_code=o.reason_code(), reasons=reasons,
        undetermined=[r.rule.code for r in o.requirements if r.result is None],
        licence_exceptions=exceptions, review_policy=review, conditions=conditions, warnings=warnings,
        missing_facts=missing_facts, rule_version=law_version_on(law, on), uncertain=uncertain,
        trace=trace, screening=screened, transaction=txn,
    )


OUT_OF_SCOPE = "OUT-OF-SCOPE"  # the reason code of an item the jurisdiction's encoded rules do not cover


def material_outside_scope(txn: Transaction, law: Law) -> Determination:
    """A material (gallium, graphite, a rare-earth magnet ...) under the EAR: its ECCN is not one of
    the advanced-computing entries chipwatch encodes, so chipwatch gives no US answer rather than a
    guessed one."""
    why = (f"material {txn.material!r} is not an advanced-computing item: its ECCN (a Category 1 entry or EAR99) and "
           "any EAR licence requirement are outside the 3A090/4A090 scope chipwatch encodes")
    step = Step(check="US-EAR scope: is the item an advanced-computing item (3A090, 4A090, 4E091)?", result="no: " + why,
                values={"material": txn.material}, cite="15 CFR 774 Supp. 1 (Commerce Control List)")
    return Determination(
        date=txn.date, regime=law.regime, hypothetical=law.hypothetical, include_announced=law.include_announced,
        item=f"material {txn.material}", eccn=None, subject_to_ear=None, licence_required=None,
        reason_code=OUT_OF_SCOPE, reasons=[], licence_exceptions=[], review_policy=None, conditions=[], warnings=[],
        missing_facts=[], rule_version=law_version_on(law, txn.date), uncertain=[why], trace=[step], transaction=txn,
    )
