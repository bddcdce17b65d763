"""Compute ledger: shipments → holdings, caps and quotas checked, revenue shares due.

Shipments (date, chip, quantity, exporter, destination, consignee, optionally value and licence)
become holdings per country and per consignee in total processing performance (TPP),
H100-equivalents and dense FP16/FP8 FLOP/s. Every shipment is also run through the licence
determination (the same law data, under the same regime), and the ledger then checks, in date
order, the caps and quotas that law data say are in force on each shipment's date:

- the AI Diffusion Tier 2 country allocation (cumulative TPP over 2025-2027), when that rule is
  applied (regime `diffusion-caps-kept`, or `--as-written`);
- License Exception LPP's TPP per consignee per calendar year, on the same condition;
- the 2026 review policy's volume condition: shipments of a product to China at most a share of
  its shipments to US end users;
- licence quotas from a licences file (licence id, quantity, validity), e.g. the Gulf deals;

and adds up the revenue shares and duties the determination's conditions name. The report says
which cap is exceeded, by which shipment, on which date.
"""

from __future__ import annotations

from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

import polars as pl
import yaml
from pydantic import BaseModel, Field

from chipwatch.batch import determine_frame, read_orders
from chipwatch.catalog import default_catalog
from chipwatch.classify import classify
from chipwatch.errors import InvalidInput
from chipwatch.law import Law, load_law

UNITS_FILE = Path(__file__).parent / "catalog" / "units.yaml"
TERA = 1e12
SHIPMENT_COLUMNS = ("date", "chip", "quantity", "exporter", "destination", "consignee")


class CapEvent(BaseModel):
    """A cap or quota exceeded: which, by which shipment, when, and by how much."""

    cap: str
    subject: str = Field(description="the country, consignee, product or licence the cap applies to")
    date: date
    row: int
    limit: float
    reached: float
    unit: str
    cite: str


class LedgerReport(BaseModel):
    regime: str
    include_announced: bool
    shipments: int
    bad_rows: list[dict[str, Any]]
    h100_equivalent_chip: str
    by_country: list[dict[str, Any]]
    by_consignee: list[dict[str, Any]]
    exceeded: list[CapEvent]
    revenue_due: list[dict[str, Any]]
    notes: list[str]


@cache
def _units() -> dict[str, str]:
    return dict(yaml.safe_load(UNITS_FILE.read_text(encoding="utf-8")))


def _tpp_definition_date(law: Law) -> date:
    """The date 'total processing performance' entered the law: chips are measured by it throughout."""
    return law.timeline("us_ear.3a090.a1_tpp_min").first_effective


@cache
def _chip_table() -> pl.DataFrame:
    law = load_law()
    on = _tpp_definition_date(law)
    rows = []
    for chip in default_catalog().chips:
        m = classify(chip, on, law=law).metrics.get("tpp")
        rows.append({"product_name": chip.name, "tpp": m.value if m else None,
                     "fp16_tflops": chip.dense_tops.get("fp16"), "fp8_tflops": chip.dense_tops.get("fp8")})
    return pl.DataFrame(rows, schema={"product_name": pl.String, "tpp": pl.Float64, "fp16_tflops": pl.Float64,
                                      "fp8_tflops": pl.Float64})


def h100_tpp() -> float:
    ref = default_catalog().get(_units()["h100_equivalent_chip"]).name
    value = _chip_table().filter(pl.col("product_name") == ref)["tpp"][0]
    if value is None:
        raise InvalidInput(f"the H100-equivalent reference chip {ref!r} has no TPP")
    return float(value)


