"""Restricted-party list importers and the versioned list store.

Fixtures under tests/fixtures/screening/ were typed for these tests (a few real Entity List entries and some
invented "Example" parties). The full nsfreg Entity List is read from /work/shared at run time when present.
"""

from __future__ import annotations

import collections
import json
import os
import re
import shutil
from datetime import date, datetime
from pathlib import Path

import pytest

from chipwatch.errors import ChipwatchError, InvalidInput
from chipwatch.screen import store as store_mod
from chipwatch.screen.lists import (
    CSL_COLUMNS,
    FORMATS,
    country_iso,
    csl_list_id,
    detect_format,
    extract_footnotes,
    first_date,
    nsfreg_list_id,
    parse_file,
)
from chipwatch.screen.model import ListVersion
from chipwatch.screen.store import STALE_AFTER_DAYS, ListStore, current_entries, import_file, load_sample, stale, versions

FIX = Path(__file__).parent / "fixtures" / "screening"
SHARED = Path(os.environ.get("CHIPWATCH_SHARED_SCREENING", "/work/shared/data/screening"))
NSFREG = SHARED / "nsfreg"
needs_shared = pytest.mark.skipif(not (NSFREG / "bis_entity_list.json").exists(),
                                  reason=f"shared screening data not present ({NSFREG}); the full-list checks need it")


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    """Every test gets its own empty CHIPWATCH_HOME: tests never touch the real store."""
    h = tmp_path / "chipwatch-home"
    monkeypatch.setenv("CHIPWATCH_HOME", str(h))
    return h


def by_name(entries):
    return {e.name: e for e in entries}


# --- detection -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("name", "fmt"), [
    ("csl_sample.csv", "csl-csv"), ("csl_sample.json", "csl-json"), ("entity_list_sample.xml", "ecfr-xml"),
    ("entity_list_sample.txt", "ecfr-text"), ("opensanctions_sample.ftm.json", "ftm"), ("nsfreg_sample.json", "nsfreg"),
])
def test_detect_format(name, fmt):
    assert detect_format(FIX / name) == fmt


def test_detect_format_by_content_when_the_extension_says_nothing(tmp_path):
    for name, fmt in (("csl_sample.csv", "csl-csv"), ("entity_list_sample.xml", "ecfr-xml"), ("nsfreg_sample.json", "nsfreg"),
                      ("opensanctions_sample.ftm.json", "ftm"), ("csl_sample.json", "csl-json")):
        target = tmp_path / f"download-{fmt}"
        shutil.copy(FIX / name, target)
        assert detect_format(target) == fmt
    sample = Path(store_mod.__file__).parent / "data" / "sample_entity_list.yaml"
    assert detect_format(sample) == "sample"


def test_unknown_format_and_unreadable_file(tmp_path):
    junk = tmp_path / "notes.bin"
    junk.write_text("hello\nworld\n")
    with pytest.raises(InvalidInput, match="cannot tell the list format"):
        detect_format(junk)
    with pytest.raises(InvalidInput, match="unknown list format"):
        parse_file(FIX / "csl_sample.csv", fmt="pdf")
    with pytest.raises(InvalidInput, match="cannot read"):
        parse_file(tmp_path / "missing.csv")
    assert set(FORMATS) == {"csl-csv", "csl-json", "ecfr-xml", "ecfr-text", "ftm", "nsfreg", "sample"}


# --- each format -----------------------------------------------------------------------------------------------

