"""The CLI contract other tools call: JSON fields, exit codes, one-line errors; README table current."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).parents[1] / "README.md"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "chipwatch", *args], capture_output=True, text=True, timeout=120)


def test_classify_json_contract():
    p = run("classify", "H100-SXM5-80GB", "--date", "2024-01-01", "--json")
    assert p.returncode == 0, p.stderr
    obj = json.loads(p.stdout)
    assert obj["item"] == "H100 SXM5 80GB"
    assert obj["date"] == "2024-01-01"
    assert obj["eccn"] == "3A090.a"
    assert obj["metrics"]["tpp"]["value"] == 15832
    assert obj["metrics"]["pd"]["value"] == pytest.approx(19.45, abs=0.01)
    assert obj["rule"] == {"id": "US-2023-11-ACS", "name": obj["rule"]["name"], "effective": "2023-11-17",
                           "source": "88 FR 73458 (FR Doc. 2023-23055)"}
    assert obj["trace"] and any(s["cite"] and "3A090.a.1" in s["cite"] for s in obj["trace"])


def test_classify_by_figures_json():
    p = run("classify", "--tops-fp8", "375", "--tops-fp16", "187.5", "--die-area", "600", "--datacenter",
            "--date", "2024-06-01", "--json")
    assert p.returncode == 0, p.stderr
    obj = json.loads(p.stdout)
    assert (obj["eccn"], obj["paragraph"]) == ("3A090.b", "3A090.b.1")
    assert obj["metrics"]["tpp"]["value"] == 3000


def test_classify_hbm_and_system():
    p = run("classify", "--bandwidth", "819", "--package-area", "121", "--date", "2025-01-01", "--json")
    assert json.loads(p.stdout)["eccn"] == "3A090.c"
    p = run("classify", "--contains", "H20*8", "--contains", "A100 SXM4 80GB*1", "--date", "2025-01-01", "--json")
    assert json.loads(p.stdout)["eccn"] == "4A090.a"


def test_before_first_rule_answers_no_rule():
    p = run("classify", "A100 SXM4 80GB", "--date", "2021-06-01", "--json")
    assert p.returncode == 0
    obj = json.loads(p.stdout)
    assert obj["eccn"] is None
    assert "2022-10-07" in obj["notes"][0]


def test_chips_json_is_a_list():
    p = run("chips", "--date", "2023-12-01", "--json")
    assert p.returncode == 0, p.stderr
    rows = json.loads(p.stdout)
    assert isinstance(rows, list) and len(rows) >= 63
    assert {"item", "date", "eccn", "metrics", "rule", "trace"} <= set(rows[0])


def test_regime_changes_the_answer():
    args = ("classify", "RTX 4090D", "--date", "2024-06-01", "--json")  # TPP 4707, not for datacenters
    assert json.loads(run(*args).stdout)["eccn"] is None
    hyp = json.loads(run(*args, "--regime", "tpp-line-2400").stdout)
    assert hyp["eccn"] == "3A090.a" and hyp["hypothetical"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("classify", "H900"), "no chip 'H900' in the catalog; nearest:"),
        (("classify", "A100 SXM4 80GB", "--date", "2024-02-30"), "not a date"),
        (("classify", "--tops-fp8", "-1", "--die-area", "100"), "cannot be negative"),
        (("classify", "--tops-fp8", "100", "--die-area", "0"), "greater than zero"),
        (("classify", "--tops-fp8", "nan", "--die-area", "100"), "finite"),
        (("classify", "--bandwidth", "800"), "--package-area"),
        (("classify", "A100 SXM4 80GB", "--tops-fp8", "3"), "exactly one"),
        (("classify", "--contains", "H100 SXM*x"), "whole number"),
        (("classify", "--nope"), "No such option"),
        (("law", "value", "us_ear.3a090.a1_tpp_min", "--date", "2023-01-01"), "first set on 2023-11-17"),
        (("chips", "--regime", "no-such-regime"), "built-in regimes"),
    ],
)
def test_bad_input_exits_2_with_one_line(args, message):
    p = run(*args)
    assert p.returncode == 2, (p.stdout, p.stderr)
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1, p.stderr
    assert message in lines[0]
    assert "Traceback" not in p.stderr


def test_law_value_cli():
    p = run("law", "value", "us_ear.3a090.c_mbd_above", "--date", "2025-01-01", "--json")
    obj = json.loads(p.stdout)
    assert obj["value"] == 2.0 and obj["source"] == "89 FR 96790"


def test_readme_table_is_generated_by_the_cli():
    text = README.read_text(encoding="utf-8")
    m = re.search(r"<!-- chips-table: (chipwatch [^>]*?) -->\n(.*?)<!-- /chips-table -->", text, re.S)
    assert m, "README must hold the generated chips table between markers"
    args = m.group(1).split()[1:]
    p = run(*args)
    assert p.returncode == 0, p.stderr
    assert m.group(2).strip() == p.stdout.strip(), "README table is stale: regenerate it with the command in the marker"
