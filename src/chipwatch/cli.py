"""Command line: a thin map from commands to the library. Exit 0 on success, 2 on bad input."""

from __future__ import annotations

import json
import sys
from datetime import date
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from typer.exceptions import TyperException

from chipwatch.catalog import Chip, MemoryStack, System, SystemPart, custom_chip, default_catalog
from chipwatch.classify import Classification, FoundryFacts, classify
from chipwatch.determine import END_USES, OUT_OF_SCOPE, Determination, determine, transaction
from chipwatch.errors import ChipwatchError, InvalidInput
from chipwatch.law import BUILTIN_REGIMES, Law, load_law

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="chipwatch: US AI-chip export controls as code: classify, determine, batch.")
law_app = typer.Typer(no_args_is_help=True, help="Inspect the law data: parameters, paragraphs, rule versions.")
app.add_typer(law_app, name="law")

out = Console(soft_wrap=True)

DateOpt = Annotated[str, typer.Option("--date", "-d", help="ISO date (YYYY-MM-DD) or 'today'.")]
RegimeOpt = Annotated[str, typer.Option("--regime", "-r",
                                        help=f"Built-in regime ({', '.join(BUILTIN_REGIMES)}) or a regime YAML file.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")]
ERRORS_SHOWN = 12  # bad rows listed on the terminal; the output file has them all
TORNADO_ROWS = 12  # parameters shown in a sensitivity table (the JSON has them all)
UNCALIBRATED = ("not calibrated (--uncalibrated): parameters drawn from their prior ranges in simulate/data/parameters.yaml, "
                "so read these numbers as what the mechanisms do over those ranges, not as forecasts")


def parse_date(text: str) -> date:
    if text.strip().lower() == "today":
        return date.today()
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise InvalidInput(f"not a date: {text!r} (use YYYY-MM-DD or 'today')") from None


def _law(regime: str) -> Law:
    return load_law(regime)


def _print_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, ensure_ascii=False, indent=2, default=str) + "\n")


def _fmt(v: Any) -> str:
    if v is None:
        return "—"
    if isinstance(v, float):
        return f"{v:,.6g}" if abs(v) < 1e6 else f"{v:,.0f}"
    return str(v)


def render_classification(c: Classification) -> None:
    head = c.label if c.eccn or not c.determinate else "not 3A090/4A090 (no advanced-computing paragraph met)"
    out.print(f"[bold]{c.item}[/bold] on {c.date.isoformat()} (regime {c.regime}): [bold cyan]{head}[/bold cyan]"
              + (f"  paragraph {c.paragraph}" if c.paragraph else ""))
    if c.rule:
        out.print(f"rule version: {c.rule.id} — {c.rule.source}, effective {c.rule.effective.isoformat()}")
    if c.metrics:
        t = Table(title="metrics", show_edge=False)
        for col in ("metric", "value", "unit", "how"):
            t.add_column(col)
        for m in c.metrics.values():
            t.add_row(m.name, _fmt(m.value), m.unit, m.formula)
        out.print(t)
    if c.thresholds:
        t = Table(title="thresholds in force", show_edge=False)
        t.add_column("parameter", no_wrap=True)
        for col in ("value", "since", "source", "cite"):
            t.add_column(col)
        for th in c.thresholds:
            val = th.value if not isinstance(th.value, (dict, list)) else json.dumps(th.value)
            t.add_row(th.name, _fmt(val), th.effective.isoformat(), th.source, th.cite)
        out.print(t)
    out.print("[bold]trace[/bold]")
    for i, s in enumerate(c.trace, 1):
        out.print(f"{i:>2}. {s.check}: [bold]{s.result}[/bold]" + (f"  [dim]({s.cite}; {s.source})[/dim]" if s.cite else ""))
        for cmp in s.comparisons:
            rhs = cmp.param or ""
            out.print(f"      {cmp.subject} = {_fmt(cmp.value)} {cmp.op} {_fmt(cmp.threshold)}"
                      f"{' (' + rhs + ')' if rhs else ''} → {cmp.result}")
    for mf in c.missing_facts:
        out.print(f"[yellow]missing fact:[/yellow] {mf.fact} — {mf.why}")
        for cond, eccn in mf.branches.items():
            out.print(f"      {cond} → {eccn or 'not controlled'}")
    for n in c.notes:
        out.print(f"[yellow]note:[/yellow] {n}")
    for p in c.parts:
        out.print(f"  part {p.item}: {p.label}")


@app.command()
def chips(
    date_: Annotated[list[str] | None, typer.Option("--date", "-d", help="ISO date or 'today'; repeat for several.")] = None,
    json_: JsonOpt = False,
    markdown: Annotated[bool, typer.Option("--markdown", help="Print a markdown table (one column per date).")] = False,
    regime: RegimeOpt = "historical",
) -> None:
    """The bundled catalog, each chip with its classification on each date."""
    dates = [parse_date(d) for d in (date_ or ["today"])]
    law = _law(regime)
    cat = default_catalog()
    results = [[classify(chip, d, law=law) for d in dates] for chip in cat]
    if json_:
        _print_json([r.model_dump(mode="json") for row in results for r in row])
        return
    if markdown:
        header = ["chip", "vendor", "TPP", "PD", *[d.isoformat() for d in dates]]
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        for chip, row in zip(cat, results, strict=True):
            last = row[-1]
            tpp = last.metrics["tpp"].value if "tpp" in last.metrics else None
            pd = last.metrics["pd"].value if "pd" in last.metrics else None
            cells = [chip.name, chip.vendor, f"{tpp:,.0f}" if tpp is not None else "—",
                     f"{pd:.2f}" if pd is not None else "—", *[r.label for r in row]]
            lines.append("| " + " | ".join(cells) + " |")
        sys.stdout.write("\n".join(lines) + "\n")
        return
    t = Table(title=f"{len(cat)} chips (regime {law.regime})")
    for col in ("chip", "vendor", "TPP", "PD", *[d.isoformat() for d in dates]):
        t.add_column(col)
    for chip, row in zip(cat, results, strict=True):
        last = row[-1]
        tpp = last.metrics["tpp"].value if "tpp" in last.metrics else None
        pd = last.metrics["pd"].value if "pd" in last.metrics else None
        t.add_row(chip.name, chip.vendor, _fmt(tpp), _fmt(pd), *[r.label for r in row])
    out.print(t)
    out.print("'?' = the class turns on a figure the catalog lacks (see `chipwatch classify NAME`).")