def test_csl_csv():
    entries, meta = parse_file(FIX / "csl_sample.csv")
    assert meta.source_format == "csl-csv" and len(entries) == 7 and len(CSL_COLUMNS) == 29
    assert [e.list_id for e in entries] == ["EL", "EL", "DPL", "NS-CMIC", "SDN", "MEU", "EL"]
    e = by_name(entries)
    moore = e["Moore Thread Intelligent Technology (Beijing) Co., Ltd."]
    assert moore.aliases == ("Moore Threads", "Mo'er Xianchen")  # BIS '?' apostrophe repaired
    assert moore.footnotes == ("FN4",) and moore.license_requirement.endswith("744.11 of the EAR)")
    assert moore.cite == "88 FR 71992" and moore.listed_on == date(2023, 10, 19) and moore.country == "CN"
    assert len(moore.addresses) == 2 and moore.license_policy == "Presumption of denial."
    xian = e["Xi'an Example Microsystems Co., Ltd."]
    assert xian.aliases == ("Example Children's Microsystems",)
    dpl = e["JOHN Q. EXAMPLE"]
    assert dpl.listed_on == date(2015, 8, 11)  # " 8/11/2015"
    assert "two lines" in dpl.remarks and "end date 2025-08-11" in dpl.remarks
    cmic = e["Dawning Information Industry Co., Ltd"]
    assert cmic.list_id == "NS-CMIC" and "曙光信息产业股份有限公司" in cmic.aliases and cmic.programs == ("CMIC-EO13959",)
    sdn = e["EXAMPLE, Ivan Petrovich"]
    assert sdn.entity_type == "individual" and sdn.country == "RU"
    assert e["Semiconductor Manufacturing International Corporation (SMIC)"].footnotes == ("FN5",)


def test_csl_json():
    entries, meta = parse_file(FIX / "csl_sample.json")
    assert meta.source_format == "csl-json" and meta.snapshot == date(2025, 10, 14)
    e = by_name(entries)
    assert e["Sophgo Technologies Ltd."].footnotes == ("FN4",)  # "EAR)4"
    assert e["Sophgo Technologies Ltd."].addresses[1].endswith("Singapore, SG")
    assert e["Huawei Technologies Co., Ltd."].footnotes == ("FN1", "FN2")
    st = e["Sensetime Group Limited"]
    assert st.list_id == "NS-CMIC" and st.country == "HK" and "商湯集團有限公司" in st.aliases and st.entry_id.endswith("f003")


def test_ecfr_xml():
    entries, meta = parse_file(FIX / "entity_list_sample.xml")
    assert meta.source_format == "ecfr-xml" and meta.snapshot == date(2025, 10, 9) and len(entries) == 7
    e = by_name(entries)
    assert [x.entry_id for x in entries][:2] == ["EL-00001", "EL-00002"]
    huawei = e["Huawei Technologies Co., Ltd."]
    assert huawei.footnotes == ("FN1", "FN2") and huawei.addresses == ("Bantian Huawei Base, Longgang District, Shenzhen, 518129, China.",)
    assert huawei.license_policy == "Presumption of denial for all items subject to the EAR."
    sugon = e["Sugon"]
    assert len(sugon.aliases) == 9 and sugon.aliases[0] == "Dawning" and sugon.aliases[-1] == "Tianjin Shuguang Computer Industry"
    assert len(sugon.addresses) == 2 and sugon.listed_on == date(2019, 6, 24) and sugon.footnotes == ("FN4",)
    smic = e["Semiconductor Manufacturing International Corporation (SMIC)"]
    assert smic.aliases[-1] == "Semiconductor Mfg International Corp." and smic.footnotes == ("FN5",)
    assert "10 nanometers and below" in smic.license_policy
    assert e["Inspur Group Co., Ltd."].aliases == ("Inspur Group", "IGL")
    assert e["Yangtze Memory Technologies Co., Ltd."].aliases == ("Changjiang Cunchu", "YMTC")
    addr = e["Address 01"]
    assert addr.entity_type == "address" and "Mong Kok" in addr.addresses[0] and addr.country == "CN"
    ru = e["Example Radio Plant JSC"]
    assert ru.country == "RU" and ru.footnotes == ("FN3",) and "734.9(g), 746.8" in ru.license_requirement


