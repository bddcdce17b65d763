"""The bundled catalog: validation on load, look-up by name or alias, suggestions."""

from __future__ import annotations

import csv
import shutil

import pytest

from chipwatch.catalog import CATALOG_CSV, default_catalog, normalise_name, read_catalog
from chipwatch.errors import CatalogError, UnknownChip


def test_catalog_loads_all_rows():
    cat = default_catalog()
    assert len(cat) >= 63
    assert all(c.in_catalog for c in cat)
    assert all(c.sources for c in cat), "every row names its sources"


@pytest.mark.parametrize("typed", ["H100 SXM5 80GB", "h100 sxm5 80gb", "H100-SXM5-80GB", "h100_sxm5_80GB", "H100 SXM"])
def test_lookup_ignores_case_and_punctuation(typed):
    assert default_catalog().get(typed).name == "H100 SXM5 80GB"


def test_lookup_without_parenthetical():
    assert default_catalog().get("h20").name == "H20 (HGX)"


def test_unknown_name_suggests_nearest():
    with pytest.raises(UnknownChip, match=r"nearest: .*H100"):
        default_catalog().get("H100 SXM6")


def test_empty_name():
    with pytest.raises(UnknownChip):
        default_catalog().get(" - ")


def test_normalise_name_folds_width_and_case():
    assert normalise_name("Ｈ１００－ＳＸＭ") == "h100sxm"


def _copy_with(tmp_path, mutate):
    path = tmp_path / "acc.csv"
    shutil.copy(CATALOG_CSV, path)
    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
        fields = list(rows[0].keys())
    mutate(rows)
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=fields)
        w.writeheader()
        w.writerows(rows)
    return path


def test_negative_rate_rejected_with_row_number(tmp_path):
    def bad(rows):
        rows[4]["dense_tops_fp8"] = "-5"
    with pytest.raises(CatalogError, match="row 6"):
        read_catalog(_copy_with(tmp_path, bad))


def test_text_in_numeric_column_rejected(tmp_path):
    def bad(rows):
        rows[0]["die_area_mm2"] = "about 800"
    with pytest.raises(CatalogError, match="row 2: column die_area_mm2 is not a number"):
        read_catalog(_copy_with(tmp_path, bad))


def test_zero_die_area_rejected(tmp_path):
    def bad(rows):
        rows[1]["die_area_mm2"] = "0"
    with pytest.raises(CatalogError, match="row 3"):
        read_catalog(_copy_with(tmp_path, bad))


def test_bad_datacenter_flag_rejected(tmp_path):
    def bad(rows):
        rows[2]["datacenter"] = "maybe"
    with pytest.raises(CatalogError, match="datacenter must be yes/no"):
        read_catalog(_copy_with(tmp_path, bad))


def test_duplicate_alias_rejected(tmp_path):
    def bad(rows):
        rows[3]["name"] = rows[2]["name"].upper()
    with pytest.raises(CatalogError, match="also a name or alias"):
        read_catalog(_copy_with(tmp_path, bad))