@app.command("classify")
def classify_cmd(
    name: Annotated[str | None, typer.Argument(help="Catalog chip name or alias (omit to give figures).")] = None,
    date_: DateOpt = "today",
    json_: JsonOpt = False,
    regime: RegimeOpt = "historical",
    tops_fp64: Annotated[float | None, typer.Option(help="Dense FP64 TFLOPS.")] = None,
    tops_fp32: Annotated[float | None, typer.Option(help="Dense FP32 TFLOPS.")] = None,
    tops_tf32: Annotated[float | None, typer.Option(help="Dense TF32 TFLOPS.")] = None,
    tops_fp16: Annotated[float | None, typer.Option(help="Dense FP16/BF16 TFLOPS.")] = None,
    tops_fp8: Annotated[float | None, typer.Option(help="Dense FP8 TFLOPS.")] = None,
    tops_fp6: Annotated[float | None, typer.Option(help="Dense FP6 TFLOPS.")] = None,
    tops_fp4: Annotated[float | None, typer.Option(help="Dense FP4 TFLOPS.")] = None,
    tops_int8: Annotated[float | None, typer.Option(help="Dense INT8 TOPS.")] = None,
    tops_int4: Annotated[float | None, typer.Option(help="Dense INT4 TOPS.")] = None,
    die_area: Annotated[float | None, typer.Option(help="Applicable die area, mm² (non-planar logic dies).")] = None,
    interconnect: Annotated[float | None, typer.Option(help="Aggregate bidirectional I/O rate, GB/s (Oct-2022 test).")] = None,
    datacenter: Annotated[bool | None, typer.Option("--datacenter/--not-datacenter",
                                                    help="Designed or marketed for use in datacenters?")] = None,
    bandwidth: Annotated[float | None, typer.Option(help="Memory bandwidth, GB/s: with --package-area, classify an HBM stack.")] = None,
    package_area: Annotated[float | None, typer.Option(help="HBM stack/package area, mm².")] = None,
    co_packaged: Annotated[bool, typer.Option(help="HBM co-packaged with a logic IC (assessed as the logic IC).")] = False,
    contains: Annotated[list[str] | None, typer.Option(
        help="Classify a computer/assembly containing chips: 'NAME' or 'NAME*COUNT', repeatable.")] = None,
    base_eccn: Annotated[str | None, typer.Option(help="ECCN the item otherwise has (e.g. 5A992), to find its .z paragraph.")] = None,
    label: Annotated[str, typer.Option("--name", help="Label for an item given by figures.")] = "custom item",
    process_node: Annotated[str | None, typer.Option(help="Process node of the logic dies, e.g. 'TSMC N5' (figures only).")] = None,
    exporter_role: Annotated[str, typer.Option(
        help="Who exports: front_end_fabricator, osat or other (Note 1 to 3A090.a binds only the first two).")] = "other",
    designer_attests: Annotated[bool | None, typer.Option(
        "--designer-attests/--no-designer-attests", help="Approved/authorized designer attests the IC is below 3A090.a.")] = None,
    packager_attests: Annotated[bool | None, typer.Option(
        "--packager-attests/--no-packager-attests", help="Fabricator or approved OSAT attests the transistor count.")] = None,
    transistors_bn: Annotated[float | None, typer.Option(help="Attested aggregated transistor count, billions.")] = None,
    contains_hbm: Annotated[bool | None, typer.Option("--contains-hbm/--no-hbm", help="The packaged IC contains HBM.")] = None,
) -> None:
    """Classify a catalog chip, a chip given by its figures, an HBM stack, or a system of chips."""
    on = parse_date(date_)
    law = _law(regime)
    rates = {k: v for k, v in {"fp64": tops_fp64, "fp32": tops_fp32, "tf32": tops_tf32, "fp16": tops_fp16,
                                "fp8": tops_fp8, "fp6": tops_fp6, "fp4": tops_fp4, "int8": tops_int8,
                                "int4": tops_int4}.items() if v is not None}
    item: Chip | MemoryStack | System
    given = [x for x in (name is not None, bool(rates), bandwidth is not None or package_area is not None,
                         bool(contains)) if x]
    if len(given) != 1:
        raise InvalidInput("give exactly one of: a chip NAME, --tops-* figures, --bandwidth with --package-area, "
                           "or --contains")
    if name is not None:
        item = default_catalog().get(name)
    elif rates:
        item = custom_chip(label, dense_tops=rates, die_area_mm2=die_area, interconnect_bandwidth_gbs=interconnect,
                           datacenter=datacenter)
    elif contains:
        parts = []
        for spec in contains:
            chip_name, _, count = spec.partition("*")
            try:
                n = int(count) if count else 1
            except ValueError:
                raise InvalidInput(f"bad --contains {spec!r}: count after '*' must be a whole number") from None
            if n < 1:
                raise InvalidInput(f"bad --contains {spec!r}: count must be at least 1")
            parts.append(SystemPart(chip=default_catalog().get(chip_name.strip()), count=n))
        item = System(name=label if label != "custom item" else "system", parts=tuple(parts))
    else:
        if bandwidth is None or package_area is None:
            raise InvalidInput("an HBM stack needs both --bandwidth (GB/s) and --package-area (mm²)")
        try:
            item = MemoryStack(name=label, bandwidth_gbs=bandwidth, package_area_mm2=package_area,
                               co_packaged_with_logic=co_packaged)
        except ValueError as exc:
            raise InvalidInput(str(exc).splitlines()[-1].strip()) from None
    if exporter_role not in ("front_end_fabricator", "osat", "other"):
        raise InvalidInput(f"--exporter-role must be front_end_fabricator, osat or other, not {exporter_role!r}")
    if transistors_bn is not None and (transistors_bn != transistors_bn or transistors_bn <= 0):
        raise InvalidInput("--transistors-bn must be a positive number")
    if process_node and isinstance(item, Chip):
        item = item.model_copy(update={"process_node": process_node})
    foundry = FoundryFacts(exporter_role=exporter_role, designer_attests_not_3a090a=designer_attests,  # type: ignore[arg-type]
                           packager_attests_transistor_count=packager_attests, transistors_bn=transistors_bn,
                           contains_hbm=contains_hbm)
    result = classify(item, on, law=law, base_eccn=base_eccn, foundry=foundry)
    if json_:
        _print_json(result.model_dump(mode="json"))
    else:
        render_classification(result)


