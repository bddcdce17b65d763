"""Reports for the licence file: built from the audit record, in English and Chinese, as HTML and PDF."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import polars as pl
import pytest

from chipwatch import report
from chipwatch.desk import Caller, Desk, DetermineRequest, SimulateRequest, wait_for
from chipwatch.determine import transaction

CHROMIUM = Path("/usr/bin/chromium")
needs_chromium = pytest.mark.skipif(not CHROMIUM.exists(), reason="/usr/bin/chromium is not installed (apt install chromium)")


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Desk]:
    before = os.environ.get("CHIPWATCH_HOME")
    d = Desk(tmp_path_factory.mktemp("report-desk"))
    yield d
    if before is not None:  # the Desk points the list store at its home; give the other tests theirs back
        os.environ["CHIPWATCH_HOME"] = before


@pytest.fixture(scope="module")
def officer(desk: Desk) -> Caller:
    return desk.create_key("Li Wei", "officer")[1]


@pytest.fixture(scope="module")
def h200_record(desk: Desk, officer: Caller):
    txn = transaction(item="H200", quantity=1000, destination="CN", end_user={"hq": "CN", "listed": False},
                      commercially_available_us=True, h200_certified=True, date=date(2026, 3, 1))
    done = desk.determine(DetermineRequest(transaction=txn), officer)
    return desk.audit_record(done.audit_id, officer), done.answer


def test_determinations_come_back_from_the_record_with_their_trace(h200_record):
    record, answers = h200_record
    again = report.determinations_of(record)
    assert [d.model_dump(mode="json") for d in again] == [d.model_dump(mode="json") for d in answers]


@pytest.mark.parametrize("lang, words", [("en", ["Licence determination report", "Licence required", "Trace"]),
                                         ("zh", ["许可判定报告", "需要许可证", "审查轨迹", "逐案审查"])])
def test_determination_report_holds_what_the_licence_file_needs(h200_record, lang, words):
    record, answers = h200_record
    html = report.determination_report(record, lang)
    d = answers[0]
    for text in [*words, f"#{record.id}", record.hash, record.user, record.key_id, d.rule_version.id, d.reason_code,
                 d.review_policy.cite, "91 FR 1684", record.list_version]:
        assert text in html, text
    for step in d.trace:
        if step.cite:
            assert step.cite.replace("'", "&#39;") in html
    # Self-contained: the stylesheet is inline and nothing is fetched.
    assert "<style>" in html and 'rel="stylesheet"' not in html and "<script" not in html
    assert not re.search(r'(src|href)="https?://', html)


def test_a_record_that_is_not_a_determination_is_refused(desk: Desk, officer: Caller):
    from chipwatch.desk import ScreenRequest

    done = desk.screen(ScreenRequest(name="Huawei Technologies"), officer)
    with pytest.raises(report.ChipwatchError, match="holds no determination"):
        report.determinations_of(desk.audit_record(done.audit_id, officer))


def test_batch_report_summarises_the_rows(desk: Desk, officer: Caller):
    csv = b"item,quantity,destination,date,end_user_hq,party_listed\n" \
          b"H100 SXM,10,CN,2025-01-01,CN,false\nH20,5,SG,2025-06-01,SG,false\nH100 SXM,1,DE,2025-06-01,DE,false\nNOPE,1,CN,2025-01-01,,\n"
    job = desk.submit_batch("determine", "orders.csv", csv, officer)
    assert wait_for(lambda: desk.job(job.id, officer).status == "done", 60)
    job = desk.job(job.id, officer)
    frame = desk.job_result(job.id, officer)
    for lang, title in (("en", "Order book report"), ("zh", "批量订单报告")):
        html = report.batch_report(job, frame, lang, rule_versions=["US-2025-01-FDD"])
        assert title in html and job.id in html and "orders.csv" in html and "<svg" in html
        for code in set(frame["reason_code"].drop_nulls().to_list()):
            assert code in html
    summary, counts = report.batch_summary(job, frame, report.Translator("en"))
    assert dict(summary)["Rows"] == 4 and dict(summary)["Rows with an error"] == 1
    assert sum(counts.values()) == frame["reason_code"].drop_nulls().len()


def test_scenario_report_charts_each_policy(desk: Desk, officer: Caller):
    done = desk.simulate(SimulateRequest(policies=["historical", "blockade"], paths=40, seed=3), officer)
    record = desk.audit_record(done.audit_id, officer)
    html = report.scenario_report(done.answer, record, "zh")
    assert "情景推演报告" in html and html.count("<svg") == len(report.CHART_OUTPUTS)
    assert "historical" in html and "blockade" in html and f"#{record.id}" in html
    years, rows = report.band_table(done.answer)
    assert years == sorted({b.year for b in done.answer.bands}) and len(rows) == len({(b.output, b.policy) for b in done.answer.bands})


@needs_chromium
def test_pdf_is_printed_from_the_same_html(h200_record, tmp_path: Path):
    record, _ = h200_record
    pdf = report.html_to_pdf(report.determination_report(record, "zh"))
    assert pdf.startswith(b"%PDF-")
    assert len(re.findall(rb"/Type\s*/Page[^s]", pdf)) >= 1
    (tmp_path / "determination.pdf").write_bytes(pdf)


def test_pdf_without_chromium_says_how_to_get_it(monkeypatch):
    monkeypatch.setenv("CHIPWATCH_CHROMIUM", "/nonexistent/chromium")
    with pytest.raises(report.PdfUnavailable, match=r"PDF needs Chromium: apt install chromium"):
        report.html_to_pdf("<p>x</p>")


def test_flat_inputs_leave_out_what_was_not_given():
    given = {"transaction": {"item": "H20", "end_user": {"hq": "CN", "name": None}, "end_uses": []}, "regime": "historical"}
    flat = report._flat_inputs(given)
    assert flat == {"transaction.item": "H20", "transaction.end_user.hq": "CN", "regime": "historical"}


def test_batch_summary_of_a_screening_job_counts_lists():
    from chipwatch.desk import Job

    job = Job(id="x", kind="screen", status="done", rows_total=2, rows_done=2, created_at="2026-01-01T00:00:00Z",
              finished_at=None, error=None, filename="p.csv", key_id="k")
    frame = pl.DataFrame({"row": [1, 2], "top_list": ["EL", None], "error": [None, None]})
    _, counts = report.batch_summary(job, frame, report.Translator("en"))
    assert counts == {"EL": 1, "—": 1}