def test_ecfr_text():
    data = (FIX / "entity_list_sample.txt").read_bytes()
    assert data.startswith(b"\xef\xbb\xbf") and b"\r\n" in data  # BOM and CRLF, as the eCFR export
    entries, meta = parse_file(FIX / "entity_list_sample.txt")
    assert meta.source_format == "ecfr-text" and meta.snapshot == date(2025, 10, 14) and len(entries) == 6
    e = by_name(entries)
    assert "SHOULD NOT BE READ" not in {x.name for x in entries}  # stops at Supplement No. 5
    assert e["Beijing Biren Technology Development Co., Ltd."].addresses[0].startswith("Building 13, Room 201")
    assert e["Huawei Technologies Co., Ltd."].footnotes == ("FN1", "FN2")
    assert e["Moore Thread Intelligent Technology (Beijing) Co., Ltd."].aliases == ("Moore Threads", "Mo'er Xianchen")
    sophgo = e["Sophgo Technologies Ltd."]
    assert sophgo.aliases == ("Beijing Sophgo", "Beijing Suanneng Technology Co., Ltd", "Sophgo", "SOPHON")
    assert sophgo.cite == "90 FR 4622, 1/16/25." and sophgo.listed_on == date(2025, 1, 16)
    assert e["Sugon"].cite == "84 FR 29373, 6/24/19.\n87 FR 62202, 10/13/22."
    ru = e["Example Instrument Works OOO"]
    assert ru.footnotes == ("FN3",) and ru.country == "RU"  # "734.9(g)3,"


def test_followthemoney():
    entries, meta = parse_file(FIX / "opensanctions_sample.ftm.json")
    assert meta.source_format == "ftm" and meta.snapshot == date(2025, 10, 21)
    assert any("Address" in n for n in meta.notes)
    e = by_name(entries)
    sophgo = e["Sophgo Technologies Ltd."]
    assert sophgo.list_id == "EL" and sophgo.cite == "90 FR 4622" and sophgo.footnotes == ("FN4",)
    assert sophgo.listed_on == date(2025, 1, 16) and sophgo.license_policy == "Presumption of denial." and sophgo.country == "CN"
    person = e["Ivan Example"]
    assert person.list_id == "SDN" and person.entity_type == "individual" and person.country == "RU"
    dawning = e["Dawning Information Industry Co., Ltd"]  # nested sanction (targets.nested.json shape)
    assert dawning.list_id == "NS-CMIC" and dawning.programs == ("CMIC-EO13959",) and dawning.listed_on == date(2021, 12, 16)


def test_nsfreg_fixture():
    entries, meta = parse_file(FIX / "nsfreg_sample.json")
    assert meta.source_format == "nsfreg" and meta.snapshot == date(2025, 10, 20) and {x.list_id for x in entries} == {"EL"}
    e = by_name(entries)
    assert e["Huawei Technologies Co., Ltd."].footnotes == ("FN1", "FN2")
    assert e["Sugon"].listed_on == date(2019, 6, 24) and e["Sugon"].cite.count("FR") == 2
    assert e["Inspur Group Co., Ltd."].footnotes == ("FN4",)
    assert e["Example Trading (HK) Limited"].country == "HK"  # "China (Hong Kong)"
    assert e["Example Trading (HK) Limited"].footnotes == ()  # "EAR 99" is not footnote 9 or anything else
    assert e["Address 01"].entity_type == "address"
    assert e["Example Radio Plant JSC"].footnotes == ("FN3",)
    assert all(x.license_policy is None for x in entries) and any("review policy" in n for n in meta.notes)


def test_bundled_sample_list():
    entries, version = load_sample()
    assert 15 <= len(entries) <= 25 and version.version_id == 0 and version.source_format == "sample"
    assert version.label.startswith("SAMPLE") and "not the full" in version.label
    assert {e.list_id for e in entries} == {"SAMPLE-EL", "SAMPLE-NS-CMIC"}
    cjk = re.compile(r"[\u4e00-\u9fff]")
    for e in entries:
        if any(cjk.search(a) for a in e.aliases):
            assert e.remarks and "Chinese name from:" in e.remarks, e.name
        if e.list_id == "SAMPLE-EL":
            assert e.cite and re.match(r"^\d{2} FR \d+", e.cite) and e.listed_on and e.license_requirement and e.license_policy, e.name
    names = {e.name for e in entries}
    assert {"Huawei Technologies Co., Ltd.", "Sugon", "Sophgo Technologies Ltd.", "Inspur Group Co., Ltd.",
            "Yangtze Memory Technologies Co., Ltd.", "Semiconductor Manufacturing International Corporation (SMIC)",
            "Shanghai Biren Intelligent Technology Co., Ltd.", "Moore Thread Intelligent Technology (Beijing) Co., Ltd."} <= names