def read_licences(path: str | Path) -> pl.DataFrame:
    """A licences file: licence_id, quantity, valid_from, valid_until (optional: holder, destination, chip)."""
    df = read_orders(path)
    need = {"licence_id", "quantity", "valid_from", "valid_until"}
    if not need <= set(df.columns):
        raise InvalidInput(f"{path}: needs columns {', '.join(sorted(need))}")
    try:
        return df.with_columns(pl.col("quantity").cast(pl.Int64), pl.col("valid_from").cast(pl.String).str.to_date(),
                               pl.col("valid_until").cast(pl.String).str.to_date())
    except pl.exceptions.PolarsError as exc:
        raise InvalidInput(f"{path}: {str(exc).splitlines()[0]}") from None


def _exceed_events(df: pl.DataFrame, key: str, amount: str, limit: pl.Expr | float, cap: str, unit: str,
                   cite: str) -> list[CapEvent]:
    """The first shipment, per `key`, at which the running total of `amount` passes `limit`."""
    if df.height == 0:
        return []
    running = df.sort("date", "row").with_columns(pl.col(amount).cum_sum().over(key).alias("_run"),
                                                  (limit if isinstance(limit, pl.Expr) else pl.lit(limit)).alias("_lim"))
    over = running.filter(pl.col("_run") > pl.col("_lim")).group_by(key).agg(pl.all().first()).sort("date", "row")
    return [CapEvent(cap=cap, subject=str(r[key]), date=r["date"], row=int(r["row"]), limit=float(r["_lim"]),
                     reached=float(r["_run"]), unit=unit, cite=cite) for r in over.iter_rows(named=True)]


def ledger(shipments: pl.DataFrame, *, law: Law | None = None, regime: str | Path | None = None,
           include_announced: bool = True, licences: pl.DataFrame | None = None) -> LedgerReport:
    law = (law or load_law(regime or "historical")).as_written(include_announced)
    missing = [c for c in SHIPMENT_COLUMNS if c not in shipments.columns]
    if missing:
        raise InvalidInput(f"shipments lack column(s): {', '.join(missing)} (need {', '.join(SHIPMENT_COLUMNS)})")
    extra = {c for c in shipments.columns if c in ("value_usd", "licence_id", "end_user_hq")}
    # A shipment that happened was licensed if it needed to be: for the 2026 policy, that means the
    # exporter made the certifications and the product was commercially available in the US.
    orders = shipments.select(
        pl.col("chip").alias("item"), pl.col("quantity").cast(pl.String), pl.col("destination").cast(pl.String),
        pl.col("date").cast(pl.String), *([pl.col("end_user_hq").cast(pl.String)] if "end_user_hq" in extra else []),
        pl.lit("yes").alias("commercially_available_us"), pl.lit("yes").alias("h200_certified"))
    answers = determine_frame(orders, law=law, include_announced=law.include_announced)
    table = shipments.with_row_index("row", offset=1).with_columns(
        pl.col("quantity").cast(pl.Int64, strict=False),
        (pl.col("value_usd").cast(pl.Float64, strict=False) if "value_usd" in extra else pl.lit(None, pl.Float64)).alias("value_usd"),
        (pl.col("licence_id").cast(pl.String) if "licence_id" in extra else pl.lit(None, pl.String)).alias("licence_id"),
    ).drop("date", "destination").join(answers.select("row", "date", "destination", "reason_code", "conditions", "error",
                                                      "licence_required"), on="row")
    bad = table.filter(pl.col("error").is_not_null())
    good = table.filter(pl.col("error").is_null())
    cat = default_catalog()
    names = {n: cat.get(n).name for n in good["chip"].unique().to_list()}
    good = good.with_columns(pl.col("chip").replace_strict(names, return_dtype=pl.String).alias("product_name")).join(
        _chip_table(), on="product_name", how="left")
    h100 = h100_tpp()
    good = good.with_columns(
        (pl.col("tpp") * pl.col("quantity")).alias("tpp_total"),
        (pl.col("tpp") * pl.col("quantity") / h100).alias("h100e"),
        (pl.col("fp16_tflops") * TERA * pl.col("quantity")).alias("fp16_flops"),
        (pl.col("fp8_tflops") * TERA * pl.col("quantity")).alias("fp8_flops"),
    )
    sums = [pl.len().alias("shipments"), pl.col("quantity").sum().alias("chips"), pl.col("tpp_total").sum().alias("tpp"),
            pl.col("h100e").sum().alias("h100e"), pl.col("fp16_flops").sum().alias("fp16_flops"),
            pl.col("fp8_flops").sum().alias("fp8_flops"), pl.col("licence_required").sum().alias("licensed_shipments")]
    by_country = good.group_by("destination").agg(sums).sort("tpp", descending=True)
    by_consignee = good.group_by("consignee", "destination").agg(sums).sort("tpp", descending=True)

    exceeded: list[CapEvent] = []
    notes: list[str] = [f"H100-equivalent = TPP / {h100:,.0f} ({_units()['h100_equivalent_chip']}); {_units()['source']}"]
    exceeded += _tier2_events(good, law, notes)
    exceeded += _lpp_events(good, law)
    exceeded += _h200_events(good, law)
    if licences is not None:
        exceeded += _licence_events(good, licences)
    revenue = _revenue_due(good, law)
    return LedgerReport(
        regime=law.regime, include_announced=law.include_announced, shipments=table.height,
        bad_rows=[{"row": r, "error": e} for r, e in bad.select("row", "error").iter_rows()],
        h100_equivalent_chip=_units()["h100_equivalent_chip"],
        by_country=by_country.to_dicts(), by_consignee=by_consignee.to_dicts(),
        exceeded=sorted(exceeded, key=lambda e: (e.date, e.row)), revenue_due=revenue, notes=notes)


