"""Order books: one licence determination per row, vectorised with polars.

The rules are the same dated predicates `determine` evaluates one transaction at a time; here
they compile to polars expressions once per interval of constant law (an "epoch": between two
dates on which any rule, parameter or country group changed), and every row of the epoch is
answered by the same expressions. Items are classified once per (item, epoch), not per row.

Bad rows (unknown country, impossible quantity, a date before the first rule, unknown item…)
get an `error` naming the column and value; they never stop the good rows.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl
import pycountry

from chipwatch.classify import classification_change_dates
from chipwatch.determine import END_USES, FOOTNOTES, item_facts, law_change_dates, transaction, vendor_countries
from chipwatch.errors import ChipwatchError, InvalidInput
from chipwatch.law import Law, load_law
from chipwatch.predicates import to_polars

REQUIRED = ("quantity", "destination", "date")
OPTIONAL: dict[str, pl.DataType] = {
    "item": pl.String(), "eccn": pl.String(), "datacenter": pl.String(), "ships_from": pl.String(),
    "end_user_hq": pl.String(), "exporter_hq": pl.String(), "end_uses": pl.String(), "origin": pl.String(),
    "party_listed": pl.String(), "party_footnotes": pl.String(), "owned_by_listed_pct": pl.Float64(),
    "end_user_name": pl.String(), "end_user_country": pl.String(), "party_meu": pl.String(),
    "us_content_pct": pl.Float64(), "commercially_available_us": pl.String(), "h200_certified": pl.String(),
    # figures of an item given only by its ECCN (catalog items bring their own)
    "tpp": pl.Float64(), "dram_bw": pl.Float64(), "mbd": pl.Float64(),
}
ORIGINS = ("us", "foreign_direct_product", "foreign_us_content", "foreign")
_COUNTRIES = sorted({c.alpha_2 for c in pycountry.countries} | {"XK"})
_TRUE = ("true", "yes", "y", "1", "t")
_FALSE = ("false", "no", "n", "0", "f")

Progress = Callable[[int, int], None]


def read_orders(path: str | Path) -> pl.DataFrame:
    """Read an order book (CSV or Parquet); every column arrives as text or numbers, unvalidated."""
    p = Path(path)
    if not p.exists():
        raise InvalidInput(f"no such file: {p}")
    try:
        if p.suffix.lower() == ".parquet":
            return pl.read_parquet(p)
        if p.suffix.lower() in (".csv", ".txt"):
            return pl.read_csv(p, infer_schema=False)
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise InvalidInput(f"{p}: cannot read: {exc}") from None
    raise InvalidInput(f"{p}: give a .csv or .parquet order book")


def _bool_col(name: str) -> tuple[pl.Expr, pl.Expr]:
    s = pl.col(name).cast(pl.String).str.strip_chars().str.to_lowercase()
    value = pl.when(s.is_in(_TRUE)).then(pl.lit(True)).when(s.is_in(_FALSE)).then(pl.lit(False)).otherwise(None)
    bad = s.is_not_null() & (s != "") & ~s.is_in(_TRUE + _FALSE)
    return value, pl.when(bad).then(pl.format(f"{name}: {{}} is not yes/no", pl.col(name).cast(pl.String)))


def _country_col(name: str, default: str | None = None) -> tuple[pl.Expr, pl.Expr]:
    s = pl.col(name).cast(pl.String).str.strip_chars().str.to_uppercase()
    s = pl.when(s == "").then(None).otherwise(s).replace({"HK": "CN"})
    if default is not None:
        s = s.fill_null(pl.lit(default))
    bad = s.is_not_null() & ~s.is_in(_COUNTRIES)
    return s, pl.when(bad).then(pl.format(f"{name}: unknown country code {{}}", pl.col(name).cast(pl.String)))


def _list_col(name: str, allowed: Sequence[str], upper: bool = False) -> tuple[pl.Expr, pl.Expr]:
    s = pl.col(name).cast(pl.String).fill_null("").str.strip_chars()
    s = s.str.to_uppercase() if upper else s.str.to_lowercase()
    items = s.str.split(";").list.eval(pl.element().str.strip_chars()).list.eval(
        pl.element().filter(pl.element() != ""))
    bad_list = items.list.eval(pl.element().filter(~pl.element().is_in(list(allowed))))
    bad = bad_list.list.len() > 0
    return items, pl.when(bad).then(pl.format(f"{name}: unknown value {{}} (allowed: {', '.join(allowed)})",
                                               bad_list.list.first()))


def prepare_orders(raw: pl.DataFrame, law: Law) -> pl.DataFrame:
    """Type and check every column; adds `row` (1-based) and `error` (null for a good row)."""
    missing = [c for c in REQUIRED if c not in raw.columns]
    if "item" not in raw.columns and "eccn" not in raw.columns:
        missing.append("item (or eccn)")
    if missing:
        raise InvalidInput(f"order book lacks column(s): {', '.join(missing)}")
    unknown = [c for c in raw.columns if c not in REQUIRED and c not in OPTIONAL]
    if unknown:
        raise InvalidInput(f"order book has unknown column(s): {', '.join(unknown)} "
                           f"(known: {', '.join((*REQUIRED, *OPTIONAL))})")
    df = raw.with_columns(pl.lit(None, dtype).alias(c) for c, dtype in OPTIONAL.items() if c not in raw.columns)
    df = df.with_row_index("row", offset=1)
    errors: list[pl.Expr] = []
    cols: list[pl.Expr] = []

    if df.schema["date"] == pl.Date:
        d = pl.col("date")
    else:
        d = pl.col("date").cast(pl.String).str.strip_chars().str.to_date("%Y-%m-%d", strict=False)
    first = law.first_effective()
    cols.append(d.alias("date"))
    errors.append(pl.when(d.is_null()).then(pl.format("date: {} is not a YYYY-MM-DD date", pl.col("date").cast(pl.String))))
    errors.append(pl.when(d < first).then(pl.format(f"date: {{}} is before the first advanced-computing rule ({first})", d)))

    q = pl.col("quantity").cast(pl.String).str.strip_chars().cast(pl.Int64, strict=False)
    cols.append(q.alias("quantity"))
    errors.append(pl.when(q.is_null() | (q < 1)).then(
        pl.format("quantity: {} is not a whole number of at least 1", pl.col("quantity").cast(pl.String))))

    for name, default in (("destination", None), ("ships_from", "US"), ("end_user_hq", None), ("exporter_hq", None),
                          ("end_user_country", None)):
        value, err = _country_col(name, default)
        cols.append(value.alias(name))
        errors.append(err)
    errors.append(pl.when(pl.col("destination").is_null()).then(pl.lit("destination: missing")))
    for name in ("datacenter", "party_listed", "party_meu", "commercially_available_us", "h200_certified"):
        value, err = _bool_col(name)
        cols.append(value.alias(name))
        errors.append(err)
    eu, err = _list_col("end_uses", END_USES)
    cols.append(eu.alias("end_uses"))
    errors.append(err)
    fn, err = _list_col("party_footnotes", FOOTNOTES, upper=True)
    cols.append(fn.alias("party_footnotes"))
    errors.append(err)
    origin = pl.col("origin").cast(pl.String).str.strip_chars().str.to_lowercase().fill_null("us")
    origin = pl.when(origin == "").then(pl.lit("us")).otherwise(origin)
    cols.append(origin.alias("origin"))
    errors.append(pl.when(~origin.is_in(ORIGINS)).then(pl.format(f"origin: {{}} (allowed: {', '.join(ORIGINS)})", origin)))
    for name in ("tpp", "dram_bw", "mbd"):
        text = pl.col(name).cast(pl.String).str.strip_chars()
        given = text.is_not_null() & (text != "")
        v = pl.when(given).then(text).cast(pl.Float64, strict=False)
        cols.append(v.alias(name))
        errors.append(pl.when(given & (v.is_null() | (v < 0))).then(
            pl.format(f"{name}: {{}} is not a non-negative number", pl.col(name).cast(pl.String))))
    for name in ("owned_by_listed_pct", "us_content_pct"):
        text = pl.col(name).cast(pl.String).str.strip_chars()
        given = text.is_not_null() & (text != "")
        v = pl.when(given).then(text).cast(pl.Float64, strict=False)
        cols.append(v.alias(name))
        errors.append(pl.when(given & (v.is_null() | (v < 0) | (v > 100))).then(
            pl.format(f"{name}: {{}} is not a percentage", pl.col(name).cast(pl.String))))
    errors.append(pl.when(pl.col("item").is_null() & pl.col("eccn").is_null()).then(pl.lit("item: missing (give item or eccn)")))
    # values and errors are computed together, both from the raw columns
    df = df.with_columns(*cols, pl.coalesce(errors).alias("error"))
    return _screen_end_users(_resolve_items(df))


def _screen_end_users(df: pl.DataFrame) -> pl.DataFrame:
    """Rows that name an end user but do not say whether a party is listed: screen each distinct
    name once (as `determine` does for one transaction) and fill party_listed and footnotes."""
    need = df.filter(pl.col("end_user_name").is_not_null() & (pl.col("end_user_name").str.strip_chars() != "")
                     & pl.col("party_listed").is_null() & pl.col("error").is_null())
    if need.height == 0:
        return df
    from chipwatch.determine import ENTITY_LISTS, MEU_LISTS
    from chipwatch.screen import current_index

    index = current_index()
    keys = need.select("end_user_name", pl.coalesce("end_user_country", "end_user_hq").alias("_cc")).unique()
    rows = []
    for name, cc in keys.iter_rows():
        all_hits = index.screen(name.strip(), cc)
        hits = [h for h in all_hits if h.list in ENTITY_LISTS]
        rows.append({"end_user_name": name, "_cc": cc, "_listed": bool(hits), "_meu": any(h.list in MEU_LISTS for h in all_hits),
                     "_fn": sorted({f for h in hits for f in h.footnotes})})
    found = pl.DataFrame(rows, schema={"end_user_name": pl.String, "_cc": pl.String, "_listed": pl.Boolean,
                                       "_meu": pl.Boolean, "_fn": pl.List(pl.String)})
    out = df.with_columns(pl.coalesce("end_user_country", "end_user_hq").alias("_cc")).join(
        found, on=["end_user_name", "_cc"], how="left", nulls_equal=True)
    return out.with_columns(
        pl.coalesce("party_listed", "_listed").alias("party_listed"),
        pl.when(pl.col("party_listed").is_null()).then(pl.coalesce("party_meu", "_meu")).otherwise(pl.col("party_meu"))
        .alias("party_meu"),
        pl.when(pl.col("_fn").is_not_null()).then(pl.concat_list("party_footnotes", "_fn").list.unique().list.sort())
        .otherwise(pl.col("party_footnotes")).alias("party_footnotes"),
    ).drop("_cc", "_listed", "_meu", "_fn")


def _resolve_items(df: pl.DataFrame) -> pl.DataFrame:
    """Catalog look-up once per distinct item name; unknown names get the catalog's suggestion."""
    from chipwatch.catalog import default_catalog

    cat = default_catalog()
    names: dict[str, str | None] = {}
    errs: dict[str, str | None] = {}
    for name in df.get_column("item").drop_nulls().unique().to_list():
        try:
            names[name], errs[name] = cat.get(name).name, None
        except ChipwatchError as exc:
            names[name], errs[name] = None, f"item: {exc}"
    keys = list(names)
    mapping = pl.DataFrame({"item": keys, "product_name": [names[k] for k in keys], "item_error": [errs[k] for k in keys]},
                           schema={"item": pl.String, "product_name": pl.String, "item_error": pl.String})
    out = df.join(mapping, on="item", how="left")
    return out.with_columns(pl.coalesce(pl.col("error"), pl.col("item_error")).alias("error")).drop("item_error").sort("row")


