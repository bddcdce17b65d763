"""Reports fit to attach to a licence file: a determination, an order book (batch) and a scenario
comparison, as self-contained HTML (stylesheet inline, charts as inline SVG) in English or Chinese,
and as PDF printed from that same HTML by headless Chromium.

The reports render the answer objects the library and the desk return, never a second account of
them: the determination report is built from the audit record (inputs, answer, trace, rule and
list versions, record id and hash, who and when), so what is filed is what was recorded.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from markupsafe import Markup

from chipwatch.determine import Determination
from chipwatch.errors import ChipwatchError
from chipwatch.web.charts import BandSeries, bands_chart, count_chart
from chipwatch.web.i18n import Translator, flatten
from chipwatch.web.render import render, stylesheet

if TYPE_CHECKING:
    import polars as pl

    from chipwatch.desk import AuditRecord, Job, SimulationAnswer

CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome")
PDF_TIMEOUT_S = 90
BATCH_REPORT_ROWS = 500  # rows listed in a batch report; the CSV download has them all
CHART_OUTPUTS = ("CN", "us_china_ratio", "china_domestic_share", "leverage")
PDF_UNAVAILABLE = "PDF needs Chromium: apt install chromium"


class PdfUnavailable(ChipwatchError):
    """No Chromium on this machine to print the PDF with (the HTML report still works)."""


class PdfFailed(ChipwatchError):
    """Chromium ran but produced no PDF."""


# --- determination ------------------------------------------------------------------------------


def determinations_of(record: AuditRecord) -> list[Determination]:
    """The determinations an audit record holds, with their traces put back (the desk stores the
    trace beside the answer: one list for one jurisdiction, a list per jurisdiction for several)."""
    answers = record.answer.get("determinations")
    if not isinstance(answers, list) or not answers:
        raise ChipwatchError(f"audit record {record.id} ({record.action}) holds no determination")
    traces: list[Any] = record.trace if len(answers) > 1 else [record.trace]
    out = []
    for i, d in enumerate(answers):
        trace = traces[i] if i < len(traces) and isinstance(traces[i], list) else []
        out.append(Determination.model_validate({**d, "trace": d.get("trace") or trace}))
    return out


def _flat_inputs(inputs: dict[str, Any]) -> dict[str, Any]:
    """Nested request fields as 'transaction.end_user.hq' rows, leaving out what was not given."""
    return {name: value for name, value in flatten(inputs).items() if value not in (None, [], {}, "")}


def determination_report(record: AuditRecord, lang: str = "en", *, determinations: Sequence[Determination] | None = None,
                         now: datetime | None = None) -> str:
    """The licence-file report of one recorded determination (all jurisdictions it answered)."""
    t = Translator(lang)
    answers = list(determinations) if determinations is not None else determinations_of(record)
    return render("report_determination.html", t, title=t("report.determination_title"), css=Markup(stylesheet()),
                  generated=now or datetime.now(UTC), prepared_by=f"{record.user} ({record.key_id})", record=record,
                  inputs=_flat_inputs(record.inputs), determinations=answers)


# --- batch --------------------------------------------------------------------------------------


def _distinct(values: Iterable[Any]) -> list[str]:
    return sorted({str(v) for v in values if v not in (None, "")})


def batch_summary(job: Job, frame: pl.DataFrame, t: Translator) -> tuple[list[tuple[str, int]], dict[str, int]]:
    """Counts for the summary block and the chart: by reason code (determine) or by list hit (screen)."""
    rows = frame.height
    errors = frame.filter(frame["error"].is_not_null()).height if "error" in frame.columns else 0
    summary = [(t("report.rows_total"), rows), (t("batch.error_rows"), errors)]
    if job.kind == "determine" and "reason_code" in frame.columns:
        counts = Counter(str(c) for c in frame["reason_code"].to_list() if c is not None)
        if "licence_required" in frame.columns:
            summary.insert(1, (t("batch.licence_count"), sum(1 for v in frame["licence_required"].to_list() if v is True)))
    elif "top_list" in frame.columns:
        counts = Counter(str(c) if c is not None else "—" for c in frame["top_list"].to_list())
    else:
        counts = Counter()
    return summary, dict(counts)


def batch_report(job: Job, frame: pl.DataFrame, lang: str = "en", *, rule_versions: Sequence[str] = (),
                 list_versions: Sequence[str] = (), now: datetime | None = None) -> str:
    """The report of one order book: the job, a summary with a chart, and the answer rows."""
    t = Translator(lang)
    summary, counts = batch_summary(job, frame, t)
    title = t("batch.by_code") if job.kind == "determine" else t("screen.list")
    shown = frame.head(BATCH_REPORT_ROWS)
    columns = [c for c in shown.columns if c != "hits"]
    return render("report_batch.html", t, title=t("report.batch_title"), css=Markup(stylesheet()),
                  generated=now or datetime.now(UTC), prepared_by=job.key_id, job=job, summary=summary,
                  chart=Markup(count_chart(counts, title)), columns=columns, rows=shown.to_dicts(),
                  truncated=max(frame.height - BATCH_REPORT_ROWS, 0), rule_versions=list(rule_versions),
                  list_versions=list(list_versions))


# --- scenarios ----------------------------------------------------------------------------------


def _year_fraction(d: date) -> float:
    return d.year + (d.month - 1) / 12


def band_series(answer: SimulationAnswer, output: str) -> list[BandSeries]:
    """One output's median and band over time per policy, from the desk's simulation answer."""
    out = []
    for s in answer.series:
        if s.output != output:
            continue
        nan = float("nan")
        out.append(BandSeries(policy=s.policy, x=[_year_fraction(q) for q in s.quarters],
                              p10=[nan if v is None else v for v in s.p10], median=[nan if v is None else v for v in s.median],
                              p90=[nan if v is None else v for v in s.p90]))
    return out


def scenario_charts(answer: SimulationAnswer, t: Translator, outputs: Sequence[str] = CHART_OUTPUTS) -> list[Markup]:
    return [Markup(svg) for name in outputs
            if (svg := bands_chart(band_series(answer, name), t.maybe("outputs", name), t("scenarios.chart_note")))]


def band_table(answer: SimulationAnswer) -> tuple[list[int], list[tuple[tuple[str, str], list[Any]]]]:
    """The bands as table rows (output, policy) with one cell per year, outputs in the simulator's order."""
    years = sorted({b.year for b in answer.bands})
    cells: dict[tuple[str, str], dict[int, Any]] = {}
    for b in answer.bands:
        cells.setdefault((b.output, b.policy), {})[b.year] = b
    return years, [(key, [row.get(y) for y in years]) for key, row in cells.items()]


