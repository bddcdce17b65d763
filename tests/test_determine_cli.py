"""The determination CLI contract: JSON fields, exit codes, batch files with bad rows, explain,
and a regime file written by the user."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import polars as pl


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "chipwatch", *args], capture_output=True, text=True, timeout=120)


def test_determine_json_contract():
    p = run("determine", "--item", "H200", "--qty", "100", "--to", "CN", "--hq", "CN", "--screened-clear",
            "--available-in-us", "--certified", "--date", "2026-03-01", "--json")
    assert p.returncode == 0, p.stderr
    obj = json.loads(p.stdout)
    for key in ("licence_required", "reasons", "licence_exceptions", "review_policy", "conditions",
                "missing_facts", "trace", "rule_version"):
        assert key in obj, key
    assert obj["licence_required"] is True
    assert [r["code"] for r in obj["reasons"]] == ["CCL-AC"]
    assert all(r["cite"] for r in obj["reasons"])
    assert obj["review_policy"]["policy"] == "case-by-case"
    assert obj["review_policy"]["cite"] == "15 CFR 742.6(b)(10)(iii)(A)(1)"
    conds = {c["code"]: c["value"] for c in obj["conditions"]}
    assert conds["H200-CAP"] == 50 and conds["H200-DUTY"] == 25
    assert obj["rule_version"]["id"] == "US-2026-02-KHM"
    assert all("cite" in s for s in obj["trace"])


def test_determine_answer_is_exit_zero_even_when_licence_required_or_undetermined():
    p = run("determine", "--item", "H100", "--to", "MY", "--date", "2026-06-01", "--json")
    assert p.returncode == 0, p.stderr
    obj = json.loads(p.stdout)
    assert obj["licence_required"] is None
    facts = {m["fact"]: m["branches"] for m in obj["missing_facts"]}
    assert "end_user_hq" in facts and "party_listed" in facts
    assert any(v.startswith("licence required (HQ)") for v in facts["end_user_hq"].values())


def test_determine_bad_input_exits_2_with_one_line():
    for args, needle in [
        (("--item", "H100", "--to", "ZZ"), "unknown country 'ZZ'"),
        (("--item", "H100", "--to", "CN", "--qty", "0"), "quantity"),
        (("--item", "H100", "--to", "CN", "--date", "2021-05-01"), "no advanced-computing rule was in force"),
        (("--item", "H1000", "--to", "CN"), "nearest"),
        (("--item", "H100", "--to", "CN", "--end-use", "cooking"), "end_uses"),
        (("--item", "H100",), "--to"),
    ]:
        p = run("determine", *args)
        assert p.returncode == 2, (args, p.stdout)
        assert needle in p.stderr, (args, p.stderr)
        assert p.stderr.count("\n") == 1, p.stderr


def test_determine_human_output_leads_with_the_answer():
    p = run("determine", "--item", "A800", "--to", "CN", "--hq", "CN", "--screened-clear", "--date", "2023-11-17")
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    assert "LICENCE REQUIRED" in lines[1]
    assert "742.6(a)(6)(iii)" in p.stdout


def test_as_written_applies_the_ai_diffusion_rule():
    base = ("determine", "--item", "H100", "--qty", "8", "--to", "IN", "--hq", "IN", "--screened-clear",
            "--date", "2025-06-01", "--json")
    enforced = json.loads(run(*base).stdout)
    written = json.loads(run(*base, "--as-written").stdout)
    assert enforced["licence_required"] is False
    assert written["licence_required"] is True
    assert [r["code"] for r in written["reasons"]] == ["AID-WW"]
    assert {e["code"] for e in written["licence_exceptions"]} == {"LPP"}


def test_model_weights():
    p = run("determine", "--model-weights", "3e26", "--to", "IN", "--hq", "IN", "--screened-clear",
            "--date", "2025-06-01", "--as-written", "--json")
    obj = json.loads(p.stdout)
    assert obj["eccn"] == "4E091" and [r["code"] for r in obj["reasons"]] == ["AID-4E091"]


def _orders(tmp_path: Path) -> Path:
    path = tmp_path / "orders.csv"
    path.write_text(
        "item,quantity,destination,date,end_user_hq,party_listed,owned_by_listed_pct,end_uses\n"
        "A100 SXM,8,CN,2022-12-01,CN,no,0,\n"
        "A800,8,CN,2022-12-01,CN,no,0,\n"
        "H100,8,XX,2026-06-01,DE,no,0,\n"
        "H100,0,DE,2026-06-01,DE,no,0,\n"
        "H100,8,MY,2026-06-01,CN,no,0,\n"
        "L20,8,CN,2025-06-01,CN,no,0,military\n"
        "H100,8,DE,2021-06-01,DE,no,0,\n",
        encoding="utf-8")
    return path


def test_determine_batch_reports_bad_rows_and_answers_the_rest(tmp_path: Path):
    out = tmp_path / "out.parquet"
    p = run("determine-batch", str(_orders(tmp_path)), "-o", str(out), "--json")
    assert p.returncode == 0, p.stderr
    summary = json.loads(p.stdout)
    assert summary["rows"] == 7 and summary["bad_rows"] == 3
    assert [e["row"] for e in summary["errors"]] == [3, 4, 7]
    df = pl.read_parquet(out)
    assert df["row"].to_list() == [1, 2, 3, 4, 5, 6, 7]
    assert df["reason_code"].to_list() == ["CCL-AC", "NLR", None, None, "HQ", "EU-MEU", None]
    assert df.filter(pl.col("row") == 3)["error"][0] == "destination: unknown country code XX"


def test_explain_gives_the_full_trace_of_one_row(tmp_path: Path):
    p = run("explain", str(_orders(tmp_path)), "--row", "5", "--json")
    assert p.returncode == 0, p.stderr
    obj = json.loads(p.stdout)
    assert obj["reason_code"] == "HQ"
    assert any("742.6(a)(6)(iii)(A)" in (s["cite"] or "") for s in obj["trace"])
    bad = run("explain", str(_orders(tmp_path)), "--row", "3")
    assert bad.returncode == 2 and "unknown country" in bad.stderr


def test_user_regime_file_changes_a_determination_and_a_batch(tmp_path: Path):
    regime = tmp_path / "tpp-2000.yaml"
    regime.write_text(
        "regime: tpp-2000\n"
        "description: what if the 3A090.a.1 line were TPP 2000 from 2024-01-01\n"
        "parameters:\n"
        "  us_ear.3a090.a1_tpp_min:\n"
        "    - {from: 2024-01-01, value: 2000}\n"
        "  us_ear.3a090.non_datacenter_tpp_min:\n"
        "    - {from: 2024-01-01, value: 2000}\n",
        encoding="utf-8")
    base = ("determine", "--item", "H20", "--to", "CN", "--hq", "CN", "--screened-clear", "--date", "2024-06-01", "--json")
    assert json.loads(run(*base).stdout)["licence_required"] is False
    obj = json.loads(run(*base, "--regime", str(regime)).stdout)
    assert obj["licence_required"] is True and obj["hypothetical"] is True and obj["regime"] == "tpp-2000"
    out = tmp_path / "out.csv"
    orders = tmp_path / "o.csv"
    orders.write_text("item,quantity,destination,date,end_user_hq,party_listed,owned_by_listed_pct\n"
                      "H20,10,CN,2024-06-01,CN,no,0\n", encoding="utf-8")
    assert run("determine-batch", str(orders), "-o", str(out), "--regime", str(regime)).returncode == 0
    assert pl.read_csv(out)["reason_code"].to_list() == ["CCL-AC"]