# --- helpers ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "fns", "rest"), [
    ("For all items subject to the EAR, see §§ 734.9(e) 1 and 744.11 of the EAR 2", ("FN1", "FN2"),
     "For all items subject to the EAR, see §§ 734.9(e) and 744.11 of the EAR"),
    ("For all items subject to the EAR. (See §§ 734.9(e)(2) and 744.11 of the EAR) 4", ("FN4",),
     "For all items subject to the EAR. (See §§ 734.9(e)(2) and 744.11 of the EAR)"),
    ("For all items subject to the EAR. (See §§ 734.9(e)(2) and 744.11 of the EAR)4", ("FN4",), None),
    ("For all items subject to the EAR (See §§ 734.4(a)(9), 734.9(e)(3), and 744.11 of the EAR) 5", ("FN5",), None),
    ("For all items subject to the EAR. (See §§ 734.9(g),3 746.8(a)(3), and 744.21(b) of the EAR)", ("FN3",),
     "For all items subject to the EAR. (See §§ 734.9(g), 746.8(a)(3), and 744.21(b) of the EAR)"),
    ("For all items subject to the EAR (See §§ 734.9(g)3, 746.8(a)(3), and 744.2l(b) of the EAR)", ("FN3",), None),
    ("For items on the CCL and EAR99 items listed in supplement no. 7 to part 746 of the EAR", (), None),
    ("For items on the CCL and EAR 99 items listed in supplement no. 7 to part 746 of the EAR", (), None),
    ("For all items subject to the EAR. (See §§ 734.9(e)(2) and 744.11 of the EAR)⁴", ("FN4",), None),
    ("For all items subject to the EAR. (See § 744.11 of the EAR)", (), None),
])
def test_extract_footnotes(text, fns, rest):
    cleaned, found = extract_footnotes(text)
    assert found == fns
    if rest is not None:
        assert cleaned == rest
    if fns:
        assert not re.search(r"(EAR\)?\s?[1-5]\b|\(g\),?\s*3\b|\(e\)\s+1\b)", cleaned)


def test_dates_countries_and_list_ids():
    assert first_date("84 FR 22963, 5/21/19") == date(2019, 5, 21)
    assert first_date("85 FR 83799, 12/23/2020") == date(2020, 12, 23)
    assert first_date("84 FR 29373, 6/24/19.\n87 FR 62202, 10/13/22") == date(2019, 6, 24)
    assert first_date("64 FR 28909,\n5/28/99.") == date(1999, 5, 28)
    assert first_date("91 FR 35189 (June 10, 2026)") == date(2026, 6, 10)
    assert first_date("86 FR 67319") is None and first_date(None) is None
    assert country_iso("China") == "CN" and country_iso("China (Hong Kong)") == "HK" and country_iso("Hong Kong") == "HK"
    assert country_iso("People’s Republic of China") == "CN" and country_iso("CHINA, PEOPLE'S REPUBLIC OF") == "CN"
    assert country_iso("Burma") == "MM" and country_iso("Turkey (Turkiye)") == "TR" and country_iso("cn") == "CN"
    assert country_iso("Crimea Region of Ukraine") == "UA" and country_iso("RUSSIA") == "RU"
    assert country_iso("Fishing Vessels") is None and country_iso("Middle East Region") is None
    assert csl_list_id("Entity List (EL) - Bureau of Industry and Security") == "EL"
    assert csl_list_id("Non-SDN Chinese Military-Industrial Complex Companies List (CMIC) - Treasury Department") == "NS-CMIC"
    assert csl_list_id("Non-SDN Menu-Based Sanctions List (NS-MBS List) - Treasury Department") == "NS-MBS"
    assert csl_list_id("Correspondent Account or Payable-Through Account Sanctions (CAPTA) - Treasury Department") == "CAP"
    assert csl_list_id("ITAR Debarred (DTC) - State Department") == "DTC" and csl_list_id("Something else") is None
    assert nsfreg_list_id("bis-entity-list") == "EL" and nsfreg_list_id("dow-1260h") == "1260H"
    assert nsfreg_list_id("ofac-nscmic") == "NS-CMIC"
    assert nsfreg_list_id("state-debarred-admin") != nsfreg_list_id("state-debarred-statutory")