def scenario_report(answer: SimulationAnswer, record: AuditRecord | None, lang: str = "en", *, now: datetime | None = None) -> str:
    t = Translator(lang)
    years, rows = band_table(answer)
    return render("report_scenario.html", t, title=t("report.scenario_title"), css=Markup(stylesheet()),
                  generated=now or datetime.now(UTC), prepared_by=f"{record.user} ({record.key_id})" if record else None,
                  record=record, answer=answer, charts=scenario_charts(answer, t), years=years, band_rows=rows)


# --- PDF ----------------------------------------------------------------------------------------


def chromium_path() -> str | None:
    """The Chromium to print with: $CHIPWATCH_CHROMIUM, else the usual system paths."""
    configured = os.environ.get("CHIPWATCH_CHROMIUM")
    candidates = [configured] if configured else [*CHROMIUM_CANDIDATES, shutil.which("chromium") or ""]
    return next((c for c in candidates if c and Path(c).is_file() and os.access(c, os.X_OK)), None)


def html_to_pdf(html: str, *, chromium: str | None = None, timeout: float = PDF_TIMEOUT_S) -> bytes:
    """Print self-contained HTML to PDF with headless Chromium (no network, a throwaway profile)."""
    exe = chromium or chromium_path()
    if exe is None:
        raise PdfUnavailable(PDF_UNAVAILABLE)
    with tempfile.TemporaryDirectory(prefix="chipwatch-pdf-") as tmp:
        page, out = Path(tmp) / "report.html", Path(tmp) / "report.pdf"
        page.write_text(html, encoding="utf-8")
        cmd = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", "--no-pdf-header-footer", f"--user-data-dir={Path(tmp) / 'profile'}",
               f"--print-to-pdf={out}", page.as_uri()]
        try:
            proc = subprocess.run(cmd, capture_output=True, timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            raise PdfFailed(f"Chromium did not finish printing the PDF within {timeout:.0f} s") from None
        except OSError as exc:
            raise PdfUnavailable(f"{PDF_UNAVAILABLE} ({exc.strerror})") from None
        if not out.is_file() or out.stat().st_size == 0:
            tail = proc.stderr.decode(errors="replace").strip().splitlines()[-1:] or ["no output"]
            raise PdfFailed(f"Chromium printed no PDF (exit {proc.returncode}): {tail[0][:200]}")
        return out.read_bytes()