def _in_force_flag(law: Law, on: date) -> bool:
    return law.in_force("us_ear.ac.aid_in_effect", on) and bool(law.value("us_ear.ac.aid_in_effect", on).value)


def _tier2_events(good: pl.DataFrame, law: Law, notes: list[str]) -> list[CapEvent]:
    """Cumulative TPP per Tier 2 country over the allocation period, on days the AI Diffusion rule applies."""
    from chipwatch.law.sets import country_set

    rows = []
    for d in good["date"].unique().to_list():
        if not _in_force_flag(law, d):
            continue
        end = law.value("us_ear.ac.tier2_cap_period_end", d).value
        tier1 = country_set(law.value("us_ear.ac.tier1", d).value, d)
        tier3 = country_set(law.value("us_ear.ac.tier3", d).value, d)
        cap = law.value("us_ear.ac.tier2_cap_tpp", d)
        rows.append({"date": d, "_cap": float(cap.value), "_in": d <= end, "_t1": sorted(tier1), "_t3": sorted(tier3),
                     "_cite": cap.cite})
    if not rows:
        notes.append("AI Diffusion country allocations: not applied on any shipment date under this regime")
        return []
    info = pl.DataFrame(rows)
    # Count what the determination says needed a licence under the rule's worldwide requirement.
    df = good.join(info, on="date").filter(
        pl.col("_in") & pl.col("reason_code").str.contains("AID-WW")
        & ~pl.col("_t1").list.contains(pl.col("destination")) & ~pl.col("_t3").list.contains(pl.col("destination")))
    if df.height == 0:
        return []
    return _exceed_events(df, "destination", "tpp_total", pl.col("_cap"), "AI Diffusion Tier 2 country allocation", "TPP",
                          df["_cite"][0])


def _lpp_events(good: pl.DataFrame, law: Law) -> list[CapEvent]:
    """License Exception LPP: TPP per consignee per calendar year, on days the rule applies."""
    days = [d for d in good["date"].unique().to_list() if _in_force_flag(law, d) and law.in_force("us_ear.ac.lpp_cap_tpp", d)]
    if not days:
        return []
    df = good.filter(pl.col("date").is_in(days) & pl.col("reason_code").str.contains("AID-WW")).with_columns(
        pl.format("{} ({})", pl.col("consignee"), pl.col("date").dt.year()).alias("_key"))
    pv = law.value("us_ear.ac.lpp_cap_tpp", days[0])
    return _exceed_events(df, "_key", "tpp_total", float(pv.value), "License Exception LPP per consignee and year", "TPP", pv.cite)