@law_app.command("value")
def law_value(
    name: Annotated[str, typer.Argument(help="Parameter name, e.g. us_ear.3a090.a1_tpp_min")],
    date_: DateOpt = "today",
    regime: RegimeOpt = "historical",
    json_: JsonOpt = False,
) -> None:
    """The value of a law parameter on a date, with its source and citation."""
    pv = _law(regime).value(name, parse_date(date_))
    if json_:
        _print_json(pv.model_dump(mode="json"))
    else:
        out.print(f"{pv.name} = [bold]{pv.value}[/bold] {pv.unit}  (since {pv.effective}; {pv.source}; {pv.cite})")
        if pv.uncertain:
            out.print(f"[yellow]uncertain:[/yellow] {pv.uncertain}")


@law_app.command("list")
def law_list(date_: DateOpt = "today", regime: RegimeOpt = "historical", json_: JsonOpt = False) -> None:
    """Every parameter and its value on a date (or 'not in force')."""
    law = _law(regime)
    on = parse_date(date_)
    rows = []
    for pname, tl in sorted(law.params.items()):
        if tl.in_force(on):
            pv = law.value(pname, on)
            rows.append({"name": pname, "value": pv.value, "unit": pv.unit, "effective": pv.effective.isoformat(),
                         "source": pv.source, "cite": pv.cite})
        else:
            rows.append({"name": pname, "value": None, "unit": tl.unit, "effective": None,
                         "source": None, "cite": "not in force on this date"})
    if json_:
        _print_json(rows)
        return
    t = Table(title=f"law parameters on {on.isoformat()} (regime {law.regime})")
    for col in ("parameter", "value", "unit", "since", "source"):
        t.add_column(col)
    for r in rows:
        v = r["value"]
        t.add_row(r["name"], json.dumps(v) if isinstance(v, (dict, list)) else _fmt(v), r["unit"],
                  r["effective"] or "—", r["source"] or "not in force")
    out.print(t)


@law_app.command("versions")
def law_versions(json_: JsonOpt = False) -> None:
    """The rule versions (Federal Register actions) the law data records."""
    law = load_law()
    rvs = sorted(law.rule_versions.values(), key=lambda r: r.effective)
    if json_:
        _print_json([r.model_dump(mode="json") for r in rvs])
        return
    t = Table(title="rule versions")
    for col in ("id", "effective", "source", "name"):
        t.add_column(col)
    for r in rvs:
        t.add_row(r.id, r.effective.isoformat(), r.source, r.name)
    out.print(t)


@law_app.command("regimes")
def law_regimes() -> None:
    """The built-in regimes (history as enacted, and what-if files)."""
    for name, path in BUILTIN_REGIMES.items():
        law = load_law(name)
        out.print(f"[bold]{name}[/bold]{' (hypothetical)' if law.hypothetical else ''}: {law.regime_description}"
                  f"  [dim]{path}[/dim]")


# --- determination --------------------------------------------------------------------------


def render_determination(d: Determination, full_trace: bool = False) -> None:
    verdict = {True: "[bold red]LICENCE REQUIRED[/bold red]", False: "[bold green]NO LICENCE REQUIRED[/bold green]",
               None: "[bold yellow]UNDETERMINED: turns on missing facts[/bold yellow]"}[d.licence_required]
    if d.reason_code == OUT_OF_SCOPE:
        verdict = "[bold yellow]OUTSIDE WHAT CHIPWATCH ENCODES for this jurisdiction: no answer given[/bold yellow]"
    regime = f" (regime {d.regime}{', hypothetical' if d.hypothetical else ''}{', as written' if not d.include_announced else ''})"
    out.print(f"[bold]{d.item}[/bold] × {d.transaction.quantity} → {d.transaction.destination} on {d.date.isoformat()}{regime}")
    if d.jurisdiction == "CN-ECL":
        out.print(f"{verdict}  [dim]{d.reason_code}[/dim]   China's export controls; entry: {d.classification_paragraph or '—'}"
                  + (f"   subject to CN-ECL: {_fmt(d.subject_to_ear)}" if d.subject_to_ear is not True else ""))
    else:
        out.print(f"{verdict}  [dim]{d.reason_code}[/dim]   item: {d.eccn or 'unclassified'}"
                  + (f"   subject to the EAR: {_fmt(d.subject_to_ear)}" if d.subject_to_ear is not True else ""))
    for r in d.reasons:
        out.print(f"  • {r.title} — [cyan]{r.cite}[/cyan] ({r.source}{'; ' + r.basis if r.basis != 'regulation' else ''})")
    if d.review_policy:
        rp = d.review_policy
        out.print(f"Review policy: [bold]{rp.policy}[/bold] — {rp.cite}"
                  + (f" [yellow](depends on {', '.join(rp.depends_on)})[/yellow]" if rp.depends_on else ""))
    for e in d.licence_exceptions:
        val = f" [{_fmt(e.value)} {e.unit}]" if e.value is not None else ""
        out.print(f"Licence exception [bold]{e.code}[/bold] {e.status}{val} — {e.cite}: {'; '.join(e.conditions)}")
    for c in d.conditions:
        val = f": {_fmt(c.value)} {c.unit or ''}" if c.value is not None else ""
        share = f" (this shipment: {c.amount:.4%} of it)" if c.amount is not None else ""
        out.print(escape(f"Condition {c.code}{val}{share} — {c.title} [{c.cite}; {c.basis}]"))
    for w in d.warnings:
        out.print(f"[yellow]Warning {w.code}[/yellow]: " + escape(f"{w.title} [{w.cite}]"))
    for m in d.missing_facts:
        out.print(f"[yellow]Missing fact {m.fact}[/yellow]: {m.why}")
        for label, outcome in m.branches.items():
            out.print(f"    if {label}: {outcome}")
    if d.uncertain:
        out.print("[dim]Uncertain points: " + " | ".join(d.uncertain) + "[/dim]")
    if d.rule_version:
        out.print(f"[dim]Law as of {d.rule_version.id} ({d.rule_version.source}, effective {d.rule_version.effective})[/dim]")
    shown = [st for st in d.trace if full_trace or st.result != "does not apply"]
    table = Table("step", "result", "cite", title="Trace", show_lines=False)
    for st in shown:
        table.add_row(st.check, st.result, st.cite or "")
    out.print(table)
    if len(shown) < len(d.trace):
        out.print(f"[dim]{len(d.trace) - len(shown)} rules checked that do not apply; "
                  "--full-trace lists them, --json gives all values[/dim]")