# --- malformed files are rejected whole ----------------------------------------------------------------------------

def _lines(path):
    return path.read_text(encoding="utf-8-sig").splitlines(keepends=True)


def _bad_csv_columns(tmp):
    lines = _lines(FIX / "csl_sample.csv")
    assert lines[5].startswith("7d3f0c2a91b84e55a1c0f6e2d9b4a804")  # line 6: record 4 (record 3 spans lines 4-5)
    lines[5] = "7d3f0c2a91b84e55a1c0f6e2d9b4a804,Non-SDN Chinese Military-Industrial Complex Companies List (CMIC),33001\r\n"
    p = tmp / "csl_bad_columns.csv"
    p.write_text("".join(lines), encoding="utf-8", newline="")
    return p, r"csl_bad_columns\.csv line 6: expected 29 columns, found 3"


def _bad_csv_name(tmp):
    lines = _lines(FIX / "csl_sample.csv")
    lines[6] = lines[6].replace('"EXAMPLE, Ivan Petrovich"', '"  "')
    p = tmp / "orders.csv"
    p.write_text("".join(lines), encoding="utf-8", newline="")
    return p, r"orders\.csv line 7: column 'name' is empty"


def _truncated_json(tmp):
    text = (FIX / "csl_sample.json").read_text(encoding="utf-8")
    p = tmp / "consolidated.json"
    p.write_text(text[: len(text) // 2], encoding="utf-8")
    return p, r"consolidated\.json line \d+ column \d+: invalid JSON"


def _json_entity_without_name(tmp):
    doc = json.loads((FIX / "csl_sample.json").read_text(encoding="utf-8"))
    doc["results"][1]["name"] = ""
    p = tmp / "consolidated.json"
    p.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    return p, r"consolidated\.json results\[1\]: column 'name' is empty"


def _ftm_without_name(tmp):
    lines = _lines(FIX / "opensanctions_sample.ftm.json")
    obj = json.loads(lines[2])
    obj["properties"]["name"] = []
    lines[2] = json.dumps(obj, ensure_ascii=False) + "\n"
    p = tmp / "entities.ftm.json"
    p.write_text("".join(lines), encoding="utf-8")
    return p, r"entities\.ftm\.json line 3: entity 'NK-fixture-person' \(Person\) has no name"


def _ftm_broken_line(tmp):
    lines = _lines(FIX / "opensanctions_sample.ftm.json")
    assert not lines[4].strip()  # line 5 is blank (skipped); line 6 gets cut short
    lines[5] = lines[5][:40] + "\n"
    p = tmp / "entities.ftm.json"
    p.write_text("".join(lines), encoding="utf-8")
    return p, r"entities\.ftm\.json line 6: invalid JSON"


def _nsfreg_count_mismatch(tmp):
    doc = json.loads((FIX / "nsfreg_sample.json").read_text(encoding="utf-8"))
    doc["entities"].pop()
    p = tmp / "bis_entity_list.json"
    p.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    return p, r"bis_entity_list\.json: 'count' says 6 but 'entities' holds 5"


def _nsfreg_bad_entity(tmp):
    doc = json.loads((FIX / "nsfreg_sample.json").read_text(encoding="utf-8"))
    doc["entities"][2]["aliases"] = "Inspur Group"
    p = tmp / "bis_entity_list.json"
    p.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    return p, r"entities\[2\] \('Inspur Group Co\., Ltd\.'\): field 'aliases' is not a list"


def _xml_short_row(tmp):
    text = (FIX / "entity_list_sample.xml").read_text(encoding="utf-8")
    text = text.replace("<ENT>87 FR 77508, 12/19/22.</ENT>\n", "")
    p = tmp / "ecfr.xml"
    p.write_text(text, encoding="utf-8")
    line = next(i for i, ln in enumerate(text.splitlines(), 1) if "Yangtze" in ln) - 2  # the <ROW> line
    return p, rf"ecfr\.xml line {line}: row has 4 cells, expected 5"


def _xml_not_well_formed(tmp):
    text = (FIX / "entity_list_sample.xml").read_text(encoding="utf-8").replace("</ROW>", "</ROWS>", 1)
    p = tmp / "ecfr.xml"
    p.write_text(text, encoding="utf-8")
    return p, r"ecfr\.xml line \d+: invalid XML \(mismatched tag\)"


def _text_without_cite(tmp):
    text = (FIX / "entity_list_sample.txt").read_text(encoding="utf-8-sig")
    text = text.replace("\t90 FR 4622, 1/16/25.\n", "")
    assert "4622" not in text
    p = tmp / "el.txt"
    p.write_text(text, encoding="utf-8", newline="")
    line = next(i for i, ln in enumerate(text.splitlines(), 1) if ln.startswith("\tSophgo Technologies"))
    return p, rf"el\.txt line {line}: 'Sophgo Technologies Ltd\., a\.k\.a\., the following four [^']*': no Federal Register citation cell"


def _text_without_requirement(tmp):
    text = (FIX / "entity_list_sample.txt").read_text(encoding="utf-8-sig")
    needle = "\tFor all items subject to the EAR. (See §§ 734.9(e)(2) and 744.11 of the EAR) 4\n"
    assert text.count(needle) == 2
    text = text.replace(needle, "", 1)  # Biren's
    p = tmp / "el.txt"
    p.write_text(text, encoding="utf-8", newline="")
    line = next(i for i, ln in enumerate(text.splitlines(), 1) if ln.startswith("\tBeijing Biren"))
    return p, rf"el\.txt line {line}: 'Beijing Biren Technology Development Co\., Ltd\..*': no licence requirement cell"


MALFORMED = [_bad_csv_columns, _bad_csv_name, _truncated_json, _json_entity_without_name, _ftm_without_name, _ftm_broken_line,
             _nsfreg_count_mismatch, _nsfreg_bad_entity, _xml_short_row, _xml_not_well_formed, _text_without_cite,
             _text_without_requirement]


@pytest.mark.parametrize("make", MALFORMED, ids=[m.__name__.strip("_") for m in MALFORMED])
def test_malformed_file_is_rejected_whole_and_the_previous_version_stays_current(make, tmp_path):
    before = import_file(FIX / "csl_sample.csv")
    bad, message = make(tmp_path)
    with pytest.raises(InvalidInput, match=message):
        parse_file(bad)
    with pytest.raises(InvalidInput, match=message):
        import_file(bad)
    assert versions() == [before]
    entries, current = current_entries()
    assert {v.version_id for v in current.values()} == {before.version_id} and len(entries) == 7


def test_crash_inside_the_transaction_leaves_the_previous_version(monkeypatch):
    before = import_file(FIX / "csl_sample.csv")
    real = ListStore._insert_entries

    def crash(con, vid, entries):
        real(con, vid, entries)  # the rows are written ... and then the process "dies"
        raise RuntimeError("simulated crash after writing the entries")

    with monkeypatch.context() as m:  # (not monkeypatch.undo(): that would also drop CHIPWATCH_HOME)
        m.setattr(ListStore, "_insert_entries", staticmethod(crash))
        with pytest.raises(RuntimeError, match="simulated crash"):
            import_file(FIX / "nsfreg_sample.json")
    assert versions() == [before]
    entries, current = current_entries(["EL"])
    assert current["EL"].version_id == before.version_id and len(entries) == 3
    after = import_file(FIX / "nsfreg_sample.json")  # and the store still works
    assert after.version_id > before.version_id and after.entries == 6


# --- the store -------------------------------------------------------------------------------------------------

def test_reimport_of_the_same_file_is_idempotent(tmp_path):
    s = ListStore()
    first = s.import_path(FIX / "entity_list_sample.xml")
    again = s.import_path(FIX / "entity_list_sample.xml")
    copy = tmp_path / "renamed.xml"
    shutil.copy(FIX / "entity_list_sample.xml", copy)
    renamed = s.import_path(copy)
    assert first.created and not again.created and not renamed.created
    assert again.version == first.version == renamed.version
    assert again.notes == (f"already imported as version {first.version.version_id}",)
    assert len(s.versions()) == 1 and len(s.entries_of(first.version.version_id)) == 7


def test_newest_version_of_each_list_is_current():
    csl = import_file(FIX / "csl_sample.csv")  # EL, DPL, NS-CMIC, SDN, MEU
    el = import_file(FIX / "entity_list_sample.xml")  # EL only
    assert csl.list_ids == ("EL", "DPL", "NS-CMIC", "SDN", "MEU") and csl.entries == 7 and csl.source_format == "csl-csv"
    assert len(csl.sha256) == 64 and csl.snapshot is None and el.snapshot == date(2025, 10, 9)
    entries, current = current_entries()
    assert current["EL"] == el and current["DPL"] == csl and current["SDN"] == csl
    assert len([e for e in entries if e.list_id == "EL"]) == 7  # the XML's, not the CSL's 3
    assert len(entries) == 7 + 4
    only, cur = current_entries(["DPL", "NS-CMIC"])
    assert {e.list_id for e in only} == {"DPL", "NS-CMIC"} and set(cur) == {"DPL", "NS-CMIC"}
    assert current_entries(["NOPE"]) == ([], {})
    got = by_name(entries)["Sugon"]
    assert got.aliases[0] == "Dawning" and got.footnotes == ("FN4",) and got.listed_on == date(2019, 6, 24)  # round trip
    assert [v.version_id for v in versions()] == [csl.version_id, el.version_id]


def test_fresh_store_answers_with_the_sample_list_and_creates_nothing(home):
    entries, current = current_entries()
    assert entries and {v.version_id for v in current.values()} == {0}
    v = next(iter(current.values()))
    assert v.label.startswith("SAMPLE") and v.source_format == "sample"
    assert versions() == [] and not home.exists()  # reads never create the database
    el, cur = current_entries(["EL"])
    assert el and {e.list_id for e in el} == {"SAMPLE-EL"} and set(cur) == {"SAMPLE-EL"}
    assert "SAMPLE" in stale(v, date.today())
    import_file(FIX / "csl_sample.csv")
    entries, current = current_entries()
    assert {x.version_id for x in current.values()} == {1} and not any(e.list_id.startswith("SAMPLE") for e in entries)


def test_stale_warning():
    assert STALE_AFTER_DAYS == 31
    v = ListVersion(version_id=3, imported_at=datetime(2026, 7, 10, 12, 0), source_path="x", source_format="nsfreg",
                    sha256="0" * 64, list_ids=("EL",), entries=3409, snapshot=date(2026, 7, 9))
    assert stale(v, date(2026, 8, 1)) is None
    w = stale(v, date(2026, 11, 25))
    assert w and "139 days" in w and "2026-07-09" in w and "EL" in w
    assert stale(v, date(2026, 8, 1), max_age_days=10) is not None
    no_snapshot = v.model_copy(update={"snapshot": None, "imported_at": datetime(2026, 1, 1)})
    assert "imported 2026-01-01" in stale(no_snapshot, date(2026, 3, 1))


def test_store_path_and_locking(home, monkeypatch):
    assert store_mod.db_path() == home / "chipwatch.duckdb"
    monkeypatch.delenv("CHIPWATCH_HOME")
    assert store_mod.db_path() == Path.home() / ".local" / "share" / "chipwatch" / "chipwatch.duckdb"
    bad = ListStore(home / "not-a-db.duckdb")
    home.mkdir(parents=True)
    bad.path.write_bytes(b"this is not a duckdb file" * 100)
    with pytest.raises(ChipwatchError, match="cannot open"):
        bad.versions()


# --- the command line ------------------------------------------------------------------------------------------

def test_cli_import_list_show(capsys, home, monkeypatch):
    import chipwatch.screen.lists_cli  # noqa: F401  (importable without side effects)
    from chipwatch.cli import main

    monkeypatch.setenv("COLUMNS", "200")  # rich tables: room for every column

    assert not home.exists()
    assert main(["lists", "import", str(FIX / "entity_list_sample.xml"), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["version_id"] == 1 and out["list_ids"] == ["EL"] and out["entries"] == 7 and out["created"] is True
    assert out["snapshot"] == "2025-10-09" and len(out["sha256"]) == 64
    assert main(["lists", "import", str(FIX / "entity_list_sample.xml")]) == 0
    assert "already imported" in capsys.readouterr().out
    assert main(["lists", "import", str(FIX / "csl_sample.csv"), "--format", "csl-csv"]) == 0
    assert "version 2" in capsys.readouterr().out
    assert main(["lists", "list", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [v["version_id"] for v in listed] == [1, 2] and listed[0]["current_for"] == []  # its EL is superseded
    assert set(listed[1]["current_for"]) == {"EL", "DPL", "NS-CMIC", "SDN", "MEU"}
    assert main(["lists", "list"]) == 0
    assert "superseded" in capsys.readouterr().out
    assert main(["lists", "show", "dpl", "--limit", "5", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["list_id"] == "DPL" and shown["total"] == 1 and shown["entries"][0]["name"] == "JOHN Q. EXAMPLE"
    assert main(["lists", "show", "EL", "-n", "1"]) == 0
    assert "showing 1" in capsys.readouterr().out


def test_cli_errors_are_one_line_with_exit_status_2(capsys, tmp_path):
    from chipwatch.cli import main

    bad, _ = _nsfreg_count_mismatch(tmp_path)
    assert main(["lists", "import", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "'count' says 6" in err
    assert main(["lists", "import", str(FIX / "csl_sample.csv"), "--format", "pdf"]) == 2
    assert "--format 'pdf'" in capsys.readouterr().err
    assert main(["lists", "show", "NOPE"]) == 2
    assert "no list 'NOPE'" in capsys.readouterr().err
    assert main(["lists", "list"]) == 0
    assert "SAMPLE" in capsys.readouterr().out


# --- the full nsfreg Entity List (shared data, read at run time) ---------------------------------------------------

@needs_shared
def test_full_nsfreg_entity_list_imports():
    v = import_file(NSFREG / "bis_entity_list.json")
    assert v.entries == 3409 and v.list_ids == ("EL",) and v.snapshot == date(2026, 7, 9)
    entries, current = current_entries(["EL"])
    assert len(entries) == 3409 and current["EL"] == v
    fn = collections.Counter(f for e in entries for f in e.footnotes)
    # screening.md §1.3: FN1 130, FN2 130, FN4 96, FN5 16. FN3: screening.md says 762, but 11 entries write the
    # marker as "734.9(g)3," (no comma before the 3) and that count missed them: 762 + 11 = 773.
    assert (fn["FN1"], fn["FN2"], fn["FN4"], fn["FN5"]) == (130, 130, 96, 16)
    assert fn["FN3"] == 773
    assert sum(1 for e in entries if e.license_requirement and "734.9(g)3," in e.license_requirement) == 0
    assert all(set(e.footnotes) >= {"FN1", "FN2"} for e in entries if "FN1" in e.footnotes)
    # China: the Entity List lists Hong Kong parties under "China, People's Republic of", so they stay CN here;
    # 285 of the 1,106 China entries carry at least one Hong Kong address (screening.md §1.3). No entry is HK.
    countries = collections.Counter(e.country for e in entries)
    assert countries["CN"] == 1106 and countries["RU"] == 1081 and countries["HK"] == 0
    assert sum(1 for e in entries if e.country == "CN" and any("hong kong" in a.lower() for a in e.addresses)) == 285
    assert sum(1 for e in entries if e.entity_type == "address") == 19
    huawei = by_name(entries)["Huawei Technologies Co., Ltd."]
    assert huawei.listed_on == date(2019, 5, 21) and huawei.footnotes == ("FN1", "FN2")
    assert sum(1 for e in entries if e.listed_on is None) <= 5


@needs_shared
def test_every_nsfreg_file_parses_with_its_own_list_id():
    ids = {}
    for path in sorted(NSFREG.glob("*.json")):
        if path.name == "lists.json":
            continue
        entries, meta = parse_file(path)
        doc = json.loads(path.read_text(encoding="utf-8"))
        assert len(entries) == doc["count"] and meta.source_format == "nsfreg"
        (lid,) = {e.list_id for e in entries}
        ids[path.name] = lid
    assert len(set(ids.values())) == len(ids)  # no two files would hide each other in the store
    known = {x["id"] for x in json.loads((NSFREG / "lists.json").read_text(encoding="utf-8"))["lists"]}
    assert {nsfreg_list_id(k) for k in known} == set(ids.values())