def _h200_events(good: pl.DataFrame, law: Law) -> list[CapEvent]:
    """2026 policy: a product's cumulative shipments to China within a share of its shipments to the US."""
    name = "us_ear.ac.h200_volume_cap_pct"
    # The law is asked once per distinct shipment date, not once per row.
    days = [d for d in good["date"].unique().to_list() if law.in_force(name, d)]
    df = good.filter(pl.col("date").is_in(days))
    if df.height == 0:
        return []
    pv = law.value(name, df["date"].min())  # type: ignore[arg-type]
    china = set(law.value("us_ear.ac.h200_destinations", df["date"].min()).value)  # type: ignore[arg-type]
    ordered = df.sort("date", "row").with_columns(
        pl.when(pl.col("destination") == "US").then(pl.col("quantity")).otherwise(0).cum_sum().over("product_name").alias("_us"),
        pl.when(pl.col("destination").is_in(sorted(china))).then(pl.col("quantity")).otherwise(0).cum_sum()
        .over("product_name").alias("_cn"))
    scoped = ordered.filter(pl.col("destination").is_in(sorted(china)) & pl.col("conditions").str.contains("H200-CAP"))
    over = scoped.filter(pl.col("_cn") > pl.col("_us") * float(pv.value) / 100).group_by("product_name").agg(
        pl.all().first()).sort("date", "row")
    return [CapEvent(cap="2026 policy: China shipments within a share of US shipments", subject=r["product_name"],
                     date=r["date"], row=int(r["row"]), limit=float(r["_us"]) * float(pv.value) / 100, reached=float(r["_cn"]),
                     unit="units", cite=pv.cite) for r in over.iter_rows(named=True)]


def _licence_events(good: pl.DataFrame, licences: pl.DataFrame) -> list[CapEvent]:
    df = good.filter(pl.col("licence_id").is_not_null()).join(licences.select(
        "licence_id", pl.col("quantity").alias("_quota"), "valid_from", "valid_until"), on="licence_id", how="left")
    events: list[CapEvent] = []
    for r in df.filter(pl.col("_quota").is_null() | (pl.col("date") < pl.col("valid_from"))
                       | (pl.col("date") > pl.col("valid_until"))).iter_rows(named=True):
        why = "unknown licence" if r["_quota"] is None else f"outside validity {r['valid_from']}..{r['valid_until']}"
        events.append(CapEvent(cap=f"licence {why}", subject=str(r["licence_id"]), date=r["date"], row=int(r["row"]),
                               limit=0.0, reached=float(r["quantity"]), unit="units", cite="licence file"))
    valid = df.filter(pl.col("_quota").is_not_null())
    events += _exceed_events(valid, "licence_id", "quantity", pl.col("_quota").cast(pl.Float64), "licence quantity", "units",
                             "licence file")
    return events


def _revenue_due(good: pl.DataFrame, law: Law) -> list[dict[str, Any]]:
    """Revenue shares and duties the determination's conditions name, on shipments with a value."""
    out = []
    for code, pname in (("REVSHARE", "us_ear.ac.revenue_share_pct"), ("H200-DUTY", "us_ear.ac.h200_import_duty_pct")):
        df = good.filter(pl.col("conditions").str.contains(code) & pl.col("value_usd").is_not_null())
        if df.height == 0:
            continue
        for r in df.iter_rows(named=True):
            pv = law.value(pname, r["date"])
            out.append({"row": r["row"], "date": r["date"], "condition": code, "value_usd": r["value_usd"],
                        "rate_pct": pv.value, "due_usd": r["value_usd"] * float(pv.value) / 100, "basis": pv.basis,
                        "cite": pv.cite})
    return out