def _item_table(pairs: pl.DataFrame, law: Law) -> pl.DataFrame:
    """Item facts for each distinct (product_name, epoch_start), via the scalar classifier, run
    once per interval of constant classification law (fewer than the determination epochs)."""
    cls_dates = classification_change_dates(law)
    cache: dict[tuple[str, date], Any] = {}
    rows: list[dict[str, Any]] = []
    for name, on in pairs.iter_rows():
        key = (name, cls_dates[max(bisect.bisect_right(cls_dates, on) - 1, 0)])
        if key not in cache:
            cache[key] = item_facts(transaction(item=name, destination="US", date=on), law)
        it = cache[key]
        rows.append({"product_name": name, "epoch_start": on, "eccn_c": it.eccn, "datacenter_c": it.datacenter,
                     "vendor": it.vendor, "tpp_c": it.tpp, "pd": it.pd, "dram_bw_c": it.dram_bw, "mbd_c": it.mbd})
    schema = {"product_name": pl.String, "epoch_start": pl.Date, "eccn_c": pl.String, "datacenter_c": pl.Boolean,
              "vendor": pl.String, "tpp_c": pl.Float64, "pd": pl.Float64, "dram_bw_c": pl.Float64, "mbd_c": pl.Float64}
    return pl.DataFrame(rows, schema=schema)