@app.command("determine")
def determine_cmd(
    item: Annotated[str | None, typer.Option("--item", "-i", help="Catalog chip name or alias.")] = None,
    contains: Annotated[list[str] | None, typer.Option(
        "--contains", help="A computer containing chips: NAME*COUNT (repeat).")] = None,
    eccn: Annotated[str | None, typer.Option("--eccn", help="Give the ECCN paragraph directly (e.g. 3A090.c).")] = None,
    mbd: Annotated[float | None, typer.Option("--mbd", help="Memory bandwidth density in GB/s/mm2 (HBM given by --eccn).")] = None,
    weights_ops: Annotated[float | None, typer.Option(
        "--model-weights", help="The item is model weights trained with this many operations (e.g. 3e26).")] = None,
    weights_published: Annotated[bool, typer.Option("--published", help="The model weights are published.")] = False,
    datacenter: Annotated[bool | None, typer.Option(
        "--datacenter/--not-datacenter", help="Designed or marketed for datacenters (with --eccn).")] = None,
    qty: Annotated[int, typer.Option("--qty", "-q", help="Quantity.")] = 1,
    to: Annotated[str, typer.Option("--to", help="Destination country (ISO code; HK is read as CN).")] = "",
    ships_from: Annotated[str, typer.Option("--from", help="Country the item ships from (US = export from the US).")] = "US",
    end_user: Annotated[str | None, typer.Option("--end-user", help="End user's name.")] = None,
    end_user_country: Annotated[str | None, typer.Option("--end-user-country", help="End user's country.")] = None,
    hq: Annotated[str | None, typer.Option("--hq", help="Country of the end user's headquarters or ultimate parent.")] = None,
    end_use: Annotated[list[str] | None, typer.Option(
        "--end-use", help=f"Declared end use: {', '.join(END_USES)} (repeat).")] = None,
    listed: Annotated[bool | None, typer.Option("--listed/--not-listed", help="A party is / no party is on the Entity List.")] = None,
    footnote: Annotated[list[str] | None, typer.Option(
        "--footnote", help="Entity List footnote of the listed party (FN1, FN4, FN5).")] = None,
    owned_pct: Annotated[float | None, typer.Option("--owned-by-listed-pct", help="Aggregate ownership by listed parties (%).")] = None,
    ownership: Annotated[str | None, typer.Option(
        "--ownership", help="Ownership CSV (owner, owned, percent, date): the end user's share held by listed parties.")] = None,
    screened_clear: Annotated[bool, typer.Option(
        "--screened-clear", help="Every party screened: none listed, none 50 %-owned by listed parties.")] = False,
    origin: Annotated[str, typer.Option("--origin", help="us | foreign_direct_product | foreign_us_content | foreign")] = "us",
    us_content: Annotated[float | None, typer.Option("--us-content-pct", help="Controlled US content (%), for de minimis.")] = None,
    exporter_hq: Annotated[str | None, typer.Option("--exporter-hq", help="Exporter's headquarters country.")] = None,
    available_us: Annotated[bool | None, typer.Option(
        "--available-in-us/--not-available-in-us", help="Commercially available in the US on 2026-01-15.")] = None,
    certified: Annotated[bool | None, typer.Option(
        "--certified/--not-certified", help="Exporter makes the 2026 review-policy certifications.")] = None,
    jurisdiction: Annotated[str | None, typer.Option("--jurisdiction", "-j", help=(
        "US-EAR, CN-ECL or all (both side by side). Default: picked from --from (CN → CN-ECL, plus US-EAR for a US item)."))] = None,
    material: Annotated[str | None, typer.Option(
        "--material", "-m", help="A material of China's controls: control-list entry, HS code or name (gallium, 氮化镓, 1C902.a).")] = None,
    hs: Annotated[str | None, typer.Option("--hs", help="The material by HS code (e.g. 8112929010).")] = None,
    re_content: Annotated[float | None, typer.Option(
        "--re-content-pct", help="PRC-origin rare-earth content, % of the item's value (MOFCOM 2025 No. 61).")] = None,
    re_value: Annotated[float | None, typer.Option(
        "--re-value", help="Value of the PRC-origin rare-earth content (with --item-value).")] = None,
    item_value: Annotated[float | None, typer.Option("--item-value", help="Value of the item (with --re-value).")] = None,
    prc_origin: Annotated[bool | None, typer.Option("--prc-origin/--not-prc-origin", help="The item is of PRC origin.")] = None,
    prc_tech: Annotated[bool | None, typer.Option(
        "--prc-re-technology/--no-prc-re-technology", help="Made abroad with PRC rare-earth technology (No. 61).")] = None,
    military: Annotated[bool | None, typer.Option("--military/--not-military", help="The end user is a military user.")] = None,
    cn_listed: Annotated[bool | None, typer.Option(
        "--cn-listed/--cn-not-listed", help="A party is / no party is on China's export control control list.")] = None,
    cn_uel: Annotated[bool | None, typer.Option("--cn-uel/--not-cn-uel", help="A party is on China's Unreliable Entity List.")] = None,
    logic_node: Annotated[float | None, typer.Option("--logic-node-nm", help="End use: logic chips of this node (nm).")] = None,
    memory_layers: Annotated[int | None, typer.Option("--memory-layers", help="End use: memory chips of this many layers.")] = None,
    date_: DateOpt = "today",
    regime: RegimeOpt = "historical",
    as_written: Annotated[bool, typer.Option("--as-written", help=(
        "Set aside policy announced but not codified (e.g. the AI Diffusion non-enforcement, the 15 % revenue share)."))] = False,
    full_trace: Annotated[bool, typer.Option("--full-trace", help="List every rule checked, not only those that apply.")] = False,
    json_: JsonOpt = False,
) -> None:
    """May I ship this, to them, there, for that, on this date? Licence, reasons, exceptions, review policy, trace.
    Under the US EAR, China's export controls (--jurisdiction CN-ECL), or both (--jurisdiction all)."""
    from chipwatch.jurisdictions import determine_in

    if not to:
        raise InvalidInput("give the destination with --to CC")
    if material and hs:
        raise InvalidInput("give the material once: --material or --hs")
    parsed_contains = None
    if contains:
        parsed_contains = {}
        for spec in contains:
            name, _, n = spec.rpartition("*") if "*" in spec else (spec, "", "1")
            try:
                parsed_contains[name.strip()] = int(n)
            except ValueError:
                raise InvalidInput(f"bad --contains {spec!r}: count after '*' must be a whole number") from None
    party: dict[str, Any] = {"name": end_user, "country": end_user_country, "hq": hq, "listed": listed,
                             "footnotes": footnote or [], "owned_by_listed_pct": owned_pct}
    if ownership:
        from chipwatch.screen import current_index
        from chipwatch.screen.affiliates import find_affiliates, read_ownership

        if not end_user:
            raise InvalidInput("--ownership needs --end-user NAME (the entity to look up in the table)")
        index = current_index()
        answer = find_affiliates(read_ownership(ownership), lambda n: bool(index.screen(n, limit=1)), parse_date(date_))
        share = answer.share_of(end_user)
        party["owned_by_listed_pct"] = share if share is not None else 0.0
    if screened_clear:
        if listed:
            raise InvalidInput("--screened-clear contradicts --listed")
        party["listed"] = False
        party["owned_by_listed_pct"] = 0.0 if owned_pct is None else owned_pct
    weights = {"training_ops": weights_ops, "published": weights_published} if weights_ops is not None else None
    txn = transaction(item=item, contains=parsed_contains, eccn=eccn, model_weights=weights, datacenter=datacenter, mbd=mbd,
                      quantity=qty, destination=to,
                      ships_from=ships_from, date=parse_date(date_), end_user=party, end_uses=end_use or [],
                      origin=origin, us_content_pct=us_content, exporter_hq=exporter_hq,
                      commercially_available_us=available_us, h200_certified=certified,
                      material=material or hs, prc_re_content_pct=re_content, prc_re_value=re_value, item_value=item_value,
                      prc_origin=prc_origin, prc_re_technology=prc_tech, military_end_user=military, cn_listed=cn_listed,
                      cn_uel=cn_uel, logic_node_nm=logic_node, memory_layers=memory_layers)
    answers = determine_in(txn, jurisdiction, regime=regime, include_announced=not as_written)
    as_list = len(answers) > 1 or (jurisdiction or "").strip().casefold() == "all"
    if json_:
        _print_json([d.model_dump(mode="json") for d in answers] if as_list else answers[0].model_dump(mode="json"))
    elif len(answers) == 1:
        render_determination(answers[0], full_trace)
    else:
        render_side_by_side(answers)
        for d in answers:
            out.rule(f"[bold]{d.jurisdiction}[/bold]")
            render_determination(d, full_trace)