def _kleene_any(exprs: list[pl.Expr]) -> pl.Expr:
    if not exprs:
        return pl.lit(False)
    out = exprs[0]
    for e in exprs[1:]:
        out = out | e
    return out


def _epoch_answers(frame: pl.DataFrame, law: Law, on: date) -> pl.DataFrame:
    """Answer every row of `frame` (all in the epoch starting `on`) with the rules in force then."""
    def compiled(kind: str) -> list[tuple[Any, pl.Expr]]:
        return [(r, to_polars(e.value, law, on)) for r, e in law.rules_in_force(on, kind) if e.value is not None]

    juris = compiled("jurisdiction")
    reqs = compiled("requirement")
    subject = _kleene_any([e for _, e in juris])
    any_req = _kleene_any([e for _, e in reqs])
    required = (pl.when(subject.eq(False) | any_req.eq(False)).then(pl.lit(False))
                .when(subject & any_req).then(pl.lit(True)).otherwise(pl.lit(None, pl.Boolean)))
    frame = frame.with_columns(subject.alias("subject_to_ear"), required.alias("licence_required"),
                               *(e.alias(f"_req_{r.code}") for r, e in reqs))
    req_cols = {r.code: pl.col(f"_req_{r.code}") for r, _ in reqs}
    parts = ([pl.when(c).then(pl.lit(code)) for code, c in req_cols.items()]
             + [pl.when(c.is_null()).then(pl.lit(f"?{code}")) for code, c in req_cols.items()]
             + [pl.when(pl.col("subject_to_ear").is_null()).then(pl.lit("?SUBJECT"))])
    joined = pl.concat_str(parts, separator="+", ignore_nulls=True) if parts else pl.lit("")
    code = (pl.when(pl.col("subject_to_ear").eq(False)).then(pl.lit("NSR"))
            .when(pl.col("licence_required").eq(False)).then(pl.lit("NLR"))
            .otherwise(pl.when(joined == "").then(pl.lit("?")).otherwise(joined)))
    live = pl.col("licence_required").is_null() | pl.col("licence_required")

    exc_parts: list[pl.Expr] = []
    for ex, when in compiled("exception"):
        blocked = _kleene_any([c for code_, c in req_cols.items() if code_ not in ex.overcomes])
        ok = (pl.when(when.eq(False) | blocked.eq(True)).then(pl.lit(False))
              .when(when & ~blocked).then(pl.lit(True)).otherwise(pl.lit(None, pl.Boolean)))
        exc_parts.append(pl.when(live & ok).then(pl.lit(ex.code))
                         .when(live & ok.is_null()).then(pl.lit(f"{ex.code}?")))
    review: Any = None
    review_code: Any = None
    # The review is "decided" when a review rule holds and none before it is unknown (as in determine).
    decided_code: Any = None
    for rv, when in compiled("review"):
        if not rv.policy or not law.in_force(rv.policy, on):
            continue  # a review rule with no policy in force cannot answer (as in determine.run_outcome)
        policy = str(law.value(rv.policy, on).value)
        review = (pl.when(live & when) if review is None else review.when(live & when)).then(pl.lit(policy))
        review_code = (pl.when(live & when) if review_code is None else review_code.when(live & when)).then(pl.lit(rv.code))
        decided_code = (pl.when(when.is_null()) if decided_code is None else decided_code.when(when.is_null())).then(
            pl.lit(None, pl.String)).when(when).then(pl.lit(rv.code))
    decided = decided_code.otherwise(pl.lit(None, pl.String)) if decided_code is not None else pl.lit(None, pl.String)
    cond_parts: list[pl.Expr] = []
    for c, w in compiled("condition"):
        ok = decided.is_null() | decided.is_in(list(c.with_review)) if c.with_review else pl.lit(True)
        cond_parts.append(pl.when(live & w & ok).then(pl.lit(c.code)).when(live & w.is_null() & ok).then(pl.lit(f"{c.code}?")))
    warn_parts: list[pl.Expr] = [pl.when(w).then(pl.lit(c.code)) for c, w in compiled("warning")]

    def joined_list(ps: Sequence[pl.Expr], sep: str) -> pl.Expr:
        return pl.concat_str(ps, separator=sep, ignore_nulls=True).fill_null("") if ps else pl.lit("")

    return frame.with_columns(
        code.alias("reason_code"),
        joined_list(exc_parts, ",").alias("licence_exceptions"),
        (review.otherwise(pl.lit(None, pl.String)) if review is not None else pl.lit(None, pl.String)).alias("review_policy"),
        (review_code.otherwise(pl.lit(None, pl.String)) if review_code is not None else pl.lit(None, pl.String)).alias("review_code"),
        joined_list(cond_parts, ",").alias("conditions"),
        joined_list(warn_parts, ",").alias("warnings"),
    ).drop([f"_req_{c}" for c in req_cols])


OUTPUT = ["row", "item", "date", "destination", "quantity", "eccn", "subject_to_ear", "licence_required", "reason_code",
          "licence_exceptions", "review_policy", "review_code", "conditions", "warnings", "error"]


def determine_frame(raw: pl.DataFrame, *, law: Law | None = None, regime: str | Path | None = None,
                    include_announced: bool = True, progress: Progress | None = None) -> pl.DataFrame:
    """One determination per row of the order book `raw`; see OUTPUT for the columns returned."""
    law = (law or load_law(regime or "historical")).as_written(include_announced)
    df = prepare_orders(raw, law)
    good = df.filter(pl.col("error").is_null())
    bad = df.filter(pl.col("error").is_not_null())
    changes = law_change_dates(law)
    good = _with_epochs(good, changes)
    pairs = good.filter(pl.col("product_name").is_not_null()).select("product_name", "epoch_start").unique()
    items = _item_table(pairs, law)
    good = good.join(items, on=["product_name", "epoch_start"], how="left")
    vendors = vendor_countries()
    good = good.with_columns(
        # a catalog item's eccn is its classification; an ECCN given directly is taken as given
        pl.when(pl.col("product_name").is_not_null()).then(pl.col("eccn_c")).otherwise(pl.col("eccn")).alias("eccn"),
        pl.coalesce(pl.col("tpp"), pl.col("tpp_c")).alias("tpp"),
        pl.coalesce(pl.col("dram_bw"), pl.col("dram_bw_c")).alias("dram_bw"),
        pl.when(pl.col("product_name").is_not_null()).then(pl.col("mbd_c")).otherwise(pl.col("mbd")).alias("mbd"),
        pl.coalesce(pl.col("datacenter"), pl.col("datacenter_c")).alias("datacenter"),
        pl.coalesce(pl.col("product_name"), pl.format("(ECCN {}, product not named)", pl.col("eccn"))).alias("product"),
        pl.when(pl.col("product_name").is_not_null()).then(pl.lit("ic"))
        .when(pl.col("eccn") == "3A090.c").then(pl.lit("hbm")).otherwise(pl.lit("eccn")).alias("item_kind"),
        pl.col("vendor").replace_strict(vendors, default=None, return_dtype=pl.String).alias("developer_country"),
        (pl.col("ships_from") == "US").alias("from_us"),
        # a party whose Entity List status is known was screened against the MEU list too (as in determine)
        pl.coalesce("party_meu", pl.when(pl.col("party_listed").is_not_null()).then(pl.lit(False))).alias("party_meu"),
    ).with_columns((pl.col("tpp") * pl.col("quantity")).alias("total_tpp"))
    epochs = good.get_column("epoch_start").unique().sort().to_list()
    frames: list[pl.DataFrame] = []
    for i, on in enumerate(epochs):
        part = good.filter(pl.col("epoch_start") == on)
        frames.append(_epoch_answers(part, law, on))
        if progress:
            progress(i + 1, len(epochs))
    answered = pl.concat(frames, how="diagonal_relaxed") if frames else good.clear()
    out = pl.concat([answered.select([c for c in OUTPUT if c in answered.columns]),
                     bad.select([c for c in OUTPUT if c in bad.columns])], how="diagonal_relaxed")
    out = out.with_columns(pl.col("item").fill_null(pl.lit(None, pl.String)))
    return out.select([c for c in OUTPUT if c in out.columns]).sort("row")