def render_side_by_side(answers: list[Determination]) -> None:
    """The answers of several jurisdictions for one shipment, one column each."""
    def verdict(d: Determination) -> str:
        if d.reason_code == OUT_OF_SCOPE:
            return "outside what chipwatch encodes"
        return {True: "licence required", False: "no licence required", None: "undetermined"}[d.licence_required]

    t = Table("", *(d.jurisdiction for d in answers), title="One shipment, each jurisdiction", show_lines=True)
    rows: list[tuple[str, Any]] = [
        ("answer", verdict), ("reason code", lambda d: d.reason_code),
        ("subject to the law", lambda d: _fmt(d.subject_to_ear)),
        ("reasons", lambda d: "\n".join(f"{r.code}: {r.cite}" for r in d.reasons) or "—"),
        ("review policy", lambda d: d.review_policy.policy if d.review_policy else "—"),
        ("warnings", lambda d: "\n".join(w.code for w in d.warnings) or "—"),
        ("missing facts", lambda d: ", ".join(m.fact for m in d.missing_facts) or "—"),
        ("law as of", lambda d: f"{d.rule_version.id} ({d.rule_version.effective})" if d.rule_version else "—"),
    ]
    for label, get in rows:
        t.add_row(label, *(escape(str(get(d))) for d in answers))
    out.print(t)