def _with_epochs(df: pl.DataFrame, changes: list[date]) -> pl.DataFrame:
    """Add `epoch_start`: the last law change on or before each row's date."""
    distinct = df.get_column("date").unique().drop_nulls().to_list()
    starts = {d: changes[max(bisect.bisect_right(changes, d) - 1, 0)] for d in distinct}
    table = pl.DataFrame({"date": list(starts), "epoch_start": list(starts.values())},
                         schema={"date": pl.Date, "epoch_start": pl.Date})
    return df.join(table, on="date", how="left")


def row_transaction(row: dict[str, Any]) -> Any:
    """The Transaction one order-book row describes (for `chipwatch explain`); bad values raise
    the same one-line InvalidInput as the single-transaction path."""
    def text(k: str) -> str | None:
        v = row.get(k)
        return None if v is None or str(v).strip() == "" else str(v).strip()

    def flag(k: str) -> bool | None:
        v = text(k)
        if v is None:
            return None
        if v.lower() in _TRUE:
            return True
        if v.lower() in _FALSE:
            return False
        raise InvalidInput(f"{k}: {v} is not yes/no")

    def num(k: str) -> float | None:
        v = text(k)
        try:
            return None if v is None else float(v)
        except ValueError:
            raise InvalidInput(f"{k}: {v} is not a number") from None

    def parts(k: str) -> list[str]:
        v = text(k)
        return [p.strip() for p in v.split(";") if p.strip()] if v else []

    try:
        qty = int(str(row.get("quantity")).strip())
    except ValueError:
        raise InvalidInput(f"quantity: {row.get('quantity')} is not a whole number") from None
    d = row.get("date")
    on = d if isinstance(d, date) else date.fromisoformat(str(d).strip())
    return transaction(
        item=text("item"), eccn=text("eccn") if not text("item") else None, datacenter=flag("datacenter"),
        tpp=num("tpp"), dram_bw=num("dram_bw"), mbd=num("mbd"),
        quantity=qty, destination=text("destination") or "", ships_from=text("ships_from") or "US", date=on,
        end_user={"name": text("end_user_name"), "country": text("end_user_country"),
                  "hq": text("end_user_hq"), "listed": flag("party_listed"), "meu": flag("party_meu"),
                  "footnotes": [f.upper() for f in parts("party_footnotes")],
                  "owned_by_listed_pct": num("owned_by_listed_pct")},
        end_uses=[e.lower() for e in parts("end_uses")], origin=(text("origin") or "us").lower(),
        us_content_pct=num("us_content_pct"), exporter_hq=text("exporter_hq"),
        commercially_available_us=flag("commercially_available_us"), h200_certified=flag("h200_certified"),
    )