@app.command("determine-batch")
def determine_batch_cmd(
    orders: Annotated[str, typer.Argument(help="Order book: .csv or .parquet, one transaction per row.")],
    output: Annotated[str, typer.Option(
        "--output", "-o", help="Where to write the answers (.parquet or .csv).")] = "determinations.parquet",
    regime: RegimeOpt = "historical",
    as_written: Annotated[bool, typer.Option("--as-written", help="Set aside policy announced but not codified.")] = False,
    json_: JsonOpt = False,
) -> None:
    """Determine every row of an order book (vectorised); bad rows are reported with their row numbers."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from chipwatch.batch import determine_frame, read_orders

    raw = read_orders(orders)
    with Progress(TextColumn("determining"), BarColumn(), MofNCompleteColumn(), TextColumn("law epochs"),
                  TimeElapsedColumn(), console=Console(stderr=True), disable=json_) as bar:
        task = bar.add_task("epochs", total=None)

        def step(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        result = determine_frame(raw, law=_law(regime), include_announced=not as_written, progress=step)
    dest = output.lower()
    if dest.endswith(".csv"):
        result.write_csv(output)
    elif dest.endswith(".parquet"):
        result.write_parquet(output)
    else:
        raise InvalidInput(f"--output {output!r}: use a .parquet or .csv file name")
    bad = result.filter(result["error"].is_not_null())
    counts = result.group_by("reason_code").len().sort("len", descending=True)
    summary = {"rows": result.height, "answered": result.height - bad.height, "bad_rows": bad.height,
               "licence_required": int(result["licence_required"].sum() or 0),
               "undetermined": int(result["licence_required"].is_null().sum() - bad.height),
               "output": output, "reason_codes": dict(counts.drop_nulls().iter_rows()),
               "errors": [{"row": r, "error": e} for r, e in bad.select("row", "error").head(ERRORS_SHOWN).iter_rows()]}
    if json_:
        _print_json(summary)
        return
    out.print(f"{summary['rows']} rows: {summary['answered']} answered, {summary['bad_rows']} bad; "
              f"licence required on {summary['licence_required']}, undetermined {summary['undetermined']}. Written to {output}")
    for r, e in bad.select("row", "error").head(ERRORS_SHOWN).iter_rows():
        out.print(f"  [red]row {r}[/red]: {e}")
    if bad.height > ERRORS_SHOWN:
        out.print(f"  … and {bad.height - ERRORS_SHOWN} more bad rows (see the error column)")


@app.command("explain")
def explain_cmd(
    orders: Annotated[str, typer.Argument(help="The order book given to determine-batch.")],
    row: Annotated[int, typer.Option("--row", help="Row number (1 = first data row).")],
    regime: RegimeOpt = "historical",
    as_written: Annotated[bool, typer.Option("--as-written")] = False,
    json_: JsonOpt = False,
) -> None:
    """The full determination, with trace, of one row of an order book (the same rules as the batch)."""
    from chipwatch.batch import read_orders, row_transaction

    raw = read_orders(orders)
    if not 1 <= row <= raw.height:
        raise InvalidInput(f"--row {row}: the order book has rows 1 to {raw.height}")
    d = determine(row_transaction(raw.row(row - 1, named=True)), law=_law(regime), include_announced=not as_written)
    if json_:
        _print_json(d.model_dump(mode="json"))
    else:
        render_determination(d)


# --- screening ------------------------------------------------------------------------------


def _register_lists_app() -> None:
    from chipwatch.screen.lists_cli import lists_app

    app.add_typer(lists_app, name="lists", help="Restricted-party lists: import official files, list versions.")


_register_lists_app()
from chipwatch.serve_cli import register as _register_desk_commands  # noqa: E402 - serve, keys, audit

_register_desk_commands(app)


def _hit_row(h: Any) -> dict[str, Any]:
    return {"name": h.name, "matched_name": h.matched_name, "list": h.list, "score": h.score, "entry_id": h.entry_id,
            "cite": h.cite, "footnotes": list(h.footnotes), "country": h.country, "explanation": h.explanation,
            "list_version": h.list_version}


@app.command("screen")
def screen_cmd(
    name: Annotated[str, typer.Argument(help="The party's name, in any script (Latin, simplified or traditional Chinese).")],
    country: Annotated[str | None, typer.Option("--country", "-c", help="The party's country (ISO code).")] = None,
    address: Annotated[str | None, typer.Option("--address", help="The party's address: compared with listed addresses.")] = None,
    date_: DateOpt = "today",
    threshold: Annotated[float | None, typer.Option("--threshold", help="Report hits at or above this score.")] = None,
    json_: JsonOpt = False,
) -> None:
    """Screen a party against the restricted-party lists; every hit is explained."""
    from chipwatch.law.groups import country_code
    from chipwatch.screen import THRESHOLD, screen

    if not name.strip():
        raise InvalidInput("give a name to screen")
    cc = country_code(country) if country else None
    result = screen(name, cc, parse_date(date_), address=address, threshold=THRESHOLD if threshold is None else threshold)
    for w in result.warnings:
        sys.stderr.write(f"chipwatch: warning: {w}\n")
    if json_:
        _print_json([_hit_row(h) for h in result.hits])
        return
    versions = ", ".join(f"{v.source_format} v{v.version_id}" + (f" [{v.label}]" if v.label else "") for v in result.list_versions)
    out.print(f"[bold]{name}[/bold]{f' ({cc})' if cc else ''}: {len(result.hits)} hit(s) at score ≥ {result.threshold:.2f}"
              f"  [dim]lists: {versions}[/dim]")
    for h in result.hits:
        fn = f" footnotes {', '.join(h.footnotes)}" if h.footnotes else ""
        out.print(f"  [bold red]{h.score:.2f}[/bold red] {h.list} {h.entry_id}: [bold]{h.name}[/bold] — {h.cite or 'no citation'}{fn}")
        out.print(f"      {h.explanation}")


@app.command("screen-batch")
def screen_batch_cmd(
    parties: Annotated[str, typer.Argument(help="CSV or Parquet with a `name` column (and optional `country`).")],
    output: Annotated[str, typer.Option("--output", "-o", help="Hits file (.parquet or .csv).")] = "hits.parquet",
    date_: DateOpt = "today",
    threshold: Annotated[float | None, typer.Option("--threshold")] = None,
    json_: JsonOpt = False,
) -> None:
    """Screen every party of a file; one output row per hit, with the row number of the party."""
    import polars as pl
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from chipwatch.batch import read_orders
    from chipwatch.screen import THRESHOLD, current_index

    raw = read_orders(parties)
    if "name" not in raw.columns:
        raise InvalidInput(f"{parties}: needs a `name` column")
    names = raw.get_column("name").cast(pl.String).to_list()
    countries = raw.get_column("country").cast(pl.String).to_list() if "country" in raw.columns else [None] * len(names)
    index = current_index()
    thr = THRESHOLD if threshold is None else threshold
    rows: list[dict[str, Any]] = []
    errors: list[tuple[int, str]] = []
    from chipwatch.law.groups import country_code

    with Progress(TextColumn("screening"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=Console(stderr=True), disable=json_) as bar:
        task = bar.add_task("names", total=len(names))
        for i, (n, c) in enumerate(zip(names, countries, strict=True), start=1):
            if not n or not n.strip():
                errors.append((i, "name: empty"))
            else:
                try:
                    cc = country_code(c) if c and c.strip() else None
                except ChipwatchError as exc:
                    errors.append((i, f"country: {exc}"))
                else:
                    for h in index.screen(n, cc, threshold=thr, limit=5):
                        rows.append({"row": i, "query": n, "query_country": cc, **_hit_row(h),
                                     "footnotes": ";".join(h.footnotes)})
            if i % 500 == 0 or i == len(names):
                bar.update(task, completed=i)
    schema = {"row": pl.Int64, "query": pl.String, "query_country": pl.String, "name": pl.String, "matched_name": pl.String,
              "list": pl.String, "score": pl.Float64, "entry_id": pl.String, "cite": pl.String, "footnotes": pl.String,
              "country": pl.String, "explanation": pl.String, "list_version": pl.Int64}
    hits = pl.DataFrame(rows, schema=schema)
    if output.lower().endswith(".csv"):
        hits.write_csv(output)
    elif output.lower().endswith(".parquet"):
        hits.write_parquet(output)
    else:
        raise InvalidInput(f"--output {output!r}: use a .parquet or .csv file name")
    summary = {"parties": len(names), "parties_with_hits": hits["row"].n_unique() if hits.height else 0, "hits": hits.height,
               "bad_rows": [{"row": r, "error": e} for r, e in errors], "output": output}
    if json_:
        _print_json(summary)
        return
    out.print(f"{summary['parties']} parties screened: {summary['parties_with_hits']} with hits ({summary['hits']} hits). "
              f"Written to {output}")
    for r, e in errors[:ERRORS_SHOWN]:
        out.print(f"  [red]row {r}[/red]: {e}")


@app.command("affiliates")
def affiliates_cmd(
    ownership: Annotated[str, typer.Argument(help="Ownership CSV: owner, owned, percent, date.")],
    date_: DateOpt = "today",
    json_: JsonOpt = False,
) -> None:
    """Entities owned 50 % or more by listed parties (the affiliates rule), with the ownership chains."""
    from chipwatch.screen import current_index
    from chipwatch.screen.affiliates import find_affiliates, read_ownership

    on = parse_date(date_)
    index = current_index()
    answer = find_affiliates(read_ownership(ownership), lambda n: bool(index.screen(n, limit=1)), on)
    if json_:
        _print_json(answer.model_dump(mode="json"))
        return
    out.print(f"Affiliates on {on.isoformat()}: {answer.note}; threshold {answer.threshold_pct:g} % ({answer.cite})")
    for a in answer.affiliates:
        out.print(f"  [bold]{a.entity}[/bold]: {a.listed_share:g} % held by listed parties or their affiliates")
        for link in a.chain:
            out.print(f"      {link}")
    if not answer.affiliates:
        out.print("  none")


# --- compute ledger -------------------------------------------------------------------------


@app.command("ledger")
def ledger_cmd(
    shipments: Annotated[str, typer.Argument(help="Shipments: date, chip, quantity, exporter, destination, consignee "
                                                  "[, value_usd, licence_id, end_user_hq] (.csv or .parquet).")],
    licences: Annotated[str | None, typer.Option("--licences", help="Licences: licence_id, quantity, valid_from, valid_until.")] = None,
    regime: RegimeOpt = "historical",
    as_written: Annotated[bool, typer.Option("--as-written", help="Set aside policy announced but not codified.")] = False,
    json_: JsonOpt = False,
) -> None:
    """Holdings per country and consignee (TPP, H100-equivalents, FLOP/s), caps and quotas exceeded, revenue shares due."""
    from chipwatch.batch import read_orders
    from chipwatch.ledger import ledger, read_licences

    report = ledger(read_orders(shipments), law=_law(regime), include_announced=not as_written,
                    licences=read_licences(licences) if licences else None)
    if json_:
        _print_json(report.model_dump(mode="json"))
        return
    written = ", as written" if not report.include_announced else ""
    out.print(f"Ledger of {report.shipments} shipments (regime {report.regime}{written})")
    table = Table("destination", "chips", "TPP", "H100e", "FP16 FLOP/s", "FP8 FLOP/s", "licensed", title="Holdings by country")
    for r in report.by_country:
        table.add_row(r["destination"], f"{r['chips']:,}", _fmt(r["tpp"]), _fmt(r["h100e"]), f"{r['fp16_flops'] or 0:.3g}",
                      f"{r['fp8_flops'] or 0:.3g}", str(r["licensed_shipments"]))
    out.print(table)
    if report.exceeded:
        out.print("[bold red]Caps and quotas exceeded[/bold red]")
        for e in report.exceeded:
            out.print(escape(f"  {e.date} row {e.row}: {e.cap} — {e.subject}: {e.reached:,.0f} {e.unit} > {e.limit:,.0f} "
                             f"[{e.cite}]"))
    else:
        out.print("No cap or quota exceeded.")
    for v in report.revenue_due:
        out.print(f"  due: row {v['row']} {v['condition']} {v['rate_pct']} % of ${v['value_usd']:,.0f} "
                  f"= ${v['due_usd']:,.0f} ({v['basis']})")
    for r in report.bad_rows[:ERRORS_SHOWN]:
        out.print(f"  [red]row {r['row']}[/red]: {r['error']}")
    for n in report.notes:
        out.print(f"[dim]{n}[/dim]")


# --- simulator ------------------------------------------------------------------------------


def _backtest(paths: int, seed: int, json_: bool) -> None:
    from chipwatch.simulate.backtest import backtest

    if paths < 2:
        raise InvalidInput("--paths must be at least 2 for the backtest")
    report = backtest(paths, seed)
    if json_:
        _print_json(report.model_dump(mode="json"))
        return
    t = Table("figure", "use", "published", "model before fit", "model after fit", "inside", title="Backtest (historical)")
    for f in report.figures:
        if not f.compared:
            continue
        pub = f"{f.published:.3g}" + (f" [{f.low:.3g}-{f.high:.3g}]" if f.low is not None and f.high is not None else "") \
            + (f" ({f.bound} bound)" if f.bound else "")
        pr, po = f.prior_band or (0, 0, 0), f.posterior_band or (0, 0, 0)
        t.add_row(f.id, f.use, pub, f"{pr[1]:.3g} [{pr[0]:.3g}, {pr[2]:.3g}]", f"{po[1]:.3g} [{po[0]:.3g}, {po[2]:.3g}]",
                  "yes" if f.inside_after else "no")
    out.print(t)
    out.print(f"{report.summary()}")
    out.print(f"{report.method}: {report.steps} tempering steps, smallest step ESS {report.effective_paths:g} of {report.paths}, "
              f"{report.distinct_paths} distinct paths, move acceptance {report.acceptance:.0%} (plain reweighting of the prior "
              f"paths would keep an ESS of {report.prior_reweighting_ess:g})")
    if report.not_compared:
        out.print(f"not compared (the model has no such measure): {', '.join(report.not_compared)}")


@app.command("simulate")
def simulate_cmd(
    policy: Annotated[list[str] | None, typer.Option("--policy", "-p", help="A law regime (built-in name or file); repeat.")] = None,
    paths: Annotated[int, typer.Option("--paths", help="Monte Carlo paths.")] = 1000,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    no_counter_controls: Annotated[bool, typer.Option("--no-counter-controls", help=(
        "Leave China's gallium/germanium controls out (China's law under the regime cn-no-counter-controls)."))] = False,
    cn_regime: Annotated[str | None, typer.Option("--cn-regime", help=(
        "China's law under this regime (name or file), e.g. cn-suspensions-extended."))] = None,
    plot: Annotated[str | None, typer.Option("--plot", help="Write a chart: out.png or out.html.")] = None,
    tornado_output: Annotated[str | None, typer.Option("--tornado", help="One-at-a-time sensitivity of this output in 2030.")] = None,
    backtest_: Annotated[bool, typer.Option("--backtest", help="Compare the historical scenario with published figures.")] = False,
    uncalibrated: Annotated[bool, typer.Option("--uncalibrated", help="Draw parameters from their priors, skipping the fit.")] = False,
    json_: JsonOpt = False,
) -> None:
    """Project compute stocks, China's substitution, revenue and leverage under policies, with bands."""
    if backtest_:
        _backtest(paths, seed, json_)
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from chipwatch.simulate import OUTPUTS, bands, run, tornado
    from chipwatch.simulate.charts import plot as draw_chart
    from chipwatch.simulate.model import sample

    if paths < 1:
        raise InvalidInput("--paths must be at least 1")
    policies = policy or ["historical", "blockade", "targeted", "market-control", "diffusion-caps-kept"]
    for p in policies:
        _law(p)  # an unknown regime is a clear error before any work
    if no_counter_controls and cn_regime:
        raise InvalidInput("give --no-counter-controls or --cn-regime, not both")
    from chipwatch.simulate.policy import NO_COUNTER_CONTROLS

    cc = NO_COUNTER_CONTROLS if no_counter_controls else (cn_regime or "historical")
    load_law(cc, jurisdiction="CN-ECL")  # likewise for China's regime
    calibration = None
    if uncalibrated:
        draws = sample(paths, seed)
    else:
        if paths < 2:
            raise InvalidInput("--paths must be at least 2 to calibrate (or pass --uncalibrated)")
        from chipwatch.simulate.backtest import calibrated

        with Progress(TextColumn("calibrating on published figures"), BarColumn(), TimeElapsedColumn(),
                      console=Console(stderr=True), disable=json_) as bar:
            task = bar.add_task("fit", total=1.0)
            draws, calibration = calibrated(paths, seed, progress=lambda beta: bar.update(task, completed=beta))
    note = calibration.summary() if calibration else UNCALIBRATED
    results = {}
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=Console(stderr=True), disable=json_) as bar:
        for p in policies:
            task = bar.add_task(p, total=None)

            def step(done: int, total: int, task: Any = task) -> None:
                bar.update(task, completed=done, total=total)

            results[p] = run(p, paths, seed, draws=draws, counter_controls=cc, progress=step)
    table_rows = [b for r in results.values() for b in bands(r)]
    sens = tornado(policies[0], tornado_output, counter_controls=cc) if tornado_output else None
    if plot:
        draw_chart(results, plot)
    if json_:
        _print_json({"paths": paths, "seed": seed, "policies": policies, "calibrated": calibration is not None,
                     "validated": bool(calibration and calibration.validated), "note": note,
                     "bands": [b.model_dump() for b in table_rows], "tornado": sens, "plot": plot})
        return
    out.print(f"[green]{note}[/green]" if calibration and calibration.validated else f"[yellow]{note}[/yellow]")
    for name in OUTPUTS:
        t = Table("policy", "2027", "2030", "2035", title=f"{name}: median [10 %, 90 %]")
        for p in policies:
            cells = [f"{b.median:.3g} [{b.p10:.3g}, {b.p90:.3g}]" for b in table_rows if b.policy == p and b.output == name]
            t.add_row(p, *cells)
        out.print(t)
    if sens:
        t = Table("parameter", "low end", "high end", "central", title=f"sensitivity of {tornado_output} in 2030 ({policies[0]})")
        for n, lo, hi, c in sens[:TORNADO_ROWS]:
            t.add_row(n, f"{lo:.3g}", f"{hi:.3g}", f"{c:.3g}")
        out.print(t)
    if plot:
        out.print(f"chart written to {plot}")


def main(argv: list[str] | None = None) -> int:
    """Entry point: one-line errors and exit code 2 for any bad input."""
    try:
        rv = app(args=argv, standalone_mode=False)
        if isinstance(rv, int) and rv:  # a command that ended with typer.Exit(n)
            return rv
    except ChipwatchError as exc:
        sys.stderr.write(f"chipwatch: error: {exc}\n")
        return 2
    except typer.Exit as exc:
        return int(exc.exit_code)
    except typer.Abort:
        sys.stderr.write("chipwatch: aborted\n")
        return 1
    except TyperException as exc:
        if type(exc).__name__ == "NoArgsIsHelpError":  # bare `chipwatch`: help was printed
            sys.stderr.write(f"{exc.format_message()}\n")
            return 0
        msg = exc.format_message() if hasattr(exc, "format_message") else str(exc)
        sys.stderr.write(f"chipwatch: error: {' '.join(msg.split())}\n")
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

